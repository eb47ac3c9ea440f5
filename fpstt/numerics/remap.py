"""Conservative transport of cell masses by any smooth noiseless flow on a Mercator grid.

The split schemes follow the Möbius part of a flow exactly (:mod:`fpstt.numerics.transport`).  What
no chart makes a translation (an anisotropy, damping, and with them the field and the
precession about z') is moved here, by a flux-form semi-Lagrangian remap (Lin & Rood 1996)
in the grid's coordinates (U = ln tan(theta/2) between the caps, phi), directionally split
(Strang): half a step along phi, a step along U, half a step along phi.

Each sweep is a 1-D Lagrangian remap.  Along a line the edges of the cells are traced back
over the step to their departure points (RK4 on the line's own velocity: theta' along a
meridian, phi' along a row; Courant numbers are unrestricted), and a new cell receives
exactly the old mass between the departure points of its two edges: of the cells it covers
in full their masses, of the two it cuts the integral of a reconstruction.  So every sweep
conserves mass (each old cell's pieces add up to its mass) and the result is p ≥ 0 when the
reconstruction is.  The reconstruction is PPM (Colella & Woodward 1984: fourth-order edge
values, a parabola per cell with the cell's mass) made non-negative by Zhang & Shu's scaling
towards the cell mean (only where the parabola dips below zero; smooth extrema are kept, so
no numerical diffusion at a peak): third order in space where smooth, the departure points
to RK4 accuracy, the splitting second order in the step.  The pole caps are cells with a
density uniform per steradian, as in :class:`~fpstt.numerics.transport.Shift`.

The directional split is exact only along each line.  A flow that crosses the grid's pole
has phi' ~ 1/sin(theta) next to it, and along a meridian it runs into the pole: each cap is
therefore one cell (its mass pooled over phi before the sweep along U), so what flows in
along some meridians flows out along the others, first order there (the solver reports the
mass in the caps and the rows next to them, ``pole_rows_mass``).
"""

from __future__ import annotations

import math

import numpy as np

from ..sphere.grid import SphereGrid, mercator_u
from .transit import transit_back

__all__ = ["FlowRemap", "LineRemap", "ModalRemap"]

_RK_STIFF = 16               # RK4 steps per departure point (a local Courant of 0.2 each)
#                              beyond which a line is traced from transit times


class FlowRemap:
    """Transport of cell averages on a Mercator grid by ``velocity`` over ``tau`` (t_n).

    Parameters
    ----------
    grid : SphereGrid
        A grid from :meth:`SphereGrid.mercator`: the z' frame or a chart (then angles
        and ``velocity`` are the chart's).
    velocity : callable
        ``velocity(theta, phi) -> (theta', phi')`` per t_n, vectorised, smooth on the sphere
        (the noiseless drift not already moved exactly).
    tau : float
        The time step (t_n); the departure points are computed once, here.
    trace : callable, optional
        ``trace(rate, y, tau, limits)``: the points y traced back over tau along each line's
        velocity; default RK4 (``_rk4_back``), or a :class:`~fpstt.numerics.transit.TransitTracer`.
    substeps : int
        The remap over ``tau`` is this many remaps over tau / substeps, their adjacent half
        sweeps along phi merged into one: 2 substeps + 1 sweeps
        (:meth:`~fpstt.flow.flowplan.FlowPlan.remap_substeps`).

    ``remap(p, tol)`` returns the transported (theta, phi) density (cell averages, carrying
    sin theta): mass conserved to round-off, p ≥ 0 where p was.  Only the rows and columns
    that hold more than ``tol`` of the mass (relative) are remapped (None: all), as the
    implicit pieces freeze rows (:class:`~fpstt.integration.implicit.WindowedImplicit`).
    """

    def __init__(self, grid: SphereGrid, velocity, tau: float, trace=None, substeps: int = 1):
        self.grid, self.tau, self.substeps = grid, float(tau), int(substeps)
        self.measure = grid.cell_measure
        theta, phi_edges = grid.theta, grid.phi_edges[:-1]
        trace, h = trace or _rk4_back, self.tau / self.substeps

        def along_phi(step):
            return LineRemap(*_phi_departures(velocity, theta, phi_edges, grid.dphi, step,
                                              trace), grid.n_phi, periodic=True)
        self.half_phi = along_phi(h / 2)
        self.full_phi = along_phi(h) if self.substeps > 1 else None
        self.along_u = LineRemap(*_theta_departures(velocity, grid, h, trace=trace),
                                 grid.n_theta, periodic=False)

    def __call__(self, p, tol: float | None = None):
        mass = self._sweep(self.half_phi, p * self.measure, tol)
        for k in range(self.substeps):
            mass[[0, -1]] = mass[[0, -1]].mean(axis=1, keepdims=True)  # each cap: one cell
            mass = self._sweep(self.along_u, mass.T, tol).T            # the grid's columns
            mass = self._sweep(self.full_phi if k < self.substeps - 1 else self.half_phi,
                               mass, tol)
        return mass / self.measure

    @staticmethod
    def _sweep(remap, mass, tol):
        """The new masses: ``remap`` on the lines (rows of ``mass``, which may be a
        transposed view) that hold more than ``tol`` of it and on lines within 2 of those;
        the others as they were."""
        out = np.empty(mass.shape[::-1]).T if mass.flags.f_contiguous else np.empty(mass.shape)
        if tol is None:
            return remap(mass, out=out)
        line_mass = mass.sum(axis=1)
        held = line_mass > tol * line_mass.sum()
        for shift in (1, 2):
            held = held | np.roll(held, shift) | np.roll(held, -shift)
        lines = np.flatnonzero(held)
        out[:] = mass
        if lines.size and lines[-1] - lines[0] + 1 == lines.size:     # views, not copies
            lines = slice(lines[0], lines[-1] + 1)
            remap(mass[lines], lines, out=out[lines])
        else:
            out[lines] = remap(mass[lines], lines)
        return out


