"""Chunked .vqi files: written chunk by chunk from dask arrays, read back lazily, never partial."""

from __future__ import annotations

import errno
import struct
import zlib

import numpy as np
import pytest

import vqimage
from vqimage.errors import FormatError

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

from vqimage.vqi import chunked  # noqa: E402
from vqimage.vqi.chunked import MAGIC, ChunkedImage  # noqa: E402

CHUNKS = ((300, 300, 168), (400, 400, 224))


@pytest.fixture(autouse=True)
def threads():
    with dask.config.set(scheduler="threads"):
        yield


@pytest.fixture(scope="module")
def written(tmp_path_factory, face):
    path = tmp_path_factory.mktemp("chunked") / "face.vqi"
    ci = vqimage.compress(da.from_array(face, chunks=CHUNKS), 8, codec="packed", path=path)
    return path, ci


def _leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_compress_writes_a_chunked_file(written, face):
    path, ci = written
    assert isinstance(ci, ChunkedImage)
    assert path.read_bytes()[:8] == MAGIC
    q = vqimage.fit(face, 8)
    assert ci.quantizer == q  # fitted from merged histograms: the in-memory quantizer
    assert ci.shape == face.shape and ci.dtype == face.dtype
    assert ci.chunks == CHUNKS and ci.n_chunks == 9 and ci.codec == "packed"
    assert ci.nbytes == path.stat().st_size
    # payloads: 3 bits per pixel; plus header, index and trailer
    assert ci.nbytes < face.size * 3 // 8 + 9 + 4096
    assert _leftovers(path.parent) == []


def test_load_reads_lazily(written, face):
    path, _ = written
    ci = vqimage.load(path)
    assert isinstance(ci, ChunkedImage)
    q = ci.quantizer
    x = ci.to_dask()
    assert isinstance(x, da.Array) and x.chunks == CHUNKS and x.dtype == np.uint8
    np.testing.assert_array_equal(x.compute(), q.quantize(face))
    np.testing.assert_array_equal(x[650:700, 790:900].compute(), q.quantize(face)[650:700, 790:900])
    np.testing.assert_array_equal(ci.to_dask(codes=True).compute(), q.encode(face))
    np.testing.assert_array_equal(ci.read_chunk((1, 2)), q.quantize(face[300:600, 800:]))
    np.testing.assert_array_equal(ci.decompress(), q.quantize(face))
    np.testing.assert_array_equal(ci.codes, q.encode(face))
    assert "chunks=9" in repr(ci)


def test_codecs_and_dtypes(tmp_path, face):
    x = da.from_array(face[:256, :384], chunks=128)
    sizes = {}
    for codec in ("packed", "lzma", "context", "auto"):
        ci = vqimage.compress(x, 4, codec=codec, path=tmp_path / f"{codec}.vqi")
        sizes[codec] = ci.nbytes
        np.testing.assert_array_equal(
            vqimage.load(tmp_path / f"{codec}.vqi").decompress(),
            ci.quantizer.quantize(face[:256, :384]),
        )
    assert sizes["auto"] <= min(sizes["packed"], sizes["lzma"], sizes["context"])
    floats = face[:100, :150] / 255.0
    ci = vqimage.compress(da.from_array(floats, chunks=64), 6, path=tmp_path / "f.vqi")
    assert ci.quantizer == vqimage.fit(floats, 6)
    np.testing.assert_array_equal(ci.to_dask().compute(), ci.quantizer.quantize(floats))
    q = vqimage.fit(face, 3, strategy="uniform")
    ci = vqimage.compress(x, quantizer=q, codec="packed", path=tmp_path / "q.vqi")
    assert ci.quantizer == q


def test_palette_quantizer(tmp_path, face_rgb):
    from vqimage.vq.palette import PaletteQuantizer

    rgb = np.ascontiguousarray(face_rgb[::8, ::8])
    greys = np.linspace(0, 255, 6).round()
    p = PaletteQuantizer(np.c_[greys, greys * 0.8, greys * 0.6].round(), dtype=np.uint8)
    x = da.from_array(rgb, chunks=(40, 50, 1))  # the channel axis is gathered per chunk
    ci = vqimage.compress(x, quantizer=p, codec="packed", path=tmp_path / "rgb.vqi")
    back = vqimage.load(tmp_path / "rgb.vqi")
    np.testing.assert_array_equal(back.to_dask().compute(), p.quantize(rgb))
    np.testing.assert_array_equal(back.codes, p.encode(rgb))
    assert ci.shape == rgb.shape


