"""Standard files from ``vqimage compress``: vqimage's indexed PNG against pngquant's.

For each image (raccoon face in colour, astronaut, coffee, chelsea) and palette size (16, 64,
256 colours), in the same run:

* **vqimage**: :func:`vqimage.fit_palette` (k-means), nearest-colour codes, and
  :meth:`vqimage.CompressedImage.to_png` (smallest bit depth, Pillow ``optimize=True``, then
  oxipng at :data:`vqimage.io.PNG_LEVEL`) — what ``vqimage compress in.png -o out.png -k K``
  writes.
* **pngquant** (libimagequant through the ``imagequant`` package, measured only): quantize
  to the same number of colours, with its default dithering (1.0) and without (0.0), save with
  Pillow ``optimize=True``, then oxipng at the same preset.

PSNR is over the three RGB channels of the decoded PNG against the original. The cell is a
win when vqimage's PSNR is at least pngquant's *and* its PNG is no larger, against each of
pngquant's two settings.

Run: ``python benchmarks/bench_standard_files.py`` (needs ``pip install imagequant pyoxipng``);
writes ``docs/benchmarks/standard_files.md``.
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import numpy as np
from _common import machine, offline_face_cache

offline_face_cache()

import vqimage  # noqa: E402
from vqimage.core.metrics import psnr  # noqa: E402
from vqimage.data import sample  # noqa: E402
from vqimage.io import PNG_LEVEL, optimize_png, png_optimizer, read_image_bytes  # noqa: E402

IMAGES = ("face", "astronaut", "coffee", "chelsea")
LEVELS = (16, 64, 256)
OUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "standard_files.md"


def ours(img: np.ndarray, k: int) -> tuple[bytes, float]:
    """vqimage's PNG and the time to fit, encode and write it."""
    t = time.perf_counter()
    ci = vqimage.compress(img, quantizer=vqimage.fit_palette(img, k))
    data = ci.to_png()
    return data, time.perf_counter() - t


def pngquant(img: np.ndarray, k: int, dithering: float) -> tuple[bytes, float]:
    """libimagequant's palette image, saved as pngquant would and optimized like ours."""
    import imagequant
    from PIL import Image

    t = time.perf_counter()
    rgba = Image.fromarray(img).convert("RGBA")
    out = imagequant.quantize_pil_image(rgba, dithering_level=dithering, max_colors=k)
    buf = io.BytesIO()
    out.save(buf, format="PNG", optimize=True)
    data = optimize_png(buf.getvalue(), level=PNG_LEVEL)
    return data, time.perf_counter() - t


def decoded_psnr(data: bytes, img: np.ndarray) -> float:
    back = read_image_bytes(data)
    return psnr(back[..., :3], img)


def verdict(db: float, size: int, ref_db: float, ref_size: int) -> str:
    better_db, smaller = db >= ref_db, size <= ref_size
    if better_db and smaller:
        return "win"
    if better_db:
        return "PSNR only"
    if smaller:
        return "size only"
    return "loss"


def main() -> int:
    rows = []
    for name in IMAGES:
        img = sample(name, gray=False)
        for k in LEVELS:
            d_ours, t_ours = ours(img, k)
            db_ours = decoded_psnr(d_ours, img)
            cells = [name, str(k), f"{db_ours:.2f}", f"{len(d_ours):,}"]
            for dithering in (1.0, 0.0):
                d_pq, _ = pngquant(img, k, dithering)
                db_pq = decoded_psnr(d_pq, img)
                cells += [f"{db_pq:.2f}", f"{len(d_pq):,}",
                          verdict(db_ours, len(d_ours), db_pq, len(d_pq))]
            cells.append(f"{t_ours:.2f}")
            rows.append(cells)
            print(" | ".join(cells), file=sys.stderr, flush=True)
    head = ["image", "colours", "vqimage dB", "vqimage bytes", "pngquant dB", "pngquant bytes",
            "vs pngquant", "pngquant nodither dB", "nodither bytes", "vs nodither",
            "vqimage s"]
    table = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    table += ["| " + " | ".join(r) + " |" for r in rows]
    wins = sum(r[6] == "win" for r in rows), sum(r[9] == "win" for r in rows)
    from importlib.metadata import version

    import imagequant  # noqa: F401

    text = "\n".join([
        "# Standard files: vqimage's indexed PNG against pngquant",
        "",
        f"Machine: {machine()}; vqimage {vqimage.__version__}, imagequant "
        f"{version('imagequant')} (libimagequant, pngquant's library), pyoxipng "
        f"{version('pyoxipng')}, PNG optimizer used by vqimage: {png_optimizer()}. Method "
        "(`benchmarks/bench_standard_files.py`): for each image and palette size, vqimage "
        "fits a k-means palette (`fit_palette`), maps every pixel to its nearest colour and "
        "writes `CompressedImage.to_png()` (indexed, smallest bit depth, Pillow "
        f"`optimize=True` then oxipng preset {PNG_LEVEL}), as `vqimage compress in.png -o "
        "out.png -k K` does. pngquant is libimagequant through the `imagequant` package with "
        "the same number of colours, with its default dithering (1.0) and without (0.0), "
        "saved by Pillow with `optimize=True` and then the same oxipng preset. PSNR is over "
        "the RGB channels of the decoded PNG against the original; bytes are the PNG file "
        "sizes. A cell is a *win* when vqimage's PSNR is at least pngquant's and its PNG is "
        "no larger; *PSNR only* / *size only* say which half held. 'vqimage s' is vqimage's "
        "fit + encode + PNG time.",
        "",
        f"vqimage wins {wins[0]} of {len(rows)} cells against pngquant's default and "
        f"{wins[1]} of {len(rows)} against pngquant without dithering. Dithering is what "
        "pngquant does by default for visual quality; it costs PSNR and deflate, so the "
        "undithered column is the closer comparison of palettes.",
        "",
        *table,
        "",
    ])
    print(text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
