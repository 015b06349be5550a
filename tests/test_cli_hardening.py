"""Issue 11, items 8, 9, 11 and 12: Ctrl-C, messages, deterministic timing, the face's lookup.

Subprocesses synchronise on files the child writes (never on sleeps alone); nothing here
touches the network.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import vqimage
from vqimage.cli import main
from vqimage.io import write_image

CLI = [sys.executable, "-m", "vqimage.cli"]


def _wait_for(what: str, ready, proc: subprocess.Popen[str] | None = None,
              timeout: float = 120.0) -> None:
    """Poll ``ready()`` until it holds; fail at once if ``proc`` ends first (no blind sleeps:
    the deadline only turns a hang into a failure)."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the process ended before {what}: {out}\n{err}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.005)


def _noise_images(directory: Path, n: int, shape: tuple[int, int] = (768, 1024)) -> None:
    directory.mkdir()
    rng = np.random.default_rng(11)
    for i in range(n):
        write_image(directory / f"img{i:02d}.png", rng.integers(0, 256, shape, dtype=np.uint8))


# -- item 8: Ctrl-C ------------------------------------------------------------------------------
# The child writes a marker just before the context kernel's second call (the second file, one
# output written) and the test interrupts it then: the signal lands while compiled code runs,
# which is what turned Ctrl-C into "SystemError: CPUDispatcher(...)" and a batch that went on.
_MARK_KERNEL = """
import os, runpy, sys
from pathlib import Path
import vqimage.codecs._context_kernel as k
real, calls = k._kernel, [0]
def kernel(*args):
    calls[0] += 1
    if calls[0] == 2:
        Path(os.environ["VQI_TEST_MARKER"]).touch()
    return real(*args)
k._kernel = kernel
sys.argv[0] = "vqimage"
runpy.run_module("vqimage.cli", run_name="__main__", alter_sys=True)
"""


def _default_sigint() -> None:
    # A child of a shell job may inherit SIGINT ignored; Python then would not turn it into
    # KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_item8_ctrl_c_stops_a_serial_batch(tmp_path: Path) -> None:
    src, out, marker = tmp_path / "in", tmp_path / "out", tmp_path / "kernel-started"
    _noise_images(src, 8)
    env = {**os.environ, "COLUMNS": "200", "VQI_TEST_MARKER": str(marker)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _MARK_KERNEL, "compress", str(src), "-o", str(out), "-j", "1",
         "--codec", "context"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=_default_sigint,
    )
    _wait_for("the second file's kernel", marker.exists, proc)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stdout + stderr
    assert stderr.strip().splitlines()[-1] == "vqimage: interrupted", stderr
    assert "SystemError" not in stderr + stdout and "compressed" not in stdout
    written = sorted(p.name for p in out.iterdir())
    # The batch stopped: no more than the file being coded when the signal came was finished,
    # and nothing partial or temporary is left.
    assert set(written) <= {"img00.vqi", "img01.vqi"}, written
    assert "img00.vqi" in written
    assert not [n for n in written if ".tmp" in n], written
    for name in written:
        assert vqimage.load(out / name).shape == (768, 1024)


def _interrupted_kernel() -> SystemError:
    """What numba raises when SIGINT lands during a compiled call."""
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as ki:
            raise SystemError("CPUDispatcher(<function _kernel>) returned a result with an "
                              "exception set") from ki
    except SystemError as err:
        return err


@pytest.mark.parametrize("shared", [False, True])
def test_item8_interrupt_inside_a_kernel_stops_the_batch(tmp_path: Path, monkeypatch,
                                                         shared: bool) -> None:
    from vqimage.cli import batch

    src, out = tmp_path / "in", tmp_path / "out"
    _noise_images(src, 4, (32, 32))
    calls: list[Path] = []
    stage = "file_histogram" if shared else "_load_prepared"
    real = getattr(batch, stage)

    def flaky(path: Path, kind: str):
        calls.append(path)
        if len(calls) == 2:
            raise _interrupted_kernel()
        return real(path, kind)

    monkeypatch.setattr(batch, stage, flaky)
    jobs = batch.plan_jobs(sorted(src.iterdir()), out)
    with pytest.raises(KeyboardInterrupt):
        batch.compress_batch(jobs, batch.CompressOptions(n_levels=4), shared=shared,
                             max_workers=1)
    assert len(calls) == 2  # stopped at the interrupted file: the others were not started
    calls.clear()
    res = CliRunner().invoke(main, ["compress", str(src), "-o", str(out), "-j", "1",
                                    *(["--shared"] if shared else [])])
    assert res.exit_code == 130, res.output
    assert "vqimage: interrupted" in res.output and "SystemError" not in res.output
    assert not [p for p in out.iterdir() if ".tmp" in p.name]


