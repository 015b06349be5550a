"""Metrics: ssim against scikit-image, entropy against scipy, on real images and every dtype."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.stats import entropy as scipy_entropy
from skimage.metrics import structural_similarity

import vqimage
from vqimage.core import metrics

INT_DTYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]


# -- ssim ------------------------------------------------------------------------------------
def test_ssim_matches_scikit_image_on_the_face(face):
    for k in (2, 8, 32):
        rec = vqimage.fit(face, k).quantize(face)
        want = structural_similarity(rec, face, data_range=255)
        assert metrics.ssim(rec, face) == pytest.approx(want, rel=1e-12)
    assert metrics.ssim(face, face) == 1.0


def test_ssim_orders_reconstructions_by_quality(camera):
    values = [metrics.ssim(vqimage.fit(camera, k).quantize(camera), camera) for k in (2, 4, 8, 16)]
    assert values == sorted(values)
    assert 0.0 < values[0] < values[-1] < 1.0


def test_ssim_data_range_like_psnr(camera):
    rec = vqimage.fit(camera, 4).quantize(camera)
    # Integer default: the dtype's range, as psnr does.
    assert metrics.ssim(rec, camera) == metrics.ssim(rec, camera, data_range=255)
    # The same values in float64 need the range, and then agree with the uint8 result.
    with pytest.raises(ValueError, match="data_range"):
        metrics.ssim(rec.astype(np.float64), camera.astype(np.float64))
    assert metrics.ssim(rec.astype(np.float64), camera.astype(np.float64), data_range=255) == (
        pytest.approx(metrics.ssim(rec, camera), rel=1e-12)
    )
    with pytest.raises(ValueError, match="data_range"):
        metrics.ssim(rec, camera, data_range=0)


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_ssim_does_not_overflow(dtype):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(1)
    # Values at both ends of the dtype: products and squares overflow any integer arithmetic.
    a = rng.choice(np.array([info.min, info.max], dtype=dtype), size=(16, 16))
    b = a.copy()
    b[::2] = info.max
    span = float(info.max) - float(info.min)
    want = structural_similarity(a.astype(np.float64), b.astype(np.float64), data_range=span)
    assert metrics.ssim(a, b) == pytest.approx(want, rel=1e-9)
    assert metrics.ssim(a, a) == 1.0


def test_ssim_small_images_and_channels(face_rgb):
    a = np.arange(25, dtype=np.uint8).reshape(5, 5) * 10
    b = a // 20 * 20
    want = structural_similarity(a, b, data_range=255, win_size=5)
    assert metrics.ssim(a, b) == pytest.approx(want)
    with pytest.raises(ValueError, match="at least 3"):
        metrics.ssim(np.zeros((2, 9), np.uint8), np.zeros((2, 9), np.uint8))
    img = face_rgb[::4, ::4]
    rec = vqimage.fit(img, 4).quantize(img)
    want = structural_similarity(rec, img, data_range=255, channel_axis=-1)
    assert metrics.ssim(rec, img, channel_axis=-1) == pytest.approx(want, rel=1e-12)
    with pytest.raises(ValueError, match="channel_axis"):
        metrics.ssim(rec, img, channel_axis=3)


def test_ssim_rejects_bad_input():
    with pytest.raises(ValueError, match="shapes"):
        metrics.ssim(np.zeros((8, 8), np.uint8), np.zeros((8, 9), np.uint8))
    with pytest.raises(TypeError, match="dtype"):
        metrics.ssim(np.zeros((8, 8), bool), np.zeros((8, 8), bool))


def test_ssim_reference_is_bit_identical(face, face_rgb):
    ref = metrics._SSIMReference(face)
    for k in (2, 16):
        rec = vqimage.fit(face, k, strategy="uniform").quantize(face)
        assert ref(rec) == metrics.ssim(rec, face)
    img = face_rgb[::3, ::3]
    ref = metrics._SSIMReference(img, channel_axis=-1)
    rec = vqimage.fit(img, 6).quantize(img)
    assert ref(rec) == metrics.ssim(rec, img, channel_axis=-1)
    with pytest.raises(ValueError, match="shapes"):
        ref(rec[:-1])


# -- entropy ---------------------------------------------------------------------------------
def test_entropy_of_the_face_codes(face):
    for k in (2, 8, 64):
        q = vqimage.fit(face, k)
        codes = q.encode(face)
        counts = np.bincount(codes.ravel())
        want = scipy_entropy(counts, base=2)
        got = metrics.entropy(codes, n_levels=q.n_levels)
        assert got == pytest.approx(want, rel=1e-12)
        # Never more than the packed bits, and quantile codes come closest to them.
        assert got <= q.bits
    quantile = vqimage.fit(face, 8, strategy="quantile")
    assert metrics.entropy(quantile.encode(face)) == pytest.approx(3.0, abs=1e-3)


def test_entropy_simple_cases():
    assert metrics.entropy(np.arange(256, dtype=np.uint8)) == 8.0
    assert metrics.entropy(np.zeros(100, np.uint16)) == 0.0
    assert metrics.entropy(np.array([True, False, True, False])) == 1.0
    assert metrics.entropy(np.array([0.5, 0.5, 2.5, 2.5])) == 1.0
    assert metrics.entropy([[0, 1], [2, 3]], n_levels=4) == 2.0


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_entropy_dtype_extremes(dtype):
    info = np.iinfo(dtype)
    a = np.array([info.min, info.max, info.max, info.min + 1], dtype=dtype)
    assert metrics.entropy(a) == pytest.approx(1.5)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        st.sampled_from([np.dtype(d) for d in INT_DTYPES]),
        hnp.array_shapes(min_dims=1, max_dims=3, max_side=12),
        elements={"allow_nan": False},
    )
)
def test_entropy_matches_scipy_for_any_integers(a):
    _, counts = np.unique(a, return_counts=True)
    assert metrics.entropy(a) == pytest.approx(scipy_entropy(counts, base=2), abs=1e-12)


def test_entropy_wide_ranges_take_the_sorting_path():
    a = np.array([0, 2**40, 2**40, -(2**50)], dtype=np.int64)
    assert metrics.entropy(a) == pytest.approx(1.5)
    b = np.array([0, np.iinfo(np.uint64).max], dtype=np.uint64)
    assert metrics.entropy(b) == 1.0


def test_entropy_rejects_bad_input():
    with pytest.raises(ValueError, match="empty"):
        metrics.entropy(np.array([], np.uint8))
    with pytest.raises(TypeError, match="dtype"):
        metrics.entropy(np.array(["a", "b"]))
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        metrics.entropy(np.array([0, 4]), n_levels=4)
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        metrics.entropy(np.array([-1, 2]), n_levels=4)
    with pytest.raises(ValueError, match="integers"):
        metrics.entropy(np.array([0.5, 1.0]), n_levels=4)
    with pytest.raises(ValueError, match="NaN"):
        metrics.entropy(np.array([0.0, math.nan]))
    with pytest.raises(ValueError, match="at least 2"):
        metrics.entropy(np.array([0, 0]), n_levels=1)


def test_mse_psnr_kept(face):
    # The foundation's behaviour: float64 arithmetic, the dtype's range, inf when equal.
    rec = vqimage.fit(face, 8).quantize(face)
    d = rec.astype(np.float64) - face
    assert metrics.mse(rec, face) == pytest.approx(float(np.mean(d * d)))
    assert metrics.psnr(rec, face) == pytest.approx(10 * np.log10(255**2 / np.mean(d * d)))
    assert metrics.psnr(face, face) == math.inf
