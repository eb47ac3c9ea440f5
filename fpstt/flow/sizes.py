"""The sizes of a flow plan: its cells in U and its longest steps, each from the model and
the initial state, bounded by what was validated (:mod:`fpstt.flow.flowplan` reads them).

Table I is the reference: its step, 1/300 t_n, is one row of DEFAULT_DU at its drive, and
its grids were validated against the exact pushforward and Monte Carlo (docs/validation.md).
A chart's step is bounded by the state's width at the attractor (:func:`chart_step`), a
remapped step by the turn it makes (:func:`longest_remapped_step`), a chart's cell by the
initial state's width in it (:func:`chart_du`, :func:`mobius_du`), a relaxation's cell by
its stationary width (:func:`relaxation_cell_width`).
"""

from __future__ import annotations

import math

from .attractor import flow_scale, precession_rate
from .chartcells import attractor_du, cells_per_width

__all__ = ["DEFAULT_DU", "CHART_SPREAD", "Z_STEP", "CHART_STEP_MAX", "FREE_STEP_MAX",
           "REMAPPED_ROWS", "REMAP_TURN", "REMAP_TURN_MAX", "CHART_SPREAD_MAX", "FOLD_TURN",
           "FOLD_STEP_TURN", "FOLD_DAMPING", "FREE_TURN", "MOBIUS_COARSEST",
           "MOBIUS_CELLS_PER_WIDTH", "FOLDED_COARSEST", "chart_step", "chart_du", "turn_capped",
           "turn_capped_du", "mobius_du",
           "longest_remapped_step", "noise_dominated", "relaxation_cell_width", "RELAX_CELLS_MAX",
           "relaxation_cells", "NODE_RATIO_MIN", "CHART_DU_MIN", "too_fine", "relaxation_fits",
           "CELLS_PER_HARD_WIDTH", "hard_axis_n_phi", "noise_size", "thermal_width",
           "WIDE_AT_ATTRACTOR", "wide_at_attractor", "POLE_N_PHI", "PHI_CELLS_PER_WIDTH",
           "chart_n_phi"]

DEFAULT_DU = 0.0184          # cell width in U = ln tan(theta_c/2): Table I's 1/300 t_n step
Z_STEP = 1 / 300             # t_n: the longest split step, Table I's (FlowPlan.longest_split_step)
CHART_SPREAD = 0.078         # D dt of the longest chart step / the state's variance at its pole
CHART_STEP_MAX = 0.1         # ... and never longer than this (t_n), noise or not
FREE_STEP_MAX = 0.01         # t_n: the default step of a run with no exact shift to follow
REMAPPED_ROWS = 2            # the fewest rows per step in an attractor chart (rows_per_step)
REMAP_TURN = 1.0             # rad: the fastest rate x an attractor chart's coarsest step
REMAP_TURN_MAX = 2.6         # rad: ... and x the step of two rows of DEFAULT_DU / 2 beyond which
#                              a chart folds its shift into the remap (turn_capped)
NODE_RATIO_MIN = 0.3         # slow / fast rate of approach below which no attractor chart
#                              (frames.chosen_frame; model-space seed 6, in-plane terms:
#                              0.012-0.17 met Monte Carlo better and faster in the z' frame,
#                              0.47 only in its attractor chart)
CHART_SPREAD_MAX = 0.15      # rad: the widest initial spread a turn-capped chart takes (turn_capped)
CHART_DU_MIN = DEFAULT_DU / 8  # the finest cell a turn-capped chart takes (too_fine)
WIDE_AT_ATTRACTOR = 0.1      # rad: the noise's width at an attractor above which no chart (wide_at_attractor)
FOLD_TURN = 0.25             # rad: the magnet's largest turn over one z' remap (folds_shift)
FOLD_STEP_TURN = 4.0        # rad: ... and over one folded split step, remapped in substeps
#                              of FOLD_TURN (FlowPlan.remap_substeps; the in-plane example:
#                              WER within 1e-4 relative of 0.25-rad steps down to 6e-13 at
#                              1 rad, within 1e-3 of 2-rad steps at 4 rad; 8 rad: -0.5 %)
FOLD_DAMPING = 0.125         # ... and a phi-independent flow's largest contraction, alpha x rate x dt
FREE_TURN = 0.5              # rad: the fastest precession per step of a remapped free piece
MOBIUS_COARSEST = 2 * DEFAULT_DU    # the coarsest cell in U of a Möbius chart (mobius_du),
FOLDED_COARSEST = 2 * DEFAULT_DU    # ... and of a turn-capped attractor chart (chart_du)
MOBIUS_CELLS_PER_WIDTH = 6.4        # ... and its cells across the initial width (Table I: 6.34)
_CELLS_PER_WIDTH = {"stationary": 1 / 0.085, "initial": 1 / 0.2}   # relaxation_cell_width
_WIDEST_CELL = 0.1           # rad: a cell width never coarser than this
RELAX_CELLS_MAX = 4e5        # cells of a relaxation's grid, at most (relaxation_fits)
CELLS_PER_HARD_WIDTH = 1.75  # phi cells across a hard axis's thermal width (hard_axis_n_phi)
POLE_N_PHI = 256             # phi cells of a chart whose state ends round its pole (chart_n_phi)
PHI_CELLS_PER_WIDTH = 3.0    # ... in an attractor chart, while the initial state keeps this many


