"""Issue 11, items 5 and 6: hostile numcodecs chunks and files that are not regular files."""

from __future__ import annotations

import os
import struct
import warnings

import numpy as np
import pytest

import vqimage
from vqimage.errors import FormatError, NotRegularFileError
from vqimage.io import read_image
from vqimage.numcodecs import VQImageCodec, _header
from vqimage.vqi.chunked import is_chunked, open_chunked

IMG = np.arange(64, dtype=np.uint8).reshape(8, 8)
RGB = np.stack([IMG, IMG[::-1], IMG.T], axis=-1)


def _quiet(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


# -- item 5: numcodecs chunks ----------------------------------------------------------------------
def _chunk_with(codec: VQImageCodec, arr: np.ndarray, *, dtype: bytes | None = None,
                shape: tuple[int, ...] | None = None) -> bytes:
    buf = codec.encode(arr)
    head = _header("packed", arr.dtype, arr.shape)
    payload = buf[len(head):]
    dt = arr.dtype.str.encode() if dtype is None else dtype
    shape = arr.shape if shape is None else shape
    return b"".join([
        b"VQIC", struct.pack("<BB", 1, 6), b"packed", struct.pack("<B", len(dt)), dt,
        struct.pack(f"<B{len(shape)}Q", len(shape), *shape), payload,
    ])


@pytest.mark.parametrize(
    "dtype", [b"(3,|u1", b"(3,)u1", b"u1,u1", b"O", b"V8", b"|S3", b"\xff\xfe", b"f1", b""]
)
def test_numcodecs_dtype_is_an_allow_list(dtype):
    codec = VQImageCodec(vqimage.fit(IMG, 4), "packed")
    with pytest.raises(FormatError, match="unsupported dtype"):
        codec.decode(_chunk_with(codec, IMG, dtype=dtype))


@pytest.mark.parametrize("shape", [(0, 2**64 - 1), (2**63, 2**63), (8,), (8, 8, 5), (2**40,)])
def test_numcodecs_impossible_or_misfit_shapes(shape):
    for q, arr in ((vqimage.fit(IMG, 4), IMG), (_quiet(vqimage.fit_palette, RGB, 4), RGB),
                   (_quiet(vqimage.fit_blocks, IMG, 4), IMG)):
        codec = VQImageCodec(q, "packed")
        with pytest.raises(FormatError):
            codec.decode(_chunk_with(codec, arr, shape=shape))


def test_numcodecs_palette_chunk_without_channels():
    codec = VQImageCodec(_quiet(vqimage.fit_palette, RGB, 4), "packed")
    with pytest.raises(FormatError, match="does not fit the quantizer"):
        codec.decode(_chunk_with(codec, RGB, shape=(8, 8)))


def test_zarr3_codec_is_public_and_checks_chunk_shapes(tmp_path):
    zarr = pytest.importorskip("zarr")
    from zarr.abc.codec import ArrayBytesCodec

    from vqimage.numcodecs import zarr3_codec

    q = vqimage.fit(IMG, 4)
    ser = zarr3_codec(q, "packed")
    assert isinstance(ser, ArrayBytesCodec)
    assert type(ser).__mro__[1] is ArrayBytesCodec  # not zarr's private numcodecs adapter
    assert type(ser).from_dict(ser.to_dict()) == ser
    store = tmp_path / "a.zarr"
    z = zarr.create_array(store, shape=(8, 8), chunks=(4, 4), dtype=np.uint8, serializer=ser,
                          compressors=None)
    z[:] = IMG
    np.testing.assert_array_equal(z[:], q.quantize(IMG))
    # A chunk that decodes fine but to another shape than the array's chunks.
    chunk = next(p for p in store.rglob("*") if p.is_file() and p.parent.name == "0")
    chunk.write_bytes(VQImageCodec(q, "packed").encode(IMG[:2, :2]))
    with pytest.raises(FormatError, match="of shape"):
        zarr.open_array(store)[:]


# -- item 6: non-regular files ---------------------------------------------------------------------
needs_dev_zero = pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")


@needs_dev_zero
@pytest.mark.parametrize("reader", [vqimage.load, open_chunked, vqimage.inspect])
def test_dev_zero_is_refused(reader):
    with pytest.raises(NotRegularFileError, match="/dev/zero: not a regular file") as info:
        reader("/dev/zero")
    assert "\n" not in str(info.value)
    assert not is_chunked("/dev/zero")


@pytest.fixture
def fifo(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    paths = {}
    for suffix in (".vqi", ".npy", ".png"):
        p = tmp_path / f"pipe{suffix}"
        os.mkfifo(p)
        paths[suffix] = p
    return paths


def test_fifos_are_refused_without_blocking(fifo):
    # Nobody writes to these FIFOs: any reader that opened one would block forever.
    for reader in (vqimage.load, open_chunked, vqimage.inspect):
        with pytest.raises(NotRegularFileError, match="not a regular file but a FIFO"):
            reader(fifo[".vqi"])
    assert not is_chunked(fifo[".vqi"])
    for suffix in (".npy", ".png"):
        with pytest.raises(NotRegularFileError, match=str(fifo[suffix])):
            read_image(fifo[suffix])


def test_open_regular_refuses_a_fifo_swapped_in(tmp_path, monkeypatch):
    """The type is checked again on the open descriptor (and the open cannot block)."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    from vqimage._shared import fs

    pipe = tmp_path / "swap.vqi"
    os.mkfifo(pipe)
    monkeypatch.setattr(fs, "check_regular", lambda path: None)  # the race: stat said "file"
    with pytest.raises(NotRegularFileError):
        fs.open_regular(pipe)


def test_vqi_reads_only_what_the_header_announces(tmp_path):
    data = vqimage.compress(IMG, 4, codec="packed").tobytes()
    for name, blob, what in (("long.vqi", data + bytes(10**6), "has trailing bytes"),
                             ("short.vqi", data[:-1], "truncated")):
        p = tmp_path / name
        p.write_bytes(blob)
        with pytest.raises(FormatError, match=f"{name}: not a valid .vqi file: {what}"):
            vqimage.load(p)
    (tmp_path / "ok.vqi").write_bytes(data)
    np.testing.assert_array_equal(vqimage.load(tmp_path / "ok.vqi").decompress(),
                                  vqimage.load(data).decompress())


def test_npy_header_claiming_more_than_the_file_holds(tmp_path):
    p = tmp_path / "huge.npy"
    with open(p, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)}
        )
        f.write(bytes(16))
    with pytest.raises(FormatError, match="announces 8000000000000 bytes"):
        read_image(p)
    np.save(tmp_path / "ok.npy", IMG)
    np.testing.assert_array_equal(read_image(tmp_path / "ok.npy"), IMG)
