"""Dask arrays: fit from merged per-chunk histograms, encode and decode lazily.

``vqimage.fit``, ``Quantizer.encode``, ``decode`` and ``quantize`` hand dask arrays to this module
(it needs the ``dask`` extra: ``pip install "vqimage[dask]"``); call it directly for the options
the core signatures do not have (``bins``, ``exact``).

Fitting never gathers the data: every chunk is reduced to a histogram where it lives, the
histograms are merged in a tree, and only the merged histogram reaches the caller, where
:func:`vqimage.fit_histogram` fits it.

- **Integer data** (any width) is counted exactly, so the quantizer is the in-memory one bit for
  bit (counts are integers and add exactly; with fractional ``sample_weight`` only the order of
  floating additions differs). 8- and 16-bit data has at most 65,536 distinct values; wider
  integers carry one histogram entry per distinct value.
- **Float data** takes two passes: the range ``[lo, hi]`` (with the finiteness check), then a
  fixed grid of ``bins`` equal bins of width ``w = (hi - lo) / bins`` (65,536 by default) holding
  each bin's count, sum, minimum and maximum. A bin is represented by its values' mean (by its
  value when it holds only one), so every value is moved by at most ``w``, and the order of
  values is kept. Data whose distinct values fall in distinct bins (e.g. 8-bit images scaled to
  floats) is therefore counted exactly and fitted bit for bit. ``exact=True`` counts every
  distinct float instead (a sort per chunk; the histogram grows with the distinct values).

Error bound of the binned float fit, against :func:`vqimage.fit` on the same data in memory,
with ``w = (max - min) / bins``:

- ``uniform`` and ``quantile``: every edge is within ``w`` of the in-memory edge (when both fit
  the same number of levels: a bin narrower than 1e-8 may be dropped on one side only), because
  the representation moves each value by at most ``w`` and keeps their order, and these edges
  are interpolations of order statistics (the extremes included).
- ``optimal`` with ``reconstruction="centroid"``: the root-mean-square error of the fitted
  quantizer on the data is at most ``2 w`` above the in-memory optimum:
  ``sqrt(mse_dask) <= sqrt(mse_memory) + 2 w``. (The fitted quantizer is optimal for the
  represented data and assigns each value to its nearest level; both steps cost at most ``w`` of
  RMS by the triangle inequality.)
- ``kmeans`` is a local method; its result is not bounded against the in-memory run beyond the
  ``w`` displacement of its input.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from vqimage._shared.validation import check_choice, check_n_levels
from vqimage.codecs import CODEC_CHOICES, encode_best, get_codec
from vqimage.core.histogram import Histogram, _histogram
from vqimage.core.protocol import QuantizerProtocol
from vqimage.core.quantizer import RECONSTRUCTIONS, fit_histogram
from vqimage.core.strategies import STRATEGIES
from vqimage.vqi.chunked import ChunkedWriter, open_chunked

__all__ = [
    "DEFAULT_BINS",
    "compress",
    "decode",
    "encode",
    "fit",
    "histogram",
    "is_dask_array",
    "quantize",
]

DEFAULT_BINS = 65536
# Histograms are merged this many at a time, in a tree (bounds the memory of one merge task).
_SPLIT_EVERY = 8


def is_dask_array(x: Any) -> bool:
    """True for dask collections (checked without importing dask).

    Examples
    --------
    >>> import numpy as np
    >>> is_dask_array(np.zeros(3))
    False
    """
    return type(x).__module__.split(".", 1)[0] == "dask"


# -- validation --------------------------------------------------------------------------------
def _as_dask(x: Any, name: str = "data") -> Any:
    import dask.array as da

    if not isinstance(x, da.Array):
        raise TypeError(f"{name} must be a dask array, got {type(x).__name__}")
    kind = x.dtype.kind
    if kind == "b":
        raise TypeError(f"{name} has dtype bool; convert it to an integer or float dtype first")
    if kind not in "uif":
        raise TypeError(f"{name} has dtype {x.dtype}, expected a real integer or floating dtype")
    if any(math.isnan(s) for s in x.shape):
        raise ValueError(f"{name} has unknown chunk sizes; call compute_chunk_sizes() first")
    if x.size == 0:
        raise ValueError(f"{name} is empty (shape {x.shape})")
    return x


def _as_weights(sample_weight: Any, x: Any) -> Any:
    if sample_weight is None:
        return None
    import dask.array as da

    w = sample_weight if isinstance(sample_weight, da.Array) else np.asarray(sample_weight)
    if w.dtype.kind not in "uif":
        raise TypeError(f"sample_weight has dtype {w.dtype}, expected a real dtype")
    if tuple(w.shape) != tuple(x.shape):
        raise ValueError(
            f"sample_weight has shape {tuple(w.shape)}, expected {tuple(x.shape)} "
            "(the data's shape)"
        )
    if isinstance(w, da.Array):
        return w.rechunk(x.chunks)
    return da.from_array(w, chunks=x.chunks)


def _chunk_name(block_id: tuple[int, ...]) -> str:
    return f"chunk {tuple(int(i) for i in block_id)}"


def _check_block(block: np.ndarray, block_id: tuple[int, ...]) -> None:
    """Raise ``ValueError`` naming the chunk (and the index inside it) of a NaN or infinity."""
    if block.dtype.kind == "f" and not np.isfinite(block.sum(dtype=np.float64)):
        bad = ~np.isfinite(block)
        if bad.any():
            flat = int(np.flatnonzero(bad.ravel())[0])
            what = "NaN" if np.isnan(block.ravel()[flat]) else "infinity"
            idx = tuple(int(i) for i in np.unravel_index(flat, block.shape))
            raise ValueError(f"data contains {what} in {_chunk_name(block_id)} at index {idx}")


def _block_weights(w: np.ndarray | None, block_id: tuple[int, ...]) -> np.ndarray | None:
    if w is None:
        return None
    w = np.asarray(w, dtype=np.float64).ravel()
    if not np.isfinite(w).all():
        raise ValueError(f"sample_weight contains NaN or infinity in {_chunk_name(block_id)}")
    if (w < 0).any():
        raise ValueError(f"sample_weight contains negative values in {_chunk_name(block_id)}")
    return w


# -- per-chunk kernels (run on the workers) ----------------------------------------------------
def _exact_block(block: np.ndarray, w: Any, block_id: tuple[int, ...]) -> Histogram:
    block = np.asarray(block)
    _check_block(block, block_id)
    wf = _block_weights(w, block_id)
    if wf is not None and not (wf > 0).any():
        return Histogram(np.empty(0), np.empty(0), block.dtype)
    return _histogram(block, wf)


def _merge_exact(*parts: Histogram) -> Histogram:
    return parts[0].merge(*parts[1:])


def _range_block(block: np.ndarray, w: Any, block_id: tuple[int, ...]) -> tuple[float, float]:
    block = np.asarray(block)
    _check_block(block, block_id)
    wf = _block_weights(w, block_id)
    flat = block.ravel() if wf is None else block.ravel()[wf > 0]
    if flat.size == 0:
        return (math.inf, -math.inf)
    return (float(flat.min()), float(flat.max()))


def _merge_range(*parts: tuple[float, float]) -> tuple[float, float]:
    return (min(p[0] for p in parts), max(p[1] for p in parts))


def _binned_block(
    block: np.ndarray, w: Any, lo: float, hi: float, bins: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Count, weighted sum, minimum and maximum of the values in each of ``bins`` equal bins."""
    flat = np.asarray(block).ravel().astype(np.float64, copy=False)
    wf = None if w is None else np.asarray(w, dtype=np.float64).ravel()
    if wf is not None:
        keep = wf > 0
        flat, wf = flat[keep], wf[keep]
    idx = _bin_index(flat, lo, hi, bins)
    counts = np.bincount(idx, weights=wf, minlength=bins)
    sums = np.bincount(idx, weights=flat if wf is None else flat * wf, minlength=bins)
    mins = np.full(bins, np.inf)
    maxs = np.full(bins, -np.inf)
    np.minimum.at(mins, idx, flat)
    np.maximum.at(maxs, idx, flat)
    return counts, sums, mins, maxs


