"""A split run continued on a grid k times coarser in U, or k_phi times coarser in phi, or
both, once its state has settled at its chart's pole or widened from a narrow start.

An attractor chart's cell width in U is chosen for the initial state (its width in the
chart, :func:`~fpstt.flow.sizes.chart_du`), which the flow then carries to the chart's pole
(the attractor).  There the grid is log-polar: a state of angular width sigma spans rows of
equal ln r, ~0.6 in U for the bulk and the rest down to the pole cap (u = -9), so at
du = 0.0092 model-space seed 1 row 20 held 693 rows above 1e-13 of its mass, ~110 rows per
e-fold of r, and each step solved over all of them.  Once the state is at the pole it stays
there and its profile in U only widens, so a grid k = 2, 4 or 8 times coarser in U (same
u_min, n_phi, chart and step) resolves it; the run continues there from the next output
on, and every later output is prolonged back onto the user's grid.

The change is decided at the end of a Strang sequence (no open half step): at each output
time and, in a run that can coarsen, every CHECK_EVERY = 0.1 t_n between them, where the
sequence is closed for it (a half step more), on the state itself: the largest k whose step
is the run's step (``plan.step(k du)``, the shift k times fewer rows) and for which
restricting the state (summing k rows) and prolonging it back linearly (second order, as the
scheme) moves at most COARSE_L1 = 1e-5 of the mass in L1. On seed 1 row 20 that measure was
6.7e-6 for k = 2 and 1.8e-4 for k = 4; the coarse runs' outputs differed from the fine run's
by L1 9.5e-5 and 4.8e-4, std of n by 1.2e-5 and 5.8e-5 relative (Monte Carlo's standard
error with 1e5 samples: 2.2e-3), and took 32 s and 27 s against 55 s; row 8 (k = 2): L1
1.8e-4, std 4.7e-5, 38 s against 44 s.
Outputs are prolonged by parabolas (third order: 4.5e-6 and 3.6e-5 at k = 2 and 4 on row
20's state).  The same holds across phi: at the pole a phi cell spans ever less of the
state, whose profile there is smooth in phi, and an attractor chart's phi cells were chosen
for the initial state away from the pole (:func:`~fpstt.flow.sizes.chart_n_phi`).  Pairs of
phi columns are summed (k_phi = 2, down to PHI_CELLS_MIN = 128 cells, where the chart's turn
a step stays whole cells) and split back along monotonised-central lines in phi, under the
same COARSE_L1 test of the state, both directions at once: model-space seed 1 row 8
(1 367 x 384 cells, a narrow start) passed it with k = k_phi = 2 at 0.4 t_n (3.7e-8 for phi
alone) and took 24-27 s against 39 s; a test case measured its outputs 9.6e-6 (L1) from
the run that keeps its grid.

A z'-frame relaxation (a folded split run, whose step does not depend on its cells: the
pieces of a pulse with Brown noise) has square cells of 1/5 its start's width when that is
narrower than the stationary state (:func:`~fpstt.flow.sizes.relaxation_cell_width`); the noise
widens the state towards the stationary one, whose own cells (those of any start no
narrower) bound k du and k_phi dphi (k, k_phi in FACTORS), under the same COARSE_L1 test.
Model-space seed 5 row 28 (1 449 x 704 cells for a vMF start of kappa 493) passed it with
k = 2 from 0.19 t_n (at 0.3 t_n: 7.2e-6, and 1.1e-5 with k_phi = 2 too): 52 -> 33 s side by
side, means and stds within 2e-5 of the run that keeps its grid.  A pulse's next piece
starts on the grid where the last one ended (:func:`continued`), and a coarse run does not
coarsen again.  Not Möbius charts (their results are validated as they are), runs that
step every row (``tails``), trackers (they read the run's own grid) or checkpoints; the
solution's diagnostics report ``coarsened`` (k) and ``coarsened_phi`` (k_phi).
"""

from __future__ import annotations

import numpy as np

from ..flow.sizes import relaxation_cell_width
from ..numerics.transport import mercator_du
from ..sphere.grid import SphereGrid
from .settled import can_hold

