"""Compiled inner loops (numba) of the chart and remap paths: the line remap of
:mod:`fpstt.numerics.remap`, the product and the line solves of the directional parts of
:mod:`fpstt.numerics.lines` and the mode solves of :mod:`fpstt.numerics.averaged`; the same
solves and a product of the mode blocks serve the Fourier path of long runs
(:class:`fpstt.numerics.fourier.SpectralBackend`, ``compiled``).  The transit-time tables
of :mod:`fpstt.numerics.transit` are in :mod:`fpstt.numerics.compiled_transit`.

They were whole-array numpy expressions, which pass over the grid once per operation (a PPM
reconstruction and its limiter took some twenty passes and as many temporaries, a line
product eight, a line solve a gather and a scatter of the whole grid).  Here each is one pass
in the same floating-point operations in the same order, so the results are those of the
array expressions, except where noted (the sum of a long run of covered cells in
:func:`remap_lines`; the complex products of :func:`tridiagonal_modes`, within 1 ulp).

Loops over independent lines, rows or blocks of columns are shared among numba's threads
(``prange``; two on the 2-core machine): each line's arithmetic is the same in any thread,
so the results do not depend on the number of threads.  Unless the user chose numba's
threading layer (``NUMBA_THREADING_LAYER``), it is set to ``"safe"`` (TBB, a dependency on
x86-64, where its wheels exist): GNU OpenMP, numba's default where TBB is absent, aborts a
process forked after it ran (``fpstt sweep`` and the model-space check fork their workers);
elsewhere numba's default stays.

The functions are compiled on first use and cached on disk (``cache=True``).  Importing this
module costs numba's start-up (about 0.7 s, and a first call 0.2 s to load the cache), so the
modules that call it import it inside the calling function: a short run on the Fourier path
of the z' frame (the Table I problem, ``fpstt fig4``) never loads numba.
"""

from __future__ import annotations

import importlib.metadata

import numba
import numpy as np

__all__ = ["remap_lines", "remap_columns", "line_product", "solve_factored_columns", "factors_by_row",
           "tridiagonal_modes",
           "solve_sheared_pt", "solve_sheared_gt"]


def _tbb_installed() -> bool:
    """The ``tbb`` distribution (numba's TBB layer) is installed."""
    try:
        importlib.metadata.version("tbb")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


if numba.config.THREADING_LAYER == "default" and _tbb_installed():
    numba.config.THREADING_LAYER = "safe"      # fork- and thread-safe: TBB

_NEAR = 3                     # covered cells added one by one before a run's sum starts
_BLOCKS = 8                   # most blocks of columns a solve is cut into for the threads
_COLUMNS = 32                 # columns a column remap copies into lines at a time


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


@numba.njit(cache=True, parallel=True)
def remap_lines(mass, cell, frac, rows, periodic, limit, out):
    """New masses of lines of cells (rows of ``mass``, n cells each) into ``out`` (the same
    shape; either may be a strided view: a grid's columns go to :func:`remap_columns`):
    line i's new cell j receives the old mass between the departure points (cell[r, j],
    frac[r, j]) and (cell[r, j + 1], frac[r, j + 1]) of its edges, r = rows[i] (periodic
    lines: unwrapped cell indices).  Of the cells a new cell covers in full, the first
    three are added one by one and the rest as one sum, cell by cell (the array version took
    the rest as a difference of cumulative sums, whose round-off is that of the line's
    total).  Old masses under the cut cells come from :func:`_parabolas`.  The lines are
    independent: they are shared among numba's threads (the same numbers as one thread)."""
    lines = mass.shape[0]
    for i in numba.prange(lines):
        _remap_line(mass, i, rows[i], cell, frac, periodic, limit, out)
    return out


