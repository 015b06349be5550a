"""Value histograms: the sufficient statistic every scalar strategy is fitted from.

For integer data the histogram is exact and small (at most 65,536 bins for 16-bit data), which
makes fitting independent of the pixel count and lets chunked or distributed data be fitted by
summing histograms (:meth:`Histogram.merge`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vqimage._shared.validation import check_data, check_sample_weight

__all__ = ["Histogram", "histogram"]

# Integer data whose value range is at most this wide is counted with bincount (O(n)) rather
# than sorted (O(n log n)).
_DENSE_RANGE = 1 << 22
# Elements counted per bincount call for large 8/16-bit arrays.
_BLOCK = 1 << 20


@dataclass(frozen=True, eq=False)
class Histogram:
    """Distinct values of an array with their total weights.

    Attributes
    ----------
    values : ndarray of float64
        Sorted distinct values that carry positive weight.
    counts : ndarray of float64
        Total weight (pixel count when unweighted) of each value; all positive.
    dtype : numpy.dtype
        The dtype of the data the histogram was taken from.
    exact : ndarray or None
        The same distinct values in ``dtype`` itself, for 64-bit integer data beyond
        ``±2**53`` (where float64 rounds them: ``2**63 - 1`` becomes ``2**63``); ``None``
        otherwise. Fitting uses it to give single-value bins their exact value as level.
    distinct : int or None
        For 64-bit integer data whose distinct values float64 cannot all separate (neighbours
        beyond ``±2**53`` up to 2048 apart round to one float): how many distinct integers the
        data holds; ``values`` then holds fewer, merged, and ``exact`` is None. A fit with at
        least that many levels is refused (it could not be lossless); fewer levels are fitted
        on the merged values, which the bins would merge anyway.
    """

    values: np.ndarray
    counts: np.ndarray
    dtype: np.dtype
    exact: np.ndarray | None = None
    distinct: int | None = None

    @property
    def total(self) -> float:
        """Total weight (the number of values when unweighted)."""
        return float(self.counts.sum())

    def merge(self, *others: Histogram) -> Histogram:
        """Return the histogram of the concatenated data (counts add up).

        Examples
        --------
        >>> import numpy as np
        >>> a = histogram(np.array([1, 1, 2], dtype=np.uint8))
        >>> b = histogram(np.array([2, 5], dtype=np.uint8))
        >>> m = a.merge(b)
        >>> m.values.tolist(), m.counts.tolist()
        ([1.0, 2.0, 5.0], [2.0, 2.0, 1.0])
        """
        parts = (self, *others)
        dtype = np.result_type(*(p.dtype for p in parts))
        values = np.concatenate([p.values for p in parts])
        counts = np.concatenate([p.counts for p in parts])
        if any(p.exact is not None for p in parts) and dtype.kind in "ui":
            # Merge on the exact integers: float64 values of 64-bit data may be rounded.
            exact = np.concatenate([_exact_values(p).astype(dtype) for p in parts])
            uniq_i, inverse = np.unique(exact, return_inverse=True)
            merged = np.bincount(inverse, weights=counts, minlength=uniq_i.size)
            return _with_exact(uniq_i, merged.astype(np.float64), dtype)
        uniq, inverse = np.unique(values, return_inverse=True)
        return Histogram(uniq, np.bincount(inverse, weights=counts, minlength=uniq.size), dtype)


# Integers of magnitude at most 2**53 are exact in float64.
_FLOAT_EXACT = 1 << 53


def _exact_values(h: Histogram) -> np.ndarray:
    """The histogram's values in its own integer dtype, exactly."""
    if h.exact is not None:
        return h.exact
    # Without ``exact`` every value is within +-2**53, so the float64 values are exact.
    return h.values.astype(h.dtype)


def _with_exact(ints: np.ndarray, counts: np.ndarray, dtype: np.dtype) -> Histogram:
    """A histogram of sorted distinct 64-bit integers ``ints``.

    Every strategy works on float64 values; two distinct integers that round to one float64
    (above 2**53 they are up to 2048 apart) cannot get separate levels. They are merged, and
    the histogram remembers how many distinct integers there were (``distinct``), so that a
    fit that would have to keep them apart (as many levels as values: lossless) is refused
    rather than silently lossy.
    """
    values = ints.astype(np.float64)
    big = ints.size and (int(ints[0]) < -_FLOAT_EXACT or int(ints[-1]) > _FLOAT_EXACT)
    if not big:
        return Histogram(values, counts, dtype)
    if (values[1:] == values[:-1]).any():
        uniq, inverse = np.unique(values, return_inverse=True)
        merged = np.bincount(inverse, weights=counts, minlength=uniq.size)
        return Histogram(uniq, merged, dtype, None, int(ints.size))
    exact = ints.copy()
    exact.flags.writeable = False
    return Histogram(values, counts, dtype, exact)


