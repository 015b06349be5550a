"""One self-contained HTML report: every strategy at several levels, measured and drawn.

The file embeds all images as ``data:`` URIs and carries its own style and a few lines of plain
JavaScript (a slider over the number of levels that swaps precomputed images); it loads
nothing from anywhere, which a Content-Security-Policy in the page also enforces.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from vqimage._shared.fs import atomic_write
from vqimage._shared.version import __version__
from vqimage.core.histogram import histogram
from vqimage.core.protocol import QuantizerProtocol
from vqimage.viz.demo import memory_sizes, palette_png_bytes
from vqimage.viz.plot import (
    STRATEGY_COLORS,
    histogram_with_centers,
    image_and_histogram,
    memory_table,
    rate_distortion,
    rate_distortion_figure,
)
from vqimage.viz.session import (
    RD_LEVELS,
    STRATEGIES,
    Progress,
    check_image,
    check_levels,
    check_series,
    display_range,
    is_colour,
    session_for,
    vector_modes,
)

__all__ = ["write_demo_figures", "write_report"]

REPORT_LEVELS = (2, 4, 8, 16, 32)
# The curves' levels in the report: RD_LEVELS up to 64. Coding 128 and 256 levels costs as
# much as all the others together, for points above 45 dB where no one is choosing.
REPORT_RD_LEVELS = tuple(k for k in RD_LEVELS if k <= 64)
# Renderings are subsampled (not averaged, which would blend the levels) to about this width.
THUMB_WIDTH = 512


def _thumb(a: np.ndarray) -> np.ndarray:
    step = max(1, math.ceil(a.shape[1] / THUMB_WIDTH))
    return a[::step, ::step]


def _to_uint8(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    if a.dtype == np.uint8 and (is_colour(a) or (lo, hi) == (0.0, 255.0)):
        return a
    scaled = (a.astype(np.float64) - lo) * (255.0 / (hi - lo))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def _png_uri(a: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(a)).save(buf, format="PNG", compress_level=6)
    return _uri(buf.getvalue(), "image/png")


def _jpeg_uri(rgb: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="JPEG", quality=85)
    return _uri(buf.getvalue(), "image/jpeg")


def _figure_uri(fig: Any, dpi: float) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return _uri(buf.getvalue(), "image/png")


def _rendering(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """The thumbnail shown for an image: gray stretched to the original's range as imshow."""
    t = _thumb(a)
    return _to_uint8(t, lo, hi)


def _error_rgb(err: np.ndarray, vmax: float) -> np.ndarray:
    from matplotlib import colormaps

    lut = (colormaps["coolwarm"](np.linspace(0.0, 1.0, 256))[:, :3] * 255).astype(np.uint8)
    idx = np.clip(np.rint((err / vmax + 1.0) * 127.5), 0, 255).astype(np.intp)
    return lut[idx]


def _gradient_css() -> str:
    from matplotlib import colormaps

    stops = [colormaps["coolwarm"](t) for t in np.linspace(0, 1, 9)]
    cols = ", ".join(
        f"rgb({int(r * 255)},{int(g * 255)},{int(b * 255)})" for r, g, b, _ in stops
    )
    return f"linear-gradient(to right, {cols})"


def _nice_ticks(lo: float, hi: float, n: int = 6) -> np.ndarray:
    from matplotlib.ticker import MaxNLocator

    t = MaxNLocator(n).tick_values(lo, hi)
    return t[(t >= lo - 1e-9 * abs(hi - lo)) & (t <= hi + 1e-9 * abs(hi - lo))]


def _tick_label(v: float) -> str:
    return f"{v:.0f}" if abs(v) >= 100 or float(v).is_integer() else f"{v:.3g}"


