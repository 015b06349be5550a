"""The ``lzma`` codec (id 1): LZMA2, preset 9 | extreme, over the codes as bytes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vqimage._shared.dtypes import code_dtype
from vqimage.codecs.base import Codec
from vqimage.errors import FormatError

__all__ = ["LzmaCodec"]

# LZMA2 never expands data by more than this factor (all-zero input reaches about 6,800);
# the reader refuses payloads that claim more, before decompressing anything.
LZMA_MAX_RATIO = 1 << 15
LZMA_PRESET = 9


def _lzma_filters(raw_len: int) -> list[dict[str, Any]]:
    import lzma

    # A dictionary no larger than the data gives the same stream as preset 9's 64 MiB one,
    # and keeps the decoder's allocation proportional to the image.
    dict_size = 1 << max(12, min(26, (raw_len - 1).bit_length()))
    return [
        {"id": lzma.FILTER_LZMA2, "preset": LZMA_PRESET | lzma.PRESET_EXTREME,
         "dict_size": dict_size}
    ]


def _lzma_compress(raw: bytes) -> bytes:
    import lzma

    return lzma.compress(raw, format=lzma.FORMAT_RAW, filters=_lzma_filters(len(raw)))


def _lzma_decompress(data: bytes, raw_len: int) -> bytes:
    import lzma

    dec = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=_lzma_filters(raw_len))
    try:
        raw = dec.decompress(data, max_length=raw_len)
    except lzma.LZMAError as exc:
        raise FormatError(f"the lzma payload is corrupt: {exc}") from exc
    if len(raw) != raw_len or not dec.eof or dec.unused_data:
        raise FormatError(
            f"the lzma payload does not decode to exactly {raw_len} bytes of codes"
        )
    return raw


class LzmaCodec(Codec):
    """LZMA2 (``preset=9 | PRESET_EXTREME``, raw stream) over the codes as bytes.

    Codes are stored one byte each up to 256 levels, else two bytes big-endian. This is a
    fixed rule (not "whichever is smaller"): LZMA's byte-oriented matching works better on
    whole-byte codes than on bit-packed ones (face, 8 levels: 111.7 KB against 130.0 KB).

    Examples
    --------
    >>> import numpy as np
    >>> codes = np.zeros((64, 64), dtype=np.uint8)
    >>> payload = LzmaCodec().encode(codes, 8)
    >>> len(payload) < 100
    True
    """

    name = "lzma"
    id = 1

    def _encode(self, codes: np.ndarray, n_levels: int) -> bytes:
        dt = ">u2" if n_levels > 256 else "u1"
        return _lzma_compress(codes.astype(dt, copy=False).tobytes())

    def _decode(self, data: bytes, shape: tuple[int, ...], n_levels: int) -> np.ndarray:
        count = math.prod(shape)
        wide = n_levels > 256
        raw = _lzma_decompress(data, count * (2 if wide else 1))
        return np.frombuffer(raw, dtype=">u2" if wide else np.uint8).astype(code_dtype(n_levels))

    def _check_size(self, payload_len: int, count: int, n_levels: int) -> None:
        raw_len = count * (2 if n_levels > 256 else 1)
        if payload_len == 0 or raw_len > LZMA_MAX_RATIO * payload_len:
            raise FormatError(
                f"an lzma payload of {payload_len} bytes cannot hold {count} codes"
            )
