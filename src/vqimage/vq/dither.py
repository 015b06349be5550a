"""Floyd–Steinberg error diffusion for palette and scalar quantizers.

Each pixel is encoded after adding the error diffused from its already-encoded neighbours
(7/16 to the next pixel, 3/16, 5/16, 1/16 to the row below), scanning rows in alternating
directions (serpentine), which avoids the diagonal "worms" of a plain raster scan. The scan is
sequential by nature, so it runs in a compiled kernel (numba, imported on first use); the
nearest-colour search inside it uses the same per-cell candidate lists as
:meth:`vqimage.PaletteQuantizer.encode`, which keeps dithering within a few times the cost of
plain encoding.

Dithered codes are not ``quantizer.encode(image)``: decode them with ``quantizer.decode``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["dither"]


def _palette_grid(q: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, int]:
    """Candidate lists over the *whole* colour cube (diffused colours may fall anywhere)."""
    from . import _vq_kernels as K
    from .palette import _Grid, _morton, _search_bits

    key = "dither-grid"
    if key not in q._cache:
        C = q.channels
        nbits = 8 * q.dtype.itemsize
        bits = min(_search_bits(q.n_levels, C), 12 // C)
        ncell = 1 << bits
        width = float(1 << (nbits - bits))
        # Every cell of the cube, as one point per cell in Morton order.
        mk = np.arange(1 << (C * bits), dtype=np.uint64)
        grid = _Grid(mk, C, bits, nbits, bits)
        # Diffused values are real, not integers: boxes span whole cells.
        grid.hi[:, :C] += 1.0
        indptr, cidx = K.box_candidates(grid.lo, grid.hi, grid.parent, q._book4(), 0.0)
        # The kernel finds a cell by its coordinates (C order); map that to the box index.
        coords = np.indices((ncell,) * C).reshape(C, -1).T.astype(np.uint8)
        box = (grid.offset + _morton(coords, bits).astype(np.int64)).astype(np.int64)
        q._cache[key] = (indptr, cidx, box, width, ncell)
    return q._cache[key]


def dither(quantizer: Any, image: Any) -> np.ndarray:
    """Codes of ``image`` under ``quantizer`` with Floyd–Steinberg error diffusion.

    Parameters
    ----------
    quantizer : PaletteQuantizer or Quantizer
        A palette (the image is (height, width, channels)) or a scalar quantizer (the image is
        (height, width) or (height, width, channels), each channel diffused on its own).
    image : array_like
        The image, 2-D or 3-D.

    Returns
    -------
    ndarray of ``quantizer.code_dtype``, shape ``quantizer.code_shape(image.shape)``

    Examples
    --------
    >>> import numpy as np
    >>> import vqimage
    >>> ramp = np.tile(np.linspace(0, 255, 64).astype(np.uint8), (8, 1))
    >>> q = vqimage.Quantizer([0, 128, 256], [0, 255], dtype=np.uint8)
    >>> codes = dither(q, ramp)
    >>> float(q.decode(codes).mean()) - float(ramp.mean()) < 2   # the mean level survives
    True
    """
    from . import _vq_kernels as K

    kind = getattr(quantizer, "kind", None)
    if kind == "palette":
        from .palette import _check_image

        arr = _check_image(image, channels=quantizer.channels)
        if arr.ndim != 3:
            raise ValueError(f"dithering needs a (height, width, channels) image; got {arr.shape}")
        if arr.dtype != quantizer.dtype:
            raise ValueError(f"image is {arr.dtype} but the palette is {quantizer.dtype}")
        indptr, cidx, box, width, ncell = _palette_grid(quantizer)
        codes = np.empty(arr.shape[:2], dtype=quantizer.code_dtype)
        vmax = float((1 << (8 * quantizer.dtype.itemsize)) - 1)
        K.fs_dither_boxes(
            arr.astype(np.float64), quantizer._book4(), indptr, cidx, box, width, ncell, vmax,
            codes,
        )
        return codes
    if kind == "scalar":
        from ._validation import check_data

        arr = check_data(image, "image")
        if arr.ndim not in (2, 3):
            raise ValueError(f"dithering needs a 2-D or 3-D image; got shape {arr.shape}")
        img3 = arr.reshape(arr.shape[0], arr.shape[1], -1).astype(np.float64)
        levels = quantizer.decode(np.arange(quantizer.n_levels)).astype(np.float64)
        if arr.dtype.kind in "ui":
            info = np.iinfo(arr.dtype)
            vmin, vmax = float(info.min), float(info.max)
        else:
            vmin = float(min(arr.min(), levels.min()))
            vmax = float(max(arr.max(), levels.max()))
        codes = np.empty(img3.shape, dtype=quantizer.code_dtype)
        inner = np.ascontiguousarray(quantizer.edges[1:-1], dtype=np.float64)
        K.fs_dither_scalar(img3, inner, levels, vmin, vmax, codes)
        return codes.reshape(arr.shape)
    raise ValueError(
        f"Floyd–Steinberg dithering supports palette and scalar quantizers, not {kind!r}"
    )
