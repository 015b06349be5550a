"""The ``.vqi`` file format: header, quantizer, codec payload and checksum.

``docs/format.md`` is the byte-level contract; this module is its reference implementation.
In short (all integers little-endian)::

    offset  size        field
    0       8           magic  b"\\x89VQI\\r\\n\\x1a\\n"
    8       2           format version (u16), 1
    10      1           codec id (u8): 0 packed, 1 lzma, 2 context
    11      1           flags (u8), 0
    12      2           dtype of the decompressed image, 2 ASCII bytes: kind and size ("u1")
    14      1           ndim of the image (u8, 1..32)
    15      1           ndim of the codes (u8, 1..32)
    16      4           n_levels (u32, 1..65536)
    20      4           length J of the quantizer JSON (u32)
    24      8           length P of the payload (u64)
    32      8*ndim      image shape (u64 each, >= 1)
    ...     8*code_ndim code shape (u64 each, >= 1)
    ...     J           the quantizer's ``to_dict()`` as canonical JSON (UTF-8)
    ...     P           the codec payload
    end-4   4           CRC-32 of every preceding byte (u32)

The reader (:func:`read`) trusts nothing: it checks the magic, the version, the checksum,
that every length adds up to the file size, and that the payload can hold the claimed codes,
before allocating anything; every problem raises :class:`~vqimage.errors.FormatError`.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from vqimage._shared.kinds import KINDS
from vqimage.codecs import MAX_LEVELS, codec_from_id, get_codec
from vqimage.core.protocol import QuantizerProtocol
from vqimage.errors import FormatError

__all__ = [
    "MAGIC",
    "VERSION",
    "VqiFile",
    "assemble",
    "dumps_quantizer",
    "expected_size",
    "header_bytes",
    "loads_quantizer",
    "read",
    "write",
]

MAGIC = b"\x89VQI\r\n\x1a\n"
VERSION = 2
# The oldest version that can hold each codec: writers use the lowest version that holds the
# file, so files without the newer codecs stay readable by older readers, byte for byte.
CODEC_VERSIONS = {0: 1, 1: 1, 2: 1, 3: 2}
MAX_NDIM = 32
# Beyond 2**48 elements no array fits any machine's memory: refuse before anything else.
MAX_ELEMENTS = 1 << 48
_FIXED = struct.Struct("<8sHBB2sBBIIQ")
_CRC = struct.Struct("<I")
FIXED_SIZE = _FIXED.size  # 32
_DTYPES = {"u1", "u2", "u4", "u8", "i1", "i2", "i4", "i8", "f2", "f4", "f8"}

def dumps_quantizer(quantizer: QuantizerProtocol) -> bytes:
    """The canonical JSON of ``quantizer.to_dict()``: sorted keys, no spaces, ASCII.

    Examples
    --------
    >>> from vqimage import Quantizer
    >>> dumps_quantizer(Quantizer([0, 1, 2], [0.5, 1.5], dtype="uint8"))
    b'{"codebook":[0.5,1.5],"dtype":"|u1","edges":[0.0,1.0,2.0],"kind":"scalar",...}'
    """
    try:
        text = json.dumps(
            quantizer.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the quantizer cannot be stored as JSON: {exc}") from exc
    return text.encode("ascii")


def loads_quantizer(data: bytes) -> Any:
    """Rebuild a quantizer from :func:`dumps_quantizer` output; :class:`FormatError` if bad."""
    try:
        d = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FormatError(f"the quantizer JSON is malformed: {exc}") from exc
    if not isinstance(d, dict) or not isinstance(d.get("kind"), str):
        raise FormatError("the quantizer JSON is not an object with a string 'kind'")
    kind = d["kind"]
    if kind not in KINDS:
        raise FormatError(f"unknown quantizer kind {kind!r}")
    entry = KINDS[kind]
    try:
        cls = entry.quantizer_class()
    except (ImportError, AttributeError) as exc:
        raise FormatError(
            f"quantizer kind {kind!r} needs {entry.module}.{entry.class_name}, which is not "
            "available"
        ) from exc
    try:
        return cls.from_dict(d)
    except Exception as exc:  # any failure to rebuild from untrusted JSON is a format error
        raise FormatError(f"the {kind} quantizer description is invalid: {exc}") from exc


def _dtype_code(dtype: np.dtype) -> bytes:
    code = f"{dtype.kind}{dtype.itemsize}"
    if code not in _DTYPES:
        raise ValueError(f"dtype {dtype} cannot be stored in a .vqi file")
    return code.encode("ascii")


@dataclass(frozen=True)
class VqiFile:
    """What :func:`read` returns: the parsed, validated parts of a ``.vqi`` file."""

    version: int
    codec: str
    dtype: np.dtype
    shape: tuple[int, ...]
    code_shape: tuple[int, ...]
    n_levels: int
    quantizer: QuantizerProtocol
    payload: bytes
    header_size: int


def header_bytes(
    quantizer: QuantizerProtocol,
    shape: tuple[int, ...],
    code_shape: tuple[int, ...],
    codec: str,
    payload_len: int,
    *,
    quantizer_json: bytes | None = None,
) -> bytes:
    """The bytes of a ``.vqi`` file before the payload (fixed header, shapes, JSON)."""
    codec_id = get_codec(codec).id
    dtype = np.dtype(quantizer.dtype)
    qjson = dumps_quantizer(quantizer) if quantizer_json is None else quantizer_json
    shape = tuple(int(s) for s in shape)
    code_shape = tuple(int(s) for s in code_shape)
    for name, dims in (("shape", shape), ("code shape", code_shape)):
        if not 1 <= len(dims) <= MAX_NDIM:
            raise ValueError(f"a .vqi {name} needs 1 to {MAX_NDIM} dimensions, got {len(dims)}")
        if min(dims) < 1:
            raise ValueError(f"a .vqi {name} has no empty dimensions, got {dims}")
    fixed = _FIXED.pack(
        MAGIC, CODEC_VERSIONS[codec_id], codec_id, 0, _dtype_code(dtype), len(shape),
        len(code_shape), int(quantizer.n_levels), len(qjson), payload_len,
    )
    dims = struct.pack(f"<{len(shape) + len(code_shape)}Q", *shape, *code_shape)
    return fixed + dims + qjson


def write(
    quantizer: QuantizerProtocol,
    shape: tuple[int, ...],
    code_shape: tuple[int, ...],
    codec: str,
    payload: bytes,
) -> bytes:
    """Assemble a complete ``.vqi`` file (header, payload, CRC-32)."""
    return assemble(header_bytes(quantizer, shape, code_shape, codec, len(payload)), payload)


def assemble(header: bytes, payload: bytes) -> bytes:
    """``header + payload + CRC-32`` of both: the complete file."""
    crc = zlib.crc32(payload, zlib.crc32(header))
    return b"".join((header, payload, _CRC.pack(crc)))


def _fail(msg: str) -> FormatError:
    return FormatError(f"not a valid .vqi file: {msg}")


def read(data: Any) -> VqiFile:
    """Parse and validate a ``.vqi`` file held in memory.

    The payload is not decoded (see :meth:`vqimage.codecs.Codec.decode`), but it is checked
    to be the size the codec needs for the claimed code shape.

    Raises
    ------
    FormatError
        For any malformed, truncated, corrupted or unknown-version input.
    """
    try:
        buf = bytes(data)
    except TypeError as exc:
        raise TypeError(f"expected bytes, got {type(data).__name__}") from exc
    try:
        return _read(buf)
    except FormatError:
        raise
    except Exception as exc:  # contract: malformed input never raises anything else
        raise _fail(f"{type(exc).__name__}: {exc}") from exc


def expected_size(head: bytes) -> int:
    """The file length a ``.vqi`` header announces, from its first :data:`FIXED_SIZE` bytes.

    Checks the magic, the length of ``head`` and the version first, so a reader can learn how
    much to read (and compare it with the file's size) before reading more than the header.

    Raises
    ------
    FormatError
        Wrong magic, fewer than :data:`FIXED_SIZE` + 4 bytes, unknown version.
    """
    size = len(head)
    if head[:8] != MAGIC[: min(8, size)] or size == 0:
        raise _fail("wrong magic bytes (this is not a .vqi file)")
    if size < FIXED_SIZE + _CRC.size:
        raise _fail(f"truncated: {size} bytes, a header alone needs {FIXED_SIZE + _CRC.size}")
    (_, version, _, _, _, ndim, code_ndim, _, json_len, payload_len) = _FIXED.unpack_from(head)
    if not 1 <= version <= VERSION:
        newer = " (written by a newer vqimage?)" if version > VERSION else ""
        raise _fail(
            f"unsupported format version {version}; this reader knows 1 to {VERSION}{newer}"
        )
    return int(FIXED_SIZE + 8 * (ndim + code_ndim) + json_len + payload_len + _CRC.size)


def _read(buf: bytes) -> VqiFile:
    size = len(buf)
    expected = expected_size(buf)
    (_, version, codec_id, flags, dt, ndim, code_ndim, n_levels, json_len,
     payload_len) = _FIXED.unpack_from(buf)
    if expected != size:
        what = "truncated" if expected > size else "has trailing bytes"
        raise _fail(f"{what}: the header describes {expected} bytes, the data has {size}")
    (crc,) = _CRC.unpack_from(buf, size - _CRC.size)
    if zlib.crc32(memoryview(buf)[: size - _CRC.size]) != crc:
        raise _fail("checksum mismatch (the data is corrupted)")
    if flags != 0:
        raise _fail(f"unknown flags {flags:#04x}")
    codec = codec_from_id(codec_id)
    if CODEC_VERSIONS[codec_id] > version:
        raise _fail(f"codec id {codec_id} ({codec.name}) does not exist in version {version}")
    try:
        dt_text = dt.decode("ascii")
    except UnicodeDecodeError as exc:
        raise _fail(f"bad dtype field {dt!r}") from exc
    if dt_text not in _DTYPES:
        raise _fail(f"unsupported dtype {dt_text!r}")
    dtype = np.dtype(dt_text)
    if not (1 <= ndim <= MAX_NDIM and 1 <= code_ndim <= MAX_NDIM):
        raise _fail(f"bad number of dimensions {ndim}, {code_ndim} (1 to {MAX_NDIM})")
    if not 1 <= n_levels <= MAX_LEVELS:
        raise _fail(f"n_levels {n_levels} is outside [1, {MAX_LEVELS}]")
    dims = struct.unpack_from(f"<{ndim + code_ndim}Q", buf, FIXED_SIZE)
    shape, code_shape = tuple(dims[:ndim]), tuple(dims[ndim:])
    for name, d in (("shape", shape), ("code shape", code_shape)):
        if min(d) < 1:
            raise _fail(f"the {name} {d} has an empty dimension")
        if math.prod(d) > MAX_ELEMENTS:
            raise _fail(f"the {name} {d} is impossibly large")
    # Before anything is decoded or allocated: can this payload hold that many codes?
    codec.check_size(payload_len, math.prod(code_shape), n_levels)
    start = FIXED_SIZE + 8 * (ndim + code_ndim)
    quantizer = loads_quantizer(buf[start : start + json_len])
    if int(quantizer.n_levels) != n_levels:
        raise _fail(f"the header says {n_levels} levels, the quantizer has {quantizer.n_levels}")
    qdt = np.dtype(quantizer.dtype)
    if (qdt.kind, qdt.itemsize) != (dtype.kind, dtype.itemsize):
        raise _fail(f"the header says dtype {dtype}, the quantizer decodes to {qdt}")
    want = tuple(int(s) for s in quantizer.code_shape(shape))
    if want != code_shape:
        raise _fail(f"codes of shape {code_shape} do not fit an image of shape {shape}")
    payload = buf[start + json_len : start + json_len + payload_len]
    return VqiFile(
        version=version,
        codec=codec.name,
        dtype=qdt,
        shape=shape,
        code_shape=code_shape,
        n_levels=n_levels,
        quantizer=quantizer,
        payload=payload,
        header_size=start + json_len,
    )
