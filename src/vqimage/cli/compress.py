"""``vqimage compress``: one image, or a batch in parallel."""

from __future__ import annotations

import glob
import math
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from vqimage._shared.dtypes import MAX_LEVELS
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
    fmt_table,
    is_debug,
    is_quiet,
    note,
    note_first_compile,
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


_COMPRESS_HELP = """Compress images (PNG, JPEG, TIFF 8/16-bit, BMP, WebP, .npy) into .vqi files,
or into standard PNG or WebP files.

With one input, -o names the output file (default: the input with suffix .vqi). With several
inputs, a directory or a glob, -o names an output directory (created if missing) and the files
are compressed in parallel over the available cores, with a progress bar on a terminal and a
summary table. A batch skips files whose output exists (rerunning finishes an interrupted
batch); --force recompresses them.

The output's suffix chooses its format: .png writes an indexed PNG (the palette, or the gray
levels of --kind scalar, at the smallest bit depth; deflate optimized by oxipng when pyoxipng
is installed: pip install 'vqimage[png]'), .webp a lossless WebP, anything else a .vqi file.
--format names it instead (required with -o -, and for batches). "-" as INPUT reads image
bytes from stdin (format sniffed); -o - writes to stdout. --skip-if-larger writes nothing when
the output would not be smaller than the input file and exits with status 98 (as pngquant);
in a batch such files show as "kept input" and do not change the exit status.

Colour images get a palette of -k colours (default 256) fitted by k-means (--kind palette,
the default for colour input); --kind channels quantizes each channel on its own (-k levels
each), --kind blocks codes blocks of pixels (--block, default 2x2) with a codebook of -k
blocks, and --kind scalar converts colour to gray with ITU-R 601 luma (0.299 R + 0.587 G +
0.114 B, as Pillow's "L"). --dither diffuses the quantization error (Floyd–Steinberg).

--psnr DB picks the fewest levels (gray) or palette colours (colour; PSNR over all channels,
at most 256 colours) reaching DB; when even the most cannot, nothing is written and the exit
status is 99 (as pngquant's --quality). --shared fits one quantizer on the merged histograms
of all inputs: one palette for a folder of colour images, one set of levels for gray ones.

\b
Examples:
  vqimage compress face.png -o face.vqi
  vqimage compress face.png -o face.vqi -k 4 -s kmeans --codec lzma
  vqimage compress face.png -o face.vqi --psnr 35
  vqimage compress field.npy -o field.vqi --max-error 0.01
  vqimage compress field.npy -o field.vqi --max-error 0.1%
  vqimage compress photo.jpg -o photo.png -k 64
  vqimage compress photo.jpg -o photo.png --psnr 38 --skip-if-larger
  cat photo.jpg | vqimage compress - -o - --format webp > photo.webp
  vqimage compress photo.png -o photo.vqi -k 64 --dither
  vqimage compress photo.png -o photo.vqi --kind blocks --block 4x4
  vqimage compress scans/ -o out/ -j 2
  vqimage compress 'frames/*.png' -o out/ --shared --format png
  vqimage compress scans/ -o out/ --scheduler tcp://10.0.0.5:8786
"""


@click.command(help=_COMPRESS_HELP, context_settings=CONTEXT)
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("-o", "--output", type=click.Path(),
              help="Output .vqi file (one input; a name ending in / is a directory) or "
              "directory (several).")
@click.option("-k", "--levels", "n_levels", type=click.IntRange(2, MAX_LEVELS), default=None,
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
              show_default=True, help="How the levels are fitted: " + "; ".join(
                  f"{s.name}: {s.summary}" for s in _STRATEGIES.values()) + ".")
@click.option("--reconstruction", type=click.Choice(RECONSTRUCTIONS), default="centroid",
              show_default=True, help="Codebook: bin means or bin midpoints.")
@click.option("--codec", type=click.Choice(CODEC_CHOICES), default="auto", show_default=True,
              help="How the codes are stored.")
@click.option("--psnr", "target_psnr", type=click.FloatRange(min=0, min_open=True),
              metavar="DB", help="Use the fewest levels whose reconstruction reaches DB dB "
              "(instead of -k).")
@click.option("--max-error", "max_error", metavar="E|P%",
              help="Use the fewest levels keeping every value within E of the original "
              "(absolute), or within P% of the image's value range (instead of -k; scalar kind).")
@click.option("--shared", is_flag=True,
              help="Fit one quantizer (one palette for colour) on all images (merged "
              "histograms) and use it for each.")
