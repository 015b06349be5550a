"""``vqimage compress``: one image, or a batch in parallel."""

from __future__ import annotations

import glob
import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from vqimage._shared.kinds import KINDS
from vqimage.cli._ui import (
    CONTEXT,
    GLOB_CHARS,
    OUTPUT_EXISTS,
    BatchProgress,
    CLIError,
    check_output,
    common_options,
    describe,
    fmt_bytes,
    fmt_db,
    fmt_shape,
    is_debug,
    is_quiet,
    note,
    printable,
    say,
)
from vqimage.codecs import CODEC_CHOICES
from vqimage.core.quantizer import RECONSTRUCTIONS
from vqimage.core.strategies import STRATEGIES as _STRATEGIES

# optimal first: the default, and the one to try.
STRATEGIES = ("optimal", *(s for s in _STRATEGIES if s != "optimal"))



def read_prepared(path: Path, kind: str = "scalar") -> Any:
    from vqimage.cli.batch import prepare
    from vqimage.io import read_image

    try:
        image = read_image(path)
        image, notices = prepare(image, kind)
    except (OSError, ValueError, TypeError) as exc:
        raise CLIError(describe(exc, path)) from exc
    for n in notices:
        note(f"{path}: {n}")
    return image


# -- compress -----------------------------------------------------------------------------

ALREADY_VQI = "already a .vqi file; vqimage decompress turns it back into an image"


def _is_vqi(path: Path) -> bool:
    """A .vqi file, by its suffix or its magic bytes (compressing one again is a mistake)."""
    if path.suffix.lower() == ".vqi":
        return path.is_file()
    from vqimage.vqi.chunked import MAGIC as CHUNKED_MAGIC
    from vqimage.vqi.format import MAGIC

    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) in (MAGIC, CHUNKED_MAGIC)
    except OSError:  # a directory, a missing or unreadable file: reported elsewhere
        return False


def _expand(
    inputs: Sequence[str], recursive: bool
) -> tuple[list[Path], list[Path | None], list[tuple[str, str]], bool]:
    """Files to compress, the folder each was found under, unusable inputs, batch mode."""
    from vqimage.io import is_image_path

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
        elif _is_vqi(p):
            bad.append((raw, ALREADY_VQI))
        elif p.exists() or p.is_symlink():
            files.append(p)
            roots.append(None)
        elif GLOB_CHARS & set(raw):
            batch = True
            found = sorted(Path(m) for m in glob.glob(raw, recursive=True) if Path(m).is_file())
            if not found:
                bad.append((raw, "no files match this pattern"))
            vqi = [f for f in found if _is_vqi(f)]
            bad.extend((str(f), ALREADY_VQI) for f in vqi)
            found = [f for f in found if f not in vqi]
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

