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
LIMIT = 255  # visit counts stop here, so the tables keep adapting
MIXER_SHIFT = 14  # mixer learning rate: w += stretch * err * 6 >> 14
APM_RATE = 13
MATCH_RATE = 655  # match model adaptation: 1/100, in units of 2**-16
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
    the claimed plane size.
    """
    nmod = slot_bits.shape[0]
    k = 1 << bits
    kk = k + 1
    offsets = np.zeros(nmod + 1, dtype=np.int64)
    for m in range(nmod):
        offsets[m + 1] = offsets[m] + (np.int64(1) << (slot_bits[m] + bits))
    # Entry: 22-bit probability of a 1 (high bits) and a 10-bit visit count; start at 1/2.
    table = np.full(offsets[nmod], np.uint32(1 << 31), dtype=np.uint32)
    nsets = 4 * k
    ninputs = nmod + 2
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
    # Match model state: hash of the last minlen codes -> position after them (the codes
    # so far are ``codes`` itself), the current match (pointer, length), P(bit == expected).
    hashtab = np.zeros(np.int64(1) << hbits, dtype=np.int32)
    msm = np.full(128, 1 << 21, dtype=np.int64)
    nbits = minlen * bits
    regmask = np.uint64(0xFFFFFFFFFFFFFFFF) >> np.uint64(64 - nbits)
    reg = np.uint64(0)
    mptr = 0
    mlen = 0

    out = np.empty(rows * width * bits // 4 + 64 if decoding == 0 else 1, dtype=np.uint8)
    nout = 0
    x1 = 0
    x2 = m32
    x = 0
    pos = 0
    nin = data.shape[0]
    if decoding:
        if nin < 4:
            return out, nout, 1, codes
        for _ in range(4):
            x = (x << 8) | np.int64(data[pos])
            pos += 1

    # Neighbours are read from the codes themselves (no row buffers: memory must not grow
    # with a claimed row width). Outside the plane they read as k. While decoding, ``codes``
    # grows as codes are decoded, so a payload that claims more codes than it holds fails
    # (the stream runs out) before the claimed size is ever allocated.
    total = rows * width
    i = 0
    j = -1
    for pos_ in range(total):
        j += 1
        if j == width:
            j = 0
            i += 1
        if decoding and pos_ >= codes.shape[0]:
            grown = np.empty(min(total, 2 * codes.shape[0]), dtype=np.uint8)
            grown[:pos_] = codes[:pos_]
            codes = grown
        w_ = np.int64(codes[pos_ - 1]) if j >= 1 else k
        ww = np.int64(codes[pos_ - 2]) if j >= 2 else k
        if i >= 1:
            n_ = np.int64(codes[pos_ - width])
            nw = np.int64(codes[pos_ - width - 1]) if j >= 1 else k
            ne = np.int64(codes[pos_ - width + 1]) if j + 1 < width else k
        else:
            n_ = k
            nw = k
            ne = k
        if i >= 2:
            nn = np.int64(codes[pos_ - 2 * width])
            nne = np.int64(codes[pos_ - 2 * width + 1]) if j + 1 < width else k
        else:
            nn = k
            nne = k
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
        ctx[0] = ((((w_ * kk + n_) * kk + nw) * kk + ne) * kk + ww) * kk + nn
        ctx[1] = ((n_ * kk + ne) * kk + nn) * kk + nne
        ctx[2] = ((w_ * kk + ww) * kk + nw) * kk + n_
        qw = min(max(w_ - pred, -2), 2) + 2
        qn = min(max(n_ - pred, -2), 2) + 2
        qne = min(max(ne - pred, -2), 2) + 2
        ctx[3] = ((pred * 5 + qw) * 5 + qn) * 5 + qne
        for m in range(nmod):
            sb = slot_bits[m]
            h = ctx[m]
            if (h >> sb) != 0:
                h = np.int64((np.uint64(h + m + 1) * gold) >> np.uint64(64 - sb))
            base[m] = offsets[m] + (h << bits)
        expect = np.int64(codes[mptr]) if mlen > 0 else -1
        lb = 4 * (mlen if mlen < 31 else 31)
        gate = (1 if w_ == n_ else 0) + (2 if expect >= 0 else 0)
        code = -1 if decoding else np.int64(codes[pos_])
        node = 0
        for step in range(bits + 1):
            sel = 4 * node + gate
            dot = 256 * weights[sel, nmod]
            for m in range(nmod):
                ii = base[m] + node
                idx[m] = ii
                v = st[np.int64(table[ii]) >> 20]
                stv[m] = v
                dot += v * weights[sel, m]
            stv[nmod] = 256
            mi = -1
            eb = 0
            if expect >= 0:
                eb = (1 if expect == pred else 0) if step == 0 else (
                    (expect >> (bits - step)) & 1)
                mi = lb + (2 if step == 0 else 0) + eb
                v = st[msm[mi] >> 10]
                stv[nmod + 1] = v if eb else -v
                dot += stv[nmod + 1] * weights[sel, nmod + 1]
            else:
                stv[nmod + 1] = 0
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
                    if pos >= nin:
                        # A valid stream is consumed exactly at its end: stop early.
                        return out, nout, 1, codes
                    x = ((x << 8) & m32) | np.int64(data[pos])
                    pos += 1
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
            if mi >= 0:
                agree = 1 if y == eb else 0
                msm[mi] += (((agree << 22) - msm[mi]) * MATCH_RATE) >> 16
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
                if expect == pred:
                    expect = -1
            else:
                node = 2 * node + y
                if expect >= 0 and ((expect >> (bits - step)) & 1) != y:
                    expect = -1  # the code left the expected path: no more advice
        if decoding:
            code = node - k
            codes[pos_] = code
        # Match model: extend or drop the match, then look for a new one every 4th code.
        if mlen > 0 and np.int64(codes[mptr]) == code:
            if mlen < 65535:
                mlen += 1
            mptr += 1
        else:
            mlen = 0
        reg = ((reg << np.uint64(bits)) | np.uint64(code)) & regmask
        if pos_ + 1 >= minlen:
            hi = np.int64(((reg + np.uint64(1)) * gold) >> np.uint64(64 - hbits))
            if mlen == 0 and (pos_ & 3) == 0:
                cand = np.int64(hashtab[hi])
                if cand > 0:
                    n_eq = 0
                    while n_eq < 32 and cand - 1 - n_eq >= 0 and (
                        codes[cand - 1 - n_eq] == codes[pos_ - n_eq]
                    ):
                        n_eq += 1
                    if n_eq >= minlen:
                        mlen = n_eq
                        mptr = cand
            hashtab[hi] = pos_ + 1

    if decoding:
        return out, nout, 0 if pos == nin else 1, codes
    for _ in range(4):
        if nout >= out.shape[0]:
            bigger = np.empty(out.shape[0] * 2, dtype=np.uint8)
            bigger[:nout] = out[:nout]
            out = bigger
        out[nout] = np.uint8(x1 >> 24)
        nout += 1
        x1 = (x1 << 8) & m32
    return out, nout, 0, codes


def slot_bits(rows: int, width: int, bits: int) -> np.ndarray:
    """log2 of each model's number of context slots (``2**bits`` entries per slot).

    A model gets as many slots as it has distinct contexts (then it is indexed directly),
    capped at ``2**min(LOG2_MAX_ENTRIES, 14 + bits)`` entries and at about twice the number
    of decisions the plane can make (entries beyond that are never touched).
    """
    cap = min(LOG2_MAX_ENTRIES, 14 + bits, max(10, (2 * rows * width).bit_length() + bits))
    out = [max(1, min(cap - bits, (n - 1).bit_length())) for n in _direct_sizes((1 << bits) + 1)]
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
    rows, width = shape
    # Start small: the kernel grows the buffer as codes really decode (see _kernel).
    codes = np.zeros(min(rows * width, INITIAL_CODES), dtype=np.uint8)
    buf = np.frombuffer(data, dtype=np.uint8).copy()  # writable: one compiled signature
    _, _, status, codes = _run(codes, rows, width, bits, 1, buf)
    if status or codes.shape[0] != rows * width:
        raise FormatError("the context payload is corrupt (the coded stream does not match)")
    return codes
