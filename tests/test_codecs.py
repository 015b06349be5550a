"""Codecs: lossless round trips, size checks before decoding, the context model's behaviour."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vqimage
from vqimage.codecs import CODECS, codec_from_id, encode_best, get_codec
from vqimage.codecs.base import ZERO_RUN
from vqimage.codecs.context import CONTEXT_MAX_RATIO, plane_view
from vqimage.codecs.lzma import LZMA_MAX_RATIO
from vqimage.errors import FormatError

NAMES = tuple(CODECS)


@pytest.fixture(scope="module")
def face8(face):
    return vqimage.fit(face, 8).encode(face)


def round_trip(name, codes, n_levels):
    codec = get_codec(name)
    payload = codec.encode(codes, n_levels)
    out = codec.decode(payload, codes.shape, n_levels)
    assert out.shape == codes.shape
    assert out.dtype == (np.uint8 if n_levels <= 256 else np.uint16)
    np.testing.assert_array_equal(out, codes)
    return payload


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(NAMES),
    n_levels=st.integers(2, 256),
    shape=st.lists(st.integers(1, 9), min_size=1, max_size=4),
    seed=st.integers(0, 2**32 - 1),
    smooth=st.booleans(),
)
def test_round_trip_property(name, n_levels, shape, seed, smooth):
    rng = np.random.default_rng(seed)
    if smooth:  # runs of equal codes, as in images
        codes = np.cumsum(rng.integers(-1, 2, shape), axis=-1) % n_levels
    else:
        codes = rng.integers(0, n_levels, shape)
    round_trip(name, codes.astype(np.uint8), n_levels)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n_levels", [300, 4096, 65536])
def test_wide_codes_round_trip(name, n_levels):
    rng = np.random.default_rng(n_levels)
    codes = rng.integers(0, n_levels, (37, 29)).astype(np.uint16)
    codes[0, :3] = [0, n_levels - 1, n_levels // 2]
    round_trip(name, codes, n_levels)


@pytest.mark.parametrize("name", NAMES)
def test_face_round_trip_and_sizes(name, face8):
    payload = round_trip(name, face8, 8)
    assert len(payload) == {"packed": 294_912}.get(name, len(payload))
    if name == "context":
        # The anchors: conditional entropy 0.82 bit/pixel (~80 KB), JPEG XL 73,883 B.
        assert len(payload) < 73_883
    if name == "lzma":
        assert 100_000 < len(payload) < 120_000


@pytest.mark.parametrize("name", NAMES)
def test_one_level_is_a_short_zero_run(name):
    codes = np.zeros((300, 500), dtype=np.uint8)
    payload = get_codec(name).encode(codes, 1)
    assert payload == bytes(-(-codes.size // ZERO_RUN))
    np.testing.assert_array_equal(get_codec(name).decode(payload, codes.shape, 1), codes)
    with pytest.raises(FormatError, match="zero bytes"):
        get_codec(name).decode(b"\x01\x00\x00", codes.shape, 1)


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_bytes(name, camera):
    codes = vqimage.fit(camera, 16).encode(camera)
    assert get_codec(name).encode(codes, 16) == get_codec(name).encode(codes.copy(), 16)


@pytest.mark.parametrize("name", NAMES)
def test_huge_claims_fail_before_decoding(name):
    payload = get_codec(name).encode(np.arange(64, dtype=np.uint8).reshape(8, 8) % 4, 4)
    for shape in [(10**6, 10**6), (2**40,), (len(payload) * 2**16, 64)]:
        with pytest.raises(FormatError, match=r"cannot hold|take|bytes"):
            get_codec(name).decode(payload, shape, 4)


def test_size_bounds_are_what_valid_payloads_meet():
    # The most compressible input each codec can get: a constant plane of 2 levels.
    codes = np.zeros((1000, 1000), dtype=np.uint8)
    ctx = get_codec("context").encode(codes, 2)
    assert codes.size <= CONTEXT_MAX_RATIO * len(ctx)
    lz = get_codec("lzma").encode(codes, 2)
    assert codes.size <= LZMA_MAX_RATIO * len(lz)


def test_packed_length_must_be_exact():
    codec = get_codec("packed")
    payload = codec.encode(np.arange(10, dtype=np.uint8) % 8, 8)
    with pytest.raises(FormatError, match="take 4 bytes"):
        codec.decode(payload + b"\x00", (10,), 8)
    with pytest.raises(FormatError, match="take 4 bytes"):
        codec.decode(payload[:-1], (10,), 8)


def test_packed_codes_beyond_n_levels_are_rejected():
    # 5 levels use 3 bits: the values 5, 6 and 7 fit the bits but are not codes.
    payload = get_codec("packed").encode(np.array([7, 1], dtype=np.uint8), 8)
    with pytest.raises(FormatError, match="holds code 7, but there are only 5 levels"):
        get_codec("packed").decode(payload, (2,), 5)


def test_corrupt_lzma_and_context_payloads():
    codes = (np.arange(400, dtype=np.uint8) // 7 % 6).reshape(20, 20)
    lz = get_codec("lzma").encode(codes, 6)
    with pytest.raises(FormatError, match="lzma payload"):
        get_codec("lzma").decode(lz[:-3], codes.shape, 6)
    with pytest.raises(FormatError, match="lzma payload"):
        get_codec("lzma").decode(lz + b"\x00", codes.shape, 6)
    ctx = get_codec("context").encode(codes, 6)
    with pytest.raises(FormatError, match="context payload"):
        get_codec("context").decode(ctx[:-1], codes.shape, 6)
    with pytest.raises(FormatError, match="context payload"):
        get_codec("context").decode(ctx + b"\x00", codes.shape, 6)
    with pytest.raises(FormatError, match="unknown context payload method 7"):
        get_codec("context").decode(b"\x07" + ctx[1:], codes.shape, 6)


def test_context_falls_back_to_lzma_above_256_levels():
    codes = (np.arange(600, dtype=np.uint16) * 7 % 300).reshape(20, 30)
    payload = round_trip("context", codes, 300)
    assert payload[0] == 1  # method byte: lzma inside
    assert payload[1:] == get_codec("lzma").encode(codes, 300)
    assert round_trip("context", codes % 256, 256)[0] == 0  # the model itself up to 256


def test_context_match_model_finds_repeats():
    # A random tile repeated: no local structure, only long-range repetition.
    rng = np.random.default_rng(0)
    tile = rng.integers(0, 8, (32, 150)).astype(np.uint8)
    codes = np.tile(tile, (8, 4))
    ctx = round_trip("context", codes, 8)
    one_tile = tile.size * 3 // 8  # 1,800 bytes packed; the image holds 32 tiles
    assert len(ctx) < 1.5 * one_tile
    assert len(ctx) < 1.5 * len(get_codec("lzma").encode(codes, 8))


def test_context_beats_lzma_on_camera(camera):
    codes = vqimage.fit(camera, 8).encode(camera)
    ctx = round_trip("context", codes, 8)
    assert len(ctx) < 0.75 * len(get_codec("lzma").encode(codes, 8))


@pytest.mark.parametrize(
    ("shape", "plane", "axes"),
    [
        ((5,), (1, 5), None),
        ((4, 6), (4, 6), None),
        ((4, 6, 3), (12, 6), (2, 0, 1)),
        ((2, 4, 6, 2), (16, 6), (3, 0, 1, 2)),
        ((4, 6, 9), (24, 9), None),
    ],
)
def test_plane_view(shape, plane, axes):
    assert plane_view(shape) == (plane, axes)
    codes = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape) % 5
    round_trip("context", codes, 5)


def test_auto_picks_the_smaller_payload(face8):
    name, payload = encode_best(face8, 8)
    assert name == "context2"
    assert payload == get_codec("context2").encode(face8, 8)
    noise = np.random.default_rng(1).integers(0, 2, 4000).astype(np.uint8)
    name, payload = encode_best(noise, 2)
    assert name == "packed" and len(payload) == 500  # incompressible: packed wins the tie-break
    assert encode_best(np.zeros(5, dtype=np.uint8), 1) == ("packed", b"\x00")


def test_registry():
    assert set(CODECS) == set(NAMES)
    for name in NAMES:
        assert codec_from_id(get_codec(name).id) is get_codec(name)
    with pytest.raises(ValueError, match="codec must be one of 'packed', 'lzma', 'context'"):
        get_codec("zstd")
    with pytest.raises(FormatError, match="unknown codec id 9"):
        codec_from_id(9)


def test_encode_rejects_bad_codes():
    with pytest.raises(ValueError, match=r"codes must be in \[0, 3\]"):
        get_codec("packed").encode(np.array([4], dtype=np.uint8), 4)
    with pytest.raises(TypeError, match="integer dtype"):
        get_codec("lzma").encode(np.array([0.5]), 4)
    with pytest.raises(ValueError, match="n_levels must be in"):
        get_codec("context").encode(np.array([0]), 0)


def test_import_stays_light():
    code = (
        "import sys, numpy as np, vqimage\n"
        "c = vqimage.compress(np.arange(100, dtype=np.uint8), 4, codec='packed')\n"
        "vqimage.load(c.tobytes()).decompress()\n"
        "heavy = {'numba', 'matplotlib', 'vqimage.codecs._context_kernel'}\n"
        "heavy &= set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
