"""Compiled (numba) kernels of the palette quantizer: nearest colours through *box candidates*.

Every grid cell of the colour cube gets the list of codewords that can be nearest to some point
of the cell (codeword ``j`` qualifies when its distance to the box is at most the smallest
farthest-corner distance), sorted by that box distance, so a point scans a handful of codewords
and stops early. Exact, ties to the lowest index (the same codes as a brute-force argmin). Also
the grid-accelerated Lloyd iterations, Floyd–Steinberg diffusion over the same candidate lists,
and Morton decoding. Used by :mod:`vqimage.vq.palette` only.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def box_candidates(lo, hi, parent, C, slack):  # pragma: no cover - compiled
    """CSR lists (ascending index) of the codewords that can be nearest to a point of each box.

    ``lo``, ``hi``: (G, 4) box corners of a grid hierarchy, parents before children;
    ``parent[g]`` is the enclosing box's index or -1. A child's list is a subset of its
    parent's (its distances to codewords are larger, its threshold smaller), so only the
    parent's list is scanned: the cost is about the number of boxes times a few candidates.
    With ``slack`` > 0 the lists stay valid while no codeword moves further than ``slack``.
    """
    G = lo.shape[0]
    k = C.shape[0]
    indptr = np.zeros(G + 1, np.int64)
    cap = max(64, 8 * G + k)
    idx = np.empty(cap, np.int64)
    dmin = np.empty(k)
    sel = np.empty(k, np.int64)
    for g in range(G):
        pg = parent[g]
        if pg < 0:
            nsel = k
            for j in range(k):
                sel[j] = j
        else:
            nsel = indptr[pg + 1] - indptr[pg]
            for t in range(nsel):
                sel[t] = idx[indptr[pg] + t]
        thr = np.inf
        for t in range(nsel):
            j = sel[t]
            a2 = 0.0
            m2 = 0.0
            for c in range(4):
                x = C[j, c]
                a = lo[g, c] - x
                b = x - hi[g, c]
                e = max(max(a, b), 0.0)
                a2 += e * e
                m = max(abs(a), abs(b))
                m2 += m * m
            dmin[t] = a2
            thr = min(thr, m2)
        if slack > 0.0:
            thr = (np.sqrt(thr) + 2.0 * slack) ** 2
        p = indptr[g]
        if p + nsel > cap:
            while p + nsel > cap:
                cap *= 2
            idx2 = np.empty(cap, np.int64)
            idx2[:p] = idx[:p]
            idx = idx2
        for t in range(nsel):
            if dmin[t] <= thr:
                idx[p] = sel[t]
                p += 1
        indptr[g + 1] = p
    return indptr, idx[: indptr[G]].copy()

@njit(cache=True, nogil=True, inline="always")
def _cand_search(x, g, indptr, cidx, C):  # pragma: no cover - compiled
    # Branch-free scan: candidates are few and the comparisons unpredictable. Strict ``<`` over
    # ascending indices keeps the lowest index among ties.
    best = np.inf
    bj = -1
    for t in range(indptr[g], indptr[g + 1]):
        j = cidx[t]
        d = 0.0
        for c in range(4):
            q = x[c] - C[j, c]
            d += q * q
        better = d < best
        best = d if better else best
        bj = j if better else bj
    return bj, best

@njit(cache=True, nogil=True)
def assign_boxes(X, cell, indptr, cidx, C, labels, dist):  # pragma: no cover - compiled
    for i in range(X.shape[0]):
        bj, best = _cand_search(X[i], cell[i], indptr, cidx, C)
        labels[i] = bj
        dist[i] = best

@njit(cache=True, nogil=True)
def lloyd_boxes(X, w, cstart, lo, hi, parent, offset, C, max_iter, tol, slack):  # pragma: no cover
    """Weighted Lloyd iterations in place on ``C`` (k, 4); return (iterations, labels, sq. dist).

    The points are sorted by grid cell: cell ``g`` of the last level (box ``offset + g``) holds
    points ``cstart[g]:cstart[g + 1]``. Cluster sums are updated incrementally as points change
    cluster, and a cell whose candidate list is a single codeword is skipped once its points
    belong to it, so late iterations cost little more than the ambiguous cells. Candidate
    lists are built with ``slack`` and rebuilt once some centre has drifted further.

    ``labels`` are the last assignment, ``dist`` the squared distances to the final centres. A
    centre that loses all its points stays where it is (the caller relocates it). Stops when
    no label changes or no centre moves more than ``tol``.
    """
    n = X.shape[0]
    k = C.shape[0]
    G = cstart.size - 1
    labels = np.full(n, -1, np.int64)
    sums = np.zeros((k, 4))
    ws = np.zeros(k)
    cnt = np.zeros(k, np.int64)
    sole = np.full(G, -1, np.int64)
    drift = np.zeros(k)
    indptr, cidx = box_candidates(lo, hi, parent, C, slack)
    it = 0
    for _ in range(max_iter):
        it += 1
        if drift.max() > slack:
            indptr, cidx = box_candidates(lo, hi, parent, C, slack)
            drift[:] = 0.0
        changed = 0
        for g in range(G):
            a = indptr[offset + g]
            b = indptr[offset + g + 1]
            single = b - a == 1
            if single and sole[g] == cidx[a]:
                continue
            for i in range(cstart[g], cstart[g + 1]):
                if single:
                    bj = cidx[a]
                else:
                    bj, _ = _cand_search(X[i], offset + g, indptr, cidx, C)
                old = labels[i]
                if bj != old:
                    changed += 1
                    wi = w[i]
                    if old >= 0:
                        cnt[old] -= 1
                        ws[old] -= wi
                        for c in range(4):
                            sums[old, c] -= wi * X[i, c]
                    cnt[bj] += 1
                    ws[bj] += wi
                    for c in range(4):
                        sums[bj, c] += wi * X[i, c]
                    labels[i] = bj
            sole[g] = cidx[a] if single else -1
        shift = 0.0
        for j in range(k):
            if cnt[j] > 0:
                d = 0.0
                for c in range(4):
                    nc = sums[j, c] / ws[j]
                    q = nc - C[j, c]
                    d += q * q
                    C[j, c] = nc
                shift = max(shift, d)
                drift[j] += np.sqrt(d)
            else:
                ws[j] = 0.0
                for c in range(4):
                    sums[j, c] = 0.0
        if changed == 0 or shift <= tol * tol:
            break
    dist = np.empty(n)
    for i in range(n):
        j = labels[i]
        d = 0.0
        for c in range(4):
            q = X[i, c] - C[j, c]
            d += q * q
        dist[i] = d
    return it, labels, dist


# ---------------------------------------------------------------------------------------------
# Projected search and Hamerly's Lloyd (any dimension)
# ---------------------------------------------------------------------------------------------

@njit(cache=True, nogil=True)
def fs_dither_boxes(img, C, indptr, cidx, box, width, ncell, vmax, codes):  # pragma: no cover
    """Serpentine Floyd–Steinberg over an (H, W, D) image; nearest codeword by box candidates.

    The grid is dense: ``ncell`` cells of ``width`` per coordinate; ``box`` maps a cell's C-order
    index to its box in the candidate lists. Diffused values are clipped to ``[0, vmax]``.
    """
    H, W, D = img.shape
    cur = np.zeros((W + 2, D))
    nxt = np.zeros((W + 2, D))
    x = np.zeros(4)
    for y in range(H):
        for t in range(W + 2):
            for c in range(D):
                nxt[t, c] = 0.0
        fwd = (y % 2) == 0
        for s in range(W):
            xx = s if fwd else W - 1 - s
            g = 0
            for c in range(D):
                v = img[y, xx, c] + cur[xx + 1, c]
                v = min(max(v, 0.0), vmax)
                x[c] = v
                gi = int(v / width)
                if gi >= ncell:
                    gi = ncell - 1
                g = g * ncell + gi
            j, _ = _cand_search(x, box[g], indptr, cidx, C)
            codes[y, xx] = j
            step = 1 if fwd else -1
            for c in range(D):
                e = x[c] - C[j, c]
                cur[xx + 1 + step, c] += e * (7.0 / 16.0)
                nxt[xx + 1 - step, c] += e * (3.0 / 16.0)
                nxt[xx + 1, c] += e * (5.0 / 16.0)
                nxt[xx + 1 + step, c] += e * (1.0 / 16.0)
        cur, nxt = nxt, cur

@njit(cache=True, nogil=True)
def demorton(keys, C, nbits, out):  # pragma: no cover - compiled
    """De-interleave Morton keys (``C`` channels of ``nbits``) into ``out`` (n, C) int64."""
    for i in range(keys.size):
        k = np.uint64(keys[i])
        for c in range(C):
            out[i, c] = 0
        for b in range(nbits):
            for c in range(C):
                bit = (k >> np.uint64(C * b + C - 1 - c)) & np.uint64(1)
                out[i, c] |= np.int64(bit) << b
