"""Colour palettes (vqimage.fit_palette / PaletteQuantizer) and Floyd–Steinberg dithering."""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pytest
from PIL import Image

import vqimage
from vqimage.core.metrics import psnr
from vqimage.data import sample
from vqimage.errors import FewerLevelsWarning
from vqimage.vq.dither import dither
from vqimage.vq.palette import PaletteQuantizer, colour_histogram, fit_palette


@pytest.fixture(scope="module")
def chelsea() -> np.ndarray:
    img = sample("chelsea")
    img.flags.writeable = False
    return img


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    img = sample("astronaut")
    img.flags.writeable = False
    return img


def brute_nearest(pixels: np.ndarray, book: np.ndarray) -> np.ndarray:
    """Reference: nearest palette row of every pixel, ties to the lowest index."""
    p = pixels.reshape(-1, pixels.shape[-1]).astype(np.float64)
    d = ((p[:, None, :] - book[None, :, :]) ** 2).sum(-1)
    return d.argmin(1).reshape(pixels.shape[:-1])


def pillow_median_cut(img: np.ndarray, k: int) -> np.ndarray:
    pil = Image.fromarray(np.ascontiguousarray(img)).quantize(
        k, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    return np.asarray(pil.convert("RGB"))


# -- the colour histogram --------------------------------------------------------------------


def test_colour_histogram_is_exact(chelsea):
    colours, counts = colour_histogram(chelsea)
    assert counts.sum() == chelsea.shape[0] * chelsea.shape[1]
    ref = np.unique(chelsea.reshape(-1, 3), axis=0, return_counts=True)
    np.testing.assert_array_equal(colours, ref[0])
    np.testing.assert_array_equal(counts, ref[1])
    assert colours.dtype == np.uint8


def test_colour_histogram_uint16_rgba():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 65536, size=(20, 30, 4), dtype=np.uint16)
    img[:10] = img[10:]
    colours, counts = colour_histogram(img)
    ref = np.unique(img.reshape(-1, 4), axis=0, return_counts=True)
    np.testing.assert_array_equal(colours, ref[0])
    np.testing.assert_array_equal(counts, ref[1])


# -- quality on real images --------------------------------------------------------------------


@pytest.mark.parametrize("k", [16, 64, 256])
def test_kmeans_palette_beats_pillow_median_cut(face_rgb, k):
    q = fit_palette(face_rgb, k)
    ours = psnr(q.quantize(face_rgb), face_rgb)
    theirs = psnr(pillow_median_cut(face_rgb, k), face_rgb)
    # Measured: 28.7 / 33.4 / 37.6 dB against Pillow's 25.6 / 31.2 / 35.7 dB.
    assert ours > theirs + 1.0
    assert q.n_levels == k and q.codebook.shape == (k, 3)


def test_palette_quality_on_astronaut(astronaut):
    q = fit_palette(astronaut, 256)
    # libimagequant reaches 38.01 dB here; full k-means over the distinct colours 38.37 dB.
    assert psnr(q.quantize(astronaut), astronaut) > 38.0


def test_median_cut_strategy_is_reasonable(chelsea):
    q = fit_palette(chelsea, 64, strategy="median-cut")
    assert q.strategy == "median-cut"
    ours = psnr(q.quantize(chelsea), chelsea)
    km = psnr(fit_palette(chelsea, 64).quantize(chelsea), chelsea)
    pil = psnr(pillow_median_cut(chelsea, 64), chelsea)
    assert pil - 1.0 < ours < km


def test_encode_is_the_exact_nearest_colour(chelsea):
    q = fit_palette(chelsea, 32)
    crop = np.ascontiguousarray(chelsea[::3, ::3])
    codes = q.encode(crop)
    assert codes.dtype == np.uint8 and codes.shape == crop.shape[:2]
    np.testing.assert_array_equal(codes, brute_nearest(crop, q.codebook))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_encode_exact_on_random_palettes_and_ties(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 300))
    book = rng.integers(0, 256, size=(k, 3))
    book[1] = book[0]  # duplicate colours: ties go to the lower index
    q = PaletteQuantizer(book, dtype=np.uint8)
    img = rng.integers(0, 256, size=(40, 50, 3), dtype=np.uint8)
    np.testing.assert_array_equal(q.encode(img), brute_nearest(img, q.codebook))
    assert q.code_dtype == (np.uint8 if k <= 256 else np.uint16)


