"""The compiled exact 1-D k-means (Lagrangian penalty search, issue 13) against references."""

from __future__ import annotations

import subprocess
import sys
from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vqimage
from vqimage.core._optimal_kernel import _prefix_sums, optimal_dc, optimal_fast, optimal_lagrangian
from vqimage.core.strategies import _optimal_dense


def sse(x: np.ndarray, w: np.ndarray, starts) -> float:
    """Weighted squared error of the partition, each cluster centred at its own mean."""
    ends = [*list(starts)[1:], x.size]
    total = 0.0
    for s, e in zip(starts, ends):
        xs, ws = x[s:e], w[s:e]
        total += float(np.dot(ws, (xs - np.dot(ws, xs) / ws.sum()) ** 2))
    return total


def brute(x: np.ndarray, w: np.ndarray, k: int) -> float:
    return min(sse(x, w, (0, *c)) for c in combinations(range(1, x.size), k - 1))


def check_partition(starts: np.ndarray, m: int, k: int) -> None:
    assert starts.size == k and starts[0] == 0
    assert np.all(np.diff(starts) > 0) and starts[-1] < m


def prefix(x: np.ndarray, w: np.ndarray):
    return _prefix_sums(x, w)


def dense_starts(x: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    xc = x - np.dot(w, x) / w.sum()
    p1, p2 = np.r_[0.0, np.cumsum(w * xc)], np.r_[0.0, np.cumsum(w * xc * xc)]
    return _optimal_dense(p1, p2, np.r_[0.0, np.cumsum(w)], k)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.integers(-12, 12), min_size=3, max_size=9, unique=True),
       weights=st.lists(st.integers(1, 3), min_size=9, max_size=9),
       scale=st.sampled_from([1.0, 0.1, 1e-3]), offset=st.sampled_from([0.0, 1e6]),
       data=st.data())
def test_equals_brute_force(values, weights, scale, offset, data):
    # Small integer grids with few weights are full of ties between partitions and between
    # cluster counts at one penalty; the offset checks the centred prefix sums.
    x = np.sort(np.array(values, dtype=np.float64)) * scale + offset
    w = np.array(weights[: x.size], dtype=np.float64)
    k = data.draw(st.integers(2, x.size - 1))
    starts = optimal_fast(x, w, k)
    check_partition(starts, x.size, k)
    assert sse(x, w, starts) == pytest.approx(brute(x, w, k), rel=1e-9, abs=1e-9 * scale**2)


@pytest.mark.parametrize("m", range(4, 12))
def test_equally_spaced_ties_are_spliced_exactly(m):
    # Equally spaced, equally weighted values: many counts share one penalised optimum, so the
    # search must splice two solutions; every k must still be the exact optimum.
    x = np.arange(m, dtype=np.float64)
    w = np.ones(m)
    p1, p2, pw = prefix(x, w)
    for k in range(2, m):
        starts, _, _ = optimal_lagrangian(p1, p2, pw, k)
        check_partition(starts, m, k)
        assert sse(x, w, starts) == pytest.approx(brute(x, w, k), rel=1e-12, abs=1e-12)


def test_splice_path_is_taken():
    x = np.arange(10, dtype=np.float64)
    p1, p2, pw = prefix(x, np.ones(10))
    assert any(optimal_lagrangian(p1, p2, pw, k)[1] < 0 for k in range(2, 10))