__all__ = ["COARSE_L1", "PHI_CELLS_MIN", "FACTORS", "CHECK_EVERY", "restrict", "prolong",
           "coarser", "continued", "check_steps", "CoarseRun"]

COARSE_L1 = 1e-5             # L1 (of the mass) a restriction and linear prolongation may move
PHI_CELLS_MIN = 128          # the fewest phi cells a coarser grid takes
FACTORS = (8, 4, 2)          # coarsenings tried, the largest first
CHECK_EVERY = 0.1            # t_n between the checks inside a run's segments


def restrict(mass, k: int, k_phi: int = 1):
    """Cell masses (rows, n_phi) summed over k rows in U and k_phi columns in phi: the
    interior rows 1..n of a Mercator grid in groups of k, the pole cap row 0 kept, the
    n mod k last rows joined to the far cap (a cap row holds its mass in equal shares
    across phi); columns in groups of k_phi (n_phi a multiple of it)."""
    n = mass.shape[0] - 2
    m = n // k
    coarse = np.empty((m + 2, mass.shape[1]))
    coarse[0] = mass[0]
    coarse[1:-1] = mass[1:1 + m * k].reshape(m, k, -1).sum(axis=1)
    coarse[-1] = mass[1 + m * k:].sum() / mass.shape[1]
    return coarse.reshape(m + 2, -1, k_phi).sum(axis=2)


def prolong(coarse, k: int, fine_row_measure, quadratic: bool = True, k_phi: int = 1):
    """Cell masses on the fine grid from those of :func:`restrict`, conservative and ≥ 0:
    each coarse column split over its k_phi columns along a line with a monotonised-central
    slope (periodic); then within each coarse row the parabola in U through its own mass
    and its neighbours' averages (``quadratic``; where it would give a fine row a negative
    mass, and in the end rows) or such a line, its mass split over the k rows; the far
    cap's share spread over the fine rows it covers by their measure
    (``fine_row_measure``: each fine row's area, caps included)."""
    if k_phi > 1:
        coarse = _split_columns(coarse, k_phi)
    m, n_phi = coarse.shape[0] - 2, coarse.shape[1]
    inner = coarse[1:-1]
    offsets = ((np.arange(k) + 0.5) / k - 0.5)[None, :, None]
    down, up = np.diff(inner, axis=0, prepend=np.nan), np.diff(inner, axis=0, append=np.nan)
    rows = (inner[:, None] + _mc_slope(down, up, inner)[:, None] * offsets) / k
    if quadratic and m > 2:
        curve = 0.5 * (up - down)[1:-1, None]              # second difference / 2
        middle = (inner[1:-1, None] + 0.5 * (up + down)[1:-1, None] * offsets
                  + curve * (offsets ** 2 + 1 / (12 * k * k) - 1 / 12)) / k
        rows[1:-1] = np.where((middle >= 0).all(axis=1, keepdims=True), middle, rows[1:-1])
    fine = np.empty((fine_row_measure.size, n_phi))
    fine[0] = coarse[0]
    fine[1:1 + m * k] = rows.reshape(m * k, n_phi)
    tail = fine_row_measure[1 + m * k:]
    fine[1 + m * k:] = (coarse[-1].sum() * tail / tail.sum())[:, None] / n_phi
    return fine


def _split_columns(coarse, k_phi: int):
    """Each column's mass split over k_phi columns along a line in phi whose slope is the
    monotonised-central one of the periodic neighbours (bounded so that no share is < 0)."""
    down = coarse - np.roll(coarse, 1, axis=1)
    up = np.roll(coarse, -1, axis=1) - coarse
    offsets = (np.arange(k_phi) + 0.5) / k_phi - 0.5
    shares = coarse[:, :, None] + _mc_slope(down, up, coarse)[:, :, None] * offsets
    return shares.reshape(coarse.shape[0], -1) / k_phi


def _mc_slope(down, up, value):
    """Monotonised-central slope per coarse cell from its differences to its neighbours
    below and above (rows in U, or periodic columns in phi; NaN past an end: there the one
    difference there is), bounded by 2 ``value`` so that the profile stays ≥ 0 at the
    cell's edges."""
    below, above = np.where(np.isnan(down), up, down), np.where(np.isnan(up), down, up)
    size = np.minimum(2 * np.minimum(np.abs(below), np.abs(above)), 0.5 * np.abs(below + above))
    slope = np.where(below * above > 0, np.sign(below) * size, 0.0)
    return np.clip(slope, -2 * value, 2 * value)


