"""Compiled (numba) initialisation of vector codebooks: recursive splitting of the weighted
points, by the variance-minimising cut or the median cut along the principal axis.

Used by :mod:`vqimage.vq.palette` and :mod:`vqimage.vq.blocks`; imported on first use, cached on
disk after its first compilation.
"""

from __future__ import annotations

import numpy as np
from numba import njit


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
