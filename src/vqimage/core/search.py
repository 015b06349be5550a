"""The fewest levels that reach a PSNR target: one binary search for every quantizer family.

Used by :func:`vqimage.vq.palette.fit_palette_for_psnr` (palette sizes) and the batch engine's
``--psnr`` (scalar level counts).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

from vqimage.errors import TargetUnreachableError

__all__ = ["search_levels"]


def search_levels(
    fit: Callable[[int], Any],
    psnr: Callable[[Any], float],
    target: Any,
    hi: int,
    *,
    unit: str = "levels",
    ignore: type[Warning] = Warning,
) -> tuple[Any, float, int]:
    """Binary search over ``k`` in ``[2, hi]`` for the fewest levels whose fit reaches ``target``.

    ``fit(k)`` fits ``k`` levels (warnings of category ``ignore`` silenced: fewer fitted
    levels than asked is expected while searching) and ``psnr(q)`` measures a fit, in dB.
    Returns ``(quantizer, psnr, evaluations)``: the fit found, its PSNR and how many level
    counts were fitted. When the error is not monotone in ``k`` the answer reaches the target
    while ``k - 1`` does not, but a smaller ``k`` further down might.

    Raises ``ValueError`` for a target that is not a positive number and
    :class:`~vqimage.errors.TargetUnreachableError` when even ``hi`` levels fall short.

    Examples
    --------
    >>> search_levels(lambda k: k, lambda k: 10.0 * k, 45, 100)
    (5, 50.0, 8)
    """
    if not (isinstance(target, (int, float)) and math.isfinite(target) and target > 0):
        raise ValueError(f"target PSNR must be a positive number of dB, got {target!r}")
    cache: dict[int, tuple[Any, float]] = {}

    def evaluate(k: int) -> tuple[Any, float]:
        if k not in cache:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ignore)
                q = fit(k)
            cache[k] = (q, psnr(q))
        return cache[k]

    q_hi, db_hi = evaluate(hi)
    if db_hi < target:
        raise TargetUnreachableError(
            f"cannot reach {target:g} dB: {q_hi.n_levels} {unit} give {db_hi:.2f} dB"
        )
    lo = 2
    while lo < hi:
        mid = (lo + hi) // 2
        if evaluate(mid)[1] >= target:
            hi = mid
        else:
            lo = mid + 1
    q, db = evaluate(hi)
    return q, db, len(cache)
