"""Compress many image files: one job per file, run in parallel on any executor.

The work of one file (read, prepare, fit, compress, save) is :func:`compress_file`; it never
raises but returns a :class:`FileResult` saying what happened, so a batch always finishes every
file it can. :func:`compress_batch` maps it over a list of :class:`Job` on a local process pool
sized to the available cores, or on any ``concurrent.futures.Executor`` (for instance a Dask
cluster's ``distributed.Client(address).get_executor()``). With ``shared=True`` one quantizer is
fitted on the merged histograms of all images and used for each of them.

Results do not depend on the executor: every job is computed by the same function on the same
inputs.

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> from vqimage.io import write_image
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> rng = np.random.default_rng(0)
>>> for i in range(3):
...     _ = write_image(d / f"img{i}.png", rng.integers(0, 256, (32, 32), dtype=np.uint8))
>>> jobs = plan_jobs(sorted(d.glob("*.png")), d / "out")
>>> results = compress_batch(jobs, CompressOptions(n_levels=4), max_workers=1)
>>> [(r.status, r.n_levels) for r in results]
[('ok', 4), ('ok', 4), ('ok', 4)]
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import os
import traceback
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from vqimage._shared.dtypes import MAX_LEVELS
from vqimage._shared.fs import atomic_write
from vqimage._shared.interrupts import caused_by_interrupt
from vqimage._shared.kinds import KINDS
from vqimage._shared.optional import MissingDependency
from vqimage._shared.validation import check_choice
from vqimage.core.histogram import Histogram, histogram
from vqimage.core.protocol import QuantizerProtocol
from vqimage.vqi.compressed import compress
from vqimage.vqi.inspection import pixel_count

__all__ = [
    "CompressOptions",
    "FileResult",
    "Job",
    "available_cores",
    "compress_batch",
    "compress_file",
    "describe_error",
    "encode_output",
    "fit_for_psnr",
    "fit_quantizer",
    "plan_jobs",
    "prepare",
    "psnr_range",
    "run_jobs",
]



@dataclass(frozen=True)
class CompressOptions:
    """How to compress each file of a batch.

    Attributes
    ----------
    n_levels : int or None
        Levels of the quantizer; ``None`` with ``psnr`` set.
    psnr : float or None
        Target PSNR in dB: the smallest number of levels reaching it is chosen
        (:func:`fit_for_psnr`).
    strategy, reconstruction, codec : str
        Passed to :func:`vqimage.fit` and :func:`vqimage.compress`.
    kind : str
        The quantizer kind (:data:`vqimage._shared.kinds.KINDS`) and so how images are prepared
        (:func:`prepare`): ``"scalar"`` turns colour into gray (``"gray"`` is an alias);
        ``"palette"``, ``"channels"`` and ``"blocks"`` keep colour; ``"auto"`` is
        ``"palette"`` for colour input and ``"scalar"`` otherwise.
    block : (int, int)
        Block size of ``kind="blocks"``.
    dither : bool
        Floyd–Steinberg error diffusion when encoding (palette and scalar kinds).
    overwrite : bool
        Replace existing outputs; otherwise a job whose output exists is skipped.
    format : {"vqi", "png", "webp"}
        What each output file is: a ``.vqi`` file, an indexed PNG
        (:meth:`~vqimage.CompressedImage.to_png`) or a lossless WebP
        (:meth:`~vqimage.CompressedImage.to_webp`).
    skip_if_larger : bool
        Write nothing when the output would not be smaller than the input file (the result
        is ``"skipped"`` with ``reason="larger"``).
    keep_palette : bool
        PNG outputs keep the whole palette in order (set for shared palettes, so that every
        file carries the same one).
    quantizer : object or None
        A fitted quantizer used for every image (``shared`` batches) instead of fitting.
    notices : tuple of str
        Notices added to every file's result (those of a shared fit).
    max_abs_error, max_rel_error : float or None
        Instead of ``n_levels``: the fewest levels keeping every value within this absolute
        error (or fraction of the image's range), see :func:`vqimage.fit` (gray mode only).
    """

    n_levels: int | None = 8
    psnr: float | None = None
    strategy: str = "optimal"
    reconstruction: str = "centroid"
    codec: str = "auto"
    kind: str = "scalar"
    overwrite: bool = False
    quantizer: QuantizerProtocol | None = None
    notices: tuple[str, ...] = ()
    block: tuple[int, int] = (2, 2)
    dither: bool = False
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    format: str = "vqi"
    skip_if_larger: bool = False
    keep_palette: bool = False


FORMATS = ("vqi", "png", "webp")
"""Output formats of :func:`compress_file` (``CompressOptions.format``)."""

EXIT_LARGER = 98
"""Exit status of ``vqimage compress`` when ``--skip-if-larger`` kept the input (as pngquant)."""
EXIT_UNREACHABLE = 99
"""Exit status of ``vqimage compress`` when ``--psnr`` cannot be reached (as pngquant's
``--quality``)."""


KIND_CHOICES = ("auto", *KINDS)
"""What ``CompressOptions.kind`` accepts (``"gray"`` too, an alias of ``"scalar"``)."""


def resolve_kind(kind: str, image: np.ndarray) -> str:
    """The quantizer kind for ``image``: ``auto`` is palette for colour, else scalar."""
    if kind == "auto":
        return "palette" if image.ndim == 3 and image.shape[-1] in (3, 4) else "scalar"
    return "scalar" if kind == "gray" else kind


@dataclass(frozen=True)
class Job:
    """One input file and the ``.vqi`` file it is compressed to."""

    src: Path
    dst: Path


@dataclass
class FileResult:
    """What happened to one file: ``status`` is ``"ok"``, ``"skipped"`` or ``"failed"``."""

    src: str
    dst: str
    status: str
    message: str = ""
    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    n_levels: int | None = None
    strategy: str | None = None
    codec: str | None = None
    nbytes: int | None = None
    raw_nbytes: int | None = None
    psnr: float | None = None
    notices: list[str] = field(default_factory=list)
    traceback: str | None = None
    reason: str = ""
    """Why a file was skipped or failed, for exit statuses: ``"larger"`` (the output would
    not be smaller than the input), ``"unreachable"`` (the ``psnr`` target), else empty."""

    @property
    def n_pixels(self) -> int | None:
        """Pixels: ``H * W`` for gray and ``(H, W, C <= 4)`` colour, else all values."""
        if self.shape is None:
            return None
        return pixel_count(self.shape)

    @property
    def bits_per_pixel(self) -> float | None:
        if self.nbytes is None or not self.n_pixels:
            return None
        return 8.0 * self.nbytes / self.n_pixels

    @property
    def ratio(self) -> float | None:
        """Raw size over compressed size (how many times smaller)."""
        if not self.nbytes or self.raw_nbytes is None:
            return None
        return self.raw_nbytes / self.nbytes


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def describe_error(exc: BaseException, known: str | os.PathLike[str] | None = None) -> str:
    """One line for an exception: the OS reason with its file, or the library's message.

    ``known`` is a path the caller names anyway; an OS error about it omits the path.

    >>> describe_error(FileNotFoundError(2, "No such file or directory", "a.png"), "a.png")
    'No such file or directory'
    """
    if isinstance(exc, OSError) and exc.strerror:
        same = known is not None and exc.filename is not None and (
            str(exc.filename) == str(known))
        where = f": {exc.filename}" if exc.filename and not same else ""
        return f"{exc.strerror}{where}"
    if isinstance(exc, OSError) and str(exc).strip():
        return str(exc).strip().splitlines()[0]
    if isinstance(exc, MemoryError):
        return "out of memory"
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    if isinstance(exc, (ValueError, TypeError, MissingDependency)) and first:
        return first
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


# -- preparing and fitting ----------------------------------------------------------------


def prepare(image: np.ndarray, kind: str = "scalar") -> tuple[np.ndarray, list[str]]:
    """Turn a decoded image into the array to quantize, with notices for the user.

    ``kind="scalar"`` (or ``"gray"``): colour ``(H, W, 3|4)`` becomes gray with ITU-R 601 luma
    (:func:`vqimage.io.to_gray`; alpha dropped), gray passes unchanged. ``"palette"`` needs
    RGB or RGBA of 8 or 16 bits, ``"channels"`` colour, ``"blocks"`` any image; they keep it
    as it is. ``"auto"``: colour as ``"palette"``, anything else as ``"gray"``.

    Examples
    --------
    >>> import numpy as np
    >>> img, notes = prepare(np.zeros((2, 2, 3), np.uint8) + [255, 0, 0])
    >>> img.shape, notes[0].split(":")[0]
    ((2, 2), 'colour converted to gray with ITU-R 601 luma')
    """
    from vqimage.io import GRAY_FORMULA, to_gray

    if kind != "gray":
        check_choice(kind, "kind", KIND_CHOICES)
    arr = np.asarray(image)
    notices: list[str] = []
    kind = resolve_kind(kind, arr)
    if kind == "palette":
        if arr.ndim != 3 or arr.shape[-1] not in (3, 4) or arr.dtype not in (np.uint8, np.uint16):
            raise ValueError(
                f"--kind palette needs an RGB or RGBA image of 8 or 16 bits, got "
                f"{'x'.join(map(str, arr.shape))} {arr.dtype}"
            )
        return arr, notices
    if kind == "channels":
        if arr.ndim != 3 or not 2 <= arr.shape[-1] <= 4:
            raise ValueError(
                f"--kind channels needs a colour image, got {'x'.join(map(str, arr.shape))}"
            )
        return arr, notices
    if kind == "blocks":
        return arr, notices
    if arr.ndim == 3 and arr.shape[-1] in (2, 3, 4):
        gray = to_gray(arr)
        same = arr.shape[-1] in (3, 4) and np.array_equal(gray, arr[..., 0]) and np.array_equal(
            arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 0], arr[..., 2])
        if arr.shape[-1] == 2:
            notices.append("gray + alpha: alpha dropped")
        elif not same:
            formula = GRAY_FORMULA.split(": ", 1)[1].split(" (")[0]
            notices.append(f"colour converted to gray with ITU-R 601 luma: {formula}")
        if arr.shape[-1] == 4:
            notices.append("alpha channel dropped")
        arr = gray
    return arr, notices


def psnr_range(hist: Histogram) -> float:
    """The peak used for PSNR: the dtype's range for integers, the data's range for floats.

    ``inf`` for float64 data whose range exceeds the largest float (-1.7e308 .. 1.7e308);
    :func:`fit_for_psnr` then measures the range itself, in a scaled space.
    """
    if hist.dtype.kind in "ui":
        info = np.iinfo(hist.dtype)
        return float(info.max) - float(info.min)
    with np.errstate(over="ignore"):
        span = float(hist.values[-1] - hist.values[0])
    return span if span > 0 else 1.0


def _hist_psnr(hist: Histogram, quantizer: QuantizerProtocol, data_range: float | None) -> float:
    """PSNR of ``quantizer`` on the data of ``hist``, exactly, from the distinct values only.

    ``data_range=None`` is :func:`psnr_range`. Values near +-1.7e308 are compared divided by a
    power of two (PSNR is a ratio, so it does not change) lest differences and squares
    overflow.
    """
    from vqimage.core.metrics import _shift_for

    values = hist.values
    # Decode from the values in their own dtype: for 64-bit integers the exact ones (float64
    # rounds 2**63 - 1 up to 2**63, which would wrap on the cast).
    exact = hist.exact if hist.exact is not None else values.astype(hist.dtype)
    rec = quantizer.quantize(exact)
    shift = _shift_for(values)
    v = np.ldexp(values, -shift)
    err = np.where(rec == exact, 0.0, np.ldexp(rec.astype(np.float64), -shift) - v)
    mse = float(np.dot(hist.counts, err * err) / hist.total)
    if mse == 0:
        return math.inf
    if data_range is None:
        span = float(v[-1] - v[0])
        peak = span if span > 0 else math.ldexp(1.0, -shift)
    else:
        peak = math.ldexp(float(data_range), -shift)
    try:
        return 10.0 * math.log10(peak**2 / mse)
    except (OverflowError, ValueError):  # peak**2 beyond float64, or the ratio below it
        return 20.0 * math.log10(peak) - 10.0 * math.log10(mse)


def fit_for_psnr(
    hist: Histogram,
    target: float,
    *,
    strategy: str = "optimal",
    reconstruction: str = "centroid",
    data_range: float | None = None,
    max_levels: int = MAX_LEVELS,
) -> tuple[Any, float, int]:
    """The quantizer with the fewest levels whose reconstruction reaches ``target`` dB.

    Parameters
    ----------
    hist : Histogram
        Histogram of the data (:func:`vqimage.histogram`); errors are computed from
        it exactly, so no image is decoded during the search.
    target : float
        PSNR to reach, in dB.
    data_range : float, optional
        Peak of the PSNR; by default the dtype's range for integers (255 for uint8) and the
        data's range for floats (:func:`psnr_range`).

    Returns
    -------
    quantizer, psnr, evaluations
        The fitted quantizer, its PSNR, and how many candidate level counts were fitted.

    Notes
    -----
    Binary search over ``n_levels`` in ``[2, min(distinct values, max_levels)]``: about
    ``log2`` of that many fits. The ``optimal`` strategy's error never grows with more levels,
    so the answer is the smallest count; for the other strategies the error is nearly but not
    strictly monotone and the answer reaches the target but may not be the smallest.

    Raises :class:`~vqimage.errors.TargetUnreachableError` (a ``ValueError``) when even
    ``max_levels`` levels fall short.

    Examples
    --------
    >>> import numpy as np
    >>> from vqimage import histogram
    >>> img = np.arange(256, dtype=np.uint8).repeat(4)
    >>> q, db, _ = fit_for_psnr(histogram(img), 40.0)
    >>> q.n_levels, round(db, 2)
    (29, 40.01)
    """
    from vqimage.core.quantizer import fit_histogram
    from vqimage.core.search import search_levels

    peak = None if data_range is None and hist.dtype.kind == "f" else (
        psnr_range(hist) if data_range is None else float(data_range))
    return search_levels(
        lambda k: fit_histogram(hist, k, strategy=strategy, reconstruction=reconstruction),
        lambda q: _hist_psnr(hist, q, peak),
        target,
        max(2, min(int(max_levels), hist.values.size)),
    )


def fit_quantizer(image: np.ndarray, options: CompressOptions) -> tuple[Any, list[str]]:
    """Fit the quantizer for one prepared image (or return the shared one), with notices."""
    from vqimage.core.quantizer import fit_histogram

    if options.quantizer is not None:
        return options.quantizer, []
    kind = resolve_kind(options.kind, image)
    if kind != "scalar" and _bounded(options):
        raise ValueError(f"--max-error works with --kind scalar only, not {kind}")
    if kind not in ("scalar", "palette") and options.psnr is not None:
        raise ValueError(f"--psnr works with --kind scalar or palette, not {kind}")
    if kind == "palette" and options.psnr is not None:
        from vqimage.vq.palette import colour_histogram, fit_palette_for_psnr

        q, db, _ = fit_palette_for_psnr(*colour_histogram(image), options.psnr)
        return q, [f"--psnr {options.psnr:g}: chose {q.n_levels} colours ({_db(db)})"]
    n = options.n_levels or KINDS[kind].default_levels
    # Each vector kind takes the options that apply to it.
    kind_options: dict[str, dict[str, Any]] = {
        "palette": {},
        "channels": {"strategy": options.strategy, "reconstruction": options.reconstruction},
        "blocks": {"block": options.block},
    }
    if kind in kind_options:
        return KINDS[kind].fit()(image, n, **kind_options[kind]), []
    hist = histogram(image)
    if _bounded(options):
        return _fit_bounded(hist, options)
    if options.psnr is not None:
        q, db, _ = fit_for_psnr(
            hist, options.psnr, strategy=options.strategy, reconstruction=options.reconstruction
        )
        return q, [f"--psnr {options.psnr:g}: chose {q.n_levels} levels ({_db(db)})"]
    q = fit_histogram(
        hist, options.n_levels or 8, strategy=options.strategy,
        reconstruction=options.reconstruction,
    )
    return q, []


def _bounded(options: CompressOptions) -> bool:
    return options.max_abs_error is not None or options.max_rel_error is not None


def _fit_bounded(
    hist: Histogram, options: CompressOptions, where: str = ""
) -> tuple[Any, list[str]]:
    """The fewest levels meeting the options' error bound, with the notice saying what it got."""
    from vqimage.core.quantizer import fit_histogram

    q = fit_histogram(hist, max_abs_error=options.max_abs_error,
                      max_rel_error=options.max_rel_error, reconstruction=options.reconstruction)
    asked = (f"{options.max_abs_error:g}" if options.max_abs_error is not None
             else f"{100 * options.max_rel_error:g}%")
    return q, [f"--max-error {asked}{where}: max error {q.max_error:.4g} <= "
               f"{q.error_bound:.4g} with {q.n_levels} levels"]


def _db(db: float) -> str:
    return "lossless" if math.isinf(db) else f"PSNR {db:.2f} dB"


# -- one file -----------------------------------------------------------------------------


def _load_prepared(src: Path, kind: str) -> tuple[np.ndarray, list[str]]:
    from vqimage.io import read_image

    return prepare(read_image(src), kind)


def compress_file(job: Job, options: CompressOptions) -> FileResult:
    """Read, prepare, fit, compress and save one file; never raises.

    A job whose output exists is skipped unless ``options.overwrite``; a job whose output is
    its input fails. The output is written atomically, so a failure leaves no file.
    """
    src, dst = Path(job.src), Path(job.dst)
    res = FileResult(str(src), str(dst), "failed")
    try:
        if same_file(src, dst):
            raise ValueError(f"output {dst} is the input file; choose another output")
        if not options.overwrite and (dst.exists() or dst.is_symlink()):
            res.status = "skipped"
            res.message = "output exists (--force replaces it)"
            return res
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            image, notices = _load_prepared(src, options.kind)
            res.shape, res.dtype = tuple(int(s) for s in image.shape), image.dtype.name
            res.raw_nbytes = int(image.nbytes)
            q, fit_notes = fit_quantizer(image, options)
            if q.dtype != image.dtype:
                raise ValueError(
                    f"the shared quantizer reconstructs {q.dtype}, but the image is {image.dtype}"
                )
            ci = compress(image, quantizer=q, codec=options.codec, dither=options.dither)
            data = encode_output(ci, options)
            res.psnr = _image_psnr(image, None if options.dither else q, ci)
            res.n_levels, res.strategy = int(q.n_levels), str(q.strategy)
            res.codec = str(ci.codec) if options.format == "vqi" else options.format
            res.nbytes = len(data)
            if options.skip_if_larger and len(data) >= src.stat().st_size:
                res.status, res.reason = "skipped", "larger"
                res.message = (f"kept the input: the {options.format} output would be "
                               f"{len(data):,} bytes, the input is {src.stat().st_size:,}")
                res.notices = [*options.notices, *notices, *fit_notes]
                return res
            if not dst.parent.is_dir():
                dst.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(dst, data, overwrite=options.overwrite)
        res.notices = [*options.notices, *notices, *fit_notes, *(str(w.message) for w in caught)]
        res.status = "ok"
    except FileExistsError as exc:
        if exc.filename is None or Path(exc.filename) != dst:
            res.message, res.traceback = describe_error(exc, src), traceback.format_exc()
            return res
        # Another writer created the output between the check above and our write: the same
        # as an output that was there before.
        res.status, res.message = "skipped", "output exists (--force replaces it)"
    except Exception as exc:
        _stop_if_interrupted(exc)
        from vqimage.errors import TargetUnreachableError

        res.status = "failed"
        res.reason = "unreachable" if isinstance(exc, TargetUnreachableError) else ""
        res.message = describe_error(exc, src)
        res.traceback = traceback.format_exc()
    return res


def encode_output(ci: Any, options: CompressOptions) -> bytes:
    """The bytes of the output file of ``options.format`` for a compressed image."""
    check_choice(options.format, "format", FORMATS)
    if options.format == "png":
        return bytes(ci.to_png(keep_palette=options.keep_palette))
    if options.format == "webp":
        return bytes(ci.to_webp())
    return bytes(ci.tobytes())


def _stop_if_interrupted(exc: Exception) -> None:
    """Re-raise Ctrl-C that a numba kernel turned into a ``SystemError``: a batch stops on it
    instead of recording one more failed file and going on."""
    if caused_by_interrupt(exc):
        raise KeyboardInterrupt from exc


def _image_psnr(image: np.ndarray, q: QuantizerProtocol | None, ci: Any) -> float:
    from vqimage.core import metrics

    scalar = q is not None and getattr(q, "kind", "scalar") == "scalar"
    rec = q.quantize(image) if scalar else ci.decompress()
    if image.dtype.kind in "ui":
        return metrics.psnr(rec, image)
    # The data's own span as peak, valid even when it exceeds the largest float64.
    return metrics._psnr_own_range(rec, image)


def same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


@dataclass(frozen=True)
class ColourHistogram:
    """Distinct colours of one or more images and their pixel counts (a shared palette fit).

    Merging concatenates: :func:`vqimage.vq.palette.fit_palette_histogram` sums the counts of
    a colour listed more than once.
    """

    colours: np.ndarray
    counts: np.ndarray

    @property
    def dtype(self) -> np.dtype:
        return self.colours.dtype

    def merge(self, *others: ColourHistogram) -> ColourHistogram:
        parts = (self, *others)
        return ColourHistogram(np.concatenate([p.colours for p in parts]),
                               np.concatenate([p.counts for p in parts]))


def file_histogram(src: Path, kind: str = "scalar") -> Histogram | ColourHistogram:
    """The histogram of one prepared image file (the unit of work of a shared fit): a colour
    histogram when ``kind`` resolves to ``"palette"`` for this image, else a scalar one."""
    image, _ = _load_prepared(Path(src), kind)
    if resolve_kind(kind, image) == "palette":
        from vqimage.vq.palette import colour_histogram

        return ColourHistogram(*colour_histogram(image))
    if resolve_kind(kind, image) != "scalar":
        raise ValueError(f"--shared fits scalar quantizers and palettes, not --kind {kind}")
    return histogram(image)


def _histogram_job(
    src: Path, kind: str
) -> tuple[Histogram | ColourHistogram | None, str | None, str | None]:
    try:
        return file_histogram(src, kind), None, None
    except Exception as exc:
        _stop_if_interrupted(exc)
        return None, describe_error(exc, src), traceback.format_exc()


# -- planning and running -----------------------------------------------------------------


def plan_jobs(
    sources: Sequence[Path],
    outdir: Path,
    *,
    roots: Sequence[Path | None] | None = None,
    suffix: str = ".vqi",
) -> list[Job]:
    """One job per source, writing ``outdir / <name>.vqi`` (or another ``suffix``).

    ``roots[i]``, when given, is the directory ``sources[i]`` was found under: its relative
    folder is kept below ``outdir``. Two sources that would share an output name (``a.png``
    and ``a.tif``) keep their suffix (``a.png.vqi``, ``a.tif.vqi``).
    """
    rels: list[Path] = []
    for i, src in enumerate(sources):
        root = roots[i] if roots is not None else None
        rel = src.relative_to(root) if root is not None else Path(src.name)
        rels.append(rel)
    stems = [r.with_suffix(suffix) for r in rels]
    counts: dict[Path, int] = {}
    for s in stems:
        counts[s] = counts.get(s, 0) + 1
    jobs = []
    for src, rel, stem in zip(sources, rels, stems):
        name = stem if counts[stem] == 1 else rel.with_name(rel.name + suffix)
        jobs.append(Job(Path(src), Path(outdir) / name))
    return jobs


def run_jobs(
    fn: Callable[..., Any],
    args: Sequence[tuple[Any, ...]],
    *,
    executor: cf.Executor | None = None,
    max_workers: int | None = None,
    on_done: Callable[[int, Any], None] | None = None,
    on_lost: Callable[[int, BaseException], Any] | None = None,
) -> list[Any]:
    """``[fn(*a) for a in args]`` in parallel, results in order, ``on_done(i, result)`` as each
    finishes.

    Without ``executor``: in this process when there is one job or one worker, else on a
    process pool of ``max_workers`` (default: the available cores, at most one per job).
    When a pool worker dies (killed, out of memory) the pool breaks and every unfinished job
    is run once more on a fresh pool; a job lost again, or lost on an ``executor``, gives
    ``on_lost(i, exc)`` as its result (the exception is re-raised without ``on_lost``).
    """
    n = len(args)
    results: list[Any] = [None] * n
    workers = max_workers or available_cores()
    if executor is None and (n <= 1 or workers <= 1):
        for i, a in enumerate(args):
            results[i] = fn(*a)
            if on_done:
                on_done(i, results[i])
        return results
    todo = list(range(n))
    for attempt in (0, 1):
        own = executor is None
        pool = executor or cf.ProcessPoolExecutor(max_workers=min(workers, len(todo)))
        broken: list[int] = []
        try:
            futures = {pool.submit(fn, *args[i]): i for i in todo}
            for fut in cf.as_completed(futures):
                i = futures[fut]
                try:
                    results[i] = fut.result()
                except BrokenProcessPool as exc:
                    if own and attempt == 0:
                        broken.append(i)  # retried on a fresh pool below
                        continue
                    if on_lost is None:
                        raise
                    results[i] = on_lost(i, exc)
                except Exception as exc:  # a lost connection, a killed Dask worker
                    if on_lost is None:
                        raise
                    results[i] = on_lost(i, exc)
                if on_done:
                    on_done(i, results[i])
        finally:
            if own:
                pool.shutdown(wait=True, cancel_futures=True)
        if not broken:
            break
        todo = sorted(broken)
    return results


def compress_batch(
    jobs: Sequence[Job],
    options: CompressOptions,
    *,
    shared: bool = False,
    executor: cf.Executor | None = None,
    max_workers: int | None = None,
    on_done: Callable[[FileResult], None] | None = None,
    on_histogram: Callable[[int, int], None] | None = None,
) -> list[FileResult]:
    """Compress every job; failures are reported in the results, never raised.

    Parameters
    ----------
    jobs : sequence of Job
    options : CompressOptions
    shared : bool
        Fit one quantizer on the merged histograms of all images (a first parallel pass)
        and compress every image with it. Images that cannot be read fail in that pass; the
        others are compressed. All images must have the same dtype.
    executor : concurrent.futures.Executor, optional
        Where to run the jobs (e.g. ``distributed.Client(addr).get_executor()``); by default
        a local process pool over the available cores.
    max_workers : int, optional
        Size of the local pool (ignored with ``executor``).
    on_done : callable, optional
        Called with each :class:`FileResult` as it completes (progress bars).
    on_histogram : callable, optional
        ``on_histogram(done, total)`` during the shared fit's first pass.

    Returns
    -------
    list of FileResult, in the order of ``jobs``
    """
    jobs = list(jobs)
    results: list[FileResult | None] = [None] * len(jobs)
    todo = list(range(len(jobs)))
    if shared:
        options, todo = _shared_fit(jobs, options, results, executor, max_workers, on_histogram,
                                    on_done)

    def lost(i: int, exc: BaseException) -> FileResult:
        job = jobs[todo[i]]
        return FileResult(str(job.src), str(job.dst), "failed",
                          f"worker lost before finishing ({describe_error(exc)})")

    done = run_jobs(
        compress_file, [(jobs[i], options) for i in todo], executor=executor,
        max_workers=max_workers, on_done=(lambda _i, r: on_done(r)) if on_done else None,
        on_lost=lost,
    )
    for i, r in zip(todo, done):
        results[i] = r
    return [r for r in results if r is not None]


def _shared_fit(
    jobs: list[Job],
    options: CompressOptions,
    results: list[FileResult | None],
    executor: cf.Executor | None,
    max_workers: int | None,
    on_histogram: Callable[[int, int], None] | None,
    on_done: Callable[[FileResult], None] | None,
) -> tuple[CompressOptions, list[int]]:
    from vqimage.core.quantizer import fit_histogram

    # Outputs that exist are neither read nor rewritten (unless overwrite), as in compress_file.
    todo = []
    for i, job in enumerate(jobs):
        if not options.overwrite and (job.dst.exists() or job.dst.is_symlink()) and not (
            same_file(job.src, job.dst)
        ):
            results[i] = FileResult(str(job.src), str(job.dst), "skipped",
                                    "output exists (--force replaces it)")
            if on_done:
                on_done(results[i])
        else:
            todo.append(i)
    count = [0]

    def tick(_i: int, _r: Any) -> None:
        count[0] += 1
        if on_histogram:
            on_histogram(count[0], len(todo))

    hists = run_jobs(
        _histogram_job, [(jobs[i].src, options.kind) for i in todo], executor=executor,
        max_workers=max_workers, on_done=tick,
        on_lost=lambda _i, exc: (None, f"worker lost ({describe_error(exc)})", None),
    )
    good: list[int] = []
    parts: list[Any] = []
    for i, (h, err, tb) in zip(todo, hists):
        if h is None:
            results[i] = FileResult(str(jobs[i].src), str(jobs[i].dst), "failed", err or "",
                                    traceback=tb)
            if on_done:
                on_done(results[i])
        else:
            good.append(i)
            parts.append(h)
    if not parts:
        return options, []
    colour = [isinstance(p, ColourHistogram) for p in parts]
    if any(colour) and not all(colour):
        names = {c: jobs[i].src.name for i, c in zip(good, colour)}
        raise ValueError(f"--shared needs all images colour or all gray: {names[True]} is "
                         f"colour, {names[False]} gray (--kind scalar makes them all gray)")
    dtypes = {p.dtype for p in parts}
    if len(dtypes) > 1:
        first = {p.dtype: jobs[i].src.name for i, p in zip(good, parts)}
        listing = ", ".join(f"{name} is {dt}" for dt, name in first.items())
        raise ValueError(f"--shared needs images of one dtype: {listing}")
    merged = parts[0].merge(*parts[1:]) if len(parts) > 1 else parts[0]
    notices: list[str] = []
    if all(colour):
        q, notices = _shared_palette(merged, options)
        notices.insert(0, f"shared palette: {q.n_levels} colours fitted on {len(parts)} images")
        # PNG outputs keep the whole palette in order: every file carries the same PLTE.
        return replace(options, quantizer=q, notices=(*options.notices, *notices),
                       keep_palette=True), good
    if _bounded(options):
        q, notices = _fit_bounded(merged, options, " over the set")
    elif options.psnr is not None:
        q, db, _ = fit_for_psnr(merged, options.psnr, strategy=options.strategy,
                                reconstruction=options.reconstruction)
        notices.append(f"--psnr {options.psnr:g} over the set: chose {q.n_levels} levels "
                       f"({_db(db)})")
    else:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            q = fit_histogram(merged, options.n_levels or 8, strategy=options.strategy,
                              reconstruction=options.reconstruction)
        notices.extend(str(w.message) for w in caught)
    notices.insert(0, f"shared quantizer: {q.n_levels} levels fitted on {len(parts)} images")
    return replace(options, quantizer=q, notices=(*options.notices, *notices)), good


def _shared_palette(merged: ColourHistogram, options: CompressOptions) -> tuple[Any, list[str]]:
    from vqimage.vq.palette import fit_palette_for_psnr, fit_palette_histogram

    if options.psnr is not None:
        q, db, _ = fit_palette_for_psnr(merged.colours, merged.counts, options.psnr)
        return q, [f"--psnr {options.psnr:g} over the set: chose {q.n_levels} colours "
                   f"({_db(db)})"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        q = fit_palette_histogram(merged.colours, merged.counts,
                                  options.n_levels or KINDS["palette"].default_levels)
    return q, [str(w.message) for w in caught]


def iter_ok(results: Iterable[FileResult]) -> list[FileResult]:
    return [r for r in results if r.status == "ok"]