def noise_size(model) -> float:
    """D = |C2|^2 / 2 + Brown's D, per t_n: the size of all the noise (0: none at all)."""
    base = getattr(model, "base", model)
    return abs(base.C2) ** 2 / 2 + base.thermal_D


def chart_step(model, chart) -> float:
    """Longest step (t_n) in a chart, chosen from the state's narrowest width, not the cell.

    A state that reaches the chart's pole (the attractor) contracts there at the rate
    lambda = |shift rate| of ``chart`` (None: no chart, 0.1 t_n) against the
    noise, to the variance D / lambda; the implicit part's time error is governed by
    D dt / sigma^2, which D dt ≤ CHART_SPREAD D / lambda keeps at 0.078 there:
    dt ≤ 0.078 / lambda, at most 0.1 t_n (and 0.1 t_n without noise, where the implicit part
    has no diffusion to resolve).  On Table I with the field kept on (lambda = 5.09 per
    t_n) this is 0.015 t_n, D dt = 2.1e-6 rad^2, where the implicit step's time error was
    measured at a tenth of the grid's (docs/theory.md §9); a larger D (Brown noise) widens
    the state at the pole in proportion, and the step does not shrink with it.
    """
    rate = abs(chart.shift_rate) if chart is not None else 0.0
    if noise_size(model) == 0 or rate == 0:
        return CHART_STEP_MAX
    return min(CHART_SPREAD / rate, CHART_STEP_MAX)


def chart_du(model, chart, initial) -> float:
    """The cell width in U of an attractor chart
    (:attr:`~fpstt.flow.flowplan.FlowPlan.chart_du`): :data:`CELLS_PER_WIDTH
    <fpstt.flow.chartcells.CELLS_PER_WIDTH>` cells across the initial state's width
    (:func:`~fpstt.flow.chartcells.attractor_du`), at least DEFAULT_DU / 2, and at most what
    keeps its step of two rows, 2 du / lambda, within :func:`chart_step` (0.078 / lambda with
    noise, 0.1 t_n at most) and within :data:`REMAP_TURN` rad of the flow's fastest rate
    (:func:`~fpstt.flow.attractor.flow_scale`).

    The remap moves the rest of the flow in one directionally split sweep a step: model-space
    seed 1 row 22 (no damping, lambda = 0.73, fastest rate 105 per t_n) was 5.6 s.e. off
    Monte Carlo in its mean at 0.1 t_n a step (10.5 rad) and within 1.0 at 0.025 (2.6 rad);
    rows with 0.2-1.04 rad a step met it within 2.3 (docs/validation.md §8).

    Where the contraction lambda is slow against that rate (:func:`turn_capped`), two rows
    of DEFAULT_DU / 2 are a longer step than REMAP_TURN_MAX = 2.6 rad allows (the most
    validated: seed 1 row 22, within 1.0 s.e.; seed 3 row 8, lambda = 0.13 against 36 per
    t_n, missed Monte Carlo by 72 s.e. at 4.5 rad a step, within 0.5 at 2.25).  Such a chart
    folds its shift into the remap (:meth:`~fpstt.flow.flowplan.FlowPlan.folds_shift`), whose
    step does not depend on the cells: they are the state's, up to
    :data:`FOLDED_COARSEST`."""
    finest = DEFAULT_DU / 2
    if turn_capped(model, chart):
        coarsest = FOLDED_COARSEST
    else:
        step = min(chart_step(model, chart), REMAP_TURN / flow_scale(model))
        coarsest = step * chart.shift_rate / REMAPPED_ROWS
    if initial is None or coarsest <= finest:
        return finest
    return attractor_du(chart, initial, finest, coarsest)


