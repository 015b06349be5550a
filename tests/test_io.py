"""vqimage.io: images in and out with their dtype and bit depth, atomically."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from vqimage._shared.fs import atomic_write
from vqimage.errors import FormatError
from vqimage.io import encode_image, is_image_path, read_image, to_gray, write_image


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


@pytest.mark.parametrize("suffix", [".png", ".tif", ".tiff", ".bmp", ".npy"])
def test_gray_uint8_round_trip(tmp_path, camera, suffix):
    p = write_image(tmp_path / f"camera{suffix}", camera)
    back = read_image(p)
    assert back.dtype == np.uint8 and back.shape == camera.shape
    np.testing.assert_array_equal(back, camera)


@pytest.mark.parametrize("suffix", [".png", ".tif", ".bmp", ".npy"])
def test_colour_round_trip(tmp_path, astronaut, suffix):
    back = read_image(write_image(tmp_path / f"a{suffix}", astronaut))
    np.testing.assert_array_equal(back, astronaut)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_round_trip(tmp_path, camera, suffix):
    img = camera.astype(np.uint16) * 257 + 3  # uses the full 16-bit range, odd values too
    p = write_image(tmp_path / f"c16{suffix}", img)
    back = read_image(p)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, img)
    if suffix == ".png":
        with Image.open(p) as im:  # a real 16-bit PNG, not a rescaled 8-bit one
            assert im.mode.startswith("I")


def test_16_bit_colour_png(tmp_path, astronaut):
    img = astronaut.astype(np.uint16) * 257
    back = read_image(write_image(tmp_path / "a16.png", img))
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, img)


def test_16_bit_png_from_another_encoder(tmp_path, camera):
    imagecodecs = pytest.importorskip("imagecodecs")
    img = camera.astype(np.uint16) * 250
    (tmp_path / "x.png").write_bytes(imagecodecs.png_encode(img))
    np.testing.assert_array_equal(read_image(tmp_path / "x.png"), img)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.int32])
def test_any_dtype_through_tiff_and_npy(tmp_path, camera, dtype):
    shifted = camera.astype(np.float64) - 100.0
    img = (shifted / 3 if np.dtype(dtype).kind == "f" else shifted).astype(dtype)
    for suffix in (".tif", ".npy"):
        back = read_image(write_image(tmp_path / f"x{suffix}", img))
        assert back.dtype == img.dtype
        np.testing.assert_array_equal(back, img)


def test_lossy_formats_keep_shape_and_dtype(tmp_path, astronaut):
    for suffix in (".jpg", ".jpeg", ".webp"):
        back = read_image(write_image(tmp_path / f"a{suffix}", astronaut))
        assert back.shape == astronaut.shape and back.dtype == np.uint8
        assert np.abs(back.astype(int) - astronaut).mean() < 8


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_into_png_is_refused(tmp_path, camera, dtype):
    with pytest.raises(FormatError, match=r"\.tif or \.npy") as err:
        write_image(tmp_path / "f.png", camera.astype(dtype) / 255)
    assert "floating-point" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_other_dtypes_refused_by_8_bit_formats(tmp_path, camera):
    with pytest.raises(FormatError, match=r"\.tif or \.npy"):
        write_image(tmp_path / "x.png", camera.astype(np.int16))
    with pytest.raises(FormatError, match="8-bit"):
        write_image(tmp_path / "x.jpg", camera.astype(np.uint16))
    with pytest.raises(FormatError, match="choose one of"):
        write_image(tmp_path / "x.gif", camera)
    with pytest.raises(FormatError, match="shape"):
        write_image(tmp_path / "x.png", np.zeros((2, 3, 4, 5), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_existing_file_kept_unless_overwrite(tmp_path, camera):
    p = tmp_path / "c.png"
    p.write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        write_image(p, camera)
    assert p.read_bytes() == b"precious"
    write_image(p, camera, overwrite=True)
    np.testing.assert_array_equal(read_image(p), camera)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["c.png"]


def test_failed_write_leaves_nothing(tmp_path):
    def boom(f):
        f.write(b"half of it")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        atomic_write(tmp_path / "out.bin", boom)
    with pytest.raises(OSError, match="No space"):
        (tmp_path / "keep.bin").write_bytes(b"old")
        atomic_write(tmp_path / "keep.bin", boom, overwrite=True)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["keep.bin"]
    assert (tmp_path / "keep.bin").read_bytes() == b"old"


def test_written_file_has_usual_permissions(tmp_path, camera):
    import os

    umask = os.umask(0o022)
    try:
        p = write_image(tmp_path / "c.png", camera)
    finally:
        os.umask(umask)
    assert p.stat().st_mode & 0o777 == 0o644


def test_unreadable_files(tmp_path, camera):
    good = {s: encode_image(camera, s) for s in (".png", ".tif", ".npy", ".bmp", ".jpg")}
    for suffix, data in good.items():
        (tmp_path / f"trunc{suffix}").write_bytes(data[: len(data) // 3])
        (tmp_path / f"junk{suffix}").write_bytes(b"this is not an image at all" * 10)
        for name in (f"trunc{suffix}", f"junk{suffix}"):
            with pytest.raises(FormatError, match="not a readable"):
                read_image(tmp_path / name)
    with pytest.raises(FileNotFoundError):
        read_image(tmp_path / "missing.png")
    with pytest.raises(IsADirectoryError):
        read_image(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(FormatError, match=r"unknown image type '\.txt'"):
        read_image(tmp_path / "notes.txt")


def test_pillow_modes_are_expanded(tmp_path, astronaut):
    Image.fromarray(astronaut).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(
        tmp_path / "p.png")
    pal = read_image(tmp_path / "p.png")
    assert pal.shape == astronaut.shape and pal.dtype == np.uint8
    assert len(np.unique(pal.reshape(-1, 3), axis=0)) <= 16
    Image.fromarray(astronaut[..., 0] > 128).save(tmp_path / "b.png")
    bw = read_image(tmp_path / "b.png")
    assert bw.dtype == np.uint8 and set(np.unique(bw)) <= {0, 255}


def test_to_gray_matches_pillow_and_keeps_dtype(astronaut):
    ref = np.asarray(Image.fromarray(astronaut).convert("L"))
    np.testing.assert_array_equal(to_gray(astronaut), ref)
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 7, np.uint8)])
    np.testing.assert_array_equal(to_gray(rgba), ref)
    wide = to_gray(astronaut.astype(np.uint16) * 257)
    assert wide.dtype == np.uint16
    assert np.abs(wide.astype(int) - ref.astype(int) * 257).max() <= 257
    f = to_gray(astronaut.astype(np.float32) / 255)
    assert f.dtype == np.float32
    np.testing.assert_allclose(f, astronaut @ np.array([0.299, 0.587, 0.114]) / 255, atol=1e-6)
    grayish = np.repeat(astronaut[..., :1], 3, axis=2)
    np.testing.assert_array_equal(to_gray(grayish), astronaut[..., 0])
    assert to_gray(astronaut[..., 0]) is not None and to_gray(astronaut[..., 0]).ndim == 2


def test_is_image_path():
    assert is_image_path("a/b.JPEG") and is_image_path("x.npy")
    assert not is_image_path("x.vqi") and not is_image_path("README")


@settings(max_examples=25, deadline=None)
@given(
    dtype=st.sampled_from([np.uint8, np.uint16]),
    shape=st.sampled_from([(1, 1), (3, 7), (16, 5), (4, 4, 3), (5, 2, 4), (6, 3, 2)]),
    suffix=st.sampled_from([".png", ".tif", ".npy"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_round_trip_property(tmp_path_factory, dtype, shape, suffix, seed):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, np.iinfo(dtype).max, size=shape, endpoint=True, dtype=dtype)
    d = tmp_path_factory.mktemp("rt")
    back = read_image(write_image(d / f"x{suffix}", img))
    assert back.dtype == img.dtype
    np.testing.assert_array_equal(back, img)
