"""``vqimage decompress``: a ``.vqi`` file back to an image file."""

from __future__ import annotations

import os
from pathlib import Path

import click
import numpy as np

from vqimage._shared.fs import atomic_write
from vqimage.cli._ui import (
    CLIError,
    check_output,
    common_options,
    describe,
    fmt_shape,
    say,
    vqi_command,
)


@vqi_command
@click.option("-o", "--output", "output_arg", type=click.Path(),
              help="Image file: .png, .tif/.tiff, .npy (or .bmp/.jpg/.webp for 8-bit), or a "
              "directory.  [default: INPUT with .png for 8/16-bit images, else .tif or .npy]")
@click.option("-f", "--force", is_flag=True, help="Replace an existing output.")
@click.option("--png-palette", is_flag=True,
              help="Write an indexed (palette) PNG: palettes of up to 256 8-bit colours.")
@common_options
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
    from vqimage.io import WRITE_SUFFIXES, encode_indexed_png, write_image
    from vqimage.vqi.compressed import load

    output = None if output_arg is None else Path(output_arg)
    into_dir = output is not None and (output.is_dir() or output_arg.endswith(("/", os.sep)))
    if output is not None and output.suffix.lower() not in WRITE_SUFFIXES and not into_dir:
        raise click.UsageError(
            f"-o {output}: unknown image type {output.suffix or '(no suffix)'!r}; "
            f"use one of {', '.join(WRITE_SUFFIXES)}"
        )
    if output is not None and not into_dir:
        check_output(output, [input], force)
    try:
        ci = load(input)
    except (OSError, ValueError) as exc:
        raise CLIError(describe(exc, input)) from exc
    if output is None or into_dir:
        image_like = len(ci.shape) == 2 or (len(ci.shape) == 3 and ci.shape[-1] <= 4)
        suffix = (".npy" if not image_like else
                  ".png" if ci.dtype in ("uint8", "uint16") else ".tif")
        name = input.with_suffix(suffix).name
        output = (output / name) if output is not None else input.with_suffix(suffix)
        check_output(output, [input], force)
        if not output.parent.is_dir():
            try:
                output.parent.mkdir(parents=True)
            except OSError as exc:
                raise CLIError(describe(exc, output.parent)) from exc
    if png_palette and output.suffix.lower() != ".png":
        raise click.UsageError(f"--png-palette writes PNG files, not {output.suffix!r}")
    try:
        if png_palette:
            q = ci.quantizer
            if q.kind != "palette":
                raise ValueError("an indexed PNG needs a palette quantizer (--kind palette)")
            if q.dtype != np.uint8 or q.n_levels > 256:
                raise ValueError(
                    f"an indexed PNG holds at most 256 8-bit colours; this palette has "
                    f"{q.n_levels} {q.dtype} colours"
                )
            image = ci.codes
            png = encode_indexed_png(image, q.codebook.astype(np.uint8), keep_palette=True)
            atomic_write(output, png, overwrite=force)
        else:
            image = ci.decompress()
            write_image(output, image, overwrite=force)
    except (OSError, ValueError, TypeError) as exc:
        raise CLIError(describe(exc, output)) from exc
    q = ci.quantizer
    # An indexed PNG holds the codes; the image it shows has the .vqi file's shape and dtype.
    what = " as an indexed PNG" if png_palette else ""
    say(f"{input} -> {output}: {fmt_shape(ci.shape)} {ci.dtype}{what} "
        f"({q.n_levels} levels, {q.strategy})")


# -- info ---------------------------------------------------------------------------------