def test_fit_codes_equal_encode_and_decode_is_palette(chelsea):
    q = fit_palette(chelsea, 16)
    codes = q.encode(chelsea)
    out = q.decode(codes)
    assert out.dtype == np.uint8 and out.shape == chelsea.shape
    np.testing.assert_array_equal(out, q.codebook.astype(np.uint8)[codes])
    np.testing.assert_array_equal(q.quantize(chelsea), out)


def test_deterministic(chelsea):
    a = fit_palette(chelsea, 48, random_state=3)
    b = fit_palette(chelsea, 48, random_state=3)
    assert a == b
    np.testing.assert_array_equal(a.encode(chelsea), b.encode(chelsea))


def test_uint16_palette_matches_8bit_fit_scaled(chelsea):
    img16 = chelsea.astype(np.uint16) * 257
    q16 = fit_palette(img16, 32)
    q8 = fit_palette(chelsea, 32)
    assert q16.dtype == np.uint16 and q16.encode(img16).dtype == np.uint8
    p16 = psnr(q16.quantize(img16), img16)
    p8 = psnr(q8.quantize(chelsea), chelsea)
    assert abs(p16 - p8) < 0.3


def test_rgba_alpha_is_quantized_jointly():
    rgb = sample("coffee")[::2, ::2]
    h, w, _ = rgb.shape
    alpha = np.where(np.arange(w)[None, :] < w // 2, 255, 0).astype(np.uint8)
    rgba = np.dstack([rgb, np.broadcast_to(alpha, (h, w))])
    q = fit_palette(rgba, 32)
    assert q.channels == 4 and q.codebook.shape == (32, 4)
    out = q.quantize(rgba)
    # Two alpha values and 32 entries: alpha comes back exact.
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])
    assert psnr(out[..., :3], rgb) > 25


def test_opaque_rgba_stays_opaque(chelsea):
    rgba = np.dstack([chelsea, np.full(chelsea.shape[:2], 255, np.uint8)])
    out = fit_palette(rgba, 8).quantize(rgba)
    assert (out[..., 3] == 255).all()


# -- fewer colours than asked, bad input -------------------------------------------------------


def test_fewer_distinct_colours_than_levels_warns_once():
    img = np.zeros((8, 8, 3), np.uint8)
    img[:4] = (255, 0, 0)
    img[4:, :4] = (0, 0, 255)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        q = fit_palette(img, 16)
    assert len([r for r in rec if issubclass(r.category, FewerLevelsWarning)]) == 1
    assert "3 distinct colours" in str(rec[0].message)
    assert q.n_levels == 3
    np.testing.assert_array_equal(q.quantize(img), img)


def test_exactly_as_many_colours_as_levels_is_lossless_without_warning():
    rng = np.random.default_rng(0)
    book = rng.integers(0, 256, size=(5, 3), dtype=np.uint8)
    img = book[rng.integers(0, 5, size=(10, 10))]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        q = fit_palette(img, 5)
    np.testing.assert_array_equal(q.quantize(img), img)


@pytest.mark.parametrize(
    ("image", "exc", "match"),
    [
        (np.zeros((4, 4), np.uint8), ValueError, "gray images: vqimage.fit"),
        (np.zeros((4, 4, 2), np.uint8), ValueError, "on the last axis"),
        (np.zeros((4, 4, 5), np.uint8), ValueError, "on the last axis"),
        (np.zeros((4, 4, 3), np.float64), TypeError, "uint8 or uint16"),
        (np.zeros((4, 4, 3), bool), TypeError, "uint8 or uint16"),
        (np.zeros((4, 4, 3), np.uint32), TypeError, "uint8 or uint16"),
        (np.zeros((0, 4, 3), np.uint8), ValueError, "empty"),
        (np.zeros((2, 4, 4, 3), np.uint8), ValueError, r"\(height, width, 3 or 4\)"),
        (np.array([[["a", "b", "c"]]]), TypeError, "uint8 or uint16"),
        (np.arange(12, dtype=np.uint8), ValueError, r"\(height, width, 3 or 4\)"),
    ],
)
def test_bad_images_give_one_line_errors(image, exc, match):
    with pytest.raises(exc, match=match) as info:
        fit_palette(image, 4)
    assert "\n" not in str(info.value)


