"""The ``vqimage`` command line: a thin layer over the library (no numerics of its own)."""

from __future__ import annotations

import sys

import click

from . import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="vqimage")
def main() -> None:
    """Quantize images into a few levels and store them in the bits they need."""


@main.command()
@click.option("--fetch", is_flag=True, help="Download the raccoon face once if it is not cached.")
@click.option("-k", "--levels", "n_levels", default=8, show_default=True, type=click.IntRange(2, 65536))
def demo(fetch: bool, n_levels: int) -> None:
    """The seed example's walkthrough on the bundled default image.

    Uses the raccoon face when scipy.datasets can load it from pooch's cache (or with --fetch),
    else scikit-image's camera.

    Example: vqimage demo
    """
    from .data import default_image
    from .demo import format_walkthrough, walkthrough

    name, image = default_image(fetch=fetch)
    click.echo(format_walkthrough(walkthrough(image, name, n_levels)))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