@click.option("--format", "out_format", type=click.Choice(("vqi", "png", "webp")), default=None,
              help="Output format.  [default: from -o's suffix (.png, .webp), else vqi]")
@click.option("--skip-if-larger", is_flag=True,
              help="Write nothing (exit 98 for one input) when the output is not smaller "
              "than the input file.")
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
    max_error: str | None,
    shared: bool,
    out_format: str | None,
    skip_if_larger: bool,
    jobs: int | None,
    scheduler: str | None,
    recursive: bool,
    force: bool,
) -> None:
    from vqimage.cli.batch import CompressOptions

    if n_levels is not None and target_psnr is not None:
        raise click.UsageError("-k/--levels and --psnr exclude each other: give one of them")
    max_abs, max_rel = _parse_max_error(max_error)
    if max_error is not None and (n_levels is not None or target_psnr is not None):
        raise click.UsageError("--max-error excludes -k/--levels and --psnr: give one of them")
    if max_error is not None and kind not in (None, "scalar", "gray"):
        raise click.UsageError("--max-error works with --kind scalar only")
    if scheduler is not None and jobs is not None:
        raise click.UsageError("--scheduler and -j/--jobs exclude each other")
    if kind == "gray":
        kind = "scalar"
    if shared and kind not in (None, "scalar", "palette"):
        raise click.UsageError("--shared fits one scalar quantizer or palette: use it with "
                               "--kind scalar or palette")
    if target_psnr is not None and kind not in (None, "scalar", "palette"):
        raise click.UsageError("--psnr works with --kind scalar or palette")
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
    options = CompressOptions(
        n_levels=None if target_psnr is not None else n_levels,
        max_abs_error=max_abs, max_rel_error=max_rel,
        psnr=target_psnr, strategy=strategy, reconstruction=reconstruction, codec=codec,
        # An error bound is on single values: colour is converted to gray for it.
        kind=kind or ("scalar" if max_error is not None else "auto"), overwrite=force,
        block=(bh, bw), dither=dither,
        format=out_format or "vqi", skip_if_larger=skip_if_larger,
    )
    if "-" in inputs or output == "-":
        if len(inputs) > 1:
            raise click.UsageError("- (stdin) must be the only input")
        if output is None:
            raise click.UsageError("reading stdin needs -o FILE or -o - (stdout)")
        if output == "-" and out_format is None:
            raise click.UsageError("-o - (stdout) needs --format png, webp or vqi")
        if shared:
            raise click.UsageError("--shared needs several input files")
        fmt = out_format or _format_of(Path(output))
        _compress_one(inputs[0], output if output == "-" else Path(output),
                      replace(options, format=fmt), into_dir=False)
        return
    files, roots, bad, batch = _expand(inputs, recursive)
    note_first_compile()
    if not batch:
        if bad:
            raise CLIError(f"{bad[0][0]}: {bad[0][1]}")
        into_dir = output is not None and output.endswith(("/", os.sep))
        out = None if output is None else Path(output)
        fmt = out_format or (_format_of(out) if out is not None and not into_dir
                             and not out.is_dir() else "vqi")
        if out_format is not None and out is not None and not into_dir and not out.is_dir():
            named = _format_of(out)
            if named != "vqi" and named != out_format:
                raise click.UsageError(f"-o {output} is a {named} file but --format is "
                                       f"{out_format}")
        _compress_one(str(files[0]), out, replace(options, format=fmt), into_dir=into_dir)
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


def _format_of(path: Path) -> str:
    """The output format a file name asks for: png and webp by suffix, else vqi."""
    return {".png": "png", ".webp": "webp"}.get(path.suffix.lower(), "vqi")


