"""Standard files straight from ``vqimage compress`` and colour targets (issue 13, parts 3-4).

End to end through the click command (CliRunner) on scikit-image's chelsea, coffee and
astronaut saved as PNG: indexed PNG and lossless WebP outputs, --skip-if-larger, stdin and
stdout, colour --psnr (fewest colours, exit 99), --shared palettes, and a colour report.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import vqimage
from vqimage.cli import main
from vqimage.cli.batch import prepare
from vqimage.core.metrics import psnr
from vqimage.io import encode_indexed_png, read_image, read_image_bytes
from vqimage.vq.palette import colour_histogram, fit_palette_histogram, palette_psnr

NAMES = ("chelsea", "coffee", "astronaut")


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from skimage import data

    d = tmp_path_factory.mktemp("photos")
    out = {}
    for name in NAMES:
        img = getattr(data, name)()
        if name == "astronaut":
            img = img[::2, ::2]  # a quarter of the pixels: the same checks, faster
        out[name] = d / f"{name}.png"
        Image.fromarray(img).save(out[name])
    return out


def invoke(*args: object, input: bytes | None = None) -> object:
    runner = CliRunner()
    return runner.invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)


def png_header(data: bytes) -> tuple[int, int]:
    """(bit depth, colour type) of a PNG's IHDR."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return data[24], data[25]


@pytest.mark.parametrize(("k", "depth"), [(2, 1), (4, 2), (16, 4), (64, 8)])
def test_png_output_is_indexed_at_the_smallest_depth(photos, tmp_path, k, depth):
    src = photos["chelsea"]
    out = tmp_path / "c.png"
    res = invoke("compress", src, "-o", out, "-k", k)
    assert res.exit_code == 0, res.output
    data = out.read_bytes()
    assert png_header(data) == (depth, 3)  # colour type 3: palette
    with Image.open(out) as im:
        assert im.mode == "P"
        back = np.asarray(im.convert("RGB"))
    img = read_image(src)
    expect = vqimage.fit_palette(img, k).quantize(img)
    np.testing.assert_array_equal(back, expect)


def test_scalar_png_has_a_gray_palette(photos, tmp_path):
    out = tmp_path / "g.png"
    res = invoke("compress", photos["coffee"], "-o", out, "--kind", "scalar", "-k", 8)
    assert res.exit_code == 0, res.output
    assert png_header(out.read_bytes()) == (4, 3)
    with Image.open(out) as im:
        pal = np.array(im.getpalette()).reshape(-1, 3)
        back = np.asarray(im.convert("L"))
    assert (pal[:, 0] == pal[:, 1]).all() and (pal[:, 1] == pal[:, 2]).all()
    gray, _ = prepare(read_image(photos["coffee"]), "scalar")
    np.testing.assert_array_equal(back, vqimage.fit(gray, 8).quantize(gray))


def test_webp_output_is_lossless(photos, tmp_path):
    out = tmp_path / "c.webp"
    res = invoke("compress", photos["chelsea"], "-o", out, "-k", 32)
    assert res.exit_code == 0, res.output
    with Image.open(out) as im:
        assert im.format == "WEBP" and im.mode == "RGB"
        back = np.asarray(im)
    img = read_image(photos["chelsea"])
    np.testing.assert_array_equal(back, vqimage.fit_palette(img, 32).quantize(img))


def test_format_flag_and_conflicts(photos, tmp_path):
    res = invoke("compress", photos["chelsea"], "-o", tmp_path / "x.bin", "--format", "png",
                 "-k", 4)
    assert res.exit_code == 0, res.output
    assert png_header((tmp_path / "x.bin").read_bytes())[1] == 3
    res = invoke("compress", photos["chelsea"], "-o", tmp_path / "y.png", "--format", "webp")
    assert res.exit_code == 2 and "--format" in res.output
    # .vqi stays the default.
    res = invoke("compress", photos["chelsea"], "-o", tmp_path / "z.vqi", "-k", 4)
    assert res.exit_code == 0
    assert vqimage.load(tmp_path / "z.vqi").quantizer.n_levels == 4


def test_skip_if_larger_keeps_the_input(photos, tmp_path):
    # A JPEG is far smaller than a 256-colour PNG of it: nothing is written, exit 98.
    jpg = tmp_path / "c.jpg"
    Image.open(photos["chelsea"]).save(jpg, quality=80)
    out = tmp_path / "c.png"
    res = invoke("compress", jpg, "-o", out, "--skip-if-larger")
    assert res.exit_code == 98
    assert not out.exists()
    assert "kept the input" in res.output and "nothing written" in res.output
    # A 4-colour PNG of a truecolour PNG is smaller: written.
    res = invoke("compress", photos["chelsea"], "-o", out, "-k", 4, "--skip-if-larger")
    assert res.exit_code == 0 and out.is_file()
    assert out.stat().st_size < photos["chelsea"].stat().st_size


