"""Issue 11, items 1-3: nothing silently wrong at the extremes of the dtypes.

1. 64-bit integers at their limits are fitted, decoded, stored and reported exactly.
2. Float64 data near +-1.7e308 is fitted correctly by every strategy (or refused clearly).
3. The command line writes no file when it reports an error, and metrics cope with huge ranges.
"""

from __future__ import annotations

import itertools
import json
import math
import pickle
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import vqimage
from vqimage.cli import main
from vqimage.core import metrics
from vqimage.core.quantizer import Quantizer

I64 = np.iinfo(np.int64)
U64 = np.iinfo(np.uint64)
HUGE = np.array([-1.7e308, -1e308, 0.0, 1e308, 1.7e308])
STRATEGY_NAMES = ("uniform", "quantile", "kmeans", "optimal")


def quiet_fit(data, n_levels, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", vqimage.FewerLevelsWarning)
        return vqimage.fit(data, n_levels, **kw)


def cli(*args: object) -> object:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


# -- item 1: int64 / uint64 extremes ----------------------------------------------------------

INT64_CASES = [
    np.array([I64.min, -1, 0, I64.max], dtype=np.int64),
    np.array([0, 1, 2**63, U64.max], dtype=np.uint64),
    # Levels float64 cannot hold: 2**63 - 1000 rounds to 2**63 - 1024.
    np.array([I64.min, I64.min + 1000, 0, I64.max - 1000], dtype=np.int64),
    np.array([0, 2**63 + 1, U64.max - 10000, U64.max], dtype=np.uint64),
]


@pytest.mark.parametrize("x", INT64_CASES, ids=lambda a: f"{a.dtype}-{a[-1]}")
def test_item1_int64_extremes_are_lossless(x):
    q = vqimage.fit(x, 4)
    out = q.quantize(x)
    assert out.dtype == x.dtype
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(q.decode(q.encode(x)), x)
    # Repeated values (counts above one) change nothing.
    rep = np.repeat(x, [3, 1, 2, 5])
    np.testing.assert_array_equal(vqimage.fit(rep, 4).quantize(rep), rep)


@pytest.mark.parametrize("x", INT64_CASES, ids=lambda a: f"{a.dtype}-{a[-1]}")
def test_item1_int64_levels_survive_json_pickle_and_vqi(x):
    q = vqimage.fit(x, 4)
    text = json.dumps(q.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)
    back = Quantizer.from_dict(json.loads(text))
    assert back == q
    np.testing.assert_array_equal(back.quantize(x), x)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(q)).quantize(x), x)
    for codec in ("packed", "context", "auto"):
        c = vqimage.compress(x.reshape(2, 2), 4, codec=codec)
        loaded = vqimage.load(c.tobytes())
        assert loaded.quantizer == q
        np.testing.assert_array_equal(loaded.decompress(), x.reshape(2, 2))


@pytest.mark.parametrize("dtype", [np.int64, np.uint64, np.int32, np.uint32, np.int8, np.uint8])
def test_item1_decode_clips_into_the_dtype_without_wrapping(dtype):
    info = np.iinfo(dtype)
    q = Quantizer([-1e30, 0.0, 1e30], [-1e30, 1e30], dtype=dtype)
    assert q.decode(np.array([0, 1], np.uint8)).tolist() == [info.min, info.max]
    # The bounds themselves, whose float64 (2**63, 2**64) is outside the dtype.
    q = Quantizer([0.0, 1.0, 2.0], [float(info.min), float(info.max)], dtype=dtype)
    assert q.decode(np.array([0, 1], np.uint8)).tolist() == [info.min, info.max]


