"""The HTML report: self-contained, complete, atomic, and alive in a real headless Chromium."""

from __future__ import annotations

import base64
import io
import os
import re
import shutil

import numpy as np
import pytest
from PIL import Image

import vqimage
from vqimage.viz import plot, report

LEVELS = (2, 4, 8)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]


@pytest.fixture(scope="module")
def image(camera):
    return np.ascontiguousarray(camera[::2, ::2])  # 256x256


@pytest.fixture(scope="module")
def report_file(image, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.html"
    steps = []
    out = report.write_report(image, path, name="camera <test>", n_levels=LEVELS,
                              rd_levels=(2, 3, 4, 8), progress=lambda *a: steps.append(a))
    assert out == path
    return path, steps


def _uris(text: str) -> list[str]:
    """Every URL the page could load: src/href attributes and CSS url()."""
    return re.findall(r'(?:src|href)="([^"]*)"', text) + re.findall(r"url\(([^)]*)\)", text)


def test_report_is_self_contained(report_file):
    path, _ = report_file
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    uris = _uris(text)
    assert uris and all(u.startswith("data:") for u in uris)
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in text and "@import" not in text and "<link rel=\"stylesheet" not in text
    assert "default-src 'none'" in text  # the page's CSP forbids loading anything
    assert "camera &lt;test&gt;" in text and "<test>" not in text  # the name is escaped


def test_report_content(report_file, image):
    path, steps = report_file
    text = path.read_text(encoding="utf-8")
    for s in plot.STRATEGIES:
        for kind in ("render", "hist", "error"):
            assert f'id="{kind}-{s}"' in text
    rows = re.findall(r'<tr data-strategy="(\w+)" data-levels="(\d+)">(.*?)</tr>', text)
    assert [(s, int(k)) for s, k, _ in rows] == [(s, k) for k in LEVELS for s in plot.STRATEGIES]
    # The table's numbers are the library's, on the full image.
    s, k, cells = rows[-1]
    values = re.findall(r"<td>([^<]*)</td>", cells)
    q = vqimage.fit(image, int(k), strategy=s)
    rec = q.quantize(image)
    assert values[2] == f"{vqimage.metrics.mse(rec, image):.2f}"
    assert values[3] == f"{vqimage.metrics.psnr(rec, image):.2f}"
    assert values[4] == f"{vqimage.metrics.ssim(rec, image):.4f}"
    vqi = len(vqimage.compress(image, quantizer=q).tobytes())
    assert values[6] == f"{vqi * 8 / image.size:.3f}"
    assert values[7:12] == [f"{image.nbytes:,}", f"{image.size * 8:,}", f"{image.size:,}",
                            f"{image.size * 3 // 8:,}", f"{vqi:,}"]
    assert int(values[12].replace(",", "")) > 0  # palette PNG
    assert 'type="range"' in text and 'max="2"' in text
    assert "Rate–distortion" in text
    # Progress: monotonic, ends at its total.
    assert [a[0] for a in steps] == sorted(a[0] for a in steps)
    assert steps[-1][0] == steps[-1][1] and all(a[0] <= a[1] for a in steps)


def test_report_renderings_are_exact_levels(report_file, image):
    path, _ = report_file
    text = path.read_text(encoding="utf-8")
    first = re.search(r'id="render-optimal"[^>]*src="data:image/png;base64,([^"]+)"', text)
    if first is None:
        first = re.search(r'src="data:image/png;base64,([^"]+)"[^>]*id="render-optimal"', text)
    png = Image.open(io.BytesIO(base64.b64decode(first.group(1))))
    shown = np.asarray(png)
    # The page opens at 8 levels: the rendering is the 8-level image, stretched like imshow.
    rec = vqimage.fit(image, 8).quantize(image).astype(np.float64)
    lo, hi = float(image.min()), float(image.max())
    want = np.clip(np.rint((rec - lo) * 255 / (hi - lo)), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(shown, want)
    assert np.unique(shown).size == 8


def test_report_colour_and_float_images(face_rgb, tmp_path):
    rgb = np.ascontiguousarray(face_rgb[::8, ::8])
    out = report.write_report(rgb, tmp_path / "rgb.html", n_levels=(2, 4), rd_levels=(2, 4))
    text = out.read_text(encoding="utf-8")
    assert text.count("<tr data-strategy") == 8
    assert "<td>—</td>" in text  # no palette PNG for colour codes
    f = np.linspace(-3.0, 5.0, 64 * 48).reshape(48, 64) ** 2
    out = report.write_report(f, tmp_path / "f.html", strategies=("uniform", "optimal"),
                              n_levels=(2, 3), rd_levels=(2,))
    assert out.read_text(encoding="utf-8").count("<tr data-strategy") == 4


def test_report_writes_atomically(image, tmp_path, monkeypatch):
    target = tmp_path / "r.html"
    target.write_text("old")

    def broken(**kw):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(report, "_page", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        report.write_report(image, target, n_levels=(2,), rd_levels=(2,))
    assert target.read_text() == "old"  # untouched
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # no temporary leftovers


def test_report_output_mode_follows_umask(image, tmp_path):
    out = report.write_report(image, tmp_path / "m.html", n_levels=(2,), rd_levels=(2,))
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_report_rejects_bad_arguments(image, tmp_path):
    with pytest.raises(ValueError, match="directory"):
        report.write_report(image, tmp_path, n_levels=(2,))
    with pytest.raises(ValueError, match="does not exist"):
        report.write_report(image, tmp_path / "missing" / "r.html", n_levels=(2,))
    with pytest.raises(ValueError, match="strategy"):
        report.write_report(image, tmp_path / "r.html", strategies=("median",))
    with pytest.raises(ValueError, match="at least 2"):
        report.write_report(image, tmp_path / "r.html", n_levels=(1, 2))
    with pytest.raises(ValueError, match="2-D"):
        report.write_report(np.zeros((4, 4, 4, 4), np.uint8), tmp_path / "r.html")
    assert list(tmp_path.iterdir()) == []


# -- in a real browser -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright (``.ci/run`` installs both; CI must have them)."""
    exe = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if exe is None or sync_playwright is None:
        what = "chromium is not on PATH" if exe is None else "playwright is not installed"
        if os.environ.get("CI"):
            pytest.fail(f"{what}: .ci/run installs it (apt-get install chromium)")
        pytest.skip(f"{what} (apt-get install chromium; pip install playwright)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def test_report_in_headless_chromium(browser, report_file):
    path, _ = report_file
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors, requests = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"failed: {r.url[:80]}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function("document.getElementById('render-optimal').complete")

    assert errors == []
    assert requests and all(u.startswith(("file://", "data:")) for u in requests), [
        u[:80] for u in requests if not u.startswith(("file://", "data:"))]
    assert requests[0] == path.as_uri()

    # Every image decoded (a broken data: URI has naturalWidth 0).
    widths = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
    assert len(widths) >= 2 + 3 * len(plot.STRATEGIES) and min(widths) > 0

    # The slider swaps the renderings in place.
    assert page.text_content("#levels-value") == "8"
    before = {s: page.get_attribute(f"#render-{s}", "src") for s in plot.STRATEGIES}
    before_hist = page.get_attribute("#hist-kmeans", "src")
    page.locator("#levels").focus()
    page.keyboard.press("Home")  # a real input event from the keyboard: to 2 levels
    assert page.text_content("#levels-value") == "2"
    after = {s: page.get_attribute(f"#render-{s}", "src") for s in plot.STRATEGIES}
    for s in plot.STRATEGIES:
        assert after[s] != before[s], s
    assert page.get_attribute("#hist-kmeans", "src") != before_hist
    assert "2 levels" in page.text_content("#caption-uniform")
    highlighted = page.eval_on_selector_all("tr.current", "rs => rs.map(r => r.dataset.levels)")
    assert highlighted == ["2"] * len(plot.STRATEGIES)
    page.keyboard.press("ArrowRight")
    assert page.text_content("#levels-value") == "4"
    assert page.get_attribute("#render-uniform", "src") not in (before["uniform"],
                                                                 after["uniform"])

    # A screenshot of the page is not blank: the renderings and figures are painted.
    shot = np.asarray(Image.open(io.BytesIO(page.screenshot(full_page=False))).convert("L"))
    assert shot.std() > 20
    page.locator("#render-optimal").scroll_into_view_if_needed()
    region = np.asarray(Image.open(io.BytesIO(page.locator("#render-optimal").screenshot()))
                        .convert("L"))
    assert region.std() > 20 and np.unique(region).size >= 4
    assert errors == []
    page.close()
