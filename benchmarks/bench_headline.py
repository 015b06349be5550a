"""The README's headline: the seed's memory question on the raccoon face, measured now.

Rewrites the README between ``<!-- section:headline -->`` and ``<!-- /section:headline -->``
(the example's numbers, one command line session and the table) and prints it, so no number in
the README is typed by hand. ``tests/test_readme.py`` checks that the ``.vqi`` size there is
what ``vqimage.compress`` writes today.

    python benchmarks/bench_headline.py
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from pathlib import Path

from _common import ROOT, offline_face_cache

offline_face_cache()

import numpy as np  # noqa: E402
from scipy.datasets import face  # noqa: E402

import vqimage  # noqa: E402

MARK = re.compile(r"(<!-- section:headline -->\n)(.*?)(<!-- /section:headline -->)", re.S)


def _peers(codes: np.ndarray, q: vqimage.Quantizer) -> dict[str, int | None]:
    """Bytes of the same 8-level image as a palette PNG, lossless WebP and lossless JPEG XL."""
    from vqimage.io import encode_indexed_png

    gray = np.asarray(q.codebook, dtype=np.float64)
    levels = np.rint((gray - gray.min()) * 255.0 / max(np.ptp(gray), 1e-12)).astype(np.uint8)
    out: dict[str, int | None] = {"png": len(encode_indexed_png(codes, levels))}
    rec = q.decode(codes)
    try:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(rec).save(buf, format="WEBP", lossless=True, quality=100, method=6)
        out["webp"] = buf.tell()
    except (ImportError, OSError):
        out["webp"] = None
    try:
        import imagecodecs

        out["jxl"] = len(imagecodecs.jpegxl_encode(rec, lossless=True, effort=9))
    except (ImportError, AttributeError):
        out["jxl"] = None
    return out


def headline() -> str:
    img = face(gray=True)
    q = vqimage.fit(img, 8)
    codes = q.encode(img)
    psnr = vqimage.metrics.psnr(q.decode(codes), img)
    c = vqimage.compress(img, quantizer=q)
    packed = vqimage.compress(img, quantizer=q, codec="packed")
    vqi = len(c.tobytes())
    peers = _peers(codes, q)

    with tempfile.TemporaryDirectory() as tmp:
        from click.testing import CliRunner

        from vqimage.cli import main
        from vqimage.io import write_image

        src = Path(tmp) / "face.png"
        write_image(src, img)
        res = CliRunner().invoke(main, ["compress", str(src), "-o", str(Path(tmp) / "face.vqi")])
        cli_line = res.output.strip().replace(str(Path(tmp)) + os.sep, "")

    def ratio(name: str, label: str) -> str:
        n = peers[name]
        return "" if n is None else f"{vqi / n:.2f}x the bytes of {label} ({n:,} B)"

    vs = [r for r in (ratio("png", "an indexed PNG (oxipng)"),
                      ratio("webp", "lossless WebP (method 6)"),
                      ratio("jxl", "lossless JPEG XL (effort 9)")) if r]
    return f"""```python
import vqimage
from scipy.datasets import face

img = face(gray=True)                       # 768x1024 uint8
q = vqimage.fit(img, 8)                     # strategy="optimal": exact minimum squared error
codes = q.encode(img)                       # uint8 codes 0..7, same shape
vqimage.metrics.psnr(q.decode(codes), img)  # {psnr:.2f} dB
c = vqimage.compress(img, quantizer=q)      # codec="auto": the smallest payload
c.save("face.vqi")                          # {vqi:,} bytes ({c.codec})
(vqimage.load("face.vqi").decompress() == q.quantize(img)).all()   # True
```

```console
$ vqimage compress face.png -o face.vqi
{cli_line}
```

| raccoon face, 8 levels | bytes |
|---|---:|
| raw uint8 image | {img.nbytes:,} |
| the seed's float64 codes (`KBinsDiscretizer`) | {img.size * 8:,} |
| `packed` `CompressedImage.nbytes` (3 bits per code + codebook + header) | {packed.nbytes:,} |
| `.vqi` file, `codec="auto"` | {vqi:,} |

The `.vqi` file takes {"; ".join(vs)} of the same 8-level image (`python
benchmarks/bench_headline.py`; every codec and level count in
[the codec benchmarks](docs/benchmarks/codecs.md)).
"""


def main() -> None:
    text = headline()
    print(text)
    readme = ROOT / "README.md"
    old = readme.read_text(encoding="utf-8")
    if not MARK.search(old):
        raise SystemExit("README.md has no <!-- section:headline --> markers")
    readme.write_text(MARK.sub(lambda m: m.group(1) + text + m.group(3), old), encoding="utf-8")


if __name__ == "__main__":
    main()
