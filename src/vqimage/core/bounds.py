"""Error-bounded scalar quantization: the fewest levels meeting a maximum absolute error.

Scientific array codecs (ZFP, SZ3, SPERR, numcodecs ``Quantize``) promise a bound on the error
of every value rather than an average one. :func:`fit_bound` gives vqimage that contract: from
the sorted distinct values of the data (a :class:`~vqimage.Histogram`) it builds the
quantizer with the **fewest** levels such that every value ``x`` decodes to a level with
``abs(x - level) <= max_abs_error``, checked exactly as written, in float64, on the values the
decoder returns (float32 data decodes to float32 levels, integers to integer levels).

The algorithm is the classic greedy cover of points by intervals: open a bin at the smallest
value not yet covered, give it the largest level that still serves that value, and let it take
every value that level serves. Which values a level serves depends only on the bin's minimum and
maximum, and a subset of a bin that fits is a bin that fits, so the greedy bins are never more
than those of any other partition (the usual "greedy stays ahead" exchange argument). That holds
for the floating-point check itself, not only for real arithmetic, because every threshold is
computed by searching the representable numbers (``np.nextafter``) for the last one that passes.

This module depends on numpy only (and vqimage's validation helpers), so it can move with the
rest of the package.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, NamedTuple

import numpy as np

from vqimage._shared.dtypes import MAX_LEVELS

__all__ = ["BoundFit", "check_bound", "fit_bound", "max_abs_error", "resolve_bound"]

# Bins opened one searchsorted at a time (each some 0.3 ms of numpy calls) before the sweep
# switches to one vectorised pass over the values still uncovered (some 0.1 us per value): one
# bin per this many distinct values is where the two cost about the same.
_VALUES_PER_SCALAR_BIN = 4096
# Integers beyond this magnitude are not exact in float64, where the histogram holds them.
_EXACT_INT = float(2**53)


class BoundFit(NamedTuple):
    """What :func:`fit_bound` returns: a partition, its levels and the error they reach.

    Attributes
    ----------
    edges : ndarray of float64, shape (k + 1,)
        Bin edges in vqimage's convention (bin ``i`` is ``edges[i] <= v < edges[i + 1]``).
    codebook : ndarray of float64, shape (k,)
        The levels, each exactly representable in the data's dtype.
    max_error : float
        The largest ``abs(x - level)`` over the fitted values, as the decoder returns them.
    bound : float
        The absolute bound that was met (``max_error <= bound``).
    """

    edges: np.ndarray
    codebook: np.ndarray
    max_error: float
    bound: float


def check_bound(value: Any, name: str) -> float:
    """Return ``value`` as a positive finite float or raise a one-line error naming ``name``.

    Examples
    --------
    >>> check_bound(0.5, "max_abs_error")
    0.5
    >>> check_bound(0, "max_abs_error")
    Traceback (most recent call last):
    ...
    ValueError: max_abs_error must be a positive finite number, got 0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v


def resolve_bound(
    max_abs_error: Any, max_rel_error: Any, lo: float, hi: float
) -> tuple[float, str]:
    """The absolute bound, and how to name it in messages, from exactly one of the two forms.

    ``max_rel_error`` is a fraction of the data range ``hi - lo``; constant data has range 0,
    so any relative bound means "lossless" there (one level).

    Examples
    --------
    >>> resolve_bound(None, 0.01, 0.0, 50.0)
    (0.5, 'max_rel_error=0.01 (0.5 on a range of 50)')
    """
    if (max_abs_error is None) == (max_rel_error is None):
        raise ValueError("give one of max_abs_error and max_rel_error, not both")
    if max_abs_error is not None:
        e = check_bound(max_abs_error, "max_abs_error")
        return e, f"max_abs_error={e:g}"
    r = check_bound(max_rel_error, "max_rel_error")
    span = float(hi) - float(lo)
    e = r * span
    if not math.isfinite(e):
        raise ValueError(f"max_rel_error={r:g} of the range {span:g} is not a finite bound")
    return e, f"max_rel_error={r:g} ({e:.6g} on a range of {span:.6g})"


# -- exact thresholds -------------------------------------------------------------------------


