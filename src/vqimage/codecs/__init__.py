"""Codecs: an array of integer codes <-> payload bytes.

Each codec is a small object with a ``name``, a numeric ``id`` (stored in ``.vqi`` headers),
``encode(codes, n_levels) -> bytes`` and ``decode(payload, shape, n_levels) -> codes``. The
registry maps names to codecs (:func:`get_codec`) and ids to codecs (:func:`codec_from_id`).

========  ==  ==========================================================================
name      id  payload
========  ==  ==========================================================================
packed    0   the codes bit-packed, ``ceil(log2 n_levels)`` bits each (:mod:`.packing`)
lzma      1   LZMA2 (preset 9 | extreme) over the codes as bytes (1 or 2 bytes per code)
context   2   an adaptive context-mixing binary arithmetic coder over neighbouring codes
context2  3   ``context``'s coder on prediction residuals of renumbered codes, more contexts
========  ==  ==========================================================================

``docs/format.md`` specifies every payload byte by byte. All codecs are deterministic: the same
codes give the same bytes on every run and machine.

Decoders treat their input as untrusted: before allocating they check that the payload can
hold the claimed number of codes (:meth:`Codec.check_size`), and they raise
:class:`~vqimage.errors.FormatError` for anything malformed.
"""

from __future__ import annotations

from typing import Any

from vqimage._shared.dtypes import MAX_LEVELS, bits_for
from vqimage.codecs.base import Codec, check_codes, check_levels
from vqimage.codecs.context import CONTEXT_MAX_BITS, ContextCodec
from vqimage.codecs.context2 import Context2Codec
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

# What ``auto`` tries, in order; on equal sizes the earlier codec wins (packed is the fastest
# to read, lzma the slowest to write).
AUTO_ORDER = ("packed", "context2", "context", "lzma")

# The registry: every codec, in the order "auto" prefers on ties. A new codec is one module in
# this package plus one entry here; the CLI, compress, the file reader and the tests read it.
CODECS: dict[str, Codec] = {
    c.name: c for c in (PackedCodec(), LzmaCodec(), ContextCodec(), Context2Codec())
}
_BY_ID: dict[int, Codec] = {c.id: c for c in CODECS.values()}
CODEC_CHOICES: tuple[str, ...] = ("auto", *CODECS)
"""What ``codec=`` accepts: ``"auto"`` (the smallest payload) or a codec's name."""


def get_codec(name: str) -> Codec:
    """The codec called ``name`` (a key of :data:`CODECS`).

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
    """Encode with every codec and keep the smallest payload: what ``codec="auto"`` does.

    The candidates are all codecs (``packed``, ``context2``, ``context``, ``lzma``); on equal
    sizes the earlier one in that order wins. The result is therefore never larger than any
    single codec's, and the choice is a pure function of the codes (deterministic).

    Cost: the sum of the candidates' encoding times, about 3x the time of ``context2`` alone
    (lzma at preset 9 | extreme and the two context coders each take 0.3-1 s per
    megapixel; packed is negligible). Above 256 levels both context payloads are lzma plus
    a method byte, so only ``packed`` and ``lzma`` are tried.

    Returns
    -------
    (name, payload)

    Examples
    --------
    >>> import numpy as np
    >>> encode_best(np.zeros((32, 32), dtype=np.uint8), 4)[0]
    'context2'
    >>> encode_best(np.array([1, 0], dtype=np.uint8), 2)[0]
    'packed'
    """
    n = check_levels(n_levels)
    c = check_codes(codes, n)
    best_name = "packed"
    best = CODECS["packed"].encode(c, n)
    if n == 1 or c.size == 0:
        return best_name, best
    for name in AUTO_ORDER[1:]:
        if bits_for(n) > CONTEXT_MAX_BITS and name.startswith("context"):
            continue  # lzma with one more byte: cannot win against lzma itself
        payload = CODECS[name].encode(c, n)
        if len(payload) < len(best):
            best_name, best = name, payload
    return best_name, best


def choose_codec(codes: Any, n_levels: int) -> str:
    """Name of the codec :func:`encode_best` picks for ``codes``."""
    return encode_best(codes, n_levels)[0]