def _bin_index(flat: np.ndarray, lo: float, hi: float, bins: int) -> np.ndarray:
    # Halving keeps ranges wider than the largest float (e.g. -1e308 .. 1e308) finite.
    scale = bins / (hi * 0.5 - lo * 0.5)
    idx = ((flat * 0.5 - lo * 0.5) * scale).astype(np.intp)
    # The maximum lands on ``bins`` exactly; rounding may push a value one bin either way, which
    # keeps the order of values (the map is monotone) and moves a value by at most one bin.
    np.clip(idx, 0, bins - 1, out=idx)
    return idx


def _merge_binned(
    *parts: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    counts = np.sum([p[0] for p in parts], axis=0)
    sums = np.sum([p[1] for p in parts], axis=0)
    mins = np.min([p[2] for p in parts], axis=0)
    maxs = np.max([p[3] for p in parts], axis=0)
    return counts, sums, mins, maxs


def _binned_histogram(
    stats: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], dtype: np.dtype
) -> Histogram:
    counts, sums, mins, maxs = stats
    nz = counts > 0
    c, s, lo, hi = counts[nz], sums[nz], mins[nz], maxs[nz]
    # A bin holding one distinct value keeps it exactly; others are represented by their mean,
    # clipped into the bin's own range so the values stay strictly increasing.
    values = np.where(lo == hi, lo, np.clip(s / c, lo, hi))
    return Histogram(values, c, np.dtype(dtype))


