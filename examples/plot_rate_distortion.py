"""
Rate and distortion
===================

More levels cost more bits and give a better image. :func:`vqimage.viz.plot.rate_distortion`
fits every strategy at 2 to 256 levels, compresses each result into a real ``.vqi`` file and
draws PSNR and SSIM against its bits per pixel (header included), one curve per strategy.
"""

from skimage import data

import vqimage

camera = data.camera()  # 512x512 uint8, bundled with scikit-image
cache = {}  # shared: each quantizer is fitted and measured once
fig = vqimage.plot.rate_distortion(camera, cache=cache)

# %%
# The same measurements as numbers: :func:`vqimage.viz.session.rate_distortion_points` returns them
# (one :class:`~vqimage.viz.session.RDPoint` per strategy and number of levels) without drawing.

points = vqimage.plot.rate_distortion_points(camera, ("kmeans", "optimal"), (4, 8, 16), cache=cache)
for p in points:
    print(f"{p.strategy:>8}, {p.n_levels:>2} levels: {p.vqi_bytes:>6,} bytes = "
          f"{p.bits_per_pixel:.3f} bits/pixel, PSNR {p.psnr:.2f} dB, SSIM {p.ssim:.3f}")

# %%
# At low rates, quantizing 2x2 blocks of pixels together (:func:`vqimage.fit_blocks`) reaches
# sizes scalar levels cannot: ``"blocks"`` can be named wherever a strategy is.

fig = vqimage.plot.rate_distortion(camera, ("optimal", "blocks"), (2, 4, 8, 16, 64), cache=cache)
