"""The .vqi codecs against the strongest lossless peers on the same quantized images.

Run: python benchmarks/bench_codecs.py [--quick]

Gray images (the raccoon face and scikit-image's camera) are quantized by ``vqimage.fit``
(optimal scalar levels), colour images (astronaut, coffee, chelsea) by ``vqimage.fit_palette``,
at 2, 4, 8, 16, 64 and 256 levels/colours. The same codes go to every coder:

- vqimage: the whole ``.vqi`` file (header, quantizer JSON, payload, CRC) for every codec
  (``packed``, ``lzma``, ``context``, ``context2``) and ``auto`` (the smallest);
- WebP lossless (imagecodecs, quality 100, method 6) of the quantized image as RGB;
- JPEG XL lossless, effort 9 (imagecodecs): the smaller of the quantized image (RGB for
  palettes, gray values for gray) and the code index image as gray;
- PNG of the palette (indexed) image, optimised by oxipng at level 6 (pyoxipng).

Decode times are medians of interleaved runs in this one process (the machine is shared:
compare the ratios). Writes the tables to ``docs/benchmarks/codecs.md`` and prints them.
``--quick`` runs the face and chelsea only.
"""

from __future__ import annotations

import io
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from _common import fmt_ms, machine, offline_face_cache

offline_face_cache()

import vqimage  # noqa: E402
from vqimage.codecs import CODECS  # noqa: E402
from vqimage.data import face, sample  # noqa: E402

LEVELS = (2, 4, 8, 16, 64, 256)
GRAY = ("face", "camera")
COLOUR = ("astronaut", "coffee", "chelsea")
OUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "codecs.md"
VQ_CODECS = ("packed", "lzma", "context", "context2")