@numba.njit(cache=True, parallel=True)
def remap_columns(mass, cell, frac, rows, limit, out):
    """:func:`remap_lines` of the columns of ``mass`` (n, lines; its rows contiguous, as the
    grid's) into those of ``out``, non-periodic: blocks of _COLUMNS columns are copied
    into contiguous lines, remapped line by line as :func:`remap_lines` does (the same
    numbers) and copied back.  A line read down a column in place touches one cache line
    and one page per cell; a block reads each row's cache lines once.  The blocks are shared
    among numba's threads."""
    n, lines = mass.shape
    for b in numba.prange((lines + _COLUMNS - 1) // _COLUMNS):
        first = b * _COLUMNS
        width = min(_COLUMNS, lines - first)
        block, moved = np.empty((width, n)), np.empty((width, n))
        for c in range(n):
            for q in range(width):
                block[q, c] = mass[c, first + q]
        for q in range(width):
            _remap_line(block, q, rows[first + q], cell, frac, False, limit, moved)
        for c in range(n):
            for q in range(width):
                out[c, first + q] = moved[q, c]
    return out


@numba.njit(cache=True)
def _remap_line(mass, i, r, cell, frac, periodic, limit, out):
    """Line i of :func:`remap_lines` (departures of row r) into out[i]."""
    n = mass.shape[1]
    padded, a_left, a_right, a6 = np.empty(n + 4), np.empty(n), np.empty(n), np.empty(n)
    _parabolas(mass, i, n, periodic, limit, padded, a_left, a_right, a6)
    k1 = cell[r, 0]
    c1 = k1 % n if periodic else k1
    lo = _below(a_left[c1], a_right[c1], a6[c1], frac[r, 0])
    for j in range(n):
        k2 = cell[r, j + 1]
        c2 = c1 + (k2 - k1)                     # k2 mod n: a division only past the end
        if c2 >= n:
            c2 %= n
        hi = _below(a_left[c2], a_right[c2], a6[c2], frac[r, j + 1])
        if k1 == k2:
            new = hi - lo
        else:
            new = mass[i, c1] - lo + hi
            c = c1
            for _ in range(min(k2 - k1, _NEAR + 1) - 1):
                c = c + 1 if c + 1 < n else 0
                new += mass[i, c]
            if k2 > k1 + _NEAR + 1:
                run = 0.0
                for _ in range(k2 - k1 - _NEAR - 1):
                    c = c + 1 if c + 1 < n else 0
                    run += mass[i, c]
                new += run
        out[i, j] = new
        k1, c1, lo = k2, c2, hi


@numba.njit(cache=True, parallel=True)
def line_product(x, diagonal, lo, up, turns, phi_lo, phi_up):
    """L x on a chart grid (rows, n_phi) from L's directional parts: ``diagonal`` their
    summed diagonals; part p of ``lo``, ``up`` couples (i, j) to (i - 1, j - turns[p]) and
    (i + 1, j + turns[p]); ``phi_lo``, ``phi_up`` (empty: no phi part) to (i, j -+ 1),
    periodic.  Per cell the terms are added in that order, as the array version did."""
    rows, n = x.shape
    out = np.empty((rows, n))
    for i in numba.prange(rows):            # rows are independent: shared among threads
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


@numba.njit(cache=True, parallel=True)
def solve_factored_columns(dl, d, du, du2, swap, x):
    """Solve, in place, the independent tridiagonal systems whose LU factors (LAPACK
    ``gttrf``: multipliers ``dl``, pivots ``d``, first and second superdiagonals ``du``,
    ``du2``, ``swap`` where rows k, k + 1 were interchanged) lie along the first axis of
    each column of the (rows, systems) arrays: LAPACK's ``gtts2`` for one right-hand side,
    column by column in one pass over the rows (no transposes); the columns are shared
    among numba's threads in contiguous blocks."""
    systems = x.shape[1]
    blocks = _blocks(systems)
    for b in numba.prange(blocks):
        _solve_columns(dl, d, du, du2, swap, x, systems * b // blocks,
                       systems * (b + 1) // blocks)


@numba.njit(cache=True)
def _blocks(columns):
    """Blocks of columns to share among numba's threads: 64 columns or more each, at most
    _BLOCKS (the threads take them in turn)."""
    return max(1, min(_BLOCKS, columns // 64))


@numba.njit(cache=True)
def _solve_columns(dl, d, du, du2, swap, x, first, stop):
    """:func:`solve_factored_columns` on the columns first..stop - 1, in place."""
    rows = x.shape[0]
    for i in range(rows - 1):
        for s in range(first, stop):
            if swap[i, s]:
                temp = x[i, s]
                x[i, s] = x[i + 1, s]
                x[i + 1, s] = temp - dl[i, s] * x[i, s]
            else:
                x[i + 1, s] -= dl[i, s] * x[i, s]
    for s in range(first, stop):
        x[rows - 1, s] /= d[rows - 1, s]
        if rows > 1:
            x[rows - 2, s] = (x[rows - 2, s] - du[rows - 2, s] * x[rows - 1, s]) / d[rows - 2, s]
    for i in range(rows - 3, -1, -1):
        for s in range(first, stop):
            x[i, s] = (x[i, s] - du[i, s] * x[i + 1, s] - du2[i, s] * x[i + 2, s]) / d[i, s]


@numba.njit(cache=True, parallel=True)
def tridiagonal_modes(T, x):
    """y = L x for the phi-mode blocks of :class:`~fpstt.numerics.fourier.SpectralBackend`:
    ``T`` (modes, 3, rows) the sub-, main and super-diagonal couplings of each mode's theta
    rows, ``x`` (rows, modes); each sum in the order of the array version (main, row
    below, row above), rows shared among numba's threads."""
    rows, modes = x.shape
    y = np.empty_like(x)
    for i in numba.prange(rows):
        for m in range(modes):
            v = T[m, 1, i] * x[i, m]
            if i < rows - 1:
                v += T[m, 0, i + 1] * x[i + 1, m]
            if i > 0:
                v += T[m, 2, i - 1] * x[i - 1, m]
            y[i, m] = v
    return y


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


@numba.njit(cache=True, parallel=True)
def _rotated_rows(x, shift, inverse):
    """Row i of x turned by shift[i] columns: y[i, l] = x[i, (l + shift[i]) mod n], or with
    ``inverse`` back, y[i, (l + shift[i]) mod n] = x[i, l] (lines of a sheared part to
    columns and back)."""
    rows, n = x.shape
    out = np.empty_like(x)
    for i in numba.prange(rows):
        k = shift[i] % n
        for l in range(n):
            c = l + k - n if l + k >= n else l + k
            if inverse:
                out[i, c] = x[i, l]
            else:
                out[i, l] = x[i, c]
    return out


@numba.njit(cache=True, parallel=True)
def solve_sheared_pt(x, shift, d, e, scale):
    """The systems of a part's lines (line l through cells (i, (l + shift[i]) mod n)),
    factorised as D^-1 S D with S = L diag(d) L^T (LAPACK ``pttrf``: ``d``, ``e``, laid
    out (positions, lines)): x = D^-1 S^-1 D r for r the grid array ``x``, as LAPACK's
    ``pttrs`` on the gathered lines, in one pass down the rows and one up (the lines in
    blocks shared among numba's threads)."""
    y = _rotated_rows(x, shift, False)
    n = y.shape[1]
    blocks = _blocks(n)
    for b in numba.prange(blocks):
        _solve_pt_columns(y, d, e, scale, n * b // blocks, n * (b + 1) // blocks)
    return _rotated_rows(y, shift, True)


@numba.njit(cache=True)
def _solve_pt_columns(y, d, e, scale, first, stop):
    """:func:`solve_sheared_pt` on the gathered lines first..stop - 1 of ``y``, in place."""
    rows = y.shape[0]
    for i in range(rows):
        for l in range(first, stop):
            y[i, l] *= scale[i, l]
            if i > 0:
                y[i, l] -= y[i - 1, l] * e[i - 1, l]
    for l in range(first, stop):
        y[rows - 1, l] /= d[rows - 1, l]
    for i in range(rows - 2, -1, -1):
        for l in range(first, stop):
            y[i, l] = y[i, l] / d[i, l] - y[i + 1, l] * e[i, l]
    for i in range(rows):
        for l in range(first, stop):
            y[i, l] /= scale[i, l]


@numba.njit(cache=True, parallel=True)
def solve_sheared_gt(x, shift, dl, d, du, du2, swap):
    """As :func:`solve_sheared_pt` for lines factorised by LAPACK ``gttrf`` (laid out
    (positions, lines), ``swap`` for the pivots): LAPACK's ``gttrs``."""
    y = _rotated_rows(x, shift, False)
    n = y.shape[1]
    blocks = _blocks(n)
    for b in numba.prange(blocks):
        _solve_columns(dl, d, du, du2, swap, y, n * b // blocks, n * (b + 1) // blocks)
    return _rotated_rows(y, shift, True)
