"""The seed example's walkthrough as data: facts, per-strategy levels and errors.

The CLI prints it; the report and figures reuse it. No numerics live in the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vqimage.core import metrics
from vqimage.core.protocol import QuantizerProtocol
from vqimage.core.quantizer import Quantizer, fit
from vqimage.errors import FormatError
from vqimage.io import encode_image, encode_indexed_png
from vqimage.vqi.compressed import compress

STRATEGY_ORDER = ("uniform", "quantile", "kmeans", "optimal")


@dataclass
class StrategyResult:
    strategy: str
    quantizer: Quantizer
    mse: float
    psnr: float
    vqi_bytes: int | None = None
    codec: str | None = None


@dataclass
class Walkthrough:
    name: str
    image: np.ndarray
    n_levels: int
    results: list[StrategyResult] = field(default_factory=list)
    sizes: list[tuple[str, int | None]] = field(default_factory=list)
    sizes_strategy: str = "kmeans"


def walkthrough(
    image: np.ndarray, name: str, n_levels: int = 8, *, sizes: bool = True
) -> Walkthrough:
    """Fit every strategy to ``image`` and measure the reconstruction (centroid codebook).

    With ``sizes`` (default) every strategy's ``.vqi`` size is measured and ``sizes`` holds
    :func:`memory_sizes` of the seed's strategy (``kmeans``).

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
        res = StrategyResult(s, q, metrics.mse(rec, image), metrics.psnr(rec, image, **kw))
        if sizes:
            ci = compress(image, quantizer=q)
            res.vqi_bytes, res.codec = len(ci.tobytes()), str(ci.codec)
        out.results.append(res)
    if sizes:
        seed = next(r for r in out.results if r.strategy == out.sizes_strategy)
        out.sizes = memory_sizes(image, seed.quantizer, vqi_bytes=seed.vqi_bytes,
                                 codec=seed.codec)
    return out


def memory_sizes(
    image: np.ndarray,
    quantizer: QuantizerProtocol,
    *,
    vqi_bytes: int | None = None,
    codec: str | None = None,
    png: bool = True,
) -> list[tuple[str, int | None]]:
    """Bytes of every way to hold ``image`` quantized by ``quantizer``: the seed's question.

    Rows: the image as loaded; the codes as float64 (what scikit-learn's ``KBinsDiscretizer``
    returns); the codes in the smallest integer dtype; the codes packed into
    ``quantizer.bits`` bits each; the ``.vqi`` file (:func:`vqimage.compress`, measured unless
    ``vqi_bytes`` is given); a PNG of the quantized image (8-bit palette PNG of the codes,
    Pillow ``optimize=True``; ``None`` above 256 levels or for colour); a PNG of the original
    (Pillow, lossless; ``None`` when PNG cannot hold the image). ``png=False`` skips the two
    PNG rows (their bytes are ``None``), the slowest to measure.

    Examples
    --------
    >>> import numpy as np
    >>> import vqimage
    >>> img = np.arange(256, dtype=np.uint8).reshape(16, 16).repeat(4, 0)
    >>> rows = memory_sizes(img, vqimage.fit(img, 8))
    >>> [(label, b) for label, b in rows[:4]]  # doctest: +NORMALIZE_WHITESPACE
    [('image as loaded (uint8)', 1024), ('codes as float64 (KBinsDiscretizer)', 8192),
     ('codes as uint8', 1024), ('codes packed in 3 bits', 384)]
    """
    img = np.asarray(image)
    codes = quantizer.encode(img)
    n = int(codes.size)
    bits = int(quantizer.bits)
    if vqi_bytes is None:
        ci = compress(img, quantizer=quantizer)
        vqi_bytes, codec = len(ci.tobytes()), str(ci.codec)
    return [
        (f"image as loaded ({img.dtype})", int(img.nbytes)),
        ("codes as float64 (KBinsDiscretizer)", n * 8),
        (f"codes as {codes.dtype}", int(codes.nbytes)),
        (f"codes packed in {bits} bit{'s' if bits != 1 else ''}", (n * bits + 7) // 8),
        (f".vqi file{f' (codec {codec})' if codec else ''}", int(vqi_bytes)),
        ("PNG of the quantized image (palette)",
         palette_png_bytes(codes, quantizer) if png else None),
        ("PNG of the original (lossless)", _png_bytes(img) if png else None),
    ]


def palette_png_bytes(codes: np.ndarray, quantizer: QuantizerProtocol) -> int | None:
    """Bytes of the codes saved as a palette PNG (Pillow, ``optimize=True``); ``None`` when a
    palette PNG cannot hold them (not 2-D, or more than 256 levels)."""
    if codes.ndim != 2 or quantizer.n_levels > 256:
        return None
    book = np.asarray(quantizer.codebook, dtype=np.float64)
    if book.ndim == 1:  # gray levels, stretched over the palette's 0..255
        lo, hi = float(book.min()), float(book.max())
        gray = np.zeros(book.shape) if hi == lo else (book - lo) * (255.0 / (hi - lo))
        book = np.repeat(np.rint(gray)[:, None], 3, axis=1)
    elif quantizer.dtype != np.uint8 or book.shape[1] not in (3, 4):
        return None
    return len(encode_indexed_png(codes, book.astype(np.uint8)))


def _png_bytes(img: np.ndarray) -> int | None:
    try:
        return len(encode_image(img, ".png"))
    except (FormatError, TypeError):  # PNG cannot hold this dtype or shape
        return None


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
        size = "" if r.vqi_bytes is None else (
            f"   .vqi {r.vqi_bytes:>9,} bytes ({8 * r.vqi_bytes / _pixels(img):.2f} bits/pixel)")
        lines.append(f"  {r.strategy:<9} MSE {r.mse:8.2f}   PSNR {r.psnr:6.2f} dB{size}")
        lines.append(f"            centers  {_fmt(r.quantizer.centers)}")
        lines.append(f"            codebook {_fmt(r.quantizer.codebook)}")
    if w.sizes:
        raw = img.nbytes
        lines += ["", f"Memory of the {w.n_levels}-level image ({w.sizes_strategy}), "
                  f"{_pixels(img):,} pixels:"]
        width = max(len(label) for label, _ in w.sizes)
        lines.append(f"  {'':<{width}} {'bytes':>11} {'bits/pixel':>11} {'x image':>8}")
        for label, b in w.sizes:
            if b is None:
                lines.append(f"  {label:<{width}} {'-':>11} {'-':>11} {'-':>8}")
            else:
                lines.append(f"  {label:<{width}} {b:>11,} {8 * b / _pixels(img):>11.3f} "
                             f"{b / raw:>8.3f}")
    return "\n".join(lines)


def _pixels(img: np.ndarray) -> int:
    if img.ndim == 3 and img.shape[-1] <= 4:
        return int(img.shape[0] * img.shape[1])
    return int(img.size)
