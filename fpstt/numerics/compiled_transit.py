"""Compiled inner loops (numba) of the transit-time tables of :mod:`fpstt.numerics.transit`:
the times a velocity sampled on lines of cells takes to cross each sample interval, and the
departure points of a step ``tau`` traced through them.  Kept apart from
:mod:`fpstt.numerics.compiled` (the per-step kernels) because a run computes them once per
step length; the same conventions hold (compiled on first use, cached on disk).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["transit_times", "transit_departures"]


@numba.njit(cache=True, parallel=True)
def transit_times(f, h, blocked_time):
    """Transit times (lines, K) across the sample intervals of widths h (K,) of a velocity
    sampled as f (lines, K + 1) and taken as linear between samples: h / (the logarithmic
    mean of |f|), ``blocked_time`` where f changes sign or vanishes
    (:mod:`fpstt.numerics.transit`)."""
    lines, k_all = f.shape[0], h.size
    t = np.empty((lines, k_all))
    for line in numba.prange(lines):
        for k in range(k_all):
            f0, f1 = f[line, k], f[line, k + 1]
            if f0 * f1 <= 0:
                t[line, k] = blocked_time
                continue
            a, b = abs(f0), abs(f1)
            q = b / a
            mean = a * (1 + 0.5 * (q - 1)) if abs(q - 1) < 1e-6 else a * (q - 1) / np.log(q)
            t[line, k] = h[k] / mean
    return t


@numba.njit(cache=True)
def _sample(x, f, kappa, q, line, j, k_turn, period, periodic):
    """(x, f, kappa, q) at index j of a line's samples; a periodic line's are unrolled over
    three turns (j in [0, 3 k_turn]), the middle one holding the edges."""
    if not periodic:
        kk = min(j, kappa.shape[1] - 1)
        return x[j], f[line, j], kappa[line, kk], q[line, j]
    turn = _turn_of(j, k_turn)
    at = j - turn * k_turn
    return (x[at] + (turn - 1) * 2 * np.pi, f[line, at], kappa[line, at],
            turn * period[line] + q[line, at])


@numba.njit(cache=True, parallel=True)
def transit_departures(x, f, kappa, q, at, period, periodic, tau):
    """Departure points (lines, edges) over tau of the edges at sample indices ``at`` (of
    the middle turn when periodic), from the samples x (shared), f, kappa (slopes) and q
    (cumulative transit times, lines x (K + 1)) of :func:`transit_times`: whole turns taken
    off, the sub-interval where the time runs out found by bisection, and inverted exactly
    (x_end + f_end expm1(-kappa r) / kappa); a trace that leaves a meridian's end stops
    there, and an edge at a fixed point (f = 0) stays."""
    lines, k_turn = f.shape[0], f.shape[1] - 1
    last = 3 * k_turn if periodic else k_turn           # intervals
    first_x = x[0] - 2 * np.pi if periodic else x[0]
    last_x = x[k_turn] + 2 * np.pi if periodic else x[k_turn]
    out = np.empty((lines, at.size))
    for line in numba.prange(lines):
        turns = np.floor(tau / period[line])
        rest = tau - turns * period[line]
        for e in range(at.size):
            j0 = at[e] + (k_turn if periodic else 0)
            x0, f0, _, q0 = _sample(x, f, kappa, q, line, j0, k_turn, period, periodic)
            if f0 == 0:
                out[line, e] = x0
                continue
            up = f0 > 0
            target = q0 - rest if up else q0 + rest
            k = _last_before(q, period, line, j0, target, up, last, k_turn, periodic)
            if k < 0:
                out[line, e] = first_x
            elif k >= last:
                out[line, e] = last_x
            else:
                end = k + 1 if up else k
                x_end, f_end, _, q_end = _sample(x, f, kappa, q, line, end, k_turn, period,
                                                  periodic)
                slope = _sample(x, f, kappa, q, line, k, k_turn, period, periodic)[2]
                r = q_end - target if up else target - q_end
                z = -slope * r
                factor = -r * (1 + 0.5 * z) if abs(z) < 1e-8 else np.expm1(z) / slope
                out[line, e] = x_end + f_end * factor
            if periodic:
                out[line, e] += (-1.0 if up else 1.0) * turns * 2 * np.pi
    return out


@numba.njit(cache=True, inline="always")
def _q(q, period, line, j, k_turn, periodic):
    """Cumulative transit time at sample j (unrolled over three turns when periodic)."""
    if not periodic:
        return q[line, j]
    turn = _turn_of(j, k_turn)
    return turn * period[line] + q[line, j - turn * k_turn]


@numba.njit(cache=True, inline="always")
def _turn_of(j, k_turn):
    """j // k_turn for j in [0, 3 k_turn], without a division."""
    return (j >= k_turn) + (j >= 2 * k_turn) + (j >= 3 * k_turn)


@numba.njit(cache=True)
def _last_before(q, period, line, j0, target, up, last, k_turn, periodic):
    """The interval k where a trace from sample j0 (time q0 = q[j0]) back to ``target``
    ends: q[k] < target <= q[k + 1] upward (target <= q0), q[k] <= target < q[k + 1]
    downward (so that a trace of no time stays at its edge); -1 or ``last`` past the ends.
    Found by galloping from j0 (the target is usually a few samples away), then bisection."""
    step = 1
    if up:                                   # largest k with q[k] < target
        hi, lo = j0, j0 - 1
        while lo >= 0 and _q(q, period, line, lo, k_turn, periodic) >= target:
            hi, step = lo, 2 * step
            lo = j0 - step
        lo = max(lo, -1)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _q(q, period, line, mid, k_turn, periodic) < target:
                lo = mid
            else:
                hi = mid
        return lo
    lo, hi = j0, j0 + 1                      # largest k with q[k] <= target
    while hi <= last and _q(q, period, line, hi, k_turn, periodic) <= target:
        lo, step = hi, 2 * step
        hi = j0 + step
    hi = min(hi, last + 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _q(q, period, line, mid, k_turn, periodic) <= target:
            lo = mid
        else:
            hi = mid
    return lo
