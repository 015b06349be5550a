"""Dask arrays: fits equal to in-memory ones (ints bit for bit, floats within the stated bound),
lazy encode / decode, chunk-naming errors, on the threaded and the distributed scheduler."""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vqimage
from vqimage.core import metrics

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

import vqimage.dask as vd  # noqa: E402

STRATEGIES = ("optimal", "uniform", "quantile", "kmeans")


@pytest.fixture(scope="session")
def client():
    """Two worker processes, one thread each: the distributed scheduler, shared by the tests."""
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture
def threads():
    with dask.config.set(scheduler="threads"):
        yield


def _rms(q: vqimage.Quantizer, data: np.ndarray) -> float:
    return float(np.sqrt(metrics.mse(q.quantize(data).astype(np.float64), data)))


# -- integers: bit for bit ----------------------------------------------------------------------
@pytest.mark.usefixtures("threads")
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("reconstruction", ["centroid", "midpoint"])
def test_uint8_fit_bit_identical(face, strategy, reconstruction):
    x = da.from_array(face, chunks=((300, 300, 168), (500, 524)))
    got = vqimage.fit(x, 8, strategy=strategy, reconstruction=reconstruction)
    want = vqimage.fit(face, 8, strategy=strategy, reconstruction=reconstruction)
    assert got == want
    assert got.edges.tobytes() == want.edges.tobytes()
    assert got.codebook.tobytes() == want.codebook.tobytes()


@pytest.mark.usefixtures("threads")
@pytest.mark.parametrize("dtype", ["uint16", "int16", "int8", "int32", "int64"])
def test_wider_and_signed_integers_bit_identical(face, dtype):
    rng = np.random.default_rng(1)
    info = np.iinfo(dtype)
    lo, hi = max(info.min, -40_000), min(info.max, 60_000)
    data = rng.integers(lo, hi, size=(96, 80), endpoint=True).astype(dtype)
    x = da.from_array(data, chunks=(25, 33))
    for strategy in STRATEGIES:
        assert vqimage.fit(x, 6, strategy=strategy) == vqimage.fit(data, 6, strategy=strategy)
    assert vd.histogram(x).dtype == np.dtype(dtype)


@pytest.mark.usefixtures("threads")
def test_weighted_integer_fit_bit_identical(face):
    rng = np.random.default_rng(2)
    w = rng.integers(0, 4, size=face.shape).astype(np.float64)
    x = da.from_array(face, chunks=256)
    wd = da.from_array(w, chunks=(100, 700))  # other chunks than the data: rechunked
    for strategy in ("optimal", "quantile"):
        got = vqimage.fit(x, 5, strategy=strategy, sample_weight=wd)
        assert got == vqimage.fit(face, 5, strategy=strategy, sample_weight=w)
    # numpy weights are chunked like the data
    assert vqimage.fit(x, 5, sample_weight=w) == vqimage.fit(face, 5, sample_weight=w)


@pytest.mark.usefixtures("threads")
def test_integer_histogram_equals_in_memory(face):
    h = vd.histogram(da.from_array(face, chunks=(128, 1024)))
    ref = vqimage.histogram(face)
    np.testing.assert_array_equal(h.values, ref.values)
    np.testing.assert_array_equal(h.counts, ref.counts)
    assert h.dtype == ref.dtype


# -- floats: the stated bound --------------------------------------------------------------------
@pytest.mark.usefixtures("threads")
def test_float_with_separated_values_is_exact(face):
    data = face / 255.0
    x = da.from_array(data, chunks=(200, 333))
    for strategy in STRATEGIES:
        assert vqimage.fit(x, 8, strategy=strategy) == vqimage.fit(data, 8, strategy=strategy)


@pytest.mark.usefixtures("threads")
def test_float_exact_option_bit_identical(face):
    rng = np.random.default_rng(3)
    data = face[::4, ::4] / 255.0 + rng.normal(0, 0.01, (192, 256))
    x = da.from_array(data, chunks=64)
    assert vd.fit(x, 8, exact=True) == vqimage.fit(data, 8)
    assert vd.fit(x, 8, strategy="quantile", exact=True) == vqimage.fit(
        data, 8, strategy="quantile"
    )


