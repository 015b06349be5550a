"""Compiled (numba) Floyd–Steinberg error diffusion for scalar levels (:mod:`vqimage.vq.dither`).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def fs_dither_scalar(img, inner, levels, vmin, vmax, codes):  # pragma: no cover - compiled
    """Serpentine Floyd–Steinberg for a scalar quantizer, each of the D channels on its own.

    ``inner``: the quantizer's inner edges (bin ``searchsorted(inner, v, "right")``);
    ``levels``: the decoded value of each bin (as float).
    """
    H, W, D = img.shape
    cur = np.zeros((W + 2, D))
    nxt = np.zeros((W + 2, D))
    for y in range(H):
        for t in range(W + 2):
            for c in range(D):
                nxt[t, c] = 0.0
        fwd = (y % 2) == 0
        step = 1 if fwd else -1
        for s in range(W):
            xx = s if fwd else W - 1 - s
            for c in range(D):
                v = img[y, xx, c] + cur[xx + 1, c]
                v = min(max(v, vmin), vmax)
                j = np.searchsorted(inner, v, side="right")
                codes[y, xx, c] = j
                e = v - levels[j]
                cur[xx + 1 + step, c] += e * (7.0 / 16.0)
                nxt[xx + 1 - step, c] += e * (3.0 / 16.0)
                nxt[xx + 1, c] += e * (5.0 / 16.0)
                nxt[xx + 1 + step, c] += e * (1.0 / 16.0)
        cur, nxt = nxt, cur
