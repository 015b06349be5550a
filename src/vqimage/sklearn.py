"""A drop-in ``KBinsDiscretizer`` for scikit-learn users, running on vqimage's engine.

Change ``from sklearn.preprocessing import KBinsDiscretizer`` to
``from vqimage.sklearn import KBinsDiscretizer``: the estimator takes the same parameters, fits the
same bins (``uniform`` and ``quantile`` bit for bit, ``kmeans`` within rounding), raises the same
errors and warnings, and adds ``strategy="optimal"`` and ``reconstruction="centroid"``.

This module is the optional scikit-learn adapter (``pip install "vqimage[sklearn]"``); importing
``vqimage`` itself never imports scikit-learn.

Why it is faster:

- fitting works on each column's sorted values or, for integer-valued data, its histogram
  (one ``bincount``), instead of running ``KMeans`` on the raw samples; percentiles are read from
  the sorted sample with numpy's own interpolation code;
- transforming compares each block of rows against the inner edges and counts (a few byte-sized
  passes that stay in cache) instead of one ``searchsorted`` per column, and small integer inputs
  (8/16-bit images) go through a lookup table.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import numpy as np
from sklearn.base import _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import KBinsDiscretizer as _SklearnKBinsDiscretizer
from sklearn.preprocessing import OneHotEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.stats import _weighted_percentile
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_is_fitted,
    validate_data,
)

from vqimage.core import strategies
from vqimage.core.quantizer import RECONSTRUCTIONS

try:  # numpy's own quantile interpolation, applied to a sample we have already sorted
    from numpy.lib._function_base_impl import (
        _get_gamma,
        _get_indexes,
        _lerp,
        _QuantileMethods,
    )
except ImportError:  # pragma: no cover - other numpy layouts fall back to np.percentile
    _QuantileMethods = None

__all__ = ["KBinsDiscretizer"]

# scikit-learn's width threshold below which quantile and kmeans bins are removed.
_MIN_WIDTH = 1e-8
# Elements per block in transform: a block, its comparison bytes (and for several features the
# edges tiled to its width) stay in the L2 cache; narrow integers allow larger blocks.
_BLOCK = 1 << 15
_COLUMN_BLOCK = 1 << 16
_INT_BLOCK = 1 << 18
# Up to this many inner edges, counting comparisons beats a binary search.
_MAX_COMPARISONS = 24
# Data beyond this size is not cache-resident (random row gathers then miss).
_CACHE_BYTES = 1 << 24
# Integer-valued columns spanning at most this many values are counted with bincount.
_DENSE_SPAN = 1 << 16


class KBinsDiscretizer(_SklearnKBinsDiscretizer):
    """Bin continuous data into intervals: scikit-learn's estimator on vqimage's engine.

    A drop-in replacement for :class:`sklearn.preprocessing.KBinsDiscretizer` (same parameters,
    defaults, fitted attributes, encodings, warnings and errors) that fits and transforms
    faster, with one more strategy and a choice of reconstruction for ``inverse_transform``.

    Parameters
    ----------
    n_bins : int or array-like of shape (n_features,), default=5
        Number of bins per feature (at least 2).
    encode : {"onehot", "onehot-dense", "ordinal"}, default="onehot"
        Output encoding: sparse one-hot, dense one-hot or the bin index.
    strategy : {"uniform", "quantile", "kmeans", "optimal"}, default="quantile"
        How bins are fitted. The first three are scikit-learn's (``uniform`` and ``quantile``
        give identical edges; ``kmeans`` runs the same Lloyd iterations from the same start with
        the same stopping rule, so edges agree to rounding). ``"optimal"`` gives the bins of
        globally minimum squared error per feature (exact 1-D k-means).
    quantile_method : str, default="averaged_inverted_cdf"
        Method passed to :func:`numpy.percentile` for ``strategy="quantile"``; with
        ``sample_weight`` only ``"averaged_inverted_cdf"`` and ``"inverted_cdf"`` are allowed.
    dtype : {np.float32, np.float64}, default=None
        Output dtype; ``None`` keeps float32 input as float32 and gives float64 otherwise.
    subsample : int or None, default=200_000
        Fit on this many rows drawn with replacement when there are more (``None``: all rows).
        The same rows as scikit-learn's for the same ``random_state``.
    random_state : int, RandomState instance or None, default=None
        Seed of the subsample.
    reconstruction : {"midpoint", "centroid"}, default="midpoint"
        Value ``inverse_transform`` returns for a bin: the midpoint of its edges
        (scikit-learn's behaviour) or the mean of the training values that fell in it
        (scikit-learn issue #17563); empty bins use their midpoint, constant features their
        value.

    Attributes
    ----------
    bin_edges_ : ndarray of ndarray of shape (n_features,)
        Edges of each feature's bins.
    n_bins_ : ndarray of shape (n_features,)
        Number of bins per feature (fewer than requested where narrow bins were removed).
    codebooks_ : ndarray of ndarray of shape (n_features,)
        Reconstruction value of every bin of every feature (midpoints or centroids, per
        ``reconstruction``), as used by ``inverse_transform``.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during ``fit`` (only when they are all strings).

    See Also
    --------
    sklearn.preprocessing.KBinsDiscretizer : the estimator this one replaces.
    vqimage.fit : the same strategies on images and arrays of any shape.

    Notes
    -----
    Results equal scikit-learn's for ``uniform`` and ``quantile`` (every ``quantile_method``,
    with or without ``sample_weight`` and ``subsample``). ``kmeans`` runs the same Lloyd
    iterations and matches to rounding (1e-9 of the range on float64 data; on float32 data
    scikit-learn accumulates its means in float32, about 1e-4 of the range off the exact means
    vqimage computes); when an iteration would leave a cluster empty (scikit-learn then
    relocates a far sample) the fit is handed to scikit-learn's ``KMeans`` itself. Fitting sorts
    each column once (or counts its values when they are integers), so ``kmeans`` costs about
    as much as ``quantile``.

    Examples
    --------
    >>> import numpy as np
    >>> from vqimage.sklearn import KBinsDiscretizer
    >>> X = np.array([[-2, 1, -4, -1], [-1, 2, -3, -0.5], [0, 3, -2, 0.5], [1, 4, -1, 2]])
    >>> est = KBinsDiscretizer(n_bins=3, encode="ordinal", strategy="uniform").fit(X)
    >>> est.bin_edges_[0]
    array([-2., -1.,  0.,  1.])
    >>> est.transform(X)
    array([[0., 0., 0., 0.],
           [1., 1., 1., 0.],
           [2., 2., 2., 1.],
           [2., 2., 2., 2.]])
    >>> est.inverse_transform(est.transform(X))[:, 0]
    array([-1.5, -0.5,  0.5,  0.5])
    >>> cen = KBinsDiscretizer(n_bins=2, encode="ordinal", strategy="optimal",
    ...                        reconstruction="centroid").fit([[0], [1], [2], [10], [12]])
    >>> cen.bin_edges_[0], cen.codebooks_[0]
    (array([ 0.,  6., 12.]), array([ 1., 11.]))
    """

    _parameter_constraints: ClassVar[dict] = {
        **_SklearnKBinsDiscretizer._parameter_constraints,
        "strategy": [StrOptions(set(strategies.STRATEGIES))],
        "reconstruction": [StrOptions(set(RECONSTRUCTIONS))],
    }

    def __init__(
        self,
        n_bins: Any = 5,
        *,
        encode: str = "onehot",
        strategy: str = "quantile",
        quantile_method: str = "averaged_inverted_cdf",
        dtype: Any = None,
        subsample: int | None = 200_000,
        random_state: Any = None,
        reconstruction: str = "midpoint",
    ) -> None:
        self.n_bins = n_bins
        self.encode = encode
        self.strategy = strategy
        self.quantile_method = quantile_method
        self.dtype = dtype
        self.subsample = subsample
        self.random_state = random_state
        self.reconstruction = reconstruction

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> KBinsDiscretizer:
        """Fit the bins of every feature.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to be discretized.
        y : None
            Ignored (pipeline compatibility).
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of every sample (used to draw the subsample when one is drawn).

        Returns
        -------
        self : KBinsDiscretizer
            The fitted estimator.
        """
        # The statements below follow scikit-learn's fit step by step, so that validation,
        # warnings and errors come out in the same order with the same messages.
        X = validate_data(self, X, dtype="numeric")
        if "_validated" in self.__dict__:
            self._validated = X  # fit_transform bins the array validated here
        if self.dtype in (np.float64, np.float32):
            output_dtype = self.dtype
        else:
            output_dtype = X.dtype
        n_samples, n_features = X.shape
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)

        if self.subsample is not None and n_samples > self.subsample:
            rows = _resample_indices(n_samples, self.subsample, self.random_state, sample_weight,
                                     X)
            if self.strategy != "kmeans" and X.nbytes > _CACHE_BYTES:
                # Only kmeans depends on the order of the rows (its centring mean's rounding);
                # from data larger than the caches, rows gathered in memory order come faster.
                rows.sort()
            sample = _take_rows(X, rows)
            sample_weight = None
        else:
            sample = X

        n_features = sample.shape[1]
        n_bins = self._validate_n_bins(n_features)
        bin_edges = np.zeros(n_features, dtype=object)
        codebooks = np.zeros(n_features, dtype=object)
        quantile_method = self.quantile_method
        if (
            self.strategy == "quantile"
            and quantile_method not in ["inverted_cdf", "averaged_inverted_cdf"]
            and sample_weight is not None
        ):
            raise ValueError(
                "When fitting with strategy='quantile' and sample weights, "
                "quantile_method should either be set to 'averaged_inverted_cdf' or "
                f"'inverted_cdf', got quantile_method='{quantile_method}' instead."
            )
        if self.strategy != "quantile" and sample_weight is not None:
            nnz_weight_mask = sample_weight != 0
        else:
            nnz_weight_mask = slice(None)

        columns = sample.T
        if n_features > 1 and not columns.flags.c_contiguous and (
            self.strategy != "uniform" or self.reconstruction == "centroid"
        ):
            # Sorting and counting run on each column: make them contiguous once.
            columns = np.ascontiguousarray(columns)
        # Column extremes in one pass over the rows (the values column.min() would give).
        used = sample[nnz_weight_mask]
        mins, maxs = used.min(axis=0), used.max(axis=0)
        cols = []
        for jj in range(n_features):
            col = _Column(columns[jj], sample_weight)
            if sample_weight is None:
                col.extremes = (mins[jj], maxs[jj])
            cols.append(col)
        optimal_edges = {}
        if self.strategy == "optimal":
            optimal_edges = _optimal_columns(cols, mins, maxs, n_bins)
        for jj in range(n_features):
            column = columns[jj]
            col_min, col_max = mins[jj], maxs[jj]
            col = cols[jj]
            if col_min == col_max:
                warnings.warn(f"Feature {jj} is constant and will be replaced with 0.",
                              stacklevel=2)
                n_bins[jj] = 1
                bin_edges[jj] = np.array([-np.inf, np.inf])
                codebooks[jj] = self._codebook(bin_edges[jj], col, constant=col_min)
                continue

            k = int(n_bins[jj])
            if self.strategy == "uniform":
                edges = np.linspace(col_min, col_max, n_bins[jj] + 1)
            elif self.strategy == "quantile":
                levels = np.linspace(0, 100, n_bins[jj] + 1)
                if sample_weight is None:
                    edges = np.asarray(col.percentile(levels, quantile_method), dtype=np.float64)
                else:
                    average = quantile_method == "averaged_inverted_cdf"
                    edges = _weighted_percentile(column, sample_weight, levels, average=average)
            elif self.strategy == "kmeans":
                edges = _kmeans_edges(col, k, col_min, col_max)
            else:
                edges = optimal_edges[jj]
                # Edges are data values or means of them: keep the data's exact extremes.
                edges[0], edges[-1] = col_min, col_max

            if self.strategy in ("quantile", "kmeans", "optimal"):
                mask = np.ediff1d(edges, to_begin=np.inf) > _MIN_WIDTH
                edges = edges[mask]
                if len(edges) - 1 != n_bins[jj]:
                    warnings.warn(
                        "Bins whose width are too small (i.e., <= "
                        f"1e-8) in feature {jj} are removed. Consider "
                        "decreasing the number of bins.",
                        stacklevel=2,
                    )
                    n_bins[jj] = len(edges) - 1
            bin_edges[jj] = edges
            codebooks[jj] = self._codebook(edges, col)

        self.bin_edges_ = bin_edges
        self.n_bins_ = n_bins
        self.codebooks_ = codebooks
        self._midpoints = self.reconstruction == "midpoint"

        if "onehot" in self.encode:
            self._encoder = OneHotEncoder(
                categories=[np.arange(i) for i in self.n_bins_],
                sparse_output=self.encode == "onehot",
                dtype=output_dtype,
            )
            self._encoder.fit(np.zeros((1, len(self.n_bins_))))
        return self

    def _codebook(self, edges: np.ndarray, col: _Column, constant: Any = None) -> np.ndarray:
        if self.reconstruction == "midpoint":
            # scikit-learn's inverse_transform values, computed the same way (same dtype, and
            # NaN for a constant feature, whose edges are infinite: numpy's warning about it
            # belongs to inverse_transform, as in scikit-learn).
            with np.errstate(invalid="ignore"):
                return (edges[1:] + edges[:-1]) * 0.5
        if constant is not None:
            return np.array([constant], dtype=np.float64)
        x, w = col.positive()
        return strategies.centroids(x, w, np.asarray(edges, dtype=np.float64))

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
        """Fit the bins, then discretize the same data (``fit(X, ...).transform(X)``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to be discretized.
        y : None
            Ignored (pipeline compatibility).
        **fit_params : dict
            Passed to ``fit`` (``sample_weight``).

        Returns
        -------
        Xt : {ndarray, sparse matrix}
            As returned by ``transform``.
        """
        self._validated = None
        try:
            self.fit(X, y, **fit_params)
            validated = self._validated
        finally:
            del self._validated
        return self._transform(X, validated)

    def transform(self, X: Any) -> Any:
        """Discretize the data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to be discretized.

        Returns
        -------
        Xt : {ndarray, sparse matrix}
            Bin indices (``encode="ordinal"``) or their one-hot encoding, in float64 (float32
            for float32 input) unless ``dtype`` is set.
        """
        return self._transform(X, None)

    def _transform(self, X: Any, validated: np.ndarray | None) -> Any:
        check_is_fitted(self)
        dtype = (np.float64, np.float32) if self.dtype is None else self.dtype
        # ``validated``: X as fit validated it a moment ago (fit_transform), so its features,
        # names and finiteness are known good and only a dtype conversion may remain.
        source = X if validated is None else validated
        small_int = (
            isinstance(source, np.ndarray)
            and source.dtype.kind in "ui"
            and source.dtype.itemsize <= 2
            and source.ndim == 2
        )
        if small_int:
            # Integers convert to float exactly: validating them without the conversion
            # raises the same errors and lets the table lookup read the raw values.
            Xv = source if validated is not None else validate_data(self, X, dtype=None,
                                                                    reset=False)
            out_dtype = np.dtype(np.float64 if self.dtype is None else self.dtype)
        elif validated is not None and validated.dtype in (
            (np.float64, np.float32) if self.dtype is None else (np.dtype(self.dtype),)
        ):
            Xv = validated
            out_dtype = Xv.dtype
        else:
            Xv = validate_data(self, X, dtype=dtype, reset=False)
            out_dtype = Xv.dtype
        Xt = np.empty_like(Xv, dtype=out_dtype)
        inner = [np.asarray(e[1:-1], dtype=np.float64) for e in self.bin_edges_]
        if small_int:
            _codes_of_small_ints(Xv, inner, Xt)
        else:
            _codes(Xv, inner, Xt)

        if self.encode == "ordinal":
            return Xt
        dtype_init = self._encoder.dtype
        self._encoder.dtype = Xt.dtype
        try:
            Xt_enc = self._encoder.transform(Xt)
        finally:
            self._encoder.dtype = dtype_init
        return Xt_enc

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Map bin indices back to values: each bin's midpoint or centroid.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the binned space (as returned by ``transform``).

        Returns
        -------
        X_original : ndarray
            Reconstruction values (``reconstruction`` chooses midpoints or centroids), float64
            or float32 as the input.
        """
        check_is_fitted(self)
        if "onehot" in self.encode:
            X = self._encoder.inverse_transform(X)
        Xinv = check_array(X, copy=True, dtype=(np.float64, np.float32))
        n_features = self.n_bins_.shape[0]
        if Xinv.shape[1] != n_features:
            raise ValueError(
                f"Incorrect number of features. Expecting {n_features}, received "
                f"{Xinv.shape[1]}."
            )
        for jj in range(n_features):
            if self._midpoints:
                edges = self.bin_edges_[jj]
                values = (edges[1:] + edges[:-1]) * 0.5
            else:
                values = self.codebooks_[jj]
            Xinv[:, jj] = values[Xinv[:, jj].astype(np.int64)]
        return Xinv


# --------------------------------------------------------------------------------------------
# Fitting helpers


def _resample_indices(n_samples: int, n: int, random_state: Any, sample_weight: Any,
                      X: np.ndarray) -> np.ndarray:
    """The rows ``sklearn.utils.resample(X, replace=True, n_samples=n, ...)`` draws.

    Drawing the indices directly (same generator calls as ``resample``) avoids materialising a
    resampled copy of every column.
    """
    rng = check_random_state(random_state)
    p = None
    if sample_weight is not None:
        sw = _check_sample_weight(sample_weight, X, dtype=np.float64)
        p = sw / sw.sum()
    return rng.choice(n_samples, size=n, p=p, replace=True)


def _take_rows(X: np.ndarray, rows: np.ndarray) -> np.ndarray:
    if X.flags.f_contiguous and not X.flags.c_contiguous:
        # Column-major data (e.g. from a DataFrame): gather column by column.
        out = np.empty((rows.size, X.shape[1]), dtype=X.dtype, order="F")
        for j in range(X.shape[1]):
            X[:, j].take(rows, out=out[:, j], mode="clip")
        return out
    return X.take(rows, axis=0)


class _Column:
    """One feature's fitting sample, summarised lazily as a histogram.

    ``hist()`` gives the sorted distinct values (column dtype), their counts (int64, or None
    when every value occurs once) and their summed weights (None when unweighted).
    """

    def __init__(self, column: np.ndarray, weight: np.ndarray | None) -> None:
        self.column = column
        self.weight = weight
        self.extremes: tuple[Any, Any] | None = None
        self._hist: _Hist | None = None

    @property
    def fast(self) -> bool:
        """Whether the dtype is one the fast paths reproduce exactly (ints, float32, float64)."""
        dt = self.column.dtype
        return dt.kind in "ui" or dt in (np.float32, np.float64)

    def hist(self) -> _Hist:
        if self._hist is None:
            offsets, lo = _dense_offsets(self.column, self.extremes)
            if offsets is not None:
                self._hist = _bincount_hist(self.column.dtype, offsets, lo, self.weight)
            else:
                self._hist = _sorted_hist(self.column, self.weight)
        return self._hist

    def positive(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct values carrying positive weight (float64) and their weights."""
        values, counts, wsum = self.hist()
        x = values.astype(np.float64, copy=False)
        if wsum is not None:
            w = np.asarray(wsum, dtype=np.float64)
        elif counts is not None:
            w = counts.astype(np.float64)
        else:
            return x, np.ones(x.size)
        keep = w > 0
        return x[keep], w[keep]

    def ranked(self) -> tuple[int, Callable[[np.ndarray], np.ndarray]]:
        """Sample size and a function giving the sorted sample's values at given positions."""
        n = self.column.size
        values, counts, _ = self.hist()
        if counts is None:
            return n, values.__getitem__
        cum = np.cumsum(counts)

        def take(idx: np.ndarray) -> np.ndarray:
            rank = np.where(idx < 0, n + idx, idx)
            return values[np.searchsorted(cum, rank, side="right")]

        return n, take

    def percentile(self, levels: np.ndarray, method: str) -> Any:
        """``np.percentile(column, levels, method=method)``, read off the sorted sample."""
        if not self.fast or _QuantileMethods is None or method not in _QuantileMethods:
            return np.percentile(self.column, levels, method=method)
        n, take = self.ranked()
        # numpy's _quantile, with the partitioned array replaced by the sorted sample.
        q = np.true_divide(levels, 100, out=...)
        props = _QuantileMethods[method]
        virtual = np.asanyarray(props["get_virtual_index"](n, q))
        if props["fix_gamma"] is None:
            exact = True
        else:
            exact = method == "linear" and np.issubdtype(virtual.dtype, np.integer)
        if exact:
            return take(np.asarray(virtual, dtype=np.intp))
        prev_idx, next_idx = _get_indexes(self.column[:0], virtual, n)
        gamma = _get_gamma(virtual, prev_idx, props).reshape(virtual.shape)
        return _lerp(take(prev_idx), take(next_idx), gamma)


_Hist = tuple[np.ndarray, "np.ndarray | None", "np.ndarray | None"]


def _optimal_columns(cols: list[_Column], mins: np.ndarray, maxs: np.ndarray,
                     n_bins: np.ndarray) -> dict[int, np.ndarray]:
    """``strategies.optimal`` edges of every non-constant column, columns run in threads.

    Sorting (numpy) and the exact fit (numba, ``nogil``) release the GIL, so features are
    fitted concurrently on the available cores; results are the same as one by one.
    """
    todo = [j for j in range(len(cols)) if mins[j] != maxs[j]]

    def one(j: int) -> np.ndarray:
        return strategies.optimal(*cols[j].positive(), int(n_bins[j]))

    workers = min(len(todo), os.cpu_count() or 1)
    if workers <= 1:
        return {j: one(j) for j in todo}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(zip(todo, pool.map(one, todo)))


def _bincount_hist(dt: np.dtype, offsets: np.ndarray, lo: Any, weight: np.ndarray | None,
                   ) -> _Hist:
    counts = np.bincount(offsets)
    idx = np.flatnonzero(counts)
    if dt.kind == "u":
        values = idx.astype(dt) + lo
    elif dt.kind == "i":
        values = (idx.astype(np.int64) + int(lo)).astype(dt)
    else:
        values = (idx + float(lo)).astype(dt)
    wsum = None
    if weight is not None:
        wsum = np.bincount(offsets, weights=weight, minlength=counts.size)[idx]
    return values, counts[idx].astype(np.int64), wsum


def _sorted_hist(column: np.ndarray, weight: np.ndarray | None) -> _Hist:
    if weight is None:
        s = np.sort(column)
        w_sorted = None
    else:
        order = np.argsort(column, kind="stable")
        s = column[order]
        w_sorted = np.asarray(weight)[order]
    new = np.empty(s.size, dtype=bool)
    new[0] = True
    np.not_equal(s[1:], s[:-1], out=new[1:])
    if w_sorted is None and new.all():
        # Continuous data: every value distinct, nothing to merge.
        return s, None, None
    starts = np.flatnonzero(new)
    counts = np.diff(starts, append=s.size)
    wsum = None if w_sorted is None else np.add.reduceat(w_sorted, starts)
    return s[starts], counts, wsum


def _dense_offsets(column: np.ndarray, extremes: tuple[Any, Any] | None = None,
                   ) -> tuple[np.ndarray | None, Any]:
    """``column - min`` as indices when the column holds integers over a narrow span, else None.

    Such columns (images, counts, integer-valued floats) are summarised with one ``bincount``
    instead of a sort.
    """
    dt = column.dtype
    n = column.size
    if not n or not (dt.kind in "ui" or dt in (np.float32, np.float64)):
        return None, None
    lo, hi = (column.min(), column.max()) if extremes is None else extremes
    if dt.kind in "ui":
        span = int(hi) - int(lo)
        if span >= _DENSE_SPAN or span > 4 * n:
            return None, None
        if dt.kind == "u":
            return (column - lo).astype(np.intp), lo
        return column.astype(np.int64) - int(lo), lo
    span = float(hi) - float(lo)
    if span >= _DENSE_SPAN or span > 4 * n or max(abs(float(lo)), abs(float(hi))) >= 2.0**52:
        return None, None
    head = column[:64]
    if not np.array_equal(head.astype(np.int64), head):
        return None, None
    ints = column.astype(np.int64)
    if not np.array_equal(ints, column):
        return None, None
    ints -= int(lo)
    return ints, lo


def _kmeans_edges(col: _Column, k: int, col_min: Any, col_max: Any) -> np.ndarray:
    """scikit-learn's kmeans edges for one column (KMeans from the uniform bins' midpoints)."""
    column, weight = col.column, col.weight
    if column.shape[0] < k:
        raise ValueError(f"n_samples={column.shape[0]} should be >= n_clusters={k}.")
    uniform_edges = np.linspace(col_min, col_max, k + 1)
    init = (uniform_edges[1:] + uniform_edges[:-1])[:, None] * 0.5
    # KMeans computes in float32 for float32 data, float64 otherwise.
    work = np.dtype(np.float32 if column.dtype == np.float32 else np.float64)
    centers = None
    if col.fast:
        # KMeans works on data centred by their mean (computed as it does, for the same bits).
        mean = np.asarray(column, dtype=work).reshape(-1, 1).mean(axis=0)[0]
        centers = _lloyd(*col.hist(), init[:, 0].astype(work), mean)
    if centers is None:
        from sklearn.cluster import KMeans

        km = KMeans(n_clusters=k, init=init, n_init=1)
        centers = km.fit(column[:, None], sample_weight=weight).cluster_centers_[:, 0]
    centers = np.asarray(centers, dtype=work)
    centers.sort()
    mids = (centers[1:] + centers[:-1]) * 0.5
    return np.r_[col_min, mids, col_max]


_NEAR = np.arange(-2, 2)


def _lloyd(values: np.ndarray, counts: np.ndarray | None, wsum: np.ndarray | None,
           init: np.ndarray, mean: np.floating, *, tol: float = 1e-4, max_iter: int = 300,
           ) -> np.ndarray | None:
    """scikit-learn's Lloyd iterations on sorted distinct values; ``None`` if a cluster empties.

    Clusters of sorted 1-D data are runs of consecutive values, so each E-step is a
    ``searchsorted`` of the k-1 midpoints and each M-step a difference of prefix sums: O(k log m)
    per iteration after one sort. The stopping rule is scikit-learn's: labels unchanged, or the
    summed squared centre shift at most ``tol`` times the (unweighted) variance.

    Values next to a midpoint are assigned with scikit-learn's own distance arithmetic
    (``|c|^2 - 2 x c`` on mean-centred data, in the data's precision, first minimum wins): on
    integer data the uniform start puts midpoints exactly on data values, and which side such a
    tie falls on is decided by that rounding. Empty clusters (scikit-learn relocates a far
    sample) are left to scikit-learn's KMeans by returning None.
    """
    work = init.dtype
    k = init.size
    m = values.size
    xw = values.astype(work)
    xw -= work.type(mean)  # the centred data, as KMeans holds it
    x64 = xw if work == np.float64 else xw.astype(np.float64)
    if counts is None:
        mu = x64.mean()
        tol_abs = float(np.mean((x64 - mu) ** 2)) * tol
    else:
        c = counts.astype(np.float64)
        n = c.sum()
        mu = (c * x64).sum() / n
        tol_abs = float((c * (x64 - mu) ** 2).sum() / n) * tol
    w = wsum if wsum is not None else (None if counts is None else counts.astype(np.float64))
    px = np.zeros(m + 1)
    np.cumsum(x64 if w is None else w * x64, out=px[1:])
    pw = None
    if w is not None:
        pw = np.zeros(m + 1)
        np.cumsum(w, out=pw[1:])
    bounds = np.empty(k + 1, dtype=np.intp)
    bounds[0], bounds[-1] = 0, m

    def boundaries(cen: np.ndarray) -> np.ndarray:
        cw = cen.astype(work, copy=False)
        b = x64.searchsorted((cen[1:] + cen[:-1]) * 0.5, side="right")
        pos = b[:, None] + _NEAR
        xv = xw.take(pos, mode="clip")
        lo, hi = cw[:-1, None], cw[1:, None]
        to_upper = (hi * hi - 2 * (xv * hi)) < (lo * lo - 2 * (xv * lo))
        to_upper |= pos >= m
        to_upper &= pos >= 0
        # The window's values before the first one that joins the upper centre stay below.
        first = to_upper.argmax(axis=1)
        first[~to_upper.any(axis=1)] = _NEAR.size
        out = bounds.copy()
        out[1:-1] = b + (first + _NEAR[0])
        return out

    centers = (init - work.type(mean)).astype(np.float64)
    if (centers[1:] <= centers[:-1]).any():
        return None
    labels_old = None
    strict = False
    for _ in range(max_iter):
        labels = boundaries(centers)
        if pw is None:
            wk = (labels[1:] - labels[:-1]).astype(np.float64)
        else:
            pb = pw[labels]
            wk = pb[1:] - pb[:-1]
        if (wk <= 0).any():
            return None
        sb = px[labels]
        new = (sb[1:] - sb[:-1]) / wk
        shift = float(((new - centers) ** 2).sum())
        centers = new
        if labels_old is not None and np.array_equal(labels, labels_old):
            strict = True
            break
        if shift <= tol_abs:
            break
        labels_old = labels
    if not strict:
        labels = boundaries(centers)
    # A cluster left without any sample after the last E-step makes KMeans warn.
    distinct = int(np.count_nonzero(labels[1:] > labels[:-1]))
    if distinct < k:
        warnings.warn(
            f"Number of distinct clusters ({distinct}) found smaller than "
            f"n_clusters ({k}). Possibly due to duplicate points "
            "in X.",
            ConvergenceWarning,
            stacklevel=4,
        )
    return centers + float(mean)


# --------------------------------------------------------------------------------------------
# Transform kernels


def _codes(X: np.ndarray, inner: list[np.ndarray], out: np.ndarray) -> None:
    """``out[:, j] = searchsorted(inner[j], X[:, j], side="right")`` for float ``X``.

    A value's bin is the number of inner edges at or below it. For few edges, counting
    ``X >= e`` over blocks in a byte counter is a few cache-resident, vectorized passes instead
    of a binary search per value. Row-major multi-feature data is processed as one flat array
    against edges tiled to the block's width (long contiguous loops whatever the number of
    features; features with fewer edges are padded with +inf, which finite inputs never reach).
    Columns holding only integers over a narrow span (an 8-bit image in float64) go through a
    lookup table instead.
    """
    f = X.shape[1]
    todo = [j for j in range(f) if not _codes_of_integers(X[:, j], inner[j], out[:, j])]
    t = max((inner[j].size for j in todo), default=0)
    if (len(todo) == f > 1 and 0 < t <= _MAX_COMPARISONS and X.flags.c_contiguous
            and out.flags.c_contiguous):
        table = np.full((t, f), np.inf)
        for j, e in enumerate(inner):
            table[: e.size, j] = e
        rows = max(1, _BLOCK // f)
        _count_at_least(X.reshape(-1), np.tile(table, (1, rows)), out.reshape(-1), rows * f)
        return
    for j in todo:
        e = inner[j]
        if e.size == 0:
            out[:, j] = 0
        elif e.size <= _MAX_COMPARISONS:
            _count_at_least(X[:, j], e[:, None], out[:, j], _COLUMN_BLOCK)
        else:
            out[:, j] = np.searchsorted(e, X[:, j].astype(out.dtype, copy=False), side="right")


def _codes_of_integers(x: np.ndarray, e: np.ndarray, out: np.ndarray) -> bool:
    """Bin a float column through a lookup table if it holds integers over a narrow span.

    Returns False (having written nothing) when the column does not qualify; a look at its
    first values rules out continuous data at no cost. Worth it beyond about 8 edges, where
    counting comparisons grows costlier than the check and one table look-up.
    """
    if e.size <= 8 or x.size < 1 << 16 or x.dtype != out.dtype:
        # With few edges, counting comparisons costs about what the integrality check does.
        return False
    head = x[:64]
    if not np.array_equal(head, np.floor(head)):
        return False
    lo, hi = float(x.min()), float(x.max())
    if hi - lo >= _DENSE_SPAN or lo < -(2.0**31) or hi >= 2.0**31:
        return False
    ints = x.astype(np.int32)
    if not np.array_equal(ints, x):
        return False
    ints -= np.int32(lo)
    values = np.arange(int(lo), int(hi) + 1).astype(out.dtype)
    table = np.searchsorted(e, values, side="right").astype(out.dtype)
    if out.flags.c_contiguous:
        table.take(ints, out=out, mode="clip")
    else:
        out[...] = table.take(ints)
    return True


def _count_at_least(x: np.ndarray, edges: np.ndarray, out: np.ndarray, block: int) -> None:
    """``out[i] = sum_k(x[i] >= edges[k, i % width])`` block by block (width 1 broadcasts).

    Each block is compared with all edges in one call (a ``(k, block)`` boolean array that
    stays in cache) and the hits summed as bytes in a second. Float values are converted to
    ``out``'s dtype first (scikit-learn bins the converted values); integer values are compared
    as they are, against integer thresholds.
    """
    n = x.size
    t = edges.shape[0]
    size = min(block, n)
    hits = np.empty((t, size), dtype=bool)
    counter = np.empty(size, dtype=np.uint8)
    tiled = edges.shape[1] > 1
    convert = x.dtype.kind == "f" and x.dtype != out.dtype
    for r0 in range(0, n, block):
        r1 = min(n, r0 + block)
        size = r1 - r0
        values = x[r0:r1]
        if convert:
            values = values.astype(out.dtype)
        h = hits[:, :size]
        np.greater_equal(values[None, :], edges[:, :size] if tiled else edges, out=h)
        cnt = counter[:size]
        np.add.reduce(h.view(np.uint8), axis=0, out=cnt)
        out[r0:r1] = cnt


def _codes_of_small_ints(X: np.ndarray, inner: list[np.ndarray], out: np.ndarray) -> None:
    """Bin 8/16-bit integers (exact in float32 and float64) without converting them.

    An integer ``v`` reaches edge ``e`` exactly when ``v >= ceil(e)``, so with few edges the
    counting runs on the raw bytes against integer thresholds (an edge at or below the dtype's
    minimum becomes the minimum, always reached; one above its maximum is never reached and
    dropped). Many edges go through a table of every value of the dtype instead.
    """
    info = np.iinfo(X.dtype)
    if max((e.size for e in inner), default=0) > _MAX_COMPARISONS:
        _codes_by_table(X, inner, out)
        return
    thresholds = []
    for e in inner:
        t = np.ceil(e)
        t = t[t <= info.max]
        thresholds.append(np.maximum(t, info.min).astype(X.dtype))
    sizes = {t.size for t in thresholds}
    f = X.shape[1]
    if f > 1 and len(sizes) == 1 and X.flags.c_contiguous and out.flags.c_contiguous:
        (t,) = sizes
        if t == 0:
            out[...] = 0
            return
        rows = max(1, _BLOCK // f)
        table = np.stack(thresholds, axis=1)
        _count_at_least(X.reshape(-1), np.tile(table, (1, rows)), out.reshape(-1), rows * f)
        return
    for j, t in enumerate(thresholds):
        if t.size == 0:
            out[:, j] = 0
        else:
            _count_at_least(X[:, j], t[:, None], out[:, j], _INT_BLOCK)


def _codes_by_table(X: np.ndarray, inner: list[np.ndarray], out: np.ndarray) -> None:
    """Bin 8/16-bit integers through a per-feature table of all the dtype's values."""
    dt = X.dtype
    udt = np.dtype(f"u{dt.itemsize}")
    every = np.arange(1 << (8 * dt.itemsize), dtype=udt).view(dt).astype(out.dtype)
    for j, e in enumerate(inner):
        table = np.searchsorted(e, every, side="right").astype(out.dtype)
        col = X[:, j].view(udt)
        if out.shape[1] == 1 and out.flags.c_contiguous:
            table.take(col, out=out[:, 0], mode="clip")
        else:
            out[:, j] = table.take(col)