def test_skip_if_larger_in_a_batch_is_not_a_failure(photos, tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    Image.open(photos["chelsea"]).save(d / "small.jpg", quality=60)
    Image.open(photos["coffee"]).save(d / "big.png")
    res = invoke("compress", d, "-o", tmp_path / "out", "--format", "png", "--skip-if-larger",
                 "-j", 1)
    assert res.exit_code == 0, res.output
    assert "kept input" in res.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["big.png"]


def test_stdin_to_stdout(photos):
    raw = photos["coffee"].read_bytes()
    res = invoke("compress", "-", "-o", "-", "--format", "png", "-k", 16, input=raw)
    assert res.exit_code == 0
    data = res.stdout_bytes
    assert png_header(data) == (4, 3)
    img = read_image(photos["coffee"])
    expect = vqimage.fit_palette(img, 16).quantize(img)
    np.testing.assert_array_equal(read_image_bytes(data), expect)
    # The summary line went to stderr, out of the image's way.
    assert "stdin -> stdout" in res.stderr


def test_stdin_to_file_and_stdout_needs_format(photos, tmp_path):
    raw = photos["chelsea"].read_bytes()
    out = tmp_path / "s.webp"
    res = invoke("compress", "-", "-o", out, "-k", 8, input=raw)
    assert res.exit_code == 0, res.output
    assert Image.open(out).format == "WEBP"
    res = invoke("compress", photos["chelsea"], "-o", "-")
    assert res.exit_code == 2 and "--format" in res.output
    res = invoke("compress", "-", "-o", "-", "--format", "vqi", "-k", 4, input=raw)
    assert res.exit_code == 0
    assert vqimage.load(res.stdout_bytes).quantizer.n_levels == 4
    res = invoke("compress", "-", "-o", out, "--force", input=b"not an image")
    assert res.exit_code == 1 and "not a known image format" in res.output


def test_colour_psnr_picks_the_fewest_colours(photos, tmp_path):
    src = photos["chelsea"]
    out = tmp_path / "p.png"
    target = 34.0
    res = invoke("compress", src, "-o", out, "--psnr", target)
    assert res.exit_code == 0, res.output
    img = read_image(src)
    with Image.open(out) as im:
        back = np.asarray(im.convert("RGB"))
        k = len(im.getpalette()) // 3
    assert psnr(back, img) >= target
    # Colour is kept (not converted to gray), and k - 1 colours miss the target.
    assert back.ndim == 3 and not np.array_equal(back[..., 0], back[..., 1])
    assert f"chose {k} colours" in res.output
    hist = colour_histogram(img)
    q_less = vqimage.fit_palette(img, k - 1)
    assert palette_psnr(q_less, *hist) < target
    assert psnr(q_less.quantize(img), img) < target


def test_colour_psnr_unreachable_exits_99(photos, tmp_path):
    out = tmp_path / "p.png"
    res = invoke("compress", photos["coffee"], "-o", out, "--psnr", 70)
    assert res.exit_code == 99
    assert "cannot reach 70 dB" in res.output and "256 colours" in res.output
    assert not out.exists()


def test_shared_palette_is_identical_across_files(photos, tmp_path):
    d = tmp_path / "set"
    d.mkdir()
    for p in photos.values():
        (d / p.name).write_bytes(p.read_bytes())
    res = invoke("compress", d, "-o", tmp_path / "png", "--shared", "--format", "png", "-k", 32,
                 "-j", 1)
    assert res.exit_code == 0, res.output
    assert "shared palette: 32 colours fitted on 3 images" in res.output
    palettes = set()
    for name in NAMES:
        with Image.open(tmp_path / "png" / f"{name}.png") as im:
            assert im.mode == "P"
            palettes.add(bytes(im.getpalette()))
    assert len(palettes) == 1
    # .vqi outputs carry the same palette too, the one fitted on the merged histograms.
    res = invoke("compress", d, "-o", tmp_path / "vqi", "--shared", "-k", 32, "-j", 1)
    assert res.exit_code == 0, res.output
    books = {vqimage.load(tmp_path / "vqi" / f"{n}.vqi").quantizer.codebook.tobytes()
             for n in NAMES}
    assert len(books) == 1
    hists = [colour_histogram(read_image(p)) for p in photos.values()]
    merged = fit_palette_histogram(np.concatenate([h[0] for h in hists]),
                                   np.concatenate([h[1] for h in hists]), 32)
    assert merged.codebook.tobytes() in books


def test_shared_psnr_over_the_set(photos, tmp_path):
    d = tmp_path / "set"
    d.mkdir()
    for p in list(photos.values())[:2]:
        (d / p.name).write_bytes(p.read_bytes())
    res = invoke("compress", d, "-o", tmp_path / "o", "--shared", "--psnr", 32, "-j", 1)
    assert res.exit_code == 0, res.output
    assert "over the set: chose" in res.output
    res = invoke("compress", d, "-o", tmp_path / "o2", "--shared", "--psnr", 70, "-j", 1)
    assert res.exit_code == 1  # one shared fit for the set: a batch-level failure
    assert "cannot reach 70 dB" in res.output


def test_report_keeps_colour(photos, tmp_path, monkeypatch):
    import vqimage.viz.report as report

    seen = {}

    def fake(image, path, **kw):
        seen["shape"] = np.shape(image)
        Path(path).write_text("<html></html>")

    monkeypatch.setattr(report, "write_report", fake)
    res = invoke("report", photos["chelsea"], "-o", tmp_path / "r.html")
    assert res.exit_code == 0, res.output
    assert seen["shape"][-1] == 3 and len(seen["shape"]) == 3


def test_python_api_to_png_and_encode_indexed_png(photos):
    img = read_image(photos["chelsea"])
    ci = vqimage.compress(img, quantizer=vqimage.fit_palette(img, 8))
    data = ci.to_png()
    assert png_header(data) == (4, 3)
    np.testing.assert_array_equal(read_image_bytes(data), ci.decompress())
    kept = ci.to_png(keep_palette=True)
    with Image.open(io.BytesIO(kept)) as im:
        pal = np.array(im.getpalette()).reshape(-1, 3)
    np.testing.assert_array_equal(pal, ci.quantizer.codebook)
    two = encode_indexed_png(np.array([[0, 1], [1, 0]], np.uint8),
                             np.array([[0, 0, 0], [255, 255, 255]], np.uint8))
    assert png_header(two) == (1, 3)
