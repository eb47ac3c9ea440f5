"""The flow plan: how a run follows the model's noiseless flow, decided once.

A split scheme moves the noiseless flow exactly, as a translation in U of a chart, and the
rest implicitly (docs/theory.md §9).  Which chart that is, whether its shift is the whole
flow, and which scheme a run gets by default, depend on the model (a Möbius flow or not,
docs/theory.md §9), on the initial state and on whether the grid may leave the z' frame
(an attractor chart, docs/theory.md §12).  :func:`plan_flow` classifies once and returns a
:class:`FlowPlan`; :func:`~fpstt.flow.flowgrid.default_grid` stores it on the grid, and the
integrators, the pulse driver, write-error rates, sweeps and the run configuration read it.
A grid built by hand (``SphereGrid.mercator`` directly, or loaded from a file) carries no
plan: :func:`grid_plan` makes one in the grid's own frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .attractor import flow_scale, magnet_rate, precession_rate
from ..sphere.chart import MobiusChart, chart_for, is_mobius
from .frames import chosen_frame, given_frame, warn_other_attractors
from .sizes import (CHART_STEP_MAX, FOLD_DAMPING, FOLD_STEP_TURN, FOLD_TURN, FREE_STEP_MAX,
                    REMAP_TURN, REMAPPED_ROWS, Z_STEP, chart_du, chart_step, turn_capped_du,
                    longest_remapped_step, mobius_du, noise_dominated, noise_size,
                    relaxation_cell_width, relaxation_fits)

__all__ = ["KINDS", "FlowPlan", "plan_flow", "grid_plan", "longest_chart_step", "magnet_rate"]

KINDS = ("z-exact", "mobius", "attractor", "z-remapped", "unsplit")
"""The kinds of :attr:`FlowPlan.kind`:

``"z-exact"``
    The z' frame, whose shift in U is the whole noiseless flow (fixed points ±z': Table I,
    a field along z'; docs/theory.md §9).
``"mobius"``
    The flow's own Möbius chart, sheared so that the flow runs along U (a field kept on,
    docs/theory.md §9).
``"attractor"``
    A flow with no Möbius chart (an anisotropy) in the chart of the attractor the initial
    state flows to; its shift is exact, :mod:`fpstt.numerics.remap` moves the rest
    (docs/theory.md §12).
``"z-remapped"``
    The z' frame shifts the spin-transfer part, :mod:`fpstt.numerics.remap` the rest (a grid that
    must stay in z', e.g. for a pulse; a flow with no attractor chart; a flow with no
    noise at all, remapped whole).
``"unsplit"``
    TR-BDF2 on the full operator with error-controlled steps by default (no torque on a flow
    with no Möbius chart: it relaxes, :mod:`fpstt.numerics.adaptive`), on cells sized by
    :attr:`FlowPlan.cell_width`.  A driven easy axis along z' (phi-independent) is
    ``"z-remapped"``: its remap acts on the phi modes (:class:`~fpstt.numerics.remap.ModalRemap`).
