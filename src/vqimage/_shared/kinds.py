"""The quantizer kinds: the one table every layer reads to know which quantizers exist.

A *kind* is a family of quantizers with one codebook layout; its name is what ``to_dict()``
and the ``.vqi`` header store under ``"kind"``. The file reader, the batch runner, the CLI's
``--kind`` choices, the figures, dithering and the report all look kinds up here. Entries name
their module by string and are imported on first use, so this bottom layer imports nothing.

To add a kind: write its quantizer class (the :class:`vqimage.core.protocol.QuantizerProtocol`,
usually on :class:`vqimage.core.base.FrozenQuantizer`) and its ``fit_*`` function in one module,
add one :class:`Kind` line to :data:`KINDS`, and add it to ``tests/common.py``'s list.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["KINDS", "VECTOR_KINDS", "Kind", "get_kind"]


@dataclass(frozen=True)
class Kind:
    """One quantizer family.

    Attributes
    ----------
    name : str
        Stored in ``to_dict()["kind"]`` and ``.vqi`` headers.
    module, class_name, fit_name : str
        Where the quantizer class and its fitting function live.
    summary : str
        One line for help texts and reports.
    colour_only : bool
        Needs ``(height, width, channels)`` colour input.
    dithers : bool
        Supports Floyd–Steinberg error diffusion (``encode(..., dither=True)`` or
        :func:`vqimage.vq.dither.dither`).
    default_levels : int
        What the command line fits when ``-k`` is not given.
    """

    name: str
    module: str
    class_name: str
    fit_name: str
    summary: str
    colour_only: bool
    dithers: bool
    default_levels: int

    def quantizer_class(self) -> type:
        """The quantizer class (imported on first use)."""
        return getattr(importlib.import_module(self.module), self.class_name)  # type: ignore[no-any-return]

    def fit(self) -> Callable[..., Any]:
        """The fitting function, ``fit(data, n_levels, **options)``."""
        return getattr(importlib.import_module(self.module), self.fit_name)  # type: ignore[no-any-return]


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("scalar", "vqimage.core.quantizer", "Quantizer", "fit",
             "levels for single values (gray levels; colour is converted to luma)",
             colour_only=False, dithers=True, default_levels=8),
        Kind("palette", "vqimage.vq.palette", "PaletteQuantizer", "fit_palette",
             "a palette of colours, one code per pixel",
             colour_only=True, dithers=True, default_levels=256),
        Kind("channels", "vqimage.vq.channels", "ChannelQuantizer", "fit_channels",
             "optimal levels for each colour channel on its own",
             colour_only=True, dithers=False, default_levels=8),
        Kind("blocks", "vqimage.vq.blocks", "BlockQuantizer", "fit_blocks",
             "a codebook of pixel blocks (classic VQ), one code per block",
             colour_only=False, dithers=False, default_levels=256),
    )
}
"""Every quantizer kind, by name."""

VECTOR_KINDS: tuple[str, ...] = tuple(name for name in KINDS if name != "scalar")
"""The kinds that quantize vectors (colours or blocks) rather than single values."""


def get_kind(name: str) -> Kind:
    """The kind called ``name``; ``ValueError`` naming the known kinds otherwise.

    >>> get_kind("palette").fit_name
    'fit_palette'
    """
    kind = KINDS.get(name) if isinstance(name, str) else None
    if kind is None:
        raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}; got {name!r}")
    return kind
