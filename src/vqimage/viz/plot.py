"""Figures: the seed example's picture book and the rate–distortion trade-off.

Every function returns a :class:`matplotlib.figure.Figure` built directly (no ``pyplot``: no
global state, no GUI, nothing is shown); save it with ``fig.savefig(path)``. Images are 2-D
gray arrays or ``(H, W, 3|4)`` colour arrays of any real dtype.

* :func:`image_and_histogram` – the seed's first figure: rendering beside a 256-bin histogram.
* :func:`histogram_with_centers` – the histogram with every bin shaded, a line and a label at
  each bin centre and, where they differ, the codebook values marked distinctly.
* :func:`rate_distortion` – PSNR and SSIM against bits per pixel of the real ``.vqi`` file.
* :func:`compare` – one row per strategy: rendering, histogram, error map.
* :func:`memory_table` – the seed's memory discussion as a table of byte counts.
* :func:`write_demo_figures` – all of the above as PNG files, plus the HTML report.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.transforms import blended_transform_factory

from vqimage._shared.validation import check_choice, check_data, check_n_levels
from vqimage.core import metrics
from vqimage.core.histogram import histogram
from vqimage.core.quantizer import Quantizer, fit
from vqimage.errors import FewerLevelsWarning
from vqimage.viz.demo import memory_sizes

__all__ = [
    "RD_LEVELS",
    "STRATEGIES",
    "VECTOR_MODES",
    "RDPoint",
    "compare",
    "histogram_with_centers",
    "image_and_histogram",
    "memory_table",
    "rate_distortion",
    "rate_distortion_points",
    "vector_modes",
    "write_demo_figures",
]

STRATEGIES = ("uniform", "quantile", "kmeans", "optimal")
RD_LEVELS = (2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128, 256)
# One colour per strategy, the same in every figure and in the report.
STRATEGY_COLORS = {
    "uniform": "tab:blue",
    "quantile": "tab:green",
    "kmeans": "tab:orange",
    "optimal": "tab:red",
}
STRATEGY_MARKERS = {"uniform": "s", "quantile": "D", "kmeans": "v", "optimal": "o"}
# Vector quantizers, usable wherever a strategy is named in the rate–distortion functions:
# ``palette`` (vqimage.fit_palette), ``channels`` (one optimal scalar quantizer per channel,
# vqimage.channels.fit_channels) and ``blocks`` (2x2 pixel blocks, vqimage.fit_blocks).
VECTOR_MODES = ("palette", "channels", "blocks")
STRATEGY_COLORS.update({"palette": "tab:brown", "channels": "tab:pink", "blocks": "tab:purple"})
STRATEGY_MARKERS.update({"palette": "P", "channels": "X", "blocks": "^"})
LOSSLESS_MARKER = "*"
CENTER_COLOR = "tab:orange"
CODEBOOK_COLOR = "tab:green"

Progress = Callable[[int, int, str], Any]


# -- input checks and display helpers --------------------------------------------------------
def _is_colour(a: np.ndarray) -> bool:
    return a.ndim == 3 and a.shape[-1] in (3, 4)


def _check_image(image: Any, name: str = "image") -> np.ndarray:
    arr = check_data(image, name)
    if arr.ndim != 2 and not _is_colour(arr):
        raise ValueError(
            f"{name} must be 2-D (gray) or (H, W, 3|4) (colour), got shape {arr.shape}"
        )
    return arr


def _value_range(a: np.ndarray) -> tuple[float, float]:
    lo, hi = float(a.min()), float(a.max())
    return (lo - 0.5, hi + 0.5) if lo == hi else (lo, hi)


def _data_range(a: np.ndarray) -> float | None:
    """What psnr/ssim get: the dtype's range for integers (their default), else the span."""
    if a.dtype.kind in "ui":
        return None
    lo, hi = _value_range(a)
    return hi - lo


def _show(ax: Any, a: np.ndarray, lo: float, hi: float) -> None:
    if _is_colour(a):
        if a.dtype != np.uint8:
            a = np.clip((a.astype(np.float64) - lo) / (hi - lo), 0.0, 1.0)
        ax.imshow(a, interpolation="antialiased")
    else:
        ax.imshow(a, cmap="gray", vmin=lo, vmax=hi, interpolation="antialiased")
    ax.axis("off")