def test_no_overwrite_and_save(written, tmp_path, face):
    path, ci = written
    before = path.read_bytes()
    x = da.from_array(face, chunks=256)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        vqimage.compress(x, 8, path=path)
    assert path.read_bytes() == before
    copy = tmp_path / "copy.vqi"
    ci.save(copy)
    assert copy.read_bytes() == before
    with pytest.raises(FileExistsError):
        ci.save(copy)
    again = vqimage.dask.compress(x, 4, codec="packed", path=copy, overwrite=True)
    assert again.quantizer.n_levels == 4 and vqimage.load(copy).chunks == x.chunks


def test_full_disk_leaves_nothing(tmp_path, face, monkeypatch):
    calls = []
    real = chunked._write_all

    def full(f, data):
        calls.append(len(data))
        if len(calls) == 4:  # the header and two chunks fit, then the disk is full
            f.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        real(f, data)

    monkeypatch.setattr(chunked, "_write_all", full)
    out = tmp_path / "full.vqi"
    with pytest.raises(OSError, match="No space left on device"):
        vqimage.compress(da.from_array(face, chunks=256), 8, codec="packed", path=out)
    assert not out.exists() and _leftovers(tmp_path) == []
    assert list(tmp_path.iterdir()) == []


def test_bad_chunk_leaves_nothing(tmp_path):
    data = np.arange(400.0).reshape(20, 20)
    data[13, 3] = np.nan
    q = vqimage.fit(np.arange(400.0), 4)
    with pytest.raises(ValueError, match=r"NaN in chunk \(1, 0\) at index \(3, 3\)"):
        vqimage.compress(da.from_array(data, chunks=10), quantizer=q, path=tmp_path / "n.vqi")
    assert list(tmp_path.iterdir()) == []


def test_input_errors(tmp_path, face):
    x = da.from_array(face, chunks=256)
    with pytest.raises(ValueError, match="needs path="):
        vqimage.compress(x, 8)
    with pytest.raises(TypeError, match=r"compress\(image\).save\(path\)"):
        vqimage.compress(face, 8, path=tmp_path / "a.vqi")
    with pytest.raises(ValueError, match="codec must be one of"):
        vqimage.compress(x, 8, codec="zip", path=tmp_path / "a.vqi")
    with pytest.raises(IsADirectoryError):
        vqimage.compress(x, 8, path=tmp_path)
    assert list(tmp_path.iterdir()) == []


def _trailer(data: bytes) -> tuple[int, int, int, bytes]:
    return struct.unpack("<QQI4s", data[-24:])


def test_corrupt_files_raise_format_error(written, tmp_path):
    path, _ = written
    good = path.read_bytes()

    def variant(name: str, data: bytes):
        p = tmp_path / name
        p.write_bytes(data)
        return p

    at, length, crc, end = _trailer(good)
    with pytest.raises(FormatError, match="no index at the end"):
        vqimage.load(variant("trunc.vqi", good[:-5]))
    with pytest.raises(FormatError, match="checksum"):
        bad = bytearray(good)
        bad[at + 5] ^= 0xFF
        vqimage.load(variant("index.vqi", bytes(bad)))
    with pytest.raises(FormatError, match="version"):
        vqimage.load(variant("ver.vqi", good[:8] + b"\x07\x00" + good[10:]))
    with pytest.raises(FormatError, match="index position"):
        vqimage.load(variant("pos.vqi", good[:-24] + struct.pack("<QQI4s", at + 1, length, crc,
                                                                  end)))
    # an index whose entries point past the payload area (checksum recomputed)
    import json

    index = json.loads(good[at : at + length])
    index["entries"][0][1] = 10**9
    raw = json.dumps(index).encode()
    forged = good[:at] + raw + struct.pack("<QQI4s", at, len(raw), zlib.crc32(raw), end)
    with pytest.raises(FormatError, match=r"chunk \(0, 0\) lies outside"):
        vqimage.load(variant("forged.vqi", forged))
    # a flipped payload byte is found when that chunk is read
    bad = bytearray(good)
    bad[20] ^= 0x01
    damaged = vqimage.load(variant("payload.vqi", bytes(bad)))
    first = min(range(damaged.n_chunks), key=lambda i: damaged._entries[i][0])
    block = np.unravel_index(first, damaged.numblocks)
    with pytest.raises(FormatError, match="corrupted"):
        damaged.read_chunk(block)
    with pytest.raises(FormatError, match="wrong magic"):
        chunked.open_chunked(variant("magic.vqi", b"\x89VQX" + good[4:]))


def test_distributed_scheduler(tmp_path, face):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster):
        x = da.from_array(face, chunks=(200, 256))
        ci = vqimage.compress(x, 8, codec="packed", path=tmp_path / "d.vqi")
        np.testing.assert_array_equal(vqimage.load(tmp_path / "d.vqi").to_dask().compute(),
                                      vqimage.fit(face, 8).quantize(face))
    assert ci.quantizer == vqimage.fit(face, 8)
    assert _leftovers(tmp_path) == []
