"""vqimage: quantize images and numeric arrays into a few levels, stored in the bits they need.

The core is importable without optional dependencies; heavier rooms (file format, plots,
vector quantizers, adapters) load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import FewerLevelsWarning, FormatError, VQImageWarning
from .histogram import Histogram, histogram
from .quantizer import Quantizer, fit, fit_histogram

__version__ = "0.1.0"

# Public names served lazily from the module that owns them (keeps `import vqimage` fast).
_LAZY = {
    "compress": "vqimage.compressed",
    "load": "vqimage.compressed",
    "CompressedImage": "vqimage.compressed",
    "fit_palette": "vqimage.palette",
    "PaletteQuantizer": "vqimage.palette",
    "fit_blocks": "vqimage.blocks",
    "BlockQuantizer": "vqimage.blocks",
    "metrics": "vqimage.metrics",
    "data": "vqimage.data",
    "strategies": "vqimage.strategies",
}

__all__ = [
    "CompressedImage",
    "FewerLevelsWarning",
    "FormatError",
    "Histogram",
    "Quantizer",
    "VQImageWarning",
    "__version__",
    "compress",
    "fit",
    "fit_histogram",
    "histogram",
    "load",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'vqimage' has no attribute {name!r}")
    mod = importlib.import_module(module)
    value = mod if module.endswith("." + name) else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
