"""Measuring quantizers on one image, without drawing: the numbers behind figures and report.

An :class:`EvaluationSession` fits each (series, n_levels) once and measures quality (MSE, PSNR,
SSIM), code entropy and the real ``.vqi`` size; :mod:`vqimage.viz.plot` draws them and
:mod:`vqimage.viz.report` writes them into HTML. A *series* is a scalar strategy
(:data:`vqimage.core.strategies.STRATEGIES`) or a vector quantizer kind
(:data:`vqimage._shared.kinds.VECTOR_KINDS`). Nothing here imports matplotlib.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vqimage._shared.kinds import KINDS, VECTOR_KINDS
from vqimage._shared.validation import check_choice, check_data, check_n_levels
from vqimage.core import metrics
from vqimage.core.protocol import QuantizerProtocol
from vqimage.core.quantizer import fit
from vqimage.core.strategies import STRATEGIES as _SCALAR
from vqimage.errors import FewerLevelsWarning
from vqimage.vqi.compressed import compress

__all__ = [
    "RD_LEVELS",
    "STRATEGIES",
    "VECTOR_MODES",
    "EvaluationSession",
    "RDPoint",
    "check_image",
    "check_levels",
    "check_series",
    "data_range",
    "display_range",
    "is_colour",
    "rate_distortion_points",
    "session_for",
    "vector_modes",
]

STRATEGIES: tuple[str, ...] = tuple(_SCALAR)
"""The scalar strategies, in the order the figures draw them."""
RD_LEVELS = (2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128, 256)
"""The levels a rate–distortion sweep fits by default."""
VECTOR_MODES: tuple[str, ...] = VECTOR_KINDS
"""Vector quantizer kinds, usable wherever a series is named: ``palette``
(:func:`vqimage.fit_palette`), ``channels`` (one optimal scalar quantizer per channel,
:func:`vqimage.fit_channels`) and ``blocks`` (2x2 pixel blocks, :func:`vqimage.fit_blocks`)."""

Progress = Callable[[int, int, str], Any]


# -- input checks and display helpers --------------------------------------------------------
def is_colour(a: np.ndarray) -> bool:
    return a.ndim == 3 and a.shape[-1] in (3, 4)


def check_image(image: Any, name: str = "image") -> np.ndarray:
    arr = check_data(image, name)
    if arr.ndim != 2 and not is_colour(arr):
        raise ValueError(
            f"{name} must be 2-D (gray) or (H, W, 3|4) (colour), got shape {arr.shape}"
        )
    return arr


def display_range(a: np.ndarray) -> tuple[float, float]:
    lo, hi = float(a.min()), float(a.max())
    return (lo - 0.5, hi + 0.5) if lo == hi else (lo, hi)


def data_range(a: np.ndarray) -> float | None:
    """What psnr/ssim get: the dtype's range for integers (their default), else the span."""
    if a.dtype.kind in "ui":
        return None
    lo, hi = display_range(a)
    return hi - lo


def vector_modes(image: Any) -> tuple[str, ...]:
    """The vector quantizers to compare on ``image``: ``blocks`` against the scalar levels of a
    gray image, ``channels`` and ``palette`` for an 8/16-bit RGB(A) image, else none."""
    a = np.asarray(image)
    if a.ndim == 2:
        return ("blocks",)
    if is_colour(a) and a.dtype in (np.uint8, np.uint16):
        return ("channels", "palette")
    return ()


def _fit(image: np.ndarray, k: int, strategy: str) -> QuantizerProtocol:
    with warnings.catch_warnings():
        # Fewer levels than asked (few distinct values) is expected at the sweep's high end.
        warnings.simplefilter("ignore", FewerLevelsWarning)
        if strategy in VECTOR_KINDS:
            return KINDS[strategy].fit()(image, k)  # type: ignore[no-any-return]
        return fit(image, k, strategy=strategy)


def check_series(strategies: Any) -> tuple[str, ...]:
    if isinstance(strategies, str):
        strategies = (strategies,)
    out = tuple(strategies)
    if not out:
        raise ValueError("strategies is empty")
    for s in out:
        check_choice(s, "strategy", STRATEGIES + VECTOR_MODES)
    return out


def check_levels(n_levels: Any) -> tuple[int, ...]:
    if isinstance(n_levels, (int, np.integer)) and not isinstance(n_levels, bool):
        n_levels = (n_levels,)
    out = tuple(check_n_levels(k) for k in n_levels)
    if not out:
        raise ValueError("n_levels is empty")
    return out


# -- measurements shared by the figures and the report ---------------------------------------
@dataclass(frozen=True)
class RDPoint:
    """One quantizer measured on one image: quality and the real size of its ``.vqi`` file.

    Attributes
    ----------
    strategy : str
    n_levels : int
        Levels asked for; ``quantizer.n_levels`` may be fewer (few distinct values).
    quantizer : Quantizer
    mse, psnr, ssim : float
        Reconstruction quality (``psnr`` is ``inf`` when lossless).
    entropy : float
        Bits per code of the codes' empirical distribution.
    vqi_bytes : int
        ``len(vqimage.compress(image, quantizer=quantizer).tobytes())``.
    bits_per_pixel : float
        ``vqi_bytes * 8 / image.size``.
    """

    strategy: str
    n_levels: int
    quantizer: QuantizerProtocol
    mse: float
    psnr: float
    ssim: float
    entropy: float
    vqi_bytes: int
    bits_per_pixel: float


def _fingerprint(a: np.ndarray) -> tuple[Any, ...]:
    digest = hashlib.blake2b(np.ascontiguousarray(a).view(np.uint8).reshape(-1), digest_size=16)
    return (a.shape, a.dtype.str, digest.hexdigest())


