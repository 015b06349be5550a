"""Error-bounded quantization: ``max_abs_error`` / ``max_rel_error`` (vqimage.core.bounds).

The bound is checked exactly as promised (``abs(x - decoded) <= e`` in float64 on the decoded
dtype), and minimality against an independent brute force that shares no code with the
library: a plain bisection over the dtype's bit patterns for each bin's feasibility and a
dynamic programme over all partitions.
"""

from __future__ import annotations

import itertools
import math
import pickle
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import vqimage
from vqimage.cli import main
from vqimage.core import bounds
from vqimage.core.histogram import histogram


def worst(x: np.ndarray, q: vqimage.Quantizer) -> float:
    rec = q.quantize(x)
    assert rec.dtype == x.dtype
    return float(np.max(np.abs(x.astype(np.float64) - rec.astype(np.float64))))


# -- the bound holds ----------------------------------------------------------------------------

finite64 = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
offsets = st.sampled_from([0.0, 1.0, -3.5, 1e6, 1e9, -1e12, 2.0**40])
bounds_ = st.floats(1e-9, 1e3, allow_nan=False, allow_infinity=False)


@given(
    base=hnp.arrays(np.float64, st.integers(1, 200), elements=finite64),
    offset=offsets,
    e=bounds_,
    dtype=st.sampled_from([np.float64, np.float32, np.float16]),
    dup=st.integers(1, 3),
    midpoint=st.booleans(),
)
def test_bound_holds_on_floats(base, offset, e, dtype, dup, midpoint):
    with np.errstate(over="ignore"):
        x = np.tile(base + offset, dup).astype(dtype)
    if not np.isfinite(x).all():
        return
    rec = "midpoint" if midpoint else "centroid"
    try:
        q = vqimage.fit(x, max_abs_error=e, reconstruction=rec)
    except ValueError as exc:  # only when the bound needs more than 65,536 levels
        assert "levels, more than the 65,536" in str(exc)
        return
    got = worst(x, q)
    assert got <= e
    assert q.max_error == got and q.error_bound == e
    assert q.strategy == "max_error" and q.n_levels <= np.unique(x).size


@st.composite
def int_arrays(draw):
    dt = np.dtype(draw(st.sampled_from(["u1", "i1", "u2", "i2", "i4", "u4", "i8"])))
    info = np.iinfo(dt)
    lo = draw(st.integers(max(info.min, -(2**40)), min(info.max, 2**40)))
    width = draw(st.sampled_from([3, 50, 1000, 2**20]))
    hi = min(info.max, lo + width)
    n = draw(st.integers(1, 300))
    return draw(hnp.arrays(dt, n, elements=st.integers(lo, hi)))


@given(x=int_arrays(), e=st.floats(0.01, 5000, allow_nan=False))
def test_bound_holds_on_integers(x, e):
    q = vqimage.fit(x, max_abs_error=e)
    assert worst(x, q) <= math.floor(e) if e >= 1 else worst(x, q) == 0
    assert np.array_equal(q.codebook, np.rint(q.codebook))  # integer levels: exact decoding


def test_integer_bound_below_one_is_lossless():
    x = np.array([0, 1, 2, 2, 7, 255], dtype=np.uint8)
    for e in (0.3, 0.5, 0.99):
        q = vqimage.fit(x, max_abs_error=e)
        assert q.n_levels == 5 and np.array_equal(q.quantize(x), x)
    q = vqimage.fit(x, max_abs_error=1)  # {0, 1, 2} share the level 1
    assert q.n_levels == 3 and q.max_error == 1.0


def test_large_offsets_and_float32_rounding():
    # Spacing of float64 at 1e15 is 0.125: a bound of 0.01 is lossless there.
    x = 1e15 + np.arange(10) * 0.125
    q = vqimage.fit(x, max_abs_error=0.01)
    assert q.n_levels == 10 and worst(x, q) == 0
    # Levels are float32 numbers: the check holds after the cast decode makes.
    y = np.random.default_rng(1).random(10000).astype(np.float32) * 1000 + 1e4
    q = vqimage.fit(y, max_abs_error=1e-3)
    assert worst(y, q) <= 1e-3
    assert np.array_equal(q.codebook, q.codebook.astype(np.float32).astype(np.float64))


