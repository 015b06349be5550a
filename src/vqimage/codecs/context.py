"""The ``context`` codec (id 2): context-mixing arithmetic coding of codes from their neighbours."""

from __future__ import annotations

import math

import numpy as np

from vqimage._shared.dtypes import bits_for
from vqimage.codecs.base import Codec
from vqimage.codecs.lzma import LZMA_MAX_RATIO, LzmaCodec
from vqimage.errors import FormatError

__all__ = ["CONTEXT_MAX_BITS", "CONTEXT_MAX_RATIO", "ContextCodec", "plane_view"]

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
        bits = bits_for(n_levels)
        if bits > CONTEXT_MAX_BITS:
            return bytes([_METHOD_LZMA]) + LzmaCodec()._encode(codes, n_levels)
        plane_shape, axes = plane_view(codes.shape)
        plane = codes if axes is None else np.transpose(codes, axes)
        plane = np.ascontiguousarray(plane, dtype=np.uint8).reshape(plane_shape)
        return bytes([_METHOD_MODEL]) + self._encode_plane(plane, bits, n_levels)

    def _decode(self, data: bytes, shape: tuple[int, ...], n_levels: int) -> np.ndarray:
        method = data[0]
        body = data[1:]
        bits = bits_for(n_levels)
        if method == _METHOD_LZMA:
            if bits <= CONTEXT_MAX_BITS:
                raise FormatError("a context payload uses lzma only above 256 levels")
            LzmaCodec().check_size(len(body), math.prod(shape), n_levels)
            return LzmaCodec()._decode(body, shape, n_levels)
        if method != _METHOD_MODEL or bits > CONTEXT_MAX_BITS:
            raise FormatError(f"unknown context payload method {method}")
        plane_shape, axes = plane_view(shape)
        plane = self._decode_plane(body, plane_shape, bits, n_levels)
        if axes is None:
            return plane.reshape(-1)
        moved = tuple(shape[a] for a in axes)
        return np.transpose(plane.reshape(moved), np.argsort(axes)).reshape(-1)

    def _encode_plane(self, plane: np.ndarray, bits: int, n_levels: int) -> bytes:
        """The model's bytes for a ``(rows, width)`` uint8 plane (the kernel, imported late)."""
        from vqimage.codecs import _context_kernel as _contextcoder

        return _contextcoder.encode(plane, bits)

    def _decode_plane(
        self, body: bytes, plane_shape: tuple[int, int], bits: int, n_levels: int
    ) -> np.ndarray:
        """Inverse of :meth:`_encode_plane`: the plane's codes, flattened."""
        from vqimage.codecs import _context_kernel as _contextcoder

        return _contextcoder.decode(body, plane_shape, bits)

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