class EvaluationSession:
    """Fitted quantizers and their measurements for one image, reused across figures.

    Each (strategy, n_levels) is fitted once; reconstructions that come out identical (e.g.
    several strategies at 256 levels of 8-bit data) are measured once.
    """

    def __init__(self, image: np.ndarray) -> None:
        self.image = image
        self.fingerprint = _fingerprint(image)
        self.data_range = data_range(image)
        self.channel_axis = -1 if is_colour(image) else None
        self._quantizers: dict[tuple[str, int], QuantizerProtocol] = {}
        self._points: dict[tuple[str, int], RDPoint] = {}
        self._by_reconstruction: dict[bytes, tuple[float, float, float]] = {}
        self._ssim: metrics._SSIMReference | None = None

    def quantizer(self, strategy: str, k: int) -> QuantizerProtocol:
        key = (strategy, k)
        if key not in self._quantizers:
            self._quantizers[key] = _fit(self.image, k, strategy)
        return self._quantizers[key]

    def _ssim_reference(self) -> metrics._SSIMReference:
        if self._ssim is None:
            self._ssim = metrics._SSIMReference(
                self.image, data_range=self.data_range, channel_axis=self.channel_axis
            )
        return self._ssim

    def quality(self, rec: np.ndarray) -> tuple[float, float, float]:
        key = hashlib.blake2b(np.ascontiguousarray(rec).view(np.uint8).reshape(-1)).digest()
        if key not in self._by_reconstruction:
            kw = {} if self.data_range is None else {"data_range": self.data_range}
            self._by_reconstruction[key] = (
                metrics.mse(rec, self.image),
                metrics.psnr(rec, self.image, **kw),
                self._ssim_reference()(rec),
            )
        return self._by_reconstruction[key]

    def _measure(self, strategy: str, k: int) -> RDPoint:
        q = self.quantizer(strategy, k)
        codes = q.encode(self.image)
        # Block codebooks decode whole (edge-padded) blocks: crop to the image.
        rec = q.decode(codes)[tuple(slice(0, n) for n in self.image.shape)]
        mse, psnr, ssim = self.quality(rec)
        nbytes = len(compress(self.image, quantizer=q).tobytes())
        return RDPoint(strategy, k, q, mse, psnr, ssim, metrics.entropy(codes), nbytes,
                       nbytes * 8 / self.image.size)

    def point(self, strategy: str, k: int) -> RDPoint:
        key = (strategy, k)
        if key not in self._points:
            self._points[key] = self._measure(strategy, k)
        return self._points[key]

    def points(
        self, keys: Sequence[tuple[str, int]], progress: Progress | None = None
    ) -> list[RDPoint]:
        """Measure ``keys`` (strategy, n_levels), several at a time, in the order given."""
        todo = list(dict.fromkeys(k for k in keys if k not in self._points))
        for s, k in todo:
            self.quantizer(s, k)
        self._ssim_reference()
        workers = min(len(todo), _WORKERS)
        done = len(keys) - len(todo)
        if done and progress is not None:
            progress(done, len(keys), "measured earlier")

        def report(key: tuple[str, int]) -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, len(keys), f"{key[0]}, {key[1]} levels")

        if workers <= 1:
            for key in todo:
                self.point(*key)
                report(key)
        else:
            # Filtering, compression and numpy arithmetic release the GIL: threads overlap.
            from concurrent.futures import ThreadPoolExecutor, as_completed

            with ThreadPoolExecutor(workers) as pool:
                futures = {pool.submit(self._measure, *key): key for key in todo}
                for f in as_completed(futures):
                    self._points[futures[f]] = f.result()
                    report(futures[f])
        return [self._points[key] for key in keys]


_WORKERS = max(1, min(4, os.cpu_count() or 1))


def session_for(image: np.ndarray, cache: dict[str, Any] | None) -> EvaluationSession:
    if cache is None:
        return EvaluationSession(image)
    s = cache.get("session")
    if not isinstance(s, EvaluationSession) or s.fingerprint != _fingerprint(image):
        s = cache["session"] = EvaluationSession(image)
    return s


def rate_distortion_points(
    image: Any,
    strategies: Sequence[str] = STRATEGIES,
    n_levels: Sequence[int] = RD_LEVELS,
    *,
    cache: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> list[RDPoint]:
    """Measure every (strategy, n_levels) pair: quality and the real ``.vqi`` size.

    Parameters
    ----------
    image : array_like
        2-D gray or ``(H, W, 3|4)`` colour image.
    strategies : sequence of str
        Strategies to fit (``uniform``, ``quantile``, ``kmeans``, ``optimal``).
    n_levels : sequence of int
        Numbers of levels to fit, each in [2, 65536].
    cache : dict, optional
        A dict reused across calls on the same image (quantizers and measurements are kept in
        it); a different image replaces its content.
    progress : callable, optional
        Called as ``progress(step, total, message)`` after each point.

    Returns
    -------
    list of RDPoint
        In the order strategy by strategy, then level by level.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.arange(4096, dtype=np.uint16).reshape(64, 64) % 256
    >>> pts = rate_distortion_points(img.astype(np.uint8), ["uniform"], [2, 16])
    >>> [(p.n_levels, round(p.psnr, 1)) for p in pts]
    [(2, 16.8), (16, 34.8)]
    """
    img = check_image(image)
    strategies = check_series(strategies)
    levels = check_levels(n_levels)
    session = session_for(img, cache)
    return session.points([(s, k) for s in strategies for k in levels], progress)