def _histogram_svg(
    counts: np.ndarray, edges: np.ndarray, quantizer: QuantizerProtocol, lo: float, hi: float
) -> str:
    """:func:`vqimage.plot.histogram_with_centers` as a small SVG, drawn without matplotlib.

    The report needs one per strategy and level; an SVG string costs a fraction of a
    matplotlib figure and stays sharp at any zoom.
    """
    w, h = 560, 270
    left, right, top, bottom = 58, 12, 44, 40
    pw, ph = w - left - right, h - top - bottom
    ymax = max(float(counts.max()), 1.0) * 1.05

    def x(v: Any) -> Any:
        return left + (np.asarray(v, dtype=np.float64) - lo) * (pw / (hi - lo))

    def y(v: Any) -> Any:
        return top + ph - np.asarray(v, dtype=np.float64) * (ph / ymax)

    k = quantizer.n_levels
    qe = np.clip(quantizer.edges, lo, hi)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">',
             f'<rect width="{w}" height="{h}" fill="white"/>']
    for i in range(k):
        x0, x1 = x(qe[i]), x(qe[i + 1])
        parts.append(f'<rect x="{x0:.2f}" y="{top}" width="{max(x1 - x0, 0):.2f}" '
                     f'height="{ph}" fill="{"#cccccc" if i % 2 else "#ebebeb"}"/>')
    # The 256-bin histogram as one filled step outline.
    xs, ys = x(edges), y(counts)
    pts = [f"{xs[0]:.2f},{top + ph}"]
    for i in range(counts.size):
        pts.append(f"{xs[i]:.2f},{ys[i]:.2f} {xs[i + 1]:.2f},{ys[i]:.2f}")
    pts.append(f"{xs[-1]:.2f},{top + ph}")
    parts.append(f'<polygon points="{" ".join(pts)}" fill="#1f77b4"/>')
    centers, book = quantizer.centers, quantizer.codebook
    differ = np.abs(book - centers) > 1e-9 * max(hi - lo, 1.0)
    for v in book[differ]:
        parts.append(f'<line x1="{x(v):.2f}" x2="{x(v):.2f}" y1="{top}" y2="{top + ph}" '
                     'stroke="#2ca02c" stroke-width="1" stroke-dasharray="4 3"/>')
    step = max(1, math.ceil(k / 32))
    for i, c in enumerate(centers):
        cx = x(c)
        parts.append(f'<line x1="{cx:.2f}" x2="{cx:.2f}" y1="{top}" y2="{top + ph}" '
                     f'stroke="#ff7f0e" stroke-width="{1.3 if k <= 64 else 0.6}"/>')
        if i % step == 0:
            rot = "" if k <= 8 else f' transform="rotate(-90 {cx:.2f} {top - 3})"'
            anchor = "middle" if k <= 8 else "start"
            parts.append(f'<text x="{cx:.2f}" y="{top - 3}" fill="#ff7f0e" font-size="9" '
                         f'text-anchor="{anchor}"{rot}>{c:.1f}</text>')
    parts.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" '
                 'stroke="#333"/>')
    for t in _nice_ticks(lo, hi):
        tx = x(t)
        parts.append(f'<line x1="{tx:.2f}" x2="{tx:.2f}" y1="{top + ph}" y2="{top + ph + 4}" '
                     f'stroke="#333"/><text x="{tx:.2f}" y="{top + ph + 15}" '
                     f'text-anchor="middle">{_tick_label(t)}</text>')
    for t in _nice_ticks(0.0, ymax, 5):
        ty = y(t)
        parts.append(f'<line x1="{left - 4}" x2="{left}" y1="{ty:.2f}" y2="{ty:.2f}" '
                     f'stroke="#333"/><text x="{left - 6}" y="{ty + 4:.2f}" '
                     f'text-anchor="end">{_tick_label(t)}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{h - 6}" text-anchor="middle">Pixel value'
                 f'</text><text x="12" y="{top + ph / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 12 {top + ph / 2})">Count of pixels</text>')
    title = f"{quantizer.strategy}: {k} bins, their centres and codebook"
    parts.append(f'<text x="{left}" y="12" font-size="12">{html.escape(title)}</text>')
    parts.append("</svg>")
    return _uri("".join(parts).encode("utf-8"), "image/svg+xml")


def _fmt_bytes(b: int | None) -> str:
    return "—" if b is None else f"{b:,}"


def _fmt_psnr(v: float) -> str:
    return "∞" if not math.isfinite(v) else f"{v:.2f}"


def _vector_note(img: np.ndarray) -> str:
    modes = vector_modes(img)
    if modes == ("blocks",):
        return (" blocks: vector quantization of 2x2 pixel blocks (vqimage.fit_blocks), one code"
                " per block, against the scalar levels at equal bytes.")
    if modes:
        return (" palette: one code per pixel into a palette of colours (vqimage.fit_palette);"
                " channels: each channel quantized on its own (optimal, one code per value).")
    return ""


