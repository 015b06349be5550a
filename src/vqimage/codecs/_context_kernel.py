"""The ``context`` codec's kernel: context mixing and binary arithmetic coding (numba).

Imported only when the context codec runs (importing it imports numba; the compiled kernel is
cached on disk after the first use). ``docs/format.md`` describes the model in words; this
file is its normative definition. Every step is integer arithmetic, so encoder and decoder
agree bit for bit and the bytes are the same on every machine.

The model, per code (a plane of ``rows x width`` codes in ``0 .. 2**bits - 1``; neighbours
outside the plane read as ``2**bits``):

1. ``pred`` = the LOCO-I median predictor of the left (W), up (N) and up-left (NW) codes.
   The first binary decision says whether the code equals ``pred``; if not, the code's
   ``bits`` bits follow, most significant first, as a walk down a binary tree (``node``
   1, then ``2*node + bit``). Decision "hit" uses node 0.
2. Each decision is predicted by ``len(MODELS)`` adaptive probability tables; each table is
   indexed by a context of causal neighbours (W, N, NW, NE, WW, NN, NNE) and the node.
   Small contexts index their table directly, large ones through a multiplicative hash.
   A match model adds one more prediction: when the last ``minlen`` codes (raster order)
   occurred before, the code that followed them then is expected again (this is what makes
   tiled or repeated content cheap, as it is for LZ77 coders).
3. A gated linear mixer combines the predictions in the logistic domain (weight set chosen
   by the node, whether W == N and whether a match is active) and an adaptive probability
   map refines the result.
4. A carry-less 32-bit binary arithmetic coder (as in lpaq) codes the decision with that
   12-bit probability; it writes 4 final bytes, and the decoder must consume the payload
   exactly.
5. Everything updates after each decision, identically on both sides.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from vqimage.codecs import _cm_kernels as cm
from vqimage.errors import FormatError

__all__ = ["decode", "encode"]

# Contexts, in the order the kernel computes them (documentation for docs/format.md).
MODELS = (
    ("W", "N", "NW", "NE", "WW", "NN"),
    ("N", "NE", "NN", "NNE"),
    ("W", "WW", "NW", "N"),
    ("pred", "clip(W - pred)", "clip(N - pred)", "clip(NE - pred)"),
)


def _direct_sizes(k1: int) -> tuple[int, ...]:
    """Number of distinct contexts of each model when neighbours take ``k1`` values."""
    return (k1**6, k1**4, k1**4, k1 * 5**3)


def match_length(bits: int) -> int:
    """Codes the match model hashes: ``min(64 // bits, max(12, 32 // bits))``."""
    return min(64 // bits, max(12, 32 // bits))


LOG2_MAX_ENTRIES = 20  # at most 2**20 probabilities (4 MiB) per model
# The learning rates (LIMIT, MIXER_SHIFT, APM_RATE, MATCH_RATE) are in _cm_kernels.
LOG2_MAX_HASH = 18  # match model hash table: at most 2**18 positions
INITIAL_CODES = 1 << 16  # the decoder's first code buffer; it doubles as codes decode


def _squash_table() -> np.ndarray:
    # paq8's integer logistic function: 33 knots, linear interpolation, x in -2047..2047.
    knots = (1, 2, 3, 6, 10, 16, 27, 45, 73, 120, 194, 310, 488, 747, 1101, 1546, 2047, 2549,
             2994, 3348, 3607, 3785, 3901, 3975, 4022, 4050, 4068, 4079, 4085, 4089, 4092,
             4093, 4094)
    out = np.empty(4095, dtype=np.int64)
    for d in range(-2047, 2048):
        w = d & 127
        i = (d >> 7) + 16
        out[d + 2047] = (knots[i] * (128 - w) + knots[i + 1] * w + 64) >> 7
    return out


def _stretch_table(squash: np.ndarray) -> np.ndarray:
    # The inverse of squash: stretch(p) is the smallest x with squash(x) >= p.
    out = np.full(4096, 2047, dtype=np.int64)
    pi = 0
    for x in range(-2047, 2048):
        v = int(squash[x + 2047])
        out[pi : v + 1] = x
        pi = max(pi, v + 1)
    return out


SQUASH = _squash_table()
STRETCH = _stretch_table(SQUASH)
# Adaptation rate of a table entry seen n times: 1 / (n + 1.5), in units of 2**-16.
RATE = np.array([131072 // (2 * n + 3) for n in range(1024)], dtype=np.int64)


@njit(cache=True, nogil=True)
def _kernel(codes, rows, width, bits, decoding, data, slot_bits, minlen, hbits, sq, st, rate):
    """Encode ``codes`` (``decoding == 0``) or decode ``data`` into ``codes``.

    ``codes`` is the plane, flat (``rows * width`` uint8, C order). ``slot_bits[m]`` is log2
    of model m's number of context slots; a slot holds ``2**bits`` entries (node 0 and the
    tree nodes). Returns ``(buffer, byte count, status, codes)``; status 1 means the stream
    did not end where the data does (corrupt or truncated payload); when decoding, ``codes``
    may be a grown copy of the argument. Besides
    the codes, memory use is bounded by constants (the tables and the hash table), never by
    the claimed plane size. The steps shared with ``context2`` are in
    :mod:`vqimage.codecs._cm_kernels`.
    """
    k = 1 << bits
    kk = k + 1
    offsets, table, weights, apm, idx, base, stv, ctx, hashtab, msm = cm.new_model(
        slot_bits, bits, hbits, sq)
    # The current match (pointer, length); the codes so far are ``codes`` itself.
    regmask, reg, mptr, mlen = cm.match_start(minlen, bits)
    out, nout, x1, x2, x, pos = cm.coder_start(rows * width, bits, decoding, data)
    if pos < 0:
        return out, nout, 1, codes

    # Neighbours are read from the codes themselves (no row buffers: memory must not grow
    # with a claimed row width). Outside the plane they read as k. While decoding, ``codes``
    # grows as codes are decoded, so a payload that claims more codes than it holds fails
    # (the stream runs out) before the claimed size is ever allocated.
    for i in range(rows):
        for j in range(width):
            pos_ = i * width + j
            if cm.full(decoding, codes, pos_, out, nout, bits):
                codes, out = cm.grow(decoding, codes, pos_, rows * width, out, nout)
            w_, ww, n_, nw, ne, nn, nne = cm.neighbours(codes, pos_, i, j, width, k)
            pred = cm.median(w_, n_, nw)
            if pred >= k:
                pred = k - 1
            cm.pattern_contexts(ctx, w_, ww, n_, nw, ne, nn, nne, kk)
            ctx[3] = cm.pred_context(pred, w_, n_, ne)
            cm.slot_bases(ctx, slot_bits, offsets, bits, base)
            expect = np.int64(codes[mptr]) if mlen > 0 else -1
            lb = 4 * (mlen if mlen < 31 else 31)
            gate = (1 if w_ == n_ else 0) + (2 if expect >= 0 else 0)
            code = -1 if decoding else np.int64(codes[pos_])
            node = 0
            for step in range(bits + 1):
                sel = 4 * node + gate
                dot = cm.mixer_dot(weights, sel, table, base, node, idx, stv, st)
                dm, mi, eb = cm.match_input(expect, pred, 0, step, bits, lb, msm, st, stv, weights,
                                            sel)
                pm, lo, wgt = cm.squash_dot(dot + dm, sq)
                a0, a1, pa = cm.apm_mix(apm, sel, lo, wgt)
                p = min(max((pm + 3 * pa) >> 2, 1), 4095)
                y = 0 if decoding else cm.decision(code, pred, 0, step, bits)
                y, x1, x2, x, pos, nout = cm.coder_bit(p, y, decoding, x1, x2, x, pos, data, out,
                                                       nout)
                if pos < 0:
                    return out, nout, 1, codes
                cm.mixer_update(weights, sel, stv, y, pm, mi, eb, msm)
                cm.apm_update(apm, sel, lo, wgt, a0, a1, y)
                cm.table_update(table, idx, y, rate)
                if expect >= 0 and eb != y:
                    expect = -1  # the code left the expected path: no more advice
                if step == 0:
                    if y:
                        node = k + pred
                        break
                    node = 1
                else:
                    node = 2 * node + y
            if decoding:
                code = node - k
                codes[pos_] = code
            mlen, mptr, reg = cm.match_update(codes, pos_, code, mlen, mptr, reg, regmask, bits,
                                              minlen, hbits, hashtab)

    return cm.coder_end(decoding, pos, data, x1, out, nout, codes)


def slot_bits(rows: int, width: int, bits: int) -> np.ndarray:
    """log2 of each model's number of context slots (``2**bits`` entries per slot).

    A model gets as many slots as it has distinct contexts (then it is indexed directly),
    capped at ``2**min(LOG2_MAX_ENTRIES, 14 + bits)`` entries and at about twice the number
    of decisions the plane can make (entries beyond that are never touched).
    """
    return slot_bits_for(_direct_sizes((1 << bits) + 1), rows, width, bits)


def slot_bits_for(sizes: tuple[int, ...], rows: int, width: int, bits: int) -> np.ndarray:
    """:func:`slot_bits` for models with ``sizes`` distinct contexts (shared with context2)."""
    cap = min(LOG2_MAX_ENTRIES, 14 + bits, max(10, (2 * rows * width).bit_length() + bits))
    out = [max(1, min(cap - bits, (n - 1).bit_length())) for n in sizes]
    return np.array(out, dtype=np.int64)


def hash_bits(rows: int, width: int) -> int:
    """log2 of the match model's hash table size: enough for the codes, 2**10 to 2**18."""
    return min(LOG2_MAX_HASH, max(10, (rows * width - 1).bit_length()))


def _run(codes: np.ndarray, rows: int, width: int, bits: int, decoding: int, data: np.ndarray):
    return _kernel(codes, rows, width, bits, decoding, data, slot_bits(rows, width, bits),
                   match_length(bits), hash_bits(rows, width), SQUASH, STRETCH, RATE)


def encode(plane: np.ndarray, bits: int) -> bytes:
    """Code a ``(rows, width)`` plane of codes below ``2**bits`` (1 <= bits <= 8)."""
    rows, width = plane.shape
    codes = np.ascontiguousarray(plane, dtype=np.uint8).reshape(-1)
    if not codes.flags.writeable:  # one compiled signature: writable arrays only
        codes = codes.copy()
    out, n, _, _ = _run(codes, rows, width, bits, 0, np.zeros(1, dtype=np.uint8))
    return out[:n].tobytes()


def decode(data: bytes, shape: tuple[int, int], bits: int) -> np.ndarray:
    """Inverse of :func:`encode`: the plane's codes, flattened (uint8).

    Raises :class:`~vqimage.errors.FormatError` when the stream does not decode to exactly
    the payload's bytes.
    """
    buf = np.frombuffer(data, dtype=np.uint8).copy()  # writable: one compiled signature
    return decode_with(_run, buf, shape, bits, "context")


def decode_with(run, buf: np.ndarray, shape: tuple[int, int], bits: int, name: str) -> np.ndarray:
    """Decode ``buf`` with a kernel's ``run``; :class:`FormatError` naming codec ``name``."""
    rows, width = shape
    # Start small: the kernel grows the buffer as codes really decode (see _kernel).
    codes = np.zeros(min(rows * width, INITIAL_CODES), dtype=np.uint8)
    _, _, status, codes = run(codes, rows, width, bits, 1, buf)
    if status or codes.shape[0] != rows * width:
        raise FormatError(f"the {name} payload is corrupt (the coded stream does not match)")
    return codes
