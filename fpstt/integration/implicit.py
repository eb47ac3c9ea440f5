"""The implicit pieces of a run: one scheme on a fixed step, and the windowed pieces of a
split scheme.

:class:`ImplicitScheme` steps a backend's operator L (:mod:`fpstt.numerics.fourier`: sparse LU
in real space, or one tridiagonal system per phi Fourier mode) with backward Euler,
Crank-Nicolson, BDF2 or TR-BDF2 on a fixed step, factorised once.  :class:`WindowedImplicit`
takes the half and full implicit steps of a split scheme (:mod:`fpstt.integration.split`) over
the rows that hold the mass, with :class:`ImplicitScheme` or, on chart grids,
:class:`~fpstt.numerics.lines.LineScheme` (the 2-D systems solved line by line).
"""

from __future__ import annotations

import math

import numpy as np

from . import wells

__all__ = ["ImplicitScheme", "WindowedImplicit", "WINDOW_TOL"]

_GAMMA = 2 - math.sqrt(2)
_MARGIN = 6                  # rows kept on each side of the mass window
WINDOW_TOL = 1e-13           # rows holding less mass than this (relative) are frozen
_AHEAD = 24                  # a window factorisation is reused while the state moves this far
_STEPS_AHEAD = 6             # ... or, at several rows a step, for at least this many steps
_BEHIND = 8                  # ... and, once its tail has spread out of the window the
                             # other way, while it spreads this far more
_EXACT_SLACK = 8             # an exact window spreads by 1/this of itself (seed 3 row 12 grew
                             # 757 -> 868 rows 8-11 at a time, a factorisation each)
_ADAPTIVE = ("inverse",)    # a line scheme's own settings (the inverse it starts with)
_FACTOR_SOLVES = 50          # a sparse LU costs about this many of its solves (583 x 256 cells:
                             # 1.2 s against 24 ms)


class _Stalled(Exception):
    """A line piece's solve stalled (:meth:`WindowedImplicit._went_exact`)."""


class ImplicitScheme:
    """One implicit scheme on a backend's operator L and a fixed step dt, factorised once."""

    build_solves = _FACTOR_SOLVES        # building one costs about this many of its steps' solves

    def __init__(self, backend, dt, scheme):
        self.backend, self.scheme, self.dt = backend, scheme, dt
        self.prev = None
        coef = {"be": 1.0, "cn": 0.5, "tr-bdf2": _GAMMA / 2, "bdf2": 1.0}[scheme]
        self.lu = backend.factor(1.0, coef * dt)
        self.n_factorizations = 1
        if scheme == "bdf2":
            self.lu2 = backend.factor(1.5, dt)
            self.n_factorizations = 2

    def step(self, x):
        dt, b = self.dt, self.backend
        if self.scheme == "be":
            return self.lu.solve(x)
        if self.scheme == "cn":
            return self.lu.solve(x + 0.5 * dt * b.matvec(x))
        if self.scheme == "tr-bdf2":
            g = _GAMMA
            mid = self.lu.solve(x + 0.5 * g * dt * b.matvec(x))
            return self.lu.solve(mid / (g * (2 - g)) - (1 - g) ** 2 / (g * (2 - g)) * x)
        # bdf2, started by backward Euler
        new = self.lu.solve(x) if self.prev is None else self.lu2.solve(2 * x - 0.5 * self.prev)
        self.prev = x
        return new


