"""Fitting strategies: from a weighted histogram to bin edges.

Every strategy takes the sorted distinct values ``x`` (float64), their positive weights ``w`` and
the requested number of levels, and returns ``n + 1`` non-decreasing edges (``n`` may be smaller
than requested). Bin ``i`` holds the values ``edges[i] <= v < edges[i + 1]`` (the last bin is
closed), which is scikit-learn's ``np.searchsorted(edges[1:-1], v, side="right")``.

- ``uniform``: equal-width bins on ``[min, max]`` (scikit-learn's ``strategy="uniform"``).
- ``quantile``: equal-count bins, numpy's ``averaged_inverted_cdf`` percentiles, zero-width bins
  removed (scikit-learn's ``strategy="quantile"`` with ``subsample=None``).
- ``kmeans``: 1-D Lloyd started from the uniform bins' midpoints with scikit-learn's stopping rule
  (scikit-learn's ``strategy="kmeans"`` with ``subsample=None``).
- ``optimal``: the globally minimum squared-error partition into contiguous bins (exact 1-D
  k-means, the criterion of Ckmeans.1d.dp, Fisher–Jenks and multi-Otsu) by dynamic programming.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["STRATEGIES", "Strategy", "centroids", "kmeans", "optimal", "quantile", "uniform"]

# scikit-learn's threshold for dropping zero-width quantile and kmeans bins.
_MIN_WIDTH = 1e-8


def uniform(
    x: np.ndarray, w: np.ndarray, n_levels: int, *, dtype: np.dtype | None = None
) -> np.ndarray:
    """Equal-width edges on ``[x.min(), x.max()]``; empty bins are kept.

    For float32 data (``dtype``) the edges are computed in float32, as scikit-learn does.

    Examples
    --------
    >>> import numpy as np
    >>> uniform(np.array([0.0, 10.0]), np.ones(2), 4).tolist()
    [0.0, 2.5, 5.0, 7.5, 10.0]
    """
    if x[0] == x[-1]:
        return np.array([x[0], x[0]])
    if dtype is not None and np.dtype(dtype) == np.float32:
        lo, hi = np.float32(x[0]), np.float32(x[-1])
        return np.linspace(lo, hi, n_levels + 1).astype(np.float64)
    return np.linspace(x[0], x[-1], n_levels + 1)


def quantile(
    x: np.ndarray, w: np.ndarray, n_levels: int, *, dtype: np.dtype | None = None
) -> np.ndarray:
    """Equal-count edges: ``np.percentile(data, linspace(0, 100, n + 1),
    method="averaged_inverted_cdf")`` evaluated on the histogram, zero-width bins removed.

    With integer weights (pixel counts) the result equals numpy's on the expanded data bit for
    bit, because the same virtual indices and interpolation are computed; fractional weights
    use the weighted inverted CDF, averaging where a quantile falls exactly between two values.

    Examples
    --------
    >>> import numpy as np
    >>> data = np.array([1, 2, 2, 3, 7, 9, 9, 9], dtype=float)
    >>> x, c = np.unique(data, return_counts=True)
    >>> quantile(x, c.astype(float), 4).tolist()
    [1.0, 2.0, 5.0, 9.0]
    """
    if x[0] == x[-1]:
        return np.array([x[0], x[0]])
    q = np.true_divide(np.linspace(0, 100, n_levels + 1), 100)
    total = w.sum()
    integral = bool(np.all(w == np.round(w)))
    if integral:
        n = round(total)
        virtual = n * q - 1
        prev_idx = np.floor(virtual)
        next_idx = prev_idx + 1
        above = virtual >= n - 1
        prev_idx[above] = -1
        next_idx[above] = -1
        below = virtual < 0
        prev_idx[below] = 0
        next_idx[below] = 0
        prev_i = prev_idx.astype(np.intp)
        next_i = next_idx.astype(np.intp)
        gamma = np.where((virtual - prev_idx) == 0, 0.5, 1.0)
        cum = np.cumsum(w).astype(np.int64)
        # Rank r (0-based; -1 is the last) of the expanded sorted data -> its value.
        a = x[np.searchsorted(cum, np.where(prev_i < 0, n + prev_i, prev_i), side="right")]
        b = x[np.searchsorted(cum, np.where(next_i < 0, n + next_i, next_i), side="right")]
    else:
        cum = np.cumsum(w)
        target = q * total
        lo_i = np.minimum(np.searchsorted(cum, target, side="left"), x.size - 1)
        a = x[lo_i]
        exact = np.isclose(cum[lo_i], target, rtol=1e-12, atol=0) & (lo_i < x.size - 1)
        b = np.where(exact, x[np.minimum(lo_i + 1, x.size - 1)], a)
        gamma = np.where(exact, 0.5, 1.0)
    if dtype is not None and np.dtype(dtype) == np.float32:
        # numpy subtracts the two neighbours in the data's own precision.
        diff = (b.astype(np.float32) - a.astype(np.float32)).astype(np.float64)
    else:
        diff = b - a
    edges = a + diff * gamma
    hi = gamma >= 0.5
    edges[hi] = (b - diff * (1 - gamma))[hi]
    edges[0], edges[-1] = x[0], x[-1]
    return _drop_narrow(edges.astype(np.float64))


def kmeans(
    x: np.ndarray,
    w: np.ndarray,
    n_levels: int,
    *,
    tol: float = 1e-4,
    max_iter: int = 300,
    variance_weights: np.ndarray | None = None,
) -> np.ndarray:
    """Lloyd's algorithm from the uniform bins' midpoints, as scikit-learn's ``KMeans`` runs it.

    The stopping rule is scikit-learn's: stop when no label changes or when the squared centre
    shift summed over clusters is at most ``tol`` times the data's variance. Edges are the
    midpoints of the sorted centres, framed by the data's range; zero-width bins are removed.

    ``variance_weights`` are the per-value counts used for the tolerance (scikit-learn uses the
    unweighted variance even when fitting with sample weights); they default to ``w``.

    Each iteration is O(m) on the ``m`` distinct values (a ``searchsorted`` against the midpoints
    between sorted centres and two weighted ``bincount``).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0.0, 1.0, 2.0, 10.0, 11.0, 12.0])
    >>> kmeans(x, np.ones(6), 2).tolist()
    [0.0, 6.0, 12.0]
    """
    if x[0] == x[-1]:
        return np.array([x[0], x[0]])
    vw = w if variance_weights is None else variance_weights
    mean = np.dot(vw, x) / vw.sum()
    tol_abs = float(np.dot(vw, (x - mean) ** 2) / vw.sum()) * tol
    ue = np.linspace(x[0], x[-1], n_levels + 1)
    centers = (ue[1:] + ue[:-1]) * 0.5
    labels_old = None
    for _ in range(max_iter):
        labels = _assign(x, centers)
        new = _update(x, w, labels, centers)
        shift = float(((new - centers) ** 2).sum())
        centers = new
        if labels_old is not None and np.array_equal(labels, labels_old):
            break
        if shift <= tol_abs:
            break
        labels_old = labels
    centers = np.sort(centers)
    edges = np.r_[x[0], (centers[1:] + centers[:-1]) * 0.5, x[-1]]
    return _drop_narrow(edges)


def _assign(x: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Nearest centre of every value, ties to the lower index (scikit-learn's E-step)."""
    order = np.argsort(centers, kind="stable")
    sc = centers[order]
    mids = (sc[1:] + sc[:-1]) * 0.5
    return order[np.searchsorted(mids, x, side="left")]


