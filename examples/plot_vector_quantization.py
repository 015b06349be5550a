"""
Vector quantization of the raccoon face
=======================================

scikit-learn's gallery example *Vector Quantization Example* reduces the raccoon face to 8
gray levels with ``KBinsDiscretizer`` and then finds that its "compressed" image needs eight
times *more* memory than the original. This page walks the same road with vqimage: the same
picture, the same strategies plus an exact minimum-error one, and a memory account that ends
with the image actually smaller — every number below is computed when the page is built.
"""

# %%
# The image
# ---------
#
# :func:`vqimage.data.face` loads the gray raccoon face through ``scipy.datasets.face``
# without touching the network (the documentation build places the file in pooch's cache).
# It is a 768 x 1024 array of 8-bit integers: one byte, up to 256 shades of gray, per pixel.

import tempfile
from pathlib import Path

import numpy as np

import vqimage

face = vqimage.data.face(gray=True)
print(f"shape {face.shape}, dtype {face.dtype}, {face.nbytes:,} bytes")

fig = vqimage.plot.image_and_histogram(face, "The raccoon face: 256 gray levels")

# %%
# The histogram is far from flat: most pixels sit in the middle of the range and the
# brightest values are rare. That matters for where the 8 levels should go.
#
# Four ways to choose 8 levels
# ----------------------------
#
# A scalar quantizer cuts the value axis into bins; each pixel is replaced by the code of its
# bin (0 to 7, so 3 bits) and decoded to that bin's level. :func:`vqimage.fit` chooses the
# bins with one of four strategies:
#
# - ``uniform``: 8 bins of equal width over ``[min, max]``;
# - ``quantile``: 8 bins holding the same number of pixels;
# - ``kmeans``: Lloyd's 1-D k-means started from the uniform bins (a local optimum);
# - ``optimal``: the bins with the smallest possible squared error (exact 1-D k-means,
#   found on the image's 256-bin histogram).
#
# The first three are scikit-learn's ``KBinsDiscretizer`` strategies, fitted the same way.

n_levels = 8
strategies = ("uniform", "quantile", "kmeans", "optimal")
quantizers = {s: vqimage.fit(face, n_levels, strategy=s) for s in strategies}
value_range = (float(face.min()), float(face.max()))


def draw(strategy):
    """The quantized image beside its histogram, then the bins on the original histogram."""
    q = quantizers[strategy]
    rendering = vqimage.plot.image_and_histogram(
        q.quantize(face),
        f"{strategy}: {n_levels} levels, 3 bits per pixel",
        hist_title="Distribution of the quantized values",
        value_range=value_range,
    )
    bins = vqimage.plot.histogram_with_centers(face, q)
    return rendering, bins


# %%
# Uniform bins
# ^^^^^^^^^^^^
#
# Equal widths ignore the histogram: the top bins hold few pixels, while the crowded middle
# gets no more levels than the empty ends.

figs = draw("uniform")
print("bin centres:", np.round(quantizers["uniform"].centers, 3))

# %%
# Equal-count (quantile) bins
# ^^^^^^^^^^^^^^^^^^^^^^^^^^^
#
# Each bin holds about one eighth of the pixels, so the levels crowd where the pixels are;
# the rare bright values share one wide bin.

figs = draw("quantile")
print("bin centres:", np.round(quantizers["quantile"].centers, 3))

# %%
# K-means bins
# ^^^^^^^^^^^^
#
# Lloyd's iterations move every level to the mean of its bin and every edge halfway between
# neighbouring levels. The dashed lines are the codebook: vqimage decodes each bin to the mean
# of its pixels (the least-squares value), not to the midpoint of its edges.

figs = draw("kmeans")
print("bin centres:", np.round(quantizers["kmeans"].centers, 3))
print("codebook:   ", np.round(quantizers["kmeans"].codebook, 3))

# %%
# Optimal bins
# ^^^^^^^^^^^^
#
# k-means can stop in a local optimum; ``optimal`` searches every way of cutting the
# histogram into 8 bins and keeps the one with the least squared error.

figs = draw("optimal")
print("bin centres:", np.round(quantizers["optimal"].centers, 3))

# %%
# How far is each from the original?
# ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^

for s, q in quantizers.items():
    rec = q.quantize(face)
    print(f"{s:>9}: MSE {vqimage.metrics.mse(rec, face):7.2f}, "
          f"PSNR {vqimage.metrics.psnr(rec, face):5.2f} dB")

# %%
# The memory footprint
# --------------------
#
# scikit-learn's transformer returns the codes as float64: 8 bytes for a value that needs
# 3 bits, which is why the seed example ends up eight times *larger* than the image. Holding
# the same codes in the smallest integer type only brings it back to the original size,
# because numpy has no 3-bit type. vqimage goes further: ``codec="packed"`` stores every code
# in exactly 3 bits, and the ``.vqi`` file (``codec="auto"``) entropy-codes them with a
# context model that predicts each code from its neighbours.

q = quantizers["optimal"]
codes = q.encode(face)                                         # uint8 codes 0..7
float_codes = codes.astype(np.float64)                         # what KBinsDiscretizer returns
packed = vqimage.compress(face, quantizer=q, codec="packed")   # 3 bits per code
auto = vqimage.compress(face, quantizer=q)                     # the smallest payload

with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "face.vqi"
    auto.save(path)
    vqi_bytes = path.stat().st_size
    assert (vqimage.load(path).decompress() == q.quantize(face)).all()  # lossless on the codes

sizes = [
    (f"original image ({face.dtype})", face.nbytes),
    ("codes as float64 (KBinsDiscretizer)", float_codes.nbytes),
    (f"codes as {codes.dtype}", codes.nbytes),
    ("packed CompressedImage.nbytes (3 bits/code)", packed.nbytes),
    (f".vqi file (codec {auto.codec!r})", vqi_bytes),
]
for label, n in sizes:
    print(f"{label:44} {n:>10,} bytes  {8 * n / face.size:6.3f} bits/pixel  "
          f"{n / face.nbytes:6.3f} x the image")

# %%
# ``packed.nbytes`` counts the payload, the codebook and the header, so it is a little more
# than ``768 * 1024 * 3 / 8`` bytes. :func:`vqimage.viz.plot.memory_table` draws the same account,
# with a palette PNG of the codes and a PNG of the original for comparison.

fig = vqimage.plot.memory_table(face, q, vqi_bytes=vqi_bytes)