class WindowedImplicit:
    """Implicit pieces (G, H) over the theta rows from the first to the last that hold more
    than ``tol`` (1e-13) of the mass each (plus a margin), with no flux through the window's
    edges: rows outside are frozen (they only shift), which changes the result by ~1e-12 in
    L1 on Table I and nothing in mass. A window's factorisation is reused while the state,
    moving ``rows`` a step in ``direction``, stays inside it (24 rows ahead, or 6 steps'
    worth; 8 the other way once a spreading tail has left the window there, 1/8 of an exact
    window: seed 1 row 8 rebuilt its pieces 91 times in its first 0.25 t_n without; 8 rows
    always cost seed 2 row 22, whose windows are narrow, 50 %); ``travel`` (rows the state
    moves in the whole run) bounds how far ahead an exact inverse's window reaches. Once one
    piece needs an exact inverse (its solve stalled: the step is taken again by an exact
    piece on that window, not on the piece's own rows), the pieces of every step length in
    ``steps`` (a split run's dt / 2 and dt) use exact inverses on one shared window, from
    their next step on, and theirs are factorised ahead on worker threads while the first
    one factorises (same matrices, so the same answer). That window only grows (a state
    whose tail rows come and go refactorised 152 times on seed 2 row 19), except when the
    state has settled in at most 2/3 of it and the solves left in the run (``n_steps`` full
    steps, two solves each) save more than a factorisation of the smaller window costs
    (about 50 of its solves): seed 1 row 19 settled at its attractor in 193 of the 390 rows
    of its exact window. A piece with an approximate inverse (cheap to build:
    ``build_solves`` of its solves) is rebuilt on fewer rows by the same rule: seed 1 row 0
    stepped all 443 rows while its state settled in 137 (28 s; 18 s with it). Wells far
    apart are stepped apart, the long empty runs of rows between them frozen, where that
    pays by the same rule, once the pieces are exact (:mod:`~fpstt.integration.wells`).
    ``tol=None``: every row, always (for tails, such as write-error rates, that such rows
    carry)."""

    def __init__(self, backend, scheme: str, direction: int, tol: float | None = WINDOW_TOL,
                 piece=ImplicitScheme, travel: int | None = None, steps: tuple = (),
                 n_steps: int | None = None, rows: int = 1):
        self.backend, self.scheme, self.direction, self.tol = backend, scheme, direction, tol
        self.travel = travel                # rows the state moves in the run (None: any)
        self.piece = piece                  # ImplicitScheme, or LineScheme on a LineBackend
        self.steps = tuple(steps)           # the step lengths the pieces take (dt / 2, dt)
        self.n_steps, self.taken = n_steps, 0   # full steps in the run, and taken so far
        self.ahead = max(_AHEAD, _STEPS_AHEAD * rows)   # the state moves ``rows`` a step
        self.exact_rows = None              # the window of the exact inverses, once in use
        self.last = None                    # the state's rows [i0, i1) at the last step
        self.gaps = ()                      # empty runs of rows frozen between wells
        self.factors, self.windows, self.n_factorizations, self.pieces = {}, [], 0, []

    def memory(self) -> dict:
        """The factorisations in use, as JSON-able rows (dt, lo, hi, the piece's adaptive
        settings), the exact inverses' window and the full steps taken: what :meth:`recall`
        needs to continue bit for bit."""
        return {"pieces": [[dt, lo, hi, {k: getattr(piece, k) for k in _ADAPTIVE
                                         if hasattr(piece, k)}]
                           for dt, (lo, hi, piece) in self.factors.items()],
                "exact_rows": self.exact_rows, "taken": self.taken, "last": self.last,
                "gaps": self.gaps}

    def recall(self, memory: dict) -> None:
        """Rebuild the factorisations that :meth:`memory` listed."""
        self.factors.clear()
        self.exact_rows = tuple(memory["exact_rows"]) if memory["exact_rows"] else None
        self.taken = memory["taken"]
        self.last = tuple(memory["last"]) if memory.get("last") else None
        self.gaps = tuple(tuple(gap) for gap in memory.get("gaps", ()))
        for dt, lo, hi, settings in memory["pieces"]:
            self._new_piece(dt, lo, hi, settings)

    def step(self, dt: float, x):
        if self.steps and dt == max(self.steps):
            self.taken += 1
        i0, i1, empty = self._rows(x)
        lo, hi, piece = self.factors.get(dt, (0, 0, None))
        inverse = getattr(piece, "inverse", None)
        exact = self.exact_rows is not None or inverse == "direct"   # all go exact together
        needed = self._needed(i0, i1, lo, hi, piece, exact, x.shape[0])
        cost = _FACTOR_SOLVES if exact else getattr(piece, "build_solves", _FACTOR_SOLVES)
        settled = piece is not None and self._oversized((lo, hi), needed, cost)
        stale = exact and piece is not None and inverse != "direct"
        if piece is not None and exact:             # line pieces apart: model-space seed 6
            self._freeze(empty, lo, hi, cost)       # row 20's far cap stalled on its own
            stale |= getattr(piece, "gaps", ()) != wells.inside(self.gaps, lo, hi)
        if settled or stale or not (lo <= i0 and i1 <= hi):
            lo, hi, piece = self._replace(dt, needed, (lo, hi, piece), (i0, i1, x.shape[0]), exact)
        frozen = wells.rows_in(getattr(piece, "gaps", ()))
        self.windows.append((hi - lo - frozen) / x.shape[0])
        try:
            x[lo:hi] = piece.step(x[lo:hi])
        except _Stalled:                            # taken again, exact, on the exact window
            needed = self._needed(i0, i1, lo, hi, piece, True, x.shape[0])
            lo, hi, piece = self._replace(dt, needed, (lo, hi, piece), (i0, i1, x.shape[0]), True)
            x[lo:hi] = piece.step(x[lo:hi])
        self.last = (i0, i1)
        return x

    def _replace(self, dt, needed, old, held, exact: bool) -> tuple:
        """(lo, hi, piece): a new piece of step ``dt`` in place of ``old`` (lo, hi, piece)
        for the state's rows ``held`` (i0, i1, rows in the grid), on ``needed`` or, for an
        exact inverse, on the shared exact window (:meth:`_exact_choice`), whose other
        steps' pieces then start factorising ahead."""
        lo, hi, piece = old
        settings = {k: getattr(piece, k) for k in _ADAPTIVE if hasattr(piece, k)}
        if exact:
            settings["inverse"] = "direct"
            lo, hi = self._exact_choice(needed, lo, hi, piece, *held)
        else:
            lo, hi = needed
        piece = self._new_piece(dt, lo, hi, settings)
        if exact:
            self._start_others(piece)
        return lo, hi, piece

    def _needed(self, i0, i1, lo, hi, piece, exact: bool, rows: int) -> tuple:
        """The window a new piece takes for the state's rows [i0, i1): 24 rows ahead in the
        direction of travel (6 steps' worth at 8 rows a step: seed 1 row 8 rebuilt its
        windows every 3 steps, 21 % of its time), or for an exact inverse (dear to
        factorise) as far as the state moves in the run (the end of the grid if not known),
        so that one factorisation serves the rest of it; 8 more the other way where a tail
        has spread out of the piece's window (lo, hi), and for an exact inverse 1/8 of the
        window there, or of the state's rows where its tail spreads (since the last step) inside
        the window: seed 6 row 3 went exact on 0..613 with its tail spreading at row 613
        and factorised 0..691 one step later."""
        reach = self.ahead
        if exact:
            reach = rows if self.travel is None else min(self.travel + self.ahead, rows)
        ahead = reach if self.direction > 0 else 0
        up = self.direction > 0                 # the side away from the travel: i1's
        spread = piece is not None and (i1 > hi if up else i0 < lo)
        behind = 0                              # slack where the tail has spread out:
        if spread:                              # an exact window's is 1/8 of it (dear)
            behind = max(_BEHIND, (hi - lo) // _EXACT_SLACK) if exact else _BEHIND
        elif exact and self.last is not None and (i1 > self.last[1] if up else i0 < self.last[0]):
            behind = max(_BEHIND, (i1 - i0) // _EXACT_SLACK)
        return (max(i0 - ahead - (0 if up else behind), 0),
                min(i1 + reach - ahead + (behind if up else 0), rows))

    def _exact_choice(self, needed, lo, hi, piece, i0, i1, rows) -> tuple:
        """The window of an exact inverse: the shared one where it holds the state and has
        not become oversized (factorised or started already); else the shared one joined by
        ``needed`` and the piece's own (lo, hi), or ``needed`` alone where the state has
        settled in part of the shared window (:meth:`_oversized`)."""
        shared = self.exact_rows
        settled = shared is not None and self._oversized(shared, needed, _FACTOR_SOLVES)
        if shared and shared[0] <= i0 and i1 <= shared[1] and not settled:
            return shared
        if settled:
            self.exact_rows = None
            return self._exact_window(*needed, rows)
        return self._exact_window(*((min(needed[0], lo), max(needed[1], hi)) if piece
                                    else needed), rows)

    def _oversized(self, window, needed, cost: float) -> bool:
        """True when a piece on ``needed`` rows, at most 2/3 of ``window``, pays for its
        building (about ``cost`` of its solves) within the solves left in the run (two a
        full step); never when the run's length is not known."""
        return self._pays(window[1] - window[0], needed[1] - needed[0], cost)

    def _pays(self, size: int, small: int, cost: float) -> bool:
        """True when pieces stepping ``small`` rows, at most 2/3 of ``size``, pay for their
        building (about ``cost`` of their solves) within the solves left in the run."""
        if self.n_steps is None:
            return False
        left = max(self.n_steps - self.taken, 0)
        return 3 * small <= 2 * size and 2 * left * (size - small) >= cost * small

    def _freeze(self, empty, lo, hi, cost: float) -> None:
        """Keep the frozen gaps (:mod:`~fpstt.integration.wells`) while they stay empty, and
        freeze the empty runs of the window [lo, hi) instead where stepping the rest pays
        for new pieces (:meth:`_pays`: at most 2/3 of the rows stepped now)."""
        if self.gaps and not wells.still_empty(self.gaps, empty):
            self.gaps = ()                      # a well has reached into a gap
        gaps = wells.to_freeze(empty, lo, hi)
        stepped = hi - lo - wells.rows_in(wells.inside(self.gaps, lo, hi))
        if gaps and self._pays(stepped, hi - lo - wells.rows_in(gaps), cost):
            self.gaps = gaps

    def _new_piece(self, dt, lo, hi, settings):
        """The piece of step ``dt`` on the window [lo, hi): one, or one on each run of rows
        between the frozen gaps inside it (:class:`~fpstt.integration.wells.ApartPiece`)."""
        gaps = wells.inside(self.gaps, lo, hi)
        edges = [lo, *(edge for gap in gaps for edge in gap), hi]
        parts = [(a, b, self._one_piece(dt, a, b, settings))
                 for a, b in zip(edges[::2], edges[1::2])]
        piece = wells.ApartPiece(parts, lo, gaps) if gaps else parts[0][2]
        self.factors[dt] = (lo, hi, piece)
        self.n_factorizations += piece.n_factorizations
        return piece

    def _one_piece(self, dt, lo, hi, settings):
        piece = self.piece(self.backend.window(lo, hi), dt, self.scheme, **settings)
        if hasattr(piece, "on_exact"):
            piece.on_exact = self._went_exact
        self.pieces.append(piece)
        return piece

    def _exact_window(self, lo, hi, rows):
        """The rows lo..hi joined to the exact inverses' window (which they then are), and
        the rows past either end of it where they are fewer than 1/8 of it: a tail that
        reaches them would cost a factorisation (seed 3 row 12 went exact on 0..805 of 896
        rows and factorised them all 18 steps later)."""
        if self.exact_rows is not None:
            lo, hi = min(lo, self.exact_rows[0]), max(hi, self.exact_rows[1])
        slack = (hi - lo) // _EXACT_SLACK
        lo, hi = (0 if lo <= slack else lo), (rows if rows - hi <= slack else hi)
        self.exact_rows = lo, hi
        return lo, hi

    def _went_exact(self, piece) -> None:
        """``piece``'s solve has stalled and is about to factorise its own window's exact
        inverse: instead, its step is taken again by an exact piece on the window an exact
        inverse takes (:meth:`_needed`; model-space seed 6 row 3 factorised three windows of
        613-691 rows within six steps, one for each piece that stalled on its own)."""
        raise _Stalled

    def _start_others(self, piece) -> None:
        """The other steps' pieces will need exact inverses on ``piece``'s window too: they
        start now, on worker threads (:mod:`fpstt.numerics.ahead`), while its own factorises."""
        if isinstance(piece, wells.ApartPiece):
            for _, _, part in piece.parts:
                self._start_others(part)
            return
        if not hasattr(piece, "coefficient"):             # not a line scheme: no exact inverse
            return
        window = piece.backend
        for tau in self.steps:
            if tau != piece.tau:
                self.n_factorizations += window.exact.start_inverse(window, piece.coefficient(tau))

    def _rows(self, x):
        """(i0, i1, empty): the rows [i0, i1) that must be stepped, from the first to the
        last row holding more than ``tol`` of the mass, and the empty rows between (a state
        in two wells: model-space seed 5 row 19, a Gibbs start at +-z', stepped only the rows
        around the denser well; the other, frozen, was only remapped and collapsed, std of
        n_x 0.040 against Monte Carlo's 0.074, 84 s.e., with no warning); ``empty``: the long
        runs of rows between that hold less than ``tol`` each (:func:`wells.empty_runs`)."""
        rows = x.shape[0]
        if self.tol is None:
            return 0, rows, []
        row_mass = self.backend.row_mass(x)
        held = np.flatnonzero(row_mass > self.tol * row_mass.sum())
        return (max(int(held[0]) - _MARGIN, 0), min(int(held[-1]) + 1 + _MARGIN, rows),
                wells.empty_runs(held, _MARGIN))
