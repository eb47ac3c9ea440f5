"""TR-BDF2 with error-controlled steps on the full operator: scheme ``"adaptive-tr-bdf2"``.

A run with no spin torque on a flow with no Möbius chart (plan kind ``"unsplit"``,
:mod:`fpstt.flow.flowplan`) relaxes: fast transients (precession, Brown diffusion, escape over
the barrier at Brown's rate) die out and the state settles on the null vector of the
operator, exp(-E / k_B T) to the grid's accuracy.  A fixed step resolves the first
transients and then wastes thousands of solves on a state that no longer moves; here each
macro step ``dt`` (the run loop's step, dividing the output times) is covered by substeps
dt / 2^m chosen by the local error of TR-BDF2:

.. math::
    \\mathrm{err} \\approx (I - \\tfrac{\\gamma}{2} h L)^{-1}\\, 2 C h
        \\left[\\frac{f_n}{\\gamma} - \\frac{f_{n+\\gamma}}{\\gamma(1 - \\gamma)}
        + \\frac{f_{n+1}}{1 - \\gamma}\\right],
    \\qquad C = \\frac{-3\\gamma^2 + 4\\gamma - 2}{12 (2 - \\gamma)},

with f = L p at the step's three stages (the C h^3 p''' of Bank et al. 1985, p''' by
divided differences, filtered by the step's own factorisation as Hosea & Shampine 1996 do
for stiff components).  Substeps of dt / 2^m tile each macro step exactly, so output times
are reached without extra factorisations and each level's LU is reused.  TR-BDF2 is
L-stable and maps the operator's null vector to itself for every step, so long steps keep
the stationary state exactly once the transients are gone.

A relaxation's substeps grow through the levels one by one, each level's LU as dear as
10-20 of its substeps, so the next two longer levels are factorised ahead on worker threads
(the other core, :mod:`fpstt.numerics.ahead`) while the current one is stepped: the same
factorisation of the same matrix, so the answer does not change, only when it is ready.
On `validation/relax/` the solver went from 13.5-15.4 to 9.7-10.2 s, alternated with the
previous code on the same machine (docs/performance.md).
"""

from __future__ import annotations

import math

import numpy as np

from . import ahead

__all__ = ["AdaptiveTRBDF2", "MACRO_STEP", "TOLERANCE"]

MACRO_STEP = 0.5        # longest step, t_n: the run loop's step (divides the output times)
TOLERANCE = 1e-4        # local L1 error (mass units) allowed per substep
_GAMMA = 2 - math.sqrt(2)
_C = (-3 * _GAMMA ** 2 + 4 * _GAMMA - 2) / (12 * (2 - _GAMMA))
_GROWTH = 3             # at most 2^3 longer from one substep to the next
_FINEST = 40            # substeps no shorter than dt / 2^40
_KEEP = 4               # factorisations kept (the most recently used levels)
_PENDING = ahead.WORKERS    # factorisations started ahead and not finished, at most


