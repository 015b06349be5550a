"""Optional dependencies: which extra brings each one, and a one-line error when it is missing.

The core needs numpy, scipy, numba and click; figures, image files, sample data, the CLI's
progress bars and the adapters come with extras (``pip install "vqimage[all]"``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRAS", "MissingDependency", "require"]

# Top-level module -> (PyPI name, vqimage extra that installs it).
EXTRAS: dict[str, tuple[str, str]] = {
    "matplotlib": ("matplotlib", "plot"),
    "PIL": ("Pillow", "io"),
    "tifffile": ("tifffile", "io"),
    "pooch": ("pooch", "data"),
    "skimage": ("scikit-image", "data"),
    "rich": ("rich", "cli"),
    "sklearn": ("scikit-learn", "sklearn"),
    "dask": ("dask", "dask"),
    "distributed": ("distributed", "dask"),
    "zarr": ("zarr", "dask"),
    "numcodecs": ("numcodecs", "dask"),
    "imagecodecs": ("imagecodecs", "jxl"),
}


class MissingDependency(ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""


def require(module: str, what: str = "this") -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependency` with the command that installs it.

    >>> require("math").sqrt(4.0)
    2.0
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        dist, extra = EXTRAS.get(top, (top, "all"))
        raise MissingDependency(
            f"{what} needs {dist}, which is not installed: pip install 'vqimage[{extra}]'"
        ) from exc
