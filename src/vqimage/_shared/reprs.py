"""One ``repr`` format for vqimage's objects: ``Name(positional, key=value, ...)``."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["fields_repr"]


def _show(value: Any) -> str:
    if isinstance(value, np.dtype):
        return value.name
    return repr(value) if isinstance(value, str) else str(value)


def fields_repr(name: str, *args: Any, **fields: Any) -> str:
    """``name(args..., key=value, ...)``: strings quoted, dtypes by name, the rest as ``str``.

    >>> fields_repr("Box", "a.vqi", shape=(2, 3), dtype=np.dtype("uint8"), codec="lzma")
    "Box('a.vqi', shape=(2, 3), dtype=uint8, codec='lzma')"
    """
    parts = [repr(a) for a in args] + [f"{k}={_show(v)}" for k, v in fields.items()]
    return f"{name}({', '.join(parts)})"
