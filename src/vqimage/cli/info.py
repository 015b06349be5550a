"""``vqimage info``: describe a ``.vqi`` file or an image."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from vqimage.cli._ui import CONTEXT, CLIError, common_options, describe, fmt_shape
from vqimage.vqi.inspection import inspect


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
            ("shape", fmt_shape(info["shape"])),
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
            ("shape", fmt_shape(info["shape"])),
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


@click.command(context_settings=CONTEXT)
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@common_options
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
        details = inspect(file)
    except (OSError, ValueError, TypeError) as exc:
        raise CLIError(describe(exc, file)) from exc
    if as_json:
        click.echo(json.dumps(details))
    else:
        click.echo(_format_info(details))


# -- demo and report ----------------------------------------------------------------------


