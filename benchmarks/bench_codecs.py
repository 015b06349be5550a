"""Sizes and speeds of the .vqi codecs against PNG, lzma and JPEG XL, on quantized images.

Run: python benchmarks/bench_codecs.py [--quick]

For the raccoon face and scikit-image's camera, astronaut and coffee (gray), quantized to 4, 8
and 16 levels by the optimal quantizer, every codec codes the same uint8 codes:

- vqimage ``packed``, ``lzma`` (preset 9 | extreme), ``context`` and ``auto`` (the payload;
  the .vqi file adds a header of about 500 bytes, shown for the face);
- PNG: a Pillow palette image of the codes, ``optimize=True``, at 2 bits (4 levels) or 4 bits
  (8 and 16; PNG has no 3-bit depth);
- JPEG XL lossless (effort 7) of the codes through imagecodecs, when installed.

Times are medians of wall-clock runs in this one process (the machine is shared, so ratios
between rows are what to read); the round-trip goal takes the best of 9 interleaved runs of
each side. ``--quick`` runs the face only.
"""

from __future__ import annotations

import io
import sys
import time
import warnings

import numpy as np
from _common import fmt_ms, machine, offline_face_cache, timeit

offline_face_cache()

import vqimage  # noqa: E402
from vqimage.codecs import encode_best, get_codec  # noqa: E402
from vqimage.data import face, sample  # noqa: E402

LEVELS = (4, 8, 16)
# Anchors from the issue (face, 8 levels): PNG palette file and JPEG XL lossless effort 7.
GOAL_PNG_FRACTION = 0.75


def row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def png_codec(q, codes: np.ndarray):
    from PIL import Image

    palette = [int(v) for v in q.decode(np.arange(q.n_levels)) for _ in range(3)]
    bits = 2 if q.n_levels <= 4 else 4 if q.n_levels <= 16 else 8

    def enc() -> bytes:
        im = Image.frombytes("P", codes.shape[::-1], codes.tobytes())
        im.putpalette(palette)
        buf = io.BytesIO()
        im.save(buf, format="PNG", optimize=True, bits=bits)
        return buf.getvalue()

    def dec(data: bytes) -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(data)))

    return enc, dec


def jxl_codec(codes: np.ndarray):
    try:
        import imagecodecs
    except ImportError:
        return None
    if not imagecodecs.JPEGXL.available:
        return None

    def enc() -> bytes:
        return bytes(imagecodecs.jpegxl_encode(codes, lossless=True, effort=7))

    return enc, imagecodecs.jpegxl_decode


def measure(enc, dec, codes: np.ndarray, repeat: int):
    data = enc()
    out = dec(data)
    assert np.array_equal(np.asarray(out).reshape(codes.shape), codes), "not lossless"
    return len(data), timeit(enc, repeat=repeat, min_time=0), timeit(
        lambda: dec(data), repeat=repeat, min_time=0
    )


def bench_image(name: str, img: np.ndarray, n_levels: int, results: dict) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", vqimage.FewerLevelsWarning)
        q = vqimage.fit(img, n_levels)
    codes = q.encode(img)
    n = codes.size
    lines = []
    peers = {}
    for codec in ("packed", "lzma", "context"):
        c = get_codec(codec)
        peers[codec] = (
            lambda c=c: c.encode(codes, q.n_levels),
            lambda d, c=c: c.decode(d, codes.shape, q.n_levels),
        )
    auto_name = encode_best(codes, q.n_levels)[0]
    peers[f"auto (= {auto_name})"] = (
        lambda: encode_best(codes, q.n_levels)[1],  # tries packed and context
        peers[auto_name][1],
    )
    peers["PNG palette, optimize"] = png_codec(q, codes)
    jxl = jxl_codec(codes)
    if jxl is not None:
        peers["JPEG XL lossless, effort 7"] = jxl
    for label, (enc, dec) in peers.items():
        slow = label.startswith(("lzma", "JPEG", "PNG"))
        size, t_enc, t_dec = measure(enc, dec, codes, repeat=3 if slow else 7)
        results[(name, n_levels, label.split(" ")[0])] = (size, t_enc, t_dec)
        lines.append(row(
            f"{name} {n_levels}", label, f"{size:,}", f"{8 * size / n:.3f}",
            f"{n / size:.1f}x", fmt_ms(t_enc), fmt_ms(t_dec),
        ))
    return lines


