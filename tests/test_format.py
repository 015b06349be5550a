"""The .vqi file: round trips, reference files, malformed input (fuzzing) and atomic saves."""

from __future__ import annotations

import importlib.util
import json
import os
import struct
import tracemalloc
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import vqimage
from vqimage import FormatError
from vqimage.vqi.compressed import CompressedImage
from vqimage.vqi.format import FIXED_SIZE, MAGIC, VERSION, read

DATA = Path(__file__).resolve().parent / "data"
CODECS = ("packed", "lzma", "context", "auto")


def _make_reference():
    spec = importlib.util.spec_from_file_location("make_reference", DATA / "make_reference.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


REF = _make_reference()
REFERENCE = json.loads((DATA / "reference.json").read_text())


def compress_quietly(image, n_levels=8, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", vqimage.FewerLevelsWarning)
        return vqimage.compress(image, n_levels, **kw)


def check_round_trip(image, n_levels, codec, **kw):
    c = compress_quietly(image, n_levels, codec=codec, **kw)
    expected = c.quantizer.quantize(image)
    out = c.decompress()
    assert out.dtype == expected.dtype == c.dtype
    assert out.shape == np.shape(image) == c.shape
    np.testing.assert_array_equal(out, expected)
    data = c.tobytes()
    d = vqimage.load(data)
    back = d.decompress()
    assert back.dtype == out.dtype and back.shape == out.shape
    assert back.tobytes() == out.tobytes()  # bit for bit, floats included
    assert d.quantizer == c.quantizer
    assert d.codec == c.codec and (codec == "auto" or c.codec == codec)
    assert d.tobytes() == data
    return c


# -- round trips ---------------------------------------------------------------------------------
DTYPES = (np.uint8, np.uint16, np.float32)
ELEMENTS = {
    np.uint8: st.integers(0, 255),
    np.uint16: st.integers(0, 65535),
    np.float32: st.floats(-1e6, 1e6, width=32),
}


@st.composite
def images(draw):
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=13))
    return draw(hnp.arrays(dtype, shape, elements=ELEMENTS[dtype]))


@settings(max_examples=50, deadline=None)
@given(image=images(), n_levels=st.integers(2, 256), codec=st.sampled_from(CODECS))
def test_round_trip_property(image, n_levels, codec):
    check_round_trip(image, n_levels, codec)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape", [(1,), (1, 1), (101,), (17, 31), (9, 14, 3), (5, 7, 6), (2, 3, 4, 5)]
)
def test_round_trip_shapes(codec, dtype, shape):
    i = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    image = ((i * 37) % 251).astype(dtype)
    check_round_trip(image, 6, codec)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_constant_image(codec, dtype):
    c = check_round_trip(np.full((33, 17), 7, dtype=dtype), 8, codec)
    assert c.quantizer.n_levels == 1 and c.codes.max() == 0


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("n_levels", [2, 3, 16, 255, 256])
def test_levels_on_a_real_image(codec, n_levels, camera):
    check_round_trip(camera[100:164, 150:250], n_levels, codec)


@pytest.mark.parametrize("codec", CODECS)
def test_uint16_4096_levels(codec):
    i, j = np.mgrid[0:96, 0:128]
    image = ((i * 683 + j * 512) % 65536).astype(np.uint16)
    c = check_round_trip(image, 4096, codec, strategy="uniform")
    assert c.quantizer.n_levels == 4096 and c.codes.dtype == np.uint16


@pytest.mark.parametrize("codec", CODECS)
def test_uint16_65536_levels(codec):
    image = (np.arange(65536, dtype=np.int64) * 40503 % 65536).astype(np.uint16).reshape(256, 256)
    q = vqimage.Quantizer(np.arange(65537) - 0.5, np.arange(65536), dtype=np.uint16)
    c = check_round_trip(image, 65536, codec, quantizer=q)
    np.testing.assert_array_equal(c.decompress(), image)  # every value is its own level
    assert c.codes.dtype == np.uint16


def test_face_sizes_and_nbytes(face):
    packed = vqimage.compress(face, 8, codec="packed")
    assert len(packed.payload) == 294_912
    # In memory: payload + codebook + header, against 786,432 raw and 6,291,456 float64.
    assert 294_912 < packed.nbytes < 296_000
    assert packed.nbytes == len(packed.payload) + 8 * 8 + len(packed.header)
    assert len(packed.tobytes()) == len(packed.header) + 294_912 + 4
    auto = vqimage.compress(face, 8)
    assert auto.codec == "context2"
    assert len(auto.tobytes()) <= 95_000  # the goal: 0.75x the PNG palette file (127,441 B)
    assert len(auto.tobytes()) < 73_883  # the moonshot: JPEG XL lossless, effort 7
    np.testing.assert_array_equal(vqimage.load(auto.tobytes()).decompress(), auto.decompress())