def _draw_histogram(ax: Any, a: np.ndarray, lo: float, hi: float, bins: int = 256) -> None:
    # The seed's ``ax.hist(a.ravel(), bins=256)``, cheaper twice over: distinct values are
    # counted once (O(n) for integers) before binning, and one filled step patch replaces
    # 256 bar patches (same picture, a fraction of the drawing time).
    h = histogram(a)
    counts, edges = np.histogram(h.values, bins=bins, range=(lo, hi), weights=h.counts)
    ax.stairs(counts, edges, fill=True, color="tab:blue")
    ax.set_xlim(lo, hi)
    ax.set_ylim(0, max(float(counts.max()), 1.0) * 1.05)


def vector_modes(image: Any) -> tuple[str, ...]:
    """The vector quantizers to compare on ``image``: ``blocks`` against the scalar levels of a
    gray image, ``channels`` and ``palette`` for an 8/16-bit RGB(A) image, else none."""
    a = np.asarray(image)
    if a.ndim == 2:
        return ("blocks",)
    if _is_colour(a) and a.dtype in (np.uint8, np.uint16):
        return ("channels", "palette")
    return ()


def _fit(image: np.ndarray, k: int, strategy: str) -> Quantizer:
    with warnings.catch_warnings():
        # Fewer levels than asked (few distinct values) is expected at the sweep's high end.
        warnings.simplefilter("ignore", FewerLevelsWarning)
        if strategy == "palette":
            from vqimage.vq.palette import fit_palette

            return fit_palette(image, k)  # type: ignore[return-value]
        if strategy == "channels":
            from vqimage.vq.channels import fit_channels

            return fit_channels(image, k)  # type: ignore[return-value]
        if strategy == "blocks":
            from vqimage.vq.blocks import fit_blocks

            return fit_blocks(image, k)  # type: ignore[return-value]
        return fit(image, k, strategy=strategy)


def _check_strategies(strategies: Any) -> tuple[str, ...]:
    if isinstance(strategies, str):
        strategies = (strategies,)
    out = tuple(strategies)
    if not out:
        raise ValueError("strategies is empty")
    for s in out:
        check_choice(s, "strategy", STRATEGIES + VECTOR_MODES)
    return out


def _check_levels(n_levels: Any) -> tuple[int, ...]:
    if isinstance(n_levels, (int, np.integer)) and not isinstance(n_levels, bool):
        n_levels = (n_levels,)
    out = tuple(check_n_levels(k) for k in n_levels)
    if not out:
        raise ValueError("n_levels is empty")
    return out


# -- measurements shared by the figures and the report ---------------------------------------
@dataclass(frozen=True)
class RDPoint:
    """One quantizer measured on one image: quality and the real size of its ``.vqi`` file.

    Attributes
    ----------
    strategy : str
    n_levels : int
        Levels asked for; ``quantizer.n_levels`` may be fewer (few distinct values).
    quantizer : Quantizer
    mse, psnr, ssim : float
        Reconstruction quality (``psnr`` is ``inf`` when lossless).
    entropy : float
        Bits per code of the codes' empirical distribution.
    vqi_bytes : int
        ``len(vqimage.compress(image, quantizer=quantizer).tobytes())``.
    bits_per_pixel : float
        ``vqi_bytes * 8 / image.size``.
    """

    strategy: str
    n_levels: int
    quantizer: Quantizer
    mse: float
    psnr: float
    ssim: float
    entropy: float
    vqi_bytes: int
    bits_per_pixel: float


def _fingerprint(a: np.ndarray) -> tuple[Any, ...]:
    digest = hashlib.blake2b(np.ascontiguousarray(a).view(np.uint8).reshape(-1), digest_size=16)
    return (a.shape, a.dtype.str, digest.hexdigest())