# -- graph helpers -----------------------------------------------------------------------------
def _blocks(x: Any, w: Any) -> list[tuple[tuple[int, ...], Any, Any]]:
    xb = x.to_delayed()
    wb = None if w is None else w.to_delayed()
    return [(idx, xb[idx], None if wb is None else wb[idx]) for idx in np.ndindex(xb.shape)]


def _tree(parts: list[Any], merge: Any) -> Any:
    from dask import delayed

    merge_d = delayed(merge, pure=True)
    while len(parts) > 1:
        parts = [
            merge_d(*parts[i : i + _SPLIT_EVERY]) if len(parts[i : i + _SPLIT_EVERY]) > 1
            else parts[i]
            for i in range(0, len(parts), _SPLIT_EVERY)
        ]
    return parts[0]


def _compute(obj: Any) -> Any:
    import dask

    (out,) = dask.compute(obj)
    return out


# -- public API --------------------------------------------------------------------------------
def histogram(
    data: Any,
    *,
    sample_weight: Any = None,
    bins: int = DEFAULT_BINS,
    exact: bool | None = None,
) -> Histogram:
    """Histogram of a dask array, reduced chunk by chunk (only histograms are gathered).

    Parameters
    ----------
    data : dask.array.Array
        Real integer or float data of any shape and chunking.
    sample_weight : array_like or dask.array.Array, optional
        Non-negative weights with the data's shape (rechunked to the data's chunks).
    bins : int
        Number of equal bins of the float grid (the second pass); ignored for exact histograms.
    exact : bool, optional
        Count every distinct value (default for integer data). ``False`` for integer data bins
        it like floats; ``True`` for float data sorts each chunk and merges exactly.

    Returns
    -------
    Histogram
        Integer data: equal to :func:`vqimage.histogram` of the computed array. Binned
        float data: every value replaced by its bin's representative, at most
        ``(max - min) / bins`` away (see the module notes).

    Raises
    ------
    ValueError
        NaN or infinity in the data (the message names the chunk and the index in it), bad
        weights, or all weights zero.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> x = da.from_array(np.array([[1, 1], [2, 9]], dtype=np.uint8), chunks=1)
    >>> h = histogram(x)
    >>> h.values.tolist(), h.counts.tolist()
    ([1.0, 2.0, 9.0], [2.0, 1.0, 1.0])
    """
    from dask import delayed

    x = _as_dask(data)
    w = _as_weights(sample_weight, x)
    if isinstance(bins, bool) or not isinstance(bins, numbers.Integral) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    use_exact = (x.dtype.kind in "ui") if exact is None else bool(exact)
    blocks = _blocks(x, w)
    if use_exact:
        block_d = delayed(_exact_block, pure=True)
        hist = _compute(_tree([block_d(b, wb, idx) for idx, b, wb in blocks], _merge_exact))
        if hist.values.size == 0:
            raise ValueError("sample_weight is all zero")
        return Histogram(hist.values, hist.counts, x.dtype)
    range_d = delayed(_range_block, pure=True)
    lo, hi = _compute(_tree([range_d(b, wb, idx) for idx, b, wb in blocks], _merge_range))
    if lo > hi:
        raise ValueError("sample_weight is all zero")
    if lo == hi:
        total = _compute(_tree(
            [delayed(_block_weight_sum, pure=True)(b, wb) for _, b, wb in blocks],
            _sum,
        ))
        return Histogram(np.array([lo]), np.array([float(total)]), x.dtype)
    if not math.isfinite(bins / (hi * 0.5 - lo * 0.5)):
        # A range too narrow for a grid (subnormal width): count the values exactly.
        return histogram(data, sample_weight=sample_weight, exact=True)
    binned_d = delayed(_binned_block, pure=True)
    stats = _compute(_tree(
        [binned_d(b, wb, lo, hi, int(bins)) for _, b, wb in blocks], _merge_binned
    ))
    return _binned_histogram(stats, x.dtype)