def turn_capped_du(model, chart) -> float:
    """The cell in U whose step of two rows turns the flow by REMAP_TURN_MAX: a chart on
    coarser cells folds its shift (:meth:`~fpstt.flow.flowplan.FlowPlan.folds_shift`)."""
    return REMAP_TURN_MAX / flow_scale(model) * abs(chart.shift_rate) / REMAPPED_ROWS


def turn_capped(model, chart) -> bool:
    """True when an attractor ``chart`` contracts so slowly against the flow's fastest rate
    that two rows of DEFAULT_DU / 2 would turn the flow by more than REMAP_TURN_MAX in their
    step (lambda / rate < REMAPPED_ROWS DEFAULT_DU / (2 REMAP_TURN_MAX) = 1 / 141): such a
    chart folds its shift into the remap (:meth:`~fpstt.flow.flowplan.FlowPlan.folds_shift`).

    Its slow contraction leaves the state where it started for long: the directionally split
    remap follows the fast rest of the flow only near the chart's poles, where it turns
    about them, and narrow states were validated there (spread over the sphere,
    :func:`~fpstt.flow.chartcells.state_spread`: seed 1 row 22, 0.03 rad; seed 3 row 8,
    0.10 rad; seed 8 row 1, 0.03 rad at the repeller: within 1.7, 2.1 and 2.0 s.e. folded,
    1 rad a step).  Seed 3 row 23 (no damping, lambda = 0.114, rate 45
    per t_n, a Gibbs start spread over 0.7 rad) was 40 s.e. off Monte Carlo in its mean with
    no warning on 5 212 x 384 cells (317 s), and within 2.0 s.e. in the z' frame, whose
    remapped steps turn it by FOLD_TURN (990 x 384 cells, 13 s); seed 4 row 19 (a
    Boltzmann start in two opposite wells, each 0.016 rad wide) timed out at 90 s on 5 634
    rows (both with rows shifted, 2.5 rad a step).  :func:`~fpstt.flow.flowplan.plan_flow`
    keeps such a chart only for initial
    states spread over at most CHART_SPREAD_MAX = 0.15 rad (seed 2 row 4, 0.39 rad, was
    within 2.0 s.e. in its chart too, and is within 2.5 in the z' frame: the rule is on
    the safe side of what was measured)."""
    return turn_capped_du(model, chart) < DEFAULT_DU / 2


def too_fine(model, chart) -> bool:
    """True when a chart's contraction is slower than CHART_DU_MIN / (REMAP_TURN_MAX /
    REMAPPED_ROWS) of its flow's fastest rate (1 / 1 130): when charts shifted rows, its
    cells had to be finer than CHART_DU_MIN = DEFAULT_DU / 8 (model-space seed 6 row 25, no
    damping, lambda = 0.018 against 100 rad per t_n: du = 2.2e-4, 58 712 rows, refused for
    memory after 87 s).  Folded (:func:`turn_capped`), its cells would not be fine, but no
    chart this slow was validated: it runs in the z' frame."""
    return turn_capped_du(model, chart) < CHART_DU_MIN


