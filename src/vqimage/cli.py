"""The ``vqimage`` command line: a thin layer over the library (no numerics of its own).

Exit status: 0 success, 1 an input or output failed (every other file of a batch is still
done), 2 usage error. Errors are one line on stderr naming the file and the problem; ``--debug``
shows tracebacks. Heavy modules (Pillow, rich, matplotlib, dask) are imported inside the
commands so that start-up stays fast.
"""

from __future__ import annotations

import glob
import json
import math
import os
import secrets
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from . import __version__

STRATEGIES = ("optimal", "uniform", "quantile", "kmeans")
RECONSTRUCTIONS = ("centroid", "midpoint")
CODECS = ("auto", "packed", "lzma", "context")
_CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
_GLOB_CHARS = set("*?[")


class CLIError(click.ClickException):
    """A failure of an input or output: one line on stderr, exit status 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"vqimage: error: {self.format_message()}", err=True)


def _meta_flag(key: str) -> Callable[[click.Context, click.Parameter, bool], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            ctx.meta[key] = True

    return callback


def _common(f: Callable[..., Any]) -> Callable[..., Any]:
    """``-q/--quiet`` and ``--debug`` on the group and on every command."""
    f = click.option("--debug", is_flag=True, expose_value=False,
                     callback=_meta_flag("vqimage.debug"),
                     help="Show tracebacks on errors.")(f)
    f = click.option("-q", "--quiet", is_flag=True, expose_value=False,
                     callback=_meta_flag("vqimage.quiet"),
                     help="Print errors only (no progress, notes or summary).")(f)
    return f


def _flag(key: str) -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.meta.get(key)) or (
        key == "vqimage.debug" and os.environ.get("VQIMAGE_DEBUG") == "1"
    )


def _quiet() -> bool:
    return _flag("vqimage.quiet")


def _debug() -> bool:
    return _flag("vqimage.debug")


def _note(text: str) -> None:
    if not _quiet():
        click.echo(f"vqimage: note: {text}", err=True)


def _say(text: str) -> None:
    if not _quiet():
        click.echo(text)


def _describe(exc: BaseException, path: Path | str | None = None) -> str:
    from .batch import describe_error

    msg = describe_error(exc, known=path)
    return f"{path}: {msg}" if path is not None else msg


class _Group(click.Group):
    """Turns unexpected exceptions into one-line errors (tracebacks with ``--debug``)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("vqimage: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:
            if ctx.meta.get("vqimage.debug") or os.environ.get("VQIMAGE_DEBUG") == "1":
                raise
            raise CLIError(_describe(exc)) from exc


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
                  line: Any = None) -> None:
    if not _quiet():
        click.echo(f"vqimage: warning: {message}", err=True)


@click.group(cls=_Group, context_settings=_CONTEXT)
@click.version_option(__version__, "--version", prog_name="vqimage",
                      message="%(prog)s %(version)s")
@_common
def main() -> None:
    """Quantize images into a few levels and store them in the bits they need.

    \b
    Examples:
      vqimage compress face.png -o face.vqi          # 8 levels, minimum error
      vqimage compress photos/ -o out/ --psnr 35     # a batch, fewest levels reaching 35 dB
      vqimage decompress face.vqi -o face.png
      vqimage info face.vqi
      vqimage demo

    Run "vqimage COMMAND --help" for the options of a command.
    """
    if not _debug():
        warnings.showwarning = _show_warning


# -- helpers ------------------------------------------------------------------------------


def _check_output(output: Path, inputs: Sequence[Path], force: bool, *, param: str = "-o") -> None:
    """Refuse an output that is an input (usage error) or exists without --force (failure)."""
    from .batch import same_file

    for src in inputs:
        if same_file(src, output):
            raise click.UsageError(f"{param} {output} is the input file; choose another output")
    if output.is_dir():
        raise CLIError(f"{output}: is a directory; give a file name")
    if not force and (output.exists() or output.is_symlink()):
        raise CLIError(f"{output}: output exists; use --force to replace it")


@contextmanager
def _atomic_target(output: Path, force: bool) -> Iterator[Path]:
    """A temporary path next to ``output`` that becomes ``output`` only if the block succeeds."""
    tmp = output.parent / f".{output.stem}.{secrets.token_hex(4)}.tmp{output.suffix}"
    try:
        yield tmp
        # Writers that go through mkstemp leave mode 0600: give the usual umask-based mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        if force:
            os.replace(tmp, output)
        else:
            os.link(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)