def test_item8_interrupt_outside_a_batch_is_exit_130(tmp_path: Path, monkeypatch) -> None:
    """A single file (and any command) maps the wrapped interrupt to exit 130 too."""
    from vqimage.cli import batch

    img = tmp_path / "a.png"
    write_image(img, np.zeros((8, 8), np.uint8))

    def interrupted(*_args: object):
        raise _interrupted_kernel()

    monkeypatch.setattr(batch, "_load_prepared", interrupted)
    res = CliRunner().invoke(main, ["compress", str(img)])
    assert res.exit_code == 130, res.output
    assert res.output.strip() == "vqimage: interrupted"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


# -- item 9: messages ----------------------------------------------------------------------------
def _lose_the_race(monkeypatch) -> None:
    """From now on, another writer creates each target between the existence check and our
    final link."""
    from vqimage._shared import fs

    real = fs._commit

    def commit(tmp: Path, target: Path, overwrite: bool) -> None:
        target.write_bytes(b"theirs")
        real(tmp, target, overwrite)

    monkeypatch.setattr(fs, "_commit", commit)


def _no_temp_files(directory: Path) -> None:
    assert not [p.name for p in directory.rglob("*") if ".tmp" in p.name]


def test_item9a_a_lost_race_says_use_force(tmp_path: Path, monkeypatch) -> None:
    img = tmp_path / "a.png"
    write_image(img, np.arange(64, dtype=np.uint8).reshape(8, 8))
    src = tmp_path / "in"
    _noise_images(src, 2, (16, 16))
    vqimage.compress(np.arange(64, dtype=np.uint8).reshape(8, 8), 2).save(tmp_path / "b.vqi")
    _lose_the_race(monkeypatch)

    dst = tmp_path / "a.vqi"
    res = CliRunner().invoke(main, ["compress", str(img), "-o", str(dst)])
    assert res.exit_code == 1, res.output
    assert res.output.strip() == f"vqimage: error: {dst}: output exists; use --force to replace it"
    assert dst.read_bytes() == b"theirs"  # the winner's file is left alone

    # In a batch a lost race is what an existing output is: skipped, never clobbered.
    res = CliRunner().invoke(main, ["compress", str(src), "-o", str(tmp_path / "out"),
                                    "-j", "1"])
    assert res.exit_code == 0, res.output
    assert "0 compressed" in res.output and "2 skipped" in res.output
    assert "overwrite=True" not in res.output
    assert {p.read_bytes() for p in (tmp_path / "out").iterdir()} == {b"theirs"}

    # decompress maps it the same way.
    out = tmp_path / "b.png"
    res = CliRunner().invoke(main, ["decompress", str(tmp_path / "b.vqi"), "-o", str(out)])
    assert res.exit_code == 1, res.output
    assert res.output.strip() == f"vqimage: error: {out}: output exists; use --force to replace it"
    _no_temp_files(tmp_path)