def _check_float_bound(data: np.ndarray, chunks, bins: int, n_levels: int) -> None:
    x = da.from_array(data, chunks=chunks)
    w = (data.max() - data.min()) / bins
    tol = 1e-9 * max(1.0, float(np.abs(data).max()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", vqimage.FewerLevelsWarning)
        for strategy in ("uniform", "quantile"):
            got = vd.fit(x, n_levels, strategy=strategy, bins=bins)
            want = vqimage.fit(data, n_levels, strategy=strategy)
            if got.n_levels == want.n_levels:
                assert np.abs(got.edges - want.edges).max() <= w + tol, strategy
        got = vd.fit(x, n_levels, bins=bins)
        want = vqimage.fit(data, n_levels)
    assert _rms(got, data) <= _rms(want, data) + 2 * w + tol


@pytest.mark.usefixtures("threads")
@pytest.mark.parametrize("bins", [64, 1024, vd.DEFAULT_BINS])
def test_float_bound_on_noisy_face(face, bins):
    rng = np.random.default_rng(4)
    data = face[::2, ::2] / 255.0 + rng.normal(0, 0.02, (384, 512))
    _check_float_bound(data, (100, 200), bins, 8)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    bins=st.integers(4, 300),
    n_levels=st.integers(2, 9),
    chunk=st.integers(3, 40),
    clusters=st.integers(1, 5),
)
def test_float_bound_property(seed, bins, n_levels, chunk, clusters):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-50, 50, clusters)
    data = (centres[rng.integers(0, clusters, 300)] + rng.normal(0, 1.0, 300)).reshape(20, 15)
    with dask.config.set(scheduler="sync"):
        _check_float_bound(data, chunk, bins, n_levels)


@pytest.mark.usefixtures("threads")
def test_float_constant_and_float32():
    const = da.full((10, 10), 2.5, chunks=3)
    with pytest.warns(vqimage.FewerLevelsWarning):
        q = vqimage.fit(const, 4)
    assert q.codebook.tolist() == [2.5]
    data = np.linspace(-1, 1, 999, dtype=np.float32)
    q = vqimage.fit(da.from_array(data, chunks=100), 4)
    assert q.dtype == np.float32
    assert q == vqimage.fit(data, 4)  # 999 distinct values, each in its own bin


# -- lazy transforms ------------------------------------------------------------------------------
@pytest.mark.usefixtures("threads")
def test_encode_decode_quantize_lazy_and_equal(face):
    q = vqimage.fit(face, 8)
    x = da.from_array(face, chunks=(256, 300))
    codes = q.encode(x)
    assert isinstance(codes, da.Array) and codes.dtype == np.uint8
    assert codes.chunks == x.chunks
    np.testing.assert_array_equal(codes.compute(), q.encode(face))
    rec = q.decode(codes)
    assert isinstance(rec, da.Array) and rec.dtype == face.dtype
    np.testing.assert_array_equal(rec.compute(), q.decode(q.encode(face)))
    np.testing.assert_array_equal(q.quantize(x).compute(), q.quantize(face))


@pytest.mark.usefixtures("threads")
def test_encode_is_lazy_until_computed():
    calls = []

    def make(block_id=None):
        calls.append(block_id)
        return np.full((4, 4), 7, dtype=np.uint8)

    x = da.map_blocks(make, chunks=((4, 4), (4,)), dtype=np.uint8, meta=np.empty((0, 0), np.uint8))
    q = vqimage.Quantizer([0, 5, 255], [2.0, 100.0], dtype=np.uint8)
    codes = q.encode(x)
    assert calls == []
    assert codes.sum().compute() == 32
    assert len(calls) == 2