class CoarseRun:
    """A split run on a grid ``k`` times coarser in U and ``k_phi`` in phi that stands for the
    run on ``grid``: it steps as the coarse run does and prolongs its outputs onto ``grid``
    (:func:`prolong`)."""

    def __init__(self, run, grid: SphereGrid, k: int, k_phi: int = 1):
        self.run, self.grid, self.k, self.k_phi = run, grid, k, k_phi
        self._fine_rows = grid.cell_measure.sum(axis=1)

    def __getattr__(self, name):                    # advance, land, backend, dt, memory, ...
        return getattr(self.run, name)

    def output(self, x, t: float):
        """(coarse state density, output density on the fine grid): (theta, phi) densities
        that carry sin theta (cell mass / cell measure), as every output of a run."""
        density, p_out = self.run.output(x, t)
        coarse_mass = p_out * self.run.grid.cell_measure
        fine = prolong(coarse_mass, self.k, self._fine_rows, k_phi=self.k_phi)
        return density, fine / self.grid.cell_measure

    def diagnostics(self, n_partial: int) -> dict:
        return dict(self.run.diagnostics(n_partial), coarsened=self.k, coarsened_phi=self.k_phi)


def check_steps(run) -> int | None:
    """Steps between the checks for a coarser grid or a settled state inside a run's
    segments (CHECK_EVERY t_n, besides its outputs; whole pairs of moves,
    :meth:`~fpstt.flow.flowplan.FlowPlan.steps_per_pair`), or None for a run that can neither
    coarsen (:func:`_factors`) nor be held (:func:`~fpstt.integration.settled.can_hold`)."""
    if not (can_hold(run) or _factors(run)):
        return None
    pair = run.plan.steps_per_pair(mercator_du(run.grid))     # whole pairs of moves
    return pair * max(1, round(CHECK_EVERY / (pair * run.dt)))


def coarser(run, x, times_left):
    """``run`` (at the end of a Strang sequence with state x) continued on the coarsest grid
    of :func:`_factors` that moves at most COARSE_L1 of the mass (module docstring), for the
    output times ``times_left`` (from now) and with the run's own step: (run, state), the
    same ones when none does."""
    factors = _factors(run)                 # first: only split runs that freeze rows
    if not factors or (run.lines and not _settled_at_pole(run, x)):
        return run, x
    mass = run.backend.to_density(x) * run.grid.cell_measure
    fine_rows = run.grid.cell_measure.sum(axis=1)
    for k, k_phi in factors:
        coarse = restrict(mass, k, k_phi)
        back = prolong(coarse, k, fine_rows, quadratic=False, k_phi=k_phi)
        if np.abs(back - mass).sum() > COARSE_L1 * mass.sum():
            continue
        coarse_grid = _coarse_grid(run.grid, k, k_phi)
        new = type(run)(run.model.base, coarse_grid, run.scheme, times_left, None,
                        run.fast, coarse / coarse_grid.cell_measure, shared=run.shared)
        if np.isclose(new.dt, run.dt, rtol=1e-12, atol=0):
            return CoarseRun(new, run.grid, k, k_phi), new.x0
    return run, x


def continued(before, build, p):
    """The run of a pulse's next piece, ``build(grid, p=density)``, on the grid where the
    piece ``before`` ended: on its coarser grid (``p``, the (theta, phi) density on the
    user's grid, cell averages that carry sin theta, restricted there as cell masses, which
    its prolongation gives back to round-off), standing for the user's, when it had
    coarsened."""
    if not isinstance(before, CoarseRun):
        return build(before.grid, p=p)
    k, k_phi, coarse_grid = before.k, before.k_phi, before.run.grid
    coarse = restrict(p * before.grid.cell_measure, k, k_phi) / coarse_grid.cell_measure
    return CoarseRun(build(coarse_grid, p=coarse), before.grid, k, k_phi)


