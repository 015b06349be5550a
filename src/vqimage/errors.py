"""Exceptions and warnings raised by vqimage."""

from __future__ import annotations

__all__ = ["FewerLevelsWarning", "FormatError", "VQImageWarning"]


class VQImageWarning(UserWarning):
    """Base class of the warnings vqimage emits."""


class FewerLevelsWarning(VQImageWarning):
    """Fewer levels were fitted than were asked for (too few distinct values, empty bins)."""


class FormatError(ValueError):
    """A ``.vqi`` file (or byte string) is corrupt, truncated or of an unknown version."""
