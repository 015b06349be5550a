"""The parts the context-mixing kernels share (numba): coder, mixer, APM, tables, match model.

:mod:`vqimage.codecs._context_kernel` and :mod:`vqimage.codecs._context2_kernel` differ in
what they code (a code, or a folded residual) and in their contexts; everything else is the
same code, here, inlined into both (``inline="always"``: the helpers cost no call). Changing
anything here changes both codecs' bytes: ``tests/data/*.vqi`` and the kernels' docstrings are
the reference.

A coded symbol ``sym`` is one "hit" decision (``sym == hit``) and then the ``bits`` bits of
``sym - off``, most significant first (``decision``): the ``context`` kernel codes the code
(``hit`` the prediction, ``off`` 0), the ``context2`` kernel the folded residual (``hit`` 0,
``off`` 1).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "apm_mix",
    "apm_update",
    "coder_bit",
    "coder_end",
    "coder_start",
    "decision",
    "full",
    "grow",
    "grown",
    "match_input",
    "match_start",
    "match_update",
    "median",
    "mixer_dot",
    "mixer_update",
    "neighbours",
    "new_model",
    "pattern_contexts",
    "pred_context",
    "slot_bases",
    "squash_dot",
    "table_update",
]

LIMIT = 255  # visit counts stop here, so the tables keep adapting
MIXER_SHIFT = 14  # mixer learning rate: w += stretch * err * 6 >> 14
APM_RATE = 13
MATCH_RATE = 655  # match model adaptation: 1/100, in units of 2**-16
M32 = 0xFFFFFFFF
GOLD = np.uint64(0x9E3779B97F4A7C15)

_JIT = {"cache": True, "nogil": True, "inline": "always"}


@njit(**_JIT)
def new_model(slot_bits, bits, hbits, sq):
    """The model's state: ``(offsets, table, weights, apm, idx, base, stv, ctx, hashtab, msm)``.

    Table entries hold a 22-bit probability of a 1 (high bits) and a 10-bit visit count and
    start at 1/2; the mixer has ``4 * 2**bits`` weight sets of ``nmod + 2`` inputs.
    """
    nmod = slot_bits.shape[0]
    k = 1 << bits
    offsets = np.zeros(nmod + 1, dtype=np.int64)
    for m in range(nmod):
        offsets[m + 1] = offsets[m] + (np.int64(1) << (slot_bits[m] + bits))
    table = np.full(offsets[nmod], np.uint32(1 << 31), dtype=np.uint32)
    nsets = 4 * k
    ninputs = nmod + 2
    weights = np.full((nsets, ninputs), 16384 * 4 // nmod, dtype=np.int64)
    apm = np.empty((nsets, 33), dtype=np.int64)
    for s in range(nsets):
        for j in range(33):
            apm[s, j] = sq[min(max((j - 16) * 128, -2047), 2047) + 2047] * 16
    idx = np.zeros(nmod, dtype=np.int64)
    base = np.zeros(nmod, dtype=np.int64)
    stv = np.zeros(ninputs, dtype=np.int64)
    ctx = np.zeros(nmod, dtype=np.int64)
    # Match model: hash of the last minlen codes -> position after them; P(bit == expected).
    hashtab = np.zeros(np.int64(1) << hbits, dtype=np.int32)
    msm = np.full(128, 1 << 21, dtype=np.int64)
    return offsets, table, weights, apm, idx, base, stv, ctx, hashtab, msm


@njit(**_JIT)
def coder_start(count, bits, decoding, data):
    """The arithmetic coder's state ``(out, nout, x1, x2, x, pos)``; ``pos`` -1: data too short.

    The decoder reads the first 4 bytes into ``x``; the encoder's output buffer starts at
    about a quarter of the raw size and doubles when full.
    """
    out = np.empty(count * bits // 4 + 64 if decoding == 0 else 1, dtype=np.uint8)
    x = 0
    pos = 0
    if decoding:
        if data.shape[0] < 4:
            return out, 0, 0, M32, 0, -1
        for _ in range(4):
            x = (x << 8) | np.int64(data[pos])
            pos += 1
    return out, 0, 0, M32, x, pos


@njit(**_JIT)
def match_start(minlen, bits):
    """The match model's ``(regmask, reg, mptr, mlen)``: no codes seen, no match."""
    regmask = np.uint64(0xFFFFFFFFFFFFFFFF) >> np.uint64(64 - minlen * bits)
    return regmask, np.uint64(0), 0, 0


