"""The installed ``vqimage`` console script, run in subprocesses on real images.

Every check starts a process (about half a second each), so related checks share one test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import vqimage
from vqimage.cli import main
from vqimage.codecs import CODECS
from vqimage.core.histogram import histogram
from vqimage.io import read_image, write_image

SCRIPT = shutil.which("vqimage")
BASE = [SCRIPT] if SCRIPT else [sys.executable, "-m", "vqimage.cli"]


def run(*args: object, cwd: Path | None = None, env: dict[str, str] | None = None,
        prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([*(prefix or BASE), *map(str, args)], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=300, check=False)


def one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    """The process failed with exactly one 'vqimage: error:' line naming every needle."""
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("vqimage: error:")]
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for n in needles:
        assert n in errors[0], errors[0]
    return errors[0]


@pytest.fixture(scope="module")
def images(tmp_path_factory, face, camera) -> Path:
    from skimage import data

    d = tmp_path_factory.mktemp("images")
    write_image(d / "face.png", face)
    write_image(d / "camera.png", camera)
    write_image(d / "astronaut.png", data.astronaut())
    write_image(d / "camera16.png", camera.astype(np.uint16) * 257)
    write_image(d / "camera16.tif", camera.astype(np.uint16) * 250 + 7)
    np.save(d / "field.npy", (camera.astype(np.float32) / 255.0) ** 2)
    return d


def test_script_is_installed_and_versioned():
    assert SCRIPT is not None, "the vqimage console script is not on PATH"
    proc = run("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"vqimage {vqimage.__version__}"


@pytest.mark.parametrize("command", ["compress", "decompress", "info", "demo", "report"])
def test_every_command_has_help_with_an_example(command):
    out = CliRunner().invoke(main, [command, "--help"])
    assert out.exit_code == 0
    assert "Examples:" in out.output and f"vqimage {command}" in out.output
    assert "-q, --quiet" in out.output and "--debug" in out.output


def test_compress_info_decompress_round_trip(images, face, tmp_path):
    vqi = tmp_path / "face.vqi"
    proc = run("compress", images / "face.png", "-o", vqi)
    assert proc.returncode == 0, proc.stderr
    assert "768x1024 uint8, 8 levels (optimal)" in proc.stdout and "PSNR 30." in proc.stdout
    q = vqimage.fit(face, 8)
    ci = vqimage.load(vqi)
    assert ci.quantizer == q
    np.testing.assert_array_equal(ci.decompress(), q.quantize(face))

    info = json.loads(run("info", vqi, "--json").stdout)
    size = vqi.stat().st_size
    assert info["shape"] == [768, 1024] and info["dtype"] == "uint8"
    assert info["levels"] == 8 and info["bits_per_code"] == 3
    assert info["codebook"] == q.codebook.tolist()
    assert info["bytes"] == size and info["raw_bytes"] == face.nbytes
    assert info["bits_per_pixel"] == pytest.approx(8 * size / face.size)
    assert info["ratio"] == pytest.approx(face.nbytes / size)
    assert info["codec"] in CODECS

    text = run("info", vqi).stdout
    assert "levels:" in text and "codebook:" in text and f"{size:,}" in text

    png = tmp_path / "face_rec.png"
    proc = run("decompress", vqi, "-o", png)
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(read_image(png), q.quantize(face))

    img_info = json.loads(run("info", images / "face.png", "--json").stdout)
    assert img_info["type"] == "image" and img_info["shape"] == [768, 1024]
    assert img_info["distinct_values"] == np.unique(face).size


def test_options_reach_the_library(images, camera, tmp_path):
    out = tmp_path / "c.vqi"
    proc = run("compress", images / "camera.png", "-o", out, "-k", "4", "-s", "kmeans",
               "--reconstruction", "midpoint", "--codec", "packed")
    assert proc.returncode == 0, proc.stderr
    ci = vqimage.load(out)
    assert ci.codec == "packed"
    assert ci.quantizer == vqimage.fit(camera, 4, strategy="kmeans", reconstruction="midpoint")


def test_psnr_target_picks_the_fewest_levels(images, camera, tmp_path):
    out = tmp_path / "c.vqi"
    proc = run("compress", images / "camera.png", "-o", out, "--psnr", "36")
    assert proc.returncode == 0, proc.stderr
    k = vqimage.load(out).quantizer.n_levels
    assert f"chose {k} levels" in proc.stderr and f"{k} levels" in proc.stdout
    reached = vqimage.metrics.psnr(vqimage.fit(camera, k).quantize(camera), camera)
    below = vqimage.metrics.psnr(vqimage.fit(camera, k - 1).quantize(camera), camera)
    assert reached >= 36 > below


@pytest.mark.parametrize("args", [
    ["-k", "1"], ["-k", "70000"], ["-k", "4", "--psnr", "30"], ["-j", "2", "--scheduler", "x"],
    ["-s", "median"], ["--psnr", "-3"],
])
def test_usage_errors_exit_2(images, tmp_path, args):
    proc = run("compress", images / "camera.png", "-o", tmp_path / "c.vqi", *args)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "c.vqi").exists()


def test_never_overwrite_inputs_or_outputs(images, tmp_path):
    src = tmp_path / "camera.png"
    shutil.copy(images / "camera.png", src)
    before = src.read_bytes()
    proc = run("compress", src, "-o", src, "--force")
    assert proc.returncode == 2 and "is the input file" in proc.stderr
    assert src.read_bytes() == before

    out = tmp_path / "existing.vqi"
    out.write_bytes(b"keep me")
    proc = run("compress", src, "-o", out)
    one_line_error(proc, str(out), "--force")
    assert proc.returncode == 1 and out.read_bytes() == b"keep me"
    assert run("compress", src, "-o", out, "--force", "-q", "--codec", "packed").returncode == 0
    assert vqimage.load(out).shape == (512, 512)

    vqi = tmp_path / "camera.vqi"
    assert run("compress", src, "-q", "--codec", "packed").returncode == 0  # default output name
    assert vqi.exists()
    proc = run("decompress", vqi, "-o", src)
    assert proc.returncode == 1 and "--force" in proc.stderr
    assert src.read_bytes() == before
    proc = run("decompress", vqi, "-o", vqi, "--force")
    assert proc.returncode == 2 and vqi.exists()


def test_input_and_output_failures(images, tmp_path):
    proc = run("compress", tmp_path / "missing.png", "-o", tmp_path / "m.vqi")
    assert proc.returncode == 1
    one_line_error(proc, "missing.png", "No such file")

    # An output whose parent is a regular file cannot be created, even by root.
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory")
    proc = run("compress", images / "camera.png", "-o", blocker / "c.vqi")
    assert proc.returncode == 1
    one_line_error(proc, "camera.png", "blocker")
    proc = run("compress", images / "camera.png", "-o", blocker / "c.vqi", "--debug")
    assert proc.returncode == 1 and "Traceback" in proc.stderr

    vqi = tmp_path / "c.vqi"
    assert run("compress", images / "camera.png", "-o", vqi, "-q", "--codec",
               "packed").returncode == 0
    data = vqi.read_bytes()
    for cut, command in ((len(data) // 2, "decompress"), (10, "info"),
                         (len(data) - 1, "decompress")):
        bad = tmp_path / f"trunc{cut}.vqi"
        bad.write_bytes(data[:cut])
        args = ("-o", tmp_path / "t.png") if command == "decompress" else ()
        proc = run(command, bad, *args)
        assert proc.returncode == 1
        one_line_error(proc, bad.name)
        assert not (tmp_path / "t.png").exists()

    (tmp_path / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n but then nothing useful")
    proc = run("info", tmp_path / "junk.png")
    assert proc.returncode == 1
    one_line_error(proc, "junk.png", "not a readable PNG")


def test_16_bit_and_float_keep_their_dtype(images, camera, tmp_path):
    for name, out_suffix in (("camera16.png", ".png"), ("camera16.tif", ".tif")):
        src = images / name
        vqi = tmp_path / f"{name}.vqi"
        assert run("compress", src, "-o", vqi, "-k", "16", "-q", "--codec",
                   "packed").returncode == 0
        original = read_image(src)
        expected = vqimage.fit(original, 16).quantize(original)
        out = tmp_path / f"{name}{out_suffix}"
        proc = run("decompress", vqi, "-o", out)
        assert proc.returncode == 0, proc.stderr
        back = read_image(out)
        assert back.dtype == np.uint16
        np.testing.assert_array_equal(back, expected)

    field = np.load(images / "field.npy")
    vqi = tmp_path / "field.vqi"
    assert run("compress", images / "field.npy", "-o", vqi, "-q", "--codec",
               "lzma").returncode == 0
    proc = run("decompress", vqi, "-o", tmp_path / "field.png")
    assert proc.returncode == 1
    one_line_error(proc, "field.png", ".tif", ".npy")
    assert not (tmp_path / "field.png").exists()
    proc = run("decompress", vqi, "-o", tmp_path / "field.tif")
    assert proc.returncode == 0, proc.stderr
    back = read_image(tmp_path / "field.tif")
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, vqimage.fit(field, 8).quantize(field))


def test_batch_with_a_corrupt_file(images, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("camera.png", "astronaut.png", "camera16.tif"):
        shutil.copy(images / name, src / name)
    (src / "broken.png").write_bytes((images / "camera.png").read_bytes()[:3000])
    (src / "notes.txt").write_text("not an image: ignored")
    out = tmp_path / "out"
    proc = run("compress", src, "-o", out, "--codec", "lzma")
    assert proc.returncode == 1
    one_line_error(proc, "broken.png", "truncated")
    assert sorted(p.name for p in out.iterdir()) == ["astronaut.vqi", "camera.vqi",
                                                     "camera16.vqi"]
    assert "━" not in proc.stderr  # no progress bar when piped
    lines = proc.stdout.splitlines()
    assert any("broken.png" in ln and ln.rstrip().endswith("failed") for ln in lines)
    assert "3 compressed" in proc.stdout and "1 failed" in proc.stdout
    astro = vqimage.load(out / "astronaut.vqi")
    # Colour input gets a palette by default (issue 7); --mode gray keeps the luma path.
    assert astro.shape == (512, 512, 3) and astro.quantizer.kind == "palette"

    # Rerunning skips what is done and still reports the broken file.
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    proc = run("compress", src, "-o", out, "--codec", "lzma")
    assert proc.returncode == 1 and "3 skipped" in proc.stdout
    proc = run("-q", "compress", src, "-o", out)
    assert proc.returncode == 1 and proc.stdout == ""
    one_line_error(proc, "broken.png")
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes

    # The same batch serially (-j 1) and in a pool (default) gives identical files.
    (src / "broken.png").unlink()
    serial = tmp_path / "serial"
    assert run("compress", src, "-o", serial, "-j", "1", "-q", "--codec", "lzma").returncode == 0
    for p in serial.iterdir():
        assert p.read_bytes() == (out / p.name).read_bytes()

    # A glob, quoted so that vqimage expands it; an unwritable output directory.
    proc = run("compress", str(src / "camera*"), "-o", tmp_path / "globbed", "-q", "--codec",
               "packed")
    assert proc.returncode == 0 and proc.stdout == ""
    assert sorted(p.name for p in (tmp_path / "globbed").iterdir()) == ["camera.vqi",
                                                                        "camera16.vqi"]
    (tmp_path / "afile").write_text("x")
    proc = run("compress", src, "-o", tmp_path / "afile" / "out")
    assert proc.returncode == 1
    one_line_error(proc, "afile")


def test_shared_quantizer(images, tmp_path, face, camera):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("face.png", "camera.png"):
        shutil.copy(images / name, src / name)
    out = tmp_path / "out"
    proc = run("compress", src, "-o", out, "--shared", "-k", "6", "--codec", "lzma")
    assert proc.returncode == 0, proc.stderr
    expected = vqimage.fit_histogram(histogram(face).merge(histogram(camera)), 6)
    for name, img in (("face", face), ("camera", camera)):
        ci = vqimage.load(out / f"{name}.vqi")
        assert ci.quantizer == expected
        np.testing.assert_array_equal(ci.decompress(), expected.quantize(img))
    serial = tmp_path / "serial"
    assert run("compress", src, "-o", serial, "--shared", "-k", "6", "-j", "1", "-q", "--codec",
               "lzma").returncode == 0
    for p in serial.iterdir():
        assert p.read_bytes() == (out / p.name).read_bytes()

    proc = run("compress", src, images / "camera16.png", "-o", tmp_path / "mixed", "--shared")
    assert proc.returncode == 1
    one_line_error(proc, "one dtype")


def test_scheduler(images, tmp_path):
    distributed = pytest.importorskip("distributed")
    src = tmp_path / "in"
    src.mkdir()
    for name in ("camera.png", "astronaut.png"):
        shutil.copy(images / name, src / name)
    local = tmp_path / "local"
    assert run("compress", src, "-o", local, "-q", "--codec", "lzma").returncode == 0
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=":0") as cluster:
        proc = run("compress", src, "-o", tmp_path / "dask", "--codec", "lzma", "--scheduler",
                   cluster.scheduler_address)
    assert proc.returncode == 0, proc.stderr
    assert "2 compressed" in proc.stdout
    for p in local.iterdir():
        assert (tmp_path / "dask" / p.name).read_bytes() == p.read_bytes()

    # Without distributed installed, --scheduler says so in one line.
    stub = [sys.executable, "-c",
            "import sys; sys.modules['distributed'] = None; sys.argv[0] = 'vqimage'; "
            "from vqimage.cli import main; main()"]
    proc = run("compress", src, "-o", tmp_path / "x", "--scheduler", "tcp://h:1", prefix=stub)
    assert proc.returncode == 1
    one_line_error(proc, "--scheduler", "pip install")


def test_progress_bar_on_a_terminal(images, tmp_path):
    import pty

    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        shutil.copy(images / "camera.png", src / f"c{i}.png")
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    proc = subprocess.run([*BASE, "compress", str(src), "-o", str(tmp_path / "out"), "--codec",
                           "packed"],
                          stderr=slave, stdout=subprocess.PIPE, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "100", "TERM": "xterm"}, check=False)
    os.close(slave)
    # The reader ends at EOF once every end of the pty is closed; the timeout only turns a hang
    # into a failure (returning early would read half the output and fail misleadingly).
    reader.join(timeout=300)
    assert not reader.is_alive(), "the pty reader did not reach the end of the output"
    os.close(master)
    assert proc.returncode == 0
    assert "3 compressed" in proc.stdout
    assert "compressing" in b"".join(chunks).decode("utf-8", "replace")


def test_demo_sizes_are_the_real_ones(face):
    from vqimage.io import encode_image
    from vqimage.viz.demo import memory_sizes

    q = vqimage.fit(face, 8, strategy="kmeans")
    ci = vqimage.compress(face, quantizer=q)
    rows = dict(memory_sizes(face, q))
    assert rows["image as loaded (uint8)"] == 786_432
    assert rows["codes as float64 (KBinsDiscretizer)"] == 6_291_456  # the seed's 8x
    assert rows["codes as uint8"] == 786_432
    assert rows["codes packed in 3 bits"] == 294_912
    assert rows[f".vqi file (codec {ci.codec})"] == len(ci.tobytes())
    assert rows["PNG of the original (lossless)"] == len(encode_image(face, ".png"))
    assert 0 < rows["PNG of the quantized image (palette)"] < 786_432


def test_report(camera, tmp_path):
    small = tmp_path / "small.png"
    write_image(small, camera[::8, ::8])
    out = tmp_path / "r.html"
    proc = run("report", small, "-o", out)
    assert proc.returncode == 0, proc.stderr
    html = out.read_text()
    assert html.lstrip().lower().startswith("<!doctype html") and "data:image/png;base64" in html
    assert out.stat().st_mode & 0o044  # readable like any file the user makes
    proc = run("report", small, "-o", out)
    assert proc.returncode == 1 and "--force" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "small.png"]


def test_demo_output_directory_is_wired_to_the_figures(tmp_path, monkeypatch, camera):
    """``demo -o`` hands the demo image to vqimage.report.write_demo_figures (which the figures
    tests check); run in process with the drawing replaced, as it takes a while."""
    import vqimage.cli
    import vqimage.data
    import vqimage.viz.plot

    calls = []

    def fake(image, outdir, *, name=None, n_levels=8, progress=None):
        calls.append((image.shape, name, n_levels))
        Path(outdir).mkdir(parents=True, exist_ok=True)
        paths = [Path(outdir) / "original.png", Path(outdir) / "report.html"]
        for p in paths:
            p.write_text("x")
        return paths

    monkeypatch.setattr(vqimage.report, "write_demo_figures", fake)
    monkeypatch.setattr(vqimage.data, "default_image", lambda fetch=False: ("camera", camera))
    outdir = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "-k", "4", "-o", str(outdir)])
    assert result.exit_code == 0, result.output
    assert calls == [((512, 512), "camera", 4)]
    assert "Wrote 2 files" in result.output and "codes as float64" in result.output
    result = CliRunner().invoke(main, ["demo", "-o", str(outdir)])
    assert result.exit_code == 1 and "--force" in result.output


def _die_once(marker: str, i: int) -> int:
    if i == 1 and not Path(marker).exists():
        Path(marker).write_text("died once")
        os._exit(1)  # the worker process dies, as under the OOM killer
    return 10 * i


def _die_always(i: int) -> int:
    if i == 1:
        os._exit(1)
    return 10 * i


def test_a_killed_worker_is_retried_then_reported(tmp_path):
    from vqimage.cli.batch import run_jobs

    marker = str(tmp_path / "marker")
    assert run_jobs(_die_once, [(marker, i) for i in range(4)], max_workers=2) == [0, 10, 20, 30]
    out = run_jobs(_die_always, [(i,) for i in range(4)], max_workers=2,
                   on_lost=lambda i, exc: f"lost: {type(exc).__name__}")
    assert out[1] == "lost: BrokenProcessPool"
    assert all(v in (10 * i, "lost: BrokenProcessPool") for i, v in enumerate(out))
