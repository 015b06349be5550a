"""Helpers shared by the benchmark scripts: timing, the machine, the offline raccoon face."""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
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