class _Session:
    """Fitted quantizers and their measurements for one image, reused across figures.

    Each (strategy, n_levels) is fitted once; reconstructions that come out identical (e.g.
    several strategies at 256 levels of 8-bit data) are measured once.
    """

    def __init__(self, image: np.ndarray) -> None:
        self.image = image
        self.fingerprint = _fingerprint(image)
        self.data_range = _data_range(image)
        self.channel_axis = -1 if _is_colour(image) else None
        self._quantizers: dict[tuple[str, int], Quantizer] = {}
        self._points: dict[tuple[str, int], RDPoint] = {}
        self._by_reconstruction: dict[bytes, tuple[float, float, float]] = {}
        self._ssim: metrics._SSIMReference | None = None

    def quantizer(self, strategy: str, k: int) -> Quantizer:
        key = (strategy, k)
        if key not in self._quantizers:
            self._quantizers[key] = _fit(self.image, k, strategy)
        return self._quantizers[key]

    def _ssim_reference(self) -> metrics._SSIMReference:
        if self._ssim is None:
            self._ssim = metrics._SSIMReference(
                self.image, data_range=self.data_range, channel_axis=self.channel_axis
            )
        return self._ssim

    def quality(self, rec: np.ndarray) -> tuple[float, float, float]:
        key = hashlib.blake2b(np.ascontiguousarray(rec).view(np.uint8).reshape(-1)).digest()
        if key not in self._by_reconstruction:
            kw = {} if self.data_range is None else {"data_range": self.data_range}
            self._by_reconstruction[key] = (
                metrics.mse(rec, self.image),
                metrics.psnr(rec, self.image, **kw),
                self._ssim_reference()(rec),
            )
        return self._by_reconstruction[key]

    def _measure(self, strategy: str, k: int) -> RDPoint:
        from vqimage.vqi.compressed import compress

        q = self.quantizer(strategy, k)
        codes = q.encode(self.image)
        # Block codebooks decode whole (edge-padded) blocks: crop to the image.
        rec = q.decode(codes)[tuple(slice(0, n) for n in self.image.shape)]
        mse, psnr, ssim = self.quality(rec)
        nbytes = len(compress(self.image, quantizer=q).tobytes())
        return RDPoint(strategy, k, q, mse, psnr, ssim, metrics.entropy(codes), nbytes,
                       nbytes * 8 / self.image.size)

    def point(self, strategy: str, k: int) -> RDPoint:
        key = (strategy, k)
        if key not in self._points:
            self._points[key] = self._measure(strategy, k)
        return self._points[key]

    def points(
        self, keys: Sequence[tuple[str, int]], progress: Progress | None = None
    ) -> list[RDPoint]:
        """Measure ``keys`` (strategy, n_levels), several at a time, in the order given."""
        todo = list(dict.fromkeys(k for k in keys if k not in self._points))
        for s, k in todo:
            self.quantizer(s, k)
        self._ssim_reference()
        workers = min(len(todo), _WORKERS)
        done = len(keys) - len(todo)
        if done and progress is not None:
            progress(done, len(keys), "measured earlier")

        def report(key: tuple[str, int]) -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, len(keys), f"{key[0]}, {key[1]} levels")

        if workers <= 1:
            for key in todo:
                self.point(*key)
                report(key)
        else:
            # Filtering, compression and numpy arithmetic release the GIL: threads overlap.
            from concurrent.futures import ThreadPoolExecutor, as_completed

            with ThreadPoolExecutor(workers) as pool:
                futures = {pool.submit(self._measure, *key): key for key in todo}
                for f in as_completed(futures):
                    self._points[futures[f]] = f.result()
                    report(futures[f])
        return [self._points[key] for key in keys]


_WORKERS = max(1, min(4, os.cpu_count() or 1))


def _session(image: np.ndarray, cache: dict[str, Any] | None) -> _Session:
    if cache is None:
        return _Session(image)
    s = cache.get("session")
    if not isinstance(s, _Session) or s.fingerprint != _fingerprint(image):
        s = cache["session"] = _Session(image)
    return s