def test_scalar_and_vectorised_sweeps_agree(monkeypatch):
    x = np.random.default_rng(2).normal(size=20000)
    h = histogram(x)
    a = bounds.fit_bound(h.values, h.counts, x.dtype, 1e-3)
    monkeypatch.setattr(bounds, "_VALUES_PER_SCALAR_BIN", 10**9)  # all but 16 bins vectorised
    b = bounds.fit_bound(h.values, h.counts, x.dtype, 1e-3)
    monkeypatch.setattr(bounds, "_VALUES_PER_SCALAR_BIN", 1)  # every bin one searchsorted
    c = bounds.fit_bound(h.values, h.counts, x.dtype, 1e-3)
    assert a.codebook.size > 100
    for other in (b, c):
        assert np.array_equal(a.edges, other.edges) and np.array_equal(a.codebook, other.codebook)


# -- minimality -----------------------------------------------------------------------------------


def _key(v: float, dt: np.dtype) -> int:
    bits = np.array([v], dtype=dt).view(f"u{dt.itemsize}")[0].item()
    sign = 1 << (8 * dt.itemsize - 1)
    return -(bits & (sign - 1)) if bits & sign else bits


def _val(k: int, dt: np.dtype) -> float:
    sign = 1 << (8 * dt.itemsize - 1)
    bits = (-k) | sign if k < 0 else k
    return float(np.array([bits], dtype=f"u{dt.itemsize}").view(dt)[0])


def _feasible(lo: float, hi: float, e: float, dt: np.dtype) -> bool:
    """Is there a number L of dtype dt with fl(L - lo) <= e and fl(hi - L) <= e? Plain
    bisection over all finite numbers of dt for the largest L passing the first test."""
    a, b = _key(lo, dt), _key(float(np.finfo(dt).max), dt) + 1  # lo passes, b "fails"
    while b - a > 1:
        mid = (a + b) // 2
        if _val(mid, dt) - lo <= e:
            a = mid
        else:
            b = mid
    return hi - _val(a, dt) <= e


def _brute_min_levels(x: list[float], e: float, dt: np.dtype) -> int:
    """Fewest contiguous bins (any partition, not greedy) that are each feasible."""
    m = len(x)
    best = [0] + [m + 1] * m
    for j in range(1, m + 1):
        for i in range(j):
            if best[i] + 1 < best[j] and _feasible(x[i], x[j - 1], e, dt):
                best[j] = best[i] + 1
    return best[m]


@given(
    x=st.lists(st.floats(-100, 100, allow_nan=False, width=32), min_size=1, max_size=9),
    e=st.floats(1e-6, 50, allow_nan=False),
    dtype=st.sampled_from([np.float64, np.float32]),
)
def test_levels_are_minimal_against_brute_force(x, e, dtype):
    arr = np.array(x, dtype=dtype)
    values = sorted({float(v) for v in arr})
    q = vqimage.fit(arr, max_abs_error=e)
    assert q.n_levels == _brute_min_levels(values, e, np.dtype(dtype))


@given(
    n=st.lists(st.integers(-400, 400), min_size=1, max_size=40),
    e8=st.integers(1, 64),
)
def test_levels_are_minimal_in_exact_arithmetic(n, e8):
    # Multiples of 1/8 and a bound of e8/8: float64 is exact, so the real-number argument
    # applies. A bin holds values within 2e of its smallest; values pairwise more than 2e apart
    # need a level each, and the greedy's bin starts are such values.
    e = Fraction(e8, 8)
    values = sorted({Fraction(v, 8) for v in n})
    starts = [values[0]]
    for v in values:
        if v > starts[-1] + 2 * e:
            starts.append(v)
    x = np.array([float(v) for v in n]) / 8
    q = vqimage.fit(x, max_abs_error=float(e))
    assert q.n_levels == len(starts)
    assert all(b - a > 2 * e for a, b in itertools.pairwise(starts))


# -- relative bounds, reconstruction ------------------------------------------------------------


