"""Shared fixtures: the raccoon face through the real scipy.datasets path, offline.

pooch's cache directory is pointed at a session temp dir (XDG_CACHE_HOME, set before
scipy.datasets is imported) holding ``../shared/data/face.dat``, so ``scipy.datasets.face()``
runs its own loading code without network.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

# CI runs the property tests with a fixed seed so that a green build stays green; locally they
# explore new examples on every run.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]
FACE_SRC = Path(os.environ.get("VQIMAGE_FACE_DAT", ROOT.parent / "shared" / "data" / "face.dat"))
FACE_SHA256 = "9d8b0b4d081313e2b485748c770472e5a95ed1738146883d84c7030493e82886"

_cache = Path(tempfile.mkdtemp(prefix="vqimage-xdg-"))
if FACE_SRC.is_file():
    (_cache / "scipy-data").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FACE_SRC, _cache / "scipy-data" / "face.dat")
os.environ["XDG_CACHE_HOME"] = str(_cache)
# Tests never reach the network; matplotlib must not look for a display.
os.environ.setdefault("MPLBACKEND", "Agg")


def _require_face() -> None:
    if not FACE_SRC.is_file():
        msg = f"the raccoon face is missing: {FACE_SRC} (see shared/README.md)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.fixture(scope="session")
def face_path() -> Path:
    _require_face()
    return FACE_SRC


@pytest.fixture(scope="session")
def face() -> np.ndarray:
    """The raccoon face in gray, 768x1024 uint8, loaded by scipy.datasets.face(gray=True)."""
    _require_face()
    assert hashlib.sha256(FACE_SRC.read_bytes()).hexdigest() == FACE_SHA256
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