def test_bad_arguments(chelsea):
    with pytest.raises(ValueError, match="strategy"):
        fit_palette(chelsea, 4, strategy="octree")
    with pytest.raises(ValueError, match="at least 2"):
        fit_palette(chelsea, 1)
    with pytest.raises(TypeError, match="integer"):
        fit_palette(chelsea, 4.5)
    q = fit_palette(chelsea, 4)
    with pytest.raises(ValueError, match="4 channels; this palette has 3"):
        q.encode(np.zeros((2, 2, 4), np.uint8))
    with pytest.raises(ValueError, match="uint16 but the palette is uint8"):
        q.encode(np.zeros((2, 2, 3), np.uint16))
    with pytest.raises(ValueError, match=r"codes must be in \[0, 3\]"):
        q.decode(np.array([4], np.uint8))
    with pytest.raises(TypeError, match="integer dtype"):
        q.decode(np.array([0.5]))


# -- serialisation -----------------------------------------------------------------------------


def test_to_dict_from_dict_round_trip(chelsea):
    q = fit_palette(chelsea, 24)
    d = json.loads(json.dumps(q.to_dict()))
    assert d["kind"] == "palette" and d["dtype"] == "|u1"
    r = PaletteQuantizer.from_dict(d)
    assert r == q and r.kind == "palette" and r.bits == 5
    np.testing.assert_array_equal(r.encode(chelsea), q.encode(chelsea))
    assert pickle.loads(pickle.dumps(q)) == q


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"kind": "scalar"},
        {"kind": "palette", "dtype": "|u1"},
        {"kind": "palette", "dtype": "nope", "codebook": [[0, 0, 0]]},
        {"kind": "palette", "dtype": "<f8", "codebook": [[0, 0, 0]]},
        {"kind": "palette", "dtype": "|u1", "codebook": [[0, 0]]},
        {"kind": "palette", "dtype": "|u1", "codebook": "abc"},
    ],
)
def test_from_dict_rejects_malformed(bad):
    with pytest.raises(ValueError):
        PaletteQuantizer.from_dict(bad)


def test_immutable_and_protocol(chelsea):
    q = fit_palette(chelsea, 300)
    assert q.kind == "palette" and q.n_levels == 300 and q.bits == 9
    assert q.code_dtype == np.uint16 and q.encode(chelsea).dtype == np.uint16
    assert q.code_shape(chelsea.shape) == chelsea.shape[:2]
    with pytest.raises(AttributeError):
        q.strategy = "x"
    with pytest.raises(ValueError):
        q.codebook[0, 0] = 1
    assert "n_levels=300" in repr(q)
    assert vqimage.PaletteQuantizer is PaletteQuantizer and vqimage.fit_palette is fit_palette


# -- dithering ---------------------------------------------------------------------------------


