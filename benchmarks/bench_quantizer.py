"""Fit + encode of every vqimage strategy against scikit-learn and the exact 1-D peers.

Run: python benchmarks/bench_quantizer.py [--quick]

kmeans1d runs in a child process stopped after 900 s (120 s with --quick); a stopped run is
reported as such.

Everything is measured in one process, so each ratio compares runs on the same machine state.
Peers: scikit-learn KBinsDiscretizer (n_bins=8, ordinal, default subsample, random_state=0),
kmeans1d and jenkspy (exact 1-D k-means), scikit-image threshold_multiotsu, Pillow's gray
quantize, and the numpy floor (bincount + take).
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
from _common import docs_page, fmt_ms, machine, offline_face_cache, timeit

offline_face_cache()

import vqimage  # noqa: E402
from vqimage.data import face  # noqa: E402


def sse_with_means(data: np.ndarray, codes: np.ndarray) -> float:
    """Squared error when each bin is reconstructed by its mean (real-valued levels)."""
    x = data.astype(np.float64).ravel()
    c = codes.ravel().astype(np.intp)
    means = np.bincount(c, weights=x) / np.maximum(np.bincount(c), 1)
    return float(((x - means[c]) ** 2).sum())


def row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def bench_face(img: np.ndarray, quick: bool) -> list[str]:
    from sklearn.preprocessing import KBinsDiscretizer

    out = [
        "# Raccoon face (768x1024 uint8), 8 levels: fit + encode",
        "",
        row("strategy", "vqimage", "scikit-learn", "speed-up", "MSE vqimage (bin means)",
            "MSE scikit-learn (bin means / inverse_transform)"),
        row(*["---"] * 6),
    ]
    col = img.reshape(-1, 1)
    n = img.size
    for strategy in ("uniform", "quantile", "kmeans", "optimal"):
        t_vq = timeit(lambda s=strategy: vqimage.fit(img, 8, strategy=s).encode(img))
        q = vqimage.fit(img, 8, strategy=strategy)
        mse_vq = sse_with_means(img, q.encode(img)) / n
        if strategy == "optimal":
            out.append(row(strategy, fmt_ms(t_vq), "—", "—", f"{mse_vq:.2f}", "—"))
            continue

        def sk(s=strategy):
            est = KBinsDiscretizer(n_bins=8, encode="ordinal", strategy=s, random_state=0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return est, est.fit_transform(col)

        t_sk = timeit(sk, repeat=5)
        est, codes = sk()
        mse_sk = sse_with_means(img, codes.astype(np.intp)) / n
        inv = est.inverse_transform(codes).ravel()
        mse_inv = float(((img.ravel() - inv) ** 2).mean())
        out.append(row(strategy, fmt_ms(t_vq), fmt_ms(t_sk), f"{t_sk / t_vq:.1f}x",
                       f"{mse_vq:.2f}", f"{mse_sk:.2f} / {mse_inv:.2f}"))
    lut = np.zeros(256, np.uint8)
    t_floor = timeit(lambda: (np.bincount(img.ravel(), minlength=256), np.take(lut, img)))
    t_opt = timeit(lambda: vqimage.fit(img, 8).encode(img))
    out += ["", f"numpy floor (bincount + take): {fmt_ms(t_floor)}; optimal fit + encode is "
            f"{t_opt / t_floor:.2f}x the floor.", ""]

    # Exact / multi-level peers on the same pixels.
    out += [row("peer (same pixels)", "levels", "time", "vqimage optimal time", "speed-up",
                "MSE peer", "MSE vqimage optimal"), row(*["---"] * 7)]
    opt = {k: vqimage.fit(img, k) for k in (3, 4, 5, 8)}
    mse_opt = {k: sse_with_means(img, q.encode(img)) / n for k, q in opt.items()}
    t_opt_k = {k: timeit(lambda k=k: vqimage.fit(img, k).encode(img)) for k in opt}
    try:
        import kmeans1d

        flat = img.ravel().astype(np.float64)
        t = timeit(lambda: kmeans1d.cluster(flat, 8), repeat=3, min_time=0)
        clusters, _ = kmeans1d.cluster(flat, 8)
        m = sse_with_means(img, np.asarray(clusters)) / n
        out.append(row("kmeans1d (exact, C++)", 8, fmt_ms(t), fmt_ms(t_opt_k[8]),
                       f"{t / t_opt_k[8]:.0f}x", f"{m:.2f}", f"{mse_opt[8]:.2f}"))
    except ImportError:
        out.append(row("kmeans1d", "not installed", "", "", "", "", ""))
    try:
        import jenkspy

        rng = np.random.default_rng(0)
        sample = rng.choice(img.ravel(), 20_000, replace=False).astype(np.float64)
        t = timeit(lambda: jenkspy.jenks_breaks(sample, n_classes=8), repeat=1, min_time=0)
        breaks = np.asarray(jenkspy.jenks_breaks(sample, n_classes=8))
        codes = np.clip(np.searchsorted(breaks[1:-1], img.ravel(), side="left"), 0, 7)
        m = sse_with_means(img, codes) / n
        out.append(row("jenkspy (20,000-pixel sample)", 8, fmt_ms(t), fmt_ms(t_opt_k[8]),
                       f"{t / t_opt_k[8]:.0f}x", f"{m:.2f}", f"{mse_opt[8]:.2f}"))
    except ImportError:
        out.append(row("jenkspy", "not installed", "", "", "", "", ""))
    from skimage.filters import threshold_multiotsu

    for classes in (3, 4) if quick else (3, 4, 5):
        t = timeit(lambda c=classes: threshold_multiotsu(img, classes=c), repeat=1, min_time=0)
        th = threshold_multiotsu(img, classes=classes)
        codes = np.digitize(img.ravel(), bins=th)
        m = sse_with_means(img, codes) / n
        out.append(row("skimage threshold_multiotsu", classes, fmt_ms(t),
                       fmt_ms(t_opt_k[classes]), f"{t / t_opt_k[classes]:.1f}x", f"{m:.2f}",
                       f"{mse_opt[classes]:.2f}"))
    from PIL import Image

    pil = Image.fromarray(img)
    t = timeit(lambda: np.asarray(pil.quantize(8)))
    pq = pil.quantize(8)
    pal = np.array(pq.getpalette()[: 3 * 8]).reshape(-1, 3)[:, 0]
    rec = pal[np.asarray(pq)]
    m = float(((img.astype(np.float64) - rec) ** 2).mean())
    mbin = sse_with_means(img, np.asarray(pq)) / n
    out.append(row("Pillow Image.quantize (gray)", 8, fmt_ms(t), fmt_ms(t_opt_k[8]),
                   f"{t / t_opt_k[8]:.1f}x", f"{m:.2f} (bin means {mbin:.2f})",
                   f"{mse_opt[8]:.2f}"))
    return out


def _kmeans1d_worker(data: np.ndarray, k: int, conn) -> None:  # runs in a child process
    import time

    import kmeans1d

    t0 = time.perf_counter()
    clusters, _ = kmeans1d.cluster(data, k)
    conn.send((time.perf_counter() - t0, np.asarray(clusters, dtype=np.int32)))


def _kmeans1d_capped(data: np.ndarray, k: int, limit: float):
    """kmeans1d's time and labels; None past ``limit`` seconds, "crashed" if it died."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_kmeans1d_worker, args=(data, k, child))
    proc.start()
    # Only the child writes: without closing our copy, its death never reaches us as EOF.
    child.close()
    try:
        result = parent.recv() if parent.poll(limit) else None
    except EOFError:  # the child died: kmeans1d cannot allocate its k x n tables
        result = "crashed"
    proc.kill()
    proc.join()
    return result