class ModalRemap:
    """:class:`FlowRemap` of a phi-independent flow, on the phi Fourier modes of the fast
    path (the state of :class:`~fpstt.numerics.fourier.SpectralBackend`, shape (n_theta, modes)).

    When the velocity is theta' = g(theta), phi' = h(theta), the three sweeps of the real-space
    remap decouple by mode: a sweep along phi turns each row rigidly by h(theta) tau / 2,
    which on mode m is the phase exp(-i m h tau / 2), exact (the real-space sweep does it
    with PPM, to third order in dphi); the sweep along U is one and the same 1-D remap of every
    column, so it acts on each mode's theta profile alone; pooling a cap into one cell keeps
    its mode 0 and zeroes the others.  A run then keeps only the modes its initial state
    needs (mode 0 alone for an axisymmetric one: one 1-D remap of the theta-marginal a step).

    Mode 0 is the theta-marginal (its row masses are those of the density, ≥ 0): it is
    remapped with the limited reconstruction of :class:`FlowRemap`, so it stays ≥ 0 and
    equals the real-space remap of a phi-independent density to round-off.  Modes m ≠ 0
    are signed: they are remapped linearly (the same PPM, no limiter, on the real and
    imaginary parts), which is conservative per mode (each mode's sum over theta of
    coefficient x cell width is kept, as mode 0's mass is) and, where the real-space limiter
    does not act, equals the real-space U-sweep of that mode.  Positivity of the density
    rebuilt from several modes is not guaranteed by any modal method; as everywhere on the
    Fourier path (whose implicit steps are not positive either), the sign of p is checked at
    output times (``min_p_ratio``).

    ``tol`` of ``__call__`` is accepted for the interface of :class:`FlowRemap` and ignored:
    every row and kept mode is remapped (a row costs one phase, a mode one 1-D sweep).
    """

    def __init__(self, grid: SphereGrid, velocity, tau: float):
        self.grid, self.tau, self.n_phi = grid, float(tau), grid.n_phi
        theta = grid.theta
        turn = [np.broadcast_to(velocity(theta, np.full_like(theta, f))[1], theta.shape)
                for f in (0.0, 1.0, 2.5, 4.0)]
        drift = [np.broadcast_to(velocity(theta, np.full_like(theta, f))[0], theta.shape)
                 for f in (0.0, 1.0, 2.5, 4.0)]
        scale = max(float(np.max(np.abs(turn[0]))), float(np.max(np.abs(drift[0]))), 1e-300)
        for rates in (turn, drift):                 # the same in every column, to round-off
            if any(np.max(np.abs(r - rates[0])) > 1e-9 * scale for r in rates[1:]):
                raise ValueError("ModalRemap needs a phi-independent velocity")
        self.half_turn = np.asarray(turn[0], float) * self.tau / 2      # per row, rad
        cell, frac = _theta_departures(velocity, grid, self.tau, phi=np.zeros(1))
        self.cell, self.frac = cell, frac
        self.width = grid.dtheta[:, None]                  # a row's mass per coefficient
        self.marginal = LineRemap(cell, frac, grid.n_theta, periodic=False)
        self._linear = {}

    def _phase(self, x):
        """Each row of the modes ``x`` turned by its half step (Nyquist kept real)."""
        m = np.arange(x.shape[1])
        out = x * np.exp(-1j * np.outer(self.half_turn, m))
        if self.n_phi % 2 == 0 and x.shape[1] == self.n_phi // 2 + 1:
            out[:, -1] = out[:, -1].real
        return out

    def _along_u(self, lines: int) -> LineRemap:
        """The linear remap of ``lines`` profiles (modes m ≠ 0, real and imaginary parts)."""
        if lines not in self._linear:
            self._linear[lines] = LineRemap(np.tile(self.cell, (lines, 1)),
                                            np.tile(self.frac, (lines, 1)),
                                            self.grid.n_theta, periodic=False, limit=False)
        return self._linear[lines]

    def __call__(self, x, tol: float | None = None):
        x = self._phase(x)
        x[[0, -1], 1:] = 0.0                                 # each cap: one cell
        mass = x * self.width
        out = np.empty_like(x)
        out[:, 0] = self.marginal(np.ascontiguousarray(mass[:, :1].real.T))[0]
        k = x.shape[1] - 1
        if k:
            parts = np.concatenate([mass[:, 1:].real.T, mass[:, 1:].imag.T])
            moved = self._along_u(2 * k)(np.ascontiguousarray(parts))
            out[:, 1:] = (moved[:k] + 1j * moved[k:]).T
        return self._phase(out / self.width)


