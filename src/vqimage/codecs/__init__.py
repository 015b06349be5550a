"""Codecs: an array of integer codes <-> payload bytes.

Each codec is a small object with a ``name``, a numeric ``id`` (stored in ``.vqi`` headers),
``encode(codes, n_levels) -> bytes`` and ``decode(payload, shape, n_levels) -> codes``. The
registry maps names to codecs (:func:`get_codec`) and ids to codecs (:func:`codec_from_id`).

========  ==  ==========================================================================
name      id  payload
========  ==  ==========================================================================
packed    0   the codes bit-packed, ``ceil(log2 n_levels)`` bits each (:mod:`vqimage.packing`)
lzma      1   LZMA2 (preset 9 | extreme) over the codes as bytes (1 or 2 bytes per code)
context   2   an adaptive context-mixing binary arithmetic coder over neighbouring codes
========  ==  ==========================================================================

``docs/format.md`` specifies every payload byte by byte. All codecs are deterministic: the same
codes give the same bytes on every run and machine.

Decoders treat their input as untrusted: before allocating they check that the payload can
hold the claimed number of codes (:meth:`Codec.check_size`), and they raise
:class:`~vqimage.errors.FormatError` for anything malformed.
"""

from __future__ import annotations

from typing import Any

from vqimage._shared.dtypes import MAX_LEVELS
from vqimage.codecs.base import Codec, check_codes, check_levels
from vqimage.codecs.context import ContextCodec
from vqimage.codecs.lzma import LzmaCodec
from vqimage.codecs.packed import PackedCodec
from vqimage.errors import FormatError

__all__ = [
    "CODECS",
    "CODEC_CHOICES",
    "MAX_LEVELS",
    "Codec",
    "choose_codec",
    "codec_from_id",
    "encode_best",
    "get_codec",
]

# The registry: every codec, in the order "auto" prefers on ties. A new codec is one module in
# this package plus one entry here; the CLI, compress, the file reader and the tests read it.
CODECS: dict[str, Codec] = {c.name: c for c in (PackedCodec(), LzmaCodec(), ContextCodec())}
_BY_ID: dict[int, Codec] = {c.id: c for c in CODECS.values()}
CODEC_CHOICES: tuple[str, ...] = ("auto", *CODECS)
"""What ``codec=`` accepts: ``"auto"`` (the smallest payload) or a codec's name."""


def get_codec(name: str) -> Codec:
    """The codec called ``name`` (``"packed"``, ``"lzma"`` or ``"context"``).

    Examples
    --------
    >>> get_codec("lzma")
    <vqimage codec 'lzma' (id 1)>
    """
    codec = CODECS.get(name) if isinstance(name, str) else None
    if codec is None:
        raise ValueError(
            f"codec must be one of {', '.join(map(repr, CODECS))} or 'auto'; got {name!r}"
        )
    return codec


def codec_from_id(codec_id: int) -> Codec:
    """The codec with numeric id ``codec_id``; :class:`FormatError` if unknown."""
    codec = _BY_ID.get(codec_id)
    if codec is None:
        raise FormatError(f"unknown codec id {codec_id}")
    return codec


def encode_best(codes: Any, n_levels: int) -> tuple[str, bytes]:
    """Encode with the codec giving the smaller payload: what ``codec="auto"`` does.

    The candidates are ``packed`` and ``context``; ties go to ``packed``. ``lzma`` is not
    tried: the context coder's match model already captures the long repeats LZMA finds
    (a tiled random pattern: context 8.3 KB, lzma 8.0 KB, against 22 KB without the match
    model), it beats lzma by 35-45 % on photographs, and lzma at preset 9 | extreme would
    cost more time than the other two together (0.8 s CPU for a megapixel). Above 256
    levels the context payload is itself lzma. The choice is a pure function of the codes,
    hence deterministic.

    Returns
    -------
    (name, payload)

    Examples
    --------
    >>> import numpy as np
    >>> encode_best(np.zeros((32, 32), dtype=np.uint8), 4)[0]
    'context'
    >>> encode_best(np.array([1, 0], dtype=np.uint8), 2)[0]
    'packed'
    """
    n = check_levels(n_levels)
    c = check_codes(codes, n)
    best = CODECS["packed"].encode(c, n)
    if n == 1 or c.size == 0:
        return "packed", best
    payload = CODECS["context"].encode(c, n)
    if len(payload) < len(best):
        return "context", payload
    return "packed", best


def choose_codec(codes: Any, n_levels: int) -> str:
    """Name of the codec :func:`encode_best` picks for ``codes``."""
    return encode_best(codes, n_levels)[0]
