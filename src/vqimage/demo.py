"""The seed example's walkthrough as data: facts, per-strategy levels and errors.

The CLI prints it; the report and figures reuse it. No numerics live in the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import metrics
from .quantizer import Quantizer, fit

STRATEGY_ORDER = ("uniform", "quantile", "kmeans", "optimal")


@dataclass
class StrategyResult:
    strategy: str
    quantizer: Quantizer
    mse: float
    psnr: float


@dataclass
class Walkthrough:
    name: str
    image: np.ndarray
    n_levels: int
    results: list[StrategyResult] = field(default_factory=list)


def walkthrough(image: np.ndarray, name: str, n_levels: int = 8) -> Walkthrough:
    """Fit every strategy to ``image`` and measure the reconstruction (centroid codebook).

    Examples
    --------
    >>> import numpy as np
    >>> img = np.arange(256, dtype=np.uint8).reshape(16, 16)
    >>> w = walkthrough(img, "ramp", 4)
    >>> [r.strategy for r in w.results]
    ['uniform', 'quantile', 'kmeans', 'optimal']
    """
    out = Walkthrough(name, image, n_levels)
    for s in STRATEGY_ORDER:
        q = fit(image, n_levels, strategy=s)
        rec = q.quantize(image)
        kw = {} if image.dtype.kind in "ui" else {"data_range": float(np.ptp(image)) or 1.0}
        out.results.append(StrategyResult(s, q, metrics.mse(rec, image),
                                          metrics.psnr(rec, image, **kw)))
    return out


def _fmt(values: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.3f}".rstrip("0").rstrip(".") for v in values) + "]"


def format_walkthrough(w: Walkthrough) -> str:
    """The walkthrough as plain text (what ``vqimage demo`` prints)."""
    img = w.image
    lines = [
        f"Image: {w.name}",
        f"  shape {img.shape}, dtype {img.dtype}, {img.nbytes:,} bytes in RAM",
        f"  {np.unique(img).size} distinct values in [{img.min()}, {img.max()}]",
        "",
        f"{w.n_levels} levels per strategy (codebook = mean of each bin; MSE/PSNR of the "
        "reconstruction in the image's dtype):",
    ]
    for r in w.results:
        lines.append(f"  {r.strategy:<9} MSE {r.mse:8.2f}   PSNR {r.psnr:6.2f} dB")
        lines.append(f"            centers  {_fmt(r.quantizer.centers)}")
        lines.append(f"            codebook {_fmt(r.quantizer.codebook)}")
    return "\n".join(lines)
