"""The ``vqimage`` command line: a thin layer over the library (no numerics of its own).

Exit status: 0 success, 1 an input or output failed (every other file of a batch is still
done), 2 usage error. Errors are one line on stderr naming the file and the problem; ``--debug``
shows tracebacks. Heavy modules (Pillow, rich, matplotlib, dask) are imported inside the
commands so that start-up stays fast.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

import click

from vqimage._shared.interrupts import caused_by_interrupt
from vqimage._shared.version import __version__
from vqimage.cli import compress, decompress, demo, info, report
from vqimage.cli._ui import CONTEXT, CLIError, common_options, describe, is_debug, show_warning

__all__ = ["main"]


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
            if caused_by_interrupt(exc):  # Ctrl-C during a numba kernel (a SystemError)
                click.echo("vqimage: interrupted", err=True)
                sys.exit(130)
            if ctx.meta.get("vqimage.debug") or os.environ.get("VQIMAGE_DEBUG") == "1":
                raise
            raise CLIError(describe(exc)) from exc


@click.group(cls=_Group, context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="vqimage",
                      message="%(prog)s %(version)s")
@common_options
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
    if not is_debug():
        warnings.showwarning = show_warning


# One module per subcommand; this list is the CLI's only table of commands.
for _module in (compress, decompress, info, report, demo):
    main.add_command(getattr(_module, _module.__name__.rsplit(".", 1)[1]))