def _update(x: np.ndarray, w: np.ndarray, labels: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Weighted means (scikit-learn's M-step), relocating empty clusters to the farthest values."""
    k = centers.size
    wsum = np.bincount(labels, weights=w, minlength=k)
    xsum = np.bincount(labels, weights=w * x, minlength=k)
    empty = np.flatnonzero(wsum == 0)
    if empty.size:
        dist = (x - centers[labels]) ** 2
        # scikit-learn moves one farthest *sample* per empty cluster; on a histogram a value
        # with count c supplies up to c samples, farthest first.
        order = np.argsort(-dist, kind="stable")
        taken = 0
        for j in order:
            while taken < empty.size and wsum[labels[j]] > 0:
                unit = min(1.0, w[j])
                new_id, old_id = empty[taken], labels[j]
                xsum[old_id] -= x[j] * unit
                wsum[old_id] -= unit
                xsum[new_id] = x[j] * unit
                wsum[new_id] = unit
                taken += 1
                if unit >= w[j]:
                    break
            if taken == empty.size:
                break
    out = centers.copy()
    ok = wsum > 0
    out[ok] = xsum[ok] / wsum[ok]
    return out


def optimal(x: np.ndarray, w: np.ndarray, n_levels: int) -> np.ndarray:
    """Globally minimum squared-error edges (exact 1-D k-means on the weighted values).

    Decision thresholds are the midpoints between adjacent cluster means, kept inside the gap
    between the clusters so that every training value is encoded into its optimal cluster.

    Notes
    -----
    Dynamic programming over the ``m`` distinct values with O(1) cluster costs from prefix sums.
    Small problems (``k * m**2 <= 2e7``, e.g. 8-bit images) use a vectorized O(k m^2) table in
    numpy, without importing numba. Larger ones use a compiled (numba, loaded on first use)
    Lagrangian relaxation: a search on a per-cluster penalty, each step one O(m) pass of a
    least-weight-subsequence recurrence, with ties between cluster counts resolved exactly by
    splicing two optimal solutions; O(m) memory and, in practice, a few passes whatever ``k``
    (see :func:`vqimage.core._optimal_kernel.optimal_fast`). Both rely on the squared-error cost
    being Monge, so optimal split points are monotone.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0.0, 1.0, 5.0, 6.0, 20.0])
    >>> optimal(x, np.ones(5), 3).tolist()
    [0.0, 3.0, 12.75, 20.0]
    """
    m = x.size
    k = min(n_levels, m)
    if k <= 1:
        return np.array([x[0], x[-1]])
    # Enough levels for every value: each value is its own cluster (lossless), with no DP whose
    # sums could merge values closer together than float64 resolves at the data's scale.
    starts = np.arange(m) if k == m else optimal_partition(x, w, k)
    return _edges_from_partition(x, w, starts)


def optimal_partition(x: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """Start index of each of the ``k`` clusters of the optimal partition of sorted ``x``."""
    m = x.size
    if k * m * m > 20_000_000:
        # Compiled Lagrangian search, O(m) per penalty; numba is imported only here.
        from vqimage.core._optimal_kernel import optimal_fast

        return optimal_fast(x, w, k)
    # Centring keeps the prefix sums of squares small, so cost differences keep their precision.
    shift = np.dot(w, x) / w.sum()
    xc = x - shift
    p1 = np.r_[0.0, np.cumsum(w * xc)]
    p2 = np.r_[0.0, np.cumsum(w * xc * xc)]
    pw = np.r_[0.0, np.cumsum(w)]
    return _optimal_dense(p1, p2, pw, k)


_PENALTY: dict[int, np.ndarray] = {}


def _penalty(size: int) -> np.ndarray:
    """0 where a cluster of values j..i-1 exists (j < i), +inf elsewhere; cached per size."""
    if size not in _PENALTY:
        idx = np.arange(size)
        _PENALTY.clear()  # one size at a time is enough: fits repeat on same-size histograms
        _PENALTY[size] = np.where(idx[:, None] > idx[None, :], 0.0, np.inf)
    return _PENALTY[size]


def _optimal_dense(p1: np.ndarray, p2: np.ndarray, pw: np.ndarray, k: int) -> np.ndarray:
    m = p1.size - 1
    # cost[i, j]: one cluster of the values j..i-1 (rows are cluster ends, so the minimisation
    # over the start j runs along contiguous memory). Built in place: this table is most of
    # the fit's time on 8-bit images.
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.subtract.outer(p1, p1)
        np.multiply(s, s, out=s)
        np.divide(s, np.subtract.outer(pw, pw), out=s)
        cost = np.subtract.outer(p2, p2)
        np.subtract(cost, s, out=cost)
    # fmax turns the 0/0 of empty clusters into 0 before the penalty makes them +inf.
    np.fmax(cost, 0.0, out=cost)
    np.add(cost, _penalty(m + 1), out=cost)
    best = cost[:, 0].copy()
    best[0] = 0.0
    idx = np.arange(m + 1)
    args = np.empty((k, m + 1), dtype=np.intp)
    total = s  # reuse the buffer
    for layer in range(1, k - 1):
        np.add(cost, best, out=total)
        args[layer] = np.argmin(total, axis=1)
        best = total[idx, args[layer]]
    # The last layer is only needed at i = m.
    args[k - 1, m] = np.argmin(cost[m] + best)
    starts = np.empty(k, dtype=np.intp)
    i = m
    for layer in range(k - 1, 0, -1):
        i = int(args[layer, i])
        starts[layer] = i
    starts[0] = 0
    return starts


def _edges_from_partition(x: np.ndarray, w: np.ndarray, starts: np.ndarray) -> np.ndarray:
    sums = np.add.reduceat(w * x, starts)
    weights = np.add.reduceat(w, starts)
    means = sums / weights
    mids = (means[1:] + means[:-1]) * 0.5
    last_of_prev = x[starts[1:] - 1]
    first_of_next = x[starts[1:]]
    inner = np.minimum(np.maximum(mids, np.nextafter(last_of_prev, np.inf)), first_of_next)
    return np.r_[x[0], inner, x[-1]]


def centroids(x: np.ndarray, w: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Weighted mean of the values in each bin (the bin's midpoint where the bin is empty).

    Examples
    --------
    >>> import numpy as np
    >>> centroids(np.array([1.0, 2.0, 9.0]), np.array([1.0, 3.0, 1.0]),
    ...           np.array([0.0, 5.0, 10.0])).tolist()
    [1.75, 9.0]
    """
    n = edges.size - 1
    bins = np.searchsorted(edges[1:-1], x, side="right")
    wsum = np.bincount(bins, weights=w, minlength=n)
    xsum = np.bincount(bins, weights=w * x, minlength=n)
    out = (edges[1:] + edges[:-1]) * 0.5
    ok = wsum > 0
    out[ok] = xsum[ok] / wsum[ok]
    # Rounding can push a mean a hair outside its bin; keep levels inside their bins.
    return np.clip(out, edges[:-1], edges[1:])


def _drop_narrow(edges: np.ndarray) -> np.ndarray:
    mask = np.ediff1d(edges, to_begin=np.inf) > _MIN_WIDTH
    kept = edges[mask]
    # A range narrower than the threshold keeps one bin (scikit-learn would be left with none).
    return kept if kept.size >= 2 else np.array([edges[0], edges[-1]])


@dataclass(frozen=True)
class Strategy:
    """One way of fitting scalar bins: ``strategy(x, w, n_levels, dtype=None) -> edges``.

    Attributes
    ----------
    name : str
        What ``strategy=`` says.
    function : callable
        ``(x, w, n_levels, *, dtype=None) -> edges`` on sorted distinct values and weights.
    summary : str
        One line for help texts.
    matches : str
        The peer whose result it reproduces.
    """

    name: str
    function: Callable[..., np.ndarray]
    summary: str
    matches: str

    def __call__(self, x: np.ndarray, w: np.ndarray, n_levels: int, **kw: Any) -> np.ndarray:
        return self.function(x, w, n_levels, **kw)


# The registry: fit, the CLI (-s), the figures, the scikit-learn drop-in and the dask adapter
# read it. A new strategy is one function above plus one line here.
STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy("uniform", uniform, "equal-width bins on [min, max]",
                 "scikit-learn KBinsDiscretizer(strategy='uniform'), bit for bit"),
        Strategy("quantile", quantile, "equal-count bins (averaged_inverted_cdf)",
                 "scikit-learn strategy='quantile' with subsample=None, bit for bit"),
        Strategy("kmeans", kmeans, "1-D Lloyd from the uniform bins' midpoints",
                 "scikit-learn strategy='kmeans' with subsample=None"),
        Strategy("optimal", optimal, "globally minimum squared error (exact 1-D k-means)",
                 "kmeans1d, Ckmeans.1d.dp, Fisher-Jenks, multi-Otsu criteria"),
    )
}