def _block_weight_sum(block: np.ndarray, w: Any) -> float:
    return float(np.size(block)) if w is None else float(np.sum(w, dtype=np.float64))


def _sum(*parts: float) -> float:
    return float(sum(parts))


def fit(
    data: Any,
    n_levels: int,
    *,
    strategy: str = "optimal",
    reconstruction: str = "centroid",
    sample_weight: Any = None,
    bins: int = DEFAULT_BINS,
    exact: bool | None = None,
) -> Any:
    """Fit a scalar quantizer to a dask array from its merged per-chunk histograms.

    ``vqimage.fit(dask_array, ...)`` calls this. Integer data gives the in-memory quantizer bit
    for bit; float data is fitted from a ``bins``-bin histogram within the bounds stated in the
    module notes (``exact=True`` makes floats exact too). It computes on dask's current
    scheduler (threads by default, a ``distributed.Client`` when one is active).

    Parameters
    ----------
    data : dask.array.Array
    n_levels, strategy, reconstruction, sample_weight
        As for :func:`vqimage.fit`.
    bins, exact
        As for :func:`histogram`.

    Returns
    -------
    Quantizer

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> import vqimage
    >>> img = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)
    >>> q = vqimage.fit(da.from_array(img, chunks=16), 4)
    >>> q == vqimage.fit(img, 4)
    True
    """
    n = check_n_levels(n_levels)
    check_choice(strategy, "strategy", tuple(STRATEGIES))
    check_choice(reconstruction, "reconstruction", RECONSTRUCTIONS)
    hist = histogram(data, sample_weight=sample_weight, bins=bins, exact=exact)
    return fit_histogram(hist, n, strategy=strategy, reconstruction=reconstruction)


def _token(quantizer: QuantizerProtocol, *args: Any) -> str:
    from dask.base import tokenize

    return tokenize(json.dumps(quantizer.to_dict(), sort_keys=True), *args)


def _meta(ndim: int, dtype: Any) -> np.ndarray:
    # Given explicitly so dask never calls the kernels on empty arrays to infer it.
    return np.empty((0,) * ndim, dtype=dtype)


def _layout(quantizer: QuantizerProtocol, x: Any) -> str:
    """How codes relate to values: one code per value, or one per pixel (last axis dropped)."""
    shape = tuple(int(s) for s in x.shape)
    code_shape = tuple(quantizer.code_shape(shape))
    if code_shape == shape:
        return "elementwise"
    if code_shape == shape[:-1]:
        return "pixel"
    raise TypeError(
        f"{getattr(quantizer, 'kind', type(quantizer).__name__)} quantizers do not support dask "
        "arrays (codes must map to values or pixels)"
    )


def _encode_block(
    block: np.ndarray, quantizer: QuantizerProtocol, block_id: Any = None
) -> np.ndarray:
    _check_block(block, block_id or ())
    return quantizer.encode(block)


def _quantize_block(
    block: np.ndarray, quantizer: QuantizerProtocol, block_id: Any = None
) -> np.ndarray:
    _check_block(block, block_id or ())
    return quantizer.quantize(block)


def _decode_block(
    codes: np.ndarray, quantizer: QuantizerProtocol, block_id: Any = None
) -> np.ndarray:
    try:
        return quantizer.decode(codes)
    except ValueError as exc:
        raise ValueError(f"{exc} (in {_chunk_name(block_id or ())})") from None