def _round_down(v: np.ndarray, dt: np.dtype) -> np.ndarray:
    """The largest numbers of dtype ``dt`` that are <= ``v`` (float64 in, ``dt`` out)."""
    f = v.astype(dt)
    over = f > v
    f[over] = np.nextafter(f[over], dt.type(-np.inf))
    return f


def _round_up(v: np.ndarray, dt: np.dtype) -> np.ndarray:
    f = v.astype(dt)
    under = f < v
    f[under] = np.nextafter(f[under], dt.type(np.inf))
    return f


def _to_key(f: np.ndarray) -> np.ndarray:
    """Floats to int64 keys in the same order, one apart for adjacent numbers of the dtype."""
    n = f.dtype.itemsize
    u = f.view(np.dtype(f"u{n}")).astype(np.uint64)
    sign = (u >> np.uint64(8 * n - 1)).astype(bool)
    mag = (u & np.uint64((1 << (8 * n - 1)) - 1)).astype(np.int64)
    return np.where(sign, -mag, mag)  # -0.0 and +0.0 share the key 0


def _from_key(k: np.ndarray, dt: np.dtype) -> np.ndarray:
    n = dt.itemsize
    sign = np.where(k < 0, np.uint64(1 << (8 * n - 1)), np.uint64(0))
    u = np.abs(k).astype(np.uint64) | sign
    return u.astype(np.dtype(f"u{n}")).view(dt)


