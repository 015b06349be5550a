"""The scalar quantizer: edges, a codebook, and fast encode / decode."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from vqimage._shared.arrays import adapter_for
from vqimage._shared.dtypes import parse_dtype
from vqimage._shared.validation import check_choice, check_data, check_n_levels, check_sample_weight
from vqimage.core import strategies as _strategies
from vqimage.core.base import FrozenQuantizer, code_dtype
from vqimage.core.histogram import Histogram, _histogram
from vqimage.errors import FewerLevelsWarning

__all__ = ["RECONSTRUCTIONS", "Quantizer", "code_dtype", "fit", "fit_histogram"]

RECONSTRUCTIONS = ("centroid", "midpoint")
_LUT_KINDS = {"u1", "i1", "u2", "i2"}


def _lut_key(dt: np.dtype) -> str:
    return f"{dt.kind}{dt.itemsize}"




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

    __slots__ = ("_cache", "codebook", "dtype", "edges", "reconstruction", "strategy")
    _STATE = ("edges", "codebook", "dtype", "strategy", "reconstruction")

    edges: np.ndarray
    codebook: np.ndarray
    dtype: np.dtype
    strategy: str
    reconstruction: str

    def __init__(
        self,
        edges: Any,
        codebook: Any,
        *,
        dtype: Any = np.float64,
        strategy: str = "custom",
        reconstruction: str = "centroid",
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
        if (np.diff(e) < 0).any():
            raise ValueError("edges must be non-decreasing")
        dt = np.dtype(dtype)
        if dt.kind not in "uif":
            raise TypeError(f"dtype must be a real integer or float dtype, got {dt}")
        e.flags.writeable = False
        c.flags.writeable = False
        set_ = object.__setattr__
        set_(self, "edges", e)
        set_(self, "codebook", c)
        set_(self, "dtype", dt)
        set_(self, "strategy", str(strategy))
        set_(self, "reconstruction", str(reconstruction))
        set_(self, "_cache", {})

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
        c = (self.edges[1:] + self.edges[:-1]) * 0.5
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
            book = self.codebook
            if self.dtype.kind in "ui":
                info = np.iinfo(self.dtype)
                book = np.clip(np.rint(book), info.min, info.max)
            elif self.dtype.itemsize < 8:
                # A codebook read from a file may exceed float16/32: clip, as for integers,
                # rather than overflow to infinity with a RuntimeWarning.
                finfo = np.finfo(self.dtype)
                book = np.clip(book, float(finfo.min), float(finfo.max))
            self._cache["dec"] = book.astype(self.dtype)
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
        range). Codes must be integers in ``[0, n_levels)``.

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
        return {
            "kind": "scalar",
            "strategy": self.strategy,
            "reconstruction": self.reconstruction,
            "dtype": self.dtype.str,
            "edges": [float(v) for v in self.edges],
            "codebook": [float(v) for v in self.codebook],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Quantizer:
        """Rebuild a quantizer from :meth:`to_dict` output; ``ValueError`` if malformed."""
        if not isinstance(d, dict):
            raise ValueError(f"expected a dict describing a quantizer, got {type(d).__name__}")
        if d.get("kind", "scalar") != "scalar":
            raise ValueError(f"not a scalar quantizer: kind {d.get('kind')!r}")
        missing = {"edges", "codebook", "dtype"} - set(d)
        if missing:
            raise ValueError(f"quantizer description lacks {', '.join(sorted(missing))}")
        try:
            dtype = parse_dtype(d["dtype"])  # untrusted text: an allow-list, not np.dtype
        except ValueError as exc:
            raise ValueError(f"quantizer has an unknown dtype {d['dtype']!r}") from exc
        try:
            edges = np.asarray(d["edges"], dtype=np.float64)
            book = np.asarray(d["codebook"], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError("quantizer edges and codebook must be lists of numbers") from exc
        try:
            return cls(
                edges,
                book,
                dtype=dtype,
                strategy=str(d.get("strategy", "custom")),
                reconstruction=str(d.get("reconstruction", "centroid")),
            )
        except TypeError as exc:
            raise ValueError(str(exc)) from exc


def fit_histogram(
    hist: Histogram,
    n_levels: int,
    *,
    strategy: str = "optimal",
    reconstruction: str = "centroid",
) -> Quantizer:
    """Fit a :class:`Quantizer` from a precomputed :class:`~vqimage.histogram.Histogram`.

    This is what :func:`fit` does after counting values; use it to fit once from histograms
    merged across chunks, files or workers.

    Examples
    --------
    >>> import numpy as np
    >>> from vqimage import histogram
    >>> h = histogram(np.array([0, 0, 10, 10, 250], dtype=np.uint8))
    >>> fit_histogram(h, 2).codebook.tolist()
    [5.0, 250.0]
    """
    n = check_n_levels(n_levels)
    check_choice(strategy, "strategy", tuple(_strategies.STRATEGIES))
    check_choice(reconstruction, "reconstruction", RECONSTRUCTIONS)
    x, w = hist.values, hist.counts
    if x.size == 0:
        raise ValueError("the histogram is empty")
    if strategy in ("uniform", "quantile"):
        edges = _strategies.STRATEGIES[strategy](x, w, n, dtype=hist.dtype)
    else:
        edges = _strategies.STRATEGIES[strategy](x, w, n)
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
    if reconstruction == "centroid":
        book = _strategies.centroids(x, w, edges)
    else:
        book = (edges[1:] + edges[:-1]) * 0.5
    return Quantizer(
        edges, book, dtype=hist.dtype, strategy=strategy, reconstruction=reconstruction
    )


def fit(
    data: Any,
    n_levels: int,
    *,
    strategy: str = "optimal",
    reconstruction: str = "centroid",
    sample_weight: Any = None,
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

    Returns
    -------
    Quantizer

    Notes
    -----
    The data is reduced to a histogram first (:func:`vqimage.histogram.histogram`): O(n) for
    integers, O(n log n) for floats; every strategy then works on the ``m`` distinct values
    (``optimal``: O(k m^2) or O(k m log m), see :func:`vqimage.strategies.optimal`).

    A dask array is fitted chunk by chunk from merged histograms (:func:`vqimage.dask.fit`):
    integer data gives this quantizer bit for bit, floats one within a stated bound.

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
    """
    if (adapter := adapter_for(data)) is not None:

        return adapter.fit(data, n_levels, strategy=strategy, reconstruction=reconstruction,
                        sample_weight=sample_weight)
    arr = check_data(data)
    n = check_n_levels(n_levels)
    check_choice(strategy, "strategy", tuple(_strategies.STRATEGIES))
    check_choice(reconstruction, "reconstruction", RECONSTRUCTIONS)
    w = check_sample_weight(sample_weight, arr)
    return fit_histogram(_histogram(arr, w), n, strategy=strategy, reconstruction=reconstruction)
