"""Compiled inner loops (numba) of the chart and remap paths: the line remap of
:mod:`fpstt.numerics.remap`, the product and the line solves of the directional parts of
:mod:`fpstt.numerics.lines`, the mode solves of :mod:`fpstt.numerics.averaged` and the
transit-time tables of :mod:`fpstt.numerics.transit`; the same solves serve the Fourier path of
long runs (:class:`fpstt.numerics.fourier.SpectralBackend`, ``compiled``).

They were whole-array numpy expressions, which pass over the grid once per operation (a PPM
reconstruction and its limiter took some twenty passes and as many temporaries, a line
product eight, a line solve a gather and a scatter of the whole grid).  Here each is one pass
in the same floating-point operations in the same order, so the results are those of the
array expressions, except where noted (the sum of a long run of covered cells in
:func:`remap_lines`; a trace of no time in :func:`transit_departures`).

The functions are compiled on first use and cached on disk (``cache=True``).  Importing this
module costs numba's start-up (about 0.7 s, and a first call 0.2 s to load the cache), so the
modules that call it import it inside the calling function: a short run on the Fourier path
of the z' frame (the Table I problem, ``fpstt fig4``) never loads numba.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["remap_lines", "line_product", "solve_factored_columns", "factors_by_row",
           "solve_sheared_pt", "solve_sheared_gt", "transit_times", "transit_departures"]

_NEAR = 3                     # covered cells added one by one before a run's sum starts


@numba.njit(cache=True)
def _parabolas(mass, i, n, periodic, limit, padded, a_left, a_right, a6):
    """PPM parabolas of the cells of line i (edge values and a6, per unit fraction of a
    cell) into the buffers, scaled toward the cell mean where they dip below zero when
    ``limit`` (Zhang-Shu).  The line is extended by two cells at each end: periodically,
    or (a line with caps) by its first and last inner cells (the caps take no part)."""
    padded[2:n + 2] = mass[i]
    if periodic:
        padded[0], padded[1], padded[n + 2], padded[n + 3] = (
            mass[i, n - 2], mass[i, n - 1], mass[i, 0], mass[i, 1])
    else:
        padded[0] = padded[1] = padded[2] = mass[i, 1]
        padded[n + 1] = padded[n + 2] = padded[n + 3] = mass[i, n - 2]
    right = 0.0
    for c in range(n + 1):
        edge = padded[c + 1] + padded[c + 2]
        edge *= 7
        edge -= padded[c]
        edge -= padded[c + 3]
        edge /= 12
        if c > 0:
            a_left[c - 1], a_right[c - 1] = right, edge
        right = edge
    if not periodic:
        a_left[0] = a_right[0] = mass[i, 0]
        a_left[n - 1] = a_right[n - 1] = mass[i, n - 1]
    for c in range(n):
        m, al, ar = mass[i, c], a_left[c], a_right[c]
        a6[c] = 6 * m - 3 * (al + ar)
        if not limit or min(a6[c], 0.0) * 0.25 + min(al, ar) >= 0:
            continue                    # a(x) >= min(al, ar) + min(a6, 0)/4 >= 0
        lowest, d = min(al, ar), ar - al
        if a6[c] < 0 and abs(d) < -a6[c]:                # convex, vertex inside
            lowest = m + a6[c] / 12 + d * d / (4 * a6[c])
        if lowest < 0:                  # flatten toward the mean (a negative mass: flat)
            scale = m / (max(m, 0.0) - lowest) if m > 0 else 0.0
            a_left[c] = m + scale * (al - m)
            a_right[c] = m + scale * (ar - m)
            a6[c] *= scale


@numba.njit(cache=True)
def _below(al, ar, a6, x):
    """Integral over [0, x] of the parabola al + x (ar - al + a6 (1 - x))."""
    return ((((ar - al) + a6) * 0.5 - a6 * x / 3) * x + al) * x


@numba.njit(cache=True)
def remap_lines(mass, cell, frac, rows, periodic, limit):
    """New masses of lines of cells (rows of ``mass``, n cells each): line i's new cell j
    receives the old mass between the departure points (cell[r, j], frac[r, j]) and
    (cell[r, j + 1], frac[r, j + 1]) of its edges, r = rows[i] (periodic lines: unwrapped
    cell indices).  Of the cells a new cell covers in full, the first three are added one
    by one and the rest as one sum, cell by cell (the array version took the rest as a
    difference of cumulative sums, whose round-off is that of the line's total).  Old masses
    under the cut cells come from :func:`_parabolas`."""
    lines, n = mass.shape
    out = np.empty((lines, n))
    padded, a_left, a_right, a6 = np.empty(n + 4), np.empty(n), np.empty(n), np.empty(n)
    for i in range(lines):
        r = rows[i]
        _parabolas(mass, i, n, periodic, limit, padded, a_left, a_right, a6)
        k1 = cell[r, 0]
        c1 = k1 % n if periodic else k1
        lo = _below(a_left[c1], a_right[c1], a6[c1], frac[r, 0])
        for j in range(n):
            k2 = cell[r, j + 1]
            c2 = k2 % n if periodic else k2
            hi = _below(a_left[c2], a_right[c2], a6[c2], frac[r, j + 1])
            if k1 == k2:
                new = hi - lo
            else:
                new = mass[i, c1] - lo + hi
                for k in range(k1 + 1, min(k2, k1 + _NEAR + 1)):
                    new += mass[i, k % n]
                if k2 > k1 + _NEAR + 1:
                    run = 0.0
                    for k in range(k1 + _NEAR + 1, k2):
                        run += mass[i, k % n]
                    new += run
            out[i, j] = new
            k1, c1, lo = k2, c2, hi
    return out


@numba.njit(cache=True)
def line_product(x, diagonal, lo, up, turns, phi_lo, phi_up):
    """L x on a chart grid (rows, n_phi) from L's directional parts: ``diagonal`` their
    summed diagonals; part p of ``lo``, ``up`` couples (i, j) to (i - 1, j - turns[p]) and
    (i + 1, j + turns[p]); ``phi_lo``, ``phi_up`` (empty: no phi part) to (i, j -+ 1),
    periodic.  Per cell the terms are added in that order, as the array version did."""
    rows, n = x.shape
    out = np.empty((rows, n))
    for i in range(rows):
        o = out[i]
        o[:] = diagonal[i] * x[i]
        for p in range(turns.size):
            if i > 0:
                _add_turned(o, lo[p, i], x[i - 1], turns[p])
            if i < rows - 1:
                _add_turned(o, up[p, i], x[i + 1], -turns[p])
        if phi_lo.size > 0:
            _add_turned(o, phi_lo[i], x[i], 1)
            _add_turned(o, phi_up[i], x[i], -1)
    return out


@numba.njit(cache=True, inline="always")
def _add_turned(out, coef, src, turn):
    """out[j] += coef[j] * src[(j - turn) mod n], turn in {-1, 0, 1}."""
    n = src.size
    if turn == 0:
        for j in range(n):
            out[j] += coef[j] * src[j]
    elif turn == 1:
        out[0] += coef[0] * src[n - 1]
        for j in range(1, n):
            out[j] += coef[j] * src[j - 1]
    else:
        for j in range(n - 1):
            out[j] += coef[j] * src[j + 1]
        out[n - 1] += coef[n - 1] * src[0]


@numba.njit(cache=True)
def solve_factored_columns(dl, d, du, du2, swap, x):
    """Solve, in place, the independent tridiagonal systems whose LU factors (LAPACK
    ``gttrf``: multipliers ``dl``, pivots ``d``, first and second superdiagonals ``du``,
    ``du2``, ``swap`` where rows k, k + 1 were interchanged) lie along the first axis of
    each column of the (rows, systems) arrays: LAPACK's ``gtts2`` for one right-hand side,
    column by column in one pass over the rows (no transposes)."""
    rows, systems = x.shape
    for i in range(rows - 1):
        for s in range(systems):
            if swap[i, s]:
                temp = x[i, s]
                x[i, s] = x[i + 1, s]
                x[i + 1, s] = temp - dl[i, s] * x[i, s]
            else:
                x[i + 1, s] -= dl[i, s] * x[i, s]
    for s in range(systems):
        x[rows - 1, s] /= d[rows - 1, s]
        if rows > 1:
            x[rows - 2, s] = (x[rows - 2, s] - du[rows - 2, s] * x[rows - 1, s]) / d[rows - 2, s]
    for i in range(rows - 3, -1, -1):
        for s in range(systems):
            x[i, s] = (x[i, s] - du[i, s] * x[i + 1, s] - du2[i, s] * x[i + 2, s]) / d[i, s]


def by_row(values, rows: int, systems: int):
    """A vector over ``systems`` concatenated systems of ``rows`` unknowns each (system-major,
    as LAPACK factors them; shorter ones, a band's off-diagonals, padded with zeros) laid out
    (rows, systems), as the solves here read it."""
    full = np.zeros(rows * systems, values.dtype)
    full[:values.size] = values
    return np.ascontiguousarray(full.reshape(systems, rows).T)


def factors_by_row(dl, d, du, du2, ipiv, rows: int, systems: int) -> list:
    """LAPACK ``gttrf`` factors of ``systems`` tridiagonal systems of ``rows`` unknowns,
    concatenated system-major (none coupled to the next), laid out (rows, systems) with the
    pivots as interchange flags: the arguments of :func:`solve_factored_columns`."""
    swap = ipiv != np.arange(1, ipiv.size + 1)        # rows k, k + 1 interchanged
    return [by_row(values, rows, systems) for values in (dl, d, du, du2, swap)]


@numba.njit(cache=True)
def _rotated_rows(x, shift, inverse):
    """Row i of x turned by shift[i] columns: y[i, l] = x[i, (l + shift[i]) mod n], or with
    ``inverse`` back, y[i, (l + shift[i]) mod n] = x[i, l] (lines of a sheared part to
    columns and back)."""
    rows, n = x.shape
    out = np.empty_like(x)
    for i in range(rows):
        k = shift[i] % n
        for l in range(n):
            c = l + k - n if l + k >= n else l + k
            if inverse:
                out[i, c] = x[i, l]
            else:
                out[i, l] = x[i, c]
    return out


@numba.njit(cache=True)
def solve_sheared_pt(x, shift, d, e, scale):
    """The systems of a part's lines (line l through cells (i, (l + shift[i]) mod n)),
    factorised as D^-1 S D with S = L diag(d) L^T (LAPACK ``pttrf``: ``d``, ``e``, laid
    out (positions, lines)): x = D^-1 S^-1 D r for r the grid array ``x``, as LAPACK's
    ``pttrs`` on the gathered lines, in one pass down the rows and one up."""
    y = _rotated_rows(x, shift, False)
    rows, n = y.shape
    for i in range(rows):
        for l in range(n):
            y[i, l] *= scale[i, l]
            if i > 0:
                y[i, l] -= y[i - 1, l] * e[i - 1, l]
    for l in range(n):
        y[rows - 1, l] /= d[rows - 1, l]
    for i in range(rows - 2, -1, -1):
        for l in range(n):
            y[i, l] = y[i, l] / d[i, l] - y[i + 1, l] * e[i, l]
    for i in range(rows):
        for l in range(n):
            y[i, l] /= scale[i, l]
    return _rotated_rows(y, shift, True)


@numba.njit(cache=True)
def solve_sheared_gt(x, shift, dl, d, du, du2, swap):
    """As :func:`solve_sheared_pt` for lines factorised by LAPACK ``gttrf`` (laid out
    (positions, lines), ``swap`` for the pivots): LAPACK's ``gttrs``."""
    y = _rotated_rows(x, shift, False)
    solve_factored_columns(dl, d, du, du2, swap, y)
    return _rotated_rows(y, shift, True)


@numba.njit(cache=True)
def transit_times(f, h, blocked_time):
    """Transit times (lines, K) across the sample intervals of widths h (K,) of a velocity
    sampled as f (lines, K + 1) and taken as linear between samples: h / (the logarithmic
    mean of |f|), ``blocked_time`` where f changes sign or vanishes
    (:mod:`fpstt.numerics.transit`)."""
    lines, k_all = f.shape[0], h.size
    t = np.empty((lines, k_all))
    for line in range(lines):
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


@numba.njit(cache=True)
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
    for line in range(lines):
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