def histogram(data: np.ndarray, *, sample_weight: np.ndarray | None = None) -> Histogram:
    """Count the distinct values of ``data`` (optionally weighted).

    Parameters
    ----------
    data : array_like
        Real (integer or floating) array of any shape; NaN and infinity are rejected.
    sample_weight : array_like, optional
        Non-negative weight of every element (same shape as ``data``). Values whose total
        weight is zero are left out.

    Returns
    -------
    Histogram

    Notes
    -----
    8- and 16-bit integers are counted with one ``bincount`` over the dtype's range, other
    integers with ``bincount`` over their value range when it is narrow (O(n)), and floats by
    sorting (O(n log n)).

    Examples
    --------
    >>> import numpy as np
    >>> h = histogram(np.array([[3, 3], [0, 7]], dtype=np.uint8))
    >>> h.values.tolist(), h.counts.tolist()
    ([0.0, 3.0, 7.0], [1.0, 2.0, 1.0])
    """
    arr = check_data(data)
    w = check_sample_weight(sample_weight, arr)
    return _histogram(arr, w)


def _histogram(arr: np.ndarray, w: np.ndarray | None) -> Histogram:
    flat = arr.ravel()
    dt = arr.dtype
    if dt.kind in "ui" and dt.itemsize <= 2:
        nbins = 1 << (8 * dt.itemsize)
        unsigned = flat.view(np.dtype(f"u{dt.itemsize}")) if dt.kind == "i" else flat
        if w is None and unsigned.size > _BLOCK:
            # bincount casts its input to intp: in blocks, that temporary stays small (a 100
            # Mpixel image would otherwise need 800 MB for it).
            counts = np.zeros(nbins, dtype=np.int64)
            for start in range(0, unsigned.size, _BLOCK):
                counts += np.bincount(unsigned[start : start + _BLOCK], minlength=nbins)
        else:
            counts = np.bincount(unsigned, weights=w, minlength=nbins)
        idx = np.flatnonzero(counts)
        if dt.kind == "i":
            # The unsigned view puts negative values above the positive ones: reorder.
            signed = idx.astype(np.dtype(f"u{dt.itemsize}")).view(dt)
            order = np.argsort(signed, kind="stable")
            return Histogram(signed[order].astype(np.float64), counts[idx][order].astype(
                np.float64), dt)
        return Histogram(idx.astype(np.float64), counts[idx].astype(np.float64), dt)
    if dt.kind in "ui":
        lo, hi = int(flat.min()), int(flat.max())
        if hi - lo < _DENSE_RANGE:
            # Offsets from the minimum fit in intp whatever the dtype (the range is narrow);
            # for int64 near its minimum ``flat - lo`` would need lo = -2**63 as a value.
            offsets = (flat - flat.dtype.type(lo)).astype(np.intp)
            counts = np.bincount(offsets, weights=w, minlength=hi - lo + 1)
            idx = np.flatnonzero(counts)
            ints = idx.astype(dt) + dt.type(lo)
            return _with_exact(ints, counts[idx].astype(np.float64), dt)
        if w is None:
            ints, counts = np.unique(flat, return_counts=True)
            return _with_exact(ints, counts.astype(np.float64), dt)
        order = np.argsort(flat, kind="stable")
        sorted_ints = flat[order]
        starts = np.flatnonzero(np.r_[True, sorted_ints[1:] != sorted_ints[:-1]])
        wsum = np.add.reduceat(w[order], starts)
        keep = wsum > 0
        return _with_exact(sorted_ints[starts][keep], wsum[keep], dt)
    if w is None:
        values, counts = np.unique(flat, return_counts=True)
        return Histogram(values.astype(np.float64), counts.astype(np.float64), dt)
    order = np.argsort(flat, kind="stable")
    sorted_vals = flat[order]
    starts = np.flatnonzero(np.r_[True, sorted_vals[1:] != sorted_vals[:-1]])
    values = sorted_vals[starts].astype(np.float64)
    counts = np.add.reduceat(w[order], starts)
    keep = counts > 0
    return Histogram(values[keep], counts[keep], dt)
