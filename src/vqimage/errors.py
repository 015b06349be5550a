"""Exceptions and warnings raised by vqimage."""

from __future__ import annotations

__all__ = ["FewerLevelsWarning", "FormatError", "TargetUnreachableError", "VQImageWarning"]


class VQImageWarning(UserWarning):
    """Base class of the warnings vqimage emits."""


class FewerLevelsWarning(VQImageWarning):
    """Fewer levels were fitted than were asked for (too few distinct values, empty bins)."""


class FormatError(ValueError):
    """A ``.vqi`` file (or byte string) is corrupt, truncated or of an unknown version."""


class TargetUnreachableError(ValueError):
    """A quality target (``--psnr``) that even the largest allowed number of levels misses.

    The command line exits with status 99 on it (as pngquant's ``--quality``).
    """
