"""The contracts every quantizer kind and every codec passes, shared by the test modules.

A new quantizer kind adds one entry to :data:`KIND_CASES` (tests/test_contract.py fails until
every kind in ``vqimage._shared.kinds.KINDS`` has one); a new codec needs nothing here: the
codec contract runs over ``vqimage.codecs.CODECS``.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import vqimage
from vqimage.codecs import Codec
from vqimage.core.protocol import QuantizerProtocol
from vqimage.errors import FormatError


def _gray() -> np.ndarray:
    rng = np.random.default_rng(7)
    ramp = np.add.outer(np.arange(40), np.arange(48)) * 2
    return np.clip(ramp + rng.integers(0, 30, ramp.shape), 0, 255).astype(np.uint8)


def _colour() -> np.ndarray:
    g = _gray()
    return np.stack([g, g[::-1], g[:, ::-1]], axis=-1)


# kind -> (fit, data): a small fitted quantizer of that kind and data it encodes.
KIND_CASES: dict[str, Callable[[], tuple[Any, np.ndarray]]] = {
    "scalar": lambda: (vqimage.fit(_gray(), 8), _gray()),
    "palette": lambda: (vqimage.fit_palette(_colour(), 16), _colour()),
    "channels": lambda: (vqimage.fit_channels(_colour(), 4), _colour()),
    "blocks": lambda: (vqimage.fit_blocks(_gray(), 16, block=(2, 2)), _gray()),
}


def check_quantizer_contract(q: Any, data: np.ndarray) -> None:
    """Protocol, immutability, pickle, dict and ``.vqi`` round trips, equality, code sizes."""
    assert isinstance(q, QuantizerProtocol)
    assert q.kind in vqimage._shared.kinds.KINDS
    assert 1 <= q.n_levels <= 65536 and q.bits == (int(np.ceil(np.log2(q.n_levels))) if
                                                   q.n_levels > 1 else 0)
    codes = np.asarray(q.encode(data))
    assert codes.shape == tuple(q.code_shape(data.shape))
    assert codes.dtype == q.code_dtype
    assert codes.size == 0 or int(codes.max()) < q.n_levels
    rec = np.asarray(q.decode(codes))
    assert rec.dtype == q.dtype
    np.testing.assert_array_equal(np.asarray(q.quantize(data)), rec)
    # Quantizing is idempotent on what it returns (cropped to the data for padded blocks).
    crop = rec[tuple(slice(0, n) for n in data.shape)]
    np.testing.assert_array_equal(q.encode(crop), codes)
    # Immutable: no attribute can be set, arrays are read-only.
    with pytest.raises(AttributeError):
        q.codebook = None
    assert not np.asarray(q.codebook).flags.writeable
    # Equal to its round trips through pickle, copy and to_dict/from_dict.
    d = q.to_dict()
    assert d["kind"] == q.kind
    for other in (pickle.loads(pickle.dumps(q)), copy.deepcopy(q), type(q).from_dict(d)):
        assert other == q and type(other) is type(q)
        np.testing.assert_array_equal(other.encode(data), codes)
    # The .vqi file keeps it.
    c = vqimage.compress(data, quantizer=q)
    back = vqimage.load(c.tobytes())
    assert back.quantizer == q
    np.testing.assert_array_equal(back.decompress(), c.decompress())
    # Malformed descriptions are refused by from_dict (the file reader makes them FormatError).
    with pytest.raises((ValueError, TypeError, KeyError)):
        type(q).from_dict({**d, "kind": "nonsense"})


def check_codec_contract(codec: Codec) -> None:
    """Round trips at every width, determinism, the size check, and FormatError for junk."""
    rng = np.random.default_rng(3)
    assert vqimage.codecs.get_codec(codec.name) is codec
    assert vqimage.codecs.codec_from_id(codec.id) is codec
    for n_levels, shape in ((1, (5, 7)), (2, (33, 17)), (8, (24, 40)), (256, (16, 16, 3)),
                            (300, (50,)), (65536, (9, 11))):
        codes = rng.integers(0, n_levels, shape)
        payload = codec.encode(codes, n_levels)
        assert payload == codec.encode(codes, n_levels)  # deterministic
        out = codec.decode(payload, shape, n_levels)
        np.testing.assert_array_equal(out, codes)
        assert out.dtype == vqimage._shared.dtypes.code_dtype(n_levels) or n_levels == 1
    with pytest.raises(FormatError):
        codec.decode(b"", (10, 10), 8)
    with pytest.raises(FormatError):
        codec.decode(bytes(3), (1 << 40,), 8)  # a tiny payload cannot hold a huge shape
    with pytest.raises(ValueError):
        codec.encode(np.array([0, 8]), 8)  # code out of range
