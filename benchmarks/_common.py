"""Helpers shared by the benchmark scripts: timing, the machine, the offline raccoon face."""

from __future__ import annotations

import datetime
import io
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FACE_DAT = ROOT.parent / "shared" / "data" / "face.dat"


def offline_face_cache() -> None:
    """Point pooch at a cache holding ../shared/data/face.dat (before scipy.datasets loads)."""
    if "scipy.datasets" in os.sys.modules:
        return
    cache = Path(tempfile.mkdtemp(prefix="vqimage-bench-"))
    if FACE_DAT.is_file():
        (cache / "scipy-data").mkdir()
        shutil.copyfile(FACE_DAT, cache / "scipy-data" / "face.dat")
        os.environ["XDG_CACHE_HOME"] = str(cache)


def timeit(fn: Callable[[], Any], *, repeat: int = 7, min_time: float = 0.2) -> float:
    """Median wall time of ``fn`` in seconds (more repeats for very fast functions)."""
    t0 = time.perf_counter()
    fn()  # warm-up (caches, lazy imports, JIT)
    first = time.perf_counter() - t0
    if first > 2.0:
        # A slow call is its own measurement (callers warm up compiled kernels beforehand).
        return first
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeat or (time.perf_counter() - start < min_time and len(times) < 500):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


@contextmanager
def docs_page(name: str, title: str, script: str) -> Iterator[None]:
    """Print as usual, and write everything printed to ``docs/benchmarks/NAME.md`` on success.

    The documentation's benchmark pages come from here, never from copying numbers by hand.
    Markdown headings printed by the script are moved one level down, under ``title``.
    """
    buf = io.StringIO()

    class _Tee(io.TextIOBase):
        def write(self, text: str) -> int:
            sys.__stdout__.write(text)
            return buf.write(text)

        def flush(self) -> None:
            sys.__stdout__.flush()

    old = sys.stdout
    sys.stdout = _Tee()
    try:
        yield
    finally:
        sys.stdout = old
    lines = ["#" + ln if ln.startswith("#") else ln for ln in buf.getvalue().splitlines()]
    day = datetime.date.today().isoformat()
    page = (f"# {title}\n\nWritten by `python benchmarks/{script}` on {day} ({machine()}); "
            "do not edit by hand.\n\n" + "\n".join(lines).strip() + "\n")
    out = ROOT / "docs" / "benchmarks" / f"{name}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