def _rk4_back(rate, y, tau: float, limits=None):
    """Points y (lines, points) traced back over tau along y' = rate(y, lines) by RK4, each
    line with as many steps (a power of 2) as keep each below a local Courant of 0.2;
    ``limits`` clamps every stage.  Lines that would need more than ``_RK_STIFF`` steps are
    traced from transit times instead (:func:`~fpstt.numerics.transit.transit_back`: one
    sampling of 4 points a cell, second order, whatever the stiffness): next to
    a chart's repeller that is not a fixed point, phi' ~ 1/sin(theta_c), and model-space seed
    2 row 19 had rows needing 2 262 steps (32 s of its 52 s in RK4's Python loop)."""
    every = np.arange(y.shape[0])
    slope = np.abs(np.diff(rate(y, every), axis=1)) / np.maximum(np.abs(np.diff(y, axis=1)),
                                                                   1e-300)
    need = np.maximum(tau * slope.max(axis=1) / 0.2, 1.0)
    steps = 2 ** np.ceil(np.log2(np.minimum(need, 2 * _RK_STIFF))).astype(int)
    clamp = (lambda v: v) if limits is None else (lambda v: np.clip(v, *limits))  # noqa: E731
    out = np.empty_like(y)
    stiff = np.flatnonzero(steps > _RK_STIFF)
    if stiff.size:
        out[stiff] = transit_back(lambda x, lines: rate(x, stiff[lines]), y[stiff], tau, limits)
    for k in np.unique(steps[steps <= _RK_STIFF]):
        lines = np.flatnonzero(steps == k)
        x, h = y[lines], -tau / k
        for _ in range(k):
            a = rate(x, lines)
            b = rate(clamp(x + 0.5 * h * a), lines)
            c = rate(clamp(x + 0.5 * h * b), lines)
            d = rate(clamp(x + h * c), lines)
            x = clamp(x + h / 6 * (a + 2 * b + 2 * c + d))
        out[lines] = x
    return out