@pytest.mark.usefixtures("threads")
def test_palette_like_layout_rejected_for_blocks():
    class Blocky:
        kind = "blocks"
        code_dtype = np.dtype(np.uint8)

        def code_shape(self, shape):
            return (shape[0] // 2, shape[1] // 2)

        def to_dict(self):
            return {"kind": "blocks"}

    with pytest.raises(TypeError, match="blocks quantizers do not support dask"):
        vd.encode(Blocky(), da.zeros((4, 4), chunks=2, dtype=np.uint8))


# -- errors ---------------------------------------------------------------------------------------
@pytest.mark.usefixtures("threads")
@pytest.mark.parametrize("bad, what", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_non_finite_chunk_named(bad, what):
    data = np.arange(100.0).reshape(10, 10)
    data[7, 2] = bad
    x = da.from_array(data, chunks=4)
    msg = rf"data contains {what} in chunk \(1, 0\) at index \(3, 2\)"
    with pytest.raises(ValueError, match=msg):
        vqimage.fit(x, 4)
    with pytest.raises(ValueError, match=msg):
        vd.fit(x, 4, exact=True)
    q = vqimage.fit(np.arange(10.0), 4)
    with pytest.raises(ValueError, match=msg):
        q.encode(x).compute()
    with pytest.raises(ValueError, match=msg):
        q.quantize(x).compute()


@pytest.mark.usefixtures("threads")
def test_input_errors():
    x = da.from_array(np.arange(12.0).reshape(3, 4), chunks=2)
    with pytest.raises(TypeError, match="bool"):
        vqimage.fit(da.zeros(4, dtype=bool, chunks=2), 2)
    with pytest.raises(ValueError, match="empty"):
        vqimage.fit(da.zeros((0, 3), chunks=2), 2)
    with pytest.raises(ValueError, match="n_levels must be at least 2"):
        vqimage.fit(x, 1)
    with pytest.raises(ValueError, match="strategy must be one of"):
        vqimage.fit(x, 2, strategy="nope")
    with pytest.raises(ValueError, match=r"sample_weight has shape \(12,\)"):
        vqimage.fit(x, 2, sample_weight=np.ones(12))
    with pytest.raises(ValueError, match=r"negative values in chunk \(0, 1\)"):
        w = np.ones((3, 4))
        w[0, 3] = -1
        vqimage.fit(x, 2, sample_weight=w)
    with pytest.raises(ValueError, match="all zero"):
        vqimage.fit(x, 2, sample_weight=np.zeros((3, 4)))
    with pytest.raises(ValueError, match="bins must be a positive integer"):
        vd.fit(x, 2, bins=0)
    q = vqimage.fit(np.arange(4), 2)
    with pytest.raises(TypeError, match="integer dtype"):
        q.decode(x)


def test_import_vqimage_does_not_import_dask():
    code = "import sys, vqimage; vqimage.fit([1, 2, 3], 2); print('dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- the distributed scheduler --------------------------------------------------------------------
def test_distributed_fit_encode_decode(client, face):
    x = da.from_array(face, chunks=(256, 512))
    q = vqimage.fit(x, 8)
    assert q == vqimage.fit(face, 8)
    codes = q.encode(x)
    np.testing.assert_array_equal(codes.compute(), q.encode(face))
    np.testing.assert_array_equal(q.decode(codes).compute(), q.quantize(face))
    rng = np.random.default_rng(5)
    noisy = face[::4, ::4] / 255.0 + rng.normal(0, 0.02, (192, 256))
    xf = da.from_array(noisy, chunks=64)
    on_cluster = vqimage.fit(xf, 6)
    with dask.config.set(scheduler="sync"):
        assert on_cluster == vqimage.fit(xf, 6)  # same reduction, same result on any scheduler
    w = (noisy.max() - noisy.min()) / vd.DEFAULT_BINS
    assert _rms(on_cluster, noisy) <= _rms(vqimage.fit(noisy, 6), noisy) + 2 * w


def test_distributed_nan_chunk_named(client):
    data = np.zeros((8, 8))
    data[5, 6] = np.nan
    with pytest.raises(ValueError, match=r"NaN in chunk \(1, 1\) at index \(1, 2\)"):
        vqimage.fit(da.from_array(data, chunks=4), 2)


# -- CLI batches on a cluster (vqimage compress DIR -o OUT --scheduler ADDRESS) ----------------
CLI = [sys.executable, "-m", "vqimage.cli"]


def _cli(*args: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=300, check=False)


def _crops(face: np.ndarray, directory: Path, n: int, size: int) -> dict[str, np.ndarray]:
    from vqimage.io import write_image

    directory.mkdir()
    rng = np.random.default_rng(7)
    out = {}
    for i in range(n):
        y, x = rng.integers(0, 768 - size + 1), rng.integers(0, 1024 - size + 1)
        img = np.ascontiguousarray(face[y : y + size, x : x + size])
        write_image(directory / f"img{i:02d}.png", img)
        out[f"img{i:02d}"] = img
    return out


def _summary(stdout: str) -> tuple[int, int, int]:
    """(compressed, failed, skipped) from the CLI's closing line."""
    m = re.search(r"(\d+) compressed\b.*?, (\d+) failed, (\d+) skipped", stdout)
    assert m, stdout
    return int(m[1]), int(m[2]), int(m[3])


def _outputs(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_cli_batch_on_cluster_matches_serial(client, face, tmp_path):
    src = tmp_path / "in"
    _crops(face, src, 6, 200)
    address = client.scheduler.address
    for extra in ([], ["--shared"]):
        serial, dist = tmp_path / f"serial{len(extra)}", tmp_path / f"dask{len(extra)}"
        opts = ["-k", "6", "--codec", "packed", *extra]
        ref = _cli("compress", src, "-o", serial, "-j", "1", "-q", *opts)
        assert ref.returncode == 0, ref.stderr
        proc = _cli("compress", src, "-o", dist, "--scheduler", address, *opts)
        assert proc.returncode == 0, proc.stderr
        assert _summary(proc.stdout) == (6, 0, 0)
        assert len(_outputs(dist)) == 6 and _outputs(dist) == _outputs(serial)
    shared = [vqimage.load(tmp_path / "dask1" / f"img{i:02d}.vqi").quantizer for i in range(6)]
    assert all(q == shared[0] for q in shared)


def test_cli_batch_survives_a_killed_worker(face, tmp_path):
    """A worker dies mid-batch: its file is reported failed, the rest finish; a rerun does only
    what is missing."""

    def hang_on(name: str, marker: str) -> None:
        """Run on every worker (``Client.run``): the first worker to load ``name`` writes its pid to
        ``marker`` and blocks until it is killed, so a file is lost mid-batch whatever the
        scheduling. Later loads (the rerun, once ``marker`` exists) go through."""
        import threading
        from pathlib import Path

        import vqimage.cli.batch as batch

        real = batch._load_prepared

        def load(src, kind):
            if Path(src).name == name and not Path(marker).exists():
                part = Path(marker + ".part")
                part.write_text(str(os.getpid()))
                part.replace(marker)  # atomic: the test never reads a half-written pid
                threading.Event().wait()
            return real(src, kind)

        batch._load_prepared = load

    src = tmp_path / "in"
    images = _crops(face, src, 6, 384)
    out = tmp_path / "out"
    marker = tmp_path / "hung-worker-pid"
    # allowed-failures 0: a task on a dead worker fails at once instead of being retried.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster, distributed.Client(cluster) as c:
        # Synchronise on the worker's own word (no polling of the scheduler against a batch that
        # may already be over): whichever worker takes img03 says so and waits to be killed.
        # A local function: cloudpickle sends it by value (workers cannot import this module).
        c.run(hang_on, "img03.png", str(marker))
        proc = subprocess.Popen([*CLI, "compress", src, "-o", out, "--codec", "lzma",
                                 "--scheduler", cluster.scheduler_address],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "COLUMNS": "250"})
        deadline = time.monotonic() + 300  # only turns a hang into a failure
        while not marker.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                stdout, stderr = proc.communicate()
                pytest.fail(f"no worker took img03.png: {stdout}\n{stderr}")
            time.sleep(0.01)
        victim = int(marker.read_text())
        assert victim in c.run(os.getpid).values()
        os.kill(victim, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 1, stdout + stderr
        failed = re.findall(r"vqimage: error: \S*?(img\d\d)\.png: worker lost", stderr)
        assert "img03" in failed, stderr
        summary = _summary(stdout)
        assert summary[1] == len(failed), stdout
        # A finished task held by the dead worker may be recomputed: it then finds its output
        # in place and reports it skipped.
        assert sum(summary) == 6, stdout
        # Whatever exists is complete (atomic writes); the worker may have renamed its file
        # into place just before it died.
        done = {p.stem for p in out.glob("*.vqi")}
        assert set(images) - set(failed) <= done
        for name in done:
            ci = vqimage.load(out / f"{name}.vqi")
            assert np.array_equal(ci.decompress(), vqimage.fit(images[name], 8).quantize(
                images[name]))
        again = _cli("compress", src, "-o", out, "--codec", "lzma", "--scheduler",
                     cluster.scheduler_address)
    assert again.returncode == 0, again.stderr
    assert _summary(again.stdout) == (6 - len(done), 0, len(done))  # only what was missing
    for name, img in images.items():
        ci = vqimage.load(out / f"{name}.vqi")
        assert ci.codec == "lzma"
        np.testing.assert_array_equal(ci.decompress(), vqimage.fit(img, 8).quantize(img))
    assert sorted(p.name for p in out.iterdir()) == [f"{n}.vqi" for n in sorted(images)]


def test_cli_batch_full_disk_leaves_no_partial_outputs(face, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from vqimage.cli import main

    src = tmp_path / "in"
    images = _crops(face, src, 5, 64)
    out = tmp_path / "out"
    from vqimage._shared import fs

    real_open = fs._open_exclusive
    opened = []

    class Full:
        """A file on a disk that fills up: half of the first write lands, then ENOSPC."""

        def __init__(self, f):
            self.f = f

        def write(self, data):
            self.f.write(bytes(data)[: len(data) // 2])
            self.f.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def open_exclusive(path):
        f = real_open(path)
        opened.append(path)
        return f if len(opened) <= 2 else Full(f)

    monkeypatch.setattr(fs, "_open_exclusive", open_exclusive)
    res = CliRunner().invoke(main, ["compress", str(src), "-o", str(out), "-j", "1",
                                    "--codec", "packed"])
    monkeypatch.undo()
    assert res.exit_code == 1, res.output
    assert res.output.count("No space left on device") >= 3
    assert _summary(res.output) == (2, 3, 0)
    assert sorted(p.name for p in out.iterdir()) == ["img00.vqi", "img01.vqi"]  # no partials
    res = CliRunner().invoke(main, ["compress", str(src), "-o", str(out), "-j", "1",
                                    "--codec", "packed"])
    assert res.exit_code == 0, res.output
    assert _summary(res.output) == (3, 0, 2)
    for name, img in images.items():
        np.testing.assert_array_equal(vqimage.load(out / f"{name}.vqi").decompress(),
                                      vqimage.fit(img, 8).quantize(img))
