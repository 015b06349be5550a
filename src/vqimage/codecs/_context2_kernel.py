"""The ``context2`` codec's kernel: residual context mixing with a code reordering (numba).

Imported only when the codec runs; the compiled kernel is cached on disk. ``docs/format.md``
specifies the payload; this file is its normative definition. All arithmetic is on integers,
so encoder and decoder agree bit for bit and the bytes are the same on every machine.

What changes against the ``context`` kernel (:mod:`vqimage.codecs._context_kernel`), and why:

* Codes are first renumbered by a permutation chosen by the encoder and stored in the payload:
  a chain through the codes that puts codes often found side by side at nearby numbers. The
  numbering of a palette is arbitrary, and a residual is only small when similar codes have
  nearby numbers; scalar levels are already in order and keep the identity.
* The coded symbol is the residual against the median (LOCO-I) predictor, folded into
  ``0 .. k - 1`` (``k = 2**bits``) by zigzag: decision 0 says "residual 0", then the bits of
  ``zigzag - 1`` follow, most significant first. Residual statistics are shared across
  intensities, which is what large alphabets need.
* Two more models see quantised local gradients (JPEG-LS style), with and without the coarse
  predicted value; a second APM refines the probability in the gradient context.
* Neighbours are read from the code buffer, which grows as codes decode (see Task A in the
  ``context`` kernel): memory follows the codes a payload really holds.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from vqimage.codecs._context_kernel import RATE, SQUASH, STRETCH
from vqimage.errors import FormatError

__all__ = ["decode", "encode", "order_codes"]

LOG2_MAX_ENTRIES = 20  # at most 2**20 probabilities (4 MiB) per model
LIMIT = 255  # visit counts stop here, so the tables keep adapting
MIXER_SHIFT = 14
APM_RATE = 13
MATCH_RATE = 655
LOG2_MAX_HASH = 18
INITIAL_CODES = 1 << 16
NMODELS = 6
NGRAD = 9  # levels of a quantised gradient


def _direct_sizes(k: int) -> tuple[int, ...]:
    kk = k + 1
    return (kk**6, kk**4, kk**4, k * 125, NGRAD**4, NGRAD**3 * 16)


def match_length(bits: int) -> int:
    """Codes the match model hashes: ``min(64 // bits, max(12, 32 // bits))``."""
    return min(64 // bits, max(12, 32 // bits))


def thresholds(bits: int) -> tuple[int, int, int]:
    """Gradient quantisation thresholds ``T1 < T2 < T3`` for codes of ``bits`` bits."""
    k = 1 << bits
    t1 = max(1, k >> 6)
    t2 = max(t1 + 1, k >> 4)
    t3 = max(t2 + 1, k >> 2)
    return t1, t2, t3


@njit(cache=True, nogil=True, inline="always")
def _quant(d, t1, t2, t3):
    a = d if d >= 0 else -d
    if a == 0:
        q = 0
    elif a <= t1:
        q = 1
    elif a <= t2:
        q = 2
    elif a <= t3:
        q = 3
    else:
        q = 4
    return 4 + q if d >= 0 else 4 - q


@njit(cache=True, nogil=True)
def _kernel(codes, rows, width, bits, decoding, data, slot_bits, minlen, hbits, thr, sq, st,
            rate):
    """Encode ``codes`` (``decoding == 0``) or decode ``data`` into a growing code buffer.

    ``codes`` is the renumbered plane, flat (``rows * width`` uint8, C order). Returns
    ``(buffer, byte count, status, codes)``; status 1 means the stream did not end where the
    data does. Memory besides the codes: the tables, the hash table, the mixer and the APMs.
    """
    nmod = slot_bits.shape[0]
    k = 1 << bits
    kk = k + 1
    half = k >> 1
    t1 = thr[0]
    t2 = thr[1]
    t3 = thr[2]
    pshift = bits - 4 if bits > 4 else 0
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
    nga = NGRAD * NGRAD * NGRAD * (2 * bits + 2)
    apm2 = np.empty((nga, 33), dtype=np.int64)
    for s in range(nga):
        for j in range(33):
            apm2[s, j] = apm[0, j]
    idx = np.zeros(nmod, dtype=np.int64)
    base = np.zeros(nmod, dtype=np.int64)
    stv = np.zeros(ninputs, dtype=np.int64)
    ctx = np.zeros(nmod, dtype=np.int64)
    gold = np.uint64(0x9E3779B97F4A7C15)
    m32 = 0xFFFFFFFF
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
        # Raw neighbours (k outside the plane) for the pattern contexts ...
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
        # ... and filled ones (missing neighbours copy a present one) for prediction.
        wp = w_ if j >= 1 else (n_ if i >= 1 else 0)
        np_ = n_ if i >= 1 else wp
        nwp = nw if (i >= 1 and j >= 1) else np_
        nep = ne if (i >= 1 and j + 1 < width) else np_
        wwp = ww if j >= 2 else wp
        mx = wp if wp > np_ else np_
        mn = np_ if wp > np_ else wp
        if nwp >= mx:
            pred = mn
        elif nwp <= mn:
            pred = mx
        else:
            pred = wp + np_ - nwp
        g1 = _quant(nep - np_, t1, t2, t3)
        g2 = _quant(np_ - nwp, t1, t2, t3)
        g3 = _quant(nwp - wp, t1, t2, t3)
        g4 = _quant(wp - wwp, t1, t2, t3)
        ctx[0] = ((((w_ * kk + n_) * kk + nw) * kk + ne) * kk + ww) * kk + nn
        ctx[1] = ((n_ * kk + ne) * kk + nn) * kk + nne
        ctx[2] = ((w_ * kk + ww) * kk + nw) * kk + n_
        qw = min(max(wp - pred, -2), 2) + 2
        qn = min(max(np_ - pred, -2), 2) + 2
        qne = min(max(nep - pred, -2), 2) + 2
        ctx[3] = ((pred * 5 + qw) * 5 + qn) * 5 + qne
        ctx[4] = ((g1 * NGRAD + g2) * NGRAD + g3) * NGRAD + g4
        ctx[5] = (((pred >> pshift) * NGRAD + g1) * NGRAD + g2) * NGRAD + g3
        gctx = ((g1 * NGRAD + g2) * NGRAD + g3) * (2 * bits + 2)
        for m in range(nmod):
            sb = slot_bits[m]
            h = ctx[m]
            if (h >> sb) != 0:
                h = np.int64((np.uint64(h + m + 1) * gold) >> np.uint64(64 - sb))
            base[m] = offsets[m] + (h << bits)
        # The match model's expected code, as a folded residual (-1: no advice).
        expect = -1
        if mlen > 0:
            e = ((np.int64(codes[mptr]) - pred + half) & (k - 1)) - half
            expect = 2 * e if e >= 0 else -2 * e - 1
        lb = 4 * (mlen if mlen < 31 else 31)
        gate = (1 if w_ == n_ else 0) + (2 if expect >= 0 else 0)
        z = -1
        if not decoding:
            e = ((np.int64(codes[pos_]) - pred + half) & (k - 1)) - half
            z = 2 * e if e >= 0 else -2 * e - 1
        node = 0
        zbits = 0
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
                eb = (1 if expect == 0 else 0) if step == 0 else (
                    ((expect - 1) >> (bits - step)) & 1)
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
            g = gctx
            if step > 0:
                g += 2 * step - 1 + (1 if node > (1 << (step - 1)) else 0)
            b0 = apm2[g, lo]
            b1 = apm2[g, lo + 1]
            pa = (a0 * (128 - wgt) + a1 * wgt) >> 11
            pb = (b0 * (128 - wgt) + b1 * wgt) >> 11
            p = (2 * pm + 3 * pa + 3 * pb) >> 3
            if p < 1:
                p = 1
            if p > 4095:
                p = 4095
            xmid = x1 + ((x2 - x1) >> 12) * p
            if decoding:
                y = 1 if x <= xmid else 0
            elif step == 0:
                y = 1 if z == 0 else 0
            else:
                y = ((z - 1) >> (bits - step)) & 1
            if y:
                x2 = xmid
            else:
                x1 = xmid + 1
            while ((x1 ^ x2) & 0xFF000000) == 0:
                if decoding:
                    if pos >= nin:
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
            apm2[g, lo] += ((target - b0) * (128 - wgt)) >> APM_RATE
            apm2[g, lo + 1] += ((target - b1) * wgt) >> APM_RATE
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
                    break
                node = 1
                if expect == 0:
                    expect = -1
            else:
                node = 2 * node + y
                zbits = 2 * zbits + y
                if expect >= 0 and (((expect - 1) >> (bits - step)) & 1) != y:
                    expect = -1
        if decoding:
            zz = 0 if node == 0 else zbits + 1
            e = (zz >> 1) if (zz & 1) == 0 else -((zz + 1) >> 1)
            code = (pred + e) & (k - 1)
            codes[pos_] = code
        else:
            code = np.int64(codes[pos_])
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
    """log2 of each model's number of context slots (``2**bits`` entries per slot)."""
    cap = min(LOG2_MAX_ENTRIES, 14 + bits, max(10, (2 * rows * width).bit_length() + bits))
    out = [max(1, min(cap - bits, (n - 1).bit_length())) for n in _direct_sizes(1 << bits)]
    return np.array(out, dtype=np.int64)


def hash_bits(rows: int, width: int) -> int:
    """log2 of the match model's hash table size: enough for the codes, 2**10 to 2**18."""
    return min(LOG2_MAX_HASH, max(10, (rows * width - 1).bit_length()))


def _run(codes: np.ndarray, rows: int, width: int, bits: int, decoding: int, data: np.ndarray):
    return _kernel(codes, rows, width, bits, decoding, data, slot_bits(rows, width, bits),
                   match_length(bits), hash_bits(rows, width),
                   np.array(thresholds(bits), dtype=np.int64), SQUASH, STRETCH, RATE)


def order_codes(plane: np.ndarray, n_levels: int) -> np.ndarray | None:
    """A renumbering that puts codes often found side by side at nearby numbers, or None.

    Counts how often each pair of codes are horizontal or vertical neighbours, builds a
    chain greedily (start at the most frequent code; repeatedly append the unused code most
    often next to the chain's end; ties go to the lowest code) and keeps it only when it
    lowers the total ``count * |rank(a) - rank(b)|`` over neighbouring pairs (integers:
    deterministic). Returns ``rank`` (``rank[code]`` is the new number) or None (identity).
    """
    n = n_levels
    a = plane.astype(np.int64)
    pairs = np.concatenate([(a[:, :-1] * n + a[:, 1:]).ravel(), (a[:-1] * n + a[1:]).ravel()])
    co = np.bincount(pairs, minlength=n * n).reshape(n, n)
    co = co + co.T
    np.fill_diagonal(co, 0)
    freq = np.bincount(a.ravel(), minlength=n)
    used = np.zeros(n, dtype=bool)
    cur = int(np.argmax(freq))
    chain = [cur]
    used[cur] = True
    for _ in range(n - 1):
        row = np.where(used, -1, co[cur])
        cur = int(np.argmax(row))  # first maximum: the lowest code wins ties
        chain.append(cur)
        used[cur] = True
    rank = np.empty(n, dtype=np.int64)
    rank[np.array(chain)] = np.arange(n)
    iu = np.triu_indices(n, 1)
    cost_new = int((co[iu] * np.abs(rank[iu[0]] - rank[iu[1]])).sum())
    cost_old = int((co[iu] * np.abs(iu[0] - iu[1])).sum())
    return rank if cost_new < cost_old else None


def encode(plane: np.ndarray, bits: int, n_levels: int) -> bytes:
    """Code a ``(rows, width)`` plane of codes below ``n_levels <= 2**bits``.

    The result starts with the ordering byte (0 identity, 1 a permutation of ``n_levels``
    bytes follows), then the arithmetic-coded stream.
    """
    rows, width = plane.shape
    rank = order_codes(plane, n_levels)
    if rank is None:
        head = b"\x00"
        codes = np.ascontiguousarray(plane, dtype=np.uint8).reshape(-1).copy()
    else:
        head = b"\x01" + rank.astype(np.uint8).tobytes()
        codes = rank.astype(np.uint8)[plane.reshape(-1)]
    out, n, _, _ = _run(codes, rows, width, bits, 0, np.zeros(1, dtype=np.uint8))
    return head + out[:n].tobytes()


def decode(data: bytes, shape: tuple[int, int], bits: int, n_levels: int) -> np.ndarray:
    """Inverse of :func:`encode`: the plane's codes, flattened (uint8).

    Raises :class:`~vqimage.errors.FormatError` when the ordering is not a permutation or
    the stream does not decode to exactly the payload's bytes.
    """
    rows, width = shape
    if len(data) < 1 or data[0] not in (0, 1):
        raise FormatError("the context2 payload has an unknown ordering byte")
    inverse = None
    start = 1
    if data[0] == 1:
        rank = np.frombuffer(data, dtype=np.uint8, count=min(n_levels, len(data) - 1), offset=1)
        if rank.size != n_levels or np.bincount(rank, minlength=n_levels).max() != 1 or (
            int(rank.max()) >= n_levels
        ):
            raise FormatError("the context2 payload's code ordering is not a permutation")
        inverse = np.argsort(rank).astype(np.uint8)
        start += n_levels
    codes = np.zeros(min(rows * width, INITIAL_CODES), dtype=np.uint8)
    buf = np.frombuffer(data, dtype=np.uint8, offset=start).copy()
    _, _, status, codes = _run(codes, rows, width, bits, 1, buf)
    if status or codes.shape[0] != rows * width:
        raise FormatError("the context2 payload is corrupt (the coded stream does not match)")
    if inverse is not None:
        if int(codes.max()) >= n_levels:
            raise FormatError("the context2 payload decodes to a code outside the ordering")
        codes = inverse[codes]
    return codes
