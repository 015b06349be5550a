"""
A colour palette
================

The colour raccoon face has over a hundred thousand distinct colours. :func:`vqimage.fit_palette`
picks a few representative ones (k-means on the image's colour histogram), and every pixel is
stored as the index of its nearest palette colour — one code per pixel, like a gray level.
"""

import numpy as np
from matplotlib.figure import Figure

import vqimage

rgb = vqimage.data.face(gray=False)
distinct = len(np.unique(rgb.reshape(-1, 3), axis=0))
print(f"{rgb.shape} {rgb.dtype}, {distinct:,} distinct colours, {rgb.nbytes:,} bytes")

# %%
# Fit 16 colours, then encode the image plainly and with Floyd–Steinberg dithering, which
# spreads each pixel's error onto its neighbours to hide the bands.

q = vqimage.fit_palette(rgb, 16)
plain = q.quantize(rgb)
dithered = q.decode(q.encode(rgb, dither=True))
for name, img in (("plain", plain), ("dithered", dithered)):
    print(f"{name:>8}: PSNR {vqimage.metrics.psnr(img, rgb):.2f} dB")

fig = Figure(figsize=(12, 5.2), layout="constrained")
axes = fig.subplots(1, 3)
for ax, img, title in zip(axes, (rgb, plain, dithered),
                          ("original", "16 colours", "16 colours, dithered")):
    ax.imshow(img[200:500, 300:700])
    ax.set_title(title)
    ax.axis("off")
swatch = fig.add_axes((0.25, 0.02, 0.5, 0.06))
swatch.imshow(q.codebook.astype(np.uint8)[np.newaxis], aspect="auto")
swatch.set_axis_off()
_ = fig.suptitle("A 16-colour palette (the strip at the bottom) on a crop of the face")

# %%
# More colours, and what they cost on disk: :func:`vqimage.compress` stores the palette and
# the coded indices in a ``.vqi`` file.

for k in (16, 64, 256):
    pq = q if k == 16 else vqimage.fit_palette(rgb, k)
    c = vqimage.compress(rgb, quantizer=pq)
    size = len(c.tobytes())
    print(f"{k:>3} colours: PSNR {vqimage.metrics.psnr(c.decompress(), rgb):.2f} dB, "
          f"{size:,} bytes ({8 * size / (rgb.shape[0] * rgb.shape[1]):.2f} bits/pixel, "
          f"{rgb.nbytes / size:.1f}x smaller than raw)")

# %%
# The same codes as standard files anyone can open: an indexed PNG and a lossless WebP
# (what ``vqimage compress photo.jpg -o photo.png -k 64`` writes).

c64 = vqimage.compress(rgb, quantizer=vqimage.fit_palette(rgb, 64))
print(f"64 colours: .vqi {len(c64.tobytes()):,} bytes, PNG {len(c64.to_png()):,} bytes, "
      f"WebP {len(c64.to_webp()):,} bytes")