def test_max_rel_error_is_a_fraction_of_the_range():
    x = np.linspace(10.0, 30.0, 2001)
    qa = vqimage.fit(x, max_abs_error=0.2)
    qr = vqimage.fit(x, max_rel_error=0.01)
    assert qa == qr and qr.error_bound == pytest.approx(0.2)
    const = vqimage.fit(np.full(5, 3.5), max_rel_error=0.1)  # range 0: one exact level
    assert const.n_levels == 1 and const.max_error == 0.0


def test_levels_are_the_best_allowed():
    x = np.array([0.0, 0.0, 0.0, 1.0])
    # Mean 0.25 meets the bound 0.8: the least-squares level is kept.
    assert vqimage.fit(x, max_abs_error=0.8).codebook.tolist() == [0.25]
    # Bound 0.6: levels in [0.4, 0.6]; the mean is clipped to 0.4.
    assert vqimage.fit(x, max_abs_error=0.6).codebook.tolist() == [0.4]
    assert vqimage.fit(x, max_abs_error=0.6, reconstruction="midpoint").codebook.tolist() == [0.5]


def test_bound_survives_to_dict_and_pickle():
    q = vqimage.fit(np.linspace(0, 1, 100), max_abs_error=0.05)
    d = q.to_dict()
    assert d["error_bound"] == 0.05 and d["max_error"] == q.max_error
    assert vqimage.Quantizer.from_dict(d) == q
    assert pickle.loads(pickle.dumps(q)).max_error == q.max_error
    assert "error_bound" not in vqimage.fit(np.arange(10.0), 2).to_dict()


# -- compress / load, numcodecs ---------------------------------------------------------------


def test_compress_and_load_keep_the_bound():
    yy, xx = np.mgrid[0:64, 0:96]
    field = (np.sin(xx / 7.0) * np.cos(yy / 5.0)).astype(np.float32)
    for kw in ({"max_abs_error": 1e-3}, {"max_rel_error": 1e-2}):
        c = vqimage.compress(field, **kw)
        d = vqimage.load(c.tobytes())
        rec = d.decompress()
        e = c.quantizer.error_bound
        assert rec.dtype == np.float32
        assert np.abs(rec.astype(np.float64) - field.astype(np.float64)).max() <= e
        assert d.quantizer == c.quantizer and d.quantizer.max_error <= e


def test_numcodecs_codec_with_a_bound():
    numcodecs = pytest.importorskip("numcodecs")
    from vqimage.numcodecs import VQImageCodec

    x = np.random.default_rng(3).normal(size=(40, 50)) * 10 + 1e6
    codec = VQImageCodec(max_abs_error=0.05, codec="packed")
    config = codec.get_config()
    assert config == {"id": "vqimage", "codec": "packed", "max_abs_error": 0.05}
    again = numcodecs.get_codec(dict(config))
    assert isinstance(again, VQImageCodec) and again.get_config() == config
    buf = codec.encode(x)
    rec = again.decode(buf)
    assert rec.dtype == x.dtype and np.abs(rec - x).max() <= 0.05
    rel = numcodecs.get_codec(VQImageCodec(max_rel_error=0.01).get_config())
    y = rel.decode(rel.encode(x))
    assert np.abs(y - x).max() <= 0.01 * np.ptp(x)
    # A chunk of a quantizer codec decodes with it; a bounded codec cannot decode it.
    plain = VQImageCodec(vqimage.fit(x, 4), codec="packed")
    with pytest.raises(vqimage.FormatError, match="has no quantizer"):
        codec.decode(plain.encode(x))
    with pytest.raises(ValueError, match="not both"):
        VQImageCodec(vqimage.fit(x, 4), max_abs_error=0.1)
    with pytest.raises(ValueError, match="positive finite"):
        VQImageCodec(max_abs_error=-1.0)


# -- the CLI ----------------------------------------------------------------------------------