def encode(quantizer: QuantizerProtocol, data: Any) -> Any:
    """Lazily encode a dask array chunk by chunk (``Quantizer.encode`` calls this).

    Returns a dask array of codes (``quantizer.code_dtype``) with the data's chunks; a NaN is
    reported when computed, naming its chunk. A palette quantizer drops the last (channel) axis,
    which is first gathered into one chunk per pixel block.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from vqimage import Quantizer
    >>> q = Quantizer([0, 10, 20], [5.0, 15.0], dtype=np.uint8)
    >>> x = da.from_array(np.array([3, 12, 19], dtype=np.uint8), chunks=2)
    >>> codes = q.encode(x)
    >>> codes.compute()
    array([0, 1, 1], dtype=uint8)
    >>> q.decode(codes).compute()  # decode() and quantize() are as lazy
    array([ 5, 15, 15], dtype=uint8)
    >>> q.quantize(x).compute()
    array([ 5, 15, 15], dtype=uint8)
    """
    x = _as_dask(data)
    layout = _layout(quantizer, x)
    token = _token(quantizer, x)
    dt = quantizer.code_dtype
    if layout == "elementwise":
        return _lazy(x, _encode_block, quantizer, f"encode-{token}", dt, x.ndim)
    x = x.rechunk({x.ndim - 1: -1})
    return _lazy(x, _encode_block, quantizer, f"encode-{token}", dt, x.ndim - 1,
                 drop_axis=x.ndim - 1)


def _lazy(
    x: Any, block_fn: Any, quantizer: QuantizerProtocol, name: str, dtype: Any, ndim: int, **kw: Any
) -> Any:
    """``block_fn(block, quantizer)`` over every block of ``x``: ``ndim`` dims of ``dtype``."""
    return x.map_blocks(block_fn, quantizer, dtype=dtype, meta=_meta(ndim, dtype),
                        name=f"vqimage-{name}", **kw)


def decode(quantizer: QuantizerProtocol, codes: Any) -> Any:
    """Lazily decode a dask array of codes (``Quantizer.decode`` calls this; see :func:`encode`)."""
    import dask.array as da

    if not isinstance(codes, da.Array):
        raise TypeError(f"codes must be a dask array, got {type(codes).__name__}")
    if codes.dtype.kind not in "ui":
        raise TypeError(f"codes must have an integer dtype, got {codes.dtype}")
    token = _token(quantizer, codes)
    ones = (1,) * codes.ndim
    probe = np.asarray(quantizer.decode(np.zeros(ones, codes.dtype)))
    if probe.shape == ones:
        return _lazy(codes, _decode_block, quantizer, f"decode-{token}", probe.dtype, codes.ndim)
    if probe.shape[:-1] != ones:
        raise TypeError(
            f"{getattr(quantizer, 'kind', type(quantizer).__name__)} quantizers do not support "
            "dask arrays (codes must map to values or pixels)"
        )
    return _lazy(codes, _decode_block, quantizer, f"decode-{token}", probe.dtype, codes.ndim + 1,
                 new_axis=codes.ndim, chunks=(*codes.chunks, (probe.shape[-1],)))


def quantize(quantizer: QuantizerProtocol, data: Any) -> Any:
    """Lazily replace every value of a dask array by its level (``Quantizer.quantize``).

    An elementwise quantizer maps each block directly; others encode, then decode. Example: see
    :func:`encode`.
    """
    x = _as_dask(data)
    if _layout(quantizer, x) == "elementwise":
        token = _token(quantizer, x)
        return _lazy(x, _quantize_block, quantizer, f"quantize-{token}", quantizer.dtype, x.ndim)
    return decode(quantizer, encode(quantizer, x))


# -- chunked .vqi files ------------------------------------------------------------------------
def _encode_chunk(
    block: np.ndarray, quantizer: QuantizerProtocol, codec: str, block_id: tuple[int, ...]
) -> tuple[tuple[int, ...], int, bytes]:
    """Encode one chunk on a worker: ``(block index, codec id, payload)``."""
    block = np.asarray(block)
    _check_block(block, block_id)
    codes = np.asarray(quantizer.encode(block))
    n = int(quantizer.n_levels)
    if codec == "auto":
        name, payload = encode_best(codes, n)
    else:
        name, payload = codec, get_codec(codec).encode(codes, n)
    return block_id, get_codec(name).id, bytes(payload)