def _largest(start: np.ndarray, ok: Any, dt: np.dtype) -> np.ndarray:
    """The largest number of dtype ``dt`` with ``ok(number, index)`` true, from ``start``.

    ``ok(t, idx)`` tests candidates ``t`` for the problems ``idx`` (indices into ``start``) and
    must be monotone in ``t`` (true up to a threshold, false above it). The search runs on the
    numbers' integer keys: it gallops from ``start`` (1, 2, 4, ... numbers away) until ``ok``
    changes, then bisects, so it costs O(log distance) steps, each on the unsettled problems
    only. Rounding can put the threshold many numbers away from a float estimate (a level near
    0 is much finer than the error of ``level - lo`` when ``lo`` is large), which is why single
    steps are not enough.
    """
    top = int(_to_key(np.array([np.finfo(dt).max], dtype=dt))[0])

    def test(k: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return np.asarray(ok(_from_key(k, dt), idx), dtype=bool)

    key = np.clip(_to_key(start.astype(dt)), -top, top)
    every = np.arange(key.size)
    up = test(key, every)  # start passes: search upwards for the first failure, else downwards
    lo = np.where(up, key, -top)
    hi = np.where(up, top + 1, key)  # top + 1 stands for "past the largest finite number"
    act = every
    step = 1
    while act.size:
        k, u = key[act], up[act]
        # Strides stop at the ends of the finite range (the wrapped sums are never selected).
        cand = np.where(
            u,
            np.where(k < top - step, k + step, top),
            np.where(k > step - top, k - step, -top),
        )
        res = test(cand, act)
        lo[act[res]] = cand[res]
        hi[act[~res]] = cand[~res]
        done = np.where(u, ~res | (cand >= top), res | (cand <= -top))
        act = act[~done]
        step = min(2 * step, 1 << 62)
    # Bisect where the gallop left a gap: lo passes, hi fails.
    act = every[(hi - lo) > 1]
    while act.size:
        mid = lo[act] + (hi[act] - lo[act]) // 2
        res = test(mid, act)
        lo[act[res]] = mid[res]
        hi[act[~res]] = mid[~res]
        act = act[(hi[act] - lo[act]) > 1]
    return _from_key(lo, dt)


def _smallest(start: np.ndarray, ok: Any, dt: np.dtype) -> np.ndarray:
    """Mirror of :func:`_largest`: the smallest number with ``ok(number, index)`` true."""
    return -_largest(-start, lambda t, i: ok(-t, i), dt)


def _top_level(lo: np.ndarray, e: float, dt: np.dtype) -> np.ndarray:
    """The largest level (in ``dt``) that serves ``lo``: ``fl(level - lo) <= e``, as float64."""
    if dt.kind in "ui":
        return lo + float(math.floor(e))
    lo64 = lo.astype(np.float64)
    t = _largest(_round_down(lo64 + e, dt), lambda t, i: t.astype(np.float64) - lo64[i] <= e, dt)
    return t.astype(np.float64)


def _reach(lo: np.ndarray, e: float, dt: np.dtype) -> np.ndarray:
    """For bins opened at ``lo``: the largest float64 the bin's top level still serves."""
    t = _top_level(lo, e, dt)
    if dt.kind in "ui":
        return t + float(math.floor(e))
    f8 = np.dtype(np.float64)
    return _largest(t + e, lambda u, i: u - t[i] <= e, f8)


def _starts(x: np.ndarray, e: float, dt: np.dtype, limit: int) -> tuple[np.ndarray, int]:
    """Start index of every greedy bin (at most ``limit`` of them) and the total bin count."""
    m = x.size
    starts: list[int] = []
    i = 0
    # Few bins: one searchsorted each, O(k log m).
    budget = max(16, m // _VALUES_PER_SCALAR_BIN)
    while i < m and len(starts) < budget:
        starts.append(i)
        i = int(np.searchsorted(x, _reach(x[i : i + 1], e, dt)[0], side="right"))
    if i < m:
        # Many bins: every remaining value's jump in one vectorised pass, O(m log m) like the
        # sort that made the histogram, then a walk along the jumps.
        base = i
        jump = np.searchsorted(x, _reach(x[base:], e, dt), side="right")
        count = len(starts)
        while i < m:
            if count < limit:
                starts.append(i)
            count += 1
            i = int(jump[i - base])
        return np.asarray(starts, dtype=np.intp), count
    return np.asarray(starts, dtype=np.intp), len(starts)


# -- levels -------------------------------------------------------------------------------------


def _levels(
    x: np.ndarray, w: np.ndarray, starts: np.ndarray, e: float, dt: np.dtype, reconstruction: str
) -> np.ndarray:
    """Levels in ``[smallest, largest]`` serving each whole bin, nearest to the wanted one."""
    ends = np.r_[starts[1:], x.size] - 1
    lo, hi = x[starts], x[ends]
    top = _top_level(lo, e, dt)
    if dt.kind in "ui":
        bottom = hi - float(math.floor(e))
    else:
        hi64 = hi.astype(np.float64)
        bottom = _smallest(
            _round_up(hi64 - e, dt), lambda s, i: hi64[i] - s.astype(np.float64) <= e, dt
        ).astype(np.float64)
    if reconstruction == "midpoint":
        # The bin's centre: the level with the smallest worst-case error.
        want = lo + (hi - lo) * 0.5
    else:
        # The weighted mean (least squares), summed relative to the bin's minimum so that large
        # offsets (1e12 + small deviations) keep their precision.
        sizes = np.diff(np.r_[starts, x.size])
        dev = x - np.repeat(lo, sizes)
        want = lo + np.add.reduceat(w * dev, starts) / np.add.reduceat(w, starts)
    want = np.clip(want, lo, hi)
    if dt.kind in "ui":
        want = np.rint(want)
    else:
        want = want.astype(dt).astype(np.float64)  # nearest number of the data's dtype
    # Every number of the dtype in [bottom, top] serves the whole bin (the check is monotone),
    # and both ends are numbers of the dtype: clipping keeps the level exact.
    return np.clip(want, bottom, top)


def _edges(x: np.ndarray, starts: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Edges between bins: midpoints of adjacent levels (nearest-level decisions for values
    not seen in fitting), kept in the gap between the bins so that fitted values stay put."""
    if starts.size == 1:
        return np.array([x[0], x[-1]])
    last_of_prev = x[starts[1:] - 1]
    first_of_next = x[starts[1:]]
    mids = levels[:-1] + (levels[1:] - levels[:-1]) * 0.5
    inner = np.minimum(np.maximum(mids, np.nextafter(last_of_prev, np.inf)), first_of_next)
    return np.r_[x[0], inner, x[-1]]


def max_abs_error(
    values: np.ndarray, edges: np.ndarray, codebook: np.ndarray, dtype: Any
) -> float:
    """Largest ``abs(x - decoded)`` in float64 when ``values`` are coded by the quantizer.

    Decoding follows :class:`vqimage.Quantizer`: levels are cast to ``dtype`` (rounded to the
    nearest integer and clipped to the dtype's range for integer dtypes).

    Examples
    --------
    >>> import numpy as np
    >>> max_abs_error(np.array([0.0, 1.0, 4.0]), np.array([0.0, 2.5, 4.0]),
    ...               np.array([0.5, 4.0]), np.float64)
    0.5
    """
    dt = np.dtype(dtype)
    v = np.asarray(values, dtype=np.float64)
    book = np.asarray(codebook, dtype=np.float64)
    if dt.kind in "ui":
        info = np.iinfo(dt)
        book = np.clip(np.rint(book), info.min, info.max).astype(dt)
    else:
        book = book.astype(dt)
    codes = np.searchsorted(np.asarray(edges, dtype=np.float64)[1:-1], v, side="right")
    return float(np.max(np.abs(v - book[codes].astype(np.float64))))


def fit_bound(
    values: np.ndarray,
    counts: np.ndarray,
    dtype: Any,
    bound: float,
    *,
    reconstruction: str = "centroid",
    name: str | None = None,
    max_levels: int = MAX_LEVELS,
) -> BoundFit:
    """The fewest levels such that every value is within ``bound`` of its level.

    Parameters
    ----------
    values : ndarray of float64
        Sorted distinct values (``Histogram.values``).
    counts : ndarray of float64
        Their positive weights (``Histogram.counts``); only the centroids use them.
    dtype : dtype
        The data's dtype: levels are numbers of this dtype, so that decoding is exact. For
        integer dtypes the bound is ``floor(bound)`` in effect, and any bound below 1 is
        lossless (each distinct value gets its own level).
    bound : float
        Maximum absolute error, ``>= 0`` (0 is lossless).
    reconstruction : {"centroid", "midpoint"}
        Level of each bin, among those that meet the bound: nearest to the bin's weighted mean
        (least squares; the default) or to the centre of its range (smallest worst case).
    name : str, optional
        How to name the bound in the error raised when it needs too many levels.
    max_levels : int
        Most levels allowed (65,536, what a quantizer holds).

    Returns
    -------
    BoundFit

    Raises
    ------
    ValueError
        When more than ``max_levels`` levels are needed (the message names the bound and the
        count), or for integer values beyond 2**53 in magnitude (not exact in float64).

    Notes
    -----
    ``m`` distinct values, ``k`` levels: the sweep opens each bin with one ``np.searchsorted``,
    O(k log m); past ``max(16, m / 4096)`` bins it computes every remaining value's jump in one
    vectorised pass, O(m log m) like the sort that produced the histogram, and walks the jumps
    in O(k). Each threshold is exact: a galloping search over the representable numbers. Levels
    and edges take O(m). The result is checked on every value (:func:`max_abs_error`) before it
    is returned.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0.0, 0.1, 0.25, 1.0, 1.05])
    >>> fit = fit_bound(x, np.ones(5), np.float64, 0.15)
    >>> np.round(fit.codebook, 4).tolist(), round(fit.max_error, 4)
    ([0.1167, 1.025], 0.1333)
    """
    x = np.asarray(values, dtype=np.float64)
    w = np.asarray(counts, dtype=np.float64)
    dt = np.dtype(dtype)
    e = float(bound)
    if not (math.isfinite(e) and e >= 0):
        raise ValueError(f"the error bound must be a non-negative finite number, got {bound!r}")
    if x.size == 0:
        raise ValueError("there are no values to fit")
    if dt.kind in "ui" and max(abs(x[0]), abs(x[-1])) > _EXACT_INT:
        raise ValueError("integer values beyond 2**53 in magnitude cannot be bounded exactly")
    starts, count = _starts(x, e, dt, max_levels)
    if count > max_levels:
        raise ValueError(
            f"{name or f'max_abs_error={e:g}'} needs {count:,} levels, more than the "
            f"{max_levels:,} a quantizer holds: loosen the bound"
        )
    levels = _levels(x, w, starts, e, dt, reconstruction)
    edges = _edges(x, starts, levels)
    err = max_abs_error(x, edges, levels, dt)
    if not err <= e:  # never expected: every threshold above was checked in float64
        raise RuntimeError(f"bound {e!r} missed: max error {err!r} (please report this)")
    return BoundFit(edges, levels, err, e)
