"""Flow-adapted grids: cells uniform in U = ln tan(theta_c/2) of the flow's Möbius chart.

:func:`default_grid` takes the chart from the flow's plan (:func:`~fpstt.flow.flowplan.plan_flow`,
stored on the grid), and chooses the cell width du (an accuracy choice, independent of the
drive), the step dt = du / rate that divides every output time, and the U range that covers
the initial state.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ..sphere.budget import BYTES_PER_CELL, check_memory
from ..sphere.chart import MobiusChart
from .flowplan import longest_chart_step, plan_flow
from .sizes import DEFAULT_DU, chart_n_phi, hard_axis_n_phi, relaxation_cells
from ..sphere.grid import SphereGrid, angle_between, angles, mercator_theta, unit_vector

__all__ = ["DEFAULT_DU", "DEFAULT_N_PHI", "default_grid", "check_times", "default_dt",
           "cap_error_bound", "rows_per_step", "longest_chart_step"]


def check_times(times) -> np.ndarray:
    """Validate output times (units of t_n): finite, ≥ 0, strictly increasing."""
    t = np.atleast_1d(np.asarray(times, dtype=float))
    if t.ndim != 1 or t.size == 0:
        raise ValueError("`times` must be a non-empty 1-D sequence")
    if not np.all(np.isfinite(t)) or t[0] < 0 or np.any(np.diff(t) <= 0):
        raise ValueError(f"`times` must be finite, ≥ 0 and strictly increasing, got {t.tolist()}")
    return t


DEFAULT_N_PHI = 384          # phi cells, but round a chart's pole (sizes.chart_n_phi)
_CAP_ERROR = 1e-11           # L1 error the pole cap next to an initial state may cost
_U_MAX_LIMIT = 12.0          # theta edges near pi keep their precision up to here
_U_MAX_TAILS = 16.0          # ... and, for the rows' own masses (tails), up to here


def default_grid(model, times, *, du: float | None = None, steps_per_unit: int | None = None,
                 n_phi: int | None = None, u_min: float | None = None, u_max: float | None = None,
                 initial=None, cap_error: float = _CAP_ERROR,
                 attractor: bool = True, plan=None) -> SphereGrid:
    """Flow-adapted grid for the split schemes: cells uniform in U = ln tan(theta_c/2).

    In the Möbius chart of the model's noiseless flow (:func:`~fpstt.sphere.chart.chart_for`; the
    z' frame without a field, or for flows with no Möbius chart, such as an anisotropy) the
    flow is a translation in U and a rotation in phi_c.  The cell width is ``du`` (default
    0.0184, an accuracy choice that does not depend on the drive; in an attractor chart
    0.0092-0.039, the plan's :attr:`~fpstt.flow.flowplan.FlowPlan.chart_du`, below), the step dt = moves rows du / shift rate (``rows`` =
    :meth:`~fpstt.flow.flowplan.FlowPlan.rows_per_step`, ``moves`` =
    :meth:`~fpstt.flow.flowplan.FlowPlan.moves_per_step`) is adjusted down so that it divides
    every output time, in pairs of steps where the moves pair up only so
    (:meth:`~fpstt.flow.flowplan.FlowPlan.steps_per_pair`); an attractor chart whose remap
    takes the shift too (:meth:`~fpstt.flow.flowplan.FlowPlan.folds_shift`) keeps its du,
    and its step is divided instead.  A chart is sheared so that its flow runs
    along U alone, which needs
    du ≤ dphi / |shear|; when that would more than halve du (a weak drive with a field on),
    the shear is reduced so that the rotation per step is a whole number of phi cells,
    applied by a cyclic shift (:func:`_residual_shear`).
    ``steps_per_unit`` instead fixes dt ≤ 1 / steps_per_unit (t_n) and du = rate dt.
    ``n_phi`` defaults to 384 phi cells, and to 256 where the state ends round about the
    chart's pole (:func:`~fpstt.flow.sizes.chart_n_phi`: a Möbius chart, an attractor chart
    whose initial state keeps 3 cells across its width); in the z' frame, enough cells for
    a hard axis's thermal width across phi at the equator
    (:func:`~fpstt.flow.sizes.hard_axis_n_phi`: 512 on the in-plane example).
    [u_min, u_max] = [-9, 3.5] spans theta_c from 2.5e-4 to 3.0 rad plus the caps; when the
    ``initial`` state (a :class:`~fpstt.physics.initial.GibbsState`) reaches beyond, u_max grows
    (up to 12) until treating the cap next to it as uniform costs ≤ ``cap_error`` in L1
    (default 1e-11; write-error rates ask for less, :mod:`fpstt.runs.wer`).
    A torque-driven flow with no Möbius chart whose rest depends on phi (a tilted easy axis)
    gets, given ``initial`` and ``attractor``, the chart whose poles are the attractor that
    the initial state flows to and the repeller it comes from (:mod:`fpstt.flow.attractor`);
    ``attractor=False`` keeps the z' frame for every flow (current pulses need it: a chart is
    one drive's; the rest of a Möbius flow whose fixed points are not ±z' is then remapped).
    The chart comes from the flow's plan, ``plan`` if given (:func:`~fpstt.flow.flowplan.plan_flow`
    of this ``model``, ``initial`` and ``attractor``), which the grid keeps (``grid.plan``).
    """
    if plan is None:
        plan = plan_flow(model, initial, attractor)
    elif plan.model is not model:
        raise ValueError("`plan` was made for another model")
    chart = plan.chart
    times = check_times(times)
    if plan.cell_width is not None and du is None and steps_per_unit is None:
        du, n_phi, u_min, u_max = _relaxation_cells(plan.cell_width, du, n_phi, u_min, u_max)
    u_min = -9.0 if u_min is None else u_min
    if n_phi is None:
        n_phi = chart_n_phi(plan, initial, DEFAULT_N_PHI)
        if chart.is_identity:                   # the z' frame: an easy plane's width in phi
            n_phi = hard_axis_n_phi(model, n_phi)
    rate = abs(chart.shift_rate)
    if steps_per_unit is not None:
        if int(steps_per_unit) != steps_per_unit or steps_per_unit < 1:
            raise ValueError(f"`steps_per_unit` must be an integer ≥ 1, got {steps_per_unit!r}")
        du = rate * default_dt(times, 1.0 / steps_per_unit) if rate > 0 else DEFAULT_DU
    else:
        # an attractor chart's du is its plan's, from the initial state's width in its
        # cells (fpstt.flow.chartcells): 0.0092 for Table I with a tilted easy axis, where 0.0184
        # missed Monte Carlo by 7 s.e. in std, an error in U (docs/validation.md §5)
        du = (plan.chart_du or DEFAULT_DU) if du is None else float(du)
        if not (du > 0 and math.isfinite(du)):
            raise ValueError(f"`du` must be finite and > 0, got {du!r}")
        if chart.shear != 0 and _full_shear_fits(chart, du, n_phi):
            du = min(du, 2 * math.pi / n_phi / abs(chart.shear))
        # (a folded chart's step divides the times itself; the z' frame's folded grids,
        # validated with the du this sets, keep it)
        if rate > 0 and not (plan.kind == "attractor" and plan.folds_shift(du)):
            for _ in range(8):                  # du only shrinks, so rows and moves settle
                rows, moves = plan.rows_per_step(du), plan.moves_per_step(du)
                pair = plan.steps_per_pair(du) * moves * plan.move_step(du)
                du *= default_dt(times, pair) / pair
                if (plan.rows_per_step(du), plan.moves_per_step(du)) == (rows, moves):
                    break
    if not chart.is_identity and rate > 0 and not _full_shear_fits(chart, du, n_phi):
        chart = _residual_shear(chart, du, n_phi, plan.rows_per_step(du))
        plan = replace(plan, chart=chart)
    if u_max is None:
        u_max = _covering_u_max(chart, initial, cap_error)
    _check_size(du, u_min, u_max, n_phi, model)
    return SphereGrid.mercator(du, u_min, u_max, n_phi,
                               chart=None if chart.is_identity else chart, plan=plan)


def _relaxation_cells(width, du, n_phi, u_min, u_max):
    """(du, n_phi, u_min, u_max) of a relaxation (:attr:`~fpstt.flow.flowplan.FlowPlan.cell_width`):
    square cells of that width (n_phi a multiple of 8), and pole caps of radius half a
    cell (u = ±ln tan(width / 4)): rows nearer a pole, narrower than a cell, resolve
    nothing a state of this width needs and stiffen the operator.  Values given win."""
    du, cells, edge = relaxation_cells(width)
    n_phi = cells if n_phi is None else n_phi
    return du, n_phi, -edge if u_min is None else u_min, edge if u_max is None else u_max


def _check_size(du, u_min, u_max, n_phi, model) -> None:
    """Refuse a grid the machine cannot hold (:mod:`fpstt.sphere.budget`), before allocating it."""
    rows = math.ceil((u_max - u_min) / du) + 2
    if rows > 0 and n_phi > 0:
        check_memory(rows * n_phi * BYTES_PER_CELL[True],
                     f"a grid of {rows} x {n_phi} cells (du = {du:.3g})",
                     "use fewer cells (a larger `du`; fewer `n_theta`, `n_phi` or "
                     "`steps_per_unit`)" + ("" if abs(model.C1.imag) > 1e-3 else
                                            "; the drive Im C1 is tiny, which makes du tiny"))


def _full_shear_fits(chart, du: float, n_phi: int) -> bool:
    """True when the chart's full shear s (flow along U only) costs at most half the cell
    width: its diagonal diffusion weights need du ≤ dphi / |s|."""
    return chart.shear == 0 or 2 * math.pi / n_phi / abs(chart.shear) >= du / 2


def _residual_shear(chart, du: float, n_phi: int, rows: int):
    """The chart with the shear that leaves a whole number of phi cells of rotation per step.

    The flow turns arg w by s = Im lambda / Re lambda per unit of U; a step of ``rows`` cells
    in U turns it by s rows du, of which the nearest whole number k of cells dphi is taken
    by a cyclic shift of the columns (exact) and the rest, |s'| rows du ≤ dphi / 2, by the
    chart's shear s'.  A small shear keeps the mixed diffusion term small and needs no
    bound on du (a full shear needed du ≤ dphi / |s|: 70 000 rows for a weak drive).
    """
    full = chart.lam.imag / chart.lam.real
    dphi = 2 * math.pi / n_phi
    turn = round(full * rows * du / dphi)
    return MobiusChart(chart.zeta_s, chart.zeta_u, chart.lam, full - turn * dphi / (rows * du))


def rows_per_step(chart, du: float, model) -> int:
    """Rows of translation per split step of ``model`` on a grid of cell width ``du`` in
    ``chart`` (None: the z' frame): :meth:`~fpstt.flow.flowplan.FlowPlan.rows_per_step`."""
    return plan_flow(model, frame=chart).rows_per_step(du)


def _covering_u_max(chart, initial, cap_error: float, default: float = 3.5) -> float:
    """Smallest u_max ≥ ``default`` (steps of 0.25, at most 12) at which the far pole cap
    [theta_c(u_max), pi] costs ≤ ``cap_error`` in L1 (:func:`cap_error_bound`).  Beyond
    u = 12 the theta edges near pi lose precision in floating point (mass errors of 1e-10
    measured at u = 19).  Tail runs (``cap_error`` below the default) may go to u = 16: there
    the rows' relative widths are still good to 1e-7, and on the device example of
    ``docs/usage.md`` the results at every WER above the u = 12 floor did not move (1e-9)
    while the floor fell from 5e-15 to 4e-21."""
    if initial is None:
        return default
    limit = _U_MAX_LIMIT if cap_error >= _CAP_ERROR else _U_MAX_TAILS
    for u in np.arange(default, limit, 0.25):
        if cap_error_bound(chart, initial, u) <= cap_error:
            return float(u)
    return limit


def cap_error_bound(chart, initial, u_max: float) -> float:
    """Bound on the L1 error of treating the far pole cap [theta_c(u_max), pi] of ``initial``
    (a :class:`~fpstt.physics.initial.GibbsState`) as uniform per steradian.

    The error is at most the cap's mass times the relative variation of the density over
    it; the mass is bounded by the cap's area times the largest density on its rim (or the
    peak, if the cap holds the state's centre).
    """
    phi_c = np.linspace(0, 2 * np.pi, 256, endpoint=False)
    b = initial.direction
    peak = float(initial.per_area(initial.theta_b, initial.phi_b))
    theta_c = np.full_like(phi_c, float(mercator_theta(u_max)))
    to_lab = (lambda th, ph: (th, ph)) if chart.is_identity else chart.to_lab
    rim = unit_vector(*to_lab(theta_c, phi_c))
    pole = unit_vector(*to_lab(np.pi, 0.0))
    radius = float(np.max(angle_between(pole[:, None], rim)))
    inside = float(angle_between(pole, b)) < radius
    on_rim = initial.per_area(*angles(rim))
    rho = peak if inside else float(np.max(on_rim))
    centre = float(initial.per_area(*angles(pole)))
    variation = min(1.0, float(np.max(np.abs(on_rim - centre))) / max(rho, 1e-300))
    return rho * 2 * math.pi * (1 - math.cos(radius)) * variation


def default_dt(times, dt_max: float = 0.01) -> float:
    """Largest dt ≤ dt_max dividing every output time (when they are commensurate)."""
    t_end = times[-1]
    if t_end == 0:
        return dt_max
    n = max(1, int(math.ceil(t_end / dt_max - 1e-9)))
    for k in range(n, n + 1000):
        dt = t_end / k
        if np.allclose(times / dt, np.round(times / dt), atol=1e-9, rtol=0):
            return dt
    return t_end / n