def write_report(
    image: Any,
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    strategies: Sequence[str] = STRATEGIES,
    n_levels: Sequence[int] = REPORT_LEVELS,
    progress: Progress | None = None,
    cache: dict[str, Any] | None = None,
    rd_levels: Sequence[int] = REPORT_RD_LEVELS,
) -> Path:
    """Write a self-contained HTML report of ``image`` quantized by every strategy.

    The report holds the original with its histogram; for each strategy and each number of
    levels its rendering, its histogram with bin centres and its error map, behind a slider
    over the number of levels that swaps the images in place; a table (levels, MSE, PSNR,
    SSIM, entropy, bits per pixel, and bytes as raw image, float64 codes, integer codes,
    packed codes, ``.vqi`` file and palette PNG); and the rate–distortion figure
    (:func:`vqimage.plot.rate_distortion`).

    Parameters
    ----------
    image : array_like
        2-D gray or ``(H, W, 3|4)`` colour image.
    path : path
        Output ``.html`` file, written atomically (a temporary file renamed into place).
    name : str, optional
        What the image is, shown in the title.
    strategies : sequence of str
        Strategies to show.
    n_levels : sequence of int
        Numbers of levels the slider steps through (sorted, duplicates dropped).
    progress : callable, optional
        Called as ``progress(step, total, message)`` while computing (for a progress bar).
    cache : dict, optional
        Shared with :mod:`vqimage.plot` functions on the same image to reuse fitted
        quantizers and measurements.
    rd_levels : sequence of int
        Levels of the rate–distortion curves (with ``n_levels`` added); by default
        :data:`vqimage.plot.RD_LEVELS` up to 64, since coding 128 and 256 levels costs as
        much as all the others together.

    Returns
    -------
    Path
        ``path``.

    Notes
    -----
    Renderings are subsampled to about 512 pixels wide (every n-th pixel, so the levels stay
    exact); every measurement is taken on the full image.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from skimage import data
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "camera.html"
    >>> write_report(data.camera()[::4, ::4], out, name="camera", strategies=["optimal"],
    ...              n_levels=[2, 8], rd_levels=[2, 4, 8]) == out
    True
    >>> out.read_text().count('<tr data-strategy="optimal"')
    2
    """
    img = check_image(image)
    strategies = check_series(strategies)
    levels = tuple(sorted(set(check_levels(n_levels))))
    out = Path(path)
    if out.is_dir():
        raise ValueError(f"{out} is a directory; give the path of the .html file to write")
    if not out.parent.is_dir():
        raise ValueError(f"directory {out.parent} does not exist")
    session = session_for(img, cache)
    rd_levels = tuple(sorted(set(check_levels(rd_levels)) | set(levels)))
    # The rate–distortion figure also compares the vector quantizers that fit the image
    # (block VQ for gray, palette and per-channel for colour).
    vector = tuple(v for v in vector_modes(img) if v not in strategies)
    total = 3 + len(strategies) * (len(levels) + len(rd_levels)) + len(vector) * len(rd_levels)
    done = 0

    def tick(message: str, to: int | None = None) -> None:
        nonlocal done
        done = done + 1 if to is None else to
        if progress is not None:
            progress(done, total, message)

    lo, hi = display_range(img)
    title = name or "image"
    original_fig = _figure_uri(image_and_histogram(img, f"Original: {title}"), dpi=72)
    tick("original")
    # Every point first (several at a time): the table's levels are among the curve's.
    points = session.points(
        [(s, k) for s in (*strategies, *vector) for k in rd_levels],
        lambda i, n, m: tick(f"measured {m}", to=1 + i),
    )
    rd_uri = _figure_uri(rate_distortion_figure(points, (*strategies, *vector)), dpi=80)
    tick("rate–distortion figure")

    from concurrent.futures import ThreadPoolExecutor

    h = histogram(img)
    hist_counts, hist_edges = np.histogram(h.values, bins=256, range=(lo, hi), weights=h.counts)

    views: dict[str, list[dict[str, str]]] = {s: [] for s in strategies}
    rows = []
    # The palette PNGs (zlib at level 9, the GIL released) compress in the background while
    # matplotlib draws in this thread.
    with ThreadPoolExecutor(max(1, min(2, os.cpu_count() or 1))) as pool:
        for k in levels:
            per = []
            for s in strategies:
                pt = session.point(s, k)
                rec = pt.quantizer.quantize(img)
                err = _thumb(rec).astype(np.float64) - _thumb(img)
                per.append((s, pt, rec, err.mean(axis=-1) if err.ndim == 3 else err))
            vmax = max(max(float(np.abs(e).max()) for *_, e in per), 1e-12)
            for s, pt, rec, err in per:
                q = pt.quantizer
                foot = memory_sizes(img, q, vqi_bytes=pt.vqi_bytes, png=False)[:-1]
                png = pool.submit(palette_png_bytes, q.encode(img), q)
                rows.append((s, k, pt, foot, png))
                views[s].append({
                    "render": _png_uri(_rendering(rec, lo, hi)),
                    "hist": _histogram_svg(hist_counts, hist_edges, q, lo, hi),
                    "error": _jpeg_uri(_error_rgb(err, vmax)),
                    "caption": (f"{q.n_levels} levels · PSNR {_fmt_psnr(pt.psnr)} dB · "
                                f"SSIM {pt.ssim:.3f} · {pt.bits_per_pixel:.3f} bits/pixel"),
                    "range": f"±{vmax:.3g}",
                })
                tick(f"drew {s}, {k} levels")
        table = [(s, k, pt, [*foot[:-1], (foot[-1][0], png.result())])
                 for s, k, pt, foot, png in rows]

    start = levels.index(8) if 8 in levels else len(levels) // 2
    page = _page(
        title=title, img=img, distinct=h.values.size, original_fig=original_fig,
        strategies=strategies, levels=levels, start=start, views=views, rows=table,
        rd_uri=rd_uri, rd_levels=rd_levels,
    )
    atomic_write(out, page, overwrite=True)
    tick("written")
    return out