def bench_large(quick: bool, limit: float) -> list[str]:
    try:
        import kmeans1d  # noqa: F401
    except ImportError:
        return ["kmeans1d not installed: large-data comparison skipped"]
    rng = np.random.default_rng(0)
    out = [
        "# `optimal` against kmeans1d on large data",
        "",
        row("data", "k", "vqimage optimal (fit + encode)", "kmeans1d", "speed-up",
            "SSE relative difference"),
        row(*["---"] * 6),
    ]
    normal = rng.normal(size=1_000_000)
    side = 1024 if quick else 4096
    u16 = rng.permutation(np.resize(np.arange(65536, dtype=np.uint16), side * side)).reshape(
        side, side
    )
    vqimage.fit(rng.normal(size=100_000), 8)  # load the compiled kernel outside the timings
    for name, data in (("1e6 float64 normal", normal),
                       (f"{side}x{side} uint16, full 16-bit range", u16)):
        for k in (8, 256):
            t_vq = timeit(lambda d=data, k=k: vqimage.fit(d, k).encode(d), repeat=3, min_time=0)
            q = vqimage.fit(data, k)
            sse_vq = sse_with_means(data, q.encode(data))
            res = _kmeans1d_capped(data.ravel().astype(np.float64), k, limit)
            if res is None or res == "crashed":
                what = f"> {limit:.0f} s (stopped)" if res is None else "crashed (bad_alloc)"
                out.append(row(name, k, fmt_ms(t_vq), what, "—", "—"))
                print(out[-1], file=sys.stderr, flush=True)  # progress, not the page
                continue
            t_km, clusters = res
            sse_km = sse_with_means(data, clusters)
            out.append(row(name, k, fmt_ms(t_vq), fmt_ms(t_km), f"{t_km / t_vq:.1f}x",
                           f"{(sse_vq - sse_km) / sse_km:+.1e}"))
            print(out[-1], file=sys.stderr, flush=True)  # progress, not the page
    return out


def main() -> None:
    quick = "--quick" in sys.argv
    limit = 120.0 if quick else 900.0
    print(f"Machine: {machine()}; numpy {np.__version__}\n")
    img = face(gray=True)
    for line in [*bench_face(img, quick), ""]:
        print(line, flush=True)
    for line in bench_large(quick, limit):
        print(line, flush=True)


if __name__ == "__main__":
    title = "Quantizers: vqimage against scikit-learn, kmeans1d, jenkspy, multi-Otsu, Pillow"
    with docs_page("quantizer", title, "bench_quantizer.py"):
        main()