def wide_at_attractor(model, chart) -> bool:
    """True when the noise holds a state at the attractor of ``chart`` wider than
    WIDE_AT_ATTRACTOR = 0.1 rad: sqrt(D / lambda), with D = :func:`noise_size` and lambda the
    chart's rate of contraction.  A chart magnifies its pole for a state that collapses
    there; one this wide spans more than 5 cells of DEFAULT_DU per width in the z' frame,
    and its chart's cells (set by the initial state, :func:`chart_du`) only cost rows and
    exact solves.  Model-space seed 6 row 16 (Brown noise at 300 K, 0.25 rad): its chart
    (1 362 x 384 cells) timed out at 90 s, the z' frame took 5.5 s and was within 2.1 s.e. of
    Monte Carlo; the five other rows of seeds 1-7 this wide (0.13-0.28 rad) were within the
    same 4 s.e. in both frames, 2-4 s.e. alike (docs/validation.md §8)."""
    rate = abs(chart.shift_rate)
    return rate > 0 and math.sqrt(noise_size(model) / rate) > WIDE_AT_ATTRACTOR


def mobius_du(model, chart, initial) -> float:
    """The cell width in U of a Möbius chart
    (:attr:`~fpstt.flow.flowplan.FlowPlan.chart_du`): DEFAULT_DU, where
    Table I with the field kept on was validated (6.34 cells across its initial width), or
    coarser, up to MOBIUS_COARSEST = 2 DEFAULT_DU, where the initial state still has
    MOBIUS_CELLS_PER_WIDTH = 6.4 cells across its width
    (:func:`~fpstt.flow.chartcells.attractor_du`) and a step still holds a row.

    The flow is a translation in U, conformal: it keeps a state's width in cells, which only
    the noise widens, and a state at the attractor (the chart's pole) is resolved relative
    to its own width whatever du.  There it spans rows of equal ln r: model-space seed 1
    row 19 (std 0.0045 rad) held 286 rows of DEFAULT_DU above 1e-13 of its mass, and its
    exact solves ran over 583."""
    if initial is None:
        return DEFAULT_DU
    coarsest = min(MOBIUS_COARSEST, chart_step(model, chart) * abs(chart.shift_rate))
    return attractor_du(chart, initial, DEFAULT_DU, max(coarsest, DEFAULT_DU),
                        MOBIUS_CELLS_PER_WIDTH)


def longest_remapped_step(model) -> float:
    """Longest step (t_n) of a piece with no exact shift (Im C1 = 0) whose phi-dependent flow
    is remapped (:mod:`fpstt.numerics.remap`): the fastest precession, |omega| + gamma B_k t_n +
    gamma B_d t_n, turns by at most FREE_TURN = 0.5 rad a step; at most 0.01 t_n.

    The remap and the implicit part take turns within a step, and what they miss of each
    other grows with the turn.  On the in-plane junction of
    ``validation/in_plane.toml`` (gamma (B_k + B_d) t_n = 185 rad per t_n; 96 phi cells, a
    2 t_n pulse at 0.6 mA, then 1 t_n with the drive off) the std of n_y' 1 t_n after the
    pulse was 0.124 with the old default 0.01 t_n (1.8 rad a step), 0.1068 at 5e-3, 0.1058 at
    2e-3; Monte Carlo (N = 1e5) 0.1039, the Boltzmann width of the well 0.1063.
    """
    rate = precession_rate(model)
    return min(FREE_TURN / rate, FREE_STEP_MAX) if rate > 0 else FREE_STEP_MAX


def noise_dominated(model) -> bool:
    """True when isotropic noise outweighs every drift on the default cell: a bound on the
    cell Péclet number, (|C1| + (|omega| + |anisotropies|)(1 + alpha)) DEFAULT_DU / D ≤ 1,
    with D the lab-smooth isotropic diffusion (Brown's, and C2's in the lab reading).

    There fluxes need no upwinding (the split schemes exist for Péclet numbers in the
    hundreds), and the split step, one row of the drive's translation (du / Im C1), is the
    wrong bound: model-space seed 2 row 6 (Brown noise at 300 K, D = 1.9 per t_n, a drive of
    0.1 per t_n) took 12 split steps of 0.17 t_n and was 39 s.e. off Monte Carlo in its
    mean; TR-BDF2 on the whole operator is within 2.6 s.e. (docs/validation.md §8).  A
    Möbius flow (a field kept on) keeps its chart: seed 2 row 5, noise-dominated by this
    bound, was 398 s.e. off unsplit and is within 2.7 s.e. in its chart."""
    base = getattr(model, "base", model)
    noise = base.tangent_diffusion
    if noise <= 0:
        return False
    return flow_scale(base) * DEFAULT_DU / noise <= 1.0


