"""Code sizes: how many levels a codebook may have, and the dtype and bit width of its codes."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

__all__ = ["MAX_LEVELS", "bits_for", "code_dtype", "parse_dtype"]

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


# numpy parses some dtype strings (sub-array shapes such as "(3,)u1") with ast.literal_eval, and
# accepts object, void and structured dtypes: untrusted text only reaches np.dtype once it matches
# one of these plain real scalar spellings.
_DTYPE_CODE = re.compile(r"[<>|=]?(?:[ui][1248]|f[248])")
_DTYPE_NAMES = frozenset(
    f"{kind}{bits}" for kind in ("uint", "int") for bits in (8, 16, 32, 64)
) | {"float16", "float32", "float64"}


def parse_dtype(value: Any) -> np.dtype:
    """A real scalar numpy dtype from untrusted text (``"|u1"``, ``"<f4"``, ``"uint16"``).

    Only integer and float dtypes of 1 to 8 bytes are accepted, spelled as ``dtype.str``, as a
    kind and size (``"u1"``) or as a name (``"float32"``); numpy dtypes and scalar types pass
    through the same check. Anything else raises ``ValueError`` without reaching numpy's
    parser.

    >>> parse_dtype("|u1"), parse_dtype("<f4"), parse_dtype("int16")
    (dtype('uint8'), dtype('float32'), dtype('int16'))
    >>> parse_dtype("(3,|u1")
    Traceback (most recent call last):
    ...
    ValueError: unsupported dtype '(3,|u1' (a real integer or float dtype is needed)
    """
    text = value
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        text = np.dtype(value).str
    if not isinstance(text, str) or not (_DTYPE_CODE.fullmatch(text) or text in _DTYPE_NAMES):
        raise ValueError(f"unsupported dtype {value!r} (a real integer or float dtype is needed)")
    return np.dtype(text)