@njit(**_JIT)
def full(decoding, codes, pos_, out, nout, bits):
    """Whether a buffer must grow before code ``pos_``: the decoder's codes, or the encoder's
    bytes (a code's ``bits + 1`` decisions write at most 4 bytes each)."""
    if decoding:
        return pos_ >= codes.shape[0]
    return nout + 4 * (bits + 1) > out.shape[0]


@njit(**_JIT)
def grow(decoding, codes, pos_, total, out, nout):
    """``(codes, out)`` with the full one doubled (codes: at most ``total``).

    The decoder's code buffer grows only as codes really decode (neighbours are read from
    the codes themselves), so memory follows what a payload holds, not the size it claims.
    """
    if decoding:
        return grown(codes, pos_, min(total, 2 * codes.shape[0])), out
    return codes, grown(out, nout, 2 * out.shape[0])


@njit(**_JIT)
def grown(buf, n, size):
    """A copy of ``buf`` of ``size`` elements whose first ``n`` are ``buf``'s."""
    bigger = np.empty(size, dtype=buf.dtype)
    bigger[:n] = buf[:n]
    return bigger


@njit(**_JIT)
def coder_bit(p, y, decoding, x1, x2, x, pos, data, out, nout):
    """Code bit ``y`` (the decoder's comes from ``x``) with 12-bit probability ``p`` of a 1.

    Returns ``(y, x1, x2, x, pos, nout)``; ``pos`` -1 when the decoder ran out of data (a
    valid stream is consumed exactly at its end). The encoder writes at most 4 bytes into
    ``out``, which must have room for them (see ``reserve``).
    """
    xmid = x1 + ((x2 - x1) >> 12) * p
    if decoding:
        y = 1 if x <= xmid else 0
    if y:
        x2 = xmid
    else:
        x1 = xmid + 1
    while ((x1 ^ x2) & 0xFF000000) == 0:
        if decoding:
            if pos >= data.shape[0]:
                return y, x1, x2, x, -1, nout
            x = ((x << 8) & M32) | np.int64(data[pos])
            pos += 1
        else:
            out[nout] = np.uint8(x2 >> 24)
            nout += 1
        x1 = (x1 << 8) & M32
        x2 = ((x2 << 8) & M32) | 255
    return y, x1, x2, x, pos, nout


@njit(**_JIT)
def coder_end(decoding, pos, data, x1, out, nout, codes):
    """The kernel's result ``(buffer, byte count, status, codes)``.

    The encoder writes its last 4 bytes (the final flush); the decoder's status is 1 unless
    the stream ended exactly where the data does.
    """
    if decoding:
        return out, nout, 0 if pos == data.shape[0] else 1, codes
    if nout + 4 > out.shape[0]:
        out = grown(out, nout, out.shape[0] + 4)
    for _ in range(4):
        out[nout] = np.uint8(x1 >> 24)
        nout += 1
        x1 = (x1 << 8) & M32
    return out, nout, 0, codes


@njit(**_JIT)
def neighbours(codes, pos_, i, j, width, k):
    """``(W, WW, N, NW, NE, NN, NNE)`` of the code at row ``i``, column ``j``; ``k`` outside."""
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
    return w_, ww, n_, nw, ne, nn, nne


@njit(**_JIT)
def median(w, n, nw):
    """The LOCO-I median predictor of the left, up and up-left values."""
    mx = w if w > n else n
    mn = n if w > n else w
    if nw >= mx:
        return mn
    if nw <= mn:
        return mx
    return w + n - nw


@njit(**_JIT)
def pattern_contexts(ctx, w_, ww, n_, nw, ne, nn, nne, kk):
    """Contexts 0 to 2: (W, N, NW, NE, WW, NN), (N, NE, NN, NNE), (W, WW, NW, N)."""
    ctx[0] = ((((w_ * kk + n_) * kk + nw) * kk + ne) * kk + ww) * kk + nn
    ctx[1] = ((n_ * kk + ne) * kk + nn) * kk + nne
    ctx[2] = ((w_ * kk + ww) * kk + nw) * kk + n_


@njit(**_JIT)
def pred_context(pred, w, n, ne):
    """The prediction and the clipped differences of W, N and NE to it."""
    qw = min(max(w - pred, -2), 2) + 2
    qn = min(max(n - pred, -2), 2) + 2
    qne = min(max(ne - pred, -2), 2) + 2
    return ((pred * 5 + qw) * 5 + qn) * 5 + qne


