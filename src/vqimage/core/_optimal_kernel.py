"""Compiled kernels (numba), imported only when a problem is too large for numpy.

Exact 1-D k-means on prefix sums: the Lagrangian penalty search (:func:`optimal_fast`, the
default) and the divide-and-conquer layer recurrence (:func:`optimal_dc`, its fallback and
test reference). Keeping numba out of ``import vqimage`` keeps library and CLI start-up fast;
the compiled code is cached on disk after its first use.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _cost(p1, p2, pw, j, i):  # pragma: no cover - compiled
    s = p1[i] - p1[j]
    c = (p2[i] - p2[j]) - s * s / (pw[i] - pw[j])
    return c if c > 0.0 else 0.0


@njit(cache=True, nogil=True)
def _optimal_dc(p1, p2, pw, k):  # pragma: no cover - compiled
    m = p1.size - 1
    prev = np.empty(m + 1)
    cur = np.empty(m + 1)
    prev[0] = 0.0
    for i in range(1, m + 1):
        prev[i] = _cost(p1, p2, pw, 0, i)
    args = np.zeros((k, m + 1), dtype=np.int32)
    stack = np.empty((4 * (64 + 2), 4), dtype=np.int64)
    for layer in range(1, k):
        for i in range(m + 1):
            cur[i] = np.inf
        # Layer `layer` (0-based) puts layer+1 clusters on values [0, i): i >= layer + 1 and the
        # last cluster starts at j in [layer, i - 1]. Later layers each need one value more, so
        # i <= m - (k - 1 - layer); the last layer is needed at i = m only.
        top = 0
        stack[0, 0] = layer + 1 if layer < k - 1 else m
        stack[0, 1] = m - (k - 1 - layer)
        stack[0, 2] = layer
        stack[0, 3] = m - 1
        top = 1
        while top > 0:
            top -= 1
            lo = stack[top, 0]
            hi = stack[top, 1]
            olo = stack[top, 2]
            ohi = stack[top, 3]
            if lo > hi:
                continue
            mid = (lo + hi) // 2
            best = np.inf
            bestj = olo
            jhi = ohi if ohi < mid - 1 else mid - 1
            for j in range(olo, jhi + 1):
                v = prev[j] + _cost(p1, p2, pw, j, mid)
                if v < best:
                    best = v
                    bestj = j
            cur[mid] = best
            args[layer, mid] = bestj
            # Push the larger half first so the stack stays logarithmic.
            stack[top, 0] = lo
            stack[top, 1] = mid - 1
            stack[top, 2] = olo
            stack[top, 3] = bestj
            top += 1
            stack[top, 0] = mid + 1
            stack[top, 1] = hi
            stack[top, 2] = bestj
            stack[top, 3] = ohi
            top += 1
        for i in range(m + 1):
            prev[i] = cur[i]
    starts = np.zeros(k, dtype=np.int64)
    i = m
    for layer in range(k - 1, 0, -1):
        i = args[layer, i]
        starts[layer] = i
    return starts


def optimal_dc(p1: np.ndarray, p2: np.ndarray, pw: np.ndarray, k: int) -> np.ndarray:
    """Start indices of the optimal ``k`` clusters given prefix sums (see strategies.optimal)."""
    return _optimal_dc(p1, p2, pw, k).astype(np.intp)



# --------------------------------------------------------------------------------------------
# Lagrangian relaxation: one penalised, unconstrained-count problem per penalty.


@njit(cache=True, nogil=True)
def _prefix_sums(x, w):  # pragma: no cover - compiled
    # Neumaier-compensated running sums of w, w*(x - shift) and w*(x - shift)**2 with shift the
    # weighted mean: centring keeps the sums of squares small (offset data), compensation keeps
    # the bits a plain cumulative sum loses over a million terms. (The mean is computed here
    # rather than with np.dot, whose BLAS threads cost milliseconds on a busy machine.)
    m = x.size
    sx = 0.0
    sw = 0.0
    for i in range(m):
        sx += w[i] * x[i]
        sw += w[i]
    shift = sx / sw
    # One correction pass makes the mean exact to rounding whatever the offset.
    r = 0.0
    for i in range(m):
        r += w[i] * (x[i] - shift)
    shift += r / sw
    p1 = np.empty(m + 1)
    p2 = np.empty(m + 1)
    pw = np.empty(m + 1)
    p1[0] = 0.0
    p2[0] = 0.0
    pw[0] = 0.0
    s1 = 0.0
    c1 = 0.0
    s2 = 0.0
    c2 = 0.0
    sw = 0.0
    cw = 0.0
    for i in range(m):
        d = x[i] - shift
        a = w[i] * d
        b = a * d
        t = s1 + a
        c1 += (s1 - t) + a if abs(s1) >= abs(a) else (a - t) + s1
        s1 = t
        t = s2 + b
        c2 += (s2 - t) + b if abs(s2) >= abs(b) else (b - t) + s2
        s2 = t
        t = sw + w[i]
        cw += (sw - t) + w[i] if abs(sw) >= abs(w[i]) else (w[i] - t) + sw
        sw = t
        p1[i + 1] = s1 + c1
        p2[i + 1] = s2 + c2
        pw[i + 1] = sw + cw
    return p1, p2, pw


@njit(cache=True, nogil=True)
def _wins(p1, pw, d, i, b, p):  # pragma: no cover - compiled
    # Whether starting the last cluster at i (> b) is at least as good as at b for end p, with
    # d = (f[i] - f[b]) - (p2[i] - p2[b]): the p2[p] terms cancel and, multiplied through by
    # both (positive) cluster weights, the comparison needs two loads and no division.
    si = p1[p] - p1[i]
    sb = p1[p] - p1[b]
    wi = pw[p] - pw[i]
    wb = pw[p] - pw[b]
    return d * wi * wb <= si * si * wb - sb * sb * wi


@njit(cache=True, nogil=True)
def _crossing(p1, p2, pw, f, i, b, lo, m):  # pragma: no cover - compiled
    # First end p > lo at which start i (> b) is at least as good as start b, knowing it is
    # not at lo; -1 if there is none. Gallops from lo: with long clusters adjacent starts cross
    # a few ends apart, so this costs O(log distance) comparisons.
    d = (f[i] - f[b]) - (p2[i] - p2[b])
    step = 1
    hi = lo + 1
    while True:
        if hi > m:
            hi = m
        if _wins(p1, pw, d, i, b, hi):
            break
        if hi == m:
            return -1
        lo = hi
        step *= 2
        hi = lo + step
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if _wins(p1, pw, d, i, b, mid):
            hi = mid
        else:
            lo = mid
    return hi


@njit(cache=True, nogil=True)
def _penalised(p1, p2, pw, lam, f, pred, cand, start):  # pragma: no cover - compiled
    # f[i] = min_j f[j] + cost(j, i) + lam over j < i (a concave least-weight subsequence).
    # The cost is Monge, so once a later start i beats an earlier one b at some end p it beats
    # it at every end after p: the candidates kept in a deque each own an interval of ends
    # (cand[r] is best from start[r] on). A new start is compared with the last candidate at
    # the start of its interval (dropping candidates it beats there), and its own interval
    # is searched from there. Most new starts are beaten by the very next one, so that search
    # is deferred by one value: the pending start u is dropped without a search when start
    # u + 1 beats it at the first end it could win. A few comparisons per value in practice,
    # O(log m) at worst.
    m = p1.size - 1
    f[0] = 0.0
    head = 0
    tail = 1
    cand[0] = 0
    start[0] = 1
    u = -1  # pending start: loses to the last candidate at every end before lo_u
    lo_u = 0
    for i in range(1, m + 1):
        while tail - head > 1 and start[head + 1] <= i:
            head += 1
        j = cand[head]
        f[i] = f[j] + _cost(p1, p2, pw, j, i) + lam
        pred[i] = j
        if i == m:
            break
        if u >= 0:
            # lo_u >= i + 1, so u could not have been better than the front at i.
            if lo_u <= m:
                du = (f[i] - f[u]) - (p2[i] - p2[u])
                if not _wins(p1, pw, du, i, u, lo_u):
                    hi = _crossing(p1, p2, pw, f, u, cand[tail - 1], lo_u - 1, m)
                    if hi > 0:
                        cand[tail] = u
                        start[tail] = hi
                        tail += 1
            u = -1
        lo = i + 1
        while tail > head:
            b = cand[tail - 1]
            lo = start[tail - 1]
            if lo <= i:
                lo = i + 1
            d = (f[i] - f[b]) - (p2[i] - p2[b])
            if not _wins(p1, pw, d, i, b, lo):
                break
            tail -= 1  # i is at least as good as b on all of b's interval
        if tail == head:
            cand[tail] = i
            start[tail] = i + 1
            tail += 1
        else:
            u = i
            lo_u = lo + 1
    # Walk the predecessors back: cluster starts, their count and the unpenalised error.
    n = 0
    i = m
    while i > 0:
        i = pred[i]
        n += 1
    starts = np.empty(n, dtype=np.int64)
    sse = 0.0
    i = m
    r = n
    while i > 0:
        j = pred[i]
        sse += _cost(p1, p2, pw, j, i)
        r -= 1
        starts[r] = j
        i = j
    return starts, sse


@njit(cache=True, nogil=True)
def _path_sse(p1, p2, pw, starts):  # pragma: no cover - compiled
    m = p1.size - 1
    sse = 0.0
    for r in range(starts.size):
        e = starts[r + 1] if r + 1 < starts.size else m
        sse += _cost(p1, p2, pw, starts[r], e)
    return sse


@njit(cache=True, nogil=True)
def _splice(a, b, m, r):  # pragma: no cover - compiled
    # a (p clusters) and b (q < r < p clusters) are both optimal for the same penalty. Some
    # cluster of b contains a whole cluster [a[i], a[i+1]) of a with i - j = p - r, j being
    # b's cluster; b's first j + 1 clusters followed by a's clusters from a[i+1] then have r
    # clusters and, by the Monge exchange, the same penalised error: they are optimal for r.
    p = a.size
    j = 0
    for i in range(p):
        while j + 1 < b.size and b[j + 1] <= a[i]:
            j += 1
        b_end = b[j + 1] if j + 1 < b.size else m
        a_end = a[i + 1] if i + 1 < p else m
        if a_end <= b_end and i - j == p - r:
            out = np.empty(r, dtype=np.int64)
            out[: j + 1] = b[: j + 1]
            out[j + 1 :] = a[i + 1 :]
            return out
    return np.empty(0, dtype=np.int64)  # unreachable for a valid pair


def _initial_scale(p1: np.ndarray, pw: np.ndarray) -> float:
    """High-resolution estimate ``a`` of the k-cluster error ``a / k**2`` (Panter–Dite).

    ``a = W (∫ p^(1/3) dx)^3 / 12`` for total weight ``W`` and density ``p``, the integral
    estimated on up to 256 equal-weight bins of the sorted values.
    """
    m = p1.size - 1
    total = pw[-1]
    nb = int(min(256, max(1, m // 4)))
    cuts = np.unique(np.searchsorted(pw, np.linspace(0.0, total, nb + 1)[1:-1]))
    idx = np.r_[0, np.clip(cuts, 1, m - 1), m - 1]
    # Each value from its bin's sums: x_i = (p1[i+1] - p1[i]) / (pw[i+1] - pw[i]).
    xs = (p1[idx + 1] - p1[idx]) / (pw[idx + 1] - pw[idx])
    width = np.diff(xs)
    mass = np.diff(pw[idx]) / total
    ok = width > 0
    integral = float(np.sum(mass[ok] ** (1 / 3) * width[ok] ** (2 / 3)))
    return total * integral**3 / 12.0


def optimal_lagrangian(
    p1: np.ndarray,
    p2: np.ndarray,
    pw: np.ndarray,
    k: int,
    *,
    lam0: float | None = None,
    max_steps: int = 100,
) -> tuple[np.ndarray, int, float]:
    """Start indices of the optimal ``k`` clusters by a search on a per-cluster penalty.

    Parameters
    ----------
    p1, p2, pw : ndarray of float64, shape (m + 1,)
        Prefix sums of ``w * x``, ``w * x**2`` and ``w`` (centred ``x``), from 0.
    k : int
        Number of clusters, ``2 <= k < m``.
    lam0 : float, optional
        First penalty to try (e.g. from a coarse copy of the problem).
    max_steps : int
        Penalised passes allowed before giving up.

    Returns
    -------
    starts : ndarray of int64, shape (k,)
        Index of the first value of each cluster.
    steps : int
        Number of penalised passes, negative when the answer was spliced from two
        solutions tied at one penalty.
    lam : float
        The last penalty tried (one at which ``starts`` is optimal).

    Raises
    ------
    RuntimeError
        If no exact answer was found in ``max_steps`` passes.

    Notes
    -----
    O(m) time per pass in practice (O(m log m) at worst) and O(m) memory; see
    :func:`optimal_fast` for the search.
    """
    m = p1.size - 1
    f = np.empty(m + 1)
    pred = np.empty(m + 1, dtype=np.int64)
    cand = np.empty(m + 1, dtype=np.int64)
    start = np.empty(m + 1, dtype=np.int64)
    # Bracket: `hi` has more than k clusters and is optimal at penalty lam_hi, `lo` fewer at
    # lam_lo; the m singletons are optimal at 0 and the single cluster at +inf. (A singleton
    # costs 0 on distinct values, not on the merged runs of a coarse copy.)
    hi_starts, lam_hi, hi_real = np.arange(m, dtype=np.int64), 0.0, False
    hi_sse = float(_path_sse(p1, p2, pw, hi_starts))
    lo_starts = np.zeros(1, dtype=np.int64)
    lo_sse, lam_lo, lo_real = float(_path_sse(p1, p2, pw, lo_starts)), np.inf, False
    chord = False  # next step: the chord between the bracket's ends
    run = 0  # consecutive solutions on the same side of k, minus one
    last = 0
    for step in range(max_steps):
        c_hi, c_lo = hi_starts.size, lo_starts.size
        lam = np.nan
        if step == 0 and lam0 is not None:
            lam = lam0
        elif not chord:
            # The penalty at which c clusters are optimal is a slope of the error curve S(c)
            # at c, and S(c) is close to a power law: interpolate log(penalty) linearly in
            # log(c) between the bracket's solutions (bisecting log(penalty) when the same
            # end keeps moving, as regula falsi can stall); with one solution (c, S, lam)
            # take the local exponent lam * c / S, doubling the step while the other side of
            # k is not reached; with none, the high-resolution estimate S(c) = a / c**2.
            if hi_real and lo_real:
                if run >= 1:
                    lam = np.sqrt(lam_hi * lam_lo)
                else:
                    t = np.log(k / c_hi) / np.log(c_lo / c_hi)
                    lam = lam_hi * (lam_lo / lam_hi) ** t
            elif hi_real or lo_real:
                c, sse, lam = (c_hi, hi_sse, lam_hi) if hi_real else (c_lo, lo_sse, lam_lo)
                beta = lam * c / sse if sse > 0 else 2.0
                grow = np.log(c / k) * (beta + 1.0) * 2.0 ** min(run, 16)
                lam = lam * np.exp(np.clip(grow, -700.0, 700.0))
            else:
                a = _initial_scale(p1, pw)
                lam = a * ((k - 0.5) ** -2.0 - (k + 0.5) ** -2.0)
        if chord or not (lam_hi < lam < lam_lo):
            # The chord between the bracket's ends: a solution strictly between them, or proof
            # that both are optimal at this penalty (the error curve is convex in the count).
            chord = True
            lam = (lo_sse - hi_sse) / (c_hi - c_lo)
        starts, sse = _penalised(p1, p2, pw, lam, f, pred, cand, start)
        c = starts.size
        if c == k:
            return starts, step + 1, lam
        if chord and not c_lo < c < c_hi:
            spliced = _splice(hi_starts, lo_starts, m, k)
            if spliced.size != k:  # only if rounding broke the Monge exchange
                raise RuntimeError("no splice of the bracketing solutions")
            return spliced, -(step + 1), lam
        side = 1 if c > k else -1
        run = run + 1 if side == last else 0
        last = side
        inside = c_lo < c < c_hi
        # A solution at an end of the bracket still tightens that end's penalty.
        if c > k and c <= c_hi:
            hi_starts, hi_sse, lam_hi, hi_real = starts, sse, max(lam_hi, lam), True
        elif c < k and c >= c_lo:
            lo_starts, lo_sse, lam_lo, lo_real = starts, sse, min(lam_lo, lam), True
        # Between two real ends, a step that did not move inside may sit on a penalty where
        # both ends are optimal: the chord decides.
        chord = not inside and hi_real and lo_real
    raise RuntimeError(f"penalty search did not converge in {max_steps} steps")


def optimal_fast(x: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """Start indices of the optimal ``k`` clusters of sorted distinct ``x`` with weights ``w``.

    Parameters
    ----------
    x : ndarray of float64, shape (m,)
        Sorted distinct values.
    w : ndarray of float64, shape (m,)
        Their positive weights.
    k : int
        Number of clusters, ``2 <= k < m``.

    Returns
    -------
    ndarray of intp, shape (k,)
        Index of the first value of each cluster (``0`` first).

    Notes
    -----
    Lagrangian relaxation (Grønlund et al. 2017, section 2.4): for a per-cluster penalty
    ``lam``, the minimum of error + ``lam`` * count over any number of clusters is a concave
    least-weight subsequence problem, solved in one pass over the values (:func:`_penalised`,
    O(m) cost evaluations in practice, O(m log m) at worst). The optimal count falls as
    ``lam`` rises, so ``lam`` is searched until the count is ``k``
    (:func:`optimal_lagrangian`): log-log interpolation of the penalty between the bracketing
    solutions (safeguarded by bisection and expansion steps), and chords of the convex error
    curve, which either find a count strictly inside the bracket or prove that both ends are
    optimal at one penalty. In that tie the two bracketing solutions are spliced into an exact
    ``k``-cluster optimum (:func:`_splice`, by the Monge exchange argument), so the result is
    exact, not approximate. The search is first run on a coarse copy (runs of ``m / (64 k)``
    values merged, when that is at least 8), whose penalty for ``k`` usually makes the first
    full pass land on ``k``: one to three O(m) passes on typical data whatever ``k``, O(m)
    memory. The divide-and-conquer layer recurrence (O(k m log m)) is kept as a fallback
    should the search not converge in 100 steps.

    Prefix sums are taken on data centred at its weighted mean with compensated summation
    (:func:`_prefix_sums`), so cluster costs keep their precision on offset data and on
    millions of values.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    w = np.ascontiguousarray(w, dtype=np.float64)
    p1, p2, pw = _prefix_sums(x, w)
    m = x.size
    lam0 = None
    group = m // (64 * k)
    if group >= 8:
        # Aim with a coarse copy first: runs of `group` values merged (clusters of a few
        # groups' worth of values, restricted to group boundaries) are a Monge problem with the
        # same error curve up to O((group k / m)^2), so its penalty for k clusters lands the
        # first full pass on k nearly always, at 1/group of the cost per search step.
        idx = np.r_[np.arange(0, m, group), m]
        _, _, lam0 = optimal_lagrangian(p1[idx], p2[idx], pw[idx], k)
    try:
        starts, _, _ = optimal_lagrangian(p1, p2, pw, k, lam0=lam0)
    except RuntimeError:
        starts = _optimal_dc(p1, p2, pw, k)
    return starts.astype(np.intp)
