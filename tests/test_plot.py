"""Figures render headless (no pyplot) and hold what they claim: panels, lines, titles, curves."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from PIL import Image

import vqimage
from vqimage.viz import plot, report, session
from vqimage.viz.demo import memory_sizes

ROOT = Path(__file__).resolve().parents[1]
SEED_UNIFORM_CENTERS = [15.625, 46.875, 78.125, 109.375, 140.625, 171.875, 203.125, 234.375]
# The seed's k-means ran on scikit-learn's default 200,000-pixel subsample; vqimage fits all
# pixels (subsample=None), which moves the centres by a few hundredths.
SEED_KMEANS_CENTERS = [18.90885631, 53.34346583, 82.64447187, 109.28225276, 134.70763101,
                       159.78681467, 185.17226834, 224.02069427]


@pytest.fixture(scope="module")
def small(camera):
    """Camera at 128x128: big enough to look like an image, small enough to compress fast."""
    return np.ascontiguousarray(camera[::4, ::4])


def vertical_lines(ax):
    """x of every vertical Line2D (axvline) in ``ax``, with its line style."""
    out = []
    for line in ax.get_lines():
        x = np.asarray(line.get_xdata(), dtype=np.float64)
        if x.size == 2 and x[0] == x[1]:
            out.append((float(x[0]), line.get_linestyle()))
    return out


def render(fig: Figure) -> np.ndarray:
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())


def test_no_pyplot_no_global_state(tmp_path):
    # In a fresh interpreter: drawing and writing everything never loads pyplot (no global
    # figure registry, no GUI backend) and leaves no open figure behind.
    code = (
        "import sys, numpy as np\n"
        "from vqimage import plot, report\n"
        "img = (np.arange(64 * 64) % 251).astype(np.uint8).reshape(64, 64)\n"
        "plot.image_and_histogram(img); plot.compare(img, 2, strategies=['uniform'])\n"
        f"report.write_report(img, {str(tmp_path / 'r.html')!r}, n_levels=[2], rd_levels=[2],"
        " strategies=['uniform'])\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "MPLBACKEND": "Agg"})
    assert done.returncode == 0, done.stderr


def test_image_and_histogram_on_the_face(face):
    fig = plot.image_and_histogram(face, title="Original image of a raccoon face")
    assert isinstance(fig, Figure)
    ax_img, ax_hist = fig.axes
    assert ax_img.get_title() == "Rendering of the image"
    assert ax_hist.get_title() == "Distribution of the pixel values"
    assert fig.get_suptitle() == "Original image of a raccoon face"
    assert ax_hist.get_xlabel() == "Pixel value" and ax_hist.get_ylabel() == "Count of pixels"
    (im,) = ax_img.get_images()
    assert im.get_array().shape == face.shape
    assert im.get_cmap().name == "gray"
    # The histogram holds every pixel, in 256 bins over the image's range.
    (step,) = ax_hist.patches
    counts = step.get_data().values
    assert counts.size == 256 and counts.sum() == face.size
    want, _ = np.histogram(face, bins=256, range=(face.min(), face.max()))
    np.testing.assert_array_equal(counts, want)
    pixels = render(fig)
    assert pixels[..., :3].std() > 20


def test_image_and_histogram_colour_and_float(face_rgb):
    fig = plot.image_and_histogram(face_rgb[::4, ::4])
    assert fig.axes[0].get_images()[0].get_array().shape == (192, 256, 3)
    assert fig.get_suptitle() == ""
    f = np.linspace(-1.0, 1.0, 400).reshape(20, 20)
    fig = plot.image_and_histogram(f, "floats")
    assert fig.axes[1].patches[0].get_data().values.sum() == f.size
    render(fig)


@pytest.mark.parametrize("shape", [(10,), (4, 5, 6), (2, 3, 4, 5)])
def test_image_shape_is_checked(shape):
    with pytest.raises(ValueError, match="2-D"):
        plot.image_and_histogram(np.zeros(shape, np.uint8))


@pytest.mark.parametrize(("strategy", "seed_centers"),
                         [("uniform", SEED_UNIFORM_CENTERS), ("kmeans", SEED_KMEANS_CENTERS)])
def test_histogram_with_centers_is_the_seeds_figure(face, strategy, seed_centers):
    q = vqimage.fit(face, 8, strategy=strategy)
    tol = 1e-6 if strategy == "uniform" else 0.05
    np.testing.assert_allclose(q.centers, seed_centers, atol=tol)
    fig = plot.histogram_with_centers(face, q)
    (ax,) = fig.axes
    assert ax.get_title() == f"{strategy} strategy: 8 bins, their centres and codebook"
    lines = vertical_lines(ax)
    solid = [x for x, style in lines if style == "-"]
    dashed = [x for x, style in lines if style == "--"]
    for c in q.centers:
        assert any(abs(x - c) < 1e-9 for x in solid), f"no line at centre {c}"
    # The codebook (bin means) differs from the midpoints here: one dashed line for each.
    assert len(dashed) == 8
    np.testing.assert_allclose(sorted(dashed), q.codebook)
    labels = [t.get_text() for t in ax.texts]
    assert labels == [f"{c:.1f}" for c in q.centers]
    assert len(ax.collections) == 1 and len(ax.collections[0].get_paths()) == 8  # shaded bins
    render(fig)


def test_histogram_with_centers_midpoint_codebook_and_many_levels(camera):
    q = vqimage.fit(camera, 8, strategy="uniform", reconstruction="midpoint")
    ax = plot.histogram_with_centers(camera, q, title="midpoints").axes[0]
    assert ax.get_title() == "midpoints"
    assert all(style == "-" for _, style in vertical_lines(ax))  # nothing differs
    q = vqimage.fit(camera, 100)
    ax = plot.histogram_with_centers(camera, q).axes[0]
    assert len([x for x, s in vertical_lines(ax) if s == "-"]) == q.n_levels
    assert 0 < len(ax.texts) < q.n_levels  # labels thinned so they do not overlap
    with pytest.raises(TypeError, match="scalar"):
        plot.histogram_with_centers(camera, object())


def test_rate_distortion_curves(small):
    levels = (2, 4, 8, 256)
    fig = plot.rate_distortion(small, n_levels=levels)
    ax_p, ax_s = fig.axes
    assert ax_p.get_ylabel() == "PSNR (dB)" and ax_s.get_ylabel() == "SSIM"
    assert "bits per pixel" in ax_p.get_xlabel()
    for ax in (ax_p, ax_s):
        curves = [ln for ln in ax.get_lines() if ln.get_label() in plot.STRATEGIES]
        assert [c.get_label() for c in curves] == list(plot.STRATEGIES)
        assert [t.get_text() for t in ax.get_legend().get_texts()][:4] == list(plot.STRATEGIES)
    # x is the real .vqi size of each quantizer's file.
    ssim_curves = {ln.get_label(): ln for ln in ax_s.get_lines()}
    for s in plot.STRATEGIES:
        x = list(ssim_curves[s].get_xdata())
        want = sorted(
            len(vqimage.compress(small, quantizer=session._fit(small, k, s)).tobytes()) * 8
            / small.size for k in levels
        )
        assert x == pytest.approx(want)
    # The optimal strategy is lossless at 256 levels of 8-bit data: drawn as a star, and
    # named in the legend.
    stars = [ln for ln in ax_p.get_lines() if ln.get_marker() == "*"]
    assert stars and all(list(ln.get_ydata()) == [ax_p.get_ylim()[1] - 2.0] for ln in stars)
    assert ax_p.get_legend().get_texts()[-1].get_text() == "lossless (PSNR ∞)"
    render(fig)


def test_rate_distortion_fits_each_quantizer_once(small, monkeypatch):
    calls = []
    real = session.fit

    def counting_fit(data, k, **kw):
        calls.append((k, kw["strategy"]))
        return real(data, k, **kw)

    monkeypatch.setattr(session, "fit", counting_fit)
    cache: dict = {}
    first = plot.rate_distortion_points(small, ("uniform", "optimal"), (2, 8), cache=cache)
    assert sorted(calls) == [(2, "optimal"), (2, "uniform"), (8, "optimal"), (8, "uniform")]
    plot.rate_distortion(small, ("uniform", "optimal"), (2, 8), cache=cache)
    plot.compare(small, 8, strategies=("uniform", "optimal"), cache=cache)
    again = plot.rate_distortion_points(small, ("uniform", "optimal"), (2, 8), cache=cache)
    assert len(calls) == 4
    assert all(a is b for a, b in zip(first, again, strict=True))
    # A different image replaces the cached session.
    plot.rate_distortion_points(small[:64], ("uniform",), (2,), cache=cache)
    assert len(calls) == 5


def test_rate_distortion_points_measure_what_they_say(small):
    (p,) = plot.rate_distortion_points(small, ["kmeans"], [6])
    q = vqimage.fit(small, 6, strategy="kmeans")
    assert p.quantizer == q and p.n_levels == 6
    rec = q.quantize(small)
    assert p.mse == vqimage.metrics.mse(rec, small)
    assert p.psnr == vqimage.metrics.psnr(rec, small)
    assert p.ssim == vqimage.metrics.ssim(rec, small)
    assert p.entropy == vqimage.metrics.entropy(q.encode(small))
    assert p.vqi_bytes == len(vqimage.compress(small, quantizer=q).tobytes())
    assert p.bits_per_pixel == p.vqi_bytes * 8 / small.size
    calls = []
    plot.rate_distortion_points(small, ["uniform"], [2, 3], progress=lambda *a: calls.append(a))
    assert [c[:2] for c in sorted(calls)] == [(1, 2), (2, 2)]
    with pytest.raises(ValueError, match="strategy"):
        plot.rate_distortion_points(small, ["median"], [2])
    with pytest.raises(ValueError, match="at least 2"):
        plot.rate_distortion_points(small, ["uniform"], [1])


def test_compare_rows(small):
    fig = plot.compare(small, 4)
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 3 * len(plot.STRATEGIES)
    assert len(fig.axes) == len(panels) + 1  # one shared colour bar
    for row, s in enumerate(plot.STRATEGIES):
        img_ax, hist_ax, err_ax = panels[3 * row: 3 * row + 3]
        assert img_ax.get_title().startswith(f"{s}: 4 levels, PSNR")
        assert hist_ax.get_title().startswith(s)
        assert err_ax.get_title() == f"{s}: error (quantized − original)"
        rec = vqimage.fit(small, 4, strategy=s).quantize(small)
        np.testing.assert_array_equal(img_ax.get_images()[0].get_array(), rec)
        np.testing.assert_allclose(err_ax.get_images()[0].get_array(),
                                   rec.astype(float) - small)
        assert hist_ax.patches[0].get_data().values.sum() == small.size
    assert fig.get_suptitle() == "4 levels per strategy"
    render(fig)


def test_memory_footprint_is_the_seeds_story(face):
    q = vqimage.fit(face, 8, strategy="kmeans")
    rows = dict(memory_sizes(face, q))
    n = face.size
    assert rows["image as loaded (uint8)"] == 786_432
    assert rows["codes as float64 (KBinsDiscretizer)"] == 6_291_456  # the seed's 8x surprise
    assert rows["codes as uint8"] == n
    assert rows["codes packed in 3 bits"] == n * 3 // 8
    ci = vqimage.compress(face, quantizer=q)
    vqi = rows[f".vqi file (codec {ci.codec})"]
    assert vqi == len(ci.tobytes())
    png = rows["PNG of the quantized image (palette)"]
    assert vqi < png < n
    fig = plot.memory_table(face, q)
    texts = [c.get_text().get_text() for c in fig.axes[0].tables[0].get_celld().values()]
    assert "6,291,456" in texts and "8.000" in texts and "0.375" in texts


def test_memory_footprint_png_not_applicable_for_colour(face_rgb):
    img = face_rgb[::8, ::8]
    rows = dict(memory_sizes(img, vqimage.fit(img, 4)))
    assert rows["PNG of the quantized image (palette)"] is None
    texts = [c.get_text().get_text()
             for c in plot.memory_table(img, vqimage.fit(img, 4)).axes[0].tables[0]
             .get_celld().values()]
    assert "—" in texts


def test_write_demo_figures(small, tmp_path):
    steps = []
    out = tmp_path / "demo"
    paths = report.write_demo_figures(small, out, name="the camera", progress=lambda *a:
                                    steps.append(a))
    names = [p.name for p in paths]
    assert names == ["original.png", "uniform.png", "uniform_centers.png", "kmeans.png",
                     "kmeans_centers.png", "optimal.png", "optimal_centers.png", "memory.png",
                     "rate_distortion.png", "report.html"]
    for p in paths[:-1]:
        with Image.open(p) as im:
            assert im.format == "PNG" and im.size[0] > 300
            assert np.asarray(im.convert("L")).std() > 10
    assert paths[-1].read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in out.iterdir()) == sorted(names)  # no temporary leftovers
    assert steps[-1][0] == steps[-1][1]
    assert all(a[0] <= a[1] for a in steps)
    with pytest.raises(ValueError, match="not a directory"):
        report.write_demo_figures(small, paths[0])


def test_readme_figures_are_small_committed_pngs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- section:figures -->")[1].split("<!-- /section:figures -->")[0]
    refs = re.findall(r"\((docs/images/[\w.-]+\.png)\)", section)
    assert len(refs) >= 5
    for ref in refs:
        path = ROOT / ref
        assert path.is_file(), ref
        assert path.stat().st_size < 150_000, ref
        with Image.open(path) as im:
            assert im.format == "PNG"


def test_lines_helper_sees_axvline():
    fig = Figure()
    ax = fig.subplots()
    ax.axvline(3.0)
    ax.add_line(Line2D([0, 1], [0, 1]))
    assert vertical_lines(ax) == [(3.0, "-")]