def _factors(run) -> list:
    """[(k, k_phi)]: the coarsenings in U and phi a run may take, the fewest cells first, for
    a split run that freezes rows (not ``tails``) and has not coarsened yet: in an attractor
    chart (:func:`_chart_factors`), or on a z'-frame grid sized for a narrow start
    (:func:`_relaxation_factors`)."""
    implicit = getattr(run, "implicit", None)
    if isinstance(run, CoarseRun) or implicit is None or implicit.tol is None:
        return []
    if run.lines and run.plan.kind == "attractor":
        return _chart_factors(run)
    if run.grid.chart is None and run.folded:
        return _relaxation_factors(run)
    return []


def _chart_factors(run) -> list:
    """An attractor chart's (k, k_phi): k in FACTORS whose split step is the run's (a grid
    of at least 4 rows), k_phi = 2 where n_phi / 2 ≥ PHI_CELLS_MIN and the chart's turn a
    step is still whole cells (with each such k and alone)."""
    ks = [k for k in FACTORS if (du := _coarse_du(run.grid, k)) is not None
          and np.isclose(run.plan.step(du), run.dt, rtol=1e-12, atol=0)]
    n_phi = run.grid.n_phi
    phi = [2] if n_phi % 2 == 0 and n_phi // 2 >= PHI_CELLS_MIN and run.turn % 2 == 0 else []
    return _pairs(ks, phi)


def _relaxation_factors(run) -> list:
    """A z'-frame relaxation's (k, k_phi) (a folded split run, whose step does not depend on
    the cells): its grid's cells were sized for a start narrower than the stationary state
    (:attr:`~fpstt.flow.flowplan.FlowPlan.cell_width`), and the coarser cells are at most
    the stationary state's own (:func:`~fpstt.flow.sizes.relaxation_cell_width` with no start:
    the cells any start no narrower than it gets), k, k_phi in FACTORS, n_phi / k_phi ≥
    PHI_CELLS_MIN."""
    grid = run.grid
    sized = grid.plan is not None and grid.plan.cell_width is not None
    widest = relaxation_cell_width(run.model.base) if sized else None
    if widest is None:
        return []
    du = mercator_du(grid)
    ks = [k for k in FACTORS if k * du <= widest and _coarse_du(grid, k) is not None
          and run.plan.folds_shift(k * du)]
    phi = [k for k in FACTORS if k * grid.dphi <= widest and grid.n_phi % k == 0
           and grid.n_phi // k >= PHI_CELLS_MIN]
    return _pairs(ks, phi)


def _pairs(ks, phi) -> list:
    """Every (k, k_phi) of k in ``ks`` or 1 and k_phi in ``phi`` or 1 but (1, 1), the
    fewest cells first."""
    pairs = [(k, k_phi) for k in ks + [1] for k_phi in phi + [1] if k * k_phi > 1]
    return sorted(pairs, key=lambda pair: -pair[0] * pair[1])


def _settled_at_pole(run, x) -> bool:
    """The state's rows above the run's mass window start at its chart's pole cap (the
    attractor, where the state stays and only widens in U)."""
    row_mass = x.sum(axis=1) * run.grid.cell_measure[:, 0]
    return bool(row_mass[1] > run.implicit.tol * row_mass.sum())


def _coarse_du(grid: SphereGrid, k: int) -> float | None:
    """du of the grid k times coarser in U than ``grid`` (None if it would have < 4 rows)."""
    u_min, u_max = grid.u_range
    n = grid.n_theta - 2
    return None if n // k < 4 else (u_max - u_min) / n * k


def _coarse_grid(grid: SphereGrid, k: int, k_phi: int = 1) -> SphereGrid:
    """The Mercator grid of ``grid`` with k times its du (:func:`_coarse_du`) and
    n_phi / k_phi phi cells, the same u_min (pole cap), chart and plan, its far cap taking
    the n mod k last rows."""
    u_min = grid.u_range[0]
    du, m = _coarse_du(grid, k), (grid.n_theta - 2) // k
    return SphereGrid.mercator(du, u_min, u_min + m * du, grid.n_phi // k_phi, grid.chart,
                               grid.plan)