def test_cli_max_error(tmp_path):
    yy, xx = np.mgrid[0:50, 0:80]
    field = np.sin(xx / 9.0) + np.cos(yy / 4.0)
    src = tmp_path / "field.npy"
    np.save(src, field)
    runner = CliRunner()
    out = tmp_path / "a.vqi"
    res = runner.invoke(main, ["compress", str(src), "-o", str(out), "--max-error", "0.01"])
    assert res.exit_code == 0, res.output
    q = vqimage.load(out).quantizer
    assert f"max error {q.max_error:.4g} <= 0.01 with {q.n_levels} levels" in res.output
    assert np.abs(vqimage.load(out).decompress() - field).max() <= 0.01
    out2 = tmp_path / "b.vqi"
    res = runner.invoke(main, ["compress", str(src), "-o", str(out2), "--max-error", "1%"])
    assert res.exit_code == 0, res.output
    span = float(np.ptp(field))
    assert np.abs(vqimage.load(out2).decompress() - field).max() <= 0.01 * span
    for args, needle in (
        (["--max-error", "0.1", "-k", "4"], "excludes -k/--levels and --psnr"),
        (["--max-error", "0.1", "--psnr", "30"], "excludes -k/--levels and --psnr"),
        (["--max-error", "0"], "not a positive bound"),
        (["--max-error", "nan"], "not a positive bound"),
        (["--max-error", "-1%"], "not a positive bound"),
        (["--max-error", "abc"], "not a positive bound"),
        (["--max-error", "1e-12"], "needs 90,000 levels"),
    ):
        if "1e-12" in args:
            src = tmp_path / "noise.npy"
            np.save(src, np.random.default_rng(4).random((300, 300)))
        res = runner.invoke(main, ["compress", str(src), "-o", str(tmp_path / "c.vqi"), *args])
        assert res.exit_code != 0 and needle in res.output, (args, res.output)
        assert "Traceback" not in res.output


# -- bad input: one-line errors -------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "exc", "needle"),
    [
        ({"max_abs_error": 0}, ValueError, "max_abs_error must be a positive finite number"),
        ({"max_abs_error": -0.1}, ValueError, "max_abs_error must be a positive finite"),
        ({"max_abs_error": float("nan")}, ValueError, "max_abs_error must be a positive finite"),
        ({"max_abs_error": float("inf")}, ValueError, "max_abs_error must be a positive finite"),
        ({"max_rel_error": 0.0}, ValueError, "max_rel_error must be a positive finite"),
        ({"max_abs_error": "0.1"}, TypeError, "max_abs_error must be a number"),
        ({"max_abs_error": True}, TypeError, "max_abs_error must be a number"),
        ({"max_abs_error": 0.1, "max_rel_error": 0.1}, ValueError, "not both"),
        ({"max_abs_error": 0.1, "n_levels": 4}, ValueError, "not both"),
        ({"max_abs_error": 1e-9}, ValueError, "max_abs_error=1e-09 needs 100,000 levels"),
        ({"max_rel_error": 1e-9}, ValueError, "max_rel_error=1e-09 (1e-09 on a range of 1) "
                                              "needs 100,000 levels"),
    ],
)
def test_bad_bounds_raise_one_line(kwargs, exc, needle):
    x = np.linspace(0.0, 1.0, 100000)
    with pytest.raises(exc) as info:
        vqimage.fit(x, **kwargs)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_bad_bounds_in_compress():
    x = np.linspace(0.0, 1.0, 100)
    with pytest.raises(ValueError, match="without n_levels or quantizer"):
        vqimage.compress(x, 8, max_abs_error=0.1)
    with pytest.raises(ValueError, match="contains NaN"):
        vqimage.compress(np.array([0.0, np.nan]), max_abs_error=0.1)


def test_packing_helpers_are_exact():
    # The key mapping behind the exact thresholds orders numbers and steps one ulp at a time.
    for dt in (np.float64, np.float32, np.float16):
        v = np.array([-1.5, -0.0, 0.0, 1e-3, 1.0, np.finfo(dt).max], dtype=dt)
        k = bounds._to_key(v)
        assert np.array_equal(bounds._from_key(k, np.dtype(dt)), v)
        assert (np.diff(k) >= 0).all()
        nxt = bounds._from_key(k + 1, np.dtype(dt))
        assert np.array_equal(nxt[2:5], np.nextafter(v[2:5], dt(np.inf)))