def _compress_one(src_arg: str, output: Path | str | None, options: Any, *,
                  into_dir: bool) -> None:
    """One input (a file or "-" for stdin) to one output (a file or "-" for stdout)."""
    import tempfile

    from vqimage.cli.batch import EXIT_LARGER, EXIT_UNREACHABLE, Job, compress_file

    suffix = "." + options.format
    to_stdout = output == "-"
    with tempfile.TemporaryDirectory(prefix="vqimage-") as tmp:
        if src_arg == "-":
            src, label = _stdin_to_file(Path(tmp)), "stdin"
        else:
            src = label = Path(src_arg)
        if to_stdout:
            # compress_file writes files: stdout gets the bytes of one in a private folder.
            dst = Path(tmp) / ("stdout" + suffix)
            options = replace(options, overwrite=True)
        else:
            dst = Path(output) if output is not None else src.with_suffix(suffix)
            if dst.is_dir() or into_dir:
                dst = dst / (src.stem + suffix)
            check_output(dst, [src], options.overwrite)
        res = compress_file(Job(src, dst), options)
        if res.status == "skipped" and res.reason != "larger":
            # Another writer created dst after check_output.
            raise CLIError(f"{dst}: {OUTPUT_EXISTS}")
        for n in res.notices:
            note(f"{label}: {n}")
        if res.status == "skipped" and res.reason == "larger":
            note(f"{label}: {res.message}; nothing written")
            raise SystemExit(EXIT_LARGER)
        if res.status != "ok":
            if is_debug() and res.traceback:
                click.echo(res.traceback, err=True, nl=False)
            err = CLIError(f"{label}: {res.message}")
            if res.reason == "unreachable":
                err.exit_code = EXIT_UNREACHABLE
            raise err
        if to_stdout:
            out = click.get_binary_stream("stdout")
            out.write(dst.read_bytes())
            out.flush()
    line = (
        f"{label} -> {'stdout' if to_stdout else dst}: {fmt_shape(res.shape)} {res.dtype}, "
        f"{res.n_levels} levels ({res.strategy}), "
        f"{'codec ' + str(res.codec) if options.format == 'vqi' else options.format.upper()}, "
        f"{res.nbytes:,} bytes = {res.bits_per_pixel:.3g} bits/pixel ({res.ratio:.2f}x "
        f"smaller than raw), PSNR {fmt_db(res.psnr)}"
        f"{'' if res.psnr is None or math.isinf(res.psnr) else ' dB'}"
    )
    # With the image on stdout the summary goes to stderr, out of the data's way.
    if to_stdout:
        if not is_quiet():
            click.echo(line, err=True)
    else:
        say(line)


def _stdin_to_file(folder: Path) -> Path:
    from vqimage.io import sniff_suffix

    data = click.get_binary_stream("stdin").read()
    if not data:
        raise CLIError("stdin: empty; expected the bytes of an image")
    suffix = sniff_suffix(data[:16])
    if suffix is None:
        raise CLIError("stdin: not a known image format (PNG, JPEG, TIFF, BMP, WebP or .npy)")
    path = folder / ("stdin" + suffix)
    path.write_bytes(data)
    return path


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
        planned = plan_jobs(files, output, roots=roots, suffix="." + options.format)
    else:
        planned = _beside_inputs(files, Job, "." + options.format)
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


def _beside_inputs(files: list[Path], job: Callable[[Path, Path], Any],
                   suffix: str = ".vqi") -> list[Any]:
    dsts = [f.with_suffix(suffix) for f in files]
    # a.png -> a.png would overwrite the input, and a.png/a.tif would collide: keep the suffix.
    dup = {d for d in dsts if dsts.count(d) > 1} | {d for f, d in zip(files, dsts) if d == f}
    return [job(f, f.with_name(f.name + suffix) if d in dup else d) for f, d in zip(files, dsts)]


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
    # Only unreachable --psnr targets failed: their own status, as for one input.
    from vqimage.cli.batch import EXIT_UNREACHABLE

    status = (EXIT_UNREACHABLE if failed and all(r.reason == "unreachable" for r in failed)
              else 1)
    if is_quiet():
        if failed:
            raise SystemExit(status)
        return
    columns = (("input", "<"), ("shape", "<"), ("levels", ">"), ("PSNR dB", ">"), ("bytes", ">"),
               ("bits/px", ">"), ("ratio", ">"), ("status", "<"))
    rows = []
    for r in results:
        # Reasons of failures are on stderr (one line each); the table stays narrow.
        shown = {"ok": "ok", "skipped": "skipped (output exists)"}.get(r.status, r.status)
        if r.status == "skipped" and r.reason == "larger":
            shown = "kept input (output not smaller)"
        rows.append((
            printable(r.src), fmt_shape(r.shape), str(r.n_levels or "-"), fmt_db(r.psnr),
            fmt_bytes(r.nbytes), "-" if r.bits_per_pixel is None else f"{r.bits_per_pixel:.3g}",
            "-" if r.ratio is None else f"{r.ratio:.2f}x", shown,
        ))
    click.echo(fmt_table(columns, rows))
    raw = sum(r.raw_nbytes or 0 for r in ok)
    packed = sum(r.nbytes or 0 for r in ok)
    where = f" into {output}{os.sep}" if output is not None else ""
    line = f"{len(ok)} compressed{where}, {len(failed)} failed, {len(skipped)} skipped"
    if packed:
        line += f"; {raw:,} bytes raw -> {packed:,} bytes ({raw / packed:.2f}x smaller)"
    click.echo(printable(line))
    if failed:
        raise SystemExit(status)