def relaxation_cell_width(model, initial=None) -> float | None:
    """Cell width (rad, du = dphi) of a run that relaxes to exp(-E / k_B T), or None.

    With Gilbert damping alpha and Brown's D (Landau-Lifshitz form, :mod:`fpstt.physics.magnet`) the
    stationary state exp(-E / k_B T) is no narrower than its width at the curvature of the
    field plus the anisotropy,

    .. math::
        w_\\infty = \\sqrt{k_B T / (M (B + B_k))}
                  = \\sqrt{D (1 + \\alpha^2) / (\\alpha (\\gamma B + \\gamma B_k) t_n)},

    and a von Mises-Fisher start (concentration kappa, :class:`~fpstt.physics.initial.GibbsState`)
    has width 1 / sqrt(kappa).  The width is the smaller of w_inf / 11.8 and w_0 / 5, at
    most 0.1 rad.  On the tilted magnet of ``docs/validation.md`` §10 (Delta = 2.24, w_inf =
    0.386 rad) the operator's null vector was 5.3e-4 from exp(-E / k_B T) in L1 on cells of
    about w_inf / 11.8, and 3.5e-4 on the plan's 0.028 rad (set by its start, kappa = 50),
    second order (8.7e-5 at half the width); cells of w_0 / 5 met Monte Carlo within 4 s.e.
    while that start was still narrow (``tests/test_magnet.py``).  None without damping,
    Brown noise or a field.
    """
    base = getattr(model, "base", model)
    stationary = thermal_width(base, math.hypot(*(base.omega or (0.0, 0.0, 0.0)))
                               + base.anisotropy)
    if stationary is None:
        return None
    width = stationary / _CELLS_PER_WIDTH["stationary"]
    kappa = getattr(initial, "kappa", None) if hasattr(initial, "theta_b") else None
    if kappa and not hasattr(initial, "delta"):               # a vMF start, not Boltzmann
        width = min(width, 1 / math.sqrt(kappa) / _CELLS_PER_WIDTH["initial"])
    return min(width, _WIDEST_CELL)


def thermal_width(model, rate: float) -> float | None:
    """sqrt(k_B T / (M B)) (rad): the thermal width of n along a curvature B of the energy
    whose rate gamma B t_n is ``rate`` (per t_n), sqrt(D (1 + alpha^2) / (alpha rate)) with
    Brown's D of the Landau-Lifshitz form (:mod:`fpstt.physics.magnet`); None without
    damping, Brown noise or curvature."""
    base = getattr(model, "base", model)
    if base.alpha <= 0 or base.thermal_D <= 0 or rate <= 0:
        return None
    return math.sqrt(base.thermal_D * (1 + base.alpha ** 2) / (base.alpha * rate))


def relaxation_cells(width: float) -> tuple[float, int, float]:
    """(du, n_phi, edge) of a relaxation's grid: square cells of ``width`` (n_phi a multiple
    of 8, du = 2 pi / n_phi) between pole caps of radius half a cell, at u = ±edge,
    edge = -ln tan(du / 4) (:func:`~fpstt.flow.flowgrid.default_grid`)."""
    n_phi = 8 * math.ceil(2 * math.pi / width / 8)
    du = 2 * math.pi / n_phi
    return du, n_phi, -math.log(math.tan(du / 4))


