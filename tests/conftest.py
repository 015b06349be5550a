"""Shared fixtures: the raccoon face through the real scipy.datasets path, offline.

The face is looked for where a user or CI has it (``_face.find_face``: ``$VQIMAGE_FACE_DAT``,
``../shared/data/face.dat``, pooch's cache of the user's environment) and copied into a session
temp dir that pooch's cache directory is then pointed at (XDG_CACHE_HOME, set before
scipy.datasets is imported), so ``scipy.datasets.face()`` runs its own loading code without
network.

Under CI (``CI`` set, as ``.ci/run`` does) every skip is a failure: CI installs everything the
tests need, so a skip there would only hide a missing install step.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from _face import find_face, missing_message
from hypothesis import settings

# CI=false or CI=0 is not CI.
IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")

# CI runs the property tests with a fixed seed so that a green build stays green; locally they
# explore new examples on every run.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if IN_CI:
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]

# Before XDG_CACHE_HOME is replaced below: pooch's cache of the user's own environment.
FACE_SRC, FACE_LOOKED = find_face(ROOT)

_cache = Path(tempfile.mkdtemp(prefix="vqimage-xdg-"))
if FACE_SRC is not None:
    (_cache / "scipy-data").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FACE_SRC, _cache / "scipy-data" / "face.dat")
os.environ["XDG_CACHE_HOME"] = str(_cache)
# Tests never reach the network; matplotlib must not look for a display.
os.environ.setdefault("MPLBACKEND", "Agg")


def _require_face() -> None:
    if FACE_SRC is None:
        msg = missing_message(FACE_LOOKED)
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)


def _skip_reason(longrepr: object) -> str:
    # A skip's longrepr is (file, line, "Skipped: reason").
    return str(longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    outcome = yield
    rep = outcome.get_result()
    if IN_CI and rep.skipped and not hasattr(rep, "wasxfail"):
        rep.outcome = "failed"
        rep.longrepr = f"skipped under CI (CI installs what the tests need): " \
                       f"{_skip_reason(rep.longrepr)}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    # Module-level skips (pytest.importorskip of a package the [test] extra installs).
    outcome = yield
    rep = outcome.get_result()
    if IN_CI and rep.skipped:
        rep.outcome = "failed"
        rep.longrepr = f"{collector.nodeid} skipped under CI (CI installs what the tests " \
                       f"need): {_skip_reason(rep.longrepr)}"


@pytest.fixture(scope="session")
def face_path() -> Path:
    _require_face()
    return FACE_SRC


@pytest.fixture(scope="session")
def face() -> np.ndarray:
    """The raccoon face in gray, 768x1024 uint8, loaded by scipy.datasets.face(gray=True)."""
    _require_face()  # its sha256 was checked when it was found
    from scipy import datasets

    img = datasets.face(gray=True)
    img.flags.writeable = False
    return img


@pytest.fixture(scope="session")
def face_rgb() -> np.ndarray:
    _require_face()
    from scipy import datasets

    img = datasets.face()
    img.flags.writeable = False
    return img


@pytest.fixture(scope="session")
def camera() -> np.ndarray:
    from skimage import data

    img = data.camera()
    img.flags.writeable = False
    return img