"""

SPLIT, UNSPLIT, RELAX = "split-tr-bdf2", "tr-bdf2", "adaptive-tr-bdf2"
_CHOOSE = object()           # plan_flow: choose the frame (default_grid), not given


@dataclass(frozen=True, eq=False)
class FlowPlan:
    """How a run follows the noiseless flow of one model (made by :func:`plan_flow`).

    Attributes
    ----------
    kind : str
        One of :data:`KINDS`.
    chart : MobiusChart
        The chart the grid runs in (the z' frame as an identity chart); its shift rate sets
        the step of the split schemes.
    mobius : bool
        The noiseless flow has a Möbius chart (docs/theory.md §9): a spin torque with any
        constant field, not an anisotropy.
    carries_flow : bool
        The chart's shift is the whole noiseless flow; else :mod:`fpstt.numerics.remap` moves the
        rest (:attr:`remapped`) when a split scheme runs.
    scheme : str
        The default scheme of a run at constant drive (``fpstt solve``): split TR-BDF2 for a
        Möbius flow, and for any torque-driven flow with none (its rest remapped: in real
        space when it depends on phi, on the phi modes when it does not), and for a flow with
        no noise (n_e = 0 and no Brown noise: the whole flow remapped); else TR-BDF2 on the
        full operator.  (A weak easy axis along z', cell Péclet 1.8e3: TR-BDF2's fluxes were
        149 s.e. off Monte Carlo in P_sw, the split scheme within 2 s.e.; with no noise,
        model-space seed 3 row 21, a precession of a 0.15 rad state with no damping, was
        123 s.e. off in 63 s with TR-BDF2's fluxes, and within 3.1 s.e. in 12 s remapped.)
    piece_scheme : str
        The default scheme of each piece of a run under a pulse (:func:`fpstt.solve` with
        ``pulse``), at the piece's drive.  It differs from ``scheme`` only without a drive (Im C1 = 0):
        a phi-dependent flow is remapped (a field kept on with the drive off, a precession of
        a narrow state, was 2.5x too broad in std after 0.5 t_n with TR-BDF2's fluxes on the z'
        grid, within 1 s.e. of Monte Carlo remapped), and a flow in ±z' with no torque takes
        TR-BDF2 unless it has no noise at all (then it is remapped, as ``scheme``).  (For
        the axially symmetric anisotropy of the device example the split scheme, the rest
        remapped on phi mode 0, is closer to the 1-D solver than TR-BDF2: WER 0.39 % against
        0.53 % at 0.5-5 t_n of its pulse, 0.27 % against 0.51 % at 12 t_n.)
    phi_independent : bool
        Drift and diffusion do not depend on phi (the Fourier path; write-error curves).
    longest_step : float
        Longest split step in a Möbius chart, t_n (:func:`longest_chart_step`).
    free_step : float
        Longest step (t_n) of a remapped piece with no exact shift to follow, such as the
        drive-off pieces of a pulse on a phi-dependent flow (:func:`longest_remapped_step`).
    cell_width : float or None
        Kind ``"unsplit"`` with damping and Brown noise (a relaxation to exp(-E / k_B T)):
        the cell width in rad (du = dphi) that resolves the narrowest state of the run
        (:func:`relaxation_cell_width`); None: the grid defaults of
        :func:`~fpstt.flow.flowgrid.default_grid`.
    model : object
        The model the plan was made for (:func:`grid_plan` reuses the plan for it alone).
    chart_du : float or None
        Kind ``"mobius"``: DEFAULT_DU, or up to twice it for a broad initial state
        (:func:`~fpstt.flow.sizes.mobius_du`).  Kind ``"attractor"``: the cell width in U
        of its grid, from the initial state's width where it starts
        (:func:`~fpstt.flow.chartcells.attractor_du`), between
        DEFAULT_DU / 2 = 0.0092 (a narrow state away from the chart's poles; without an
        initial state) and the du at which the two rows of a move take the longest step
        :attr:`longest_step` (0.078 / lambda with noise: du = 0.039) or turn the flow's
        fastest rate by :data:`REMAP_TURN` = 1 rad.  None: the grid
        defaults of :func:`~fpstt.flow.flowgrid.default_grid`.
    """

    kind: str
    chart: MobiusChart
    mobius: bool
    carries_flow: bool
    scheme: str
    piece_scheme: str
    phi_independent: bool
    longest_step: float
    free_step: float = FREE_STEP_MAX
    model: object = field(default=None, repr=False)
    cell_width: float | None = None
    chart_du: float | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"`kind` must be one of {KINDS}, got {self.kind!r}")

    @property
    def remapped(self) -> bool:
        """A split step moves only the chart's shift exactly; :mod:`~fpstt.numerics.remap` the
        rest."""
        return not self.carries_flow

    def rows_per_step(self, du: float) -> int:
        """Rows of translation per move (:meth:`move_step`; a split step in a Möbius chart
        and the z' frame) on a grid of cell width ``du``.

        In a Möbius chart, whose implicit systems are solved line by line
        (:mod:`fpstt.numerics.lines`): as many rows as fit in :attr:`longest_step` (at least
        one).  In the z' frame (at least one) and in an attractor chart (a flow with no
        Möbius chart, its rest remapped by :mod:`fpstt.numerics.remap`; at least 2): as many
        as fit in :meth:`longest_split_step`.  On Table I with a tilted easy axis, 2 rows
        were closer to the pushforward than 1 (fewer remaps, each a reconstruction error) at
        0.73x the cost, 4 rows (a step of 2 Z_STEP) farther (docs/validation.md §5).
        """
        rate = abs(self.chart.shift_rate)
        if self.mobius and not self.chart.is_identity:
            return max(1, int(self.longest_step * rate / du + 1e-9))
        fewest = 1 if self.chart.is_identity else REMAPPED_ROWS
        return max(fewest, int(self.longest_split_step() * rate / du + 1e-9))

    def longest_split_step(self) -> float:
        """Longest split step (t_n) in the z' frame, and longest move in an attractor chart
        (:meth:`moves_per_step` of them make its step): Table I's,
        Z_STEP = 1/300 t_n, where both were validated, or shorter: within
        :attr:`longest_step` (0.078 / lambda with noise, as in a Möbius chart) and within
        the remap's bound, FOLD_TURN of the magnet's rate in the z' frame (where its flow is
        remapped), REMAP_TURN of the flow's fastest rate in an attractor chart.  One or two
        rows a step of a strong drive are far shorter: model-space seed 2 row 11 (7.4x Table
        I's drive, 39 per t_n) took 4 260 steps of 4.7e-4 t_n; seed 1 row 20 (an attractor
        chart, 46 per t_n) 4 900 of 4.1e-4 t_n, more than its 90 s."""
        longest = min(self.longest_step, Z_STEP)
        if not self.chart.is_identity:
            return min(longest, REMAP_TURN / flow_scale(self.model))
        turn = magnet_rate(self.model) if not self.carries_flow else 0.0
        return min(longest, FOLD_TURN / turn) if turn > 0 else longest

    def turn(self, dt: float) -> float:
        """Rad the flow's fastest rate (:func:`~fpstt.flow.attractor.flow_scale`) turns it by
        over a step ``dt``: what an attractor chart's remap must follow (REMAP_TURN)."""
        return dt * flow_scale(self.model)

    def folds_shift(self, du: float) -> bool:
        """True when a split step on a z'-frame grid of cell width ``du`` remaps the whole
        noiseless flow (:mod:`fpstt.numerics.zremap`), the spin torque's shift in U included, over
        steps of :meth:`fold_step` in remaps of :data:`FOLD_TURN` / :func:`magnet_rate`
        (:meth:`remap_substeps`), instead of shifting whole rows.

        That is a z'-frame grid whose chart does not carry a phi-dependent flow (kind
        ``"z-remapped"``, or a drive-off piece of a pulse with a tilted easy axis, kind
        ``"unsplit"`` on its own but stepped split) when one row's step du / |Im C1| turns
        the state by more than FOLD_TURN = 0.25 rad at the magnet's rate, or when there is
        no drive (the noise too is stepped split then).  A row kicked once per split step of
        a strong precession moves the state by a row where the flow moves it around a circle
        of radius (drift) / (rate): model space seed 1 row 17 (a field of 10 rad/t_n, a drive
        of 0.08 per t_n, rows of 0.22 t_n, 2.3 rad) was 25 s.e. off Monte Carlo in its mean
        (its drift twice Monte Carlo's), docs/validation.md §8.  Strang splitting of a turn a
        and a kick errs by ~a^2 / 12 of the response, 0.5 % at 0.25 rad.

        In an attractor chart: when the two rows of a move (:data:`REMAPPED_ROWS`) would
        turn the flow by more than :data:`REMAP_TURN_MAX` at its fastest rate (a contraction
        slow against the flow, :func:`~fpstt.flow.sizes.turn_capped`); its remap then moves
        the chart's slow shift with the rest over steps of :meth:`fold_step`, on the cells
        the state needs (:func:`~fpstt.flow.sizes.chart_du`), not on cells shrunk until
        two rows fit in such a step (model-space seed 8 row 1: du 0.003, 7 089 rows, timed
        out at 90 s)."""
        if self.kind == "attractor":
            return du > turn_capped_du(self.model, self.chart)
        if self.carries_flow or not self.chart.is_identity:
            return False
        shift = abs(self.chart.shift_rate)
        if self.phi_independent:
            return shift > 0 and du / shift > self.fold_step()
        return shift == 0 or du / shift > FOLD_TURN / magnet_rate(self.model)

    def fold_step(self) -> float:
        """The longest z'-frame step (t_n) whose shift is folded into the remap
        (:meth:`folds_shift`): the damping's contraction alone, FOLD_DAMPING / (alpha x the
        precession rate) (inf without damping), and in real space (a flow that depends on
        phi) also FOLD_STEP_TURN / :func:`magnet_rate`, rounded down to a whole number of
        remaps of FOLD_TURN (:meth:`remap_substeps`: a step of 1.2 remaps would take two); on
        the phi modes its precession about z' is a phase.
        Seed 3 row 28 (an easy axis along z', alpha = 0.51, 57 rad per t_n, Brown noise, a
        weak drive) took steps of one row, 0.071 t_n, in which the damping contracts the
        state 2 e-folds, and was 200 s.e. off Monte Carlo (warned: 0.2 cells across); folded,
        its std of n_z at 0.25 t_n was 1.2 % wide at a contraction of 0.25 a step, 0.3 % at
        0.125 and 0.1 % at 0.0625 (Monte Carlo at dt / 2 within 0.2 % of the last).  The
        in-plane example (4 rad a step, sixteen remaps; docs/validation.md §11) kept its WER
        within 1e-4 (relative) of 0.25-rad steps at 1 rad and within 1e-3 of 2-rad steps at
        4 rad: the remap's turn sets the error there, not the splitting of the flow from the
        noise (at 8 rad the early WER moved by 0.5 %).
        In an attractor chart: REMAP_TURN / the flow's fastest rate (1 rad a step, the bound
        of its moves, :meth:`moves_per_step`), within :attr:`longest_step`.  Model-space seed 8
        row 1 (a narrow state precessing about the chart's repeller at 51 rad per t_n) took
        2.6 rad a step, the turn-capped cells' step when they shifted rows, and its std of
        n_y at 2 t_n was 2.7 % narrow (z 5.5); at 1.3 and 0.65 rad it was within 0.8 % and
        0.5 % of Monte Carlo, in about the same time (the step costs little on its cells)."""
        if self.kind == "attractor":
            return min(self.longest_step, REMAP_TURN / flow_scale(self.model))
        damping = getattr(self.model, "base", self.model).alpha * precession_rate(self.model)
        longest = FOLD_DAMPING / damping if damping > 0 else math.inf
        if self.phi_independent:
            return longest
        rate = magnet_rate(self.model)              # a whole number of remaps of FOLD_TURN
        longest = min(longest, FOLD_STEP_TURN / rate, CHART_STEP_MAX)
        return max(1, math.floor(longest * rate / FOLD_TURN + 1e-9)) * FOLD_TURN / rate

    def remap_substeps(self, tau: float, du: float) -> int:
        """Remaps in which a step ``tau`` (t_n) on a grid of cell width ``du`` moves the
        flow: for a folded z'-frame step (:meth:`folds_shift`) as many as keep each within
        FOLD_TURN of :func:`magnet_rate`; else 1 (a row-shift step turns at most FOLD_TURN,
        a chart's flow is bounded by the chart or REMAP_TURN)."""
        if not self.chart.is_identity or not self.folds_shift(du):
            return 1
        return max(1, math.ceil(tau * magnet_rate(self.model) / FOLD_TURN - 1e-9))

    def step(self, du: float) -> float:
        """The split step on a grid of cell width ``du``, t_n: :meth:`moves_per_step` moves
        of :meth:`move_step` (when the shift is folded into the remap, :meth:`folds_shift`:
        :meth:`fold_step`); ValueError if the chart does not shift."""
        if self.folds_shift(du):
            return min(self.fold_step(), CHART_STEP_MAX)
        return self.moves_per_step(du) * self.move_step(du)

    def move_step(self, du: float) -> float:
        """The time of one move, rows du / |shift rate| (t_n): the exact shift of
        :meth:`rows_per_step` rows, and in an attractor chart the remap of the rest of the
        flow over the same time; ValueError if the chart does not shift."""
        rate = self.chart.shift_rate
        if rate == 0:
            raise ValueError("split schemes need Im C1 != 0 (no deterministic flow to follow)")
        return float(self.rows_per_step(du) * du / abs(rate))

    def moves_per_step(self, du: float) -> int:
        """Moves per split step: in an attractor chart as many as fit in
        :attr:`longest_step` (0.078 / lambda with noise) and in REMAP_TURN of the flow's
        fastest rate, else 1.

        A move is also bounded by Z_STEP (:meth:`longest_split_step`), Table I's step; the
        implicit pieces between the moves are not: they keep the state's width at the pole
        (as in a Möbius chart, whose split step is :attr:`longest_step` itself) and the turn
        of the flow between them.  Model-space seed 5 row 22 (lambda = 5.0 per t_n, fastest
        rate 52 per t_n) took moves of 0.0038 t_n, each with its two implicit solves of 39 ms
        on 1 320 x 384 cells, where both bounds allowed 0.0156: four moves a step now share
        them.  Without the turn bound, seed 7 (in-plane terms) row 0 (fastest rate 18 per
        t_n) took two moves of 0.9 rad a step, its implicit pieces 1.8 rad apart, and its
        std of n missed Monte Carlo by 4-7 % (z 2.2 -> 8.9): the noise of that chart
        depends on where the flow has turned the state.  A folded step (:meth:`folds_shift`)
        is one remap."""
        if self.kind != "attractor" or self.folds_shift(du):
            return 1
        longest = min(self.longest_step, REMAP_TURN / flow_scale(self.model))
        return max(1, int(longest / self.move_step(du) + 1e-9))

    def steps_per_pair(self, du: float) -> int:
        """Steps that hold whole pairs of moves: 2 when a step of an attractor chart is an
        odd number of moves, else 1.  Its remap comes before the shift on one move and
        after it on the next (second order over each pair); a segment of the run (to an
        output, or to a check every 0.1 t_n) that ends on an unpaired move leaves its state
        first order in the step.  On model-space seed 7 row 12 (289 moves to each output)
        that left the state 9e-3 (L1) from the paired one at every output, and it relaxed
        back over the next 0.4 t_n, so the settled state was never held
        (:mod:`fpstt.integration.settled`).  The default grid's pairs of steps divide the
        output times (:func:`~fpstt.flow.flowgrid.default_grid`), and the checks fall on
        whole pairs (:func:`~fpstt.integration.coarsen.check_steps`)."""
        paired = self.kind == "attractor" and not self.folds_shift(du)
        return 2 if paired and self.moves_per_step(du) % 2 else 1


def plan_flow(model, initial=None, attractor: bool = True, *, frame=_CHOOSE) -> FlowPlan:
    """Classify the flow of ``model`` once: its kind, chart and default schemes.

    Parameters
    ----------
    model : SpinTorqueModel
    initial : GibbsState or BoltzmannState, optional
        The initial state: a torque-driven flow with no Möbius chart whose rest depends on
        phi gets the chart of the attractor it flows to (docs/theory.md §12).
    attractor : bool
        False keeps the grid in the z' frame (a pulse: a chart belongs to one drive); a
        Möbius flow whose fixed points are not ±z' is then remapped.
    frame : MobiusChart or None, optional
        The chart of a grid already built (None: the z' frame) instead of choosing one:
        the flow is classified in it (:func:`grid_plan`).  ValueError for the chart of
        another Möbius flow.

    Returns
    -------
    FlowPlan
    """
    own = chart_for(model) if is_mobius(model) else None
    if frame is _CHOOSE:
        chart, carries = chosen_frame(model, own, initial, attractor)
    else:
        chart, carries = given_frame(model, own, frame)
    torque, axial = model.C1.imag != 0, model.phi_independent
    # a driven flow is split: with no Möbius chart, the STT shifted exactly and the rest
    # remapped (phi-independent: ModalRemap on the Fourier path), not TR-BDF2's SG fluxes
    # ... unless noise outweighs the drift (a field kept on keeps its chart all the same);
    # a flow with no noise at all is remapped whole (nothing to relax by)
    field_chart, quiet = own is not None and not own.is_identity, _noiseless(model)
    split = field_chart or ((own is not None or torque or quiet) and not noise_dominated(model))
    width = None if split else relaxation_cell_width(model, initial)
    if width is not None and not (relaxation_fits(width) or noise_dominated(model)):
        split, width = True, None                  # a drift-dominated state too narrow to relax
    scheme = SPLIT if split else RELAX
    exact = torque and own is not None and own.is_identity
    piece = SPLIT if not chart.is_identity or not axial or exact or torque or quiet else UNSPLIT
    if scheme == RELAX:
        kind = "unsplit"
    elif carries:
        kind = "z-exact" if chart.is_identity else "mobius"
    else:
        kind = "z-remapped" if chart.is_identity else "attractor"
    du = (chart_du(model, chart, initial) if kind == "attractor"
          else mobius_du(model, chart, initial) if kind == "mobius" else None)
    if kind == "attractor" and initial is not None:
        warn_other_attractors(model, chart, initial, du)
    free = FREE_STEP_MAX if carries or axial else longest_remapped_step(model)
    return FlowPlan(kind, chart, own is not None, carries, scheme, piece, axial,
                    longest_chart_step(model, chart), free, model, width, du)


def _noiseless(model) -> bool:
    """No noise at all: neither the C2 of Eq. (17) (n_e = 0) nor Brown's."""
    return noise_size(model) == 0


def longest_chart_step(model, chart=None) -> float:
    """:func:`~fpstt.flow.sizes.chart_step` in ``chart``, the model's own Möbius chart if
    None (0.1 t_n for a flow with none)."""
    if chart is None:
        chart = chart_for(model) if is_mobius(model) else None
    return chart_step(model, chart)


def grid_plan(model, grid) -> FlowPlan:
    """The plan of ``model`` on ``grid``: the grid's own when it was made for this model
    (:func:`~fpstt.flow.flowgrid.default_grid`), else one made in the grid's frame (a grid built
    by hand or loaded, or another model on it, such as a pulse's drive)."""
    plan = grid.plan
    if plan is not None and plan.model is model:
        return plan
    return plan_flow(model, frame=grid.chart)
