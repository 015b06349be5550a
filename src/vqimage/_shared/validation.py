"""Checks shared by the public entry points: validate at the edges, trust inside."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from vqimage._shared.dtypes import MAX_LEVELS


def check_data(data: Any, name: str = "data", *, finite: bool = True) -> np.ndarray:
    """Return ``data`` as a non-empty real numpy array, raising a one-line error otherwise.

    The array is not copied when it already is one; callers never write to it.
    """
    arr = np.asarray(data)
    kind = arr.dtype.kind
    if kind == "b":
        raise TypeError(f"{name} has dtype bool; convert it to an integer or float dtype first")
    if kind not in "uif":
        raise TypeError(
            f"{name} has dtype {arr.dtype}, expected a real integer or floating dtype"
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if finite and kind == "f":
        check_finite(arr, name)
    return arr


def check_finite(arr: np.ndarray, name: str = "data") -> None:
    """Raise ``ValueError`` naming the first NaN or infinity found in a float array."""
    if arr.dtype.kind != "f":
        return
    # One fused reduction is cheaper than isnan + isinf; the slow path only runs on failure
    # (or when finite values near 1.7e308 overflow the sum, which is no error).
    with np.errstate(over="ignore", invalid="ignore"):
        total = arr.sum(dtype=np.float64)
    if not np.isfinite(total) and not np.isfinite(arr).all():
        bad = np.flatnonzero(~np.isfinite(arr.ravel()))[0]
        what = "NaN" if np.isnan(arr.ravel()[bad]) else "infinity"
        idx = np.unravel_index(bad, arr.shape)
        raise ValueError(f"{name} contains {what} at index {tuple(int(i) for i in idx)}")


def check_int(value: Any, name: str, lo: int, hi: int) -> int:
    """Return ``value`` as an int in [lo, hi]: ``TypeError`` for a non-integer, else ``ValueError``.

    >>> check_int(3, "bits", 0, 32)
    3
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    n = int(value)
    if not lo <= n <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {n}")
    return n


def check_n_levels(n_levels: Any, name: str = "n_levels", maximum: int = MAX_LEVELS) -> int:
    """Return ``n_levels`` as an int in [2, maximum] or raise a one-line error."""
    if isinstance(n_levels, bool) or not isinstance(n_levels, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {n_levels!r}")
    n = int(n_levels)
    if n < 2:
        raise ValueError(f"{name} must be at least 2, got {n}")
    if n > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {n}")
    return n


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_sample_weight(sample_weight: Any, data: np.ndarray) -> np.ndarray | None:
    """Return weights as float64 with the data's size, or None; reject bad weights."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight)
    if w.dtype.kind not in "uif" or w.dtype.kind == "b":
        raise TypeError(f"sample_weight has dtype {w.dtype}, expected a real dtype")
    if w.shape != data.shape and not (w.ndim == 1 and w.size == data.size):
        raise ValueError(
            f"sample_weight has shape {w.shape}, expected {data.shape} (the data's shape)"
        )
    w = w.astype(np.float64, copy=False).ravel()
    if not np.isfinite(w).all():
        raise ValueError("sample_weight contains NaN or infinity")
    if (w < 0).any():
        raise ValueError("sample_weight contains negative values")
    if not (w > 0).any():
        raise ValueError("sample_weight is all zero")
    return w
