"""The split schemes ("split-be", "split-tr-bdf2"): the noiseless flow moved exactly, the
rest implicitly.

A split integrator advances by Strang splitting, H S H per step, with the adjacent half
steps of consecutive steps merged, (H S H)^k = H S (G S)^(k-1) H: S is the exact transport
(rows of translation in U of the flow's chart, :mod:`fpstt.numerics.transport`, and on a
chart grid whole cells of turn in phi), with, for a flow its chart does not carry, a remap
of the rest (:mod:`fpstt.numerics.remap`, :mod:`fpstt.numerics.zremap`); H and G are implicit
pieces (:class:`~fpstt.integration.implicit.WindowedImplicit`, half and full steps) of what
remains (diffusion and the noise-induced drifts).  Everything about the flow (its chart,
what the chart carries, rows per step, the longest steps) is read from the grid's plan
(:mod:`fpstt.flow.flowplan`).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..flow.flowgrid import default_dt
from ..flow.flowplan import grid_plan
from ..numerics.lines import LineBackend, LineScheme
from ..numerics.operator import directional_operators, is_monotone
from ..numerics.remap import FlowRemap, ModalRemap
from ..numerics.transport import Shift, mercator_du, turn_columns
from ..numerics.zremap import MagnetFlow, ZFrameRemaps
from ..sphere.chart import ChartModel
from .implicit import WINDOW_TOL, ImplicitScheme, WindowedImplicit
from .integrators import Integrator

__all__ = ["SplitIntegrator"]


class SplitIntegrator(Integrator):
    """A split scheme's run (module docstring); ``model`` is the
    :class:`~fpstt.sphere.chart.ChartModel` of the plan's chart."""

    def _in_frame(self, model):
        self.plan = grid_plan(model, self.grid)
        self.folded = self.plan.folds_shift(mercator_du(self.grid))     # no row shift
        self.zremap = None
        return ChartModel(model, self.plan.chart)

    @property
    def lines(self) -> bool:
        """A chart grid (phi-dependent systems with an exact 2-D flow): 2-D systems solved
        line by line; the z' frame keeps the sparse LU of its Fourier path."""
        return not self.fast and self.grid.chart is not None

    def _offset(self):
        model = self.model
        return (lambda th: -model.C1.imag * np.sin(th), model.C1.real)

    def _operator(self):
        """On a chart grid the operator is kept as its directional parts
        (:mod:`fpstt.numerics.lines`), which share no off-diagonal position, so it is monotone
        when every part is."""
        if not self.lines:
            return super()._operator()
        parts = directional_operators(self.model, self.grid, drift_offset=self._offset())
        return all(is_monotone(p) for p in parts.values()), LineBackend(parts, self.grid)

    def _step(self, times, dt):
        model = self.model
        if not model.phi_independent and model.C1.real != 0 and not (
                self.lines and model.C1.imag != 0):
            raise ValueError("a precession without damping (no attractor) with noise "
                             "that depends on phi in its chart is not supported by split "
                             "schemes")
        if self.folded:                 # any step: the one that divides the times
            return default_dt(times, self.plan.step(mercator_du(self.grid)))
        if model.C1.imag != 0:
            return self.plan.step(mercator_du(self.grid))
        return super()._step(times, dt, self.plan.free_step)

    def _prepare(self) -> None:
        # a chart that is not the flow's own (the z' frame, an attractor chart) moves its STT
        # part, a remap the rest: in real space when the flow depends on phi (every mode
        # matters, even when the noise in the chart does not depend on phi), on each phi mode
        # alone (ModalRemap) when it does not, so that no mode feeds another there either
        self.turn = self._turn() if self.lines else 0
        self.moves = self.plan.moves_per_step(mercator_du(self.grid))   # >1: attractor charts
        self.remap = self._remap(self.dt / self.moves) if not self.plan.carries_flow else None
        self.remap_first = True

    def _modes_stay_apart(self) -> bool:
        return self.remap is None or isinstance(self.remap, ModalRemap)

    def _remaps(self) -> bool:
        return self.remap is not None

    def _set_up_steps(self, tails: bool) -> None:
        direction = 0 if self.folded else int(np.sign(self.model.C1.imag))
        rows = self.plan.rows_per_step(mercator_du(self.grid))
        self.shift = Shift(self.grid, direction, rows) if direction else (lambda x: x)
        inner = "tr-bdf2" if self.scheme == "split-tr-bdf2" else "be"
        n_steps = math.ceil(self.horizon / self.dt)
        travel = rows * self.moves * (n_steps + 1)              # the run's last row too
        self.implicit = WindowedImplicit(
            self.backend, inner, direction, None if tails else WINDOW_TOL,
            functools.partial(LineScheme, longest=self.plan.longest_step)
            if self.lines else ImplicitScheme, travel, steps=(self.dt / 2, self.dt),
            n_steps=n_steps, rows=rows * self.moves)

    def _remap(self, tau: float):
        """The transport over ``tau`` of the noiseless drift that the chart's shift does not
        take (all but -Im C1 sin theta; all of it when :attr:`folded`): a :class:`FlowRemap`
        in real space (in the z' frame from :mod:`fpstt.numerics.zremap`), or on the fast path (a
        phi-independent flow) a :class:`ModalRemap` of the kept phi modes."""
        flow, chart = self.model.base.noiseless(), self.grid.chart
        rate = 0.0 if self.folded else self.model.C1.imag       # the shift's, taken out

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
        base = self.model.base
        if self.fast and chart is None and base.phi_independent:   # the z' frame, on modes
            return ModalRemap(self.grid, velocity, tau)
        if chart is None:       # the z' frame: one magnet flow for every piece of a pulse
            if self.zremap is None:
                key = ("magnet", base.with_options(C1=0j, C2=0j, thermal_D=0.0))
                if key not in self.shared:
                    self.shared[key] = MagnetFlow(base)
                self.zremap = ZFrameRemaps(self.grid, self.shared[key], base.C1, self.folded)
            return self.zremap(tau, self.plan.remap_substeps(tau, mercator_du(self.grid)))
        return FlowRemap(self.grid, velocity, tau)

    def _turn(self) -> int:
        """Whole phi cells the chart's flow turns by in a step (its shear takes the rest,
        :func:`~fpstt.flow.flowgrid.default_grid`); ValueError for a grid that does not fit."""
        cells = self.model.C1.real * self.dt / self.grid.dphi
        if abs(cells - round(cells)) > 1e-6:
            raise ValueError(f"this chart grid turns the flow by {cells:.4f} phi cells per step, "
                             "not a whole number; build it with default_grid(model, times)")
        return int(round(cells))

    def advance(self, x, k: int, start: int = 0):
        """Steps ``start`` .. k-1 of a segment of k steps from state x, yielding the state
        after each.  A segment is one Strang sequence H S (G S)^(k-1) H: the states
        before its last step are open (the next step's first half step is in them), and
        ``start`` > 0 continues such a state.  The windows factorised so far serve on (their
        list is part of :meth:`memory`, which a resumed run recalls)."""
        if start == 0:
            self.remap_first = True
            x = self.implicit.step(self.dt / 2, x.copy())
        else:
            x = x.copy()
        for i in range(start, k):
            x = self.implicit.step(self.dt if i < k - 1 else self.dt / 2, self._move(x))
            yield x

    def memory(self) -> dict:
        """The numerics' own state in the middle of a segment (JSON-able): what
        :meth:`recall` restores."""
        return {"factors": self.implicit.memory(), "remap_first": self.remap_first}

    def recall(self, memory: dict) -> None:
        """Continue with the numerics that :meth:`memory` saved ({}: a segment's start)."""
        if not memory:
            return
        self.implicit.recall(memory["factors"])
        self.remap_first = memory["remap_first"]

    def _move(self, x, shift=None, remap=None, moves=None):
        """The noiseless flow over one step: rows in U, then whole cells in phi (exact); for
        a flow with no Möbius chart, also the rest, in :attr:`moves` moves, each a shift of
        rows and a remap of the rest over its time, the remap before and after the rows on
        alternate moves (second order over each pair: one remap a move, as each remap
        costs a reconstruction error, and fewer, longer ones are more accurate)."""
        shift, remap = shift or self.shift, remap or self.remap
        if remap is None:
            x = shift(x)
            return np.roll(x, self.turn, axis=1) if self.turn else x
        for _ in range(self.moves if moves is None else moves):
            self.remap_first = not self.remap_first
            x = (shift(self._remapped(remap, x)) if not self.remap_first
                 else self._remapped(remap, shift(x)))
        return x

    def _remapped(self, remap, x):
        """``remap`` applied to the state: a :class:`ModalRemap` on the phi modes themselves,
        a :class:`FlowRemap` in real space (the fast path's modes taken there and back)."""
        tol = self.implicit.tol                 # the rows the implicit pieces freeze
        if not self.fast or isinstance(remap, ModalRemap):
            return remap(x, tol)
        return self.backend.to_state(remap(self.backend.to_density(x), tol))

    def land(self, x, tau: float):
        """Reach an output time tau < dt past the step lattice: whole rows of translation by
        split steps of one row each, then the rest as a split step whose translation is a
        fraction of a cell (:meth:`Shift.fraction`)."""
        if not isinstance(self.shift, Shift):             # no translation to follow
            if self.remap is None:
                return self.implicit.step(tau, x.copy())
            x = self._remapped(self._remap(tau), self.implicit.step(tau / 2, x.copy()))
            return self.implicit.step(tau / 2, x)
        rows = self.shift.rows * self.moves                     # a step's
        row_dt = self.dt / rows
        one_row = Shift(self.grid, self.shift.direction, 1)
        row = one_row if self.remap is None else functools.partial(
            self._move, shift=one_row, moves=1,
            remap=self.remap if self.shift.rows == 1 else self._remap(row_dt))
        x, turned = x.copy(), 0.0
        while tau > (1 - 1e-9) * row_dt:
            x = self.implicit.step(row_dt / 2, row(self.implicit.step(row_dt / 2, x)))
            tau, turned = tau - row_dt, turned + self.turn / rows
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
        that the z' frame applies at output times (a chart grid and a remapped flow have
        turned at each step already)."""
        density = self.backend.to_density(x)
        if self.lines or self.remap:
            return density, density
        return density, self.backend.to_density(self.backend.rotate(x, self.model.C1.real * t))

    def _work(self):
        extra = self._line_solves() if self.lines else {}
        return self.implicit.n_factorizations, self.implicit.windows, extra

    def _line_solves(self) -> dict:
        """Iterations and worst relative residual of the line schemes' implicit solves."""
        counts = [k for piece in self.implicit.pieces for k in piece.iterations]
        return dict(line_iterations_mean=float(np.mean(counts)) if counts else 0.0,
                    line_iterations_max=max(counts, default=0),
                    line_residual=max((piece.worst_residual for piece in self.implicit.pieces),
                                      default=0.0))
