"""The ``context2`` codec (id 3): residual context mixing over renumbered codes."""

from __future__ import annotations

import numpy as np

from vqimage._shared.dtypes import bits_for
from vqimage.codecs.context import (
    _METHOD_LZMA,
    _METHOD_MODEL,
    CONTEXT_MAX_BITS,
    ContextCodec,
    plane_view,
)
from vqimage.codecs.lzma import LzmaCodec

__all__ = ["Context2Codec"]


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
        bits = bits_for(n_levels)
        if bits > CONTEXT_MAX_BITS:
            return bytes([_METHOD_LZMA]) + LzmaCodec()._encode(codes, n_levels)
        from vqimage.codecs import _context2_kernel as _context2

        plane_shape, axes = plane_view(codes.shape)
        plane = codes if axes is None else np.transpose(codes, axes)
        plane = np.ascontiguousarray(plane, dtype=np.uint8).reshape(plane_shape)
        return bytes([_METHOD_MODEL]) + _context2.encode(plane, bits, n_levels)

    def _decode(self, data: bytes, shape: tuple[int, ...], n_levels: int) -> np.ndarray:
        method = data[0]
        bits = bits_for(n_levels)
        if method != _METHOD_MODEL or bits > CONTEXT_MAX_BITS:
            return super()._decode(data, shape, n_levels)  # lzma, or the error for bad bytes
        from vqimage.codecs import _context2_kernel as _context2

        plane_shape, axes = plane_view(shape)
        plane = _context2.decode(data[1:], plane_shape, bits, n_levels)
        if axes is None:
            return plane.reshape(-1)
        moved = tuple(shape[a] for a in axes)
        return np.transpose(plane.reshape(moved), np.argsort(axes)).reshape(-1)
