"""Compiled kernels (numba) of the vector quantizers: splitting, nearest-codeword search, Lloyd.

Imported lazily by :mod:`vqimage.palette`, :mod:`vqimage.blocks` and :mod:`vqimage.dither`
(never at ``import vqimage`` time); compiled code is cached on disk after its first use.

Two nearest-codeword searches are used:

* *box candidates* for low-dimensional data on a grid (colours): every grid cell gets the list of
  codewords that can be nearest to some point of the cell (codeword ``j`` qualifies when its
  distance to the box is at most the smallest farthest-corner distance), sorted by that box
  distance, so a point scans a handful of codewords and stops early. Exact.
* *projected search* for higher dimensions (pixel blocks): codewords sorted by their projection
  on the principal axis; scanning outwards from the point's projection stops once the gap alone
  exceeds the second-best distance. Exact, and used inside Hamerly's bounded Lloyd iterations.

Ties are broken towards the lowest codeword index in both, so every search returns the same
codes as a brute-force argmin.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# ---------------------------------------------------------------------------------------------
# Initialisation by recursive splitting (variance-minimising cut or median cut)
# ---------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _seg_stats(X, w, perm, s0, e0, S):  # pragma: no cover - compiled
    D = X.shape[1]
    W = 0.0
    Q = 0.0
    for c in range(D):
        S[c] = 0.0
    for t in range(s0, e0):
        i = perm[t]
        wi = w[i]
        W += wi
        for c in range(D):
            v = X[i, c]
            S[c] += wi * v
            Q += wi * v * v
    ss = 0.0
    for c in range(D):
        ss += S[c] * S[c]
    sse = Q - ss / W if W > 0 else 0.0
    return W, Q, (sse if sse > 0.0 else 0.0)


@njit(cache=True, nogil=True)
def _principal(X, w, perm, s0, e0, mu, v, tmp):  # pragma: no cover - compiled
    """Principal axis of the weighted points ``perm[s0:e0]`` into ``v``, by power iteration.

    Starts from the per-coordinate spreads. Up to 16 dimensions: 64 steps on the covariance
    matrix (one pass over the points); above: 16 steps of ``v <- sum w (x - mu) ((x - mu) . v)``,
    O(n D) each, plenty for choosing a cutting direction.
    """
    D = X.shape[1]
    for a in range(D):
        v[a] = 0.0
    for t in range(s0, e0):
        i = perm[t]
        for a in range(D):
            d = X[i, a] - mu[a]
            v[a] += w[i] * d * d
    for a in range(D):
        v[a] = np.sqrt(v[a])
    if D <= 16:
        # Small dimension: one pass for the covariance, then iterate on the D x D matrix.
        cov = np.zeros((D, D))
        for t in range(s0, e0):
            i = perm[t]
            for a in range(D):
                da = w[i] * (X[i, a] - mu[a])
                for b in range(a, D):
                    cov[a, b] += da * (X[i, b] - mu[b])
        for a in range(D):
            for b in range(a):
                cov[a, b] = cov[b, a]
        for _ in range(64):
            nrm = 0.0
            for a in range(D):
                s = 0.0
                for b in range(D):
                    s += cov[a, b] * v[b]
                tmp[a] = s
                nrm += s * s
            if nrm <= 0.0:
                break
            nrm = np.sqrt(nrm)
            for a in range(D):
                v[a] = tmp[a] / nrm
        return
    for _ in range(16):
        for a in range(D):
            tmp[a] = 0.0
        for t in range(s0, e0):
            i = perm[t]
            p = 0.0
            for a in range(D):
                p += (X[i, a] - mu[a]) * v[a]
            p *= w[i]
            for a in range(D):
                tmp[a] += p * (X[i, a] - mu[a])
        nrm = 0.0
        for a in range(D):
            nrm += tmp[a] * tmp[a]
        if nrm <= 0.0:
            break
        nrm = np.sqrt(nrm)
        for a in range(D):
            v[a] = tmp[a] / nrm


@njit(cache=True, nogil=True)
def split_tree(X, w, k, median):  # pragma: no cover - compiled
    """Split the weighted points into at most ``k`` clusters; return (centroids, labels).

    The cluster of largest squared error is split next. ``median=False``: along its principal
    axis at the cut that minimises the two halves' total squared error (Wu / Wan et al.);
    ``median=True``: along its widest coordinate at the weighted median (Heckbert's median cut).
    Cuts are searched on a 512-bin histogram of the projections (Wu's quantizer uses 32), which
    makes a split linear in the cluster's size.
    """
    n, D = X.shape
    nb = 512
    perm = np.arange(n)
    st = np.zeros(k, np.int64)
    en = np.zeros(k, np.int64)
    sse = np.zeros(k)
    S = np.zeros(D)
    st[0] = 0
    en[0] = n
    _, _, sse[0] = _seg_stats(X, w, perm, 0, n, S)
    proj = np.empty(n)
    bw = np.empty(nb)
    bs = np.empty((nb, D))
    bq = np.empty(nb)
    acc = np.zeros(D)
    mu = np.zeros(D)
    v = np.zeros(D)
    tmp = np.empty(n, np.int64)
    m = 1
    while m < k:
        c = 0
        for j in range(1, m):
            if sse[j] > sse[c]:
                c = j
        if sse[c] <= 1e-12:
            break
        s0 = st[c]
        e0 = en[c]
        W, Q, _ = _seg_stats(X, w, perm, s0, e0, S)
        for a in range(D):
            mu[a] = S[a] / W
            v[a] = 0.0
        if median:
            best = -1.0
            ax = 0
            for a in range(D):
                lo = np.inf
                hi = -np.inf
                for t in range(s0, e0):
                    x = X[perm[t], a]
                    lo = min(lo, x)
                    hi = max(hi, x)
                if hi - lo > best:
                    best = hi - lo
                    ax = a
            v[ax] = 1.0
        else:
            _principal(X, w, perm, s0, e0, mu, v, acc)
        pmin = np.inf
        pmax = -np.inf
        for t in range(s0, e0):
            i = perm[t]
            p = 0.0
            for a in range(D):
                p += X[i, a] * v[a]
            proj[t] = p
            pmin = min(pmin, p)
            pmax = max(pmax, p)
        if not pmax > pmin:
            sse[c] = 0.0
            continue
        scale = nb / (pmax - pmin)
        bw[:] = 0.0
        bs[:] = 0.0
        bq[:] = 0.0
        for t in range(s0, e0):
            i = perm[t]
            b = min(int((proj[t] - pmin) * scale), nb - 1)
            wi = w[i]
            bw[b] += wi
            for a in range(D):
                x = X[i, a]
                bs[b, a] += wi * x
                bq[b] += wi * x * x
        aw = 0.0
        aq = 0.0
        for a in range(D):
            acc[a] = 0.0
        bestcost = np.inf
        cut = -1
        half = 0.5 * W
        for b in range(nb - 1):
            aw += bw[b]
            aq += bq[b]
            for a in range(D):
                acc[a] += bs[b, a]
            if bw[b] == 0.0 or aw <= 0.0 or aw >= W:
                continue
            if median:
                cost = abs(aw - half)
            else:
                ll = 0.0
                rr = 0.0
                for a in range(D):
                    ll += acc[a] * acc[a]
                    r = S[a] - acc[a]
                    rr += r * r
                cost = (aq - ll / aw) + ((Q - aq) - rr / (W - aw))
            if cost < bestcost:
                bestcost = cost
                cut = b + 1
        if cut < 0:
            sse[c] = 0.0
            continue
        # Stable partition of the cluster's points: bins below the cut first.
        nl = 0
        nr = 0
        for t in range(s0, e0):
            if min(int((proj[t] - pmin) * scale), nb - 1) < cut:
                perm[s0 + nl] = perm[t]
                nl += 1
            else:
                tmp[nr] = perm[t]
                nr += 1
        for t in range(nr):
            perm[s0 + nl + t] = tmp[t]
        st[m] = s0 + nl
        en[m] = e0
        en[c] = s0 + nl
        _, _, sse[c] = _seg_stats(X, w, perm, st[c], en[c], S)
        _, _, sse[m] = _seg_stats(X, w, perm, st[m], en[m], S)
        m += 1
    C = np.empty((m, D))
    labels = np.empty(n, np.int64)
    for j in range(m):
        W, _, _ = _seg_stats(X, w, perm, st[j], en[j], S)
        for a in range(D):
            C[j, a] = S[a] / W
        for t in range(st[j], en[j]):
            labels[perm[t]] = j
    return C, labels


# ---------------------------------------------------------------------------------------------
# Box candidates (colours: always 4 columns, RGB padded with a zero column, so that the distance
# loops have a constant trip count and compile to straight-line code)
# ---------------------------------------------------------------------------------------------


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
