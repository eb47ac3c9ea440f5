"""The numerical pieces of :func:`fpstt.integration.stepping.solve`: implicit steps, and the
integrator that composes them with the exact transport of :mod:`fpstt.numerics.transport`.

A split integrator advances by Strang splitting, H S H per step, with the adjacent half
steps of consecutive steps merged, (H S H)^k = H S (G S)^(k-1) H: S is the exact transport
(rows of translation in U of the flow's Möbius chart, and on a chart grid whole cells of
turn in phi), H and G implicit pieces (:class:`WindowedImplicit`, half and full steps) of
what remains (diffusion and the noise-induced drifts).  An unsplit integrator steps the full
operator with one :class:`ImplicitScheme`.  The backends are those of :mod:`fpstt.numerics.fourier`
(sparse LU in real space, or one tridiagonal system per phi Fourier mode) and, on chart
grids, :mod:`fpstt.numerics.lines` (the 2-D systems solved line by line); :class:`Integrator` offers
the run loop ``advance(x, k)``, ``land(x, tau)``, ``output(x, t)`` and its diagnostics.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..numerics.adaptive import MACRO_STEP, AdaptiveTRBDF2
from ..sphere.chart import ChartModel
from ..flow.flowgrid import default_dt
from ..flow.flowplan import grid_plan
from ..numerics.fourier import RealBackend, SpectralBackend
from ..sphere.grid import SphereGrid
from .guards import max_cell_peclet
from ..numerics.lines import LineBackend, LineScheme
from ..numerics.operator import directional_operators, fokker_planck_matrix, is_monotone
from ..numerics.remap import FlowRemap, ModalRemap
from ..numerics.transport import Shift, mercator_du, turn_columns
from ..numerics.zremap import MagnetFlow, ZFrameRemaps

__all__ = ["Integrator", "ImplicitScheme", "WindowedImplicit"]

_GAMMA = 2 - math.sqrt(2)
_MARGIN = 6                  # rows kept on each side of the mass window
_WINDOW_TOL = 1e-13          # rows holding less mass than this (relative) are frozen
_AHEAD = 24                  # a window factorisation is reused while the state moves this far
_ADAPTIVE = ("inverse",)    # a line scheme's own settings (the inverse it starts with)
_MODE_TOL = 1e-12            # phi modes dropped at the start may hold this much L1 (relative)
_UNSPLIT = {"adaptive-tr-bdf2": AdaptiveTRBDF2}    # unsplit schemes not of ImplicitScheme
_LONGEST = {"adaptive-tr-bdf2": MACRO_STEP}       # their default step (else 0.01 t_n)


class ImplicitScheme:
    """One implicit scheme on a backend's operator L and a fixed step dt, factorised once."""

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
    """Implicit pieces (G, H) over the contiguous theta rows around the densest one that hold
    more than ``tol`` (1e-13) of the mass each (plus a margin), with no flux through the
    window's edges: rows outside are frozen (they only shift), which changes the result by
    ~1e-12 in L1 on Table I and nothing in mass.  A window's factorisation is reused while
    the state, moving one row a step in ``direction``, stays inside it.  ``tol=None``: every
    row, always (for tails, such as write-error rates, that such rows carry)."""

    def __init__(self, backend, scheme: str, direction: int, tol: float | None = _WINDOW_TOL,
                 piece=ImplicitScheme):
        self.backend, self.scheme, self.direction, self.tol = backend, scheme, direction, tol
        self.piece = piece                  # ImplicitScheme, or LineScheme on a LineBackend
        self.factors, self.windows, self.n_factorizations, self.pieces = {}, [], 0, []

    def memory(self) -> list:
        """The factorisations in use, as JSON-able rows (dt, lo, hi, the piece's adaptive
        settings): what :meth:`recall` needs to continue bit for bit."""
        return [[dt, lo, hi, {k: getattr(piece, k) for k in _ADAPTIVE if hasattr(piece, k)}]
                for dt, (lo, hi, piece) in self.factors.items()]

    def recall(self, rows: list) -> None:
        """Rebuild the factorisations that :meth:`memory` listed."""
        self.factors.clear()
        for dt, lo, hi, settings in rows:
            piece = self.piece(self.backend.window(lo, hi), dt, self.scheme, **settings)
            self.factors[dt] = (lo, hi, piece)
            self.pieces.append(piece)
            self.n_factorizations += piece.n_factorizations

    def step(self, dt: float, x):
        i0, i1 = self._rows(x)
        lo, hi, piece = self.factors.get(dt, (0, 0, None))
        if not (lo <= i0 and i1 <= hi):
            settings = {k: getattr(piece, k) for k in _ADAPTIVE if hasattr(piece, k)}
            rows = x.shape[0]
            # an exact inverse is dear to factorise: its window reaches the end of the grid
            # the state moves to, so that one factorisation serves the rest of the segment
            reach = rows if settings.get("inverse") == "direct" else _AHEAD
            ahead = reach if self.direction > 0 else 0
            lo, hi = max(i0 - ahead, 0), min(i1 + reach - ahead, rows)
            piece = self.piece(self.backend.window(lo, hi), dt, self.scheme, **settings)
            self.factors[dt] = (lo, hi, piece)
            self.pieces.append(piece)
            self.n_factorizations += piece.n_factorizations
        self.windows.append((hi - lo) / x.shape[0])
        x[lo:hi] = piece.step(x[lo:hi])
        return x

    def _rows(self, x):
        """The rows [i0, i1) that must be stepped."""
        rows = x.shape[0]
        if self.tol is None:
            return 0, rows
        row_mass = self.backend.row_mass(x)
        small = row_mass <= self.tol * row_mass.sum()
        peak = int(np.argmax(row_mass))
        below, above = np.flatnonzero(small[:peak]), np.flatnonzero(small[peak:])
        i0 = max((int(below[-1]) + 1 if below.size else 0) - _MARGIN, 0)
        i1 = min((peak + int(above[0]) if above.size else rows) + _MARGIN, rows)
        return i0, i1