def test_reuse_a_quantizer_and_other_kinds(camera):
    q = vqimage.fit(camera, 4)
    crop = camera[:50, :60]
    c = vqimage.compress(crop, quantizer=q, codec="context")
    assert c.quantizer is q
    np.testing.assert_array_equal(vqimage.load(c.tobytes()).decompress(), q.quantize(crop))


def test_palette_and_blocks_quantizers_round_trip(camera):
    rgb = np.stack([camera[:40, :50], camera[40:80, :50], camera[80:120, :50]], axis=-1)
    p = vqimage.fit_palette(rgb, 6)
    c = vqimage.compress(rgb, quantizer=p, codec="context")
    assert c.code_shape == (40, 50)
    np.testing.assert_array_equal(vqimage.load(c.tobytes()).decompress(), p.quantize(rgb))
    gray = camera[:41, :53]  # odd sizes: the last blocks are padded, then cropped
    b = vqimage.fit_blocks(gray, 16)
    c = vqimage.compress(gray, quantizer=b, codec="auto")
    d = vqimage.load(c.tobytes())
    assert d.code_shape != d.shape
    np.testing.assert_array_equal(d.decompress(), b.quantize(gray))


def test_compress_errors():
    with pytest.raises(ValueError, match="codec must be one of 'auto', 'packed'"):
        vqimage.compress(np.arange(10), codec="zip")
    with pytest.raises(ValueError, match="image is empty"):
        vqimage.compress(np.zeros((0, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="image must have 1 to 32 dimensions, got 0"):
        vqimage.compress(np.float32(3.0))
    with pytest.raises(TypeError, match="quantizer must be a fitted vqimage quantizer"):
        vqimage.compress(np.arange(10), quantizer="q")
    with pytest.raises(TypeError, match="load\\(\\) takes a path or bytes"):
        vqimage.load(12)


# -- reference files -----------------------------------------------------------------------------
@pytest.mark.parametrize("entry", REFERENCE, ids=[e["file"] for e in REFERENCE])
def test_reference_files(entry):
    import hashlib

    data = (DATA / entry["file"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["file_sha256"]
    c = vqimage.load(DATA / entry["file"])
    assert c.codec == entry["codec"]
    assert c.quantizer.n_levels == entry["n_levels"]
    out = c.decompress()
    assert list(out.shape) == entry["shape"] and out.dtype.str == entry["dtype"]
    assert hashlib.sha256(np.ascontiguousarray(out).tobytes()).hexdigest() == (
        entry["decompressed_sha256"]
    )
    # The same content from the regenerated source, and the same bytes when written again.
    source = REF.SOURCES[entry["source"]]()
    np.testing.assert_array_equal(out, c.quantizer.quantize(source))
    np.testing.assert_array_equal(c.codes, c.quantizer.encode(source))
    again = vqimage.compress(source, quantizer=c.quantizer, codec=entry["codec"]).tobytes()
    assert again == data


def test_reference_set_covers_every_codec_and_dtype():
    seen = {(e["codec"], e["dtype"]) for e in REFERENCE}
    wanted = {(c, dt) for c in ("packed", "lzma", "context") for dt in ("|u1", "<u2", "<f4")}
    assert wanted <= seen


# -- the header, field by field ------------------------------------------------------------------
def small_file(codec="context"):
    image = (np.arange(24 * 20) * 7 % 23).reshape(24, 20).astype(np.uint8)
    return vqimage.compress(image, 5, codec=codec).tobytes()


def with_crc(data: bytes) -> bytes:
    """Recompute the trailing CRC so a tampered header reaches the structural checks."""
    body = data[:-4]
    return body + struct.pack("<I", zlib.crc32(body))


def patch(data: bytes, offset: int, fmt: str, value) -> bytes:
    b = bytearray(data)
    struct.pack_into(fmt, b, offset, value)
    return with_crc(bytes(b))


def test_header_layout():
    data = small_file("packed")
    assert data[:8] == MAGIC == b"\x89VQI\r\n\x1a\n"
    # The lowest version that holds the file: packed exists since version 1.
    assert struct.unpack_from("<H", data, 8)[0] == 1 and VERSION == 2
    assert struct.unpack_from("<H", small_file("context2"), 8)[0] == 2
    assert data[10] == 0 and data[11] == 0 and data[12:14] == b"u1"
    assert (data[14], data[15]) == (2, 2)
    n_levels, json_len, payload_len = struct.unpack_from("<IIQ", data, 16)
    assert n_levels == 5
    assert struct.unpack_from("<4Q", data, FIXED_SIZE) == (24, 20, 24, 20)
    qjson = data[FIXED_SIZE + 32 : FIXED_SIZE + 32 + json_len]
    assert json.loads(qjson)["kind"] == "scalar"
    assert qjson == json.dumps(json.loads(qjson), sort_keys=True, separators=(",", ":")).encode()
    assert len(data) == FIXED_SIZE + 32 + json_len + payload_len + 4
    assert struct.unpack_from("<I", data, len(data) - 4)[0] == zlib.crc32(data[:-4])


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: b"", "wrong magic"),
        (lambda d: b"PNG" + d[3:], "wrong magic"),
        (lambda d: d[:5], "truncated"),
        (lambda d: d[:40], "truncated"),
        (lambda d: d[:-1], "truncated"),
        (lambda d: d + b"\x00", "trailing bytes"),
        (lambda d: patch(d, 8, "<H", 3), "unsupported format version 3.*newer"),
        (lambda d: patch(d, 8, "<H", 0), "unsupported format version 0"),
        (lambda d: d[:-4] + bytes(4), "checksum mismatch"),
        (lambda d: patch(d, 10, "<B", 9), "unknown codec id 9"),
        (lambda d: patch(d, 11, "<B", 1), "unknown flags"),
        (lambda d: patch(d, 12, "2s", b"c8"), "unsupported dtype 'c8'"),
        (lambda d: patch(d, 12, "2s", b"\xff\xfe"), "bad dtype field"),
        (lambda d: patch(d, 12, "2s", b"f4"), "header says dtype float32"),
        (lambda d: patch(d, 16, "<I", 0), "n_levels 0 is outside"),
        (lambda d: patch(d, 16, "<I", 6), "header says 6 levels"),
        (lambda d: patch(d, 32, "<Q", 0), "empty dimension"),
        (lambda d: patch(d, 32, "<Q", 10**12), "do not fit an image"),
        (lambda d: patch(patch(d, 32, "<Q", 10**12), 48, "<Q", 10**12), "cannot hold"),
        (lambda d: patch(patch(d, 32, "<Q", 2**63), 48, "<Q", 2**63), "impossibly large"),
        (lambda d: patch(d, 48, "<Q", 25), "cannot hold|corrupt|do not fit"),
        (lambda d: patch(d, 14, "<B", 0), "truncated|trailing|dimensions"),
        (lambda d: patch(d, 20, "<I", 2**32 - 1), "truncated"),
        (lambda d: patch(d, 24, "<Q", 2**60), "truncated"),
    ],
)
def test_malformed_headers(mutate, message):
    with pytest.raises(FormatError, match=message):
        c = vqimage.load(mutate(small_file()))
        c.decompress()


def test_json_problems_are_format_errors():
    data = small_file("packed")
    json_len = struct.unpack_from("<I", data, 20)[0]
    start = FIXED_SIZE + 32

    def with_json(text: bytes) -> bytes:
        b = data[:20] + struct.pack("<I", len(text)) + data[24:start] + text
        return with_crc(b + data[start + json_len :])

    for text, message in [
        (b"{", "JSON is malformed"),
        (b"[1, 2]", "not an object"),
        (b'{"kind": "spline"}', "unknown quantizer kind 'spline'"),
        (b'{"kind": "scalar", "edges": [0, 1]}', "description is invalid"),
        (b'{"kind": "scalar", "edges": [1, 0], "codebook": [0], "dtype": "u1"}', "invalid"),
        (b"[" * 100_000 + b"]" * 100_000, "malformed|not an object"),
        (b'{"kind": "scalar", "edges": [1e999, 0]}', "invalid"),
    ]:
        with pytest.raises(FormatError, match=message):
            vqimage.load(with_json(text))


def test_load_rejects_non_bytes_and_directories(tmp_path):
    with pytest.raises(IsADirectoryError):
        vqimage.load(tmp_path)
    with pytest.raises(FileNotFoundError):
        vqimage.load(tmp_path / "missing.vqi")


# -- fuzzing -------------------------------------------------------------------------------------
def _fuzz_bases() -> list[bytes]:
    rng = np.random.default_rng(7)
    smooth = np.cumsum(rng.integers(-1, 2, (20, 24)), axis=1).astype(np.int64)
    u16 = ((smooth + 40) * 997 % 65536).astype(np.uint16)
    f32 = (smooth[:6, :20].reshape(6, 5, 4) * 0.25).astype(np.float32)
    bases = [
        (DATA / "camera8_context.vqi").read_bytes(),
        (DATA / "camera8_packed.vqi").read_bytes(),
        (DATA / "camera8_lzma.vqi").read_bytes(),
        (DATA / "constant_u8_packed.vqi").read_bytes(),
        compress_quietly(u16, 300, codec="context").tobytes(),
        compress_quietly(u16, 12, codec="context").tobytes(),
        compress_quietly(f32, 5, codec="lzma").tobytes(),
        compress_quietly(f32, 5, codec="packed").tobytes(),
        compress_quietly(smooth.astype(np.uint8), 2, codec="context").tobytes(),
    ]
    return bases


JSON_BYTES = list(b'0123456789-.e,[]{}"x ')


def _mutate(data: bytes, rng: np.random.Generator) -> bytes:
    b = bytearray(data)
    n = len(b)
    kind = int(rng.integers(0, 9))
    if kind == 0:  # bit flips anywhere
        for _ in range(int(rng.integers(1, 4))):
            i = int(rng.integers(0, n))
            b[i] ^= 1 << int(rng.integers(0, 8))
        return bytes(b)
    if kind == 1:  # byte changes anywhere
        for _ in range(int(rng.integers(1, 4))):
            b[int(rng.integers(0, n))] = int(rng.integers(0, 256))
        return bytes(b)
    if kind == 2:  # truncation
        return bytes(b[: int(rng.integers(0, n))])
    if kind == 3:  # extension
        return bytes(b) + rng.integers(0, 256, int(rng.integers(1, 64))).astype(np.uint8).tobytes()
    ndim, code_ndim = b[14], b[15]
    if kind == 4:  # one header field set to a random or extreme value, CRC fixed
        fields = [(8, "<H"), (10, "<B"), (11, "<B"), (14, "<B"), (15, "<B"), (16, "<I"),
                  (20, "<I"), (24, "<Q")]
        fields += [(FIXED_SIZE + 8 * i, "<Q") for i in range(ndim + code_ndim)]
        off, fmt = fields[int(rng.integers(0, len(fields)))]
        size = struct.calcsize(fmt)
        extreme = [0, 1, 2, 3, 255, 256, 257, 65535, 65536, 2**31, 2**32 - 1, 10**12, 2**63]
        value = int(rng.choice(extreme)) if rng.random() < 0.5 else int(
            rng.integers(0, 2 ** min(8 * size, 62))
        )
        value %= 2 ** (8 * size)
        struct.pack_into(fmt, b, off, value)
        return with_crc(bytes(b))
    if kind == 5:  # a huge shape, kept consistent between image and codes, CRC fixed
        big = int(rng.choice([10**6, 10**9, 10**12, 2**40, 2**47]))
        for i in range(ndim):
            struct.pack_into("<Q", b, FIXED_SIZE + 8 * i, big if i == 0 else 1 + i)
        for i in range(code_ndim):
            struct.pack_into("<Q", b, FIXED_SIZE + 8 * (ndim + i), big if i == 0 else 1 + i)
        return with_crc(bytes(b))
    json_len, payload_len = struct.unpack_from("<IQ", b, 20)
    start = FIXED_SIZE + 8 * (ndim + code_ndim)
    if kind == 6 and json_len:  # JSON bytes changed, CRC fixed
        for _ in range(int(rng.integers(1, 4))):
            b[start + int(rng.integers(0, json_len))] = int(rng.choice(JSON_BYTES))
        return with_crc(bytes(b))
    if payload_len:  # payload bits flipped, CRC fixed: the codec decoders see it
        p0 = start + json_len
        for _ in range(int(rng.integers(1, 4))):
            b[p0 + int(rng.integers(0, payload_len))] ^= 1 << int(rng.integers(0, 8))
        return with_crc(bytes(b))
    return with_crc(bytes(b[:-5]) + bytes(b[-5:-4]) + bytes(4))


def test_fuzz_only_format_errors():
    """Thousands of mutated valid files: FormatError or a correct decode, nothing else."""
    rng = np.random.default_rng(2024)
    bases = _fuzz_bases()
    for data in bases:  # every base is valid to begin with
        vqimage.load(data).decompress()
    n_cases = 4000
    outcomes = {"FormatError": 0, "decoded": 0}
    tracemalloc.start()
    try:
        for it in range(n_cases):
            data = _mutate(bases[it % len(bases)], rng)
            try:
                c = vqimage.load(data)
                out = c.decompress()
                assert out.shape == c.shape
                outcomes["decoded"] += 1
            except FormatError as exc:
                assert str(exc)
                outcomes["FormatError"] += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(outcomes.values()) == n_cases
    assert outcomes["FormatError"] > 0.8 * n_cases
    # The largest base decodes to 3 KB; no tampered header made the reader allocate much.
    assert peak < 32 * 2**20, peak


def test_read_rejects_non_bytes():
    with pytest.raises(TypeError, match="expected bytes"):
        read("a string")


# -- save ----------------------------------------------------------------------------------------
@pytest.fixture
def image_c():
    return vqimage.compress((np.arange(300) % 17).astype(np.uint8).reshape(15, 20), 4)


def test_save_and_load_path(tmp_path, image_c):
    path = tmp_path / "a.vqi"
    image_c.save(path)
    assert path.read_bytes() == image_c.tobytes()
    np.testing.assert_array_equal(vqimage.load(path).decompress(), image_c.decompress())
    np.testing.assert_array_equal(vqimage.load(str(path)).decompress(), image_c.decompress())
    assert sorted(os.listdir(tmp_path)) == ["a.vqi"]


def test_save_refuses_to_overwrite(tmp_path, image_c):
    path = tmp_path / "a.vqi"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="exists; pass overwrite=True"):
        image_c.save(path)
    assert path.read_bytes() == b"precious"
    image_c.save(path, overwrite=True)
    assert path.read_bytes() == image_c.tobytes()
    assert sorted(os.listdir(tmp_path)) == ["a.vqi"]


