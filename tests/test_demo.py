"""The seed walkthrough (library function and `vqimage demo`) on the real default image."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np

from vqimage.data import default_image
from vqimage.viz.demo import format_walkthrough, walkthrough


def test_default_image_is_the_face_offline(face):
    name, img = default_image()
    assert "raccoon" in name
    np.testing.assert_array_equal(img, face)


def test_default_image_falls_back_to_camera(monkeypatch):
    monkeypatch.setenv("VQIMAGE_NO_FACE", "1")
    name, img = default_image()
    assert name.startswith("camera") and img.shape == (512, 512)


def test_walkthrough_on_face(face):
    w = walkthrough(face, "face", 8)
    by = {r.strategy: r for r in w.results}
    assert by["uniform"].quantizer.centers.tolist()[0] == 15.625
    assert by["optimal"].mse <= min(r.mse for r in w.results) + 1e-9
    text = format_walkthrough(w)
    assert "shape (768, 1024), dtype uint8, 786,432 bytes" in text
    for s in ("uniform", "quantile", "kmeans", "optimal"):
        assert s in text


def _cli() -> list[str]:
    exe = shutil.which("vqimage")
    return [exe] if exe else [sys.executable, "-m", "vqimage.cli"]


def test_cli_demo_prints_the_walkthrough(face):
    res = subprocess.run([*_cli(), "demo"], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ))
    assert res.returncode == 0, res.stderr
    assert "raccoon face" in res.stdout
    assert "786,432 bytes" in res.stdout
    assert "15.625" in res.stdout
    assert "optimal" in res.stdout and "PSNR" in res.stdout