def test_duplicated_weights_and_repeated_blocks():
    # Two identical blocks: the optimum for an odd k is not unique (which block gets more).
    block = np.array([0.0, 1.0, 2.0, 7.0, 8.0])
    x = np.r_[block, block + 100.0]
    w = np.tile([3.0, 1.0, 3.0, 2.0, 2.0], 2)
    for k in range(2, x.size):
        starts = optimal_fast(x, w, k)
        check_partition(starts, x.size, k)
        assert sse(x, w, starts) == pytest.approx(brute(x, w, k), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_medium_equals_dense_and_divide_and_conquer(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(300, 1500))
    kind = seed % 3
    if kind == 0:
        x = np.unique(rng.standard_normal(m))
    elif kind == 1:  # integers with gaps and heavy weights (a 16-bit histogram)
        x = np.unique(rng.integers(0, 65536, m)).astype(np.float64)
    else:  # clumps: many near-ties between cluster counts
        x = np.unique(np.round(rng.choice([0.0, 5.0, 20.0], m) + rng.random(m), 2))
    w = rng.integers(1, 50, x.size).astype(np.float64)
    p1, p2, pw = prefix(x, w)
    for k in (2, 3, 7, 16, 64, 255):
        if k >= x.size:
            continue
        ref = sse(x, w, dense_starts(x, w, k))
        got = optimal_fast(x, w, k)
        check_partition(got, x.size, k)
        assert sse(x, w, got) == pytest.approx(ref, rel=1e-9)
        assert sse(x, w, optimal_dc(p1, p2, pw, k)) == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize("offset", [0.0, 1e6])
def test_large_normals_equal_divide_and_conquer(offset):
    # The precision case of the issue, at a size the O(k m log m) reference finishes quickly.
    x = np.sort(np.random.default_rng(7).standard_normal(50_000)) + offset
    w = np.ones(x.size)
    p1, p2, pw = prefix(x, w)
    for k in (8, 256):
        got = optimal_fast(x, w, k)
        check_partition(got, x.size, k)
        ref = optimal_dc(p1, p2, pw, k)
        assert sse(x, w, got) == pytest.approx(sse(x, w, ref), rel=1e-9)


def test_fit_matches_kmeans1d():
    kmeans1d = pytest.importorskip("kmeans1d")
    data = np.random.default_rng(1).standard_normal(20_000)
    for k in (8, 64):
        labels, _ = kmeans1d.cluster(data, k)
        labels = np.asarray(labels)
        peer = sum(float(((data[labels == c] - data[labels == c].mean()) ** 2).sum())
                   for c in range(k))
        q = vqimage.fit(data, k)
        codes = q.encode(data)
        ours = sum(float(((data[codes == c] - data[codes == c].mean()) ** 2).sum())
                   for c in range(k))
        assert q.n_levels == k
        assert ours == pytest.approx(peer, rel=1e-9)


def test_fit_weighted_histogram_path():
    # Fractional sample weights go through the same kernel.
    rng = np.random.default_rng(5)
    data = rng.standard_normal(5_000)
    sw = rng.random(5_000) + 0.1
    q = vqimage.fit(data, 16, sample_weight=sw)
    x = np.sort(data)
    w = sw[np.argsort(data)]
    starts = np.searchsorted(x, q.edges[1:-1], side="left")
    ref = optimal_dc(*prefix(x, w), 16)
    assert sse(x, w, np.r_[0, starts]) == pytest.approx(sse(x, w, ref), rel=1e-9)


def test_small_integer_fit_does_not_import_numba():
    code = (
        "import sys, numpy as np, vqimage\n"
        "img = np.random.default_rng(0).integers(0, 256, (768, 1024), dtype=np.uint8)\n"
        "vqimage.fit(img, 8).encode(img)\n"
        "assert 'numba' not in sys.modules, 'numba imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("kind", ["lognormal", "clumps", "int16-weights"])
def test_hard_shapes_equal_divide_and_conquer(kind):
    # Heavy tails and clumps make the power-law aim miss and the coarse copy a poor guide:
    # the bracket's safeguards (bisection, expansion, chords, splices) must still end exact.
    rng = np.random.default_rng(11)
    if kind == "lognormal":
        x = np.unique(rng.lognormal(0.0, 2.0, 30_000))
        w = np.ones(x.size)
    elif kind == "clumps":
        x = np.unique(np.round(rng.choice([0.0, 1.0, 50.0, 51.0], 30_000)
                               + rng.random(30_000) * 0.3, 4))
        w = rng.integers(1, 5, x.size).astype(np.float64)
    else:
        x = np.unique(np.round(rng.normal(0, 3000, 200_000)))
        w = np.bincount((np.round(rng.normal(0, 3000, 200_000)) + 40_000).astype(int),
                        minlength=80_000)[(x + 40_000).astype(int)].astype(np.float64) + 1.0
    p1, p2, pw = prefix(x, w)
    for k in (2, 3, 8, 40, 200):
        got = optimal_fast(x, w, k)
        check_partition(got, x.size, k)
        ref = optimal_dc(p1, p2, pw, k)
        assert sse(x, w, got) == pytest.approx(sse(x, w, ref), rel=1e-9)


def test_sklearn_threaded_columns_equal_one_by_one():
    pytest.importorskip("sklearn")
    from vqimage.core import strategies
    from vqimage.sklearn import KBinsDiscretizer

    rng = np.random.default_rng(2)
    X = np.c_[rng.standard_normal(30_000), rng.lognormal(0, 1, 30_000),
              rng.integers(0, 3000, 30_000), np.full(30_000, 4.0)]
    with pytest.warns(UserWarning, match="Feature 3 is constant"):
        est = KBinsDiscretizer(n_bins=[6, 8, 5, 3], encode="ordinal", strategy="optimal",
                               subsample=None).fit(X)
    for j, k in enumerate([6, 8, 5]):
        x, c = np.unique(X[:, j], return_counts=True)
        edges = strategies.optimal(x, c.astype(np.float64), k)
        edges[0], edges[-1] = X[:, j].min(), X[:, j].max()
        np.testing.assert_array_equal(est.bin_edges_[j], edges)


def test_search_gives_up_to_the_layer_recurrence(monkeypatch):
    from vqimage.core import _optimal_kernel as _kernels

    x = np.sort(np.random.default_rng(4).standard_normal(3_000))
    w = np.ones(x.size)
    with pytest.raises(RuntimeError):
        optimal_lagrangian(*prefix(x, w), 37, max_steps=0)

    def give_up(*args, **kwargs):
        raise RuntimeError("no convergence")

    monkeypatch.setattr(_kernels, "optimal_lagrangian", give_up)
    got = _kernels.optimal_fast(x, w, 37)
    check_partition(got, x.size, 37)
    assert sse(x, w, got) == pytest.approx(sse(x, w, optimal_dc(*prefix(x, w), 37)), rel=1e-12)
