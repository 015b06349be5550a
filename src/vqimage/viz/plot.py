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

The measurements behind them (:class:`~vqimage.viz.session.RDPoint`,
:func:`rate_distortion_points`) come from :mod:`vqimage.viz.session`, which needs no matplotlib;
:func:`vqimage.viz.report.write_demo_figures` writes every figure and the HTML report.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from vqimage._shared.optional import require
from vqimage.core.histogram import histogram
from vqimage.core.protocol import QuantizerProtocol
from vqimage.core.quantizer import Quantizer
from vqimage.viz.demo import memory_sizes
from vqimage.viz.session import (
    RD_LEVELS,
    STRATEGIES,
    VECTOR_MODES,
    Progress,
    RDPoint,
    check_image,
    check_levels,
    check_series,
    display_range,
    is_colour,
    rate_distortion_points,
    session_for,
    vector_modes,
)

require("matplotlib", "vqimage.plot")
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.transforms import blended_transform_factory  # noqa: E402

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
    "rate_distortion_figure",
    "rate_distortion_points",
    "vector_modes",
]

# One colour and marker per series, the same in every figure and in the report.
STRATEGY_COLORS = {
    "uniform": "tab:blue",
    "quantile": "tab:green",
    "kmeans": "tab:orange",
    "optimal": "tab:red",
    "palette": "tab:brown",
    "channels": "tab:pink",
    "blocks": "tab:purple",
}
STRATEGY_MARKERS = {
    "uniform": "s", "quantile": "D", "kmeans": "v", "optimal": "o",
    "palette": "P", "channels": "X", "blocks": "^",
}
LOSSLESS_MARKER = "*"
CENTER_COLOR = "tab:orange"
CODEBOOK_COLOR = "tab:green"


def _show(ax: Any, a: np.ndarray, lo: float, hi: float) -> None:
    if is_colour(a):
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
    img = check_image(image)
    lo, hi = value_range if value_range is not None else display_range(img)
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
    img = check_image(image)
    if getattr(quantizer, "kind", None) != "scalar":
        raise TypeError(
            f"histogram_with_centers needs a scalar Quantizer, got {type(quantizer).__name__}"
        )
    edges, centers, book = quantizer.edges, quantizer.centers, quantizer.codebook
    lo, hi = display_range(img)
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
    return rate_distortion_figure(points, check_series(strategies))


def rate_distortion_figure(points: Sequence[RDPoint], strategies: Sequence[str]) -> Figure:
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
    img = check_image(image)
    (k,) = check_levels(n_levels)
    strategies = check_series(strategies)
    session = session_for(img, cache)
    lo, hi = display_range(img)
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
def memory_table(
    image: Any, quantizer: QuantizerProtocol, *, vqi_bytes: int | None = None
) -> Figure:
    """:func:`vqimage.viz.demo.memory_sizes` as a table: bytes, bits per pixel, ratio to the image.

    Returns
    -------
    matplotlib.figure.Figure
        One axes holding the table.
    """
    img = check_image(image)
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
