"""Compiled kernels (numba), imported only when a problem is too large for numpy.

Keeping numba out of ``import vqimage`` keeps library and CLI start-up fast; the compiled code
is cached on disk after its first use.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _cost(p1, p2, pw, j, i):  # pragma: no cover - compiled
    s = p1[i] - p1[j]
    c = (p2[i] - p2[j]) - s * s / (pw[i] - pw[j])
    return c if c > 0.0 else 0.0


@njit(cache=True, nogil=True)
def _optimal_dc(p1, p2, pw, k):  # pragma: no cover - compiled
    m = p1.size - 1
    prev = np.empty(m + 1)
    cur = np.empty(m + 1)
    prev[0] = 0.0
    for i in range(1, m + 1):
        prev[i] = _cost(p1, p2, pw, 0, i)
    args = np.zeros((k, m + 1), dtype=np.int32)
    stack = np.empty((4 * (64 + 2), 4), dtype=np.int64)
    for layer in range(1, k):
        for i in range(m + 1):
            cur[i] = np.inf
        # Layer `layer` (0-based) puts layer+1 clusters on values [0, i): i >= layer + 1 and the
        # last cluster starts at j in [layer, i - 1]. Later layers each need one value more, so
        # i <= m - (k - 1 - layer); the last layer is needed at i = m only.
        top = 0
        stack[0, 0] = layer + 1 if layer < k - 1 else m
        stack[0, 1] = m - (k - 1 - layer)
        stack[0, 2] = layer
        stack[0, 3] = m - 1
        top = 1
        while top > 0:
            top -= 1
            lo = stack[top, 0]
            hi = stack[top, 1]
            olo = stack[top, 2]
            ohi = stack[top, 3]
            if lo > hi:
                continue
            mid = (lo + hi) // 2
            best = np.inf
            bestj = olo
            jhi = ohi if ohi < mid - 1 else mid - 1
            for j in range(olo, jhi + 1):
                v = prev[j] + _cost(p1, p2, pw, j, mid)
                if v < best:
                    best = v
                    bestj = j
            cur[mid] = best
            args[layer, mid] = bestj
            # Push the larger half first so the stack stays logarithmic.
            stack[top, 0] = lo
            stack[top, 1] = mid - 1
            stack[top, 2] = olo
            stack[top, 3] = bestj
            top += 1
            stack[top, 0] = mid + 1
            stack[top, 1] = hi
            stack[top, 2] = bestj
            stack[top, 3] = ohi
            top += 1
        for i in range(m + 1):
            prev[i] = cur[i]
    starts = np.zeros(k, dtype=np.int64)
    i = m
    for layer in range(k - 1, 0, -1):
        i = args[layer, i]
        starts[layer] = i
    return starts


def optimal_dc(p1: np.ndarray, p2: np.ndarray, pw: np.ndarray, k: int) -> np.ndarray:
    """Start indices of the optimal ``k`` clusters given prefix sums (see strategies.optimal)."""
    return _optimal_dc(p1, p2, pw, k).astype(np.intp)