def test_item1_exact_integer_levels_are_validated():
    q = Quantizer([0.0, 1.0, 2.0], [0, I64.max - 5], dtype=np.int64)
    assert q.decode(np.array([1], np.uint8)).tolist() == [I64.max - 5]
    assert q.to_dict()["codebook"] == [0.0, I64.max - 5]
    with pytest.raises(ValueError, match="outside the range of int64"):
        Quantizer([0.0, 1.0, 2.0], [0, 2**63], dtype=np.int64)
    with pytest.raises(ValueError, match="outside the range"):
        Quantizer.from_dict({**q.to_dict(), "codebook": [0.0, -(2**63) - 1]})


def test_item1_integers_float64_cannot_separate_are_refused():
    # As many levels as distinct values promise lossless: refused, not silently merged.
    x = np.array([2**63 - 2, 2**63 - 1], dtype=np.uint64)
    with pytest.raises(ValueError, match="distinct but equal in float64"):
        vqimage.fit(x, 2)
    h = vqimage.histogram(np.array([I64.max - 1, I64.max], dtype=np.int64))
    assert h.distinct == 2 and h.values.size == 1
    with pytest.raises(ValueError, match="distinct but equal in float64"):
        vqimage.fit_histogram(h, 4)


def test_item1_timestamps_with_fewer_levels_than_values_are_fitted():
    # Nanosecond timestamps: neighbours 7 ns apart merge in float64, but 8 levels over 100,000
    # values merge far more than that; the fit works and levels stay within the data's range.
    t = np.int64(1_700_000_000_000_000_000) + np.arange(100_000, dtype=np.int64) * 7
    q = vqimage.fit(t, 8)
    rec = q.quantize(t)
    assert q.n_levels == 8 and rec.dtype == np.int64
    assert rec.min() >= t.min() and rec.max() <= t.max()
    assert np.abs(rec - t).max() < 100_000 * 7 / 8


def test_item1_histogram_merge_keeps_exact_values():
    a = vqimage.histogram(np.array([I64.min, I64.max - 1000], dtype=np.int64))
    b = vqimage.histogram(np.array([0, I64.max - 1000], dtype=np.int64))
    m = a.merge(b)
    assert m.exact.tolist() == [I64.min, 0, I64.max - 1000]
    assert m.counts.tolist() == [1.0, 1.0, 2.0]
    q = vqimage.fit_histogram(m, 3)
    x = np.array([I64.min, 0, I64.max - 1000], dtype=np.int64)
    np.testing.assert_array_equal(q.quantize(x), x)


@pytest.mark.parametrize("x", INT64_CASES[:2], ids=["int64", "uint64"])
def test_item1_cli_npy_64bit_is_lossless(tmp_path, x):
    src = tmp_path / "wide.npy"
    np.save(src, x.reshape(2, 2))
    res = CliRunner().invoke(main, ["compress", str(src), "-o", str(tmp_path / "w.vqi")])
    assert res.exit_code == 0, res.output
    assert "PSNR lossless" in res.output
    assert "cast" not in res.output
    res = cli("decompress", tmp_path / "w.vqi", "-o", tmp_path / "back.npy")
    assert res.exit_code == 0, res.output
    back = np.load(tmp_path / "back.npy")
    assert back.dtype == x.dtype
    np.testing.assert_array_equal(back, x.reshape(2, 2))
    # --psnr searches from the histogram: it must see the same exact values.
    res = cli("compress", src, "-o", tmp_path / "p.vqi", "--psnr", "1000")
    assert res.exit_code == 0, res.output
    np.testing.assert_array_equal(vqimage.load(tmp_path / "p.vqi").decompress(), x.reshape(2, 2))


INT_DTYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]


