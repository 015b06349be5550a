"""Colour palettes: vqimage.fit_palette + encode against Pillow, libimagequant and scikit-learn.

Run: python benchmarks/bench_palette.py [--quick] [--full-kmeans] [--rd]

One process, interleaved rounds: every method runs once per round (after one untimed warm-up),
for 5 rounds, and the table reports the median, so each ratio compares runs on the same machine
state. Every method produces the indexed image (palette + one code per pixel) from the RGB
array, without dithering; PSNR is over the three channels of the reconstruction.

Peers
-----
* Pillow ``Image.quantize``: median cut, maximum coverage, fast octree (``dither=NONE``).
* libimagequant through PyPI ``imagequant`` (``dithering_level=0``; quality 0-100). GPL-3: a peer
  to measure against, imported here only, never by vqimage.
* scikit-learn's gallery recipe "Color Quantization using K-Means": ``KMeans(n_clusters=k,
  random_state=0)`` fitted on 1000 random pixels, then ``predict`` on all pixels.
* ``--full-kmeans``: scikit-learn ``KMeans(n_init=1)`` on every distinct colour weighted by its
  count, run once (the quality ceiling of k-means, not timed against the others).

``--rd`` adds the rate–distortion comparisons on real ``.vqi`` bytes (``vqimage.compress``,
codec auto): 2x2 block VQ against scalar levels on the gray face, and a palette against
per-channel quantization on coffee, each point with the PSNR the other curve reaches at the
same file size (linear interpolation between its points).
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np
from _common import docs_page, machine, offline_face_cache

offline_face_cache()

import vqimage  # noqa: E402
from vqimage.core.metrics import psnr  # noqa: E402
from vqimage.data import sample  # noqa: E402

IMAGES = ("face", "astronaut", "coffee", "chelsea")
LEVELS = (16, 64, 256)
ROUNDS = 5


def vq(img: np.ndarray, k: int, strategy: str = "kmeans") -> np.ndarray:
    q = vqimage.fit_palette(img, k, strategy=strategy)
    return q.decode(q.encode(img))


def pillow(img: np.ndarray, k: int, method: str) -> np.ndarray:
    from PIL import Image

    m = {
        "median": Image.Quantize.MEDIANCUT,
        "maxcov": Image.Quantize.MAXCOVERAGE,
        "octree": Image.Quantize.FASTOCTREE,
    }[method]
    p = Image.fromarray(img).quantize(k, method=m, dither=Image.Dither.NONE)
    pal = np.array(p.getpalette()[: 3 * 256], dtype=np.uint8).reshape(-1, 3)
    return pal[np.asarray(p)]


def libimagequant(img: np.ndarray, k: int) -> np.ndarray:
    import imagequant

    h, w, _ = img.shape
    rgba = np.dstack([img, np.full((h, w), 255, np.uint8)]).tobytes()
    out, pal = imagequant.quantize_raw_rgba_bytes(rgba, w, h, dithering_level=0.0, max_colors=k)
    pal = np.array(pal, dtype=np.uint8).reshape(-1, 4)[:, :3]
    return pal[np.frombuffer(out, np.uint8).reshape(h, w)]


def sklearn_1000(img: np.ndarray, k: int) -> np.ndarray:
    from sklearn.cluster import KMeans
    from sklearn.utils import shuffle

    pixels = img.reshape(-1, 3).astype(np.float64) / 255
    fit_on = shuffle(pixels, random_state=0, n_samples=1_000)
    km = KMeans(n_clusters=k, random_state=0).fit(fit_on)
    labels = km.predict(pixels)
    pal = np.clip(np.rint(km.cluster_centers_ * 255), 0, 255).astype(np.uint8)
    return pal[labels].reshape(img.shape)


def full_kmeans(img: np.ndarray, k: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    colours, counts = np.unique(img.reshape(-1, 3), axis=0, return_counts=True)
    km = KMeans(n_clusters=k, n_init=1, random_state=0).fit(
        colours.astype(np.float64), sample_weight=counts
    )
    pal = np.clip(np.rint(km.cluster_centers_), 0, 255).astype(np.uint8)
    return pal[km.predict(img.reshape(-1, 3).astype(np.float64))].reshape(img.shape)


METHODS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "vqimage kmeans": vq,
    "vqimage median-cut": lambda img, k: vq(img, k, "median-cut"),
    "libimagequant": libimagequant,
    "Pillow median cut": lambda img, k: pillow(img, k, "median"),
    "Pillow max coverage": lambda img, k: pillow(img, k, "maxcov"),
    "Pillow fast octree": lambda img, k: pillow(img, k, "octree"),
    "scikit-learn KMeans (1000 px)": sklearn_1000,
}


def run_case(img: np.ndarray, k: int) -> dict[str, tuple[float, float]]:
    """PSNR and median time of every method on one image and palette size."""
    times: dict[str, list[float]] = {m: [] for m in METHODS}
    quality: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, fn in METHODS.items():  # warm-up: imports, JIT, caches
            quality[name] = psnr(fn(img, k), img)
        for _ in range(ROUNDS):
            for name, fn in METHODS.items():
                t0 = time.perf_counter()
                fn(img, k)
                times[name].append(time.perf_counter() - t0)
    return {m: (quality[m], statistics.median(times[m])) for m in METHODS}


def main(argv: list[str]) -> None:
    quick = "--quick" in argv
    images = IMAGES[:2] if quick else IMAGES
    levels = (16, 256) if quick else LEVELS
    print(f"Machine: {machine()}\n")
    print("PSNR (dB, RGB) / median time of 5 interleaved runs, no dithering.\n")
    names = list(METHODS)
    print("| image | k | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    summary = []
    ceiling = []
    for name in images:
        img = sample(name)
        for k in levels:
            res = run_case(img, k)
            cells = [f"{res[m][0]:.2f} / {res[m][1] * 1e3:.0f} ms" for m in names]
            label = f"{name} {img.shape[1]}x{img.shape[0]}"
            print(f"| {label} | {k} | " + " | ".join(cells) + " |", flush=True)
            ours, liq = res["vqimage kmeans"], res["libimagequant"]
            summary.append((label, k, ours[0] - liq[0], ours[1] / liq[1]))
            if "--full-kmeans" in argv:
                t0 = time.perf_counter()
                p = psnr(full_kmeans(img, k), img)
                ceiling.append((label, k, p, time.perf_counter() - t0, ours[0]))
    print("\nvqimage kmeans against libimagequant in the same run:\n")
    print("| image | k | PSNR difference | time ratio (vqimage / libimagequant) |")
    print("|---|---|---|---|")
    for label, k, dp, ratio in summary:
        print(f"| {label} | {k} | {dp:+.2f} dB | {ratio:.2f} |")
    if ceiling:
        print("\nFull weighted k-means (scikit-learn, n_init=1, every distinct colour), once:\n")
        print("| image | k | full k-means PSNR | its time | vqimage kmeans PSNR |")
        print("|---|---|---|---|---|")
        for label, k, p, t, o in ceiling:
            print(f"| {label} | {k} | {p:.2f} dB | {t:.2f} s | {o:.2f} dB |")
    # Dithering cost: Floyd–Steinberg encode against the plain encode of the same palette.
    img = sample(images[0])
    q = vqimage.fit_palette(img, 64)
    q.encode(img, dither=True)
    plain = statistics.median(_time(lambda: q.encode(img)) for _ in range(ROUNDS))
    dith = statistics.median(_time(lambda: q.encode(img, dither=True)) for _ in range(ROUNDS))
    print(
        f"\nFloyd–Steinberg encode ({images[0]}, 64 colours): {dith * 1e3:.0f} ms against "
        f"{plain * 1e3:.0f} ms undithered ({dith / plain:.1f}x)."
    )
    if "--rd" in argv:
        rd_tables()


def rd_tables() -> None:
    from vqimage.viz import plot

    cases = [
        ("raccoon face, gray", sample("face", gray=True), "optimal", "blocks",
         (2, 4, 8, 16, 64), (2, 4, 8, 16, 64, 256)),
        ("coffee, RGB", sample("coffee"), "channels", "palette",
         (2, 4, 8, 16, 64, 256), (2, 4, 8, 16, 64, 256)),
    ]
    for label, img, base, vec, base_levels, vec_levels in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pts = plot.rate_distortion_points(img, (base,), base_levels) + \
                plot.rate_distortion_points(img, (vec,), vec_levels)
        ref = sorted((p.vqi_bytes, p.psnr) for p in pts if p.strategy == base)
        fin = [(b, q) for b, q in ref if np.isfinite(q)]
        print(f"\n{label}: {vec} against {base} on .vqi bytes\n")
        print(f"| {vec} k | bytes | PSNR | {base} PSNR at the same bytes | gain |")
        print("|---|---|---|---|---|")
        for p in pts:
            if p.strategy != vec:
                continue
            if fin[0][0] <= p.vqi_bytes <= fin[-1][0]:
                other = float(np.interp(p.vqi_bytes, *zip(*fin)))
                print(f"| {p.n_levels} | {p.vqi_bytes:,} | {p.psnr:.2f} dB | {other:.2f} dB | "
                      f"{p.psnr - other:+.2f} dB |")
            else:
                print(f"| {p.n_levels} | {p.vqi_bytes:,} | {p.psnr:.2f} dB | (outside) | |")
        print(f"\n{base} points: " + ", ".join(
            f"k={p.n_levels}: {p.vqi_bytes:,} B, {p.psnr:.2f} dB" for p in pts
            if p.strategy == base))


def _time(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    title = "Colour palettes and vector quantization against libimagequant, Pillow, scikit-learn"
    with docs_page("palette", title, "bench_palette.py"):
        main(sys.argv[1:])
