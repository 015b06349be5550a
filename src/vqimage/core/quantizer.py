"""The scalar quantizer: edges, a codebook, and fast encode / decode."""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np

from vqimage._shared.arrays import adapter_for
from vqimage._shared.dtypes import code_dtype
from vqimage._shared.validation import check_choice, check_data, check_n_levels, check_sample_weight
from vqimage.core import bounds
from vqimage.core import strategies as _strategies
from vqimage.core.base import FrozenQuantizer, read_description
from vqimage.core.histogram import Histogram, _histogram
from vqimage.errors import FewerLevelsWarning

__all__ = ["RECONSTRUCTIONS", "Quantizer", "code_dtype", "fit", "fit_histogram"]

RECONSTRUCTIONS = ("centroid", "midpoint")
_LUT_KINDS = {"u1", "i1", "u2", "i2"}


def _lut_key(dt: np.dtype) -> str:
    return f"{dt.kind}{dt.itemsize}"


# Histograms whose largest magnitude exceeds 2**_SAFE_EXP are fitted scaled down by a power of
# two: the strategies sum weighted squares (optimal's prefix sums, kmeans' variance, centroid
# sums), which overflow float64 near 1e308; below 2**400 a square is at most 2**800, leaving
# 2**200 of headroom for the weights.
_SAFE_EXP = 400


def _is_wide_int(dt: np.dtype) -> bool:
    """64-bit integers: the only dtypes whose values float64 cannot all hold exactly."""
    return dt.kind in "ui" and dt.itemsize == 8


def round_into(book: np.ndarray, dt: np.dtype) -> np.ndarray:
    """Round float levels to the nearest integer of ``dt``, clipped to its range, exactly.

    ``np.clip(np.rint(book), info.min, info.max).astype(dt)`` is wrong for 64-bit dtypes:
    ``float(2**63 - 1)`` is ``2**63``, so the clipped value still overflows the cast and wraps
    to the minimum. The bounds are compared in float but assigned as integers.

    Examples
    --------
    >>> round_into(np.array([-1e30, 2.5, 1e30]), np.dtype(np.int64)).tolist()
    [-9223372036854775808, 2, 9223372036854775807]
    """
    info = np.iinfo(dt)
    r = np.rint(book)
    out = np.empty(r.shape, dt)
    hi = r >= float(info.max)
    lo = r <= float(info.min)
    mid = ~(hi | lo)
    out[mid] = r[mid].astype(dt)
    out[hi] = info.max
    out[lo] = info.min
    return out


def _exact_entries(codebook: Any) -> dict[int, int]:
    """The codebook entries given as integers (exact levels of a 64-bit integer quantizer)."""
    if isinstance(codebook, np.ndarray):
        flat = codebook.ravel()
        return dict(enumerate(map(int, flat))) if flat.dtype.kind in "ui" else {}
    if isinstance(codebook, (list, tuple)):
        return {
            i: int(v) for i, v in enumerate(codebook)
            if isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))
        }
    return {}



