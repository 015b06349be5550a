"""The ``packed`` codec (id 0): codes bit-packed, ``ceil(log2 n_levels)`` bits each."""

from __future__ import annotations

import math

import numpy as np

from vqimage._shared.dtypes import bits_for
from vqimage.codecs.base import Codec
from vqimage.codecs.packing import pack, unpack
from vqimage.errors import FormatError

__all__ = ["PackedCodec"]


class PackedCodec(Codec):
    """Bit-packed codes: ``ceil(count * bits / 8)`` bytes, the in-memory form.

    Examples
    --------
    >>> import numpy as np
    >>> codec = PackedCodec()
    >>> payload = codec.encode(np.array([[0, 7], [3, 5]], dtype=np.uint8), 8)
    >>> len(payload), codec.decode(payload, (2, 2), 8).tolist()
    (2, [[0, 7], [3, 5]])
    """

    name = "packed"
    id = 0

    def _encode(self, codes: np.ndarray, n_levels: int) -> bytes:
        return pack(codes, bits_for(n_levels))

    def _decode(self, data: bytes, shape: tuple[int, ...], n_levels: int) -> np.ndarray:
        return unpack(data, bits_for(n_levels), math.prod(shape))

    def _check_size(self, payload_len: int, count: int, n_levels: int) -> None:
        want = (count * bits_for(n_levels) + 7) // 8
        if payload_len != want:
            raise FormatError(
                f"{count} packed codes of {bits_for(n_levels)} bits take {want} bytes, "
                f"the payload has {payload_len}"
            )
