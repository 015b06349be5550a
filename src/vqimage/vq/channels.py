"""Per-channel scalar quantization of a colour image: each channel gets its own quantizer.

The baseline a palette is measured against: ``n_levels`` levels per channel give
``n_levels ** channels`` representable colours but cost ``channels * log2(n_levels)`` bits per
pixel, where a palette of ``n_levels`` colours costs ``log2(n_levels)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vqimage._shared.dtypes import parse_dtype
from vqimage._shared.validation import check_data, check_n_levels
from vqimage.core.base import FrozenQuantizer
from vqimage.core.quantizer import Quantizer, fit

__all__ = ["ChannelQuantizer", "fit_channels"]


def fit_channels(
    image: Any, n_levels: int, *, strategy: str = "optimal", reconstruction: str = "centroid"
) -> ChannelQuantizer:
    """Fit one scalar quantizer (:func:`vqimage.fit`) per channel of a colour image.

    Parameters
    ----------
    image : array_like of shape (height, width, channels)
        Colour image (2 to 4 channels), any real dtype.
    n_levels : int
        Levels per channel (a channel with fewer distinct values gets fewer, with a
        :class:`~vqimage.errors.FewerLevelsWarning`).
    strategy, reconstruction : str
        Passed to :func:`vqimage.fit`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> img = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    >>> q = fit_channels(img, 4)
    >>> q.encode(img).shape, q.n_levels, q.bits
    ((16, 16, 3), 4, 2)
    """
    arr = check_data(image, "image")
    if arr.ndim != 3 or not 2 <= arr.shape[-1] <= 4:
        raise ValueError(
            f"image has shape {arr.shape}; per-channel quantization needs (height, width, 2-4)"
        )
    n = check_n_levels(n_levels)
    qs = [
        fit(arr[..., c], n, strategy=strategy, reconstruction=reconstruction)
        for c in range(arr.shape[-1])
    ]
    return ChannelQuantizer(qs)


class ChannelQuantizer(FrozenQuantizer):
    """One scalar :class:`~vqimage.Quantizer` per channel; one code per value.

    Parameters
    ----------
    quantizers : sequence of Quantizer
        One per channel, all with the same dtype.
    """

    __slots__ = ("quantizers",)
    _STATE = ("quantizers",)

    quantizers: tuple[Quantizer, ...]

    def __init__(self, quantizers: Any) -> None:
        qs = tuple(quantizers)
        if not 1 <= len(qs) <= 4 or not all(isinstance(q, Quantizer) for q in qs):
            raise ValueError("ChannelQuantizer needs 1 to 4 scalar Quantizer objects")
        if len({q.dtype for q in qs}) != 1:
            raise ValueError("the channel quantizers have different dtypes")
        object.__setattr__(self, "quantizers", qs)

    def __repr__(self) -> str:
        levels = ", ".join(str(q.n_levels) for q in self.quantizers)
        return f"ChannelQuantizer(n_levels=[{levels}], strategy={self.strategy!r})"

    @property
    def kind(self) -> str:
        return "channels"

    @property
    def channels(self) -> int:
        return len(self.quantizers)

    @property
    def n_levels(self) -> int:
        """The largest channel's number of levels (codes of every channel are below it)."""
        return max(q.n_levels for q in self.quantizers)

    @property
    def strategy(self) -> str:
        return self.quantizers[0].strategy

    @property
    def dtype(self) -> np.dtype:
        return self.quantizers[0].dtype

    @property
    def codebook(self) -> np.ndarray:
        """(channels, n_levels) levels; a channel with fewer levels repeats its last one."""
        book = np.empty((self.channels, self.n_levels))
        for c, q in enumerate(self.quantizers):
            book[c, : q.n_levels] = q.codebook
            book[c, q.n_levels :] = q.codebook[-1]
        book.flags.writeable = False  # read-only, as every quantizer's codebook
        return book

    def code_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = tuple(int(s) for s in shape)
        if len(shape) != 3 or shape[-1] != self.channels:
            raise ValueError(
                f"image has shape {shape}; this quantizer codes (height, width, {self.channels})"
            )
        return shape

    def encode(self, image: Any, *, dither: bool = False) -> np.ndarray:
        """Codes of every value, channel by channel (same shape as ``image``)."""
        arr = check_data(image, "image")
        self.code_shape(arr.shape)
        if dither:
            raise ValueError("dithering is not supported for per-channel quantizers")
        out = np.empty(arr.shape, dtype=self.code_dtype)
        for c, q in enumerate(self.quantizers):
            out[..., c] = q.encode(arr[..., c])
        return out

    def decode(self, codes: Any) -> np.ndarray:
        c = np.asarray(codes)
        if c.ndim < 1 or c.shape[-1] != self.channels:
            raise ValueError(f"codes have shape {c.shape}; expected {self.channels} channels last")
        return np.stack([q.decode(c[..., i]) for i, q in enumerate(self.quantizers)], axis=-1)

    def quantize(self, image: Any, *, dither: bool = False) -> np.ndarray:
        arr = check_data(image, "image")
        self.code_shape(arr.shape)
        if dither:
            raise ValueError("dithering is not supported for per-channel quantizers")
        return np.stack([q.quantize(arr[..., i]) for i, q in enumerate(self.quantizers)], -1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description: the channels' scalar quantizers."""
        return {
            "kind": "channels",
            "dtype": self.dtype.str,
            "channels": [q.to_dict() for q in self.quantizers],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ChannelQuantizer:
        """Rebuild from :meth:`to_dict` output; ``ValueError`` if malformed."""
        if not isinstance(d, dict) or d.get("kind") != "channels":
            raise ValueError("not a per-channel quantizer description")
        parts = d.get("channels")
        if not isinstance(parts, list):
            raise ValueError("per-channel quantizer description lacks its channels")
        q = cls([Quantizer.from_dict(p) for p in parts])
        if "dtype" in d and parse_dtype(d["dtype"]) != q.dtype:
            raise ValueError("per-channel quantizer dtype does not match its channels")
        return q
