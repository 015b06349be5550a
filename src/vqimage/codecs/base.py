"""What every codec shares: argument checks, the 1-level case, size checks before decoding."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vqimage._shared.dtypes import MAX_LEVELS, code_dtype
from vqimage._shared.validation import check_int
from vqimage.errors import FormatError

__all__ = ["ZERO_RUN", "Codec", "check_codes", "check_levels"]

# A 1-level quantizer needs no code bits; its payload still holds one zero byte per
# ZERO_RUN codes so that the file size bounds what a reader allocates.
ZERO_RUN = 1 << 16


def check_levels(n_levels: Any) -> int:
    return check_int(n_levels, "n_levels", 1, MAX_LEVELS)


def check_codes(codes: Any, n_levels: int) -> np.ndarray:
    c = np.asarray(codes)
    if c.dtype.kind not in "ui" or c.dtype == np.bool_:
        raise TypeError(f"codes must have an integer dtype, got {c.dtype}")
    if c.size:
        lo, hi = int(c.min()), int(c.max())
        if lo < 0 or hi >= n_levels:
            raise ValueError(f"codes must be in [0, {n_levels - 1}], got values in [{lo}, {hi}]")
    return c.astype(code_dtype(n_levels), copy=False)


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
        n = check_levels(n_levels)
        c = check_codes(codes, n)
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
        n = check_levels(n_levels)
        dims = _shape(shape)
        data = bytes(payload)
        count = math.prod(dims)
        self.check_size(len(data), count, n)
        if n == 1:
            if any(data):
                raise FormatError("the payload of a 1-level image must be all zero bytes")
            return np.zeros(dims, dtype=np.uint8)
        if count == 0:
            return np.zeros(dims, dtype=code_dtype(n))
        flat = self._decode(data, dims, n)
        if flat.size != count:
            raise FormatError(f"the {self.name} payload decoded to {flat.size} codes, not {count}")
        if int(flat.max()) >= n:
            raise FormatError(
                f"the {self.name} payload holds code {int(flat.max())}, but there are only "
                f"{n} levels"
            )
        return flat.astype(code_dtype(n), copy=False).reshape(dims)

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
