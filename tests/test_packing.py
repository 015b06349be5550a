"""Bit packing: exact against a bit-by-bit reference for every width and length."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vqimage.codecs.packing import pack, packed_size, unpack


def reference_pack(codes: np.ndarray, bits: int) -> bytes:
    """The specification, one bit at a time: MSB first, codes back to back, zero padded."""
    flat = codes.ravel().astype(np.int64)
    stream = [(int(v) >> (bits - 1 - b)) & 1 for v in flat for b in range(bits)]
    return np.packbits(np.array(stream, dtype=np.uint8)).tobytes() if stream else b""


@pytest.mark.parametrize("bits", range(17))
def test_every_width_and_short_lengths_match_the_reference(bits):
    rng = np.random.default_rng(bits)
    dtype = np.uint8 if bits <= 8 else np.uint16
    for n in [*range(0, 34), 63, 64, 65, 1000, 1001]:
        codes = rng.integers(0, 1 << bits, n).astype(dtype)
        data = pack(codes, bits)
        assert data == reference_pack(codes, bits), (bits, n)
        assert len(data) == packed_size(n, bits) == (n * bits + 7) // 8
        out = unpack(data, bits, n)
        assert out.dtype == dtype and out.shape == (n,)
        np.testing.assert_array_equal(out, codes)


@settings(max_examples=150, deadline=None)
@given(
    bits=st.integers(0, 16),
    n=st.integers(0, 300),
    seed=st.integers(0, 2**32 - 1),
    wide=st.booleans(),
)
def test_round_trip_property(bits, n, seed, wide):
    rng = np.random.default_rng(seed)
    # Codes may come in a wider dtype than they need (uint16/int64 codes of 3 bits).
    dtype = np.int64 if wide else (np.uint8 if bits <= 8 else np.uint16)
    codes = rng.integers(0, 1 << bits, n).astype(dtype)
    data = pack(codes, bits)
    assert data == reference_pack(codes, bits)
    np.testing.assert_array_equal(unpack(data, bits, n), codes)


def test_known_bytes():
    assert pack(np.array([1, 2, 3, 4, 5], dtype=np.uint8), 3) == bytes([0b00101001, 0b11001010])
    assert pack(np.array([0xABC], dtype=np.uint16), 12) == bytes([0xAB, 0xC0])
    assert pack(np.array([1, 0, 1], dtype=np.uint8), 1) == bytes([0b10100000])
    assert pack(np.array([0x1234, 0xFFFF], dtype=np.uint16), 16) == bytes.fromhex("1234ffff")


def test_multidimensional_codes_flatten_in_c_order():
    codes = np.arange(24, dtype=np.uint8).reshape(2, 3, 4) % 8
    np.testing.assert_array_equal(unpack(pack(codes, 3), 3, 24), codes.ravel())
    np.testing.assert_array_equal(unpack(pack(codes.T, 3), 3, 24), codes.T.ravel())


def test_face_packs_to_three_eighths(face):
    import vqimage

    codes = vqimage.fit(face, 8).encode(face)
    data = pack(codes, 3)
    assert len(data) == 294_912
    np.testing.assert_array_equal(unpack(data, 3, codes.size).reshape(face.shape), codes)


def test_unpack_ignores_extra_bytes_and_accepts_buffers():
    data = pack(np.array([5, 6, 7], dtype=np.uint8), 3) + b"\xff\xff"
    np.testing.assert_array_equal(unpack(bytearray(data), 3, 3), [5, 6, 7])
    np.testing.assert_array_equal(unpack(memoryview(data), 3, 3), [5, 6, 7])


def test_zero_bits():
    assert pack(np.zeros(10, dtype=np.uint8), 0) == b""
    np.testing.assert_array_equal(unpack(b"", 0, 10), np.zeros(10, dtype=np.uint8))


def test_errors():
    with pytest.raises(ValueError, match=r"codes must be in \[0, 7\] for 3 bits"):
        pack(np.array([8], dtype=np.uint8), 3)
    with pytest.raises(ValueError, match="codes must be in"):
        pack(np.array([-1, 2]), 3)
    with pytest.raises(ValueError, match="must be in"):
        pack(np.array([1], dtype=np.uint8), 0)
    with pytest.raises(ValueError, match=r"bits must be in \[0, 16\]"):
        pack(np.array([1]), 17)
    with pytest.raises(TypeError, match="integer dtype"):
        pack(np.array([1.0]), 3)
    with pytest.raises(TypeError, match="bits must be an integer"):
        pack(np.array([1]), 3.0)
    with pytest.raises(ValueError, match="need 2 bytes, got 1"):
        unpack(b"\x00", 3, 5)
    with pytest.raises(ValueError, match="non-negative"):
        unpack(b"", 3, -1)