def test_dither_preserves_local_mean_colour(chelsea):
    q = fit_palette(chelsea, 8)
    plain = q.quantize(chelsea).astype(np.float64)
    dith = q.quantize(chelsea, dither=True).astype(np.float64)
    ref = chelsea.astype(np.float64)

    def blur(a):  # 8x8 box means: what the eye sees from a distance
        h, w = (a.shape[0] // 8) * 8, (a.shape[1] // 8) * 8
        return a[:h, :w].reshape(h // 8, 8, w // 8, 8, 3).mean((1, 3))

    err_plain = np.abs(blur(plain) - blur(ref)).mean()
    err_dith = np.abs(blur(dith) - blur(ref)).mean()
    assert err_dith < 0.85 * err_plain  # measured 3.87 against 5.03
    # Pillow's Floyd–Steinberg with the same palette: the same local-mean error.
    pal = Image.new("P", (1, 1))
    flat = q.codebook.astype(np.uint8).ravel().tolist()
    pal.putpalette(flat + flat[:3] * (256 - q.n_levels))
    pil = Image.fromarray(np.ascontiguousarray(chelsea)).quantize(
        palette=pal, dither=Image.Dither.FLOYDSTEINBERG
    )
    err_pil = np.abs(blur(np.asarray(pil.convert("RGB")).astype(np.float64)) - blur(ref)).mean()
    assert abs(err_dith - err_pil) < 0.05 * err_pil
    # Pixel-wise, dithering adds noise: the undithered codes are the nearest colours.
    assert psnr(dith.astype(np.uint8), chelsea) < psnr(plain.astype(np.uint8), chelsea)


def test_dither_codes_are_valid_and_deterministic(chelsea):
    q = fit_palette(chelsea, 300)
    a = q.encode(chelsea, dither=True)
    b = dither(q, chelsea)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.uint16 and int(a.max()) < 300


def test_dither_on_flat_palette_colour_is_exact():
    q = PaletteQuantizer([[10, 20, 30], [200, 100, 50]], dtype="uint8")
    img = np.empty((16, 16, 3), np.uint8)
    img[:] = (200, 100, 50)
    assert (q.encode(img, dither=True) == 1).all()


def test_dither_scalar_quantizer_keeps_the_mean(face):
    q = vqimage.fit(face, 2)
    crop = face[:128, :128]
    codes = dither(q, crop)
    assert codes.shape == crop.shape
    assert abs(float(q.decode(codes).mean()) - float(crop.mean())) < 2.0


def test_dither_needs_an_image():
    q = PaletteQuantizer([[0, 0, 0], [255, 255, 255]])
    with pytest.raises(ValueError, match="height, width, channels"):
        q.encode(np.zeros((5, 3), np.uint8), dither=True)


# -- the .vqi file ---------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["packed", "lzma", "context", "auto"])
def test_vqi_round_trip(chelsea, codec, tmp_path):
    q = fit_palette(chelsea, 64)
    c = vqimage.compress(chelsea, quantizer=q, codec=codec)
    assert c.code_shape == chelsea.shape[:2]
    c.save(tmp_path / "cat.vqi")
    d = vqimage.load(tmp_path / "cat.vqi")
    assert d.quantizer == q and d.shape == chelsea.shape and d.dtype == np.uint8
    np.testing.assert_array_equal(d.decompress(), q.quantize(chelsea))
    # Real bytes: far below the raw RGB image (6 bits per pixel before entropy coding).
    assert len(c.tobytes()) < chelsea.nbytes / 3


def test_vqi_round_trip_rgba16():
    rng = np.random.default_rng(3)
    img = (sample("coffee")[::4, ::4].astype(np.uint16) * 257)
    rgba = np.dstack([img, rng.integers(0, 2, img.shape[:2], dtype=np.uint16) * 65535])
    q = fit_palette(rgba, 40)
    d = vqimage.load(vqimage.compress(rgba, quantizer=q).tobytes())
    assert d.dtype == np.uint16 and d.shape == rgba.shape
    np.testing.assert_array_equal(d.decompress(), q.quantize(rgba))


def test_vqi_dithered(chelsea):
    q = fit_palette(chelsea, 16)
    c = vqimage.compress(chelsea, quantizer=q, dither=True)
    np.testing.assert_array_equal(c.codes, q.encode(chelsea, dither=True))
    out = vqimage.load(c.tobytes()).decompress()
    np.testing.assert_array_equal(out, q.decode(q.encode(chelsea, dither=True)))
    assert not np.array_equal(out, q.quantize(chelsea))


def test_vqi_dithered_scalar(face):
    crop = face[:64, :96]
    q = vqimage.fit(crop, 4)
    c = vqimage.compress(crop, quantizer=q, dither=True)
    np.testing.assert_array_equal(c.decompress(), q.decode(dither(q, crop)))


# -- the command line --------------------------------------------------------------------------


def _cli(*args: object):
    from click.testing import CliRunner

    from vqimage.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_cli_colour_defaults_to_a_palette(chelsea, tmp_path):
    from vqimage.io import read_image, write_image

    write_image(tmp_path / "cat.png", chelsea)
    r = _cli("compress", tmp_path / "cat.png", "-o", tmp_path / "cat.vqi", "-k", "64")
    assert r.exit_code == 0, r.output
    c = vqimage.load(tmp_path / "cat.vqi")
    assert c.quantizer.kind == "palette" and c.quantizer.n_levels == 64
    assert c.shape == chelsea.shape
    r = _cli("decompress", tmp_path / "cat.vqi", "-o", tmp_path / "back.png")
    assert r.exit_code == 0, r.output
    back = read_image(tmp_path / "back.png")
    np.testing.assert_array_equal(back, c.quantizer.quantize(chelsea))
    # The indexed PNG: mode P, the same pixels, smaller than the RGB PNG.
    r = _cli("decompress", tmp_path / "cat.vqi", "-o", tmp_path / "idx.png", "--png-palette")
    assert r.exit_code == 0, r.output
    with Image.open(tmp_path / "idx.png") as im:
        assert im.mode == "P"
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), back)
    assert (tmp_path / "idx.png").stat().st_size < (tmp_path / "back.png").stat().st_size