@st.composite
def int_data(draw):
    dt = np.dtype(draw(st.sampled_from(INT_DTYPES)))
    info = np.iinfo(dt)
    extremes = [info.min, info.min + 1, info.max - 1, info.max, 0, (info.min + info.max) // 2]
    value = st.one_of(st.sampled_from(extremes), st.integers(info.min, info.max))
    values = draw(st.lists(value, min_size=1, max_size=8, unique=True))
    counts = draw(st.lists(st.integers(1, 4), min_size=len(values), max_size=len(values)))
    extra = draw(st.integers(0, 3))
    return np.repeat(np.array(values, dtype=dt), counts), max(2, len(values) + extra)


@settings(max_examples=300, deadline=None)
@given(int_data())
def test_item1_property_k_levels_on_k_values_are_lossless_for_every_integer_dtype(case):
    x, k = case
    distinct = np.unique(x)
    if np.unique(distinct.astype(np.float64)).size < distinct.size:
        # 64-bit values float64 cannot tell apart: a clear refusal, never a lossy fit.
        with pytest.raises(ValueError, match="distinct but equal in float64"):
            vqimage.fit(x, k)
        return
    q = quiet_fit(x, k)
    out = q.quantize(x)
    assert out.dtype == x.dtype
    np.testing.assert_array_equal(out, x)
    back = vqimage.load(vqimage.compress(x, quantizer=q).tobytes()).decompress()
    np.testing.assert_array_equal(back, x)


# -- item 2: floats near +-1.7e308 -------------------------------------------------------------


def exact_sse(x: np.ndarray, labels: np.ndarray) -> Fraction:
    """Squared error of a partition with each cluster at its exact mean (rational arithmetic)."""
    total = Fraction(0)
    for lab in np.unique(labels):
        vals = [Fraction(float(v)) for v in x[labels == lab]]
        mean = sum(vals, Fraction(0)) / len(vals)
        total += sum((v - mean) ** 2 for v in vals)
    return total


def best_partition_sse(x: np.ndarray, k: int) -> Fraction:
    """Brute force over every split of sorted distinct ``x`` into ``k`` contiguous clusters."""
    best = None
    for cuts in itertools.combinations(range(1, x.size), k - 1):
        labels = np.searchsorted(np.array(cuts), np.arange(x.size), side="right")
        sse = exact_sse(x, labels)
        best = sse if best is None or sse < best else best
    return best


@pytest.mark.parametrize("reconstruction", ["centroid", "midpoint"])
@pytest.mark.parametrize("strategy", STRATEGY_NAMES)
def test_item2_huge_floats_fit_like_the_scaled_data(strategy, reconstruction):
    # Every strategy is equivariant under multiplication by a power of two: the fit of the
    # huge data must be the fit of the same data at an ordinary scale, scaled back exactly.
    for k in (2, 3, 4):
        q = quiet_fit(HUGE, k, strategy=strategy, reconstruction=reconstruction)
        ref = quiet_fit(np.ldexp(HUGE, -1000), k, strategy=strategy,
                        reconstruction=reconstruction)
        np.testing.assert_array_equal(q.edges, np.ldexp(ref.edges, 1000))
        np.testing.assert_array_equal(q.codebook, np.ldexp(ref.codebook, 1000))
        assert q.n_levels == ref.n_levels == k
        assert np.isfinite(q.centers).all()
        assert (q.codebook[1:] > q.codebook[:-1]).all(), "duplicated level"
        np.testing.assert_array_equal(q.encode(HUGE), ref.encode(np.ldexp(HUGE, -1000)))


@pytest.mark.parametrize("k", [2, 3, 4])
def test_item2_optimal_is_the_minimum_error_fit_on_huge_floats(k):
    data = np.r_[HUGE, [-1.6e308, 5e307, 1.69e308]]
    x = np.unique(data)
    q = quiet_fit(data, k)
    labels = q.encode(x)
    assert exact_sse(x, labels) == best_partition_sse(x, k)


def test_item2_the_issue_example_gives_three_distinct_levels():
    q = vqimage.fit([-1.7e308, -1e308, 0, 1e308, 1.7e308], 3)
    assert q.n_levels == 3 and np.unique(q.codebook).size == 3
    q = vqimage.fit([-1.7e308, -1e308, 0, 1e308, 1.7e308], 3, strategy="kmeans")
    assert q.n_levels == 3


@pytest.mark.parametrize("strategy", STRATEGY_NAMES)
def test_item2_huge_floats_round_trip_through_vqi(strategy):
    x = np.tile(HUGE, (3, 1))
    q = quiet_fit(x, 3, strategy=strategy)
    c = vqimage.compress(x, quantizer=q)
    np.testing.assert_array_equal(vqimage.load(c.tobytes()).decompress(), q.quantize(x))
    lossless = quiet_fit(x, 5)
    np.testing.assert_array_equal(lossless.quantize(x), x)


def test_item2_values_float64_cannot_separate_at_the_scale_are_refused():
    x = np.array([1.7e308, 0.0, 5e-324, -1.7e308])
    # Enough levels: every value keeps its own level, subnormals included.
    np.testing.assert_array_equal(vqimage.fit(x, 4).quantize(x), x)
    with pytest.raises(ValueError, match="too many orders of magnitude"):
        vqimage.fit(x, 3)


FLOAT_DTYPES = [np.float16, np.float32, np.float64]


@st.composite
def float_data(draw):
    dt = np.dtype(draw(st.sampled_from(FLOAT_DTYPES)))
    fi = np.finfo(dt)
    big, tiny = float(fi.max), float(fi.smallest_subnormal)
    extremes = [big, -big, float(fi.max) / 2, -float(fi.max) / 3, float(fi.tiny), tiny, 0.0]
    value = st.one_of(
        st.sampled_from(extremes),
        st.floats(allow_nan=False, allow_infinity=False, width=8 * dt.itemsize),
    )
    values = draw(st.lists(value, min_size=1, max_size=8))
    arr = np.unique(np.array(values, dtype=dt))
    counts = draw(st.lists(st.integers(1, 4), min_size=arr.size, max_size=arr.size))
    extra = draw(st.integers(0, 3))
    return np.repeat(arr, counts), max(2, arr.size + extra)


@settings(max_examples=300, deadline=None)
@given(float_data())
def test_item2_property_k_levels_on_k_values_are_lossless_for_every_float_dtype(case):
    x, k = case
    with np.errstate(over="raise", invalid="raise"):  # no hidden overflow on the way
        q = quiet_fit(x, k)
        out = q.quantize(x)
    assert out.dtype == x.dtype
    np.testing.assert_array_equal(out, x)
    back = vqimage.load(vqimage.compress(x, quantizer=q).tobytes()).decompress()
    np.testing.assert_array_equal(back, x)


# -- item 3: errors leave no output; metrics on huge ranges ------------------------------------


def test_item3_cli_huge_floats_compress_with_a_correct_psnr(tmp_path):
    src = tmp_path / "huge1e308.npy"
    img = np.tile(HUGE, (4, 1))
    np.save(src, img)
    res = cli("compress", src, "-o", tmp_path / "h.vqi")
    assert res.exit_code == 0, res.output
    assert "PSNR lossless" in res.output
    np.testing.assert_array_equal(vqimage.load(tmp_path / "h.vqi").decompress(), img)
    res = cli("compress", src, "-o", tmp_path / "h3.vqi", "-k", "3")
    assert res.exit_code == 0, res.output
    q = vqimage.fit(img, 3)
    scaled = metrics.psnr(np.ldexp(q.quantize(img), -1000), np.ldexp(img, -1000),
                          data_range=float(np.ptp(np.ldexp(img, -1000))))
    assert f"PSNR {scaled:.2f} dB" in res.output
    res = cli("compress", src, "-o", tmp_path / "p.vqi", "--psnr", "20")
    assert res.exit_code == 0, res.output
    assert vqimage.load(tmp_path / "p.vqi").quantizer.n_levels < 5


def _fail_psnr(*args: object, **kw: object) -> float:
    raise ValueError("data_range must be a positive number, got inf")


def test_item3_cli_error_after_compressing_leaves_no_file(tmp_path, monkeypatch):
    import vqimage.cli.batch as batch

    monkeypatch.setattr(batch, "_image_psnr", _fail_psnr)
    src = tmp_path / "img.npy"
    np.save(src, np.arange(64, dtype=np.uint8).reshape(8, 8))
    res = CliRunner().invoke(main, ["compress", str(src), "-o", str(tmp_path / "h.vqi")])
    assert res.exit_code == 1
    assert "data_range" in res.output
    assert not (tmp_path / "h.vqi").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["img.npy"]


def test_item3_batch_error_is_failed_and_writes_nothing(tmp_path, monkeypatch):
    import vqimage.cli.batch as batch

    monkeypatch.setattr(batch, "_image_psnr", _fail_psnr)
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(2):
        np.save(inputs / f"a{i}.npy", np.arange(64, dtype=np.uint8).reshape(8, 8) + i)
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["compress", str(inputs), "-o", str(out), "-j", "1"])
    assert res.exit_code == 1
    assert "0 compressed" in res.output and "2 failed" in res.output
    assert list(out.iterdir()) == []
    results = batch.compress_batch(batch.plan_jobs(sorted(inputs.iterdir()), out),
                                   batch.CompressOptions(n_levels=4), max_workers=1)
    assert [r.status for r in results] == ["failed", "failed"]
    assert list(out.iterdir()) == []