def test_item9b_control_characters_in_names_are_escaped(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    write_image(src / "two\nlines.png", np.arange(256, dtype=np.uint8).reshape(16, 16))
    write_image(src / "[red]markup.png", np.arange(256, dtype=np.uint8).reshape(16, 16))
    (src / "bad\tname\n.png").write_bytes(b"not a png")
    res = CliRunner().invoke(main, ["compress", str(src), "-o", str(tmp_path / "out"),
                                    "-j", "1"])
    assert res.exit_code == 1, res.output
    lines = res.output.splitlines()
    errors = [ln for ln in lines if ln.startswith("vqimage: error:")]
    assert len(errors) == 1 and "bad\\tname\\n.png: " in errors[0], res.output
    rows = [ln for ln in lines if ln.startswith(str(src))]
    assert len(rows) == 3, res.output  # one line per file: the table is intact
    assert any("two\\nlines.png" in r and r.rstrip().endswith("ok") for r in rows), rows
    assert any("[red]markup.png" in r for r in rows), rows  # a file name is not rich markup
    assert "2 compressed" in lines[-1] and "1 failed" in lines[-1]

    # Single-file messages too: one line each.
    res = CliRunner().invoke(main, ["compress", str(src / "bad\tname\n.png")])
    assert res.exit_code == 1
    assert res.output.count("\n") == 1 and "bad\\tname\\n.png" in res.output, res.output


def test_item9c_compressing_a_vqi_file_points_at_decompress(tmp_path: Path) -> None:
    vqi = tmp_path / "face.vqi"
    vqimage.compress(np.arange(64, dtype=np.uint8).reshape(8, 8), 4).save(vqi)
    disguised = tmp_path / "renamed.png"
    disguised.write_bytes(vqi.read_bytes())
    for path in (vqi, disguised):
        res = CliRunner().invoke(main, ["compress", str(path), "-o", str(tmp_path / "x.vqi")])
        assert res.exit_code == 1, res.output
        assert res.output.strip() == (f"vqimage: error: {path}: already a .vqi file; "
                                      "vqimage decompress turns it back into an image")
    # In a batch (a glob that also matches outputs) the .vqi files are named, the rest done.
    write_image(tmp_path / "c.png", np.arange(64, dtype=np.uint8).reshape(8, 8))
    res = CliRunner().invoke(main, ["compress", str(tmp_path / "*"), "-o",
                                    str(tmp_path / "out"), "-j", "1"])
    assert res.exit_code == 1, res.output
    assert "1 compressed" in res.output and "2 failed" in res.output
    assert res.output.count("already a .vqi file") == 2
    assert not (tmp_path / "x.vqi").exists()


def test_item9d_demo_fetch_that_cannot_download_fails(tmp_path: Path, monkeypatch) -> None:
    import pooch
    import scipy.datasets._fetchers as fetchers

    from vqimage import data

    empty = tmp_path / "empty-cache"
    empty.mkdir()
    downloads: list[str] = []

    def offline(self, url: str, output_file, pooch_obj) -> None:
        downloads.append(url)
        raise OSError("Network is unreachable (simulated)")

    # The cache is empty, so pooch really tries to download; the downloader fails offline.
    monkeypatch.setattr(data, "face_cache_path", lambda: empty / "face.dat")
    monkeypatch.setattr(fetchers.data_fetcher, "path", empty)
    monkeypatch.setattr(pooch.HTTPDownloader, "__call__", offline)
    monkeypatch.delenv("VQIMAGE_NO_FACE", raising=False)
    for debug in ([], ["--debug"]):
        res = CliRunner().invoke(main, ["demo", "--fetch", *debug])
        assert res.exit_code == 1, res.output
        assert "camera" not in res.output.replace("without --fetch the demo uses scikit-image's "
                                                  "camera", "")
        errors = [ln for ln in res.output.splitlines() if ln.startswith("vqimage: error:")]
        assert len(errors) == 1, res.output
        assert "cannot download the raccoon face" in errors[0]
        assert "Network is unreachable (simulated)" in errors[0]
    assert downloads and all("face.dat" in u for u in downloads)
    assert list(empty.iterdir()) == []
    # Without --fetch nothing is downloaded and the bundled camera is used, as before.
    downloads.clear()
    res = CliRunner().invoke(main, ["demo", "-q"])
    assert res.exit_code == 0, res.output
    assert downloads == []
    with pytest.raises(OSError, match="cannot download the raccoon face"):
        data.default_image(fetch=True)


# -- item 11: timing-dependent tests synchronise on events ----------------------------------------
TESTS = Path(__file__).resolve().parent


def _timing_problems(path: Path) -> list[str]:
    """Waits that race: a loop that may end on its deadline and then act as if the awaited
    event had happened, a sleep used as synchronisation, a join whose timeout goes unchecked."""
    import ast

    tree = ast.parse(path.read_text(), filename=str(path))
    problems = []
    in_loops = {id(n) for w in ast.walk(tree) if isinstance(w, ast.While)
                for n in ast.walk(w)}
    for node in ast.walk(tree):
        where = f"{path.name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.While):
            names = {n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)}
            attrs = {n.attr for n in ast.walk(node.test) if isinstance(n, ast.Attribute)}
            if names & {"deadline", "time"} or attrs & {"monotonic", "time", "perf_counter"}:
                problems.append(f"{where}: a loop that ends on its deadline (fail instead)")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "sleep" and id(node) not in in_loops:
                problems.append(f"{where}: a sleep outside a polling loop")
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            src = ast.unparse(fn)
            if ".join(timeout=" in src and ".is_alive()" not in src:
                problems.append(f"{path.name}:{fn.lineno}: {fn.name} joins with an unchecked "
                                "timeout")
    return problems


