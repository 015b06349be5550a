"""Codecs: an array of integer codes <-> payload bytes.

Each codec is a small object with a ``name``, a numeric ``id`` (stored in ``.vqi`` headers),
``encode(codes, n_levels) -> bytes`` and ``decode(payload, shape, n_levels) -> codes``. The
registry maps names to codecs (:func:`get_codec`) and ids to codecs (:func:`codec_from_id`).

========  ==  ==========================================================================
name      id  payload
========  ==  ==========================================================================
packed    0   the codes bit-packed, ``ceil(log2 n_levels)`` bits each (:mod:`vqimage.packing`)
lzma      1   LZMA2 (preset 9 | extreme) over the codes as bytes (1 or 2 bytes per code)
context   2   an adaptive context-mixing binary arithmetic coder over neighbouring codes
context2  3   ``context``'s coder on prediction residuals of renumbered codes, more contexts
========  ==  ==========================================================================

``docs/format.md`` specifies every payload byte by byte. All codecs are deterministic: the same
codes give the same bytes on every run and machine.

Decoders treat their input as untrusted: before allocating they check that the payload can
hold the claimed number of codes (:meth:`Codec.check_size`), and they raise
:class:`~vqimage.errors.FormatError` for anything malformed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import FormatError
from .packing import pack, unpack

__all__ = [
    "CODECS",
    "Codec",
    "Context2Codec",
    "ContextCodec",
    "LzmaCodec",
    "PackedCodec",
    "choose_codec",
    "codec_from_id",
    "encode_best",
    "get_codec",
]

MAX_LEVELS = 65536
# A 1-level quantizer needs no code bits; its payload still holds one zero byte per
# ZERO_RUN codes so that the file size bounds what a reader allocates.
ZERO_RUN = 1 << 16


def _bits(n_levels: int) -> int:
    return math.ceil(math.log2(n_levels)) if n_levels > 1 else 0


def _code_dtype(n_levels: int) -> np.dtype:
    return np.dtype(np.uint8) if n_levels <= 256 else np.dtype(np.uint16)


def _check_levels(n_levels: Any) -> int:
    if isinstance(n_levels, bool) or not isinstance(n_levels, (int, np.integer)):
        raise TypeError(f"n_levels must be an integer, got {n_levels!r}")
    n = int(n_levels)
    if not 1 <= n <= MAX_LEVELS:
        raise ValueError(f"n_levels must be in [1, {MAX_LEVELS}], got {n}")
    return n


def _check_codes(codes: Any, n_levels: int) -> np.ndarray:
    c = np.asarray(codes)
    if c.dtype.kind not in "ui" or c.dtype == np.bool_:
        raise TypeError(f"codes must have an integer dtype, got {c.dtype}")
    if c.size:
        lo, hi = int(c.min()), int(c.max())
        if lo < 0 or hi >= n_levels:
            raise ValueError(f"codes must be in [0, {n_levels - 1}], got values in [{lo}, {hi}]")
    return c.astype(_code_dtype(n_levels), copy=False)


def _shape(shape: Any) -> tuple[int, ...]:
    try:
        dims = tuple(int(s) for s in shape)
    except TypeError as exc:
        raise TypeError(f"shape must be a sequence of integers, got {shape!r}") from exc
    if any(d < 0 for d in dims):
        raise ValueError(f"shape must not have negative dimensions, got {dims}")
    return dims


def _zero_run_size(count: int) -> int:
    return -(-count // ZERO_RUN)


class Codec:
    """Base class: subclasses implement ``_encode`` / ``_decode`` / ``_max_count``.

    The base class handles what every codec shares: argument checks, the 1-level case (no
    code bits: a run of zero bytes), the size check before decoding and the final range
    check of decoded codes.
    """

    name: str = ""
    id: int = -1

    def __repr__(self) -> str:
        return f"<vqimage codec {self.name!r} (id {self.id})>"

    # -- public API -------------------------------------------------------------------
    def encode(self, codes: Any, n_levels: int) -> bytes:
        """Encode ``codes`` (integers in ``[0, n_levels)``, any shape) to payload bytes.

        The shape is not stored: pass it to :meth:`decode`.
        """
        n = _check_levels(n_levels)
        c = _check_codes(codes, n)
        if n == 1:
            return bytes(_zero_run_size(c.size))
        if c.size == 0:
            return b""
        return self._encode(c, n)

    def decode(self, payload: Any, shape: Any, n_levels: int) -> np.ndarray:
        """Decode a payload into codes of ``shape`` (uint8, or uint16 above 256 levels).

        Raises
        ------
        FormatError
            If the payload is malformed, too short or too long for ``shape``, or decodes to
            codes outside ``[0, n_levels)``.
        """
        n = _check_levels(n_levels)
        dims = _shape(shape)
        data = bytes(payload)
        count = math.prod(dims)
        self.check_size(len(data), count, n)
        if n == 1:
            if any(data):
                raise FormatError("the payload of a 1-level image must be all zero bytes")
            return np.zeros(dims, dtype=np.uint8)
        if count == 0:
            return np.zeros(dims, dtype=_code_dtype(n))
        flat = self._decode(data, dims, n)
        if flat.size != count:
            raise FormatError(f"the {self.name} payload decoded to {flat.size} codes, not {count}")
        if int(flat.max()) >= n:
            raise FormatError(
                f"the {self.name} payload holds code {int(flat.max())}, but there are only "
                f"{n} levels"
            )
        return flat.astype(_code_dtype(n), copy=False).reshape(dims)

    def check_size(self, payload_len: int, count: int, n_levels: int) -> None:
        """Raise :class:`FormatError` unless a valid payload of this length can hold ``count``.

        This runs before anything is allocated, so a header claiming a huge shape fails fast.
        """
        if n_levels == 1 or count == 0:
            want = _zero_run_size(count) if n_levels == 1 else 0
            if payload_len != want:
                raise FormatError(
                    f"a payload for {count} codes of {n_levels} level(s) has {want} bytes, "
                    f"got {payload_len}"
                )
            return
        self._check_size(payload_len, count, n_levels)

    # -- for subclasses ---------------------------------------------------------------
    def _encode(self, codes: np.ndarray, n_levels: int) -> bytes:
        raise NotImplementedError

    def _decode(self, data: bytes, shape: tuple[int, ...], n_levels: int) -> np.ndarray:
        raise NotImplementedError

    def _check_size(self, payload_len: int, count: int, n_levels: int) -> None:
        raise NotImplementedError


class PackedCodec(Codec):
    """Bit-packed codes: ``ceil(count * bits / 8)`` bytes, the in-memory form.

    Examples
    --------
    >>> import numpy as np
    >>> codec = get_codec("packed")
    >>> payload = codec.encode(np.array([[0, 7], [3, 5]], dtype=np.uint8), 8)
    >>> len(payload), codec.decode(payload, (2, 2), 8).tolist()
    (2, [[0, 7], [3, 5]])
    """

    name = "packed"
    id = 0

    def _encode(self, codes: np.ndarray, n_levels: int) -> bytes:
        return pack(codes, _bits(n_levels))

    def _decode(self, data: bytes, shape: tuple[int, ...], n_levels: int) -> np.ndarray:
        return unpack(data, _bits(n_levels), math.prod(shape))

    def _check_size(self, payload_len: int, count: int, n_levels: int) -> None:
        want = (count * _bits(n_levels) + 7) // 8
        if payload_len != want:
            raise FormatError(
                f"{count} packed codes of {_bits(n_levels)} bits take {want} bytes, "
                f"the payload has {payload_len}"
            )


# LZMA2 never expands data by more than this factor (all-zero input reaches about 6,800);
# the reader refuses payloads that claim more, before decompressing anything.
LZMA_MAX_RATIO = 1 << 15
LZMA_PRESET = 9


def _lzma_filters(raw_len: int) -> list[dict[str, Any]]:
    import lzma

    # A dictionary no larger than the data gives the same stream as preset 9's 64 MiB one,
    # and keeps the decoder's allocation proportional to the image.
    dict_size = 1 << max(12, min(26, (raw_len - 1).bit_length()))
    return [
        {"id": lzma.FILTER_LZMA2, "preset": LZMA_PRESET | lzma.PRESET_EXTREME,
         "dict_size": dict_size}
    ]


def _lzma_compress(raw: bytes) -> bytes:
    import lzma

    return lzma.compress(raw, format=lzma.FORMAT_RAW, filters=_lzma_filters(len(raw)))


def _lzma_decompress(data: bytes, raw_len: int) -> bytes:
    import lzma

    dec = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=_lzma_filters(raw_len))
    try:
        raw = dec.decompress(data, max_length=raw_len)
    except lzma.LZMAError as exc:
        raise FormatError(f"the lzma payload is corrupt: {exc}") from exc
    if len(raw) != raw_len or not dec.eof or dec.unused_data:
        raise FormatError(
            f"the lzma payload does not decode to exactly {raw_len} bytes of codes"
        )
    return raw


class LzmaCodec(Codec):
    """LZMA2 (``preset=9 | PRESET_EXTREME``, raw stream) over the codes as bytes.

    Codes are stored one byte each up to 256 levels, else two bytes big-endian. This is a
    fixed rule (not "whichever is smaller"): LZMA's byte-oriented matching works better on
    whole-byte codes than on bit-packed ones (face, 8 levels: 111.7 KB against 130.0 KB).

    Examples
    --------
    >>> import numpy as np
    >>> codes = np.zeros((64, 64), dtype=np.uint8)
    >>> payload = get_codec("lzma").encode(codes, 8)
    >>> len(payload) < 100
    True
    """

    name = "lzma"
    id = 1

    def _encode(self, codes: np.ndarray, n_levels: int) -> bytes:
        dt = ">u2" if n_levels > 256 else "u1"
        return _lzma_compress(codes.astype(dt, copy=False).tobytes())

    def _decode(self, data: bytes, shape: tuple[int, ...], n_levels: int) -> np.ndarray:
        count = math.prod(shape)
        wide = n_levels > 256
        raw = _lzma_decompress(data, count * (2 if wide else 1))
        return np.frombuffer(raw, dtype=">u2" if wide else np.uint8).astype(_code_dtype(n_levels))

    def _check_size(self, payload_len: int, count: int, n_levels: int) -> None:
        raw_len = count * (2 if n_levels > 256 else 1)
        if payload_len == 0 or raw_len > LZMA_MAX_RATIO * payload_len:
            raise FormatError(
                f"an lzma payload of {payload_len} bytes cannot hold {count} codes"
            )


# -- context codec ---------------------------------------------------------------------------
CONTEXT_MAX_BITS = 8  # above 256 levels the context model falls back to lzma
_METHOD_MODEL = 0
_METHOD_LZMA = 1
# The coder's probability of a decision never exceeds 4094/4096 (squash(2047) = 4094 and the
# APM's 4095 average to 4094), so every code costs at least -log2(4094/4096) bits and a valid
# method-0 stream of P - 1 bytes (4 of them the final flush) holds at most
# 8 * (P - 1) / 0.000705 = 11,352 * (P - 1) codes. A constant plane reaches 7,330.
CONTEXT_MAX_RATIO = 11_400
# Method 1 (lzma inside, above 256 levels): 2 bytes per code, LZMA_MAX_RATIO bytes per byte.
CONTEXT_LZMA_MAX_RATIO = LZMA_MAX_RATIO // 2


def plane_view(shape: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...] | None]:
    """How the context coder lays codes of ``shape`` out as rows of a 2-D plane.

    Returns ``(plane_shape, axes)``: the codes, transposed by ``axes`` (None: as they are)
    and reshaped, form a ``(rows, width)`` plane. 1-D codes are one row; 2-D codes are the
    plane; for 3-D and more, a last axis of at most 4 (colour channels) is moved first so
    each channel is a stack of rows; otherwise the leading axes are stacked as rows.

    Examples
    --------
    >>> plane_view((768, 1024))
    ((768, 1024), None)
    >>> plane_view((10, 20, 3))
    ((30, 20), (2, 0, 1))
    >>> plane_view((7,))
    ((1, 7), None)
    """
    if len(shape) == 0:
        return (1, 1), None
    if len(shape) == 1:
        return (1, shape[0]), None
    if len(shape) >= 3 and shape[-1] <= 4:
        axes = (len(shape) - 1, *range(len(shape) - 1))
        return (math.prod(shape[:-2]) * shape[-1], shape[-2]), axes
    return (math.prod(shape[:-1]), shape[-1]), None


class ContextCodec(Codec):
    """Context-mixing arithmetic coding of codes from their causal neighbours.

    Each code is coded as ``bits`` binary decisions (most significant first). Every decision
    is predicted by several adaptive models, each looking at a different set of already
    coded neighbours (left, up, up-left, up-right, and two steps left and up); a small
    neural mixer combines them, and a binary arithmetic coder writes the result. The model
    adapts as it goes, identically in the encoder and decoder, so no table is stored; all
    arithmetic is on integers, so the bytes are the same on every machine.

    Above 256 levels the model would be too large: the payload then holds lzma instead
    (its first byte says which).

    The coder is a compiled (numba) kernel, built on first use and cached on disk.
    """

    name = "context"
    id = 2

    def _encode(self, codes: np.ndarray, n_levels: int) -> bytes:
        bits = _bits(n_levels)
        if bits > CONTEXT_MAX_BITS:
            return bytes([_METHOD_LZMA]) + LzmaCodec()._encode(codes, n_levels)
        from . import _contextcoder

        plane_shape, axes = plane_view(codes.shape)
        plane = codes if axes is None else np.transpose(codes, axes)
        plane = np.ascontiguousarray(plane, dtype=np.uint8).reshape(plane_shape)
        return bytes([_METHOD_MODEL]) + _contextcoder.encode(plane, bits)

    def _decode(self, data: bytes, shape: tuple[int, ...], n_levels: int) -> np.ndarray:
        method = data[0]
        body = data[1:]
        bits = _bits(n_levels)
        if method == _METHOD_LZMA:
            if bits <= CONTEXT_MAX_BITS:
                raise FormatError("a context payload uses lzma only above 256 levels")
            LzmaCodec().check_size(len(body), math.prod(shape), n_levels)
            return LzmaCodec()._decode(body, shape, n_levels)
        if method != _METHOD_MODEL or bits > CONTEXT_MAX_BITS:
            raise FormatError(f"unknown context payload method {method}")
        from . import _contextcoder

        plane_shape, axes = plane_view(shape)
        plane = _contextcoder.decode(body, plane_shape, bits)
        if axes is None:
            return plane.reshape(-1)
        moved = tuple(shape[a] for a in axes)
        return np.transpose(plane.reshape(moved), np.argsort(axes)).reshape(-1)

    def _check_size(self, payload_len: int, count: int, n_levels: int) -> None:
        if payload_len < 1:
            raise FormatError("the context payload is empty")
        # Before anything is allocated: the most codes either method can put in these bytes.
        # (The decoder also grows its code buffer only as codes decode, so memory follows
        # the codes the stream really holds, not the claim.)
        ratio = CONTEXT_LZMA_MAX_RATIO if n_levels > 256 else CONTEXT_MAX_RATIO
        if count > ratio * (payload_len - 1):
            raise FormatError(
                f"a context payload of {payload_len} bytes cannot hold {count} codes"
            )


class Context2Codec(ContextCodec):
    """Residual context mixing over renumbered codes (``docs/format.md``, codec id 3).

    The encoder renumbers the codes so that codes often found side by side get nearby numbers
    (the order of a palette is arbitrary; scalar levels keep theirs) and stores that
    permutation; each code is then coded as its residual against the median predictor, with
    contexts of neighbouring codes and of quantised gradients, mixed and refined by two APMs.
    Smaller than ``context`` at every size tried, most at many levels and for palettes
    (``docs/benchmarks/codecs.md``). Above 256 levels the payload holds lzma, as ``context``.
    """

    name = "context2"
    id = 3

    def _encode(self, codes: np.ndarray, n_levels: int) -> bytes:
        bits = _bits(n_levels)
        if bits > CONTEXT_MAX_BITS:
            return bytes([_METHOD_LZMA]) + LzmaCodec()._encode(codes, n_levels)
        from . import _context2

        plane_shape, axes = plane_view(codes.shape)
        plane = codes if axes is None else np.transpose(codes, axes)
        plane = np.ascontiguousarray(plane, dtype=np.uint8).reshape(plane_shape)
        return bytes([_METHOD_MODEL]) + _context2.encode(plane, bits, n_levels)

    def _decode(self, data: bytes, shape: tuple[int, ...], n_levels: int) -> np.ndarray:
        method = data[0]
        bits = _bits(n_levels)
        if method != _METHOD_MODEL or bits > CONTEXT_MAX_BITS:
            return super()._decode(data, shape, n_levels)  # lzma, or the error for bad bytes
        from . import _context2

        plane_shape, axes = plane_view(shape)
        plane = _context2.decode(data[1:], plane_shape, bits, n_levels)
        if axes is None:
            return plane.reshape(-1)
        moved = tuple(shape[a] for a in axes)
        return np.transpose(plane.reshape(moved), np.argsort(axes)).reshape(-1)


CODECS: dict[str, Codec] = {
    c.name: c for c in (PackedCodec(), LzmaCodec(), ContextCodec(), Context2Codec())
}
_BY_ID: dict[int, Codec] = {c.id: c for c in CODECS.values()}


def get_codec(name: str) -> Codec:
    """The codec called ``name`` (``"packed"``, ``"lzma"``, ``"context"`` or ``"context2"``).

    Examples
    --------
    >>> get_codec("lzma")
    <vqimage codec 'lzma' (id 1)>
    """
    codec = CODECS.get(name) if isinstance(name, str) else None
    if codec is None:
        raise ValueError(
            f"codec must be one of {', '.join(map(repr, CODECS))} or 'auto'; got {name!r}"
        )
    return codec


def codec_from_id(codec_id: int) -> Codec:
    """The codec with numeric id ``codec_id``; :class:`FormatError` if unknown."""
    codec = _BY_ID.get(codec_id)
    if codec is None:
        raise FormatError(f"unknown codec id {codec_id}")
    return codec


# What ``auto`` tries, in order; on equal sizes the earlier codec wins (packed is the fastest
# to read, lzma the slowest to write).
AUTO_ORDER = ("packed", "context2", "context", "lzma")


def encode_best(codes: Any, n_levels: int) -> tuple[str, bytes]:
    """Encode with every codec and keep the smallest payload: what ``codec="auto"`` does.

    The candidates are all codecs (``packed``, ``context2``, ``context``, ``lzma``); on equal
    sizes the earlier one in that order wins. The result is therefore never larger than any
    single codec's, and the choice is a pure function of the codes (deterministic).

    Cost: the sum of the candidates' encoding times, about 3x the time of ``context2`` alone
    (lzma at preset 9 | extreme and the two context coders each take 0.3-1 s per
    megapixel; packed is negligible). Above 256 levels both context payloads are lzma plus
    a method byte, so only ``packed`` and ``lzma`` are tried.

    Returns
    -------
    (name, payload)

    Examples
    --------
    >>> import numpy as np
    >>> encode_best(np.zeros((32, 32), dtype=np.uint8), 4)[0]
    'context2'
    >>> encode_best(np.array([1, 0], dtype=np.uint8), 2)[0]
    'packed'
    """
    n = _check_levels(n_levels)
    c = _check_codes(codes, n)
    best_name = "packed"
    best = CODECS["packed"].encode(c, n)
    if n == 1 or c.size == 0:
        return best_name, best
    for name in AUTO_ORDER[1:]:
        if _bits(n) > CONTEXT_MAX_BITS and name.startswith("context"):
            continue  # lzma with one more byte: cannot win against lzma itself
        payload = CODECS[name].encode(c, n)
        if len(payload) < len(best):
            best_name, best = name, payload
    return best_name, best


def choose_codec(codes: Any, n_levels: int) -> str:
    """Name of the codec :func:`encode_best` picks for ``codes``."""
    return encode_best(codes, n_levels)[0]
