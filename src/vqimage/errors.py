"""Exceptions and warnings raised by vqimage."""

from __future__ import annotations

__all__ = [
    "FewerLevelsWarning",
    "FormatError",
    "NotRegularFileError",
    "TargetUnreachableError",
    "VQImageWarning",
]


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


class NotRegularFileError(OSError):
    """The path names a device, FIFO, socket or other non-regular file, which vqimage refuses.

    Reading ``/dev/zero`` would never end and a FIFO can block forever, so readers check the
    file type before reading. ``str()`` is one line naming the path and the problem.
    """

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"