@pytest.mark.parametrize("name", ["test_dask.py", "test_cli.py", "test_cli_hardening.py"])
def test_item11_waits_synchronise_on_events(name: str) -> None:
    assert _timing_problems(TESTS / name) == []


# -- item 12: the face where a user has it; no skip hidden under CI -------------------------------
def test_item12_face_found_where_scipy_keeps_it(tmp_path: Path) -> None:
    import _face

    def put(path: Path, data: bytes) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    root = tmp_path / "checkout"  # no ../shared beside it, as for a new user
    root.mkdir()
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "home")}
    good = b"the face"
    expected = _face.hashlib.sha256(good).hexdigest()

    path, looked = _face.find_face(root, env, expected=expected)
    assert path is None
    msg = _face.missing_message(looked)
    assert 'python -c "import scipy.datasets; scipy.datasets.face()"' in msg
    for where in (root.parent / "shared" / "data" / "face.dat",
                  tmp_path / "xdg" / "scipy-data" / "face.dat"):
        assert f"{where} (missing)" in msg

    # Where scipy.datasets.face() downloads it: pooch's cache of the user's environment.
    cached = put(tmp_path / "xdg" / "scipy-data" / "face.dat", good)
    assert _face.find_face(root, env, expected=expected)[0] == cached
    no_xdg = {"HOME": str(tmp_path / "home")}
    home = put(tmp_path / "home" / ".cache" / "scipy-data" / "face.dat", good)
    assert _face.find_face(root, no_xdg, expected=expected)[0] == home
    # A file with other content is not the face; $VQIMAGE_FACE_DAT and ../shared come first.
    shared = put(root.parent / "shared" / "data" / "face.dat", b"truncated")
    path, looked = _face.find_face(root, env, expected=expected)
    assert path == cached and f"{shared} (wrong sha256: not scipy's face.dat)" in looked
    mine = put(tmp_path / "mine.dat", good)
    assert _face.find_face(root, {**env, "VQIMAGE_FACE_DAT": str(mine)},
                           expected=expected)[0] == mine
    assert _face.candidates(root, env)[-1] == cached


def test_item12_conftest_found_the_face_before_replacing_the_cache() -> None:
    import conftest

    assert conftest.FACE_LOOKED, "conftest did not look for the face"
    assert os.environ["XDG_CACHE_HOME"] not in " ".join(conftest.FACE_LOOKED)


_SKIPPING = {
    "test_runtime.py": "import pytest\n\ndef test_ok():\n    pass\n\n"
                       "def test_skips():\n    pytest.skip('chromium is not on PATH')\n",
    "test_module.py": "import pytest\n\npytest.importorskip('vqimage_no_such_package')\n\n"
                      "def test_never():\n    pass\n",
    "test_xfail.py": "import pytest\n\n@pytest.mark.xfail(reason='known')\ndef test_x():\n"
                     "    assert False\n",
}


@pytest.mark.parametrize("ci", ["true", ""])
def test_item12_every_skip_fails_under_ci(tmp_path: Path, ci: str) -> None:
    """The suite's conftest, loaded as a plugin into a run of three small files."""
    for name, text in _SKIPPING.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {**os.environ, "CI": ci,
           "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path])}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-c", str(tmp_path / "pytest.ini"),
         "--rootdir", str(tmp_path), "-p", "no:cacheprovider", "-q", "-rA",
         "--continue-on-collection-errors", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path, check=False)
    last = proc.stdout.strip().splitlines()[-1]
    if ci:
        assert proc.returncode == 1, proc.stdout
        assert "1 passed" in last and "1 failed" in last and "1 error" in last, proc.stdout
        assert "1 xfailed" in last and "skipped" not in last, proc.stdout
        assert "skipped under CI" in proc.stdout and "chromium is not on PATH" in proc.stdout
        assert "vqimage_no_such_package" in proc.stdout
    else:
        assert proc.returncode == 0, proc.stdout
        assert "1 passed" in last and "2 skipped" in last and "1 xfailed" in last, proc.stdout