@njit(**_JIT)
def slot_bases(ctx, slot_bits, offsets, bits, base):
    """Each model's slot: small contexts index directly, large ones by multiplicative hash."""
    for m in range(slot_bits.shape[0]):
        sb = slot_bits[m]
        h = ctx[m]
        if (h >> sb) != 0:
            h = np.int64((np.uint64(h + m + 1) * GOLD) >> np.uint64(64 - sb))
        base[m] = offsets[m] + (h << bits)


@njit(**_JIT)
def decision(sym, hit, off, step, bits):
    """Decision ``step`` of coding ``sym``: the hit decision at step 0, then bits of sym-off."""
    if step == 0:
        return 1 if sym == hit else 0
    return ((sym - off) >> (bits - step)) & 1


@njit(**_JIT)
def mixer_dot(weights, sel, table, base, node, idx, stv, st):
    """The mixer's dot product of the models' stretched predictions (and a bias input).

    Fills ``idx`` (each model's entry) and ``stv`` (the inputs, but the match model's).
    """
    nmod = base.shape[0]
    dot = 256 * weights[sel, nmod]
    for m in range(nmod):
        ii = base[m] + node
        idx[m] = ii
        v = st[np.int64(table[ii]) >> 20]
        stv[m] = v
        dot += v * weights[sel, m]
    stv[nmod] = 256
    return dot


@njit(**_JIT)
def match_input(expect, hit, off, step, bits, lb, msm, st, stv, weights, sel):
    """The match model's input: ``(dot term, msm index or -1, expected bit)``."""
    last = stv.shape[0] - 1
    if expect < 0:
        stv[last] = 0
        return 0, -1, 0
    eb = decision(expect, hit, off, step, bits)
    mi = lb + (2 if step == 0 else 0) + eb
    v = st[msm[mi] >> 10]
    stv[last] = v if eb else -v
    return stv[last] * weights[sel, last], mi, eb


@njit(**_JIT)
def squash_dot(dot, sq):
    """``(p, lo, wgt)``: the mixer's 12-bit probability and the APM cell and weight."""
    dot = dot >> 16
    if dot > 2047:
        dot = 2047
    if dot < -2047:
        dot = -2047
    t = dot + 2048
    return sq[dot + 2047], t >> 7, t & 127


@njit(**_JIT)
def apm_mix(apm, s, lo, wgt):
    """``(a0, a1, p)``: APM row ``s``'s two cells and their interpolation (12 bits)."""
    a0 = apm[s, lo]
    a1 = apm[s, lo + 1]
    return a0, a1, (a0 * (128 - wgt) + a1 * wgt) >> 11


@njit(**_JIT)
def apm_update(apm, s, lo, wgt, a0, a1, y):
    target = 65535 * y
    apm[s, lo] += ((target - a0) * (128 - wgt)) >> APM_RATE
    apm[s, lo + 1] += ((target - a1) * wgt) >> APM_RATE


@njit(**_JIT)
def mixer_update(weights, sel, stv, y, pm, mi, eb, msm):
    """Train the mixer on bit ``y`` (``pm`` its prediction) and the match model's counter."""
    err = ((y << 12) - pm) * 6
    for m in range(stv.shape[0]):
        weights[sel, m] += (stv[m] * err) >> MIXER_SHIFT
    if mi >= 0:
        agree = 1 if y == eb else 0
        msm[mi] += (((agree << 22) - msm[mi]) * MATCH_RATE) >> 16


@njit(**_JIT)
def table_update(table, idx, y, rate):
    """Move each model's entry towards ``y`` at rate 1 / (visits + 1.5)."""
    for m in range(idx.shape[0]):
        tv = np.int64(table[idx[m]])
        cnt = tv & 1023
        pr = tv >> 10
        pr += (((y << 22) - pr) * rate[cnt]) >> 16
        if cnt < LIMIT:
            cnt += 1
        table[idx[m]] = np.uint32((pr << 10) | cnt)


@njit(**_JIT)
def match_update(codes, pos_, code, mlen, mptr, reg, regmask, bits, minlen, hbits, hashtab):
    """Extend or drop the match, then look for a new one every 4th code: ``(mlen, mptr, reg)``.

    ``reg`` holds the last ``minlen`` codes; their hash finds where they last occurred, and a
    candidate becomes the match when at least ``minlen`` codes before it agree.
    """
    if mlen > 0 and np.int64(codes[mptr]) == code:
        if mlen < 65535:
            mlen += 1
        mptr += 1
    else:
        mlen = 0
    reg = ((reg << np.uint64(bits)) | np.uint64(code)) & regmask
    if pos_ + 1 >= minlen:
        hi = np.int64(((reg + np.uint64(1)) * GOLD) >> np.uint64(64 - hbits))
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
    return mlen, mptr, reg