def test_cli_default_palette_has_256_colours_and_dither(chelsea, tmp_path):
    from vqimage.io import write_image

    write_image(tmp_path / "cat.png", chelsea)
    assert _cli("compress", tmp_path / "cat.png", "-o", tmp_path / "a.vqi").exit_code == 0
    assert vqimage.load(tmp_path / "a.vqi").quantizer.n_levels == 256
    r = _cli("compress", tmp_path / "cat.png", "-o", tmp_path / "d.vqi", "-k", "8", "--dither")
    assert r.exit_code == 0, r.output
    c = vqimage.load(tmp_path / "d.vqi")
    np.testing.assert_array_equal(c.codes, c.quantizer.encode(chelsea, dither=True))


def test_cli_channels_and_gray_modes(chelsea, tmp_path):
    from vqimage.io import write_image
    from vqimage.vq.channels import ChannelQuantizer

    write_image(tmp_path / "cat.png", chelsea)
    r = _cli("compress", tmp_path / "cat.png", "-o", tmp_path / "c.vqi", "--kind", "channels",
             "-k", "4")
    assert r.exit_code == 0, r.output
    c = vqimage.load(tmp_path / "c.vqi")
    assert isinstance(c.quantizer, ChannelQuantizer) and c.code_shape == chelsea.shape
    np.testing.assert_array_equal(c.decompress(), c.quantizer.quantize(chelsea))
    r = _cli("compress", tmp_path / "cat.png", "-o", tmp_path / "g.vqi", "--mode", "gray")
    assert r.exit_code == 0 and "ITU-R 601" in r.output
    assert vqimage.load(tmp_path / "g.vqi").shape == chelsea.shape[:2]


def test_cli_16_bit_colour_through_tiff(chelsea, tmp_path):
    import tifffile

    img16 = chelsea.astype(np.uint16) * 257
    tifffile.imwrite(tmp_path / "cat16.tif", img16, photometric="rgb")
    r = _cli("compress", tmp_path / "cat16.tif", "-o", tmp_path / "c.vqi", "-k", "32")
    assert r.exit_code == 0, r.output
    c = vqimage.load(tmp_path / "c.vqi")
    assert c.dtype == np.uint16 and c.quantizer.kind == "palette"
    assert _cli("decompress", tmp_path / "c.vqi", "-o", tmp_path / "back.tif").exit_code == 0
    back = tifffile.imread(tmp_path / "back.tif")
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, c.quantizer.quantize(img16))


def test_cli_vector_mode_errors(chelsea, face, tmp_path):
    from vqimage.io import write_image

    write_image(tmp_path / "cat.png", chelsea)
    write_image(tmp_path / "gray.png", face[:64, :64])
    r = _cli("compress", tmp_path / "gray.png", "-o", tmp_path / "x.vqi", "--kind", "palette")
    assert r.exit_code == 1 and "RGB or RGBA" in r.output and not (tmp_path / "x.vqi").exists()
    r = _cli("compress", tmp_path / "cat.png", "-o", tmp_path / "x.vqi", "--kind", "blocks",
             "--dither")
    assert r.exit_code == 2 and "--dither" in r.output
    r = _cli("compress", tmp_path / "cat.png", "-o", tmp_path / "x.vqi", "--block", "2by2")
    assert r.exit_code == 2 and "block size" in r.output
    assert _cli("compress", tmp_path / "gray.png", "-o", tmp_path / "g.vqi").exit_code == 0
    r = _cli("decompress", tmp_path / "g.vqi", "-o", tmp_path / "g.png", "--png-palette")
    assert r.exit_code == 1 and "palette quantizer" in r.output
    assert not (tmp_path / "g.png").exists()


def test_rate_distortion_compares_palette_and_channels(chelsea):
    from vqimage.viz import plot

    img = np.ascontiguousarray(chelsea[::2, ::2])
    assert plot.vector_modes(img) == ("channels", "palette")
    pts = plot.rate_distortion_points(img, ("channels", "palette"), (8, 64))
    by = {(p.strategy, p.n_levels): p for p in pts}
    # 64 colours (6 bits a pixel) against 8 levels per channel (9 bits): smaller and better.
    assert by["palette", 64].vqi_bytes < by["channels", 8].vqi_bytes
    assert by["palette", 64].psnr > by["channels", 8].psnr
