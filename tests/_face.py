"""Where the tests find the raccoon face (``face.dat`` of ``scipy.datasets``), offline.

In order: ``$VQIMAGE_FACE_DAT``; ``../shared/data/face.dat`` beside the checkout (what CI
gets); pooch's cache of the user's own environment, where ``scipy.datasets.face()`` keeps it
(so a developer who ever loaded the face has it). A file counts only with the known sha256.

``conftest.py`` calls :func:`find_face` before it points ``XDG_CACHE_HOME`` at a temporary
directory; ``.ci/run`` runs this file to print where it looked. Standard library only (pooch
when installed), so it also runs before ``pip install``.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path

FACE_SHA256 = "9d8b0b4d081313e2b485748c770472e5a95ed1738146883d84c7030493e82886"
FETCH_COMMAND = 'python -c "import scipy.datasets; scipy.datasets.face()"'
ROOT = Path(__file__).resolve().parents[1]


def user_cache(environ: Mapping[str, str] | None = None) -> Path:
    """``face.dat`` in pooch's cache as ``scipy.datasets`` computes it for ``environ``."""
    env = os.environ if environ is None else environ
    if environ is None:
        try:
            import pooch

            return Path(pooch.os_cache("scipy-data")) / "face.dat"
        except ImportError:
            pass
    # pooch's rule on Linux (platformdirs): $XDG_CACHE_HOME, else ~/.cache.
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".cache")
    return Path(base) / "scipy-data" / "face.dat"


def candidates(root: Path = ROOT, environ: Mapping[str, str] | None = None,
               cache: Path | None = None) -> list[Path]:
    env = os.environ if environ is None else environ
    found = [Path(env["VQIMAGE_FACE_DAT"])] if env.get("VQIMAGE_FACE_DAT") else []
    found.append(root.parent / "shared" / "data" / "face.dat")
    found.append(cache if cache is not None else user_cache(environ))
    return found


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def find_face(root: Path = ROOT, environ: Mapping[str, str] | None = None,
              cache: Path | None = None,
              expected: str = FACE_SHA256) -> tuple[Path | None, list[str]]:
    """The first candidate with the right content, and what was found at each place looked."""
    looked = []
    for path in candidates(root, environ, cache):
        if not path.is_file():
            looked.append(f"{path} (missing)")
        elif sha256(path) != expected:
            looked.append(f"{path} (wrong sha256: not scipy's face.dat)")
        else:
            looked.append(f"{path} (ok)")
            return path, looked
    return None, looked


def missing_message(looked: list[str]) -> str:
    return ("the raccoon face (scipy.datasets' face.dat) is missing; looked in: "
            + "; ".join(looked)
            + f". To download it once into pooch's cache (needs network): {FETCH_COMMAND}")


if __name__ == "__main__":
    path, looked = find_face()
    print(f"raccoon face: {path}" if path else f"raccoon face: missing (the tests that need it "
          f"fail under CI); to download it: {FETCH_COMMAND}")
    for line in looked:
        print(f"  looked in {line}")
    sys.exit(0)