def _as_completed(tasks: list[Any]) -> Iterator[Any]:
    """Compute dask delayed objects, yielding results as they finish (never all at once)."""
    import dask
    from dask.base import get_scheduler

    sched = get_scheduler(collections=tasks[:1])
    client = getattr(sched, "__self__", None)
    if client is not None and type(client).__name__ == "Client":
        from distributed import as_completed

        # Bounded in flight: results are written and released as they arrive.
        window = max(4, 2 * sum(client.nthreads().values()))
        pending = iter(tasks)
        futures = as_completed(client.compute([t for _, t in zip(range(window), pending)]),
                               with_results=True)
        for fut, result in futures:
            nxt = next(pending, None)
            if nxt is not None:
                futures.add(client.compute(nxt))
            fut.release()
            yield result
        return
    window = max(4, 2 * (os.cpu_count() or 1))
    for start in range(0, len(tasks), window):
        yield from dask.compute(*tasks[start : start + window])


def compress(
    data: Any,
    n_levels: int = 8,
    *,
    path: str | os.PathLike[str],
    strategy: str = "optimal",
    reconstruction: str = "centroid",
    quantizer: QuantizerProtocol | None = None,
    codec: str = "auto",
    overwrite: bool = False,
) -> Any:
    """Write a dask array to a chunked ``.vqi`` file, chunk by chunk.

    ``vqimage.compress(dask_array, ..., path=...)`` calls this. The quantizer is fitted from
    merged per-chunk histograms (:func:`fit`), every chunk is encoded where it lives, and the
    coded chunks are appended to the file as they finish
    (:class:`vqimage.vqi.chunked.ChunkedWriter`): neither the image nor its codes are ever held
    whole in memory.

    Parameters
    ----------
    data : dask.array.Array
        Real integer or float data; its chunks become the file's chunks.
    n_levels, strategy, reconstruction
        Fit a scalar quantizer from the merged per-chunk histograms (bit for bit the in-memory
        fit for integer data).
    quantizer : optional
        A fitted quantizer (scalar, or palette with the channels on the last axis) to use
        instead of fitting.
    codec : str
        A name from :data:`vqimage.codecs.CODEC_CHOICES`; ``auto`` picks the smallest per chunk.
    path : str or path-like
        The file to write. It appears only when complete (temporary file + rename); any failure
        leaves nothing behind.
    overwrite : bool
        Replace an existing file; otherwise ``FileExistsError`` before any work.

    Returns
    -------
    ChunkedImage
        The written file, opened for reading.

    Examples
    --------
    >>> import dask.array as da, numpy as np, os, tempfile
    >>> import vqimage
    >>> img = (np.arange(120 * 90) % 251).astype(np.uint8).reshape(120, 90)
    >>> out = os.path.join(tempfile.mkdtemp(), "big.vqi")
    >>> c = vqimage.compress(da.from_array(img, chunks=50), 16, codec="packed", path=out)
    >>> c.shape, c.n_chunks, c.quantizer == vqimage.fit(img, 16)
    ((120, 90), 6, True)
    >>> np.array_equal(vqimage.load(out).to_dask().compute(), c.quantizer.quantize(img))
    True
    """
    from dask import delayed

    x = _as_dask(data, "image")
    check_choice(codec, "codec", CODEC_CHOICES)
    target = os.fspath(path)
    if os.path.isdir(target):
        raise IsADirectoryError(f"{target} is a directory; give a file path to write to")
    if not overwrite and os.path.lexists(target):
        raise FileExistsError(f"{target} exists; pass overwrite=True to replace it")
    if quantizer is None:
        quantizer = fit(x, n_levels, strategy=strategy, reconstruction=reconstruction)
    elif not hasattr(quantizer, "encode") or not hasattr(quantizer, "to_dict"):
        raise TypeError(f"quantizer must be a fitted vqimage quantizer, got {type(quantizer)}")
    if _layout(quantizer, x) == "pixel":
        x = x.rechunk({x.ndim - 1: -1})
    blocks = x.to_delayed()
    encode_d = delayed(_encode_chunk, pure=True)
    tasks = [encode_d(blocks[idx], quantizer, codec, idx) for idx in np.ndindex(blocks.shape)]
    with ChunkedWriter(target, overwrite=overwrite) as writer:
        for block_id, codec_id, payload in _as_completed(tasks):
            writer.add(block_id, codec_id, payload)
        writer.finish(x.shape, x.chunks, quantizer)
    return open_chunked(target)
