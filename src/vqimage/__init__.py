"""vqimage: quantize images and numeric arrays into a few levels, stored in the bits they need.

The core is importable without optional dependencies; heavier rooms (file format, plots,
vector quantizers, adapters) load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from vqimage._shared.version import __version__
from vqimage.core.histogram import Histogram, histogram
from vqimage.core.quantizer import Quantizer, fit, fit_histogram
from vqimage.errors import FewerLevelsWarning, FormatError, NotRegularFileError, VQImageWarning

# Public names served lazily from the module that owns them (keeps `import vqimage` fast).
_LAZY = {
    "compress": "vqimage.vqi.compressed",
    "load": "vqimage.vqi.compressed",
    "CompressedImage": "vqimage.vqi.compressed",
    "fit_palette": "vqimage.vq.palette",
    "PaletteQuantizer": "vqimage.vq.palette",
    "fit_blocks": "vqimage.vq.blocks",
    "BlockQuantizer": "vqimage.vq.blocks",
    "fit_channels": "vqimage.vq.channels",
    "ChannelQuantizer": "vqimage.vq.channels",
    "inspect": "vqimage.vqi.inspection",
    "QuantizerProtocol": "vqimage.core.protocol",
    "metrics": "vqimage.core.metrics",
    "data": "vqimage.data",
    "strategies": "vqimage.core.strategies",
    "plot": "vqimage.viz.plot",
    "report": "vqimage.viz.report",
}

__all__ = [
    "BlockQuantizer",
    "ChannelQuantizer",
    "CompressedImage",
    "FewerLevelsWarning",
    "FormatError",
    "Histogram",
    "NotRegularFileError",
    "PaletteQuantizer",
    "Quantizer",
    "QuantizerProtocol",
    "VQImageWarning",
    "__version__",
    "compress",
    "fit",
    "fit_blocks",
    "fit_channels",
    "fit_histogram",
    "fit_palette",
    "histogram",
    "inspect",
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