def test_item3_metrics_on_huge_ranges():
    x = np.tile(HUGE, (8, 1))
    q = vqimage.fit(x, 3)
    rec = q.quantize(x)
    s = 1000
    xs, rs = np.ldexp(x, -s), np.ldexp(rec, -s)
    r = float(np.ptp(xs))
    # The error of a lossless result is 0 and its PSNR inf, at any magnitude.
    assert metrics.mse(x, x) == 0.0
    assert metrics.psnr(x, x, data_range=1.7e308) == math.inf
    assert metrics._psnr_own_range(x, x) == math.inf
    # PSNR and SSIM are ratios: the huge data gives what the same data at a small scale gives.
    want = metrics.psnr(rs, xs, data_range=r)
    assert metrics._psnr_own_range(rec, x) == pytest.approx(want, rel=1e-12)
    assert metrics.psnr(rec, x, data_range=1.7e308) == pytest.approx(
        metrics.psnr(rs, xs, data_range=math.ldexp(1.7e308, -s)), rel=1e-12)
    assert metrics.ssim(rec, x, data_range=1.7e308) == pytest.approx(
        metrics.ssim(rs, xs, data_range=math.ldexp(1.7e308, -s)), rel=1e-9)
    ref = metrics._SSIMReference(x, data_range=1.7e308)
    assert ref(rec) == pytest.approx(metrics.ssim(rec, x, data_range=1.7e308), rel=1e-9)
    # An MSE beyond the largest float is inf (its meaning: overflow); one within it is exact,
    # even when the sum of the squares would overflow.
    assert metrics.mse(rec, x) == math.inf
    assert metrics.mse(np.full(4, 1e154), np.zeros(4)) == pytest.approx(1e308, rel=1e-14)
    assert metrics.psnr(np.full(4, 1e154), np.zeros(4), data_range=1e200) == pytest.approx(
        20 * math.log10(1e200) - 10 * math.log10(1e308), rel=1e-12)


def test_item3_ordinary_metrics_are_unchanged():
    a = np.arange(256, dtype=np.uint8).reshape(16, 16)
    b = a // 32 * 32
    err = float(np.mean((a.astype(float) - b) ** 2))
    assert metrics.mse(b, a) == err
    assert metrics.psnr(b, a) == float(10.0 * np.log10(255.0**2 / err))


def test_item3_files_are_never_left_behind_by_a_failed_fit(tmp_path):
    src = tmp_path / "u.npy"
    np.save(src, np.array([[2**63 - 2, 2**63 - 1]], dtype=np.uint64))
    res = CliRunner().invoke(main, ["compress", str(src), "-o", str(tmp_path / "u.vqi")])
    assert res.exit_code == 1
    assert "distinct but equal in float64" in res.output
    assert not Path(tmp_path / "u.vqi").exists()