def rate_distortion_points(
    image: Any,
    strategies: Sequence[str] = STRATEGIES,
    n_levels: Sequence[int] = RD_LEVELS,
    *,
    cache: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> list[RDPoint]:
    """Measure every (strategy, n_levels) pair: quality and the real ``.vqi`` size.

    Parameters
    ----------
    image : array_like
        2-D gray or ``(H, W, 3|4)`` colour image.
    strategies : sequence of str
        Strategies to fit (``uniform``, ``quantile``, ``kmeans``, ``optimal``).
    n_levels : sequence of int
        Numbers of levels to fit, each in [2, 65536].
    cache : dict, optional
        A dict reused across calls on the same image (quantizers and measurements are kept in
        it); a different image replaces its content.
    progress : callable, optional
        Called as ``progress(step, total, message)`` after each point.

    Returns
    -------
    list of RDPoint
        In the order strategy by strategy, then level by level.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.arange(4096, dtype=np.uint16).reshape(64, 64) % 256
    >>> pts = rate_distortion_points(img.astype(np.uint8), ["uniform"], [2, 16])
    >>> [(p.n_levels, round(p.psnr, 1)) for p in pts]
    [(2, 16.8), (16, 34.8)]
    """
    img = _check_image(image)
    strategies = _check_strategies(strategies)
    levels = _check_levels(n_levels)
    session = _session(img, cache)
    return session.points([(s, k) for s in strategies for k in levels], progress)


# -- the seed's figures ----------------------------------------------------------------------
def image_and_histogram(
    image: Any,
    title: str | None = None,
    *,
    hist_title: str = "Distribution of the pixel values",
    value_range: tuple[float, float] | None = None,
) -> Figure:
    """The seed's two-panel figure: the rendering beside a 256-bin histogram of its values.

    Parameters
    ----------
    image : array_like
        2-D gray (rendered with the gray colour map) or ``(H, W, 3|4)`` colour image.
    title : str, optional
        Figure title (the seed's ``suptitle``).
    hist_title : str
        Title of the histogram panel.
    value_range : (float, float), optional
        Display range and histogram range; default the image's ``(min, max)``. Pass the
        original's range when drawing a quantized version so both look alike.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: the rendering, the histogram.

    Examples
    --------
    >>> import numpy as np
    >>> fig = image_and_histogram(np.arange(256, dtype=np.uint8).reshape(16, 16), "A ramp")
    >>> [ax.get_title() for ax in fig.axes]
    ['Rendering of the image', 'Distribution of the pixel values']
    """
    img = _check_image(image)
    lo, hi = value_range if value_range is not None else _value_range(img)
    fig = Figure(figsize=(12, 4), layout="constrained")
    ax_img, ax_hist = fig.subplots(ncols=2)
    _show(ax_img, img, lo, hi)
    ax_img.set_title("Rendering of the image")
    _draw_histogram(ax_hist, img, lo, hi)
    ax_hist.set_xlabel("Pixel value")
    ax_hist.set_ylabel("Count of pixels")
    ax_hist.set_title(hist_title)
    if title:
        fig.suptitle(title)
    return fig


def histogram_with_centers(
    image: Any, quantizer: Quantizer, *, title: str | None = None
) -> Figure:
    """The histogram of ``image`` with the quantizer's bins: the seed's third figure.

    Every bin ``[edges[i], edges[i+1])`` is shaded (alternating tints), every bin centre gets
    a vertical line and its value as a label, and the codebook values (the levels
    :meth:`~vqimage.Quantizer.decode` returns) are drawn as dashed lines where they differ
    from the centres.

    Parameters
    ----------
    image : array_like
        The image the quantizer applies to.
    quantizer : Quantizer
        A fitted scalar quantizer (``kind == "scalar"``).
    title : str, optional
        Axes title; default names the strategy and the number of levels.

    Returns
    -------
    matplotlib.figure.Figure
        One axes.

    Examples
    --------
    >>> import numpy as np
    >>> import vqimage
    >>> img = np.arange(256, dtype=np.uint8).reshape(16, 16)
    >>> fig = histogram_with_centers(img, vqimage.fit(img, 4, strategy="uniform"))
    >>> fig.axes[0].get_title()
    'uniform strategy: 4 bins, their centres and codebook'
    """
    img = _check_image(image)
    if getattr(quantizer, "kind", None) != "scalar":
        raise TypeError(
            f"histogram_with_centers needs a scalar Quantizer, got {type(quantizer).__name__}"
        )
    edges, centers, book = quantizer.edges, quantizer.centers, quantizer.codebook
    lo, hi = _value_range(img)
    lo, hi = min(lo, float(edges[0])), max(hi, float(edges[-1]))
    fig = Figure(figsize=(9, 4.5), layout="constrained")
    ax = fig.subplots()
    # The bins as alternating tints, one collection (not one patch per bin).
    spans = [[(a, 0.0), (b, 0.0), (b, 1.0), (a, 1.0)] for a, b in itertools.pairwise(edges)]
    ax.add_collection(PolyCollection(
        spans, facecolors=[("0.80" if i % 2 else "0.92") for i in range(len(spans))],
        linewidths=0, zorder=0, transform=blended_transform_factory(ax.transData, ax.transAxes),
    ), autolim=False)
    _draw_histogram(ax, img, lo, hi)
    ax.set_xlim(lo, hi)
    ax.set_xlabel("Pixel value")
    ax.set_ylabel("Count of pixels")
    k = quantizer.n_levels
    # Above 32 levels the labels would overlap: label every n-th centre (all get a line).
    step = max(1, math.ceil(k / 32))
    above = blended_transform_factory(ax.transData, ax.transAxes)
    for i, c in enumerate(centers):
        ax.axvline(c, color=CENTER_COLOR, lw=1.2 if k <= 64 else 0.6)
        if i % step == 0:
            ax.text(c, 1.01, f"{c:.1f}", transform=above, color=CENTER_COLOR, ha="center",
                    va="bottom", rotation=0 if k <= 8 else 90, fontsize=9 if k <= 16 else 7)
    scale = max(abs(hi - lo), 1.0)
    differ = np.abs(book - centers) > 1e-9 * scale
    for v in book[differ]:
        ax.axvline(v, color=CODEBOOK_COLOR, ls="--", lw=1.0 if k <= 64 else 0.5)
    handles = [
        Line2D([], [], color=CENTER_COLOR, label="bin centre"),
        Patch(color="0.85", label="bins"),
    ]
    if differ.any():
        handles.insert(1, Line2D([], [], color=CODEBOOK_COLOR, ls="--",
                                 label=f"codebook ({quantizer.reconstruction})"))
    ax.legend(handles=handles, loc="upper right", fontsize=8, framealpha=0.9)
    ax.set_title(
        title or f"{quantizer.strategy} strategy: {k} bins, their centres and codebook",
        pad=34 if k > 8 else 18,
    )
    return fig


def rate_distortion(
    image: Any,
    strategies: Sequence[str] = STRATEGIES,
    n_levels: Sequence[int] = RD_LEVELS,
    *,
    cache: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> Figure:
    """PSNR and SSIM against bits per pixel of the real ``.vqi`` file, one curve per strategy.

    Each quantizer is fitted once and compressed with :func:`vqimage.compress`; bits per pixel
    is ``len(compress(image, quantizer=q).tobytes()) * 8 / image.size`` (header included).
    Lossless points (PSNR infinite) are drawn as stars at the top of the PSNR panel.

    Parameters
    ----------
    image : array_like
        2-D gray or ``(H, W, 3|4)`` colour image.
    strategies : sequence of str
    n_levels : sequence of int
    cache, progress
        As in :func:`rate_distortion_points`.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes (PSNR, SSIM), each with one line per strategy.
    """
    points = rate_distortion_points(image, strategies, n_levels, cache=cache, progress=progress)
    return _rate_distortion_figure(points, _check_strategies(strategies))


def _rate_distortion_figure(points: Sequence[RDPoint], strategies: Sequence[str]) -> Figure:
    fig = Figure(figsize=(12, 4.5), layout="constrained")
    ax_p, ax_s = fig.subplots(ncols=2)
    finite = [p.psnr for p in points if math.isfinite(p.psnr)]
    top = (max(finite) + 3.0) if finite else 60.0
    for s in strategies:
        pts = sorted((p for p in points if p.strategy == s), key=lambda p: p.bits_per_pixel)
        # Curves often overlap (uniform and k-means under entropy coding): distinct markers
        # keep each visible.
        style = {"color": STRATEGY_COLORS[s], "marker": STRATEGY_MARKERS[s], "ms": 4,
                 "lw": 1.4, "label": s}
        fin = [p for p in pts if math.isfinite(p.psnr)]
        ax_p.plot([p.bits_per_pixel for p in fin], [p.psnr for p in fin], **style)
        lossless = [p for p in pts if not math.isfinite(p.psnr)]
        if lossless:
            ax_p.plot([p.bits_per_pixel for p in lossless], [top] * len(lossless),
                      LOSSLESS_MARKER, color=STRATEGY_COLORS[s], ms=11, clip_on=False)
        ax_s.plot([p.bits_per_pixel for p in pts], [p.ssim for p in pts], **style)
    # Label the levels along one curve so the x axis can be read as "k".
    ref = "optimal" if "optimal" in strategies else strategies[0]
    for p in points:
        if p.strategy == ref and math.isfinite(p.psnr):
            ax_p.annotate(f"{p.quantizer.n_levels}", (p.bits_per_pixel, p.psnr),
                          textcoords="offset points", xytext=(4, -11), fontsize=7,
                          color=STRATEGY_COLORS[ref])
    extra = []
    if any(not math.isfinite(p.psnr) for p in points):
        extra = [Line2D([], [], ls="", marker=LOSSLESS_MARKER, color="0.3", ms=9,
                        label="lossless (PSNR ∞)")]
        ax_p.set_ylim(top=top + 2.0)
    ax_p.set_xlabel("bits per pixel (.vqi file)")
    ax_p.set_ylabel("PSNR (dB)")
    ax_p.set_title("PSNR against rate")
    ax_s.set_xlabel("bits per pixel (.vqi file)")
    ax_s.set_ylabel("SSIM")
    ax_s.set_title("SSIM against rate")
    for ax, more in ((ax_p, extra), (ax_s, [])):
        ax.grid(True, alpha=0.3)
        handles = [ln for ln in ax.get_lines() if ln.get_label() in strategies]
        ax.legend(handles=handles + more, title="strategy", fontsize=8)
    fig.suptitle("Rate–distortion: quality against the size of the compressed file")
    return fig


def compare(
    image: Any,
    n_levels: int,
    *,
    strategies: Sequence[str] = STRATEGIES,
    cache: dict[str, Any] | None = None,
) -> Figure:
    """One row per strategy: the quantized rendering, its histogram and the error map.

    The error map shows ``quantized - image`` (mean over colour channels) on one symmetric
    diverging scale shared by all rows, with a colour bar.

    Returns
    -------
    matplotlib.figure.Figure
        ``3 * len(strategies)`` axes for the panels, plus the colour bar's.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.arange(4096, dtype=np.uint16).reshape(64, 64).astype(np.uint8)
    >>> fig = compare(img, 4, strategies=["uniform", "optimal"])
    >>> len(fig.axes)
    7
    """
    img = _check_image(image)
    (k,) = _check_levels(n_levels)
    strategies = _check_strategies(strategies)
    session = _session(img, cache)
    lo, hi = _value_range(img)
    rows = []
    for s in strategies:
        q = session.quantizer(s, k)
        rec = q.quantize(img)
        err = rec.astype(np.float64) - img
        if err.ndim == 3:
            err = err.mean(axis=-1)
        rows.append((s, q, rec, err, session.quality(rec)))
    vmax = max(max(float(np.abs(r[3]).max()) for r in rows), 1e-12)
    fig = Figure(figsize=(13, 3.4 * len(rows)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(nrows=len(rows), ncols=3))
    mappable = None
    for (s, q, rec, err, (_mse, psnr, ssim)), (a_img, a_hist, a_err) in zip(
        rows, axes, strict=True
    ):
        _show(a_img, rec, lo, hi)
        a_img.set_title(f"{s}: {q.n_levels} levels, PSNR {psnr:.2f} dB, SSIM {ssim:.3f}")
        _draw_histogram(a_hist, rec, lo, hi)
        a_hist.set_title(f"{s}: distribution of the quantized values")
        a_hist.set_xlabel("Pixel value")
        a_hist.set_ylabel("Count of pixels")
        mappable = a_err.imshow(err, cmap="coolwarm", vmin=-vmax, vmax=vmax)
        a_err.axis("off")
        a_err.set_title(f"{s}: error (quantized − original)")
    fig.colorbar(mappable, ax=axes[:, 2].tolist(), shrink=0.8, label="error")
    fig.suptitle(f"{k} levels per strategy")
    return fig


# -- the memory discussion -------------------------------------------------------------------
def memory_table(image: Any, quantizer: Any, *, vqi_bytes: int | None = None) -> Figure:
    """:func:`vqimage.demo.memory_sizes` as a table: bytes, bits per pixel, ratio to the image.

    Returns
    -------
    matplotlib.figure.Figure
        One axes holding the table.
    """
    img = _check_image(image)
    rows = memory_sizes(img, quantizer, vqi_bytes=vqi_bytes)
    raw = img.nbytes
    cells = [
        [label, f"{b:,}", f"{b * 8 / img.size:.3f}", f"{b / raw:.3f}"] if b is not None
        else [label, "—", "—", "—"]
        for label, b in rows
    ]
    fig = Figure(figsize=(8.5, 2.9), layout="constrained")
    ax = fig.subplots()
    ax.axis("off")
    table = ax.table(cellText=cells, colLabels=["", "bytes", "bits / pixel", "× image"],
                     colWidths=[0.46, 0.18, 0.18, 0.18], loc="center", cellLoc="right")
    table.auto_set_font_size(False)
    table.set_fontsize(10)
    table.scale(1.0, 1.45)
    for (row, col), cell in table.get_celld().items():
        if col == 0:
            cell.set_text_props(ha="left")
        if row == 0:
            cell.set_text_props(weight="bold")
    ax.set_title(
        f"Memory footprint: {img.shape} {img.dtype} image, {quantizer.n_levels} levels "
        f"({quantizer.strategy})"
    )
    return fig


# -- everything at once ----------------------------------------------------------------------
def _temp_path(path: Path) -> Path:
    """A fresh name beside ``path`` (same suffix); created with the process umask, unlike
    ``mkstemp``'s private 0600 files."""
    import secrets

    return path.with_name(f".{path.stem}.{os.getpid()}-{secrets.token_hex(4)}{path.suffix}")


def _save(fig: Figure, path: Path, dpi: float) -> Path:
    """Save atomically: a temporary file in the same directory renamed over ``path``."""
    tmp = _temp_path(path)
    try:
        with open(tmp, "xb") as f:
            fig.savefig(f, format=path.suffix.lstrip(".") or "png", dpi=dpi)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_demo_figures(
    image: Any,
    outdir: str | os.PathLike[str],
    *,
    name: str | None = None,
    n_levels: int = 8,
    dpi: float = 80,
    progress: Progress | None = None,
) -> list[Path]:
    """Write the seed's figures as PNG files and the HTML report into ``outdir``.

    Files: ``original.png`` (image and histogram); for ``uniform``, ``kmeans`` and
    ``optimal``: ``<strategy>.png`` (the quantized image and its histogram) and
    ``<strategy>_centers.png`` (histogram with bin centres); ``memory.png`` (the memory
    table, k-means codes); ``rate_distortion.png``; ``report.html``
    (:func:`vqimage.report.write_report`). Existing files of these names are replaced.

    Parameters
    ----------
    image : array_like
        2-D gray or ``(H, W, 3|4)`` colour image.
    outdir : path
        Directory, created if missing.
    name : str, optional
        What the image is, used in titles (default "the image").
    n_levels : int
        Levels of the seed's figures (the seed uses 8).
    dpi : float
        Resolution of the PNG files.
    progress : callable, optional
        ``progress(step, total, message)``.

    Returns
    -------
    list of Path
        The files written, in the order above.
    """
    from vqimage.viz.report import write_report

    img = _check_image(image)
    (k,) = _check_levels(n_levels)
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    label = name or "the image"
    cache: dict[str, Any] = {}
    session = _session(img, cache)
    seed = ("uniform", "kmeans", "optimal")
    nice = {"uniform": "a uniform", "kmeans": "a K-means", "optimal": "the optimal"}
    n_figures = 3 + 2 * len(seed)
    written: list[Path] = []

    def step(message: str, fig: Figure, filename: str) -> None:
        written.append(_save(fig, out / filename, dpi))
        if progress is not None:
            # The report's own steps are not known yet: count one for it until they are.
            progress(len(written), n_figures + 1, message)

    vr = _value_range(img)
    step("original", image_and_histogram(img, f"Original image of {label}"), "original.png")
    for s in seed:
        q = session.quantizer(s, k)
        title = (f"{label[0].upper() + label[1:]} compressed using {q.bits} bits and "
                 f"{nice[s]} strategy")
        step(f"{s} rendering", image_and_histogram(
            q.quantize(img), title, value_range=vr,
            hist_title="Sub-sampled distribution of the pixel values"), f"{s}.png")
        step(f"{s} centres", histogram_with_centers(img, q), f"{s}_centers.png")
    q = session.quantizer("kmeans", k)
    step("memory table", memory_table(img, q, vqi_bytes=session.point("kmeans", k).vqi_bytes),
         "memory.png")
    from vqimage.viz.report import REPORT_RD_LEVELS

    step("rate–distortion", rate_distortion(img, STRATEGIES + vector_modes(img),
                                            n_levels=REPORT_RD_LEVELS, cache=cache),
         "rate_distortion.png")

    def report_progress(i: int, n: int, message: str) -> None:
        if progress is not None:
            progress(n_figures + i, n_figures + n, f"report: {message}")

    written.append(
        write_report(img, out / "report.html", name=name, progress=report_progress, cache=cache)
    )
    return written