def _fmt_bytes(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def _fmt_db(db: float | None) -> str:
    if db is None:
        return "-"
    return "lossless" if math.isinf(db) else f"{db:.2f}"


def _shape(shape: Sequence[int] | None) -> str:
    return "x".join(str(s) for s in shape) if shape else "-"


def _read_prepared(path: Path, mode: str = "gray") -> Any:
    from .batch import prepare
    from .io import read_image

    try:
        image = read_image(path)
        image, notices = prepare(image, mode)
    except (OSError, ValueError, TypeError) as exc:
        raise CLIError(_describe(exc, path)) from exc
    for n in notices:
        _note(f"{path}: {n}")
    return image


# -- compress -----------------------------------------------------------------------------


def _expand(
    inputs: Sequence[str], recursive: bool
) -> tuple[list[Path], list[Path | None], list[tuple[str, str]], bool]:
    """Files to compress, the folder each was found under, unusable inputs, batch mode."""
    from .io import is_image_path

    files: list[Path] = []
    roots: list[Path | None] = []
    bad: list[tuple[str, str]] = []
    batch = len(inputs) > 1
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            batch = True
            found = sorted(
                f for f in (p.rglob("*") if recursive else p.iterdir())
                if f.is_file() and is_image_path(f) and not f.name.startswith(".")
            )
            if not found:
                bad.append((raw, "no image files in this directory"
                            + ("" if recursive else " (-r searches subdirectories)")))
            files.extend(found)
            roots.extend([p] * len(found))
        elif p.exists() or p.is_symlink():
            files.append(p)
            roots.append(None)
        elif _GLOB_CHARS & set(raw):
            batch = True
            found = sorted(Path(m) for m in glob.glob(raw, recursive=True) if Path(m).is_file())
            if not found:
                bad.append((raw, "no files match this pattern"))
            files.extend(found)
            roots.extend([None] * len(found))
        else:
            bad.append((raw, "No such file or directory"))
    # The same file named twice (a glob and its folder) is compressed once.
    seen: set[Path] = set()
    keep = []
    for f, r in zip(files, roots):
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            keep.append((f, r))
    return [f for f, _ in keep], [r for _, r in keep], bad, batch


_COMPRESS_HELP = """Compress images (PNG, JPEG, TIFF 8/16-bit, BMP, WebP, .npy) into .vqi files.

With one input, -o names the output file (default: the input with suffix .vqi). With several
inputs, a directory or a glob, -o names an output directory (created if missing) and the files
are compressed in parallel over the available cores, with a progress bar on a terminal and a
summary table. A batch skips files whose output exists (rerunning finishes an interrupted
batch); --force recompresses them.

Colour images get a palette of -k colours (default 256) fitted by k-means (--mode palette,
the default for colour input); --mode channels quantizes each channel on its own (-k levels
each), --mode blocks codes blocks of pixels (--block, default 2x2) with a codebook of -k
blocks, and --mode gray converts colour to gray with ITU-R 601 luma (0.299 R + 0.587 G +
0.114 B, as Pillow's "L"). --dither diffuses the quantization error (Floyd–Steinberg).

\b
Examples:
  vqimage compress face.png -o face.vqi
  vqimage compress face.png -o face.vqi -k 4 -s kmeans --codec lzma
  vqimage compress face.png -o face.vqi --psnr 35
  vqimage compress field.npy -o field.vqi --max-error 0.01
  vqimage compress field.npy -o field.vqi --max-error 0.1%
  vqimage compress photo.png -o photo.vqi -k 64 --dither
  vqimage compress photo.png -o photo.vqi --mode blocks --block 4x4
  vqimage compress scans/ -o out/ -j 2
  vqimage compress 'scans/*.tif' -o out/ --shared
  vqimage compress scans/ -o out/ --scheduler tcp://10.0.0.5:8786
"""


@main.command(help=_COMPRESS_HELP, context_settings=_CONTEXT)
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("-o", "--output", type=click.Path(),
              help="Output .vqi file (one input; a name ending in / is a directory) or "
              "directory (several).")
@click.option("-k", "--levels", "n_levels", type=click.IntRange(2, 65536), default=None,
              help="Number of levels (colours, blocks), 2 to 65536.  [default: 8; 256 for "
              "palette and blocks]")
@click.option("--mode", type=click.Choice(("palette", "channels", "blocks", "gray")),
              default=None, help="How to quantize: palette of colours, each channel on its own, "
              "blocks of pixels, or gray.  [default: palette for colour input, else gray]")
@click.option("--block", "block", default="2x2", show_default=True, metavar="HxW",
              help="Block size of --mode blocks.")
@click.option("--dither", is_flag=True,
              help="Floyd–Steinberg error diffusion (palette and gray modes).")
@click.option("-s", "--strategy", type=click.Choice(STRATEGIES), default="optimal",
              show_default=True, help="How the levels are fitted.")
@click.option("--reconstruction", type=click.Choice(RECONSTRUCTIONS), default="centroid",
              show_default=True, help="Codebook: bin means or bin midpoints.")
@click.option("--codec", type=click.Choice(CODECS), default="auto", show_default=True,
              help="How the codes are stored.")
@click.option("--psnr", "target_psnr", type=click.FloatRange(min=0, min_open=True),
              metavar="DB", help="Use the fewest levels whose reconstruction reaches DB dB "
              "(instead of -k).")
@click.option("--max-error", "max_error", metavar="E|P%",
              help="Use the fewest levels keeping every value within E of the original "
              "(absolute), or within P% of the image's value range (instead of -k; gray mode).")
@click.option("--shared", is_flag=True,
              help="Fit one quantizer on all images (merged histograms) and use it for each.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Local worker processes.  [default: available cores]")
@click.option("--scheduler", metavar="ADDRESS",
              help="Run the batch on a Dask cluster (paths must be on a shared filesystem).")
@click.option("-r", "--recursive", is_flag=True, help="Also search subdirectories.")
@click.option("-f", "--force", is_flag=True, help="Replace existing outputs.")
@_common
def compress(
    inputs: tuple[str, ...],
    output: str | None,
    n_levels: int | None,
    mode: str | None,
    block: str,
    dither: bool,
    strategy: str,
    reconstruction: str,
    codec: str,
    target_psnr: float | None,
    max_error: str | None,
    shared: bool,
    jobs: int | None,
    scheduler: str | None,
    recursive: bool,
    force: bool,
) -> None:
    from .batch import CompressOptions

    if n_levels is not None and target_psnr is not None:
        raise click.UsageError("-k/--levels and --psnr exclude each other: give one of them")
    max_abs, max_rel = _parse_max_error(max_error)
    if max_error is not None and (n_levels is not None or target_psnr is not None):
        raise click.UsageError("--max-error excludes -k/--levels and --psnr: give one of them")
    if max_error is not None and mode not in (None, "gray"):
        raise click.UsageError("--max-error works with --mode gray only")
    if scheduler is not None and jobs is not None:
        raise click.UsageError("--scheduler and -j/--jobs exclude each other")
    if shared and mode not in (None, "gray"):
        raise click.UsageError("--shared fits one scalar quantizer: use it with --mode gray")
    if target_psnr is not None and mode not in (None, "gray"):
        raise click.UsageError("--psnr works with --mode gray only")
    if dither and mode in ("channels", "blocks"):
        raise click.UsageError(f"--dither works with --mode palette or gray, not {mode}")
    try:
        bh, bw = (int(v) for v in block.lower().split("x"))
        if bh < 1 or bw < 1:
            raise ValueError
    except ValueError:
        raise click.BadParameter(
            f"{block!r} is not a block size like 2x2", param_hint="--block"
        ) from None
    # --psnr and --shared work on gray histograms: colour is then converted to gray as before.
    gray_only = shared or target_psnr is not None or max_error is not None
    options = CompressOptions(
        n_levels=None if target_psnr is not None else n_levels,
        max_abs_error=max_abs, max_rel_error=max_rel,
        psnr=target_psnr, strategy=strategy, reconstruction=reconstruction, codec=codec,
        mode=mode or ("gray" if gray_only else "auto"), overwrite=force, block=(bh, bw),
        dither=dither,
    )
    files, roots, bad, batch = _expand(inputs, recursive)
    if not batch:
        if bad:
            raise CLIError(f"{bad[0][0]}: {bad[0][1]}")
        into_dir = output is not None and output.endswith(("/", os.sep))
        _compress_one(files[0], None if output is None else Path(output), options,
                      into_dir=into_dir)
        return
    _compress_many(files, roots, bad, None if output is None else Path(output), options,
                   shared=shared, jobs=jobs, scheduler=scheduler)


def _parse_max_error(text: str | None) -> tuple[float | None, float | None]:
    """``--max-error``: ``"0.01"`` is an absolute bound, ``"1%"`` a fraction of the range."""
    if text is None:
        return None, None
    raw = text.strip()
    rel = raw.endswith("%")
    try:
        value = float(raw[:-1] if rel else raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise click.BadParameter(
            f"{text!r} is not a positive bound like 0.01 or 1%", param_hint="--max-error"
        )
    return (None, value / 100) if rel else (value, None)


def _compress_one(src: Path, output: Path | None, options: Any, *, into_dir: bool) -> None:
    from .batch import Job, compress_file

    dst = output if output is not None else src.with_suffix(".vqi")
    if dst.is_dir() or into_dir:
        dst = dst / (src.stem + ".vqi")
    _check_output(dst, [src], options.overwrite)
    res = compress_file(Job(src, dst), options)
    if res.status != "ok":
        if _debug() and res.traceback:
            click.echo(res.traceback, err=True, nl=False)
        raise CLIError(f"{src}: {res.message}")
    for n in res.notices:
        _note(f"{src}: {n}")
    _say(
        f"{src} -> {dst}: {_shape(res.shape)} {res.dtype}, {res.n_levels} levels "
        f"({res.strategy}), codec {res.codec}, {res.nbytes:,} bytes = "
        f"{res.bits_per_pixel:.3g} bits/pixel ({res.ratio:.2f}x smaller than raw), "
        f"PSNR {_fmt_db(res.psnr)}{'' if res.psnr is None or math.isinf(res.psnr) else ' dB'}"
    )


@contextmanager
def _executor(scheduler: str | None) -> Iterator[Any]:
    if scheduler is None:
        yield None
        return
    try:
        from distributed import Client
    except ImportError as exc:
        raise CLIError(
            "--scheduler needs dask.distributed: pip install 'vqimage[dask]'"
        ) from exc
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise CLIError(f"cannot reach the Dask scheduler at {scheduler}: "
                       f"{_describe(exc)}") from exc
    try:
        # pure=False: a file compressed again (after --force) is a new task, not a cached one.
        yield client.get_executor(pure=False)
    finally:
        client.close()


def _compress_many(
    files: list[Path],
    roots: list[Path | None],
    bad: list[tuple[str, str]],
    output: Path | None,
    options: Any,
    *,
    shared: bool,
    jobs: int | None,
    scheduler: str | None,
) -> None:
    from .batch import FileResult, Job, compress_batch, plan_jobs

    if output is not None:
        if output.exists() and not output.is_dir():
            raise click.UsageError(
                f"-o {output} is a file; with several inputs -o names a directory"
            )
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CLIError(f"{output}: cannot create the output directory: "
                           f"{_describe(exc)}") from exc
        planned = plan_jobs(files, output, roots=roots)
    else:
        planned = _beside_inputs(files, Job)
    failed_inputs = [FileResult(raw, "", "failed", why) for raw, why in bad]
    with _executor(scheduler) as executor, _Progress(len(planned), shared) as progress:
        try:
            results = compress_batch(
                planned, options, shared=shared, executor=executor, max_workers=jobs,
                on_done=progress.advance, on_histogram=progress.histograms,
            )
        except ValueError as exc:  # a shared fit that cannot be made (mixed dtypes, ...)
            raise CLIError(_describe(exc)) from exc
    results = failed_inputs + results
    _report_batch(results, output)


def _beside_inputs(files: list[Path], job: Callable[[Path, Path], Any]) -> list[Any]:
    dsts = [f.with_suffix(".vqi") for f in files]
    dup = {d for d in dsts if dsts.count(d) > 1}
    return [job(f, f.with_name(f.name + ".vqi") if d in dup else d) for f, d in zip(files, dsts)]


class _Progress:
    """A rich progress bar on stderr when it is a terminal (and not --quiet); else nothing."""

    def __init__(self, total: int, shared: bool) -> None:
        self.total, self.shared = total, shared
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> _Progress:
        if not _quiet() and sys.stderr.isatty() and self.total > 0:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                                console=Console(stderr=True), transient=True)
            self.bar.start()
            first = "histograms" if self.shared else "compressing"
            self.task = self.bar.add_task(first, total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def histograms(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=total)
            if done == total:
                self.bar.update(self.task, description="compressing", completed=0,
                                total=self.total)

    def advance(self, result: Any) -> None:
        if self.bar is not None:
            self.bar.update(self.task, description="compressing", advance=1)


def _report_batch(results: list[Any], output: Path | None) -> None:
    ok = [r for r in results if r.status == "ok"]
    failed = [r for r in results if r.status == "failed"]
    skipped = [r for r in results if r.status == "skipped"]
    for r in failed:
        if _debug() and r.traceback:
            click.echo(r.traceback, err=True, nl=False)
        click.echo(f"vqimage: error: {r.src}: {r.message}", err=True)
    # A notice shared by many files (the gray conversion, a shared fit) is printed once.
    counts: dict[str, list[str]] = {}
    for r in ok:
        for n in r.notices:
            counts.setdefault(n, []).append(r.src)
    for text, srcs in counts.items():
        _note(f"{srcs[0]}: {text}" if len(srcs) == 1 else f"{text} ({len(srcs)} files)")
    if _quiet():
        if failed:
            raise SystemExit(1)
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 200, highlight=False)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for col, just in (("input", "left"), ("shape", "left"), ("levels", "right"),
                      ("PSNR dB", "right"), ("bytes", "right"), ("bits/px", "right"),
                      ("ratio", "right"), ("status", "left")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in results:
        # Reasons of failures are on stderr (one line each); the table stays narrow.
        status = {"ok": "ok", "skipped": "skipped (output exists)"}.get(r.status, r.status)
        table.add_row(
            r.src, _shape(r.shape), str(r.n_levels or "-"), _fmt_db(r.psnr),
            _fmt_bytes(r.nbytes), "-" if r.bits_per_pixel is None else f"{r.bits_per_pixel:.3g}",
            "-" if r.ratio is None else f"{r.ratio:.2f}x", status,
        )
    with console.capture() as captured:
        console.print(table)
    # Columns are padded to the widest cell: drop the trailing blanks of every line.
    click.echo("\n".join(ln.rstrip() for ln in captured.get().splitlines()))
    raw = sum(r.raw_nbytes or 0 for r in ok)
    packed = sum(r.nbytes or 0 for r in ok)
    where = f" into {output}{os.sep}" if output is not None else ""
    line = f"{len(ok)} compressed{where}, {len(failed)} failed, {len(skipped)} skipped"
    if packed:
        line += f"; {raw:,} bytes raw -> {packed:,} bytes ({raw / packed:.2f}x smaller)"
    click.echo(line)
    if failed:
        raise SystemExit(1)


# -- decompress ---------------------------------------------------------------------------


@main.command(context_settings=_CONTEXT)
@click.argument("input", type=click.Path(path_type=Path))
@click.option("-o", "--output", "output_arg", type=click.Path(),
              help="Image file: .png, .tif/.tiff, .npy (or .bmp/.jpg/.webp for 8-bit), or a "
              "directory.  [default: INPUT with .png for 8/16-bit images, else .tif or .npy]")
@click.option("-f", "--force", is_flag=True, help="Replace an existing output.")
@click.option("--png-palette", is_flag=True,
              help="Write an indexed (palette) PNG: palettes of up to 256 8-bit colours.")
@_common
def decompress(input: Path, output_arg: str | None, force: bool, png_palette: bool) -> None:
    """Write the reconstruction of a .vqi file as an image, in its original dtype.

    8- and 16-bit images go to PNG or TIFF with their bit depth; float reconstructions need
    .tif or .npy (PNG refuses them).

    \b
    Examples:
      vqimage decompress face.vqi -o face.png
      vqimage decompress scan16.vqi -o scan16.tif
      vqimage decompress field.vqi -o field.npy
      vqimage decompress photo.vqi -o photo.png --png-palette
    """
    import vqimage

    from .io import WRITE_SUFFIXES, write_image

    output = None if output_arg is None else Path(output_arg)
    into_dir = output is not None and (output.is_dir() or output_arg.endswith(("/", os.sep)))
    if output is not None and output.suffix.lower() not in WRITE_SUFFIXES and not into_dir:
        raise click.UsageError(
            f"-o {output}: unknown image type {output.suffix or '(no suffix)'!r}; "
            f"use one of {', '.join(WRITE_SUFFIXES)}"
        )
    if output is not None and not into_dir:
        _check_output(output, [input], force)
    try:
        ci = vqimage.load(input)
    except (OSError, ValueError) as exc:
        raise CLIError(_describe(exc, input)) from exc
    if output is None or into_dir:
        image_like = len(ci.shape) == 2 or (len(ci.shape) == 3 and ci.shape[-1] <= 4)
        suffix = (".npy" if not image_like else
                  ".png" if ci.dtype in ("uint8", "uint16") else ".tif")
        name = input.with_suffix(suffix).name
        output = (output / name) if output is not None else input.with_suffix(suffix)
        _check_output(output, [input], force)
        if not output.parent.is_dir():
            try:
                output.parent.mkdir(parents=True)
            except OSError as exc:
                raise CLIError(_describe(exc, output.parent)) from exc
    if png_palette and output.suffix.lower() != ".png":
        raise click.UsageError(f"--png-palette writes PNG files, not {output.suffix!r}")
    try:
        if png_palette:
            from .io import atomic_write
            from .palette import png_palette_bytes

            data = png_palette_bytes(ci.quantizer, ci.codes)
            image = ci.codes
            atomic_write(output, lambda f: f.write(data), overwrite=force)
        else:
            image = ci.decompress()
            write_image(output, image, overwrite=force)
    except (OSError, ValueError, TypeError) as exc:
        raise CLIError(_describe(exc, output)) from exc
    q = ci.quantizer
    _say(f"{input} -> {output}: {_shape(image.shape)} {image.dtype} "
         f"({q.n_levels} levels, {q.strategy})")


# -- info ---------------------------------------------------------------------------------


def _is_vqi(path: Path) -> bool:
    try:
        from .format import MAGIC
    except ImportError:  # pragma: no cover - the format room defines it
        return path.suffix.lower() == ".vqi"
    from .chunked import MAGIC as CHUNKED_MAGIC  # chunked .vqi (same 8-byte length)

    with open(path, "rb") as f:
        return f.read(len(MAGIC)) in (MAGIC, CHUNKED_MAGIC)


def _jsonable(v: Any) -> Any:
    import numpy as np

    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def vqi_info(path: Path) -> dict[str, Any]:
    """What ``vqimage info`` reports about a ``.vqi`` file."""
    import numpy as np

    import vqimage

    from .batch import pixel_count

    ci = vqimage.load(path)
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


def image_info(path: Path) -> dict[str, Any]:
    """What ``vqimage info`` reports about an image file."""
    import numpy as np

    from .batch import pixel_count
    from .io import read_image

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


def _format_info(info: dict[str, Any]) -> str:
    import numpy as np

    rows: list[tuple[str, str]] = [("file", info["file"])]
    if info["type"] == "vqi":
        book = np.asarray(info["codebook"])
        with np.printoptions(precision=4, suppress=True, threshold=16, edgeitems=4,
                             linewidth=10**6):
            book_s = np.array2string(book, separator=", ")
        rows += [
            ("type", ".vqi (vqimage compressed image)"),
            ("shape", _shape(info["shape"])),
            ("dtype", info["dtype"]),
            ("quantizer", f"{info['kind']}, {info['strategy']}"
             + (f", {info['reconstruction']} codebook" if info["reconstruction"] else "")),
            ("levels", f"{info['levels']} ({info['bits_per_code']} bits per code)"),
            ("codebook", book_s),
            ("codec", info["codec"]),
        ]
    else:
        rows += [
            ("type", f"{info['format'].upper()} image"),
            ("shape", _shape(info["shape"])),
            ("dtype", info["dtype"]),
        ]
        if "distinct_values" in info:
            rows.append(("values", f"{info['distinct_values']:,} distinct in "
                         f"[{info['min']}, {info['max']}]"))
    rows += [
        ("bytes", f"{info['bytes']:,}"),
        ("raw bytes", f"{info['raw_bytes']:,}"),
        ("bits/pixel", "-" if info["bits_per_pixel"] is None else f"{info['bits_per_pixel']:.3f}"),
        ("ratio", "-" if info["ratio"] is None else f"{info['ratio']:.2f}x smaller than raw"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k + ':':<{width + 1}} {v}" for k, v in rows)


@main.command(context_settings=_CONTEXT)
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_common
def info(file: Path, as_json: bool) -> None:
    """Describe a .vqi file or an image: shape, dtype, levels, codebook, codec, bytes, bits per
    pixel and ratio to the raw array.

    \b
    Examples:
      vqimage info face.vqi
      vqimage info face.png
      vqimage info face.vqi --json | jq .bits_per_pixel
    """
    try:
        if file.is_dir():
            raise IsADirectoryError(21, "Is a directory", str(file))
        details = vqi_info(file) if file.is_file() and _is_vqi(file) else image_info(file)
    except (OSError, ValueError, TypeError) as exc:
        raise CLIError(_describe(exc, file)) from exc
    if as_json:
        click.echo(json.dumps({k: _jsonable(v) for k, v in details.items()}))
    else:
        click.echo(_format_info(details))


# -- demo and report ----------------------------------------------------------------------


@main.command(context_settings=_CONTEXT)
@click.option("--fetch", is_flag=True, help="Download the raccoon face once if it is not cached.")
@click.option("-k", "--levels", "n_levels", default=8, show_default=True,
              type=click.IntRange(2, 65536), help="Number of levels.")
@click.option("-o", "--output", "outdir", type=click.Path(path_type=Path), default=None,
              help="Also write the seed's figures and report.html into this directory.")
@click.option("-f", "--force", is_flag=True, help="Replace files in a non-empty directory.")
@_common
def demo(fetch: bool, n_levels: int, outdir: Path | None, force: bool) -> None:
    """The seed example's walkthrough on the bundled default image.

    Uses the raccoon face when scipy.datasets can load it from pooch's cache (or with --fetch),
    else scikit-image's camera. Prints each strategy's levels, errors and file sizes, and the
    memory of every representation, from float64 codes down to the .vqi file.

    \b
    Examples:
      vqimage demo
      vqimage demo -k 4 -o demo/
    """
    from .data import default_image
    from .demo import format_walkthrough, walkthrough

    if outdir is not None:
        if outdir.exists() and not outdir.is_dir():
            raise click.UsageError(f"-o {outdir} is a file; give a directory")
        if outdir.is_dir() and any(outdir.iterdir()) and not force:
            raise CLIError(f"{outdir}: directory is not empty; use --force to write into it")
    name, image = default_image(fetch=fetch)
    if not _quiet():
        click.echo(format_walkthrough(walkthrough(image, name, n_levels)))
    if outdir is None:
        return
    try:
        from .plot import write_demo_figures
    except ImportError as exc:
        raise CLIError(f"demo -o needs the figures module: {_describe(exc)}") from exc
    try:
        with _report_progress() as progress:
            written = list(write_demo_figures(image, outdir, name=name, n_levels=n_levels,
                                              progress=progress))
    except (OSError, ValueError) as exc:
        raise CLIError(_describe(exc, outdir)) from exc
    _say("")
    _say(f"Wrote {len(written)} files to {outdir}:")
    for p in written:
        _say(f"  {Path(p).name}")


@main.command(context_settings=_CONTEXT)
@click.argument("input", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="HTML file to write.  [default: INPUT with suffix .html]")
@click.option("-f", "--force", is_flag=True, help="Replace an existing output.")
@_common
def report(input: Path, output: Path | None, force: bool) -> None:
    """Write a self-contained HTML report on quantizing an image: renderings, histograms, error
    maps, a table of errors and sizes, rate-distortion curves and a slider over the levels.

    \b
    Examples:
      vqimage report face.png -o report.html
    """
    output = output if output is not None else input.with_suffix(".html")
    _check_output(output, [input], force)
    image = _read_prepared(input)
    try:
        from .report import write_report
    except ImportError as exc:
        raise CLIError(f"report needs the figures module: {_describe(exc)}") from exc
    try:
        with _atomic_target(output, force) as tmp, _report_progress() as progress:
            write_report(image, tmp, name=input.name, progress=progress)
    except (OSError, ValueError) as exc:
        raise CLIError(_describe(exc, output)) from exc
    _say(f"{input} -> {output} ({output.stat().st_size:,} bytes)")


@contextmanager
def _report_progress() -> Iterator[Any]:
    """A progress callback ``progress(done, total, what)`` for the report, or None when piped."""
    if _quiet() or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("report", total=None)

        def update(done: int, total: int, what: str = "report") -> None:
            bar.update(task, completed=done, total=total, description=what)

        yield update


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
