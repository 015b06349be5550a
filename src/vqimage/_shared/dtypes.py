"""Code sizes: how many levels a codebook may have, and the dtype and bit width of its codes."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MAX_LEVELS", "bits_for", "code_dtype"]

MAX_LEVELS = 65536
"""Largest codebook: codes are stored in at most 16 bits."""


def code_dtype(n_levels: int) -> np.dtype:
    """Smallest unsigned dtype that holds codes ``0 .. n_levels - 1``.

    >>> code_dtype(256), code_dtype(257)
    (dtype('uint8'), dtype('uint16'))
    """
    return np.dtype(np.uint8) if n_levels <= 256 else np.dtype(np.uint16)


def bits_for(n_levels: int) -> int:
    """Bits per packed code, ``ceil(log2(n_levels))`` (0 for a single level).

    >>> bits_for(1), bits_for(8), bits_for(9)
    (0, 3, 4)
    """
    return math.ceil(math.log2(n_levels)) if n_levels > 1 else 0
