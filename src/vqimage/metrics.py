"""Quality metrics, computed in float64 so that no integer dtype overflows."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["mse", "psnr"]


def _pair(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(a), np.asarray(b)
    if x.shape != y.shape:
        raise ValueError(f"images have different shapes: {x.shape} and {y.shape}")
    if x.size == 0:
        raise ValueError("images are empty")
    for name, arr in (("image", x), ("reference", y)):
        if arr.dtype.kind not in "uif" or arr.dtype == np.bool_:
            raise TypeError(f"{name} has dtype {arr.dtype}, expected a real dtype")
    return x, y


def mse(image: Any, reference: Any) -> float:
    """Mean squared error between two arrays of the same shape.

    Examples
    --------
    >>> import numpy as np
    >>> mse(np.array([0, 255], dtype=np.uint8), np.array([255, 0], dtype=np.uint8))
    65025.0
    """
    x, y = _pair(image, reference)
    total = 0.0
    # Blocks bound the float64 temporaries for large images.
    fx, fy = x.reshape(-1), y.reshape(-1)
    step = 1 << 22
    for start in range(0, fx.size, step):
        d = fx[start : start + step].astype(np.float64) - fy[start : start + step]
        total += float(np.dot(d, d))
    return total / fx.size


def _default_range(dt: np.dtype) -> float:
    if dt.kind in "ui":
        info = np.iinfo(dt)
        return float(info.max) - float(info.min)
    raise ValueError("data_range is required for floating-point images")


def psnr(image: Any, reference: Any, *, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range**2 / mse)``.

    Parameters
    ----------
    image, reference : array_like
        Arrays of the same shape.
    data_range : float, optional
        Peak-to-peak range of the signal. Defaults to the integer dtype's full range (255 for
        uint8); required for floating-point data. Identical images give ``inf``.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.zeros((4, 4), np.uint8)
    >>> b = a.copy(); b[0, 0] = 16
    >>> round(psnr(a, b), 2)
    36.09
    """
    x, y = _pair(image, reference)
    if data_range is None:
        data_range = _default_range(np.result_type(x.dtype, y.dtype) if x.dtype.kind == y.dtype.kind
                                    else x.dtype)
    if not (np.isfinite(data_range) and data_range > 0):
        raise ValueError(f"data_range must be a positive number, got {data_range!r}")
    err = mse(x, y)
    if err == 0:
        return float("inf")
    return float(10.0 * np.log10(float(data_range) ** 2 / err))