def goal_lines(img: np.ndarray, results: dict) -> list[str]:
    out = ["", "### Goals (face, 8 levels)", ""]
    q = vqimage.fit(img, 8)
    codes = q.encode(img)
    lut = q._encode_lut(img.dtype)
    packed = get_codec("packed")
    t_take = timeit(lambda: np.take(lut, img), repeat=21)
    t_packed = timeit(
        lambda: packed.decode(packed.encode(codes, 8), codes.shape, 8), repeat=21
    )
    auto = vqimage.compress(img, 8)
    file_size = len(auto.tobytes())
    png_size = results[("face", 8, "PNG")][0]
    enc, dec = png_codec(q, codes)

    def vq_round_trip():
        return vqimage.load(vqimage.compress(img, 8).tobytes()).decompress()

    def png_round_trip():
        return dec(enc())

    # Interleave the two so that load on the shared machine hits both alike, and keep the
    # best run of each: the least disturbed measurement of what each costs.
    t_vq, t_png = [], []
    for _ in range(9):
        t0 = time.perf_counter()
        vq_round_trip()
        t_vq.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        png_round_trip()
        t_png.append(time.perf_counter() - t0)
    t_vq_med, t_png_med = min(t_vq), min(t_png)
    out += [
        row("goal", "measured", "target", "met"),
        row(*["---"] * 4),
        row(
            "auto .vqi file vs PNG palette file",
            f"{file_size:,} B vs {png_size:,} B = {file_size / png_size:.3f}x",
            f"<= {GOAL_PNG_FRACTION}x",
            "yes" if file_size <= GOAL_PNG_FRACTION * png_size else "NO",
        ),
        row(
            "compress (fit + code) + load + decompress vs PNG save (optimize) + open + decode"
            " (best of 9, interleaved)",
            f"{fmt_ms(t_vq_med)} vs {fmt_ms(t_png_med)} = {t_vq_med / t_png_med:.2f}x",
            "<= 1x", "yes" if t_vq_med <= t_png_med else "NO",
        ),
    ]
    jxl = results.get(("face", 8, "JPEG"))
    if jxl is not None:
        out.append(row(
            "moonshot: auto .vqi file vs JPEG XL lossless (effort 7)",
            f"{file_size:,} B vs {jxl[0]:,} B = {file_size / jxl[0]:.3f}x", "< 1x",
            "yes" if file_size < jxl[0] else "no",
        ))
    out.append(row(
        "packed encode + decode vs np.take(lut, face)",
        f"{fmt_ms(t_packed)} vs {fmt_ms(t_take)} = {t_packed / t_take:.2f}x", "<= 3x",
        "yes" if t_packed <= 3 * t_take else "NO",
    ))
    packed_c = vqimage.compress(img, quantizer=q, codec="packed")
    out += [
        "",
        "In memory (face, 8 levels): raw uint8 786,432 B; the seed's float64 codes "
        f"{img.size * 8:,} B; packed CompressedImage.nbytes {packed_c.nbytes:,} B; "
        f"auto .vqi file {file_size:,} B.",
    ]
    return out


def main() -> None:
    quick = "--quick" in sys.argv
    images = {"face": face()}
    if not quick:
        for name in ("camera", "astronaut", "coffee"):
            images[name] = sample(name, gray=True)
    header = [
        f"Machine: {machine()}",
        "",
        row("image, levels", "codec", "bytes", "bits/pixel", "ratio to raw", "encode",
            "decode"),
        row(*["---"] * 7),
    ]
    print("\n".join(header), flush=True)
    results: dict = {}
    for name, img in images.items():
        for n_levels in LEVELS:
            for line in bench_image(name, img, n_levels, results):
                print(line, flush=True)
    print("\n".join(goal_lines(images["face"], results)))


if __name__ == "__main__":
    main()