class Quantizer(FrozenQuantizer):
    """A fitted scalar quantizer with ``n_levels`` bins.

    Create one with :func:`fit` (or :func:`fit_histogram`, or :meth:`from_dict`). It is
    immutable: its arrays are read-only.

    Parameters
    ----------
    edges : array_like of shape (n_levels + 1,)
        Non-decreasing bin edges. Value ``v`` is in bin ``i`` when
        ``edges[i] <= v < edges[i + 1]``; values outside ``[edges[0], edges[-1]]`` go to the
        end bins.
    codebook : array_like of shape (n_levels,)
        Reconstruction value of each bin.
    dtype : dtype
        The dtype of the fitted data; :meth:`decode` returns it.
    strategy : str
        How the edges were fitted.
    reconstruction : {"centroid", "midpoint"}
        How the codebook was chosen.

    Attributes
    ----------
    n_levels : int
        Number of bins (the size of the codebook).
    centers : ndarray
        Midpoints of adjacent edges: what scikit-learn's ``inverse_transform`` returns.
    bits : int
        Bits per code when packed, ``ceil(log2(n_levels))``.
    error_bound, max_error : float or None
        For quantizers fitted to an error bound (``fit(..., max_abs_error=...)``): the absolute
        bound, and the largest ``abs(x - decode(encode(x)))`` over the fitted values (at most
        the bound). ``None`` otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> import vqimage
    >>> q = vqimage.fit(np.array([0, 1, 2, 200, 210, 255], dtype=np.uint8), 2)
    >>> q.encode(np.array([3, 250], dtype=np.uint8))
    array([0, 1], dtype=uint8)
    >>> q.quantize(np.array([3, 250], dtype=np.uint8))
    array([  1, 222], dtype=uint8)
    """

    __slots__ = ("_cache", "_levels", "codebook", "dtype", "edges", "error_bound", "max_error",
                 "reconstruction", "strategy")
    _STATE = ("edges", "codebook", "dtype", "strategy", "reconstruction", "_levels",
              "error_bound", "max_error")

    edges: np.ndarray
    codebook: np.ndarray
    dtype: np.dtype
    strategy: str
    reconstruction: str
    error_bound: float | None
    max_error: float | None

    def __init__(
        self,
        edges: Any,
        codebook: Any,
        *,
        dtype: Any = np.float64,
        strategy: str = "custom",
        reconstruction: str = "centroid",
        error_bound: float | None = None,
        max_error: float | None = None,
    ) -> None:
        e = np.array(edges, dtype=np.float64).ravel()
        c = np.array(codebook, dtype=np.float64).ravel()
        if e.size < 2:
            raise ValueError(f"edges needs at least 2 values, got {e.size}")
        if c.size != e.size - 1:
            raise ValueError(f"codebook has {c.size} values, expected {e.size - 1} (edges - 1)")
        if c.size > 65536:
            raise ValueError(f"n_levels must be at most 65536, got {c.size}")
        if not (np.isfinite(e).all() and np.isfinite(c).all()):
            raise ValueError("edges and codebook must be finite")
        if (e[1:] < e[:-1]).any():  # not np.diff: it overflows on edges near +-1.7e308
            raise ValueError("edges must be non-decreasing")
        dt = np.dtype(dtype)
        if dt.kind not in "uif":
            raise TypeError(f"dtype must be a real integer or float dtype, got {dt}")
        levels = None
        if _is_wide_int(dt):
            # Integer entries are exact levels: float64 rounds 2**63 - 1000 to 2**63 - 1024,
            # so a level equal to a data value must not go through the float codebook.
            levels = round_into(c, dt)
            info = np.iinfo(dt)
            for i, v in _exact_entries(codebook).items():
                if not info.min <= v <= info.max:
                    raise ValueError(f"codebook value {v} is outside the range of {dt}")
                levels[i] = v
            levels.flags.writeable = False
        e.flags.writeable = False
        c.flags.writeable = False
        self._set(edges=e, codebook=c, dtype=dt, strategy=str(strategy),
                  reconstruction=str(reconstruction), _levels=levels)
        set_ = object.__setattr__
        # An error-bounded fit's guarantee travels with it (to_dict, .vqi files, pickles).
        set_(self, "error_bound", None if error_bound is None else float(error_bound))
        set_(self, "max_error", None if max_error is None else float(max_error))

    def __repr__(self) -> str:
        with np.printoptions(precision=4, suppress=True, threshold=12, edgeitems=3):
            book = np.array2string(self.codebook, separator=", ")
        return (
            f"Quantizer(strategy={self.strategy!r}, n_levels={self.n_levels}, "
            f"dtype={self.dtype.name}, codebook={book})"
        )

    # -- derived attributes -------------------------------------------------------------
    @property
    def kind(self) -> str:
        """``"scalar"``: the quantizer family, as stored in ``to_dict()``."""
        return "scalar"

    @property
    def centers(self) -> np.ndarray:
        e = self.edges
        with np.errstate(over="ignore"):
            c = (e[1:] + e[:-1]) * 0.5
        if not np.isfinite(c).all():
            # Edges near +-1.7e308: their sum overflows, the sum of their halves does not.
            c = np.where(np.isfinite(c), c, e[1:] * 0.5 + e[:-1] * 0.5)
        c.flags.writeable = False
        return c

    def code_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of the codes for data of ``shape`` (the same shape: one code per value)."""
        return tuple(shape)

    # -- lookup tables ------------------------------------------------------------------
    def _domain(self, dt: np.dtype) -> np.ndarray:
        """All values of an 8/16-bit integer dtype, in the order of its unsigned view."""
        unsigned = np.arange(1 << (8 * dt.itemsize), dtype=np.dtype(f"u{dt.itemsize}"))
        return unsigned.view(dt) if dt.kind == "i" else unsigned

    def _encode_lut(self, dt: np.dtype) -> np.ndarray:
        key = ("enc", _lut_key(dt))
        if key not in self._cache:
            self._cache[key] = self._search(self._domain(dt))
        return self._cache[key]

    def _decode_table(self) -> np.ndarray:
        if "dec" not in self._cache:
            if self._levels is not None:
                self._cache["dec"] = self._levels
            elif self.dtype.kind in "ui":
                self._cache["dec"] = round_into(self.codebook, self.dtype)
            elif self.dtype.itemsize < 8:
                # A codebook read from a file may exceed float16/32: clip, as for integers,
                # rather than overflow to infinity with a RuntimeWarning.
                finfo = np.finfo(self.dtype)
                self._cache["dec"] = np.clip(
                    self.codebook, float(finfo.min), float(finfo.max)
                ).astype(self.dtype)
            else:
                self._cache["dec"] = self.codebook.astype(self.dtype)
        return self._cache["dec"]

    def _search(self, values: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.edges[1:-1], values, side="right").astype(self.code_dtype)

    # -- the transforms -----------------------------------------------------------------
    def encode(self, x: Any) -> np.ndarray:
        """Map every value to its bin's code (same shape, smallest unsigned dtype).

        Parameters
        ----------
        x : array_like
            Real values of any shape; NaN and infinity raise ``ValueError``.

        Returns
        -------
        ndarray of uint8 (up to 256 levels) or uint16

        Notes
        -----
        8- and 16-bit integers go through a lookup table (one ``np.take``); other dtypes
        through ``np.searchsorted`` on the ``n_levels - 1`` inner edges, O(n log k).
        A dask array gives a lazy dask array of codes (:func:`vqimage.dask.encode`).
        """
        if (adapter := adapter_for(x)) is not None:

            return adapter.encode(self, x)
        arr = check_data(x, "x")
        if _lut_key(arr.dtype) in _LUT_KINDS:
            lut = self._encode_lut(arr.dtype)
            if arr.dtype.kind == "i":
                arr = arr.view(np.dtype(f"u{arr.dtype.itemsize}"))
            return np.take(lut, arr)
        return self._search(arr)

    def decode(self, codes: Any) -> np.ndarray:
        """Map codes back to reconstruction values in the fitted dtype.

        Integer dtypes get the codebook rounded to the nearest integer (clipped to the dtype's
        range, exactly: never wrapping); 64-bit integer levels given as integers are used as
        they are. Codes must be integers in ``[0, n_levels)``.

        Examples
        --------
        >>> import numpy as np
        >>> q = Quantizer([0, 10, 20], [4.6, 15.0], dtype=np.uint8)
        >>> q.decode(np.array([1, 0, 0], dtype=np.uint8))
        array([15,  5,  5], dtype=uint8)
        """
        if (adapter := adapter_for(codes)) is not None:

            return adapter.decode(self, codes)
        c = np.asarray(codes)
        if c.dtype.kind not in "ui" or c.dtype == np.bool_:
            raise TypeError(f"codes must have an integer dtype, got {c.dtype}")
        table = self._decode_table()
        if c.size:
            lo_ok = c.dtype.kind == "u" or c.min() >= 0
            hi_ok = (c.dtype.kind == "u" and (1 << (8 * c.dtype.itemsize)) <= self.n_levels) or (
                c.max() < self.n_levels
            )
            if not (lo_ok and hi_ok):
                raise ValueError(
                    f"codes must be in [0, {self.n_levels - 1}], got values in "
                    f"[{int(c.min())}, {int(c.max())}]"
                )
        return np.take(table, c)

    def quantize(self, x: Any) -> np.ndarray:
        """Return ``decode(encode(x))``: every value replaced by its bin's level.

        8- and 16-bit integer input of the fitted dtype takes a single table lookup.
        """
        if (adapter := adapter_for(x)) is not None:

            return adapter.quantize(self, x)
        arr = check_data(x, "x")
        if arr.dtype == self.dtype and _lut_key(arr.dtype) in _LUT_KINDS:
            key = "quant"
            if key not in self._cache:
                self._cache[key] = np.take(self._decode_table(), self._encode_lut(arr.dtype))
            view = arr.view(np.dtype(f"u{arr.dtype.itemsize}")) if arr.dtype.kind == "i" else arr
            return np.take(self._cache[key], view)
        return self.decode(self.encode(arr))

    # -- serialisation ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description; ``Quantizer.from_dict(q.to_dict()) == q``.

        Examples
        --------
        >>> q = Quantizer([0.0, 1.0, 2.0], [0.5, 1.5], dtype="uint8", strategy="uniform")
        >>> q.to_dict()["codebook"]
        [0.5, 1.5]
        """
        book: list[float | int] = [float(v) for v in self.codebook]
        if self._levels is not None:
            # A 64-bit level the float cannot reproduce is stored as a JSON integer (exact at
            # any size); every other entry stays a float, so other files keep their bytes.
            differs = np.flatnonzero(round_into(self.codebook, self.dtype) != self._levels)
            for i in differs:
                book[i] = int(self._levels[i])
        d = {
            "kind": "scalar",
            "strategy": self.strategy,
            "reconstruction": self.reconstruction,
            "dtype": self.dtype.str,
            "edges": [float(v) for v in self.edges],
            "codebook": book,
        }
        if self.error_bound is not None:  # only then: other descriptions stay as they were
            d["error_bound"], d["max_error"] = self.error_bound, self.max_error
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Quantizer:
        """Rebuild a quantizer from :meth:`to_dict` output; ``ValueError`` if malformed."""
        required = {"edges", "codebook", "dtype"}
        dtype = read_description(d, "scalar", "scalar", "quantizer", required, default="scalar")
        try:
            edges = np.asarray(d["edges"], dtype=np.float64)
            book = np.asarray(d["codebook"], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError("quantizer edges and codebook must be lists of numbers") from exc
        if _is_wide_int(dtype) and isinstance(d["codebook"], list):
            book = d["codebook"]  # keeps its integers exact (see to_dict)
        try:
            return cls(
                edges,
                book,
                dtype=dtype,
                strategy=str(d.get("strategy", "custom")),
                reconstruction=str(d.get("reconstruction", "centroid")),
                error_bound=_optional_float(d, "error_bound"),
                max_error=_optional_float(d, "max_error"),
            )
        except TypeError as exc:
            raise ValueError(str(exc)) from exc


def _optional_float(d: dict[str, Any], key: str) -> float | None:
    v = d.get(key)
    if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
        raise ValueError(f"quantizer {key} must be a number, got {v!r}")
    return None if v is None else float(v)


def _fit_bound(
    hist: Histogram, n_levels: Any, max_abs_error: Any, max_rel_error: Any, reconstruction: str
) -> Quantizer:
    """The error-bounded fit (:mod:`vqimage.core.bounds`) behind ``fit``/``fit_histogram``."""
    if n_levels is not None:
        raise ValueError("give n_levels or an error bound (max_abs_error, max_rel_error), not both")
    x = hist.values
    if x.size == 0:
        raise ValueError("the histogram is empty")
    e, name = bounds.resolve_bound(max_abs_error, max_rel_error, x[0], x[-1])
    b = bounds.fit_bound(x, hist.counts, hist.dtype, e, reconstruction=reconstruction, name=name)
    return Quantizer(b.edges, b.codebook, dtype=hist.dtype, strategy="max_error",
                     reconstruction=reconstruction, error_bound=b.bound, max_error=b.max_error)


def fit_histogram(
    hist: Histogram,
    n_levels: int | None = None,
    *,
    strategy: str = "optimal",
    reconstruction: str = "centroid",
    max_abs_error: float | None = None,
    max_rel_error: float | None = None,
) -> Quantizer:
    """Fit a :class:`Quantizer` from a precomputed :class:`~vqimage.Histogram`.

    This is what :func:`fit` does after counting values; use it to fit once from histograms
    merged across chunks, files or workers. ``max_abs_error`` / ``max_rel_error`` fit the
    fewest levels meeting a bound instead of ``n_levels``, as in :func:`fit`.

    Examples
    --------
    >>> import numpy as np
    >>> from vqimage import histogram
    >>> h = histogram(np.array([0, 0, 10, 10, 250], dtype=np.uint8))
    >>> fit_histogram(h, 2).codebook.tolist()
    [5.0, 250.0]
    """
    check_choice(reconstruction, "reconstruction", RECONSTRUCTIONS)
    if max_abs_error is not None or max_rel_error is not None:
        return _fit_bound(hist, n_levels, max_abs_error, max_rel_error, reconstruction)
    n = check_n_levels(n_levels)
    check_choice(strategy, "strategy", tuple(_strategies.STRATEGIES))
    x, w = hist.values, hist.counts
    if x.size == 0:
        raise ValueError("the histogram is empty")
    distinct = getattr(hist, "distinct", None)
    if distinct is not None and n >= distinct:
        # As many levels as values promise a lossless result, which float64 cannot give here.
        raise ValueError(
            f"{hist.dtype} data with {distinct} distinct values, some of them distinct but "
            f"equal in float64 (integers beyond 2**53 = {1 << 53} are up to 2048 apart there), "
            f"cannot be quantized losslessly with {n} levels; subtract an offset first"
        )
    shift = _overflow_exponent(x)
    # Enough levels for every value of huge data: each is its own bin, lossless at any
    # magnitude (scaling could merge subnormal values lying next to ones near 1.7e308).
    each_own = bool(shift) and strategy == "optimal" and x.size <= n
    # Otherwise values near +-1.7e308 are fitted divided by 2**shift (exact: a power of two),
    # where no sum of squares overflows; every strategy's result scales with the data, so the
    # edges scaled back are the fit of the original values.
    xs = x if shift == 0 or each_own else _scaled_values(x, shift)
    if each_own:
        edges = _gap_edges(x)
    elif strategy in ("uniform", "quantile"):
        edges = _strategies.STRATEGIES[strategy](xs, w, n, dtype=hist.dtype)
    else:
        edges = _strategies.STRATEGIES[strategy](xs, w, n)
    got = edges.size - 1
    if got < n:
        why = (
            f"the data has {x.size} distinct value{'s' if x.size != 1 else ''}"
            if x.size < n or strategy == "optimal" or x.size == 1
            else "zero-width bins were removed"
        )
        warnings.warn(
            f"asked for {n} levels, fitted {got}: {why}", FewerLevelsWarning, stacklevel=3
        )
    if each_own:
        book = x.copy() if reconstruction == "centroid" else edges[1:] * 0.5 + edges[:-1] * 0.5
    elif reconstruction == "centroid":
        book = _strategies.centroids(xs, w, edges)
    else:
        book = (edges[1:] + edges[:-1]) * 0.5
    if shift and not each_own:
        edges, book = _unscale(x, xs, edges, book, shift)
    levels: Any = book
    if reconstruction == "centroid":
        levels = _single_value_levels(hist, edges, book)
    return Quantizer(
        edges, levels, dtype=hist.dtype, strategy=strategy, reconstruction=reconstruction
    )


def _gap_edges(x: np.ndarray) -> np.ndarray:
    """Edges putting every value of sorted ``x`` in its own bin (halves: no overflow)."""
    mids = x[:-1] * 0.5 + x[1:] * 0.5
    inner = np.minimum(np.maximum(mids, np.nextafter(x[:-1], np.inf)), x[1:])
    return np.r_[x[0], inner, x[-1]]


def _overflow_exponent(x: np.ndarray) -> int:
    """0, or the power of two to divide sorted ``x`` by so that its magnitude is <= 2**400."""
    top = max(abs(float(x[0])), abs(float(x[-1])))
    if top <= 2.0**_SAFE_EXP:
        return 0
    return int(np.frexp(top)[1]) - _SAFE_EXP


def _scaled_values(x: np.ndarray, shift: int) -> np.ndarray:
    xs = np.ldexp(x, -shift)
    # Scaling down is exact except for values that become subnormal (below 2**-1022 after
    # the shift): if two of them merge, no fit can separate them, so say so.
    same = np.flatnonzero(xs[1:] <= xs[:-1])
    if same.size:
        a, b = float(x[same[0]]), float(x[same[0] + 1])
        top = max(-float(x[0]), float(x[-1]))
        raise ValueError(
            f"the data spans too many orders of magnitude to fit in float64: {a!r} and {b!r} "
            f"cannot be told apart at the scale of its largest magnitude {top!r}"
        )
    return xs


def _unscale(
    x: np.ndarray, xs: np.ndarray, edges_s: np.ndarray, book_s: np.ndarray, shift: int
) -> tuple[np.ndarray, np.ndarray]:
    """Edges and codebook fitted on ``xs = x / 2**shift`` back in the units of ``x``.

    Multiplying by 2**shift is exact; each inner edge is then kept in the gap of the
    partition it made in the scaled space, so every training value stays in its bin even
    where the scaled value was rounded (subnormal).
    """
    edges = np.ldexp(edges_s, shift)
    cut = np.searchsorted(xs, edges_s[1:-1], side="left")  # values below each inner edge
    below = np.where(cut > 0, np.nextafter(x[np.maximum(cut - 1, 0)], np.inf), -np.inf)
    above = np.where(cut < x.size, x[np.minimum(cut, x.size - 1)], np.inf)
    edges[1:-1] = np.minimum(np.maximum(edges[1:-1], below), above)
    edges[0], edges[-1] = x[0], x[-1]
    book = np.clip(np.ldexp(book_s, shift), edges[:-1], edges[1:])
    return edges, book


def _single_value_levels(hist: Histogram, edges: np.ndarray, book: np.ndarray) -> Any:
    """The centroid codebook with every bin of one distinct value given exactly that value.

    A weighted mean ``(w * v) / w`` can be one ulp off ``v``; a bin holding a single value
    must reproduce it, or "k levels on k distinct values" would not be lossless. For 64-bit
    integers beyond 2**53 the value is given as a Python int (exact; see :class:`Quantizer`).
    """
    x = hist.values
    n = edges.size - 1
    bins = np.searchsorted(edges[1:-1], x, side="right")
    first = np.searchsorted(bins, np.arange(n), side="left")
    last = np.searchsorted(bins, np.arange(n), side="right") - 1
    single = np.flatnonzero(first == last)
    out = book.copy()
    out[single] = x[first[single]]
    if hist.exact is None:
        return out
    levels: list[float | int] = out.tolist()
    for i in single:
        levels[i] = int(hist.exact[first[i]])
    return levels


def fit(
    data: Any,
    n_levels: int | None = None,
    *,
    strategy: str = "optimal",
    reconstruction: str = "centroid",
    sample_weight: Any = None,
    max_abs_error: float | None = None,
    max_rel_error: float | None = None,
) -> Quantizer:
    """Fit a ``n_levels``-level scalar quantizer to the values of ``data``.

    Parameters
    ----------
    data : array_like
        Real array of any shape and integer or float dtype; its values are quantized.
    n_levels : int
        Size of the codebook, 2 to 65,536. Fewer levels are fitted (with a
        :class:`~vqimage.errors.FewerLevelsWarning`) when the data has fewer distinct values
        or, for ``quantile`` and ``kmeans``, when zero-width bins are removed; a constant
        array gives a 1-level quantizer.
    strategy : {"optimal", "uniform", "quantile", "kmeans"}
        ``optimal`` (default) minimises the squared error exactly; the other three reproduce
        scikit-learn's ``KBinsDiscretizer`` strategies with ``subsample=None``.
    reconstruction : {"centroid", "midpoint"}
        Codebook: each bin's mean of the training values (default, the least-squares level)
        or the bin's midpoint (scikit-learn's ``inverse_transform``).
    sample_weight : array_like, optional
        Non-negative weights with the data's shape.
    max_abs_error : float, optional
        Instead of ``n_levels``: fit the **fewest** levels such that every value is within
        ``max_abs_error`` of its reconstruction, ``abs(x - q.quantize(x)) <= max_abs_error``
        checked in float64 on the decoded dtype (see :mod:`vqimage.core.bounds`). ``strategy`` is
        then ``"max_error"``; each level is the bin's mean (``"centroid"``) or the centre of its
        range (``"midpoint"``) moved into the interval that meets the bound. Integer data gets
        integer levels, so a bound below 1 is lossless. The quantizer's ``max_error`` says what
        was reached. More than 65,536 levels needed raises ``ValueError``.
    max_rel_error : float, optional
        The same bound as a fraction of the data's range ``max - min``.

    Returns
    -------
    Quantizer

    Notes
    -----
    The data is reduced to a histogram first (:func:`vqimage.histogram`): O(n) for
    integers, O(n log n) for floats; every strategy then works on the ``m`` distinct values
    (``optimal``: O(k m^2) for small m, a few O(m) passes otherwise, see
    :func:`vqimage.core.strategies.optimal`).

    A dask array is fitted chunk by chunk from merged histograms (:func:`vqimage.dask.fit`):
    integer data gives this quantizer bit for bit, floats one within a stated bound.

    An error bound costs the histogram plus O(k log m) for ``k`` levels
    (:func:`vqimage.core.bounds.fit_bound`); with ``sample_weight`` it holds for the values of
    positive weight.

    Examples
    --------
    >>> import numpy as np
    >>> import vqimage
    >>> rng = np.random.default_rng(0)
    >>> img = rng.integers(0, 256, size=(64, 64), dtype=np.uint8)
    >>> q = vqimage.fit(img, 4, strategy="uniform")
    >>> q.centers.tolist()
    [31.875, 95.625, 159.375, 223.125]
    >>> q.encode(img).dtype
    dtype('uint8')
    >>> x = np.linspace(0.0, 1.0, 1001)
    >>> qb = vqimage.fit(x, max_abs_error=0.01)
    >>> qb.n_levels, qb.max_error <= 0.01, float(np.abs(qb.quantize(x) - x).max()) <= 0.01
    (50, True, True)
    """
    if (adapter := adapter_for(data)) is not None:
        if max_abs_error is not None or max_rel_error is not None:
            raise ValueError("error bounds are not supported for dask arrays; fit the bound on "
                             "a histogram with fit_histogram(..., max_abs_error=...)")

        return adapter.fit(data, n_levels, strategy=strategy, reconstruction=reconstruction,
                        sample_weight=sample_weight)
    arr = check_data(data)
    if max_abs_error is not None or max_rel_error is not None:
        check_choice(reconstruction, "reconstruction", RECONSTRUCTIONS)
        w = check_sample_weight(sample_weight, arr)
        return _fit_bound(_histogram(arr, w), n_levels, max_abs_error, max_rel_error,
                          reconstruction)
    n = check_n_levels(n_levels)
    check_choice(strategy, "strategy", tuple(_strategies.STRATEGIES))
    check_choice(reconstruction, "reconstruction", RECONSTRUCTIONS)
    w = check_sample_weight(sample_weight, arr)
    return fit_histogram(_histogram(arr, w), n, strategy=strategy, reconstruction=reconstruction)