def row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def quantize(name: str, img: np.ndarray, k: int):
    """``(quantizer, codes, quantized image, palette as RGB rows)`` for one cell."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", vqimage.FewerLevelsWarning)
        if name in GRAY:
            q = vqimage.fit(img, k)
            codes = np.asarray(q.encode(img))
            levels = np.asarray(q.decode(np.arange(q.n_levels)), dtype=np.uint8)
            return q, codes, levels[codes], np.repeat(levels[:, None], 3, axis=1)
        q = vqimage.fit_palette(img, k)
        codes = np.asarray(q.encode(img))
        palette = np.asarray(q.codebook, dtype=np.uint8)[:, :3]
        return q, codes, palette[codes], palette


def webp(image: np.ndarray) -> bytes:
    import imagecodecs

    rgb = image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)
    return bytes(imagecodecs.webp_encode(np.ascontiguousarray(rgb), 100, lossless=True,
                                         method=6))


def jxl_variants(image: np.ndarray, codes: np.ndarray) -> dict[str, bytes]:
    import imagecodecs

    out = {}
    for label, arr in (("image", image), ("indices", codes.astype(np.uint8))):
        out[label] = bytes(imagecodecs.jpegxl_encode(np.ascontiguousarray(arr), lossless=True,
                                                     effort=9))
    return out


def oxipng_png(codes: np.ndarray, palette: np.ndarray) -> bytes:
    import oxipng
    from PIL import Image

    im = Image.frombytes("P", codes.shape[::-1], codes.astype(np.uint8).tobytes())
    im.putpalette(palette.astype(np.uint8).reshape(-1).tolist())
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return bytes(oxipng.optimize_from_memory(buf.getvalue(), level=6))


def cell(name: str, img: np.ndarray, k: int) -> dict:
    q, codes, image, palette = quantize(name, img, k)
    sizes = {codec: len(_vqi_file(q, img.shape, codes, codec)) for codec in VQ_CODECS}
    auto = vqimage.compress(img, quantizer=q)
    sizes["auto"] = len(auto.tobytes())
    assert sizes["auto"] == min(sizes[c] for c in VQ_CODECS), sizes
    peers = {"WebP lossless m6": webp(image)}
    jx = jxl_variants(image, codes)
    jlabel = min(jx, key=lambda lab: len(jx[lab]))
    peers["JPEG XL e9"] = jx[jlabel]
    peers["oxipng"] = oxipng_png(codes, palette)
    return {"q": q, "codes": codes, "sizes": sizes, "auto_codec": auto.codec,
            "peers": {lab: len(d) for lab, d in peers.items()}, "jxl": jx[jlabel],
            "jxl_input": jlabel}


def _vqi_file(q, shape, codes, codec: str) -> bytes:
    from vqimage.vqi import format as vqi_format

    payload = CODECS[codec].encode(codes, q.n_levels)
    return vqi_format.write(q, shape, codes.shape, codec, payload)


def decode_ratio(label: str, result: dict, repeat: int = 5) -> str:
    import imagecodecs

    q, codes = result["q"], result["codes"]
    codec = CODECS["context2"]
    payload = codec.encode(codes, q.n_levels)
    jxl = result["jxl"]
    codec.decode(payload, codes.shape, q.n_levels)
    imagecodecs.jpegxl_decode(jxl)
    t_vq, t_jxl = [], []
    for _ in range(repeat):  # interleaved, so load on the shared machine hits both alike
        t0 = time.perf_counter()
        codec.decode(payload, codes.shape, q.n_levels)
        t_vq.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        imagecodecs.jpegxl_decode(jxl)
        t_jxl.append(time.perf_counter() - t0)
    a, b = statistics.median(t_vq), statistics.median(t_jxl)
    return row(label, fmt_ms(a), f"{fmt_ms(b)} ({result['jxl_input']})", f"{a / b:.2f}x")


def main() -> None:
    quick = "--quick" in sys.argv
    images = {"face": face(gray=True), "camera": sample("camera", gray=True)}
    for name in COLOUR:
        images[name] = sample(name)[..., :3]
    if quick:
        images = {n: images[n] for n in ("face", "chelsea")}
    lines = [
        row("image", "k", "auto (codec)", "packed", "lzma", "context", "context2",
            "WebP lossless m6", "JPEG XL e9", "oxipng", "auto / best peer"),
        row(*["---"] * 11),
    ]
    print("\n".join(lines), flush=True)
    results = {}
    wins = 0
    for name, img in images.items():
        for k in LEVELS:
            r = cell(name, img, k)
            results[(name, k)] = r
            s, p = r["sizes"], r["peers"]
            best = min(p.values())
            ratio = s["auto"] / best
            wins += ratio < 1
            lines.append(row(
                name, k, f"{s['auto']:,} ({r['auto_codec']})",
                *(f"{s[c]:,}" for c in VQ_CODECS), *(f"{v:,}" for v in p.values()),
                f"**{ratio:.3f}**" if ratio < 1 else f"{ratio:.3f}",
            ))
            print(lines[-1], flush=True)
    timing = [
        "",
        row("decode (median of 5, interleaved)", "context2", "JPEG XL e9 (input)",
            "ratio"),
        row(*["---"] * 4),
    ]
    for key in (("face", 8), ("chelsea", 256)):
        if key in results:
            timing.append(decode_ratio(f"{key[0]}, k = {key[1]}", results[key]))
            print(timing[-1], flush=True)
    n = len(results)
    text = "\n".join([
        "# Codecs against lossless peers",
        "",
        f"Machine: {machine()}; shared with other jobs, so times are medians of interleaved "
        "runs and only their ratios mean much. `python benchmarks/bench_codecs.py` quantizes "
        "face and camera with `vqimage.fit` (optimal scalar levels) and astronaut, coffee and "
        "chelsea with `vqimage.fit_palette`, and gives the same codes to every coder. Sizes "
        "are whole files in bytes: the `.vqi` file (header, quantizer JSON, payload, CRC) per "
        "codec, `auto` the smallest; WebP lossless (quality 100, method 6) of the quantized "
        "image; JPEG XL lossless effort 9, the smaller of the quantized image and the index "
        "image as gray; the indexed PNG optimised by oxipng level 6. The last column is "
        f"auto over the best peer (bold: vqimage is smaller; {wins} of {n} cells).",
        "",
        *lines,
        *timing,
        "",
    ])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(f"\nwritten to {OUT}")


if __name__ == "__main__":
    main()
