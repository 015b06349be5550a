"""Whether numba has compiled vqimage's kernels yet, found without importing numba.

The kernels are compiled on first use and cached on disk (``cache=True``): numba writes an index
(``*.nbi``) into the ``__pycache__`` folder beside the kernel's module, or into
``NUMBA_CACHE_DIR`` when that is set or the folder is not writable. The command line uses this
to say "compiling kernels, first run only" instead of waiting silently.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

__all__ = ["KERNELS", "uncompiled_kernels"]

KERNELS = (
    "vqimage.codecs._context_kernel",
    "vqimage.codecs._context2_kernel",
    "vqimage.core._optimal_kernel",
)
"""The kernel modules the default compress path may compile."""


def _cached(module: str) -> bool:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return True
    src = Path(spec.origin)
    places = [src.parent / "__pycache__"]
    if os.environ.get("NUMBA_CACHE_DIR"):
        places.append(Path(os.environ["NUMBA_CACHE_DIR"]))
    return any(any(p.rglob(f"{src.stem}.*.nbi")) for p in places if p.is_dir())


def uncompiled_kernels(modules: tuple[str, ...] = KERNELS) -> list[str]:
    """The kernel modules of ``modules`` that have no compiled cache yet."""
    return [m for m in modules if not _cached(m)]
