"""Quality metrics, computed in float64 so that no integer dtype overflows.

Float64 data near +-1.7e308 would overflow the squares (and even the differences); such data is
compared after division by a power of two, which is exact and leaves PSNR and SSIM unchanged
(both are ratios), so a valid array never makes a metric fail or return a wrong value.

``mse`` and ``psnr`` measure the error of a reconstruction, ``ssim`` its structural similarity
(scikit-image's), and ``entropy`` the information in a code array (the bits per code an ideal
entropy coder needs).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vqimage._shared.validation import check_n_levels

__all__ = ["entropy", "mse", "psnr", "ssim"]


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


# Magnitudes up to 2**_SAFE_EXP square without overflow with room for any pixel count.
_SAFE_EXP = 400


def _shift_for(*parts: Any) -> int:
    """0, or the power of two to divide by so that every magnitude is at most 2**_SAFE_EXP."""
    top = 0.0
    for p in parts:
        a = np.asarray(p)
        if a.dtype.kind == "f" and a.size:
            with np.errstate(invalid="ignore"):
                top = max(top, float(np.max(np.abs(a))))
    if not (math.isfinite(top) and top > 2.0**_SAFE_EXP):
        return 0
    return math.frexp(top)[1] - _SAFE_EXP


def _mean_square(x: np.ndarray, y: np.ndarray, shift: int) -> float:
    """Mean of ``((x - y) / 2**shift) ** 2``, in blocks."""
    total = 0.0
    # Blocks bound the float64 temporaries for large images.
    fx, fy = x.reshape(-1), y.reshape(-1)
    step = 1 << 22
    for start in range(0, fx.size, step):
        a = fx[start : start + step].astype(np.float64)
        b = fy[start : start + step]
        d = a - b if shift == 0 else np.ldexp(a, -shift) - np.ldexp(b.astype(np.float64), -shift)
        # einsum, not BLAS dot: no hidden threads in a process pool's workers
        total += float(np.einsum("i,i->", d, d))
    return total / fx.size


def _scaled_mse(x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
    """``(m, s)`` with ``mse(x, y) == m * 4**s``, ``m`` finite for any finite data."""
    with np.errstate(over="ignore", invalid="ignore"):
        err = _mean_square(x, y, 0)
    if math.isfinite(err) or not (x.dtype.kind == "f" or y.dtype.kind == "f"):
        return err, 0
    # Only float64 near +-1.7e308 gets here: its differences or squares overflowed.
    shift = _shift_for(x, y)
    return (_mean_square(x, y, shift), shift) if shift else (err, 0)


def mse(image: Any, reference: Any) -> float:
    """Mean squared error between two arrays of the same shape.

    Float64 data near the largest float is compared in a scaled space; the result is ``inf``
    only when the mean squared error itself exceeds the largest float64.

    Examples
    --------
    >>> import numpy as np
    >>> mse(np.array([0, 255], dtype=np.uint8), np.array([255, 0], dtype=np.uint8))
    65025.0
    >>> mse(np.array([1e300, 0.0]), np.array([-1e300, 0.0]))
    inf
    """
    x, y = _pair(image, reference)
    err, shift = _scaled_mse(x, y)
    if shift == 0:
        return err
    with np.errstate(over="ignore"):
        return float(np.ldexp(err, 2 * shift))


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

    Notes
    -----
    Exact for any finite data and range: when ``data_range**2`` or the error overflows
    float64, the ratio is taken in a space scaled by a power of two (PSNR does not change).

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
    err, shift = _scaled_mse(x, y)
    if err == 0:
        return float("inf")
    r = float(data_range)
    if shift == 0:
        try:
            ratio = r**2 / err
        except OverflowError:
            ratio = math.inf
        if 0 < ratio < math.inf:
            return float(10.0 * np.log10(ratio))
    # Beyond float64: in logs, with the range in the same scaled units as the error.
    return float(20.0 * np.log10(math.ldexp(r, -shift)) - 10.0 * np.log10(err))


def _psnr_own_range(image: Any, reference: Any) -> float:
    """PSNR with the reference's peak-to-peak range as peak (1 for a constant reference).

    What the command line reports for float data. The range of float64 data can exceed the
    largest float (-1.7e308 .. 1.7e308); it is taken after division by a power of two, with
    both arrays divided alike, which leaves the PSNR unchanged.
    """
    x, y = _pair(image, reference)
    shift = _shift_for(x, y)
    if shift:
        x = np.ldexp(x.astype(np.float64), -shift)
        y = np.ldexp(y.astype(np.float64), -shift)
    span = float(np.ptp(y))
    return psnr(x, y, data_range=span if span > 0 else math.ldexp(1.0, -shift))


def _ssim_range(x: np.ndarray, y: np.ndarray, data_range: float | None) -> float:
    if data_range is None:
        # Like psnr: the integer dtype's full range; floats must say what their range is.
        data_range = _default_range(np.result_type(x.dtype, y.dtype) if x.dtype.kind == y.dtype.kind
                                    else x.dtype)
    if not (np.isfinite(data_range) and data_range > 0):
        raise ValueError(f"data_range must be a positive number, got {data_range!r}")
    return float(data_range)


def _ssim_window(shape: tuple[int, ...]) -> int:
    smallest = min(shape)
    if smallest < 3:
        raise ValueError(f"ssim needs at least 3 samples along every axis, got shape {shape}")
    # scikit-image's default 7-sample window, shrunk (kept odd) for images smaller than it.
    return min(7, smallest if smallest % 2 else smallest - 1)


def _spatial_shape(shape: tuple[int, ...], channel_axis: int | None) -> tuple[int, ...]:
    if channel_axis is None:
        return shape
    if not -len(shape) <= channel_axis < len(shape):
        raise ValueError(f"channel_axis {channel_axis} is out of range for {len(shape)}-D images")
    axis = channel_axis % len(shape)
    return shape[:axis] + shape[axis + 1 :]


def ssim(
    image: Any,
    reference: Any,
    *,
    data_range: float | None = None,
    channel_axis: int | None = None,
) -> float:
    """Mean structural similarity index (scikit-image's ``structural_similarity``).

    Parameters
    ----------
    image, reference : array_like
        Arrays of the same shape (any number of dimensions, each at least 3 long).
    data_range : float, optional
        Peak-to-peak range of the signal. Defaults to the integer dtype's full range (255 for
        uint8), as :func:`psnr` does; required for floating-point data.
    channel_axis : int, optional
        Axis holding colour channels (e.g. ``-1`` for ``(H, W, 3)``); the index is then the
        mean over channels. By default every axis is spatial.

    Returns
    -------
    float
        1.0 for identical images, lower for less similar ones.

    Notes
    -----
    Both arrays are converted to float64 first, so no integer dtype overflows and the result
    does not depend on the input dtype. The window is scikit-image's default (7 samples,
    uniform, sample covariance), shrunk to the largest odd size that fits smaller images; the
    computation is scipy's ``uniform_filter`` in the order scikit-image uses, so results match
    ``skimage.metrics.structural_similarity`` (the tests check it) without depending on it.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.tile(np.arange(0, 256, 16, dtype=np.uint8), (16, 1))
    >>> ssim(a, a)
    1.0
    >>> round(ssim(a // 32 * 32, a), 3)
    0.967
    """
    x, y = _pair(image, reference)
    r = _ssim_range(x, y, data_range)
    return _SSIMReference(y, data_range=r, channel_axis=channel_axis)(x)


# SSIM multiplies two variances (fourth powers of the values): above 2**200 that overflows.
_SSIM_SAFE_EXP = 200


def _ssim_shift(x: np.ndarray, y: np.ndarray, data_range: float) -> int:
    """0, or the power of two that brings the values and range near 1 (SSIM is scale-free)."""
    top = data_range
    for a in (x, y):
        if a.dtype.kind == "f":
            top = max(top, float(np.max(np.abs(a))))
    return math.frexp(top)[1] if top > 2.0**_SSIM_SAFE_EXP else 0


class _SSIMReference:
    """SSIM against one fixed reference, its local statistics computed once.

    ``_SSIMReference(ref, data_range=r)(img)`` equals ``ssim(img, ref, data_range=r)`` bit for
    bit (same operations in the same order as scikit-image) while filtering three arrays per
    call instead of five: what a rate-distortion sweep over many reconstructions needs.
    """

    def __init__(
        self, reference: Any, *, data_range: float | None = None, channel_axis: int | None = None
    ) -> None:
        y = np.asarray(reference)
        _pair(y, y)
        self.shape = y.shape
        self.channel_axis = None if channel_axis is None else channel_axis % y.ndim
        self.win = _ssim_window(_spatial_shape(y.shape, channel_axis))
        self.data_range = _ssim_range(y, y, data_range)
        # Huge float64 references are compared scaled down (see ssim); reconstructions lie
        # in the reference's range, so its scale suits them.
        self.shift = _ssim_shift(y, y, self.data_range)
        self.data_range = math.ldexp(self.data_range, -self.shift)
        self.dtype = y.dtype
        from scipy.ndimage import uniform_filter

        self._filter = uniform_filter
        self._stats = [self._ref_stats(ch) for ch in self._channels(y)]

    def _channels(self, a: np.ndarray) -> list[np.ndarray]:
        if self.channel_axis is None:
            return [a]
        return [np.take(a, i, axis=self.channel_axis) for i in range(a.shape[self.channel_axis])]

    def _float(self, ch: np.ndarray) -> np.ndarray:
        a = ch.astype(np.float64)
        return np.ldexp(a, -self.shift) if self.shift else a

    def _ref_stats(self, ch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        y = self._float(ch)
        return y, self._filter(y, size=self.win), self._filter(y * y, size=self.win)

    def __call__(self, image: Any) -> float:
        x = np.asarray(image)
        if x.shape != self.shape:
            raise ValueError(f"images have different shapes: {x.shape} and {self.shape}")
        values = [self._one(ch, *st) for ch, st in zip(self._channels(x), self._stats, strict=True)]
        return float(np.mean(values)) if len(values) > 1 else float(values[0])

    def _one(self, ch: np.ndarray, y: np.ndarray, uy: np.ndarray, uyy: np.ndarray) -> float:
        f, win = self._filter, self.win
        x = self._float(ch)
        ux = f(x, size=win)
        uxx = f(x * x, size=win)
        uxy = f(x * y, size=win)
        npix = win**x.ndim
        cov_norm = npix / (npix - 1)
        vx = cov_norm * (uxx - ux * ux)
        vy = cov_norm * (uyy - uy * uy)
        vxy = cov_norm * (uxy - ux * uy)
        c1 = (0.01 * self.data_range) ** 2
        c2 = (0.03 * self.data_range) ** 2
        a1, a2 = 2 * ux * uy + c1, 2 * vxy + c2
        b1, b2 = ux**2 + uy**2 + c1, vx + vy + c2
        s = (a1 * a2) / (b1 * b2)
        pad = (win - 1) // 2
        inner = s[tuple(slice(pad, n - pad) for n in s.shape)]
        return float(inner.mean(dtype=np.float64))


def entropy(codes: Any, n_levels: int | None = None) -> float:
    """Shannon entropy of the values in ``codes``, in bits per code.

    The lower bound, in the mean, on the bits per code of any coder that codes each value
    independently (a packed file spends ``ceil(log2(n_levels))``).

    Parameters
    ----------
    codes : array_like
        Codes (or any values) of any shape and real or boolean dtype; the empirical
        distribution of their distinct values is measured.
    n_levels : int, optional
        When given, codes must be integers in ``[0, n_levels)``; ``ValueError`` otherwise.

    Returns
    -------
    float
        ``-sum(p log2 p)`` over the distinct values; 0.0 for a constant array.

    Examples
    --------
    >>> import numpy as np
    >>> entropy(np.array([0, 1, 2, 3], dtype=np.uint8))
    2.0
    >>> entropy(np.array([0, 0, 0, 1]), n_levels=2)
    0.8112781244591328
    """
    c = np.asarray(codes)
    if c.dtype == np.bool_:
        c = c.view(np.uint8)
    if c.dtype.kind not in "uif":
        raise TypeError(f"codes have dtype {c.dtype}, expected integers")
    if c.size == 0:
        raise ValueError("codes are empty")
    if c.dtype.kind == "f" and not np.isfinite(c).all():
        raise ValueError("codes contain NaN or infinity")
    flat = c.reshape(-1)
    lo, hi = flat.min(), flat.max()
    if n_levels is not None:
        n = check_n_levels(n_levels, maximum=1 << 32)
        if c.dtype.kind == "f" and not np.array_equal(flat, np.floor(flat)):
            raise ValueError("codes must be integers")
        if lo < 0 or hi >= n:
            raise ValueError(f"codes must be in [0, {n - 1}], got values in [{lo}, {hi}]")
    counts = _value_counts(flat, lo, hi)
    p = counts[counts > 0] / float(flat.size)
    # max(0, .) turns the -0.0 of a constant array into 0.0.
    return max(0.0, float(-np.dot(p, np.log2(p))))


def _value_counts(flat: np.ndarray, lo: Any, hi: Any) -> np.ndarray:
    if flat.dtype.kind in "ui":
        # Python ints: hi - lo of an int64/uint64 array can exceed the dtype's range.
        span = int(hi) - int(lo)
        if span < max(1 << 16, 4 * flat.size):
            # Subtract in a dtype that holds the span: uint64 as is (flat >= lo), others in
            # int64 (int8 values minus -128 would wrap in int8).
            shifted = flat - lo if flat.dtype == np.uint64 else flat.astype(np.int64) - int(lo)
            return np.bincount(shifted.astype(np.intp), minlength=span + 1).astype(np.float64)
    return np.unique(flat, return_counts=True)[1].astype(np.float64)
