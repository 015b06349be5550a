"""``vqimage report``: an HTML report of one image."""

from __future__ import annotations

from pathlib import Path

import click

from vqimage.cli._ui import (
    CLIError,
    atomic_target,
    check_output,
    common_options,
    describe,
    report_progress,
    say,
    vqi_command,
)
from vqimage.cli.compress import read_prepared


@vqi_command
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="HTML file to write.  [default: INPUT with suffix .html]")
@click.option("-f", "--force", is_flag=True, help="Replace an existing output.")
@common_options
def report(input: Path, output: Path | None, force: bool) -> None:
    """Write a self-contained HTML report on quantizing an image: renderings, histograms, error
    maps, a table of errors and sizes, rate-distortion curves and a slider over the levels.

    \b
    Examples:
      vqimage report face.png -o report.html
    """
    output = output if output is not None else input.with_suffix(".html")
    check_output(output, [input], force)
    # Colour stays colour (palette renderings), as in vqimage.viz.report.write_report.
    image = read_prepared(input, "auto")
    try:
        from vqimage.viz.report import write_report
    except ImportError as exc:
        raise CLIError(f"report needs the figures module: {describe(exc)}") from exc
    try:
        with atomic_target(output, force) as tmp, report_progress() as progress:
            write_report(image, tmp, name=input.name, progress=progress)
    except (OSError, ValueError) as exc:
        raise CLIError(describe(exc, output)) from exc
    say(f"{input} -> {output} ({output.stat().st_size:,} bytes)")


