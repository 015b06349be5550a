"""What every vqimage quantizer shares: immutability, pickling through ``to_dict``, code sizes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["FrozenQuantizer", "code_dtype"]


def code_dtype(n_levels: int) -> np.dtype:
    """Smallest unsigned dtype that holds codes ``0 .. n_levels - 1``."""
    return np.dtype(np.uint8) if n_levels <= 256 else np.dtype(np.uint16)


class FrozenQuantizer:
    """Base of the scalar, palette, block and per-channel quantizers.

    Subclasses define ``__slots__``, list in ``_STATE`` the attributes that ``from_dict``
    restores, and provide ``n_levels``, ``to_dict`` and ``from_dict``. A ``_cache`` slot, when
    declared, holds lookup tables and starts empty after unpickling.
    """

    __slots__ = ()
    _STATE: tuple[str, ...] = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __getstate__(self) -> dict[str, Any]:
        return self.to_dict()  # type: ignore[attr-defined]

    def __setstate__(self, state: dict[str, Any]) -> None:
        other = type(self).from_dict(state)  # type: ignore[attr-defined]
        for name in self._STATE:
            object.__setattr__(self, name, getattr(other, name))
        if "_cache" in type(self).__slots__:
            object.__setattr__(self, "_cache", {})

    def __eq__(self, other: object) -> bool:
        # Two quantizers are equal when they describe the same mapping: same family, same
        # serialised parameters (to_dict holds every field, codebooks at full precision).
        if type(other) is not type(self):
            return NotImplemented
        return bool(self.to_dict() == other.to_dict())  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    @property
    def n_levels(self) -> int:
        """Size of the codebook (its first axis)."""
        return len(self.codebook)  # type: ignore[attr-defined]

    @property
    def bits(self) -> int:
        """Bits per code when packed, ``ceil(log2(n_levels))`` (0 for a single level)."""
        n = int(self.n_levels)  # type: ignore[attr-defined]
        return math.ceil(math.log2(n)) if n > 1 else 0

    @property
    def code_dtype(self) -> np.dtype:
        """dtype of the codes ``encode`` returns."""
        return code_dtype(int(self.n_levels))  # type: ignore[attr-defined]
