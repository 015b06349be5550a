"""The ``context2`` codec (id 3): residual context mixing over renumbered codes."""

from __future__ import annotations

import numpy as np

from vqimage.codecs.context import ContextCodec

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

    def _encode_plane(self, plane: np.ndarray, bits: int, n_levels: int) -> bytes:
        from vqimage.codecs import _context2_kernel as _context2

        return _context2.encode(plane, bits, n_levels)

    def _decode_plane(
        self, body: bytes, plane_shape: tuple[int, int], bits: int, n_levels: int
    ) -> np.ndarray:
        from vqimage.codecs import _context2_kernel as _context2

        return _context2.decode(body, plane_shape, bits, n_levels)
