"""vqimage.sklearn.KBinsDiscretizer against scikit-learn's own KBinsDiscretizer.

Every comparison runs both estimators on the same data: edges, outputs, inverse transforms,
warnings and errors must agree (bit for bit for uniform and quantile, within 1e-9 of each
feature's range for kmeans), and scikit-learn's estimator checks must pass.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from itertools import combinations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sklearn = pytest.importorskip("sklearn")
pd = pytest.importorskip("pandas")

from scipy import sparse  # noqa: E402
from sklearn.preprocessing import KBinsDiscretizer as SkKBins  # noqa: E402
from sklearn.utils import resample  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

from vqimage.sklearn import KBinsDiscretizer as VqKBins  # noqa: E402
from vqimage.sklearn import _resample_indices  # noqa: E402

QUANTILE_METHODS = [
    "inverted_cdf", "averaged_inverted_cdf", "closest_observation",
    "interpolated_inverted_cdf", "hazen", "weibull", "linear", "median_unbiased",
    "normal_unbiased",
]
ENCODES = ["onehot", "onehot-dense", "ordinal"]


def run(cls, params, X, sample_weight=None, X_new=None):
    """Fit, transform and inverse-transform; return outputs, warnings and any error."""
    est = cls(**params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            est.fit(X, sample_weight=sample_weight)
            out = est.transform(X if X_new is None else X_new)
            inv = est.inverse_transform(out)
            err = None
            if X_new is None and cls is VqKBins:
                # fit_transform (which validates X once) gives what fit + transform give.
                again = cls(**params).fit_transform(X, sample_weight=sample_weight)
                assert type(again) is type(out) and again.dtype == out.dtype
                np.testing.assert_array_equal(dense(again), dense(out))
        except Exception as exc:  # the error itself is compared
            out = inv = None
            err = (type(exc), str(exc))
    msgs = sorted({(w.category.__name__, str(w.message)) for w in caught})
    return est, out, inv, msgs, err


def dense(a):
    return a.toarray() if sparse.issparse(a) else np.asarray(a)


def assert_same(params, X, sample_weight=None, X_new=None, *, kmeans_tol=1e-9):
    sk, out_sk, inv_sk, warn_sk, err_sk = run(SkKBins, params, X, sample_weight, X_new)
    vq, out_vq, inv_vq, warn_vq, err_vq = run(VqKBins, params, X, sample_weight, X_new)
    assert err_vq == err_sk
    assert warn_vq == warn_sk
    if err_sk is not None:
        return sk, vq
    np.testing.assert_array_equal(vq.n_bins_, sk.n_bins_)
    assert vq.n_features_in_ == sk.n_features_in_
    assert type(out_vq) is type(out_sk)
    assert out_vq.dtype == out_sk.dtype and out_vq.shape == out_sk.shape
    exact = params.get("strategy", "quantile") != "kmeans"
    for e_vq, e_sk in zip(vq.bin_edges_, sk.bin_edges_):
        assert e_vq.dtype == e_sk.dtype
        if exact:
            np.testing.assert_array_equal(e_vq, e_sk)
        else:
            span = e_sk[-1] - e_sk[0] if np.isfinite(e_sk).all() else 1.0
            np.testing.assert_allclose(e_vq, e_sk, rtol=0, atol=kmeans_tol * span)
    if exact:
        np.testing.assert_array_equal(dense(out_vq), dense(out_sk))
        np.testing.assert_array_equal(inv_vq, inv_sk)
        assert inv_vq.dtype == inv_sk.dtype
    else:
        # A value may only change bin if it lies within the edges' rounding of an edge.
        Xn = np.asarray(X if X_new is None else X_new, dtype=np.float64)
        a = dense(out_vq).reshape(len(Xn), -1)
        b = dense(out_sk).reshape(len(Xn), -1)
        if params.get("encode", "onehot") == "ordinal":
            for j, e in enumerate(sk.bin_edges_):
                moved = a[:, j] != b[:, j]
                if moved.any():
                    near = np.min(np.abs(Xn[moved, j][:, None] - e[None, 1:-1]), axis=1)
                    assert np.all(near <= kmeans_tol * (e[-1] - e[0]) + 1e-12)
        else:
            assert np.mean(a != b) < 0.05
    return sk, vq


# --------------------------------------------------------------------------------------------
# Generated datasets


@st.composite
def datasets(draw, continuous=False):
    n = draw(st.integers(1, 60))
    f = draw(st.integers(1, 3))
    kind = "normal" if continuous else draw(st.sampled_from(
        ["normal", "smallint", "mixed", "uint8", "float32"]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if kind == "normal":
        X = rng.normal(draw(st.sampled_from([0.0, 1e3])), draw(st.sampled_from([1.0, 1e-3])),
                       (n, f))
    elif kind == "smallint":
        X = rng.integers(-3, 4, (n, f)).astype(np.float64)
    elif kind == "uint8":
        X = rng.integers(0, 256, (n, f)).astype(np.uint8)
    elif kind == "float32":
        X = rng.normal(0, 1, (n, f)).astype(np.float32)
    else:
        X = rng.normal(0, 1, (n, f))
        X[rng.random((n, f)) < 0.4] = 0.0
        X[:, 0] = np.round(X[:, 0] * 2)
    return X, rng


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=datasets(), strategy=st.sampled_from(["uniform", "quantile"]),
       encode=st.sampled_from(ENCODES), method=st.sampled_from(QUANTILE_METHODS),
       n_bins=st.integers(2, 9), weighted=st.sampled_from([None, "int", "float"]),
       subsample=st.sampled_from([None, None, 7, 40]))
def test_uniform_quantile_identical(data, strategy, encode, method, n_bins, weighted, subsample):
    X, rng = data
    sw = None
    if weighted == "int":
        sw = rng.integers(0, 4, len(X)).astype(np.float64)
    elif weighted == "float":
        sw = rng.random(len(X)) + 0.01
    params = dict(n_bins=n_bins, encode=encode, strategy=strategy, quantile_method=method,
                  subsample=subsample, random_state=int(rng.integers(1000)))
    X_new = X[::-1] + (0 if X.dtype == np.uint8 else 0.5)
    assert_same(params, X, sw, X_new)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=datasets(continuous=True), n_bins=st.integers(2, 9),
       weighted=st.sampled_from([None, "int", "float"]), subsample=st.sampled_from([None, 30]),
       encode=st.sampled_from(ENCODES))
def test_kmeans_matches(data, n_bins, weighted, subsample, encode):
    X, rng = data
    sw = None
    if weighted == "int":
        sw = rng.integers(0, 4, len(X)).astype(np.float64)
    elif weighted == "float":
        sw = rng.random(len(X)) + 0.01
    params = dict(n_bins=n_bins, encode=encode, strategy="kmeans", subsample=subsample,
                  random_state=3)
    assert_same(params, X, sw)


@pytest.mark.parametrize("n_bins, dtype", [
    (2, np.uint8), (8, np.uint8), (16, np.uint8), (8, np.float64), (5, np.float32),
])
def test_kmeans_on_images(face, camera, n_bins, dtype):
    # Integer images: the uniform start puts cluster midpoints exactly on pixel values; the
    # side each tie falls on must be scikit-learn's. scikit-learn runs KMeans on float32 data
    # with float32 sums (about 1e-4 of the range off the exact means); vqimage sums in float64.
    tol = 1e-9 if dtype != np.float32 else 2e-4
    params = dict(n_bins=n_bins, encode="ordinal", strategy="kmeans", random_state=0)
    assert_same(params, face.reshape(-1, 1).astype(dtype), kmeans_tol=tol)
    for img in (camera[::4], face[::7, ::5]):
        assert_same({**params, "subsample": None}, img.reshape(-1, 1).astype(dtype),
                    kmeans_tol=tol)
    assert_same({**params, "subsample": None}, camera[::8].reshape(-1, 4).astype(dtype),
                kmeans_tol=tol)


def test_kmeans_small_integer_data_with_ties():
    rng = np.random.default_rng(0)
    for n_bins, hi in [(2, 6), (3, 6), (4, 7), (5, 10), (7, 49), (7, 7), (3, 50), (5, 50)]:
        X = rng.integers(0, hi + 1, (300, 2)).astype(np.uint8)
        assert_same(dict(n_bins=n_bins, encode="ordinal", strategy="kmeans"), X)


@pytest.mark.parametrize("strategy", ["uniform", "quantile", "kmeans"])
def test_float32_input(strategy):
    X = np.random.default_rng(1).normal(size=(500, 3)).astype(np.float32)
    assert_same(dict(n_bins=6, encode="ordinal", strategy=strategy), X, kmeans_tol=2e-4)
    assert_same(dict(n_bins=6, encode="onehot-dense", strategy=strategy, dtype=np.float64), X,
                kmeans_tol=2e-4)


@pytest.mark.parametrize("strategy", ["uniform", "quantile", "kmeans"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_parameter(strategy, dtype):
    X = np.random.default_rng(2).normal(size=(300, 2)) * 10
    for encode in ENCODES if strategy != "kmeans" else ["onehot"]:
        assert_same(dict(n_bins=4, encode=encode, strategy=strategy, dtype=dtype), X)


@pytest.mark.parametrize("X", [
    np.arange(12, dtype=np.float16).reshape(6, 2),
    np.array([[True, False], [False, True], [True, True]]),
    np.arange(-50, 50, dtype=np.int64).reshape(-1, 2) * 10**12,
    np.arange(200, dtype=np.int8).reshape(-1, 2),
    (np.arange(40000, dtype=np.uint16) * 3).reshape(-1, 1),
])
@pytest.mark.parametrize("strategy", ["uniform", "quantile", "kmeans"])
def test_unusual_dtypes(X, strategy):
    assert_same(dict(n_bins=3, encode="ordinal", strategy=strategy), X)


def test_large_integer_inputs_use_the_table_path():
    rng = np.random.default_rng(3)
    for dtype in (np.uint8, np.int8, np.int16, np.uint16):
        info = np.iinfo(dtype)
        X = rng.integers(info.min, info.max, (70_000, 2), endpoint=True).astype(dtype)
        for strategy in ("uniform", "quantile"):
            assert_same(dict(n_bins=7, encode="ordinal", strategy=strategy), X)
            assert_same(dict(n_bins=7, encode="ordinal", strategy=strategy, dtype=np.float32),
                        X)


def test_integer_valued_floats_and_many_bins():
    rng = np.random.default_rng(4)
    X = rng.integers(0, 300, (80_000, 2)).astype(np.float64)
    X_new = X.copy()
    X_new[5, 1] = 3.5  # not integer any more: that column falls back to comparisons
    for strategy in ("uniform", "quantile"):
        for n_bins in (8, 12, 40):
            p = dict(n_bins=n_bins, encode="ordinal", strategy=strategy)
            assert_same(p, X)
            assert_same(p, X, X_new=X_new)
            assert_same(p, np.asfortranarray(X))
            assert_same(p, X[::2, ::-1])


def test_subsample_rows_are_resamples_rows():
    rng = np.random.default_rng(5)
    for n, size, seed in [(1000, 100, 0), (50, 500, 7), (786432, 200_000, 0)]:
        X = np.zeros((n, 1))
        np.testing.assert_array_equal(
            _resample_indices(n, size, seed, None, X),
            resample(np.arange(n), replace=True, n_samples=size, random_state=seed))
        w = rng.random(n)
        np.testing.assert_array_equal(
            _resample_indices(n, size, seed, w, X),
            resample(np.arange(n), replace=True, n_samples=size, random_state=seed,
                     sample_weight=w))
    # A RandomState instance advances exactly as in scikit-learn.
    rs_a, rs_b = np.random.RandomState(3), np.random.RandomState(3)
    X = rng.normal(size=(400, 2))
    a = SkKBins(n_bins=4, subsample=100, random_state=rs_a).fit(X)
    b = VqKBins(n_bins=4, subsample=100, random_state=rs_b).fit(X)
    np.testing.assert_array_equal(a.bin_edges_[0], b.bin_edges_[0])
    assert rs_a.randint(10**9) == rs_b.randint(10**9)


def test_seed_example_with_one_changed_import(face):
    """The gallery example's steps with vqimage's estimator: scikit-learn 1.9's numbers.

    (The gallery page printed 15.625, ... from an older scikit-learn whose uniform strategy did
    not subsample; today both estimators draw the same 200,000 pixels, whose maximum is 249.)
    """
    img = face
    expected = {
        "uniform": [15.5625, 46.6875, 77.8125, 108.9375, 140.0625, 171.1875, 202.3125,
                    233.4375],
        "kmeans": [18.90934343, 53.33478066, 82.59678424, 109.22385188, 134.67876527,
                   159.67877978, 184.72384803, 223.17132867],
    }
    for strategy, centers_expected in expected.items():
        outs = []
        for cls in (VqKBins, SkKBins):
            encoder = cls(n_bins=8, encode="ordinal", strategy=strategy, random_state=0)
            out = encoder.fit_transform(img.reshape(-1, 1)).reshape(img.shape)
            edges = encoder.bin_edges_[0]
            centers = edges[:-1] + (edges[1:] - edges[:-1]) / 2
            np.testing.assert_allclose(centers, centers_expected, rtol=0, atol=5e-9)
            assert out.dtype == np.float64 and out.nbytes == 6291456
            outs.append(out)
        np.testing.assert_array_equal(outs[0], outs[1])


# --------------------------------------------------------------------------------------------
# Estimator API


def test_pandas_dataframes_and_set_output():
    rng = np.random.default_rng(6)
    df = pd.DataFrame({"a": rng.normal(size=200), "b": rng.integers(0, 9, 200),
                       "c": rng.random(200).astype(np.float32)})
    for encode in ENCODES:
        sk, vq = assert_same(dict(n_bins=4, encode=encode, strategy="quantile"), df)
        np.testing.assert_array_equal(vq.feature_names_in_, sk.feature_names_in_)
        np.testing.assert_array_equal(vq.get_feature_names_out(), sk.get_feature_names_out())
        np.testing.assert_array_equal(vq.get_feature_names_out(["a", "b", "c"]),
                                      sk.get_feature_names_out(["a", "b", "c"]))
    for encode in ("onehot-dense", "ordinal"):
        p = dict(n_bins=3, encode=encode, strategy="uniform")
        a = SkKBins(**p).set_output(transform="pandas").fit_transform(df)
        b = VqKBins(**p).set_output(transform="pandas").fit_transform(df)
        pd.testing.assert_frame_equal(a, b)
    # Fitted on names, transformed without: the same warning as scikit-learn's.
    assert_same(dict(n_bins=3, strategy="uniform"), df, X_new=df.to_numpy())


def test_onehot_sparse_output_is_sklearns():
    X = np.random.default_rng(7).normal(size=(100, 3))
    a = SkKBins(n_bins=5).fit_transform(X)
    b = VqKBins(n_bins=5).fit_transform(X)
    assert type(a) is type(b) and a.format == b.format and a.dtype == b.dtype
    assert (a != b).nnz == 0


def test_params_and_clone():
    from sklearn.base import clone

    est = VqKBins(n_bins=[3, 4], strategy="optimal", reconstruction="centroid", subsample=None)
    params = est.get_params()
    assert params["strategy"] == "optimal" and params["reconstruction"] == "centroid"
    assert set(params) == set(SkKBins().get_params()) | {"reconstruction"}
    assert clone(est).get_params() == params
    assert est.set_params(strategy="kmeans").strategy == "kmeans"
    assert "reconstruction='centroid'" in repr(est)


@pytest.mark.parametrize("params, message", [
    (dict(strategy="jenks"), "'strategy' parameter of KBinsDiscretizer must be a str among"),
    (dict(reconstruction="mean"), "'reconstruction' parameter of KBinsDiscretizer must be"),
    (dict(n_bins=1), "'n_bins' parameter of KBinsDiscretizer must be"),
])
def test_invalid_parameters(params, message):
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match=message):
        VqKBins(**params).fit([[0.0], [1.0]])


def test_errors_match_sklearn():
    X = np.random.default_rng(8).normal(size=(20, 2))
    cases = [
        (dict(n_bins=[2, 3, 4]), X, None),
        (dict(n_bins=[2, 1]), X, None),
        (dict(n_bins=[2, 2.5]), X, None),
        (dict(strategy="quantile", quantile_method="linear"), X, np.ones(20)),
        (dict(strategy="kmeans", n_bins=5), X[:3], None),
        (dict(strategy="uniform"), X, np.ones(19)),
        (dict(strategy="uniform"), np.array([[np.nan, 1.0]] * 3), None),
        (dict(strategy="uniform"), np.array([["a", "b"]] * 3), None),
        (dict(strategy="uniform"), np.array([1.0, 2.0]), None),
        (dict(strategy="uniform"), X, -np.ones(20)),
    ]
    for params, data, sw in cases:
        assert_same({**params, "encode": "ordinal"}, data, sw)
    # Transform / inverse_transform with the wrong number of features.
    for cls in (SkKBins, VqKBins):
        est = cls(n_bins=3, encode="ordinal").fit(X)
        with pytest.raises(ValueError, match="X has 3 features, but KBinsDiscretizer"):
            est.transform(np.zeros((2, 3)))
        with pytest.raises(ValueError, match=r"Incorrect number of features\. Expecting 2"):
            est.inverse_transform(np.zeros((2, 3)))


def test_constant_and_narrow_features_warn_like_sklearn():
    rng = np.random.default_rng(9)
    X = np.c_[np.full(50, 3.0), rng.integers(0, 2, 50), rng.normal(size=50)]
    for strategy in ("uniform", "quantile", "kmeans"):
        for encode in ENCODES:
            assert_same(dict(n_bins=5, encode=encode, strategy=strategy), X)
    # Constant after dropping zero-weight rows.
    sw = np.r_[np.zeros(25), np.ones(25)]
    Xc = np.c_[np.r_[rng.normal(size=25), np.ones(25)], rng.normal(size=50)]
    for strategy in ("uniform", "quantile", "kmeans"):
        assert_same(dict(n_bins=3, encode="ordinal", strategy=strategy), Xc, sw)
    # Fewer distinct values than clusters: scikit-learn's ConvergenceWarning from KMeans.
    assert_same(dict(n_bins=6, encode="ordinal", strategy="kmeans"),
                np.repeat([[0.0], [1.0], [5.0]], 10, axis=0))


def test_import_vqimage_does_not_import_sklearn():
    code = "import sys, vqimage; vqimage.fit; assert 'sklearn' not in sys.modules, 'sklearn'"
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------------------------
# Beyond scikit-learn: strategy="optimal" and reconstruction="centroid"


def brute_force_sse(x: np.ndarray, k: int) -> float:
    best = np.inf
    for cuts in combinations(range(1, x.size), k - 1):
        parts = np.split(x, cuts)
        best = min(best, sum(float(((p - p.mean()) ** 2).sum()) for p in parts))
    return best


def binned_sse(x: np.ndarray, codes: np.ndarray) -> float:
    c = codes.astype(np.intp)
    means = np.bincount(c, weights=x) / np.maximum(np.bincount(c), 1)
    return float(((x - means[c]) ** 2).sum())


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.integers(-20, 20), min_size=2, max_size=9), k=st.integers(2, 4))
def test_optimal_is_the_minimum_squared_error(values, k):
    x = np.sort(np.array(values, dtype=np.float64))
    est = VqKBins(n_bins=k, encode="ordinal", strategy="optimal", subsample=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        codes = est.fit_transform(x[:, None])[:, 0] if x[0] != x[-1] else None
    if codes is None:
        return
    kk = min(k, np.unique(x).size)
    assert binned_sse(x, codes) <= brute_force_sse(x, kk) * (1 + 1e-12) + 1e-9
    assert est.n_bins_[0] == kk


def test_optimal_beats_kmeans_and_centroids_beat_midpoints(face):
    col = face.reshape(-1, 1)
    x = col[:, 0].astype(np.float64)
    sse = {}
    for strategy in ("kmeans", "optimal"):
        est = VqKBins(n_bins=8, encode="ordinal", strategy=strategy, subsample=None)
        sse[strategy] = binned_sse(x, est.fit_transform(col)[:, 0])
    assert sse["optimal"] <= sse["kmeans"]
    mid = VqKBins(n_bins=8, encode="ordinal", strategy="optimal", subsample=None).fit(col)
    cen = VqKBins(n_bins=8, encode="ordinal", strategy="optimal", subsample=None,
                  reconstruction="centroid").fit(col)
    codes = cen.transform(col)
    np.testing.assert_array_equal(codes, mid.transform(col))
    rec_c = cen.inverse_transform(codes)[:, 0]
    rec_m = mid.inverse_transform(codes)[:, 0]
    assert np.mean((rec_c - x) ** 2) < np.mean((rec_m - x) ** 2)
    # Each centroid is the mean of the training pixels in its bin.
    c = codes[:, 0].astype(np.intp)
    np.testing.assert_allclose(cen.codebooks_[0], np.bincount(c, weights=x) / np.bincount(c))
    np.testing.assert_allclose(mid.codebooks_[0],
                               (mid.bin_edges_[0][1:] + mid.bin_edges_[0][:-1]) / 2)


def test_centroid_reconstruction_details():
    X = np.array([[0.0, 5.0], [1.0, 5.0], [2.0, 5.0], [10.0, 5.0], [12.0, 5.0]])
    sw = np.array([1.0, 1.0, 2.0, 1.0, 3.0])
    with pytest.warns(UserWarning, match="Feature 1 is constant"):
        est = VqKBins(n_bins=2, encode="onehot", strategy="uniform",
                      reconstruction="centroid").fit(X, sample_weight=sw)
    # Bins [0, 6) and [6, 12]; weighted means; the constant feature keeps its value.
    np.testing.assert_allclose(est.codebooks_[0], [(0 + 1 + 4) / 4, (10 + 36) / 4])
    np.testing.assert_allclose(est.codebooks_[1], [5.0])
    inv = est.inverse_transform(est.transform(X))
    np.testing.assert_allclose(inv[:, 0], [1.25, 1.25, 1.25, 11.5, 11.5])
    np.testing.assert_allclose(inv[:, 1], 5.0)
    # Empty bins reconstruct to their midpoint.
    est = VqKBins(n_bins=4, encode="ordinal", strategy="uniform",
                  reconstruction="centroid").fit([[0.0], [1.0], [8.0]])
    np.testing.assert_allclose(est.codebooks_[0], [0.5, 3.0, 5.0, 8.0])


@pytest.mark.parametrize("strategy", ["uniform", "quantile", "kmeans", "optimal"])
def test_weighted_optimal_and_centroids_are_consistent(strategy):
    rng = np.random.default_rng(10)
    X = rng.normal(size=(300, 2))
    w = rng.integers(0, 4, 300).astype(np.float64)
    rep = np.repeat(X, w.astype(int), axis=0)
    a = VqKBins(n_bins=5, encode="ordinal", strategy=strategy, reconstruction="centroid",
                subsample=None).fit(X, sample_weight=w)
    b = VqKBins(n_bins=5, encode="ordinal", strategy=strategy, reconstruction="centroid",
                subsample=None).fit(rep)
    if strategy in ("uniform", "optimal", "quantile"):
        for ea, eb, ca, cb in zip(a.bin_edges_, b.bin_edges_, a.codebooks_, b.codebooks_):
            np.testing.assert_allclose(ea, eb, rtol=0, atol=1e-12)
            np.testing.assert_allclose(ca, cb, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------------------------
# scikit-learn's estimator checks


def _check_results(estimator):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(estimator, on_fail=None, on_skip=None)
    return {r["check_name"]: r["status"] for r in results}


@pytest.fixture
def sklearn_check_params(monkeypatch):
    """Give vqimage's class the per-check parameters scikit-learn uses for its own estimator.

    scikit-learn's check_estimator runs some checks of its own KBinsDiscretizer with adjusted
    parameters (e.g. the sample-weight equivalence check with subsample=None and without
    kmeans, whose fit it calls stochastic); it keys them by class, so a subclass would not get
    them. Registering the same entry runs both estimators through identical checks.
    """
    from sklearn.utils._test_common import instance_generator as ig

    monkeypatch.setitem(ig.PER_ESTIMATOR_CHECK_PARAMS, VqKBins,
                        ig.PER_ESTIMATOR_CHECK_PARAMS[SkKBins])


def test_check_estimator_default_instance():
    # As a third-party estimator (no per-check parameters): everything passes.
    ours = _check_results(VqKBins())
    theirs = _check_results(SkKBins())
    assert set(ours) == set(theirs)
    assert not [n for n, s in ours.items() if s == "failed"]
    assert {n for n, s in ours.items() if s == "skipped"} == {
        n for n, s in theirs.items() if s == "skipped"}


@pytest.mark.parametrize("params", [
    dict(),
    dict(strategy="optimal", reconstruction="centroid"),
    dict(strategy="kmeans", encode="ordinal"),
])
def test_check_estimator_like_sklearn(sklearn_check_params, params):
    ours = _check_results(VqKBins(**params))
    peer = {**params, "strategy": "kmeans"} if params.get("strategy") == "optimal" else params
    theirs = _check_results(SkKBins(**{k: v for k, v in peer.items()
                                       if k != "reconstruction"}))
    assert set(ours) == set(theirs)
    assert not [n for n, s in ours.items() if s == "failed"]
    assert {n for n, s in ours.items() if s == "skipped"} == {
        n for n, s in theirs.items() if s == "skipped"}


@pytest.mark.parametrize("reconstruction", ["midpoint", "centroid"])
def test_optimal_sample_weight_equivalence(reconstruction):
    from sklearn.utils.estimator_checks import check_sample_weight_equivalence_on_dense_data

    est = VqKBins(strategy="optimal", subsample=None, reconstruction=reconstruction)
    check_sample_weight_equivalence_on_dense_data("KBinsDiscretizer", est)