_CSS = """
:root { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; }
body { margin: 1.5rem auto; max-width: 1250px; padding: 0 1rem; background: #fafafa; }
h1 { margin-bottom: .2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
.facts { color: #555; margin-top: 0; }
img { max-width: 100%; height: auto; display: block; }
.pix { image-rendering: pixelated; }
.controls { position: sticky; top: 0; background: #fafafa; padding: .6rem 0; z-index: 2;
            border-bottom: 1px solid #ddd; display: flex; gap: 1rem; align-items: center; }
.controls input { width: 22rem; }
.controls output { font-weight: 600; font-size: 1.2rem; min-width: 2.5rem; }
.grid { display: grid; grid-template-columns: 1fr 1.2fr 1fr; gap: .6rem 1rem;
        align-items: start; margin-top: 1rem; }
.grid h3 { grid-column: 1 / -1; margin: 1rem 0 0; padding-left: .5rem;
           border-left: 6px solid var(--c); }
.grid figure { margin: 0; } figcaption { font-size: .85rem; color: #444; margin-top: .2rem; }
.bar { height: .7rem; width: 10rem; display: inline-block; vertical-align: middle;
       border: 1px solid #999; }
table { border-collapse: collapse; font-size: .85rem; margin-top: 1rem; width: 100%; }
th, td { padding: .25rem .5rem; border-bottom: 1px solid #e2e2e2; text-align: right; }
th { background: #eee; position: sticky; top: 3.2rem; }
td:first-child, th:first-child { text-align: left; }
tr.current td { background: #fff3c4; }
.note { color: #555; font-size: .85rem; }
"""

_JS = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("vq-data").textContent);
  var slider = document.getElementById("levels");
  var out = document.getElementById("levels-value");
  function show(i) {
    var k = data.levels[i];
    out.textContent = String(k);
    data.strategies.forEach(function (s) {
      var v = data.views[s][i];
      document.getElementById("render-" + s).src = v.render;
      document.getElementById("hist-" + s).src = v.hist;
      document.getElementById("error-" + s).src = v.error;
      document.getElementById("caption-" + s).textContent = v.caption;
      document.getElementById("range-" + s).textContent = v.range;
    });
    var rows = document.querySelectorAll("tr[data-levels]");
    for (var j = 0; j < rows.length; j++) {
      rows[j].classList.toggle("current", rows[j].getAttribute("data-levels") === String(k));
    }
  }
  slider.addEventListener("input", function () { show(Number(slider.value)); });
  show(Number(slider.value));
})();
"""


def _page(
    *,
    title: str,
    img: np.ndarray,
    distinct: int,
    original_fig: str,
    strategies: Sequence[str],
    levels: Sequence[int],
    start: int,
    views: dict[str, list[dict[str, str]]],
    rows: list[tuple[str, int, Any, list[tuple[str, int | None]]]],
    rd_uri: str,
    rd_levels: Sequence[int],
) -> str:
    e = html.escape
    facts = (f"shape {img.shape}, dtype {img.dtype}, {img.nbytes:,} bytes in memory, "
             f"{distinct:,} distinct values in [{img.min()}, {img.max()}]")
    grad = _gradient_css()
    cards = []
    for s in strategies:
        v = views[s][start]
        cards.append(f"""
