"""``vqimage.inspect``: what a ``.vqi`` file or an image file holds, as a JSON-ready dict."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vqimage._shared.fs import check_regular, open_regular
from vqimage.io import read_image
from vqimage.vqi.chunked import MAGIC as CHUNKED_MAGIC
from vqimage.vqi.compressed import load
from vqimage.vqi.format import MAGIC

__all__ = ["inspect", "pixel_count"]


def pixel_count(shape: Sequence[int]) -> int:
    """Pixels of an image of ``shape``: trailing channels (up to 4) are not counted.

    >>> pixel_count((768, 1024)), pixel_count((512, 512, 3)), pixel_count((4, 5, 6))
    (786432, 262144, 120)
    """
    if len(shape) == 3 and shape[-1] <= 4:
        return int(shape[0] * shape[1])
    return int(math.prod(shape))



def _is_vqi(path: Path) -> bool:
    with open_regular(path) as f:
        return f.read(len(MAGIC)) in (MAGIC, CHUNKED_MAGIC)


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _vqi_info(path: Path) -> dict[str, Any]:
    """What ``vqimage info`` reports about a ``.vqi`` file."""

    ci = load(path)
    q = ci.quantizer
    size = path.stat().st_size
    shape = tuple(int(s) for s in ci.shape)
    dtype = np.dtype(ci.dtype)
    raw = int(math.prod(shape)) * dtype.itemsize
    info: dict[str, Any] = {
        "file": str(path),
        "type": "vqi",
        "shape": list(shape),
        "dtype": dtype.name,
        "kind": getattr(q, "kind", "scalar"),
        "strategy": q.strategy,
        "reconstruction": getattr(q, "reconstruction", None),
        "levels": int(q.n_levels),
        "bits_per_code": int(q.bits),
        "codebook": np.asarray(q.codebook).tolist(),
        "codec": str(ci.codec),
        "bytes": size,
        "raw_bytes": raw,
        "bits_per_pixel": 8.0 * size / pixel_count(shape),
        "ratio": raw / size if size else None,
    }
    return info


def _image_info(path: Path) -> dict[str, Any]:
    """What ``vqimage info`` reports about an image file."""

    img = read_image(path)
    size = path.stat().st_size
    info: dict[str, Any] = {
        "file": str(path),
        "type": "image",
        "format": path.suffix.lower().lstrip("."),
        "shape": [int(s) for s in img.shape],
        "dtype": img.dtype.name,
        "bytes": size,
        "raw_bytes": int(img.nbytes),
        "bits_per_pixel": 8.0 * size / pixel_count(img.shape) if img.size else None,
        "ratio": img.nbytes / size if size else None,
    }
    if img.size and img.dtype.kind in "uif":
        info["min"] = _jsonable(img.min())
        info["max"] = _jsonable(img.max())
        if img.dtype.kind in "ui" and img.dtype.itemsize <= 2:
            info["distinct_values"] = int(np.count_nonzero(np.bincount(
                img.ravel().view(f"u{img.dtype.itemsize}"), minlength=1)))
        else:
            info["distinct_values"] = int(np.unique(img).size)
    return info


def inspect(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Describe a ``.vqi`` file (single or chunked) or an image file.

    What ``vqimage info`` prints. Only the header (and, for an image, the pixels) is read; the
    codes of a ``.vqi`` file are not decoded.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    dict
        JSON-ready (no NaN or infinity): ``type`` (``"vqi"`` or ``"image"``), ``shape``,
        ``dtype``, ``bytes``, ``raw_bytes``, ``bits_per_pixel``, ``ratio`` and, for ``.vqi``,
        ``kind``, ``strategy``, ``reconstruction``, ``levels``, ``bits_per_code``, ``codebook``
        and ``codec``; for images ``format``, ``min``, ``max`` and ``distinct_values``.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> import vqimage
    >>> p = os.path.join(tempfile.mkdtemp(), "a.vqi")
    >>> vqimage.compress(np.arange(64, dtype=np.uint8).reshape(8, 8), 4).save(p)
    >>> info = vqimage.inspect(p)
    >>> info["type"], info["shape"], info["levels"], info["kind"]
    ('vqi', [8, 8], 4, 'scalar')
    """
    p = Path(path)
    if p.exists():
        check_regular(p)  # a device or FIFO: one clear error, never a read that cannot end
    info = _vqi_info(p) if p.is_file() and _is_vqi(p) else _image_info(p)
    return {k: _jsonable(v) for k, v in info.items()}
