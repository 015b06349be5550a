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

from vqimage.codecs import _cm_kernels as cm
from vqimage.codecs._context_kernel import (
    RATE,
    SQUASH,
    STRETCH,
    decode_with,
    hash_bits,
    match_length,
    slot_bits_for,
)
from vqimage.errors import FormatError

__all__ = ["decode", "encode", "order_codes"]

NMODELS = 6
NGRAD = 9  # levels of a quantised gradient


def _direct_sizes(k: int) -> tuple[int, ...]:
    kk = k + 1
    return (kk**6, kk**4, kk**4, k * 125, NGRAD**4, NGRAD**3 * 16)


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
    The steps shared with ``context`` are in :mod:`vqimage.codecs._cm_kernels`.
    """
    k = 1 << bits
    kk = k + 1
    half = k >> 1
    t1 = thr[0]
    t2 = thr[1]
    t3 = thr[2]
    pshift = bits - 4 if bits > 4 else 0
    offsets, table, weights, apm, idx, base, stv, ctx, hashtab, msm = cm.new_model(
        slot_bits, bits, hbits, sq)
    regmask, reg, mptr, mlen = cm.match_start(minlen, bits)
    out, nout, x1, x2, x, pos = cm.coder_start(rows * width, bits, decoding, data)
    if pos < 0:
        return out, nout, 1, codes

    # The second APM, in the gradient context: starts as the first.
    nga = NGRAD * NGRAD * NGRAD * (2 * bits + 2)
    apm2 = np.empty((nga, 33), dtype=np.int64)
    for s in range(nga):
        for j in range(33):
            apm2[s, j] = apm[0, j]

    for i in range(rows):
        for j in range(width):
            pos_ = i * width + j
            if cm.full(decoding, codes, pos_, out, nout, bits):
                codes, out = cm.grow(decoding, codes, pos_, rows * width, out, nout)
            # Raw neighbours (k outside the plane) for the pattern contexts ...
            w_, ww, n_, nw, ne, nn, nne = cm.neighbours(codes, pos_, i, j, width, k)
            # ... and filled ones (missing neighbours copy a present one) for prediction.
            wp = w_ if j >= 1 else (n_ if i >= 1 else 0)
            np_ = n_ if i >= 1 else wp
            nwp = nw if (i >= 1 and j >= 1) else np_
            nep = ne if (i >= 1 and j + 1 < width) else np_
            wwp = ww if j >= 2 else wp
            pred = cm.median(wp, np_, nwp)
            g1 = _quant(nep - np_, t1, t2, t3)
            g2 = _quant(np_ - nwp, t1, t2, t3)
            g3 = _quant(nwp - wp, t1, t2, t3)
            g4 = _quant(wp - wwp, t1, t2, t3)
            cm.pattern_contexts(ctx, w_, ww, n_, nw, ne, nn, nne, kk)
            ctx[3] = cm.pred_context(pred, wp, np_, nep)
            ctx[4] = ((g1 * NGRAD + g2) * NGRAD + g3) * NGRAD + g4
            ctx[5] = (((pred >> pshift) * NGRAD + g1) * NGRAD + g2) * NGRAD + g3
            gctx = ((g1 * NGRAD + g2) * NGRAD + g3) * (2 * bits + 2)
            cm.slot_bases(ctx, slot_bits, offsets, bits, base)
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
                dot = cm.mixer_dot(weights, sel, table, base, node, idx, stv, st)
                dm, mi, eb = cm.match_input(expect, 0, 1, step, bits, lb, msm, st, stv, weights,
                                            sel)
                pm, lo, wgt = cm.squash_dot(dot + dm, sq)
                a0, a1, pa = cm.apm_mix(apm, sel, lo, wgt)
                g = gctx
                if step > 0:
                    g += 2 * step - 1 + (1 if node > (1 << (step - 1)) else 0)
                b0, b1, pb = cm.apm_mix(apm2, g, lo, wgt)
                p = min(max((2 * pm + 3 * pa + 3 * pb) >> 3, 1), 4095)
                y = 0 if decoding else cm.decision(z, 0, 1, step, bits)
                y, x1, x2, x, pos, nout = cm.coder_bit(p, y, decoding, x1, x2, x, pos, data, out,
                                                       nout)
                if pos < 0:
                    return out, nout, 1, codes
                cm.mixer_update(weights, sel, stv, y, pm, mi, eb, msm)
                cm.apm_update(apm, sel, lo, wgt, a0, a1, y)
                cm.apm_update(apm2, g, lo, wgt, b0, b1, y)
                cm.table_update(table, idx, y, rate)
                if expect >= 0 and eb != y:
                    expect = -1
                if step == 0:
                    if y:
                        break
                    node = 1
                else:
                    node = 2 * node + y
                    zbits = 2 * zbits + y
            if decoding:
                zz = 0 if node == 0 else zbits + 1
                e = (zz >> 1) if (zz & 1) == 0 else -((zz + 1) >> 1)
                code = (pred + e) & (k - 1)
                codes[pos_] = code
            else:
                code = np.int64(codes[pos_])
            mlen, mptr, reg = cm.match_update(codes, pos_, code, mlen, mptr, reg, regmask, bits,
                                              minlen, hbits, hashtab)

    return cm.coder_end(decoding, pos, data, x1, out, nout, codes)


def slot_bits(rows: int, width: int, bits: int) -> np.ndarray:
    """log2 of each model's number of context slots (``2**bits`` entries per slot)."""
    return slot_bits_for(_direct_sizes(1 << bits), rows, width, bits)


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
    buf = np.frombuffer(data, dtype=np.uint8, offset=start).copy()
    codes = decode_with(_run, buf, shape, bits, "context2")
    if inverse is not None:
        if int(codes.max()) >= n_levels:
            raise FormatError("the context2 payload decodes to a code outside the ordering")
        codes = inverse[codes]
    return codes