def relaxation_fits(width: float) -> bool:
    """True when the grid of :func:`relaxation_cells` holds at most RELAX_CELLS_MAX = 4e5
    cells, n_phi (2 edge / du + 2): TR-BDF2 on the full operator factorises all of them,
    some twenty times.  The count grows as ln(4 / width) / width^2: the rows in U near the
    poles, ~2 ln(4 / width) / width, not the sphere's area alone.  Model-space seed 4 row 16
    (Brown noise at 3 K, alpha = 0.07, B = 0.05 T, B_k = 0.49 T, no drive: cells of 0.0017
    rad) asked for 9 002 x 3 648 cells and was killed for memory; seed 5 row 7 (B_k 0.44 T
    at 30 K) for 2 153 x 1 040 and timed out at 90 s.  The relaxations of seeds 1-5
    otherwise hold at most 1.95e5 (seed 2 row 24, 20 s).
    :func:`~fpstt.flow.flowplan.plan_flow` remaps such a flow instead (in the z' frame, its
    noise implicit: seed 4 row 16 within 1.5 s.e. of Monte Carlo in 6 s, warned that its
    state is 1.3 cells across)."""
    du, n_phi, edge = relaxation_cells(width)
    return n_phi * (2 * edge / du + 2) <= RELAX_CELLS_MAX


def hard_axis_n_phi(model, n_phi: int) -> int:
    """Phi cells of a z'-frame grid (at least ``n_phi``) for a hard axis off z'.

    A hard axis h (easy plane, :mod:`fpstt.physics.magnet`) confines n . h to its thermal
    width w_h = sqrt(k_B T / (M B_d)) (:func:`thermal_width` at gamma B_d t_n), and a
    state crossing the z' equator (an in-plane junction's switch) is that narrow along phi
    there.  On the in-plane example (w_h = 0.0236 rad, 0.8 mA) WER during the switch scattered
    by up to 3.3 % with the cell count from 256 to 416 cells (1.1-1.6 cells across w_h),
    and from 448 cells (1.68) on agreed with 768 to 0.3 % (docs/validation.md §11): the grid
    takes CELLS_PER_HARD_WIDTH = 1.75 cells across w_h, in multiples of 64.  ``n_phi``
    unchanged without Brown noise, damping or a hard axis, or with one along z'.
    """
    base = getattr(model, "base", model)
    h = getattr(base, "hard_anisotropy", 0.0)
    width = thermal_width(base, h)
    off_z = math.hypot(*base.hard_axis[:2]) if h else 0.0
    if width is None or off_z == 0:
        return n_phi
    cells = 2 * math.pi * CELLS_PER_HARD_WIDTH * off_z / width     # phi width: width / off_z
    return max(n_phi, 64 * math.ceil(cells / 64))


def chart_n_phi(plan, initial, default: int) -> int:
    """Phi cells of a chart grid: POLE_N_PHI = 256 where the state ends round about the
    chart's pole, else ``default``.  A Möbius chart (a field kept on) always: 256 cells were
    measured within L1 4.7e-4 of a grid refined 2x in U, phi and t (384: 2.4e-4) at 0.6x the
    cost.  An attractor chart while ``initial`` keeps PHI_CELLS_PER_WIDTH = 3 of them across
    its narrowest width where the chart's cells are longest
    (:func:`~fpstt.flow.chartcells.cells_per_width` at dphi = 2 pi / 256): the state
    collapses onto the pole, where a phi cell spans ever less of it and the exact solves of
    the polar rows cost in proportion to the cells.  On the 32 attractor rows of model-space
    seeds 1-7 that keep 3 cells, 256 cells took 0.71x the time (median) and moved no row's
    largest z against Monte Carlo by more than 0.51; Table I with a tilted easy axis keeps
    2.12 at 256 (3.18 at 384), and 256 took its noiseless L1 at t_n / 3 from 2.8e-3 to
    1.25e-2 (docs/validation.md §5, §8)."""
    if plan.kind == "mobius":
        return POLE_N_PHI
    if plan.kind == "attractor" and initial is not None and cells_per_width(
            plan.chart, initial, 2 * math.pi / POLE_N_PHI) >= PHI_CELLS_PER_WIDTH:
        return POLE_N_PHI
    return default
