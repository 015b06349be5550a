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

from vqimage._shared.validation import check_data
from vqimage.core.protocol import QuantizerProtocol

__all__ = ["dither"]


def dither(quantizer: QuantizerProtocol, image: Any) -> np.ndarray:
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
    kind = getattr(quantizer, "kind", None)
    if kind == "palette":
        # The palette owns its search structures; it diffuses with its own kernel.
        return quantizer.encode(image, dither=True)  # type: ignore[no-any-return]
    if kind == "scalar":
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
        from vqimage.vq._dither_kernel import fs_dither_scalar

        fs_dither_scalar(img3, inner, levels, vmin, vmax, codes)
        return codes.reshape(arr.shape)
    raise ValueError(
        f"Floyd–Steinberg dithering supports palette and scalar quantizers, not {kind!r}"
    )
