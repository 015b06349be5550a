"""``vqimage demo``: the seed example's walkthrough with real sizes, figures and report."""

from __future__ import annotations

from pathlib import Path

import click

from vqimage._shared.dtypes import MAX_LEVELS
from vqimage.cli._ui import (
    CONTEXT,
    CLIError,
    common_options,
    describe,
    is_quiet,
    note_first_compile,
    report_progress,
    say,
)


@click.command(context_settings=CONTEXT)
@click.option("--fetch", is_flag=True, help="Download the raccoon face once if it is not cached.")
@click.option("-k", "--levels", "n_levels", default=8, show_default=True,
              type=click.IntRange(2, MAX_LEVELS), help="Number of levels.")
@click.option("-o", "--output", "outdir", type=click.Path(path_type=Path), default=None,
              help="Also write the seed's figures and report.html into this directory.")
@click.option("-f", "--force", is_flag=True, help="Replace files in a non-empty directory.")
@common_options
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
    from vqimage.data import default_image
    from vqimage.viz.demo import format_walkthrough, walkthrough

    if outdir is not None:
        if outdir.exists() and not outdir.is_dir():
            raise click.UsageError(f"-o {outdir} is a file; give a directory")
        if outdir.is_dir() and any(outdir.iterdir()) and not force:
            raise CLIError(f"{outdir}: directory is not empty; use --force to write into it")
    try:
        name, image = default_image(fetch=fetch)
    except OSError as exc:  # --fetch asked for the face: no silent fallback to camera
        raise CLIError(f"--fetch: {describe(exc)} (without --fetch the demo uses scikit-image's "
                       "camera)") from exc
    note_first_compile()
    if not is_quiet():
        click.echo(format_walkthrough(walkthrough(image, name, n_levels)))
    if outdir is None:
        return
    try:
        from vqimage.viz.report import write_demo_figures
    except ImportError as exc:
        raise CLIError(f"demo -o needs the figures module: {describe(exc)}") from exc
    try:
        with report_progress() as progress:
            written = list(write_demo_figures(image, outdir, name=name, n_levels=n_levels,
                                              progress=progress))
    except (OSError, ValueError) as exc:
        raise CLIError(describe(exc, outdir)) from exc
    say("")
    say(f"Wrote {len(written)} files to {outdir}:")
    for p in written:
        say(f"  {Path(p).name}")


