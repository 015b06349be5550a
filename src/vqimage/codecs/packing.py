"""Bit packing: integer codes <-> a byte string holding ``bits`` bits per code.

Codes are written one after another, most significant bit first, into a big-endian bit stream
(the order PNG uses for sub-byte pixels); the last byte is padded with zero bits. ``n`` codes of
``bits`` bits take exactly ``ceil(n * bits / 8)`` bytes.

Both directions work on groups of 8 codes, which always fill exactly ``bits`` bytes: the
group is merged (or split) inside 64-bit words with a few shifts and masks over whole arrays,
and the words are written to (read from) the byte stream through an unaligned big-endian
``uint64`` view whose rows are ``bits`` bytes apart. Reading overlapping rows is harmless;
writing uses OR into zeroed memory, split into classes of rows that do not overlap, so the
result does not depend on the order numpy visits the rows. Packing therefore costs a
handful of vectorized passes and no per-code Python work.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vqimage._shared.validation import check_int

__all__ = ["pack", "packed_size", "unpack"]

MAX_BITS = 16

# Lane masks: the low half of every 16-, 32- and 64-bit lane of a 64-bit word.
# Multiplying a lane's mask by _REPEAT[n] repeats it in every n-bit part of 64 bits.
_REPEAT = {16: 0x0001000100010001, 32: 0x0000000100000001, 64: 1}


def _check_bits(bits: Any) -> int:
    return check_int(bits, "bits", 0, MAX_BITS)


def _check_count(count: Any) -> int:
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)):
        raise TypeError(f"count must be an integer, got {count!r}")
    n = int(count)
    if n < 0:
        raise ValueError(f"count must be non-negative, got {n}")
    return n


def packed_size(count: int, bits: int) -> int:
    """Number of bytes :func:`pack` writes for ``count`` codes of ``bits`` bits.

    Examples
    --------
    >>> packed_size(786432, 3)
    294912
    >>> packed_size(5, 3)
    2
    """
    return (_check_count(count) * _check_bits(bits) + 7) // 8


def _words(flat: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``flat`` as ``dtype`` padded with zeros to a multiple of 8, viewed as little-endian u64."""
    n = flat.size
    if n % 8 == 0 and flat.dtype == dtype and flat.flags.c_contiguous:
        return flat.view("<u8")
    out = np.zeros(-(-n // 8) * 8, dtype=dtype)
    out[:n] = flat
    return out.view("<u8")


def _rows(buf: np.ndarray, offset: int, stride: int, count: int) -> np.ndarray:
    """Big-endian u64 view of ``buf`` whose rows start ``stride`` bytes apart (may overlap)."""
    return np.ndarray((count,), dtype=">u8", buffer=buf, offset=offset, strides=(stride,))


def _or_rows(buf: np.ndarray, values: np.ndarray, offset: int, stride: int) -> None:
    """OR ``values`` into 8-byte rows at ``offset + i * stride`` (rows may overlap).

    The rows are split into classes ``i % k`` with ``k * stride >= 8`` so that no single
    operation touches a byte twice; zero bits of one row never clear another row's bits.
    """
    k = -(-8 // stride)
    m = values.size
    for r in range(min(k, m)):
        rows = _rows(buf, offset + r * stride, k * stride, len(range(r, m, k)))
        rows |= values[r::k]


def _merge(w: np.ndarray, b: int, width: int) -> np.ndarray:
    """Merge lanes of ``width`` bits (8 or 16; code 0 in the lowest) into one value, code 0 first.

    Each step halves the number of lanes: pairs of neighbouring lanes, ``s`` bits of code each,
    become one lane of ``2 * s`` bits (the lower lane's code above).
    """
    s = b
    while width < 64:
        low = np.uint64(((1 << width) - 1) * _REPEAT[2 * width])
        w = ((w & low) << np.uint64(s)) | ((w >> np.uint64(width)) & low)
        width *= 2
        s *= 2
    return w


def _split(z: np.ndarray, b: int, width: int) -> np.ndarray:
    """Inverse of :func:`_merge`: one value of ``64 // width`` codes back to lanes of ``width``."""
    s = b * 32 // width
    lane = 32
    while lane >= width:
        m = np.uint64(((1 << s) - 1) * _REPEAT[2 * lane])
        z = ((z >> np.uint64(s)) & m) | ((z & m) << np.uint64(lane))
        lane //= 2
        s //= 2
    return z


def pack(codes: Any, bits: int) -> bytes:
    """Pack non-negative integer codes into ``bits`` bits each (MSB first).

    Parameters
    ----------
    codes : array_like of unsigned integers
        Codes of any shape, flattened in C order; every code must be below ``2**bits``.
    bits : int
        Bits per code, 0 to 16 (0 writes nothing: a 1-level quantizer needs no codes).

    Returns
    -------
    bytes
        ``ceil(codes.size * bits / 8)`` bytes; unused bits of the last byte are zero.

    Raises
    ------
    ValueError
        If a code does not fit in ``bits`` bits.

    Examples
    --------
    >>> import numpy as np

from vqimage._shared.validation import check_int
    >>> pack(np.array([1, 2, 3, 4, 5], dtype=np.uint8), 3).hex()
    '29ca'
    >>> pack(np.zeros(5, dtype=np.uint8), 0)
    b''
    """
    b = _check_bits(bits)
    c = np.asarray(codes)
    if c.dtype.kind not in "ui" or c.dtype == np.bool_:
        raise TypeError(f"codes must have an integer dtype, got {c.dtype}")
    flat = c.ravel()
    n = flat.size
    if n == 0:
        return b""
    lo, hi = int(flat.min()), int(flat.max())
    if lo < 0 or hi >> b:
        raise ValueError(
            f"codes must be in [0, {(1 << b) - 1}] for {b} bits, got values in [{lo}, {hi}]"
        )
    if b == 0:
        return b""
    nbytes = (n * b + 7) // 8
    if b == 8:
        return flat.astype(np.uint8, copy=False).tobytes()
    if b == 16:
        return flat.astype(">u2", copy=False).tobytes()
    if b == 1:
        return np.packbits(flat.astype(np.uint8, copy=False)).tobytes()
    buf = np.zeros(n * b // 8 + 16, dtype=np.uint8)
    if b < 8:
        z = _merge(_words(flat, np.dtype(np.uint8)), b, 8)
        z <<= np.uint64(64 - 8 * b)  # the group's b bytes first, then zeros
        _or_rows(buf, z, 0, b)
    else:
        # 9..15 bits: a group of 8 codes is 8*b = 72..120 bits, made of two 4-code halves.
        words = _words(flat, np.dtype("<u2")).reshape(-1, 2)
        first = _merge(words[:, 0], b, 16)
        second = _merge(words[:, 1], b, 16)
        spill = 8 * b - 64  # bits of the second half that go past the first 8 bytes
        top = first << np.uint64(64 - 4 * b)
        top |= second >> np.uint64(spill)
        second <<= np.uint64(64 - spill)
        _or_rows(buf, top, 0, b)
        _or_rows(buf, second, 8, b)
    return buf[:nbytes].tobytes()


def unpack(data: Any, bits: int, count: int) -> np.ndarray:
    """Unpack ``count`` codes of ``bits`` bits from ``data`` (the inverse of :func:`pack`).

    Parameters
    ----------
    data : bytes-like
        At least ``ceil(count * bits / 8)`` bytes; extra bytes are ignored.
    bits : int
        Bits per code, 0 to 16.
    count : int
        Number of codes to read.

    Returns
    -------
    ndarray of shape (count,)
        uint8 for ``bits <= 8``, else uint16. ``bits == 0`` gives zeros.

    Raises
    ------
    ValueError
        If ``data`` is shorter than the codes need.

    Examples
    --------
    >>> unpack(bytes.fromhex("29ca"), 3, 5)
    array([1, 2, 3, 4, 5], dtype=uint8)
    """
    b = _check_bits(bits)
    n = _check_count(count)
    out_dtype = np.dtype(np.uint8) if b <= 8 else np.dtype(np.uint16)
    need = (n * b + 7) // 8
    buf = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    if buf.size < need:
        raise ValueError(f"{n} codes of {b} bits need {need} bytes, got {buf.size}")
    if b == 0 or n == 0:
        return np.zeros(n, dtype=out_dtype)
    if b == 8:
        return buf[:n].copy()
    if b == 16:
        return buf[: 2 * n].view(">u2").astype(np.uint16)
    if b == 1:
        return np.unpackbits(buf[:need], count=n)
    groups = -(-n // 8)
    padded = np.zeros(groups * b + 16, dtype=np.uint8)
    padded[:need] = buf[:need]
    top = _rows(padded, 0, b, groups).astype(np.uint64)
    if b < 8:
        top >>= np.uint64(64 - 8 * b)
        return _split(top, b, 8).view(np.uint8)[:n].copy()
    spill = 8 * b - 64
    mask = np.uint64((1 << (4 * b)) - 1)
    second = _rows(padded, 8, b, groups).astype(np.uint64)
    second >>= np.uint64(64 - spill)
    second |= top << np.uint64(spill)
    second &= mask
    top >>= np.uint64(64 - 4 * b)
    words = np.empty((groups, 2), dtype=np.uint64)
    words[:, 0] = _split(top, b, 16)
    words[:, 1] = _split(second, b, 16)
    return words.view("<u2").reshape(-1)[:n].astype(np.uint16)
