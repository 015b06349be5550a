"""Fuzzers for everything vqimage reads from outside (issue 11, item 7).

Each fuzzer builds valid inputs (every quantizer kind, every codec as payload), damages them in
a structured way that gets past the checksums (quantizer JSON, header fields, chunked index,
numcodecs chunk headers), and reads the result. Every case must either decode or raise
:class:`vqimage.FormatError`, and no case may allocate more than ``PEAK_LIMIT_MB`` through
Python or numpy (both are traced by ``tracemalloc``). Seeds are fixed, so a failure reproduces;
``pytest -s`` prints one summary line per fuzzer.
"""

from __future__ import annotations

import functools
import json
import math
import struct
import tracemalloc
import warnings
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vqimage
from vqimage.codecs import get_codec
from vqimage.errors import FormatError
from vqimage.numcodecs import VQImageCodec
from vqimage.vqi import format as vqi_format
from vqimage.vqi.chunked import END_MAGIC, HEADER_SIZE, MAGIC, VERSION, open_chunked

CODECS = ("packed", "lzma", "context", "context2")
PEAK_LIMIT_MB = 64.0


# -- the harness -----------------------------------------------------------------------------------
class Tally:
    """Outcomes by type and the largest traced allocation peak of a fuzzer's cases."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.outcomes: Counter[str] = Counter()
        self.peak_mb = 0.0
        self.examples: dict[str, str] = {}

    def run(self, case: Callable[[], Any], label: str = "") -> None:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        try:
            case()
            outcome = "ok"
        except Exception as exc:  # counted by type: anything but FormatError fails the test
            outcome = type(exc).__name__
            self.examples.setdefault(outcome, f"{label}: {exc!r}"[:300])
        peak = (tracemalloc.get_traced_memory()[1] - before) / 2**20
        self.peak_mb = max(self.peak_mb, peak)
        self.outcomes[outcome] += 1

    @property
    def cases(self) -> int:
        return sum(self.outcomes.values())

    def summary(self) -> str:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()))
        return f"{self.name}: {self.cases} cases ({kinds}), max peak {self.peak_mb:.1f} MB"

    def check(self, min_cases: int) -> None:
        print(self.summary())
        assert self.cases >= min_cases, self.summary()
        bad = set(self.outcomes) - {"ok", "FormatError"}
        assert not bad, f"{self.summary()}; first of each: {self.examples}"
        assert self.outcomes["FormatError"] > 0, self.summary()
        assert self.peak_mb < PEAK_LIMIT_MB, self.summary()


@pytest.fixture
def traced() -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


def pick(rng: np.random.Generator, values: list[Any]) -> Any:
    """One of ``values`` (python objects: ``rng.choice`` would turn big ints into int64)."""
    return values[int(rng.integers(0, len(values)))]


def _quiet(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


@functools.cache
def _images() -> dict[str, tuple[np.ndarray, Any]]:
    """Small images and a quantizer of every kind for them."""
    rng = np.random.default_rng(11)
    smooth = np.cumsum(rng.integers(-2, 3, (12, 16)), axis=1)
    gray = (smooth * 7 + 128).clip(0, 255).astype(np.uint8)
    rgb = np.stack([gray, gray[::-1], 255 - gray], axis=-1)
    f32 = (smooth * 0.25).astype(np.float32)
    u16 = ((smooth + 40) * 997 % 65536).astype(np.uint16)
    return {
        "scalar-u8": (gray, _quiet(vqimage.fit, gray, 6)),
        "scalar-f4": (f32, _quiet(vqimage.fit, f32, 5)),
        "scalar-u16-300": (u16, _quiet(vqimage.fit, u16, 300)),
        "palette": (rgb, _quiet(vqimage.fit_palette, rgb, 5)),
        "blocks": (gray, _quiet(vqimage.fit_blocks, gray, 4)),
        "channels": (rgb, _quiet(vqimage.fit_channels, rgb, 4)),
    }


def _read_vqi(data: bytes) -> None:
    c = vqimage.load(data)
    out = c.decompress()
    assert out.shape == c.shape


# -- structural JSON mutations ---------------------------------------------------------------------
# Deep nesting and huge lists are spliced into the JSON text in place of these markers: building
# them as Python objects and serialising them would cost more than reading them.
_DEEP = "\u0000deep:"
_LONG = "\u0000long:"


_ODD_VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 2, 2**31, 2**63, 2**64 + 1, -(2**63), 10**400, 1.5, -0.0,
    1e308, -1e308, float("nan"), float("inf"), "", "x", "|u1", "<f8", "(3,)u1", "O", "u1,u1",
    [], [0], [[0, 0, 0]], [None], {}, {"kind": "scalar"}, "\u00e9\u4e2d",
]


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``obj`` (dict keys and list indices)."""
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        step = max(1, len(obj) // 4)  # sample long lists (codebooks) rather than every entry
        for i in range(0, len(obj), step):
            out += _paths(obj[i], (*prefix, i))
        if obj:
            out += _paths(obj[-1], (*prefix, len(obj) - 1))
    return out


def _get(obj: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        obj = obj[p]
    return obj


def _mutate_json(d: dict[str, Any], rng: np.random.Generator) -> Any:
    """One structural mutation of a JSON document (a deep copy is changed)."""
    d = json.loads(json.dumps(d))
    paths = _paths(d)
    path = paths[int(rng.integers(0, len(paths)))]
    op = int(rng.integers(0, 12))
    if not path:
        return [d] if op % 2 else _ODD_VALUES[int(rng.integers(0, len(_ODD_VALUES)))]
    parent, key = _get(d, path[:-1]), path[-1]
    value = parent[key]
    if op <= 2:  # a value of the wrong type or an extreme number
        parent[key] = _ODD_VALUES[int(rng.integers(0, len(_ODD_VALUES)))]
    elif op == 3:  # a missing key / list entry
        del parent[key]
    elif op == 4:  # deep nesting
        parent[key] = f"{_DEEP}{pick(rng, [50, 1000, 100_000])}"
    elif op == 5 and isinstance(value, list) and value:  # length mismatch: drop or add
        if rng.random() < 0.5:
            value.pop(int(rng.integers(0, len(value))))
        else:
            value.extend(value[: int(rng.integers(1, len(value) + 1))])
    elif op == 6 and isinstance(value, list) and len(value) > 1:  # non-monotone order
        value.reverse()
    elif op == 7 and isinstance(value, list):  # a huge list of tiny values
        parent[key] = f"{_LONG}{pick(rng, [65_537, 200_000])}"
    elif op == 8 and isinstance(value, (int, float)) and not isinstance(value, bool):
        parent[key] = -value if rng.random() < 0.5 else value * 1e300
    elif op == 9 and isinstance(parent, dict):  # unknown kind, or an extra key
        if "kind" in parent and rng.random() < 0.7:
            parent["kind"] = pick(rng, ["vector", "SCALAR", "palette", "blocks",
                                             "channels", "scalar"])
        else:
            parent["unexpected"] = 1
    elif op == 10 and isinstance(value, (int, float)) and not isinstance(value, bool):
        parent[key] = pick(rng, [np.nan, np.inf, -np.inf])
    else:
        parent[key] = [value, value] if rng.random() < 0.5 else {"v": value}
    return d


def _json_bytes(obj: Any) -> bytes:
    """Compact JSON of ``obj``, with the deep-nesting and long-list markers expanded."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    parts = text.split('"\\u0000')
    out = [parts[0]]
    for part in parts[1:]:
        kind, rest = part.split(":", 1)
        n_text, tail = rest.split('"', 1)
        n = int(n_text)
        out.append("[" * n + "0" + "]" * n if kind == "deep" else "[" + "0," * (n - 1) + "0]")
        out.append(tail)
    return "".join(out).encode()


def test_fuzz_quantizer_json(traced):
    """Structural mutations of the header's quantizer JSON (lengths and CRC made consistent)."""
    rng = np.random.default_rng(101)
    tally = Tally("quantizer JSON")
    bases = []
    for name, (img, q) in _images().items():
        for codec in CODECS:
            c = vqimage.compress(img, quantizer=q, codec=codec)
            bases.append((name, codec, c))
    for it in range(900):
        name, codec, c = bases[it % len(bases)]
        text = _json_bytes(_mutate_json(c.quantizer.to_dict(), rng))
        header = vqi_format.header_bytes(
            c.quantizer, c.shape, c.code_shape, c.codec, len(c.payload), quantizer_json=text
        )
        data = vqi_format.assemble(header, c.payload)
        tally.run(lambda data=data: _read_vqi(data), f"{name}/{codec} {text[:120]!r}")
    tally.check(900)


# -- header extremes -------------------------------------------------------------------------------
def _header_fields(data: bytes) -> list[tuple[str, int, str]]:
    ndim, code_ndim = data[14], data[15]
    fields = [("version", 8, "<H"), ("codec", 10, "<B"), ("flags", 11, "<B"), ("dtype", 12, "<H"),
              ("ndim", 14, "<B"), ("code_ndim", 15, "<B"), ("n_levels", 16, "<I"),
              ("json_len", 20, "<I"), ("payload_len", 24, "<Q")]
    fields += [(f"dim{i}", vqi_format.FIXED_SIZE + 8 * i, "<Q") for i in range(ndim + code_ndim)]
    return fields


def _with_crc(data: bytes) -> bytes:
    body = data[:-4]
    return body + struct.pack("<I", zlib.crc32(body))


def test_fuzz_header_extremes(traced):
    """Every header field set to 0, 1, max - 1 and max, CRC recomputed; then all at once."""
    tally = Tally("header extremes")
    rng = np.random.default_rng(202)
    for name, (img, q) in _images().items():
        for codec in CODECS:
            data = vqimage.compress(img, quantizer=q, codec=codec).tobytes()
            fields = _header_fields(data)
            for field, off, fmt in fields:
                top = 2 ** (8 * struct.calcsize(fmt)) - 1
                for value in (0, 1, top - 1, top):
                    b = bytearray(data)
                    struct.pack_into(fmt, b, off, value)
                    case = _with_crc(bytes(b))
                    tally.run(lambda d=case: _read_vqi(d), f"{name}/{codec} {field}={value}")
            for _ in range(4):  # several fields at once
                b = bytearray(data)
                for _field, off, fmt in [fields[i] for i in rng.choice(len(fields), 3)]:
                    top = 2 ** (8 * struct.calcsize(fmt)) - 1
                    struct.pack_into(fmt, b, off, pick(rng, [0, 1, top - 1, top]))
                case = _with_crc(bytes(b))
                tally.run(lambda d=case: _read_vqi(d), f"{name}/{codec} multi")
    tally.check(1000)


# -- chunked index ---------------------------------------------------------------------------------
def _chunked_parts(img: np.ndarray, q: Any, codecs: list[str]) -> tuple[bytes, dict[str, Any]]:
    """The payload area and the index of a chunked file of ``img`` (2x2 grid, axis 0 and 1)."""
    h, w = img.shape[:2]
    chunks: list[list[int]] = [[h // 2, h - h // 2], [w // 2, w - w // 2]]
    chunks += [[s] for s in img.shape[2:]]
    if getattr(q, "kind", "") == "blocks":
        bh, bw = q.block
        chunks[0] = [bh * 2, h - bh * 2]
        chunks[1] = [bw * 2, w - bw * 2]
    area = b""
    entries = []
    grid = tuple(len(a) for a in chunks)
    for i, block_id in enumerate(np.ndindex(grid)):
        sl = tuple(
            slice(sum(a[:j]), sum(a[: j + 1])) for a, j in zip(chunks, block_id)
        )
        codec = get_codec(codecs[i % len(codecs)])
        payload = codec.encode(q.encode(img[sl]), q.n_levels)
        entries.append([HEADER_SIZE + len(area), len(payload), codec.id, zlib.crc32(payload)])
        area += payload
    index = {
        "shape": list(img.shape), "dtype": f"{q.dtype.kind}{q.dtype.itemsize}",
        "chunks": chunks, "n_levels": int(q.n_levels), "quantizer": q.to_dict(),
        "entries": entries,
    }
    return area, index


def _chunked_file(area: bytes, raw_index: bytes) -> bytes:
    head = MAGIC + struct.pack("<H6s", VERSION, bytes(6))
    trailer = struct.pack("<QQI4s", HEADER_SIZE + len(area), len(raw_index),
                          zlib.crc32(raw_index), END_MAGIC)
    return head + area + raw_index + trailer


def _mutate_index(index: dict[str, Any], area_len: int, rng: np.random.Generator) -> Any:
    d = json.loads(json.dumps(index))
    entries = d["entries"]
    end = HEADER_SIZE + area_len
    op = int(rng.integers(0, 12))
    e = entries[int(rng.integers(0, len(entries)))]
    if op == 0:  # offset or length past EOF
        e[int(rng.integers(0, 2))] = pick(rng, [end, end + 1, 2**40, 2**64 - 1, 2**64])
    elif op == 1:  # overlapping chunks: two entries point at the same bytes
        other = entries[int(rng.integers(0, len(entries)))]
        e[0], e[1] = other[0], max(e[1], other[1])
    elif op == 2:  # wrong number of entries
        if rng.random() < 0.5:
            entries.pop()
        else:
            entries.append(list(entries[0]))
    elif op == 3:  # bad codec id
        e[2] = [4, 5, 255, 2**31, -1, 1.5, "packed", None][int(rng.integers(0, 8))]
    elif op == 4:  # huge shapes (chunks scaled to keep tiling)
        big = pick(rng, [10**6, 2**40, 2**47, 2**48 + 1, 2**64])
        d["shape"][0] = big
        d["chunks"][0] = [big - 1, 1]
    elif op == 5:  # chunks that do not tile, or negative
        axis = d["chunks"][int(rng.integers(0, len(d["chunks"])))]
        axis[0] = [0, -1, axis[0] + 1, 2**63][int(rng.integers(0, 4))]
    elif op == 6:  # entry of the wrong arity or type
        entries[entries.index(e)] = [[], [1], e[:3], [*e, 0], "x", None][int(rng.integers(0, 6))]
    elif op == 7:  # a chunk's CRC or length off by one
        i = int(rng.integers(1, 4)) if rng.random() < 0.5 else 3
        e[i] = e[i] + pick(rng, [-1, 1]) if isinstance(e[i], int) else e[i]
    elif op == 8:  # n_levels, dtype disagreeing
        key = pick(rng, ["n_levels", "dtype"])
        d[key] = [0, -1, 2**32, 65537, "u1", "f8", "(3,)u1", None][int(rng.integers(0, 8))]
    elif op == 9:  # the quantizer itself
        d["quantizer"] = _mutate_json(d["quantizer"], rng)
    else:  # any structural JSON mutation of the index
        return _mutate_json(d, rng)
    return d


def _read_chunked(path: Path, through_dask: bool) -> None:
    ci = open_chunked(path)
    for block_id in np.ndindex(ci.numblocks):
        ci.read_chunk(block_id)
    if through_dask and ci.n_chunks <= 16:  # dask's graph costs more than the decoding
        assert ci.decompress().shape == ci.shape


def test_fuzz_chunked_index(traced, tmp_path):
    """Mutations of a chunked file's index (its CRC recomputed) and of its payload bytes."""
    rng = np.random.default_rng(303)
    tally = Tally("chunked index")
    bases = []
    for name, (img, q) in _images().items():
        if name == "scalar-u16-300":
            continue
        for i in range(len(CODECS)):
            bases.append((name, *_chunked_parts(img, q, [*CODECS[i:], *CODECS[:i]])))
    path = tmp_path / "fuzz.vqi"
    for _name, area, index in bases:  # every base is valid to begin with
        path.write_bytes(_chunked_file(area, _json_bytes(index)))
        _read_chunked(path, True)
    for it in range(500):
        name, area, index = bases[it % len(bases)]
        if it % 10 == 9:  # payload damage (caught by the chunk's CRC or the codec)
            b = bytearray(area)
            b[int(rng.integers(0, len(b)))] ^= 1 << int(rng.integers(0, 8))
            data = _chunked_file(bytes(b), _json_bytes(index))
        else:
            data = _chunked_file(area, _json_bytes(_mutate_index(index, len(area), rng)))
        path.write_bytes(data)
        tally.run(lambda full=it % 5 == 0: _read_chunked(path, full), f"{name} #{it}")
    tally.check(500)


# -- numcodecs chunks ------------------------------------------------------------------------------
def _numcodecs_bases() -> list[tuple[str, VQImageCodec, bytes]]:
    bases = []
    for name, (img, q) in _images().items():
        for codec in CODECS:
            c = VQImageCodec(q, codec)
            bases.append((f"{name}/{codec}", c, c.encode(img)))
    return bases


def _header_len(buf: bytes) -> int:
    n = buf[5]
    m = buf[6 + n]
    ndim = buf[7 + n + m]
    return 8 + n + m + 8 * ndim


def _mutate_chunk(buf: bytes, rng: np.random.Generator) -> bytes:
    b = bytearray(buf)
    hl = _header_len(buf)
    op = int(rng.integers(0, 9))
    if op == 0:  # random bytes, with and without the magic
        tail = rng.integers(0, 256, int(rng.integers(0, 64)), dtype=np.uint8).tobytes()
        return (b"VQIC\x01" if rng.random() < 0.5 else b"") + tail
    if op == 1:  # a header byte set to an extreme or random value
        b[int(rng.integers(4, hl))] = pick(rng, [0, 1, 2, 8, 32, 33, 127, 254, 255])
        return bytes(b)
    if op == 2:  # a shape dimension set to an extreme
        n, m = b[5], b[6 + b[5]]
        ndim_pos = 7 + n + m
        ndim = b[ndim_pos]
        i = int(rng.integers(0, max(ndim, 1)))
        value = pick(rng, [0, 1, 2, 2**31, 2**48, 2**48 + 1, 2**63, 2**64 - 1])
        if ndim:
            struct.pack_into("<Q", b, ndim_pos + 1 + 8 * i, value)
        return bytes(b)
    if op == 3:  # the dtype replaced by another string
        n = b[5]
        m = b[6 + n]
        dt = [b"(3,|u1", b"(3,)u1", b"u1,u1", b"O", b"<f8", b"|u1", b"<u2", b">f4", b"V2",
              b"M8[s]", b"\xff"][int(rng.integers(0, 11))]
        return bytes(b[: 6 + n]) + bytes([len(dt)]) + dt + bytes(b[7 + n + m:])
    if op == 4:  # the codec name replaced
        n = b[5]
        name = [b"", b"packed", b"lzma", b"context", b"context2", b"zip", b"\xff\xfe",
                b"auto"][int(rng.integers(0, 8))]
        return bytes(b[:5]) + bytes([len(name)]) + name + bytes(b[6 + n:])
    if op == 5:  # truncation
        return bytes(b[: int(rng.integers(0, len(b)))])
    if op == 6:  # extension
        return bytes(b) + rng.integers(0, 256, int(rng.integers(1, 32)), dtype=np.uint8).tobytes()
    # payload bit flips
    if len(b) > hl:
        for _ in range(int(rng.integers(1, 4))):
            b[int(rng.integers(hl, len(b)))] ^= 1 << int(rng.integers(0, 8))
    return bytes(b)


def test_fuzz_numcodecs_chunks(traced):
    """Random bytes and structured header/payload mutations of numcodecs chunks."""
    rng = np.random.default_rng(404)
    tally = Tally("numcodecs chunks")
    bases = _numcodecs_bases()
    for _, codec, buf in bases:
        codec.decode(buf)
    for it in range(1500):
        name, codec, buf = bases[it % len(bases)]
        data = _mutate_chunk(buf, rng)
        tally.run(lambda c=codec, d=data: c.decode(d), f"{name} {data[:48]!r}")
    tally.check(1500)


def test_fuzz_zarr3_corrupted_chunks(traced, tmp_path):
    """zarr 3 reads of a store whose chunks are corrupted: FormatError, never another error."""
    zarr = pytest.importorskip("zarr")
    from vqimage.numcodecs import zarr3_codec

    rng = np.random.default_rng(505)
    tally = Tally("zarr 3 chunks")
    stores = []
    for name, (img, q) in _images().items():
        if name == "scalar-u16-300":
            continue
        for codec in CODECS:
            store = tmp_path / f"{name}-{codec}.zarr"
            chunks = (6, 8, *img.shape[2:])
            if name == "blocks":
                chunks = (q.block[0] * 2, q.block[1] * 2)
            z = _quiet(zarr.create_array, store, shape=img.shape, chunks=chunks,
                       dtype=img.dtype, serializer=zarr3_codec(q, codec), compressors=None)
            z[:] = img
            files = sorted(p for p in (store / "c").rglob("*") if p.is_file())
            stores.append((f"{name}/{codec}", store, files, [p.read_bytes() for p in files]))
    for it in range(240):
        name, store, files, originals = stores[it % len(stores)]
        k = int(rng.integers(0, len(files)))
        files[k].write_bytes(_mutate_chunk(originals[k], rng))
        tally.run(lambda store=store: np.asarray(_quiet(zarr.open_array, store)[:]),
                  f"{name} {files[k].name}")
        files[k].write_bytes(originals[k])
    tally.check(240)


def test_max_peak_is_measured():
    """The harness itself: a 100 MB allocation counts, and a non-FormatError fails the check."""
    tracemalloc.start()
    try:
        t = Tally("self-test")
        t.run(lambda: np.ones(100 * 2**20 // 8))
        t.run(lambda: (_ for _ in ()).throw(FormatError("x")))
        t.run(lambda: math.sqrt(-1))
    finally:
        tracemalloc.stop()
    assert t.peak_mb >= 99 and t.outcomes == {"ok": 1, "FormatError": 1, "ValueError": 1}
    with pytest.raises(AssertionError):
        t.check(1)
