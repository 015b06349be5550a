"""Arrays that an adapter handles instead of the in-memory code path.

One list, :data:`ARRAY_ADAPTERS`, maps the top-level package of an array's type to the vqimage
adapter module that implements ``fit``, ``encode``, ``decode``, ``quantize`` and ``compress`` for
it. The core finds the adapter here by name and imports it only when such an array arrives, so
it never imports the adapter (or dask) itself.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["ARRAY_ADAPTERS", "adapter_for", "is_dask"]

ARRAY_ADAPTERS: dict[str, str] = {"dask": "vqimage.dask"}


def _package(x: Any) -> str:
    return type(x).__module__.split(".", 1)[0]


def is_dask(x: Any) -> bool:
    """True for a dask collection, checked without importing dask."""
    return _package(x) == "dask"


def adapter_for(x: Any) -> ModuleType | None:
    """The adapter module for ``x``'s array type, or None for numpy-like data."""
    name = ARRAY_ADAPTERS.get(_package(x))
    return None if name is None else importlib.import_module(name)
