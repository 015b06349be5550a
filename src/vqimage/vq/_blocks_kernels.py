"""Compiled (numba) kernels of the block quantizer: *projected search* and Hamerly's Lloyd.

Codewords are sorted by their projection on the principal axis; scanning outwards from a point's
projection stops once the gap alone exceeds the second-best distance. Exact, ties to the lowest
index, and used inside Hamerly's bounded Lloyd iterations. Used by :mod:`vqimage.vq.blocks` only.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _sort_proj(C, v, proj, order):  # pragma: no cover - compiled
    k, D = C.shape
    raw = np.empty(k)
    for j in range(k):
        s = 0.0
        for c in range(D):
            s += C[j, c] * v[c]
        raw[j] = s
    o = np.argsort(raw, kind="mergesort")
    for j in range(k):
        order[j] = o[j]
        proj[j] = raw[o[j]]

@njit(cache=True, nogil=True)
def _proj_search(X, i, C, proj, order, px, j0, d0):  # pragma: no cover - compiled
    """Nearest and second-nearest codeword of ``X[i]``; ``j0 >= 0`` is a known candidate."""
    k = proj.size
    hi = np.searchsorted(proj, px)
    lo = hi - 1
    b1 = np.inf
    b2 = np.inf
    bj = -1
    if j0 >= 0:
        b1 = d0
        bj = j0
    while lo >= 0 or hi < k:
        if hi < k and (lo < 0 or proj[hi] - px <= px - proj[lo]):
            g = proj[hi] - px
            j = order[hi]
            hi += 1
        else:
            g = px - proj[lo]
            j = order[lo]
            lo -= 1
        if g * g > b2:
            break
        if j == j0:
            continue
        d = 0.0
        for c in range(X.shape[1]):
            q = X[i, c] - C[j, c]
            d += q * q
        if d < b1 or (d == b1 and j < bj):
            b2 = b1
            b1 = d
            bj = j
        elif d < b2:
            b2 = d
    return bj, b1, b2

@njit(cache=True, nogil=True)
def assign_proj(X, C, v, labels, dist):  # pragma: no cover - compiled
    n, D = X.shape
    k = C.shape[0]
    proj = np.empty(k)
    order = np.empty(k, np.int64)
    _sort_proj(C, v, proj, order)
    for i in range(n):
        px = 0.0
        for c in range(D):
            px += X[i, c] * v[c]
        bj, b1, _ = _proj_search(X, i, C, proj, order, px, -1, 0.0)
        labels[i] = bj
        dist[i] = b1

@njit(cache=True, nogil=True)
def lloyd_hamerly(X, w, C, v, max_iter, tol):  # pragma: no cover - compiled
    """Weighted Lloyd with Hamerly's bounds, in place on ``C``; return (iterations, labels, dist).

    Same contract as :func:`lloyd_boxes`; ``v`` is the projection axis of the search.
    """
    n, D = X.shape
    k = C.shape[0]
    u = np.empty(n)
    lb = np.empty(n)
    px = np.empty(n)
    labels = np.empty(n, np.int64)
    dist = np.empty(n)
    for i in range(n):
        s = 0.0
        for c in range(D):
            s += X[i, c] * v[c]
        px[i] = s
    proj = np.empty(k)
    order = np.empty(k, np.int64)
    _sort_proj(C, v, proj, order)
    sums = np.zeros((k, D))
    ws = np.zeros(k)
    for i in range(n):
        bj, b1, b2 = _proj_search(X, i, C, proj, order, px[i], -1, 0.0)
        labels[i] = bj
        u[i] = np.sqrt(b1)
        lb[i] = np.sqrt(b2)
        ws[bj] += w[i]
        for c in range(D):
            sums[bj, c] += w[i] * X[i, c]
    p = np.empty(k)
    s = np.empty(k)
    it = 0
    for _ in range(max_iter):
        it += 1
        for j in range(k):
            if ws[j] > 0.0:
                d = 0.0
                for c in range(D):
                    nc = sums[j, c] / ws[j]
                    q = nc - C[j, c]
                    d += q * q
                    C[j, c] = nc
                p[j] = np.sqrt(d)
            else:
                p[j] = 0.0
        j1 = 0
        p1 = 0.0
        p2 = 0.0
        for j in range(k):
            if p[j] > p1:
                p2 = p1
                p1 = p[j]
                j1 = j
            elif p[j] > p2:
                p2 = p[j]
        if p1 <= tol:
            break
        _sort_proj(C, v, proj, order)
        for j in range(k):
            pj = 0.0
            for c in range(D):
                pj += C[j, c] * v[c]
            _, _, b2 = _proj_search(C, j, C, proj, order, pj, j, 0.0)
            s[j] = 0.5 * np.sqrt(b2)
        changed = 0
        for i in range(n):
            a = labels[i]
            u[i] += p[a]
            lb[i] -= p2 if a == j1 else p1
            m = max(s[a], lb[i])
            if u[i] <= m:
                continue
            d = 0.0
            for c in range(D):
                q = X[i, c] - C[a, c]
                d += q * q
            u[i] = np.sqrt(d)
            if u[i] <= m:
                continue
            bj, b1, b2 = _proj_search(X, i, C, proj, order, px[i], a, d)
            u[i] = np.sqrt(b1)
            lb[i] = np.sqrt(b2)
            if bj != a:
                changed += 1
                wi = w[i]
                ws[a] -= wi
                ws[bj] += wi
                for c in range(D):
                    sums[a, c] -= wi * X[i, c]
                    sums[bj, c] += wi * X[i, c]
                labels[i] = bj
        if changed == 0:
            break
    # Exact final distances to the (current) centres of the labels.
    for i in range(n):
        a = labels[i]
        d = 0.0
        for c in range(D):
            q = X[i, c] - C[a, c]
            d += q * q
        dist[i] = d
    return it, labels, dist


# ---------------------------------------------------------------------------------------------
# Floyd–Steinberg error diffusion
# ---------------------------------------------------------------------------------------------
