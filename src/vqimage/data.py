"""Sample images: the raccoon face of scipy.datasets (offline unless asked), scikit-image's."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from vqimage._shared.optional import require

__all__ = ["default_image", "face", "face_cache_path", "sample"]

FACE_SHA256 = "9d8b0b4d081313e2b485748c770472e5a95ed1738146883d84c7030493e82886"
_SKIMAGE = ("camera", "astronaut", "coffee", "chelsea", "moon", "coins", "page", "text")


def face_cache_path() -> Path:
    """Where pooch (and so ``scipy.datasets.face``) keeps ``face.dat``."""
    pooch = require("pooch", "finding the raccoon face")

    return Path(pooch.os_cache("scipy-data")) / "face.dat"


def face(gray: bool = True, *, fetch: bool = False) -> np.ndarray:
    """The raccoon face through ``scipy.datasets.face``, without network unless ``fetch``.

    Raises ``FileNotFoundError`` when the file is not in pooch's cache and ``fetch`` is false.
    """
    if not fetch and not face_cache_path().is_file():
        raise FileNotFoundError(
            f"the raccoon face is not in pooch's cache ({face_cache_path()}); "
            "use fetch=True (vqimage demo --fetch) to download it once"
        )
    from scipy import datasets

    return datasets.face(gray=gray)


def sample(name: str, *, gray: bool = False) -> np.ndarray:
    """A bundled sample image by name: ``face`` or one of scikit-image's (camera, ...)."""
    if name in ("face", "raccoon"):
        return face(gray=gray)
    if name not in _SKIMAGE:
        raise ValueError(f"unknown sample image {name!r}; choose face or one of {_SKIMAGE}")
    require("skimage", "loading the sample images")
    from skimage import data as skdata

    img = getattr(skdata, name)()
    if gray and img.ndim == 3:
        from skimage.color import rgb2gray
        from skimage.util import img_as_ubyte

        img = img_as_ubyte(rgb2gray(img[..., :3]))
    return img


def default_image(*, fetch: bool = False) -> tuple[str, np.ndarray]:
    """The demo's image: the raccoon face (gray) when it can be loaded, else ``camera``.

    Returns the name and the array. Without ``fetch`` nothing is downloaded, and a face that is
    not cached (or cannot be read: a warning says why) gives ``camera``. With ``fetch`` the
    face was asked for: failing to download or load it raises ``OSError`` instead of quietly
    showing another image.
    """
    if os.environ.get("VQIMAGE_NO_FACE") != "1":
        try:
            return "raccoon face (scipy.datasets.face, gray)", face(gray=True, fetch=fetch)
        except Exception as exc:
            if fetch:
                raise OSError(
                    f"cannot download the raccoon face into {face_cache_path().parent}: "
                    f"{_reason(exc)}"
                ) from exc
            if not isinstance(exc, FileNotFoundError):  # cached, but unreadable
                warnings.warn(f"the raccoon face cannot be loaded ({_reason(exc)}); "
                              "using scikit-image's camera", stacklevel=2)
    return "camera (scikit-image, bundled)", sample("camera")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