class Integrator:
    """The numerics of one run: operator, backend, step and the pieces above.

    Built by :meth:`build`; the run loop of :func:`fpstt.integration.stepping.solve` calls
    :meth:`advance`, :meth:`land` and :meth:`output`.  For split schemes ``model`` is the
    :class:`~fpstt.sphere.chart.ChartModel` of the flow's chart.
    """

    @classmethod
    def build(cls, model, grid: SphereGrid, scheme: str, times, dt, fast, p, *,
              tails: bool = False, n_modes: int | None = None, shared: dict | None = None):
        """``tails``: step every row (no frozen rows), as tails need; ``n_modes``: keep only
        that many leading phi modes on the fast path (1: the theta-marginal alone, which no
        other mode feeds when the model is phi-independent); ``shared``: numerics the pieces
        of one run (a pulse) share, filled here (the magnet's flow, :mod:`fpstt.numerics.zremap`)."""
        self = cls()
        self.shared, self.zremap = ({} if shared is None else shared), None
        self.grid, self.scheme, self.split = grid, scheme, scheme.startswith("split")
        if not self.split and grid.chart is not None:
            raise ValueError(f"scheme {scheme!r} steps the z'-frame operator, but this grid "
                             "carries a chart: use a split scheme on it, or a z'-frame grid")
        carries_flow, self.plan = True, None
        if self.split:          # the flow's plan (fpstt.flow.flowplan): its chart, and what it moves
            self.plan = grid_plan(model, grid)
            carries_flow = self.plan.carries_flow
            model = ChartModel(model, self.plan.chart)
        self.folded = self.split and self.plan.folds_shift(mercator_du(grid))  # no row shift
        self.model = model
        self.fast = model.phi_independent if fast is None else bool(fast)
        if self.fast and not model.phi_independent:
            raise ValueError("`fast`=True needs a phi-independent model")
        self.Backend = SpectralBackend if self.fast else RealBackend
        self.strip = 3 if self.fast else None       # the fast path needs only the phi blocks
        # a Möbius chart (the only phi-dependent split problems with an exact 2-D flow): 2-D
        # systems solved line by line; the z' frame keeps the sparse LU of its Fourier path
        self.lines = self.split and not self.fast and grid.chart is not None
        self.dt = self._step(times, dt)
        self.turn = self._turn() if self.lines else 0
        offset = ((lambda th: -model.C1.imag * np.sin(th), model.C1.real) if self.split
                  else (0.0, 0.0))
        self.monotone, self.backend = self._operator(offset)
        self.x0 = self.backend.to_state(p)
        # a chart that is not the flow's own (the z' frame, an attractor chart) moves its STT
        # part, a remap the rest: in real space when the flow depends on phi (every mode
        # matters, even when the noise in the chart does not depend on phi), on each phi mode
        # alone (ModalRemap) when it does not, so that no mode feeds another there either
        self.remap = self._remap(self.dt) if not carries_flow else None
        self.remap_first = True
        if self.fast and (self.remap is None or isinstance(self.remap, ModalRemap)):
            # only the phi modes that the initial state uses
            keep = self.backend.modes_needed(self.x0, _MODE_TOL) if n_modes is None else n_modes
            self.backend = self.backend.truncated(keep)
            self.x0 = self.x0[:, :self.backend.n_modes]
        one_mode = self.fast and self.backend.n_modes == 1
        self.peclet = None if self.split else max_cell_peclet(model, grid, along_phi=not one_mode)
        if self.split:
            direction = 0 if self.folded else int(np.sign(model.C1.imag))
            rows = self.plan.rows_per_step(mercator_du(grid))
            self.shift = Shift(grid, direction, rows) if direction else (lambda x: x)
            inner = "tr-bdf2" if scheme == "split-tr-bdf2" else "be"
            self.implicit = WindowedImplicit(
                self.backend, inner, direction, None if tails else _WINDOW_TOL,
                functools.partial(LineScheme, longest=self.plan.longest_step)
                if self.lines else ImplicitScheme)
        else:
            self.stepper = _UNSPLIT.get(scheme, ImplicitScheme)(self.backend, self.dt, scheme)
        return self

    def _operator(self, offset):
        """(is the operator monotone, backend) with ``offset`` taken off the drift.  On a
        chart grid the operator is kept as its directional parts (:mod:`fpstt.numerics.lines`), which
        share no off-diagonal position, so it is monotone when every part is."""
        if self.lines:
            parts = directional_operators(self.model, self.grid, drift_offset=offset)
            return all(is_monotone(p) for p in parts.values()), LineBackend(parts, self.grid)
        L = fokker_planck_matrix(self.model, self.grid, n_phi=self.strip, drift_offset=offset)
        return is_monotone(L), self.Backend(L, self.grid)

    def _remap(self, tau: float):
        """The transport over ``tau`` of the noiseless drift that the chart's shift does not
        take (all but -Im C1 sin theta; all of it when :attr:`folded`): a :class:`FlowRemap`
        in real space (in the z' frame from :mod:`fpstt.numerics.zremap`), or on the fast path (a
        phi-independent flow) a :class:`ModalRemap` of the kept phi modes."""
        flow, chart, rate = self.model.base.noiseless(), \
            self.grid.chart, self.model.C1.imag

        def velocity(theta_c, phi_c):
            theta_c, phi_c = np.broadcast_arrays(theta_c, phi_c)
            if chart is None:
                mu_t, mu_p = flow.drift(theta_c, phi_c)
            else:                                   # no noise: the chart's Jacobian alone
                theta, phi = chart.to_lab(theta_c, phi_c)
                zero = np.zeros_like(theta)
                (mu_t, mu_p), _ = chart.transform(flow.drift(theta, phi), (zero, zero, zero),
                                                  theta, phi, theta_c)
            return mu_t + rate * np.sin(theta_c), mu_p
        base = getattr(self.model, "base", self.model)
        if self.fast and chart is None and base.phi_independent:   # the z' frame, on modes
            return ModalRemap(self.grid, velocity, tau)
        if chart is None:       # the z' frame: one magnet flow for every piece of a pulse
            if self.zremap is None:
                key = ("magnet", base.with_options(C1=0j, C2=0j, thermal_D=0.0))
                if key not in self.shared:
                    self.shared[key] = MagnetFlow(base)
                self.zremap = ZFrameRemaps(self.grid, self.shared[key], base.C1, self.folded)
            return self.zremap(tau)
        return FlowRemap(self.grid, velocity, tau)

    def _turn(self) -> int:
        """Whole phi cells the chart's flow turns by in a step (its shear takes the rest,
        :func:`~fpstt.flow.flowgrid.default_grid`); ValueError for a grid that does not fit."""
        cells = self.model.C1.real * self.dt / self.grid.dphi
        if abs(cells - round(cells)) > 1e-6:
            raise ValueError(f"this chart grid turns the flow by {cells:.4f} phi cells per step, "
                             "not a whole number; build it with default_grid(model, times)")
        return int(round(cells))

    def _step(self, times, dt):
        model = self.model
        if self.split:
            if not model.phi_independent and model.C1.real != 0 and not (
                    self.lines and model.C1.imag != 0):
                raise ValueError("a precession without damping (no attractor) with noise "
                                 "that depends on phi in its chart is not supported by split "
                                 "schemes")
            if self.folded:                 # any step: the one that divides the times
                return default_dt(times, self.plan.step(mercator_du(self.grid)))
            if model.C1.imag != 0:
                return self.plan.step(mercator_du(self.grid))
        longest = _LONGEST.get(self.scheme, self.plan.free_step if self.split else 0.01)
        dt = default_dt(times, longest) if dt is None else float(dt)
        if not (dt > 0 and math.isfinite(dt)):
            raise ValueError(f"`dt` must be finite and > 0, got {dt!r}")
        return dt

    def advance(self, x, k: int, start: int = 0):
        """Steps ``start`` .. k-1 of a segment of k steps from state x, yielding the state
        after each.  A split segment is one Strang sequence H S (G S)^(k-1) H: the states
        before its last step are open (the next step's first half step is in them), and
        ``start`` > 0 continues such a state.  The windows factorised so far serve on (their
        list is part of :meth:`memory`, which a resumed run recalls)."""
        if not self.split:
            for _ in range(start, k):
                x = self.stepper.step(x)
                yield x
            return
        if start == 0:
            self.remap_first = True
            x = self.implicit.step(self.dt / 2, x.copy())
        else:
            x = x.copy()
        for i in range(start, k):
            x = self.implicit.step(self.dt if i < k - 1 else self.dt / 2, self._move(x))
            yield x

    def memory(self) -> dict:
        """The numerics' own state in the middle of a segment (JSON-able, plus the BDF2
        history as an array): what :meth:`recall` restores."""
        if not self.split:
            prev = getattr(self.stepper, "prev", None)
            return {"prev": prev} if prev is not None else {}
        return {"factors": self.implicit.memory(), "remap_first": self.remap_first}

    def recall(self, memory: dict) -> None:
        """Continue with the numerics that :meth:`memory` saved ({}: a segment's start)."""
        if not memory:
            return
        if not self.split:
            if "prev" in memory:
                self.stepper.prev = memory["prev"]
            return
        self.implicit.recall(memory["factors"])
        self.remap_first = memory["remap_first"]

    def _move(self, x, shift=None, remap=None):
        """The noiseless flow over one step: rows in U, then whole cells in phi (exact); for
        a flow with no Möbius chart, also the rest, by a remap before and after the rows on
        alternate steps (second order over each pair: one remap a step, as each remap
        costs a reconstruction error, and fewer, longer ones are more accurate)."""
        shift, remap = shift or self.shift, remap or self.remap
        if remap is not None:
            self.remap_first = not self.remap_first
            if not self.remap_first:
                return shift(self._remapped(remap, x))
            return self._remapped(remap, shift(x))
        x = shift(x)
        return np.roll(x, self.turn, axis=1) if self.turn else x

    def _remapped(self, remap, x):
        """``remap`` applied to the state: a :class:`ModalRemap` on the phi modes themselves,
        a :class:`FlowRemap` in real space (the fast path's modes taken there and back)."""
        tol = self.implicit.tol                 # the rows the implicit pieces freeze
        if not self.fast or isinstance(remap, ModalRemap):
            return remap(x, tol)
        return self.backend.to_state(remap(self.backend.to_density(x), tol))

    def land(self, x, tau: float):
        """Reach an output time tau < dt past the step lattice.

        Split schemes: whole rows of translation by split steps of one row each, then the
        rest as a split step whose translation is a fraction of a cell
        (:meth:`Shift.fraction`).  Unsplit schemes: one backward-Euler step over tau.
        """
        if not self.split:
            if isinstance(self.stepper, AdaptiveTRBDF2):          # its own substeps
                return self.stepper.step(x, tau)
            return ImplicitScheme(self.backend, tau, "be").step(x)
        if not isinstance(self.shift, Shift):             # no translation to follow
            if self.remap is None:
                return self.implicit.step(tau, x.copy())
            x = self._remapped(self._remap(tau), self.implicit.step(tau / 2, x.copy()))
            return self.implicit.step(tau / 2, x)
        row_dt = self.dt / self.shift.rows
        one_row = Shift(self.grid, self.shift.direction, 1)
        row = one_row if self.remap is None else functools.partial(
            self._move, shift=one_row,
            remap=self.remap if self.shift.rows == 1 else self._remap(row_dt))
        x, turned = x.copy(), 0.0
        while tau > (1 - 1e-9) * row_dt:
            x = self.implicit.step(row_dt / 2, row(self.implicit.step(row_dt / 2, x)))
            tau, turned = tau - row_dt, turned + self.turn / self.shift.rows
        if tau > 1e-9 * self.dt:
            x = self.implicit.step(tau / 2, x)
            remap = self.remap and self._remap(tau / 2)
            x = self._remapped(remap, x) if remap else x
            x = self._fraction(one_row, x, tau / row_dt)
            x = self._remapped(remap, x) if remap else x
            x = self.implicit.step(tau / 2, x)
            turned += self.turn * tau / self.dt
        return turn_columns(x, turned) if turned else x

    def _fraction(self, one_row, x, f):
        """Shift.fraction with limited slopes in real space (Fourier modes are taken there
        and back; the modes the run keeps are kept)."""
        if not self.fast:
            return one_row.fraction(x, f)
        density = one_row.fraction(self.backend.to_density(x), f)
        return self.backend.to_state(density)[:, :self.backend.n_modes]

    def output(self, x, t: float):
        """(state density, output density): the latter after the exact rotation in phi
        that the split schemes apply at output times."""
        density = self.backend.to_density(x)
        if not self.split or self.lines or self.remap:    # turned at each step already
            return density, density
        return density, self.backend.to_density(self.backend.rotate(x, self.model.C1.real * t))

    def diagnostics(self, n_partial: int) -> dict:
        """The run's numerics; ``n_partial`` partial steps each cost one factorisation."""
        windows = self.implicit.windows if self.split else []
        return dict(
            scheme=self.scheme, fast=self.fast, dt=self.dt, n_partial_steps=n_partial,
            n_factorizations=(self.implicit.n_factorizations if self.split
                              else self.stepper.n_factorizations) + n_partial,
            mean_window_fraction=float(np.mean(windows)) if windows else 1.0,
            n_phi_modes=int(self.backend.n_modes) if self.fast else None,
            chart=None if self.grid.chart is None else self.grid.chart.describe(),
            monotone=self.monotone, max_cell_peclet=self.peclet,
            remapped=self.remap is not None,
            **(self.stepper.work() if isinstance(getattr(self, "stepper", None),
                                                 AdaptiveTRBDF2) else {}),
            **(self._line_solves() if self.lines else {}))

    def _line_solves(self) -> dict:
        """Iterations and worst relative residual of the line schemes' implicit solves."""
        counts = [k for piece in self.implicit.pieces for k in piece.iterations]
        return dict(line_iterations_mean=float(np.mean(counts)) if counts else 0.0,
                    line_iterations_max=max(counts, default=0),
                    line_residual=max((piece.worst_residual for piece in self.implicit.pieces),
                                      default=0.0))