<h3 style="--c:{STRATEGY_COLORS[s]}">{e(s)}</h3>
<figure><img id="render-{s}" class="pix" src="{v['render']}" alt="{e(s)} rendering">
<figcaption id="caption-{s}">{e(v['caption'])}</figcaption></figure>
<figure><img id="hist-{s}" src="{v['hist']}" alt="{e(s)} histogram with bin centres">
<figcaption>histogram of the original with the bins, their centres (orange) and codebook
(green, dashed)</figcaption></figure>
<figure><img id="error-{s}" class="pix" src="{v['error']}" alt="{e(s)} error map">
<figcaption>error (quantized − original): <span class="bar" style="background:{grad}">
</span> <span id="range-{s}">{e(v['range'])}</span></figcaption></figure>""")
    head = ("<tr><th>strategy</th><th>levels</th><th>MSE</th><th>PSNR (dB)</th><th>SSIM</th>"
            "<th>entropy (bits/code)</th><th>bits/pixel (.vqi)</th>"
            + "".join(f"<th>{e(label)}</th>" for label, _ in rows[0][3]) + "</tr>")
    body = []
    for s, k, pt, foot in rows:
        fitted = pt.quantizer.n_levels
        lv = str(k) if fitted == k else f"{k} → {fitted}"
        body.append(
            f'<tr data-strategy="{s}" data-levels="{k}"><td>{e(s)}</td><td>{lv}</td>'
            f"<td>{pt.mse:.2f}</td><td>{_fmt_psnr(pt.psnr)}</td><td>{pt.ssim:.4f}</td>"
            f"<td>{pt.entropy:.3f}</td><td>{pt.bits_per_pixel:.3f}</td>"
            + "".join(f"<td>{_fmt_bytes(b)}</td>" for _, b in foot) + "</tr>"
        )
    data = {"levels": list(levels), "strategies": list(strategies), "views": views}
    # "</" inside a script element would end it early.
    blob = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    csp = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
           "script-src 'unsafe-inline'")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>vqimage report: {e(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>vqimage report: {e(title)}</h1>
<p class="facts">{e(facts)}. Strategies: {e(", ".join(strategies))}; levels
{e(", ".join(map(str, levels)))}. Made by vqimage {e(__version__)}.</p>

<h2>Original</h2>
<img src="{original_fig}" alt="original image and its histogram">

<h2>Quantized</h2>
<div class="controls">
<label for="levels">number of levels</label>
<input type="range" id="levels" min="0" max="{len(levels) - 1}" step="1" value="{start}"
 aria-valuetext="levels">
<output id="levels-value" for="levels">{levels[start]}</output>
<span class="note">renderings every {max(1, math.ceil(img.shape[1] / THUMB_WIDTH))}
pixel(s) of the full image; metrics on the full image</span>
</div>
<div class="grid">{"".join(cards)}
</div>

<h2>Measurements</h2>
<p class="note">MSE, PSNR and SSIM of the reconstruction (codebook = bin means) against the
original; entropy is the empirical bits per code; bits/pixel is the real size of the
<code>.vqi</code> file (<code>vqimage.compress</code>, header included). Bytes: the image as
loaded, the codes as float64 (what scikit-learn's <code>KBinsDiscretizer</code> returns), the
codes in the smallest integer type, packed in <code>ceil(log2 k)</code> bits, the
<code>.vqi</code> file and a palette PNG (Pillow, <code>optimize=True</code>). Rows of the level
chosen above are highlighted.</p>
<table>
<thead>{head}</thead>
<tbody>
{chr(10).join(body)}
</tbody>
</table>

<h2>Rate–distortion</h2>
<img src="{rd_uri}" alt="PSNR and SSIM against bits per pixel">
<p class="note">Every strategy fitted at {e(", ".join(map(str, rd_levels)))} levels; each point
is a real <code>.vqi</code> file.{e(_vector_note(img))}</p>

<script type="application/json" id="vq-data">{blob}</script>
<script>{_JS}</script>
</body>
</html>
"""


# -- everything at once ----------------------------------------------------------------------
def _save(fig: Figure, path: Path, dpi: float) -> Path:
    """Save atomically (replacing ``path``): a temporary file renamed into place."""
    fmt = path.suffix.lstrip(".") or "png"
    return atomic_write(path, lambda f: fig.savefig(f, format=fmt, dpi=dpi), overwrite=True)


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

    img = check_image(image)
    (k,) = check_levels(n_levels)
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    label = name or "the image"
    cache: dict[str, Any] = {}
    session = session_for(img, cache)
    seed = ("uniform", "kmeans", "optimal")
    nice = {"uniform": "a uniform", "kmeans": "a K-means", "optimal": "the optimal"}
    n_figures = 3 + 2 * len(seed)
    written: list[Path] = []

    def step(message: str, fig: Figure, filename: str) -> None:
        written.append(_save(fig, out / filename, dpi))
        if progress is not None:
            # The report's own steps are not known yet: count one for it until they are.
            progress(len(written), n_figures + 1, message)

    vr = display_range(img)
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
