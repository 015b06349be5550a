"""Write the reference ``.vqi`` files in this folder (format version 1).

    python tests/data/make_reference.py

The files are committed; ``tests/test_format.py`` reads them back, so every later version of
vqimage must keep reading today's files. Sources are a crop of scikit-image's ``camera`` and
small arrays made with exact integer / dyadic arithmetic (no RNG, no transcendental functions),
so the tests can regenerate them bit for bit on any machine. ``reference.json`` records, per
file, how it was made and SHA-256 digests of the file and of its decompressed array.

Run it again only when a new format version is introduced (and then keep the old files).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def camera_crop() -> np.ndarray:
    """48x64 uint8 crop of scikit-image's camera (the photographer's head and shoulder)."""
    from skimage import data

    return np.ascontiguousarray(data.camera()[200:248, 180:244])


def ramp_u16() -> np.ndarray:
    """24x40 uint16 with about 900 distinct values over the whole 16-bit range."""
    i, j = np.mgrid[0:24, 0:40].astype(np.int64)
    return ((i * 2711 + j * 1613 + (i * j % 97) * 61) % 65536).astype(np.uint16)


def wave_f32() -> np.ndarray:
    """6x20x3 float32 (a small colour image), dyadic values so they are exact everywhere."""
    i, j, c = np.mgrid[0:6, 0:20, 0:3].astype(np.int64)
    v = ((i * 7 + j * 3 + c * 5) % 17) / 16.0 - ((i * j) % 5) * 0.125
    return v.astype(np.float32)


def signal_f32() -> np.ndarray:
    """1-D float32 signal of 101 samples (odd length)."""
    t = np.arange(101, dtype=np.int64)
    return (((t * 37) % 64) - 32 + (t % 7) * 0.5).astype(np.float32)


def constant_u8() -> np.ndarray:
    """7x9 uint8, every value 42 (a 1-level quantizer: no code bits at all)."""
    return np.full((7, 9), 42, dtype=np.uint8)


SOURCES: dict[str, Callable[[], np.ndarray]] = {
    "camera_crop": camera_crop,
    "ramp_u16": ramp_u16,
    "wave_f32": wave_f32,
    "signal_f32": signal_f32,
    "constant_u8": constant_u8,
}

# (file name, source, n_levels, codec)
CASES: list[tuple[str, str, int, str]] = [
    ("camera8_packed.vqi", "camera_crop", 8, "packed"),
    ("camera8_lzma.vqi", "camera_crop", 8, "lzma"),
    ("camera8_context.vqi", "camera_crop", 8, "context"),
    ("ramp_u16_16_context.vqi", "ramp_u16", 16, "context"),
    ("ramp_u16_300_packed.vqi", "ramp_u16", 300, "packed"),
    ("ramp_u16_300_lzma.vqi", "ramp_u16", 300, "lzma"),
    ("ramp_u16_300_context.vqi", "ramp_u16", 300, "context"),
    ("wave_f32_5_packed.vqi", "wave_f32", 5, "packed"),
    ("wave_f32_5_lzma.vqi", "wave_f32", 5, "lzma"),
    ("wave_f32_5_context.vqi", "wave_f32", 5, "context"),
    ("signal_f32_4_context.vqi", "signal_f32", 4, "context"),
    ("constant_u8_packed.vqi", "constant_u8", 8, "packed"),
]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main() -> None:
    import vqimage

    entries = []
    for name, source, n_levels, codec in CASES:
        image = SOURCES[source]()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", vqimage.FewerLevelsWarning)
            c = vqimage.compress(image, n_levels, codec=codec)
        data = c.tobytes()
        (HERE / name).write_bytes(data)
        out = c.decompress()
        entries.append({
            "file": name,
            "source": source,
            "n_levels_asked": n_levels,
            "n_levels": int(c.quantizer.n_levels),
            "codec": codec,
            "shape": list(out.shape),
            "dtype": out.dtype.str,
            "file_sha256": sha256(data),
            "decompressed_sha256": sha256(np.ascontiguousarray(out).tobytes()),
        })
        print(f"{name:28s} {len(data):6d} bytes")
    (HERE / "reference.json").write_text(json.dumps(entries, indent=1) + "\n")


if __name__ == "__main__":
    main()
