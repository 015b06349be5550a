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
3. A gated linear mixer combines the tables' predictions in the logistic domain (weight set
   chosen by the node and whether W == N) and an adaptive probability map refines the result.
4. A carry-less 32-bit binary arithmetic coder (as in lpaq) codes the decision with that
   12-bit probability; it writes 4 final bytes, and the decoder must consume the payload
   exactly.
5. Everything updates after each decision, identically on both sides.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .errors import FormatError

__all__ = ["decode", "encode"]

# Contexts, in the order the kernel computes them (documentation for docs/format.md).
MODELS = (
    ("W", "N", "NW", "NE"),
    ("W", "N", "NW", "NE", "WW", "NN"),
    ("N", "NE", "NN", "NNE"),
    ("W", "WW", "NW", "N"),
    ("W", "N", "NW", "NE", "NNE", "WW", "NN"),
    ("pred", "clip(W - pred)", "clip(N - pred)", "clip(NE - pred)"),
)


def _direct_sizes(k1: int) -> tuple[int, ...]:
    """Number of distinct contexts of each model when neighbours take ``k1`` values."""
    return (k1**4, k1**6, k1**4, k1**4, k1**7, k1 * 5**3)


LOG2_MAX_ENTRIES = 20  # at most 2**20 probabilities (4 MiB) per model
LIMIT = 255  # visit counts stop here, so the tables keep adapting
MIXER_SHIFT = 14  # mixer learning rate: w += stretch * err * 6 >> 14
APM_RATE = 13


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
def _kernel(pad, rows, width, bits, decoding, data, codes_out, slot_bits, sq, st, rate):  # noqa: C901
    """Encode the plane inside ``pad`` (``decoding == 0``) or decode ``data`` into it.

    ``pad`` is ``(rows + 2, width + 3)`` int32 with the plane at ``[2:, 2:width + 2]`` and
    every other cell ``2**bits``. ``slot_bits[m]`` is log2 of model m's number of context
    slots; a slot holds ``2**bits`` entries (node 0 and the tree nodes). Returns
    ``(buffer, byte count, status)``; status 1 means the stream did not end where the data
    does (corrupt or truncated payload).
    """
    nmod = slot_bits.shape[0]
    k = 1 << bits
    kk = k + 1
    offsets = np.zeros(nmod + 1, dtype=np.int64)
    for m in range(nmod):
        offsets[m + 1] = offsets[m] + (np.int64(1) << (slot_bits[m] + bits))
    # Entry: 22-bit probability of a 1 (high bits) and a 10-bit visit count; start at 1/2.
    table = np.full(offsets[nmod], np.uint32(1 << 31), dtype=np.uint32)
    nsets = 2 * k
    ninputs = nmod + 1
    weights = np.full((nsets, ninputs), 16384, dtype=np.int64)
    apm = np.empty((nsets, 33), dtype=np.int64)
    for s in range(nsets):
        for j in range(33):
            apm[s, j] = sq[min(max((j - 16) * 128, -2047), 2047) + 2047] * 16
    idx = np.zeros(nmod, dtype=np.int64)
    base = np.zeros(nmod, dtype=np.int64)
    stv = np.zeros(ninputs, dtype=np.int64)
    ctx = np.zeros(nmod, dtype=np.int64)
    gold = np.uint64(0x9E3779B97F4A7C15)
    m32 = 0xFFFFFFFF

    out = np.empty(rows * width * bits // 4 + 64 if decoding == 0 else 1, dtype=np.uint8)
    nout = 0
    x1 = 0
    x2 = m32
    x = 0
    pos = 0
    nin = data.shape[0]
    if decoding:
        for _ in range(4):
            b = np.int64(data[pos]) if pos < nin else 0
            pos += 1
            x = (x << 8) | b

    for i in range(rows):
        r = i + 2
        for j in range(width):
            c = j + 2
            w_ = np.int64(pad[r, c - 1])
            n_ = np.int64(pad[r - 1, c])
            nw = np.int64(pad[r - 1, c - 1])
            ne = np.int64(pad[r - 1, c + 1])
            ww = np.int64(pad[r, c - 2])
            nn = np.int64(pad[r - 2, c])
            nne = np.int64(pad[r - 2, c + 1])
            mx = w_ if w_ > n_ else n_
            mn = n_ if w_ > n_ else w_
            if nw >= mx:
                pred = mn
            elif nw <= mn:
                pred = mx
            else:
                pred = w_ + n_ - nw
            if pred >= k:
                pred = k - 1
            c1 = ((w_ * kk + n_) * kk + nw) * kk + ne
            ctx[0] = c1
            ctx[1] = (c1 * kk + ww) * kk + nn
            ctx[2] = ((n_ * kk + ne) * kk + nn) * kk + nne
            ctx[3] = ((w_ * kk + ww) * kk + nw) * kk + n_
            ctx[4] = ((c1 * kk + nne) * kk + ww) * kk + nn
            qw = min(max(w_ - pred, -2), 2) + 2
            qn = min(max(n_ - pred, -2), 2) + 2
            qne = min(max(ne - pred, -2), 2) + 2
            ctx[5] = ((pred * 5 + qw) * 5 + qn) * 5 + qne
            for m in range(nmod):
                sb = slot_bits[m]
                h = ctx[m]
                if (h >> sb) != 0:
                    h = np.int64((np.uint64(h + m + 1) * gold) >> np.uint64(64 - sb))
                base[m] = offsets[m] + (h << bits)
            eq = 1 if w_ == n_ else 0
            code = -1 if decoding else np.int64(pad[r, c])
            node = 0
            for step in range(bits + 1):
                sel = 2 * node + eq
                dot = 256 * weights[sel, nmod]
                for m in range(nmod):
                    ii = base[m] + node
                    idx[m] = ii
                    v = st[np.int64(table[ii]) >> 20]
                    stv[m] = v
                    dot += v * weights[sel, m]
                stv[nmod] = 256
                dot = dot >> 16
                if dot > 2047:
                    dot = 2047
                if dot < -2047:
                    dot = -2047
                pm = sq[dot + 2047]
                t = dot + 2048
                lo = t >> 7
                wgt = t & 127
                a0 = apm[sel, lo]
                a1 = apm[sel, lo + 1]
                p = (pm + 3 * ((a0 * (128 - wgt) + a1 * wgt) >> 11)) >> 2
                if p < 1:
                    p = 1
                if p > 4095:
                    p = 4095
                xmid = x1 + ((x2 - x1) >> 12) * p
                if decoding:
                    y = 1 if x <= xmid else 0
                elif step == 0:
                    y = 1 if code == pred else 0
                else:
                    y = (code >> (bits - step)) & 1
                if y:
                    x2 = xmid
                else:
                    x1 = xmid + 1
                while ((x1 ^ x2) & 0xFF000000) == 0:
                    if decoding:
                        b = np.int64(data[pos]) if pos < nin else 0
                        pos += 1
                        x = ((x << 8) & m32) | b
                    else:
                        if nout >= out.shape[0]:
                            bigger = np.empty(out.shape[0] * 2, dtype=np.uint8)
                            bigger[:nout] = out[:nout]
                            out = bigger
                        out[nout] = np.uint8(x2 >> 24)
                        nout += 1
                    x1 = (x1 << 8) & m32
                    x2 = ((x2 << 8) & m32) | 255
                err = ((y << 12) - pm) * 6
                for m in range(ninputs):
                    weights[sel, m] += (stv[m] * err) >> MIXER_SHIFT
                target = 65535 * y
                apm[sel, lo] += ((target - a0) * (128 - wgt)) >> APM_RATE
                apm[sel, lo + 1] += ((target - a1) * wgt) >> APM_RATE
                for m in range(nmod):
                    tv = np.int64(table[idx[m]])
                    cnt = tv & 1023
                    pr = tv >> 10
                    pr += (((y << 22) - pr) * rate[cnt]) >> 16
                    if cnt < LIMIT:
                        cnt += 1
                    table[idx[m]] = np.uint32((pr << 10) | cnt)
                if step == 0:
                    if y:
                        node = k + pred
                        break
                    node = 1
                else:
                    node = 2 * node + y
            if decoding:
                code = node - k
                pad[r, c] = code
                codes_out[i * width + j] = code

    if decoding:
        return out, nout, 0 if pos == nin else 1
    for _ in range(4):
        if nout >= out.shape[0]:
            bigger = np.empty(out.shape[0] * 2, dtype=np.uint8)
            bigger[:nout] = out[:nout]
            out = bigger
        out[nout] = np.uint8(x1 >> 24)
        nout += 1
        x1 = (x1 << 8) & m32
    return out, nout, 0


def slot_bits(rows: int, width: int, bits: int) -> np.ndarray:
    """log2 of each model's number of context slots (``2**bits`` entries per slot).

    A model gets as many slots as it has distinct contexts (then it is indexed directly),
    capped at ``2**min(LOG2_MAX_ENTRIES, 14 + bits)`` entries and at about twice the number
    of decisions the plane can make (entries beyond that are never touched).
    """
    cap = min(LOG2_MAX_ENTRIES, 14 + bits, max(10, (2 * rows * width).bit_length() + bits))
    out = [max(1, min(cap - bits, (n - 1).bit_length())) for n in _direct_sizes((1 << bits) + 1)]
    return np.array(out, dtype=np.int64)


def _run(pad: np.ndarray, bits: int, decoding: int, data: np.ndarray, codes: np.ndarray):
    rows, width = pad.shape[0] - 2, pad.shape[1] - 3
    return _kernel(pad, rows, width, bits, decoding, data, codes, slot_bits(rows, width, bits),
                   SQUASH, STRETCH, RATE)


def _pad(rows: int, width: int, bits: int) -> np.ndarray:
    return np.full((rows + 2, width + 3), 1 << bits, dtype=np.int32)


def encode(plane: np.ndarray, bits: int) -> bytes:
    """Code a ``(rows, width)`` plane of codes below ``2**bits`` (1 <= bits <= 8)."""
    rows, width = plane.shape
    pad = _pad(rows, width, bits)
    pad[2:, 2 : width + 2] = plane
    out, n, _ = _run(pad, bits, 0, np.zeros(1, dtype=np.uint8), np.zeros(1, dtype=np.uint8))
    return out[:n].tobytes()


def decode(data: bytes, shape: tuple[int, int], bits: int) -> np.ndarray:
    """Inverse of :func:`encode`: the plane's codes, flattened (uint8).

    Raises :class:`~vqimage.errors.FormatError` when the stream does not decode to exactly
    the payload's bytes.
    """
    rows, width = shape
    codes = np.empty(rows * width, dtype=np.uint8)
    buf = np.frombuffer(data, dtype=np.uint8).copy()  # writable: one compiled signature
    _, _, status = _run(_pad(rows, width, bits), bits, 1, buf, codes)
    if status:
        raise FormatError("the context payload is corrupt (the coded stream does not match)")
    return codes
