"""The numcodecs codec ``vqimage``: round trips, registry, errors, and zarr 2 / zarr 3 stores."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

import vqimage
from vqimage.codecs import CODECS
from vqimage.errors import FormatError

numcodecs = pytest.importorskip("numcodecs")
zarr = pytest.importorskip("zarr")

from vqimage.numcodecs import MAGIC, VQImageCodec, zarr3_codec  # noqa: E402


@pytest.fixture(scope="module")
def crop(face) -> np.ndarray:
    return np.ascontiguousarray(face[200:328, 300:460])


@pytest.fixture(scope="module")
def q8(face):
    return vqimage.fit(face, 8)


@pytest.mark.parametrize("codec", ["packed", "lzma", "context", "context2", "auto"])
def test_round_trip_returns_the_reconstruction(crop, q8, codec):
    c = VQImageCodec(q8, codec)
    buf = c.encode(crop)
    assert isinstance(buf, bytes) and buf[:4] == MAGIC
    rec = c.decode(buf)
    assert rec.dtype == crop.dtype and rec.shape == crop.shape
    np.testing.assert_array_equal(rec, q8.quantize(crop))
    # the codes are recoverable: quantizing a reconstruction gives the same codes
    np.testing.assert_array_equal(q8.encode(rec), q8.encode(crop))
    packed_size = (crop.size * q8.bits + 7) // 8
    assert len(buf) <= packed_size + 64
    if codec == "packed":
        assert len(buf) >= packed_size


def test_auto_is_smallest(crop, q8):
    sizes = {c: len(VQImageCodec(q8, c).encode(crop)) for c in CODECS}
    assert len(VQImageCodec(q8, "auto").encode(crop)) == min(sizes.values())


def test_decode_into_out_and_other_buffers(crop, q8):
    c = VQImageCodec(q8, "packed")
    buf = c.encode(crop)
    out = np.zeros_like(crop)
    res = c.decode(np.frombuffer(buf, dtype=np.uint8), out=out)
    np.testing.assert_array_equal(out, q8.quantize(crop))
    assert res is out
    np.testing.assert_array_equal(c.decode(bytearray(buf)), q8.quantize(crop))


def test_float_and_16_bit(face):
    data = (face[:64, :96] / 255.0).astype(np.float32)
    qf = vqimage.fit(data, 5)
    c = VQImageCodec(qf, "lzma")
    np.testing.assert_array_equal(c.decode(c.encode(data)), qf.quantize(data))
    rng = np.random.default_rng(0)
    deep = face[:50, :70].astype(np.uint16) * 256 + rng.integers(0, 256, (50, 70), np.uint16)
    q16 = vqimage.fit(deep, 300, strategy="uniform")
    assert q16.code_dtype == np.uint16
    c = VQImageCodec(q16.to_dict(), "packed")
    np.testing.assert_array_equal(c.decode(c.encode(deep)), q16.quantize(deep))


def test_config_and_registry(q8):
    c = VQImageCodec(q8, "lzma")
    cfg = c.get_config()
    assert cfg["id"] == "vqimage" and cfg["codec"] == "lzma"
    json.dumps(cfg)  # zarr stores it as JSON
    again = numcodecs.get_codec(json.loads(json.dumps(cfg)))
    assert isinstance(again, VQImageCodec)
    assert again.quantizer == q8 and again == c
    assert "n_levels=8" in repr(c)


def test_entry_point_registers_the_codec_without_importing_vqimage(q8):
    config = json.dumps(VQImageCodec(q8).get_config())
    code = (
        "import json, sys, numcodecs\n"
        f"c = numcodecs.get_codec(json.loads({config!r}))\n"
        "print(type(c).__module__, c.quantizer.n_levels)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["vqimage.numcodecs", "8"]


def test_errors(crop, q8):
    with pytest.raises(ValueError, match="codec must be one of"):
        VQImageCodec(q8, "zip")
    with pytest.raises(TypeError, match="fitted quantizer"):
        VQImageCodec(np.arange(3))
    with pytest.raises(ValueError, match="quantizer"):
        VQImageCodec({"kind": "scalar", "edges": [0, 1]})
    c = VQImageCodec(q8, "packed")
    with pytest.raises(TypeError, match="reconstructs uint8, got a chunk of float64"):
        c.encode(crop.astype(np.float64))
    buf = c.encode(crop)
    with pytest.raises(FormatError, match="bad magic"):
        c.decode(b"XXXX" + buf[4:])
    with pytest.raises(FormatError):
        c.decode(buf[:10])
    with pytest.raises(FormatError):
        c.decode(buf[:-3])  # payload too short for the shape
    with pytest.raises(FormatError, match="version"):
        c.decode(buf[:4] + b"\x09" + buf[5:])
    other = VQImageCodec(vqimage.fit(crop.astype(np.float32), 4), "packed")
    with pytest.raises(FormatError, match="holds uint8 data"):
        other.decode(buf)


# -- zarr --------------------------------------------------------------------------------------
@pytest.fixture
def quiet_zarr():
    with warnings.catch_warnings():
        # zarr: "Numcodecs codecs are not in the Zarr version 3 specification"
        warnings.filterwarnings("ignore", message="Numcodecs codecs are not in the Zarr")
        yield


@pytest.mark.usefixtures("quiet_zarr")
def test_zarr3_auto_codec(tmp_path, crop, q8):
    z = zarr.create_array(
        tmp_path / "crop.zarr", shape=crop.shape, chunks=(64, 100), dtype=crop.dtype,
        serializer=zarr3_codec(q8, "auto"), compressors=None,
    )
    z[:] = crop
    np.testing.assert_array_equal(z[:], q8.quantize(crop))


@pytest.mark.usefixtures("quiet_zarr")
def test_zarr3_store_round_trip(tmp_path, face, q8):
    store = tmp_path / "face.zarr"
    z = zarr.create_array(
        store, shape=face.shape, chunks=(200, 300), dtype=face.dtype,
        serializer=zarr3_codec(q8, "packed"), compressors=None,
    )
    z[:] = face
    np.testing.assert_array_equal(z[:], q8.quantize(face))
    np.testing.assert_array_equal(z[100:150, 950:1000], q8.quantize(face)[100:150, 950:1000])
    stored = sum(p.stat().st_size for p in store.rglob("*") if p.is_file())
    # zarr pads the 16 edge-including chunks to 200x300: 3 bits per stored value at most
    assert stored < 16 * 200 * 300 * 3 // 8 + 16 * 64 + 10_000
    meta = json.loads((store / "zarr.json").read_text())
    (entry,) = meta["codecs"]
    assert entry["name"] == "numcodecs.vqimage"
    assert vqimage.Quantizer.from_dict(entry["configuration"]["quantizer"]) == q8

    # A fresh process reads the store: zarr finds the codec through vqimage's entry point.
    code = (
        "import sys, warnings, numpy as np, zarr\n"
        "warnings.simplefilter('ignore')\n"
        f"a = zarr.open_array({str(store)!r})[:]\n"
        "print(a.dtype, a.shape, np.unique(a).size)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["uint8", "(768,", "1024)", "8"]


@pytest.mark.usefixtures("quiet_zarr")
def test_zarr2_compressor_and_dask(tmp_path, face, q8):
    da = pytest.importorskip("dask.array")
    z = zarr.create_array(
        tmp_path / "v2.zarr", shape=face.shape, chunks=(256, 256), dtype=face.dtype,
        zarr_format=2, compressors=VQImageCodec(q8, "packed"), filters=None,
    )
    z[:] = face
    np.testing.assert_array_equal(z[:], q8.quantize(face))
    # dask writes chunk by chunk into a zarr 3 store with the codec, then reads back lazily
    x = da.from_array(face, chunks=(256, 256))
    target = zarr.create_array(
        tmp_path / "dask.zarr", shape=face.shape, chunks=(256, 256), dtype=face.dtype,
        serializer=zarr3_codec(vqimage.fit(x, 8), "packed"), compressors=None,
    )
    da.store(x, target, lock=False)
    back = da.from_zarr(tmp_path / "dask.zarr")
    np.testing.assert_array_equal(back.compute(), q8.quantize(face))