class AdaptiveTRBDF2:
    """TR-BDF2 over macro steps ``dt``, each tiled by error-controlled substeps dt / 2^m.

    Same interface as :class:`~fpstt.integration.implicit.ImplicitScheme` (``step(x)``, ``dt``,
    ``n_factorizations``); ``n_substeps``, ``n_rejected`` and ``shortest`` (t_n) describe
    the work (:meth:`work`).
    """

    def __init__(self, backend, dt, scheme="adaptive-tr-bdf2", tol: float = TOLERANCE):
        self.backend, self.dt, self.scheme, self.tol = backend, dt, scheme, tol
        self.h = None                             # the next substep, from the first state
        self.factors, self.n_factorizations = ahead.Kept(_KEEP), 0
        self.n_substeps = self.n_rejected = 0
        self.shortest = dt

    def step(self, x, span: float | None = None):
        """From x over ``span`` (default: one macro step dt; a shorter one reaches an output
        time off the step lattice), in substeps span / 2^m as the error allows."""
        span = self.dt if span is None else span
        f = self.backend.matvec(x)
        if self.h is None:
            self.h = self._first_step(x, f)
        level = min(_FINEST, max(0, math.ceil(math.log2(span / self.h) - 1e-9)))
        done, end = 0, 2 ** _FINEST                # position in units of span / 2^_FINEST
        while done < end:
            new, f_new, err = self._try(x, f, span / 2 ** level)
            if err > self.tol and level < _FINEST:
                self.n_rejected += 1
                level = min(_FINEST, level + max(1, math.ceil(_log2_factor(err, self.tol))))
                continue
            x, f, done = new, f_new, done + 2 ** (_FINEST - level)
            self.n_substeps += 1
            self.shortest = min(self.shortest, span / 2 ** level)
            level = self._next_level(level, err, done)
        self.h = span / 2 ** level
        return x

    def work(self) -> dict:
        """The substeps taken, rejected and the shortest, for a run's diagnostics."""
        return dict(n_substeps=self.n_substeps, n_rejected=self.n_rejected,
                    dt_min=self.shortest)

    def _try(self, x, f, h):
        """(state, L state, error estimate) after one substep h."""
        b, g = self.backend, _GAMMA
        lu = self._factor(h)
        mid = lu.solve(x + 0.5 * g * h * f)
        new = lu.solve(mid / (g * (2 - g)) - (1 - g) ** 2 / (g * (2 - g)) * x)
        f_mid, f_new = b.matvec(mid), b.matvec(new)
        raw = 2 * _C * h * (f / g - f_mid / (g * (1 - g)) + f_new / (1 - g))
        return new, f_new, self._norm(lu.solve(raw))

    def _next_level(self, level, err, done):
        """The level after an accepted substep: longer by up to 2^_GROWTH where the error
        allows it and the position is a multiple of the longer substep."""
        wanted = _GROWTH if err == 0 else math.floor(-_log2_factor(err, self.tol))
        grow = min(_GROWTH, level, wanted)
        while grow > 0 and done % 2 ** (_FINEST - level + grow):
            grow -= 1
        return level - max(grow, 0)

    def _first_step(self, x, f):
        """The first substep, at most dt: h = 0.5 tol^(1/3) |p| / |L p|, the step of a local
        error tol if p''' ~ |L p|^3 / |p|^2 (a transient at the state's fastest rate), a
        starting guess the controller corrects (Hairer, Nørsett & Wanner's 0.01 |p| / |L p|
        started one level lower on the tilted magnet of ``docs/validation.md``: its
        first substeps took 1e-3 tol, these 1e-2 tol)."""
        rate = self._norm(f) / max(self._norm(x), 1e-300)
        return self.dt if rate == 0 else min(self.dt, 0.5 * self.tol ** (1 / 3) / rate)

    def _factor(self, h):
        """The factorisation of I - (gamma / 2) h L, kept for the last few levels used; on a
        level's first use the next two longer ones (2h and 4h, within a macro step) are
        started ahead on the worker threads."""
        lu, how = self.factors.get(h, lambda: self._lu(h))
        self.n_factorizations += how == "made"
        for longer in (2 * h, 4 * h) if how != "kept" else ():
            if (longer <= self.dt and longer not in self.factors
                    and self.factors.pending() < _PENDING):
                self.n_factorizations += self.factors.start(longer, lambda k=longer: self._lu(k))
        return lu

    def _lu(self, h):
        return self.backend.factor(1.0, _GAMMA / 2 * h)

    def _norm(self, x) -> float:
        """L1 norm of a state, sum |p| dtheta dphi (mass units)."""
        b = self.backend
        measure = b.measure if hasattr(b, "measure") else b.grid.cell_measure
        return float(np.sum(np.abs(b.to_density(x)) * measure))


def _log2_factor(err: float, tol: float) -> float:
    """log2 of the step reduction the error asks for: (err / tol)^(1/3) / 0.9 (a third-order
    local error), -inf for a zero error."""
    if err == 0:
        return -math.inf
    return math.log2((err / tol) ** (1 / 3) / 0.9)