def _phi_departures(velocity, theta, phi_edges, dphi: float, tau: float, trace=None):
    """(cell, fraction) of the departure points of every row's phi edges (periodic,
    unwrapped cell indices), shape (n_theta, n_phi + 1)."""
    rate = lambda f, rows: velocity(theta[rows, None], f)[1]                  # noqa: E731
    foot = (trace or _rk4_back)(rate, np.tile(phi_edges, (theta.size, 1)), tau)
    foot = np.maximum.accumulate(foot, axis=1)            # an RK4 step may not keep the order
    foot = np.concatenate([foot, foot[:, :1] + 2 * math.pi], axis=1)
    foot = np.minimum(foot, foot[:, :1] + 2 * math.pi)
    s = foot / dphi
    cell = np.floor(s)
    return cell.astype(np.int64), s - cell


def _theta_departures(velocity, grid: SphereGrid, tau: float, phi=None, trace=None):
    """(cell, fraction) of the departure points of the theta edges of the columns at ``phi``
    (None: every column of the grid), shape (columns, n_theta + 1): in U between the caps,
    in solid angle inside a cap."""
    e, tiny = grid.theta_edges, 1e-12
    phi = grid.phi if phi is None else np.asarray(phi, float)
    rate = lambda t, cols: velocity(np.clip(t, tiny, math.pi - tiny), phi[cols, None])[0]  # noqa: E731,E501
    foot = (trace or _rk4_back)(rate, np.tile(e[1:-1], (phi.size, 1)), tau, (0.0, math.pi))
    foot = np.maximum.accumulate(foot, axis=1)
    n = grid.n_theta
    cell = np.zeros((phi.size, n + 1), np.int64)
    frac = np.zeros((phi.size, n + 1))
    cell[:, -1], frac[:, -1] = n - 1, 1.0
    low, high = foot <= e[1], foot >= e[-2]
    mid = ~(low | high)
    u0, du = float(mercator_u(e[1])), float(mercator_u(e[2]) - mercator_u(e[1]))
    s = (mercator_u(foot[mid]) - u0) / du
    k = np.minimum(np.floor(s), n - 3)
    inner_cell, inner_frac = cell[:, 1:-1], frac[:, 1:-1]
    inner_cell[mid], inner_frac[mid] = 1 + k.astype(np.int64), np.clip(s - k, 0.0, 1.0)
    inner_frac[low] = (np.sin(foot[low] / 2) / math.sin(e[1] / 2)) ** 2
    inner_cell[high] = n - 1
    inner_frac[high] = 1 - (np.cos(foot[high] / 2) / math.cos(e[-2] / 2)) ** 2
    return cell, frac


class LineRemap:
    """The remap of lines of cells (first axis) whose new cells' edges depart from
    ``cell``, ``frac`` (shape (lines, n + 1), non-decreasing; periodic lines: unwrapped
    cell indices).  Calling it on old masses gives the new ones: a new cell's mass is the old
    mass between the departure points of its edges, from PPM parabolas made non-negative
    when ``limit`` (:func:`fpstt.numerics.compiled.remap_lines`, one compiled pass a line).
    Non-periodic lines have flat (uniform) end cells, the caps."""

    def __init__(self, cell, frac, n: int, *, periodic: bool, limit: bool = True):
        self.n, self.periodic, self.limit = n, periodic, limit
        self.cell = np.ascontiguousarray(cell, dtype=np.int64)
        self.frac = np.ascontiguousarray(frac, dtype=float)
        self.all_lines = np.arange(self.cell.shape[0])

    def __call__(self, mass, lines=None, out=None):
        """New masses of the lines ``lines`` (all if None), from their old ``mass``, into
        ``out`` if given (either may be a strided view, such as the columns of a grid)."""
        from .compiled import remap_columns, remap_lines    # numba: loaded on first use
        rows = self.all_lines if lines is None else self.all_lines[lines]
        mass = np.asarray(mass, dtype=float)
        out = np.empty(mass.shape) if out is None else out
        if not self.periodic and mass.strides[0] < mass.strides[1]:     # a grid's columns
            remap_columns(mass.T, self.cell, self.frac, rows, self.limit, out.T)
            return out
        return remap_lines(mass, self.cell, self.frac, rows, self.periodic, self.limit, out)
