"""What every vqimage quantizer shares: immutability, pickling through ``to_dict``, code sizes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from vqimage._shared.dtypes import MAX_LEVELS, bits_for, code_dtype, parse_dtype

__all__ = ["FrozenQuantizer", "check_codebook", "read_description"]

T = TypeVar("T")


def read_description(
    d: Any, kind: str, label: str, noun: str, required: set[str], *, default: str | None = None
) -> np.dtype:
    """Check a ``to_dict`` description of a ``kind`` quantizer; return its dtype.

    ``ValueError`` (naming the ``label`` kind or the ``noun``) unless ``d`` is a dict of that
    kind (``default``: the kind of a dict without one) holding ``required`` and a known dtype.
    """
    if not isinstance(d, dict):
        raise ValueError(f"expected a dict describing a quantizer, got {type(d).__name__}")
    if d.get("kind", default) != kind:
        raise ValueError(f"not a {label} quantizer: kind {d.get('kind')!r}")
    missing = required - set(d)
    if missing:
        raise ValueError(f"{noun} description lacks {', '.join(sorted(missing))}")
    try:
        return parse_dtype(d["dtype"])  # untrusted text: an allow-list, not np.dtype
    except ValueError as exc:
        raise ValueError(f"{noun} has an unknown dtype {d['dtype']!r}") from exc


def check_codebook(book: np.ndarray, noun: str, items: str) -> None:
    """``ValueError`` unless a 2-D codebook has 1 to MAX_LEVELS rows (``items``) and is finite."""
    if not 1 <= book.shape[0] <= MAX_LEVELS:
        raise ValueError(f"a {noun} has 1 to 65536 {items}, got {book.shape[0]}")
    if not np.isfinite(book).all():
        raise ValueError("codebook must be finite")


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
        self._set(**{name: getattr(other, name) for name in self._STATE})

    def _set(self, **state: Any) -> None:
        """Set attributes of a new instance (read-only after) and, if declared, an empty cache."""
        for name, value in state.items():
            object.__setattr__(self, name, value)
        if "_cache" in type(self).__slots__:
            object.__setattr__(self, "_cache", {})

    def _cached(self, key: str, make: Callable[[], T]) -> T:
        """``make()``, computed once per instance (lookup tables kept in ``_cache``)."""
        cache = self._cache  # type: ignore[attr-defined]
        if key not in cache:
            cache[key] = make()
        return cache[key]  # type: ignore[no-any-return]

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
        return bits_for(int(self.n_levels))  # type: ignore[attr-defined]

    @property
    def code_dtype(self) -> np.dtype:
        """dtype of the codes ``encode`` returns."""
        return code_dtype(int(self.n_levels))  # type: ignore[attr-defined]