def test_save_refuses_a_directory(tmp_path, image_c):
    with pytest.raises(IsADirectoryError, match="is a directory"):
        image_c.save(tmp_path)
    with pytest.raises(IsADirectoryError):
        image_c.save(tmp_path, overwrite=True)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("overwrite", [False, True])
def test_failed_save_leaves_nothing(tmp_path, image_c, monkeypatch, overwrite):
    path = tmp_path / "a.vqi"
    if overwrite:
        path.write_bytes(b"old")

    def boom(*args, **kwargs):
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", boom)
    monkeypatch.setattr(os, "link", boom)
    with pytest.raises(OSError, match="disk on fire"):
        image_c.save(path, overwrite=overwrite)
    assert sorted(os.listdir(tmp_path)) == (["a.vqi"] if overwrite else [])
    if overwrite:
        assert path.read_bytes() == b"old"


def test_failed_write_leaves_nothing(tmp_path, image_c, monkeypatch):
    def boom(fd):
        raise OSError("fsync failed")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="fsync failed"):
        image_c.save(tmp_path / "a.vqi")
    assert os.listdir(tmp_path) == []


def test_save_without_hard_links(tmp_path, image_c, monkeypatch):
    import errno

    def no_links(*args, **kwargs):
        raise OSError(errno.EPERM, "no hard links here")

    monkeypatch.setattr(os, "link", no_links)
    image_c.save(tmp_path / "a.vqi")
    assert (tmp_path / "a.vqi").read_bytes() == image_c.tobytes()
    with pytest.raises(FileExistsError):
        image_c.save(tmp_path / "a.vqi")
    assert sorted(os.listdir(tmp_path)) == ["a.vqi"]


def test_repr_and_constructor(image_c):
    assert repr(image_c).startswith("CompressedImage(shape=(15, 20), dtype=uint8, n_levels=4")
    again = CompressedImage(image_c.quantizer, image_c.shape, image_c.codec, image_c.payload)
    assert again.tobytes() == image_c.tobytes()


def test_version_1_cannot_name_context2():
    data = small_file("context2")
    with pytest.raises(FormatError, match="does not exist in version 1"):
        read(patch(data, 8, "<H", 1))