Colour images get a palette of -k colours (default 256) fitted by k-means (--kind palette,
the default for colour input); --kind channels quantizes each channel on its own (-k levels
each), --kind blocks codes blocks of pixels (--block, default 2x2) with a codebook of -k
blocks, and --kind scalar converts colour to gray with ITU-R 601 luma (0.299 R + 0.587 G +
0.114 B, as Pillow's "L"). --dither diffuses the quantization error (Floyd–Steinberg).

\b
Examples:
  vqimage compress face.png -o face.vqi
  vqimage compress face.png -o face.vqi -k 4 -s kmeans --codec lzma
  vqimage compress face.png -o face.vqi --psnr 35
  vqimage compress photo.png -o photo.vqi -k 64 --dither
  vqimage compress photo.png -o photo.vqi --kind blocks --block 4x4
  vqimage compress scans/ -o out/ -j 2
  vqimage compress 'scans/*.tif' -o out/ --shared
  vqimage compress scans/ -o out/ --scheduler tcp://10.0.0.5:8786
"""


@click.command(help=_COMPRESS_HELP, context_settings=CONTEXT)
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("-o", "--output", type=click.Path(),
              help="Output .vqi file (one input; a name ending in / is a directory) or "
              "directory (several).")
@click.option("-k", "--levels", "n_levels", type=click.IntRange(2, 65536), default=None,
              help="Number of levels (colours, blocks), 2 to 65536.  [default: 8; 256 for "
              "palette and blocks]")
@click.option("--kind", "kind", type=click.Choice((*KINDS, "gray")), default=None,
              help="Quantizer kind: " + "; ".join(f"{k.name}: {k.summary}" for k in KINDS.values())
              + " (gray: an alias of scalar).  [default: palette for colour input, else scalar]")
@click.option("--mode", "kind", type=click.Choice((*KINDS, "gray")), hidden=True,
              help="Old name of --kind.")
@click.option("--block", "block", default="2x2", show_default=True, metavar="HxW",
              help="Block size of --kind blocks.")
@click.option("--dither", is_flag=True,
              help="Floyd–Steinberg error diffusion (palette and scalar kinds).")
@click.option("-s", "--strategy", type=click.Choice(STRATEGIES), default="optimal",
              show_default=True, help="How the levels are fitted.")
@click.option("--reconstruction", type=click.Choice(RECONSTRUCTIONS), default="centroid",
              show_default=True, help="Codebook: bin means or bin midpoints.")
@click.option("--codec", type=click.Choice(CODEC_CHOICES), default="auto", show_default=True,
              help="How the codes are stored.")
@click.option("--psnr", "target_psnr", type=click.FloatRange(min=0, min_open=True),
              metavar="DB", help="Use the fewest levels whose reconstruction reaches DB dB "
              "(instead of -k).")
@click.option("--shared", is_flag=True,
              help="Fit one quantizer on all images (merged histograms) and use it for each.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Local worker processes.  [default: available cores]")
@click.option("--scheduler", metavar="ADDRESS",
              help="Run the batch on a Dask cluster (paths must be on a shared filesystem).")
@click.option("-r", "--recursive", is_flag=True, help="Also search subdirectories.")
@click.option("-f", "--force", is_flag=True, help="Replace existing outputs.")
@common_options
def compress(
    inputs: tuple[str, ...],
    output: str | None,
    n_levels: int | None,
    kind: str | None,
    block: str,
    dither: bool,
    strategy: str,
    reconstruction: str,
    codec: str,
    target_psnr: float | None,
    shared: bool,
    jobs: int | None,
    scheduler: str | None,
    recursive: bool,
    force: bool,
) -> None:
    from vqimage.cli.batch import CompressOptions

    if n_levels is not None and target_psnr is not None:
        raise click.UsageError("-k/--levels and --psnr exclude each other: give one of them")
    if scheduler is not None and jobs is not None:
        raise click.UsageError("--scheduler and -j/--jobs exclude each other")
    if kind == "gray":
        kind = "scalar"
    if shared and kind not in (None, "scalar"):
        raise click.UsageError("--shared fits one scalar quantizer: use it with --kind scalar")
    if target_psnr is not None and kind not in (None, "scalar"):
        raise click.UsageError("--psnr works with --kind scalar only")
    if dither and kind is not None and not KINDS[kind].dithers:
        dithering = " or ".join(k.name for k in KINDS.values() if k.dithers)
        raise click.UsageError(f"--dither works with --kind {dithering}, not {kind}")
    try:
        bh, bw = (int(v) for v in block.lower().split("x"))
        if bh < 1 or bw < 1:
            raise ValueError
    except ValueError:
        raise click.BadParameter(
            f"{block!r} is not a block size like 2x2", param_hint="--block"
        ) from None
    # --psnr and --shared work on gray histograms: colour is then converted to gray as before.
    gray_only = shared or target_psnr is not None
    options = CompressOptions(
        n_levels=None if target_psnr is not None else n_levels,
        psnr=target_psnr, strategy=strategy, reconstruction=reconstruction, codec=codec,
        kind=kind or ("scalar" if gray_only else "auto"), overwrite=force, block=(bh, bw),
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


def _compress_one(src: Path, output: Path | None, options: Any, *, into_dir: bool) -> None:
    from vqimage.cli.batch import Job, compress_file

    dst = output if output is not None else src.with_suffix(".vqi")
    if dst.is_dir() or into_dir:
        dst = dst / (src.stem + ".vqi")
    check_output(dst, [src], options.overwrite)
    res = compress_file(Job(src, dst), options)
    if res.status == "skipped":  # another writer created dst after check_output
        raise CLIError(f"{dst}: {OUTPUT_EXISTS}")
    if res.status != "ok":
        if is_debug() and res.traceback:
            click.echo(res.traceback, err=True, nl=False)
        raise CLIError(f"{src}: {res.message}")
    for n in res.notices:
        note(f"{src}: {n}")
    say(
        f"{src} -> {dst}: {fmt_shape(res.shape)} {res.dtype}, {res.n_levels} levels "
        f"({res.strategy}), codec {res.codec}, {res.nbytes:,} bytes = "
        f"{res.bits_per_pixel:.3g} bits/pixel ({res.ratio:.2f}x smaller than raw), "
        f"PSNR {fmt_db(res.psnr)}{'' if res.psnr is None or math.isinf(res.psnr) else ' dB'}"
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
                       f"{describe(exc)}") from exc
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
    from vqimage.cli.batch import FileResult, Job, compress_batch, plan_jobs

    if output is not None:
        if output.exists() and not output.is_dir():
            raise click.UsageError(
                f"-o {output} is a file; with several inputs -o names a directory"
            )
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CLIError(f"{output}: cannot create the output directory: "
                           f"{describe(exc)}") from exc
        planned = plan_jobs(files, output, roots=roots)
    else:
        planned = _beside_inputs(files, Job)
    failed_inputs = [FileResult(raw, "", "failed", why) for raw, why in bad]
    with _executor(scheduler) as executor, BatchProgress(len(planned), shared) as progress:
        try:
            results = compress_batch(
                planned, options, shared=shared, executor=executor, max_workers=jobs,
                on_done=progress.advance, on_histogram=progress.histograms,
            )
        except ValueError as exc:  # a shared fit that cannot be made (mixed dtypes, ...)
            raise CLIError(describe(exc)) from exc
    results = failed_inputs + results
    _report_batch(results, output)


def _beside_inputs(files: list[Path], job: Callable[[Path, Path], Any]) -> list[Any]:
    dsts = [f.with_suffix(".vqi") for f in files]
    dup = {d for d in dsts if dsts.count(d) > 1}
    return [job(f, f.with_name(f.name + ".vqi") if d in dup else d) for f, d in zip(files, dsts)]


def _report_batch(results: list[Any], output: Path | None) -> None:
    ok = [r for r in results if r.status == "ok"]
    failed = [r for r in results if r.status == "failed"]
    skipped = [r for r in results if r.status == "skipped"]
    for r in failed:
        if is_debug() and r.traceback:
            click.echo(r.traceback, err=True, nl=False)
        click.echo(printable(f"vqimage: error: {r.src}: {r.message}"), err=True)
    # A notice shared by many files (the gray conversion, a shared fit) is printed once.
    counts: dict[str, list[str]] = {}
    for r in ok:
        for n in r.notices:
            counts.setdefault(n, []).append(r.src)
    for text, srcs in counts.items():
        note(f"{srcs[0]}: {text}" if len(srcs) == 1 else f"{text} ({len(srcs)} files)")
    if is_quiet():
        if failed:
            raise SystemExit(1)
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

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
            Text(printable(r.src)), fmt_shape(r.shape), str(r.n_levels or "-"), fmt_db(r.psnr),
            fmt_bytes(r.nbytes), "-" if r.bits_per_pixel is None else f"{r.bits_per_pixel:.3g}",
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
    click.echo(printable(line))
    if failed:
        raise SystemExit(1)


