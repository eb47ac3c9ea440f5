"""The flow plan (fpstt.flow.flowplan): one classification of the flow, read everywhere."""

import ast
import pathlib

import numpy as np
import pytest

import fpstt
from fpstt.flow.flowplan import KINDS, grid_plan, plan_flow
from fpstt.flow.sizes import noise_dominated
from fpstt.physics.magnet import Pulse
from fpstt.runs.config import load_config


def _model(thermal=False, **micro):
    return fpstt.SpinTorqueModel.from_microscopic(fpstt.table_i(**micro), thermal=thermal)


TILTED = dict(B_k=0.05, easy_theta=0.5, easy_phi=1.0, alpha=0.02)


def test_table_i_is_the_exact_shift_in_z_prime(table_i_model):
    plan = plan_flow(table_i_model)
    assert plan.kind == "z-exact" and plan.chart.is_identity and plan.carries_flow
    assert plan.scheme == "split-tr-bdf2" and plan.phi_independent and plan.mobius


def test_field_on_runs_in_its_moebius_chart():
    field_on = fpstt.SpinTorqueModel.from_microscopic(fpstt.table_i(), field_on=True)
    plan = plan_flow(field_on)
    assert plan.kind == "mobius" and not plan.chart.is_identity and plan.carries_flow
    assert plan_flow(field_on, attractor=False).kind == "z-remapped"


def test_tilted_easy_axis_with_current_gets_an_attractor_chart():
    micro = fpstt.table_i(**TILTED)
    model = fpstt.SpinTorqueModel.from_microscopic(micro)
    start = fpstt.initial_state(micro)
    plan = plan_flow(model, start)
    assert plan.kind == "attractor" and plan.remapped and not plan.mobius
    assert plan.rows_per_step(0.01) == 2
    assert plan_flow(model, start, attractor=False).kind == "z-remapped"
    assert plan_flow(model).kind == "z-remapped"            # no initial state: z'


def test_an_attractor_chart_takes_256_phi_cells_only_for_a_start_they_resolve():
    """Table I with a tilted easy axis: its Gibbs start (0.04 rad) keeps 3.2 phi cells
    across its width at 384 and 2.1 at 256 (its noiseless L1 at t_n / 3: 2.8e-3 against
    1.25e-2), so it keeps 384; a vMF start 0.18 rad wide keeps 23 at 256 and gets them."""
    micro = fpstt.table_i(**TILTED)
    model = fpstt.SpinTorqueModel.from_microscopic(micro)
    narrow = fpstt.default_grid(model, [0.1], initial=fpstt.initial_state(micro))
    broad = fpstt.default_grid(model, [0.1], initial=fpstt.initial_state(
        micro, "vmf", theta=0.3, phi=1.0, kappa=30))
    assert narrow.plan.kind == broad.plan.kind == "attractor"
    assert (narrow.n_phi, broad.n_phi) == (384, 256)


def test_easy_axis_along_z_prime_is_remapped_and_no_current_is_unsplit():
    axial = plan_flow(_model(B_k=0.05, alpha=0.02))      # driven, phi-independent: split
    assert axial.kind == "z-remapped" and axial.chart.is_identity and axial.phi_independent
    assert axial.scheme == axial.piece_scheme == "split-tr-bdf2"
    off = plan_flow(_model(n_e=0.0, B_k=0.05, alpha=0.02, thermal=True, T=300.0))  # its piece
    assert off.kind == "unsplit" and off.piece_scheme == "tr-bdf2"
    still = plan_flow(_model(n_e=0.0, thermal=True, T=300.0, **TILTED))
    assert still.kind == "unsplit" and still.scheme == "adaptive-tr-bdf2"   # a relaxation
    assert still.cell_width is None or 0 < still.cell_width <= 0.1
    assert still.piece_scheme == "split-tr-bdf2"      # a pulse's drive-off piece: remapped


def test_a_flow_with_no_noise_at_all_is_remapped_whole():
    """n_e = 0 and no Brown noise: nothing relaxes, and TR-BDF2's upwinded fluxes would be
    the only diffusion (seed 3 row 21: 123 s.e. off Monte Carlo); the split scheme remaps
    the whole flow in the z' frame, also when it does not depend on phi, and so does the
    drive-off piece of a pulse with no noise (seed 2 row 15: TR-BDF2 warned, Péclet inf)."""
    for micro in (TILTED, dict(B_k=0.05, alpha=0.02)):
        plan = plan_flow(_model(n_e=0.0, **micro))
        assert plan.kind == "z-remapped" and plan.scheme == plan.piece_scheme == "split-tr-bdf2"
        assert plan.folds_shift(0.0184) or plan.phi_independent


def test_kind_is_one_of_the_documented_kinds(table_i_model):
    with pytest.raises(ValueError, match="kind"):
        type(plan_flow(table_i_model))("exact", *[None] * 7)
    assert set(KINDS) == {"z-exact", "mobius", "attractor", "z-remapped", "unsplit"}


def test_default_grid_keeps_its_plan_and_a_hand_built_grid_gets_one(table_i_model):
    grid = fpstt.default_grid(table_i_model, [0, 1])
    assert grid.plan.model is table_i_model and grid_plan(table_i_model, grid) is grid.plan
    hand = fpstt.SphereGrid.mercator(grid.du, *grid.u_range, grid.n_phi)
    assert hand.plan is None and grid_plan(table_i_model, hand).kind == "z-exact"
    assert hand.shape == grid.shape and hand.du == pytest.approx(grid.du, rel=1e-12)
    assert hand.u_range == pytest.approx(grid.u_range, rel=1e-12)
    assert fpstt.SphereGrid.uniform(10, 8).du is None


def test_is_mobius_is_called_from_one_module():
    """The flow is classified in one place: only fpstt/flow/flowplan.py calls is_mobius."""
    callers = set()
    for path in sorted(pathlib.Path(fpstt.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else getattr(f, "attr", None)
                if name == "is_mobius":
                    callers.add(path.name)
    assert callers == {"flowplan.py"}


def test_noise_that_outweighs_the_drive_is_not_split():
    """Brown noise at 300 K (D = 1.9 per t_n) against a drive of 0.1 per t_n: one row of the
    drive's translation would be a step of 0.17 t_n (seed 2 row 6 of the model-space check,
    39 s.e. off Monte Carlo split); the plan takes TR-BDF2 on the whole operator.  Table I
    and a field kept on (its own chart) stay split."""
    micro = fpstt.table_i(B=0.0, alpha=0.87, T=300.0, n_e=2719.0)
    noisy = fpstt.SpinTorqueModel.from_microscopic(micro, thermal=True, reading="lab",
                                                  interpretation="stratonovich")
    assert noise_dominated(noisy) and plan_flow(noisy).scheme != "split-tr-bdf2"
    table_i = fpstt.SpinTorqueModel.from_microscopic(fpstt.table_i())
    assert not noise_dominated(table_i) and plan_flow(table_i).scheme == "split-tr-bdf2"
    field = fpstt.SpinTorqueModel.from_microscopic(
        fpstt.table_i(B=0.052, alpha=0.3, T=300.0, n_e=2250.0), field_on=True, thermal=True,
        reading="lab", interpretation="stratonovich")
    assert noise_dominated(field) and plan_flow(field).kind == "mobius"


def test_noise_dominated_flow_without_a_moebius_chart_relaxes_in_the_z_frame():
    """Model-space seed 2 row 12 (field on, easy axis along z', alpha 0.44, Brown noise at
    300 K, drive n_e x 0.014): noise-dominated, so it relaxes unsplit, in the z' frame; in
    the attractor chart it settled 76 s.e. from Monte Carlo (and from exp(-E/k_B T))."""
    from fpstt.physics.initial import GibbsState
    model = fpstt.SpinTorqueModel(
        0.010432125190080866 + 0.07952332478778316j, 0.00023086065997130438 + 0.0017598338698116905j,
        "stratonovich", "eq17", omega=(6.505316317534174, -0.4974706579257, 16.124496280586893),
        thermal_D=1.4386135354480019, alpha=0.43586914371373153, anisotropy=5.749351385585318)
    plan = plan_flow(model, GibbsState(10.0, 0.3844836349704023, 6.206862449604143))
    assert noise_dominated(model)
    assert plan.kind == "unsplit" and plan.chart.is_identity


def test_unsplit_scheme_refuses_a_chart_grid():
    """The unsplit schemes step the z'-frame operator; on a chart grid they settled on wrong
    states (model-space seed 2 rows 5 and 12: 398 and 76 s.e.), so they refuse it."""
    model = fpstt.SpinTorqueModel.from_microscopic(fpstt.table_i(), field_on=True)
    grid = fpstt.default_grid(model, [0.1], du=0.1, n_phi=16)
    assert grid.chart is not None
    with pytest.raises(ValueError, match="carries a chart"):
        fpstt.solve(model, grid, np.ones(grid.shape) / 40.0, [0.1], scheme="be", dt=0.05)


def test_fast_precession_with_the_drive_off_takes_short_remapped_steps():
    """The drive-off piece of a pulse on the in-plane junction (gamma (B_k + B_d) t_n = 185
    rad per t_n) remaps at most 0.5 rad of precession at once (it took the 0.01 t_n
    default: 1.8 rad a remap, stds 17 % wide 1 t_n after a pulse, sizes.longest_remapped_step):
    a piece with no drive is folded, its steps remapped in substeps of FOLD_TURN
    (FlowPlan.remap_substeps); Table I keeps 0.01."""
    cfg = load_config(pathlib.Path(__file__).resolve().parents[1] / "validation" / "in_plane.toml")
    model, start = cfg.build_model(), cfg.build_gibbs()
    off = plan_flow(model.with_options(C1=0j, C2=0j))
    rate = model.anisotropy + model.hard_anisotropy
    assert off.free_step == pytest.approx(0.5 / rate) and rate > 180
    assert plan_flow(fpstt.SpinTorqueModel.from_microscopic(fpstt.table_i())).free_step == 0.01
    grid = fpstt.default_grid(model, [0, 0.1], du=0.1, n_phi=16, initial=start,
                              attractor=False)
    sol = fpstt.solve(model, grid, start.cell_averages(grid), [0.0, 0.1], pulse=Pulse(0.05))
    assert sol.diagnostics["pieces"] == 2
    piece = grid_plan(model.with_drive(0.0), grid)
    step = piece.step(grid.du)
    assert piece.folds_shift(grid.du) and sol.diagnostics["n_steps"] >= 0.05 / step
    assert step * rate / piece.remap_substeps(step, grid.du) <= 0.5 < step * rate


def test_a_configuration_plans_its_grid_once(tmp_path, monkeypatch):
    """``load_config`` builds the grid to validate the file; the command's own
    ``build_grid`` gets that grid back (an attractor chart's plan follows the flow for
    seconds), and a changed value gets a new one."""
    import fpstt.runs.config as config
    calls = []
    monkeypatch.setattr(config, "default_grid",
                        lambda *a, **k: calls.append(1) or fpstt.default_grid(*a, **k))
    path = tmp_path / "tilted.toml"
    path.write_text("[microscopic]\nB_k = 0.05\neasy_theta = 0.5\neasy_phi = 1.0\n"
                    "[grid]\nn_phi = 32\ndu = 0.08\n")
    cfg = load_config(path)
    grid = cfg.build_grid(cfg.build_model())
    assert grid.plan.kind == "attractor" and len(calls) == 1
    assert cfg.build_model() is grid.plan.model
    cfg.grid["du"] = 0.1
    assert cfg.build_grid(cfg.build_model()) is not grid and len(calls) == 2


def test_a_strong_drive_takes_several_rows_a_step_table_i_one(table_i_model):
    """z' frame: as many rows a step as fit in Table I's step (1/300 t_n) and 0.078 / lambda;
    Table I itself keeps one row (its validated step)."""
    from fpstt.flow.sizes import DEFAULT_DU, Z_STEP
    assert plan_flow(table_i_model).rows_per_step(DEFAULT_DU) == 1
    strong = plan_flow(_model(n_e=8 * fpstt.table_i().n_e))
    rate = abs(strong.chart.shift_rate)
    rows = strong.rows_per_step(DEFAULT_DU)
    assert rows >= 2
    step = strong.step(DEFAULT_DU)
    assert step == pytest.approx(rows * DEFAULT_DU / rate)
    assert step <= min(Z_STEP, strong.longest_step) * (1 + 1e-9)
    assert (rows + 1) * DEFAULT_DU / rate > min(Z_STEP, strong.longest_step)   # as many as fit


def test_moebius_cells_coarsen_for_a_broad_start_only():
    """Möbius chart: Table I with the field kept on keeps DEFAULT_DU; a broad start gets up to
    2 DEFAULT_DU, with at least 6.4 cells across its width."""
    from fpstt.flow.chartcells import cells_per_width
    from fpstt.flow.sizes import DEFAULT_DU, MOBIUS_CELLS_PER_WIDTH, MOBIUS_COARSEST
    micro = fpstt.table_i()
    field_on = fpstt.SpinTorqueModel.from_microscopic(micro, field_on=True)
    narrow = plan_flow(field_on, fpstt.initial_state(micro))
    assert narrow.kind == "mobius" and narrow.chart_du == DEFAULT_DU
    broad_start = fpstt.initial_state(micro, "vmf", theta=2.0, phi=0.5, kappa=30.0)
    broad = plan_flow(field_on, broad_start)
    assert DEFAULT_DU < broad.chart_du <= MOBIUS_COARSEST
    cells = cells_per_width(broad.chart, broad_start, broad.chart_du)
    assert cells >= MOBIUS_CELLS_PER_WIDTH - 1e-9


def test_attractor_chart_takes_more_rows_only_within_table_i_step():
    from fpstt.flow.sizes import Z_STEP
    micro = fpstt.table_i(**TILTED)
    start = fpstt.initial_state(micro)
    plan = plan_flow(fpstt.SpinTorqueModel.from_microscopic(micro), start)
    assert plan.rows_per_step(plan.chart_du) == 2                 # Table I tilted: as validated
    strong = fpstt.table_i(**dict(TILTED, n_e=8 * micro.n_e))
    fast = plan_flow(fpstt.SpinTorqueModel.from_microscopic(strong), fpstt.initial_state(strong))
    rows = fast.rows_per_step(0.0092)
    assert rows > 2 and fast.step(0.0092) <= min(Z_STEP, fast.longest_split_step()) * (1 + 1e-9)


def test_an_undamped_flow_with_no_noise_keeps_the_energy_distribution():
    """With no damping, drive or noise every trajectory keeps its energy
    E = -omega . n - (anisotropy / 2)(n . e)^2, so the distribution of E is invariant (an
    exact result).  Model-space seed 3 row 21 (field 0.024 T, B_k 0.39 T, both tilted, a
    0.15 rad vMF start), to 0.5 t_n on the default path: the remapped run kept <E> within
    0.3 % of std E and std E within 1e-4; TR-BDF2's upwinded fluxes (the default before)
    moved <E> by 1.4 std E and doubled std E."""
    from fpstt.physics.initial import GibbsState
    micro = fpstt.table_i(n_e=0.0, B=0.024, B_theta=1.28, B_phi=0.37, alpha=0.0, B_k=0.39,
                          easy_theta=1.585, easy_phi=2.83)
    model = fpstt.SpinTorqueModel.from_microscopic(micro, field_on=True)
    start = GibbsState(46.0, 1.9, 2.64)
    grid = fpstt.default_grid(model, [0.5], initial=start)
    p0 = start.cell_averages(grid)
    sol = fpstt.solve(model, grid, p0, [0.5])
    n = grid.directions()
    energy = (-np.tensordot(np.asarray(model.omega), n, 1)
              - 0.5 * model.anisotropy * np.tensordot(np.asarray(model.easy_axis), n, 1) ** 2)

    def mean_std(p):
        w = p * grid.cell_measure / np.sum(p * grid.cell_measure)
        mean = np.sum(w * energy)
        return mean, np.sqrt(np.sum(w * (energy - mean) ** 2))

    (m0, s0), (m1, s1) = mean_std(p0), mean_std(sol.p[0])
    assert abs(m1 - m0) < 0.01 * s0 and abs(s1 - s0) < 1e-3 * s0, (m0, s0, m1, s1)


def test_a_relaxation_too_narrow_for_square_cells_is_remapped():
    """Model-space seed 4 row 16 (Brown noise at 3 K, alpha = 0.07, no drive): relaxation
    cells of 0.0017 rad would be 9 002 x 3 648, and the run was killed for memory; its
    drift dominates, so it is remapped in the z' frame instead (Monte Carlo within 1.5 s.e.,
    docs/validation.md §8).  The relaxation of docs/validation.md §10 keeps its scheme."""
    from fpstt.flow.sizes import (RELAX_CELLS_MAX, relaxation_cell_width, relaxation_cells,
                                  relaxation_fits)
    micro = fpstt.table_i(n_e=0.0, B=0.0522, B_theta=2.199, B_phi=6.189, alpha=0.0733,
                          B_k=0.4894, easy_theta=0.982, easy_phi=5.832, T=3.0)
    model = fpstt.SpinTorqueModel.from_microscopic(micro, field_on=True, thermal=True)
    width = relaxation_cell_width(model)
    du, n_phi, edge = relaxation_cells(width)
    assert n_phi * 2 * edge / du > RELAX_CELLS_MAX and not relaxation_fits(width)
    plan = plan_flow(model)
    assert plan.kind == "z-remapped" and plan.scheme == "split-tr-bdf2" and plan.cell_width is None
    relax = plan_flow(_model(n_e=0.0, thermal=True, T=300.0, **TILTED))
    cold = plan_flow(_model(n_e=0.0, thermal=True, **TILTED))        # 1 K: ~7e6 cells
    assert cold.kind == "z-remapped"
    assert relax.scheme == "adaptive-tr-bdf2" and relaxation_fits(relax.cell_width)


def test_a_state_that_flows_to_no_attractor_runs_in_the_z_frame():
    """Model-space seed 5 row 14 (a field on, a tilted easy axis, no damping): from its
    Gibbs start the noiseless flow settles on no fixed point, so there is no attractor
    chart; the plan takes the z' frame (it was refused with a ValueError)."""
    micro = fpstt.table_i(B=0.0682, B_theta=0.956, B_phi=2.108, alpha=0.0, B_k=0.4735,
                          easy_theta=1.456, easy_phi=3.808, T=3.0, n_e=9012.0)
    model = fpstt.SpinTorqueModel.from_microscopic(micro, field_on=True)
    plan = plan_flow(model, fpstt.GibbsState.from_microscopic(micro))
    assert plan.kind == "z-remapped" and plan.chart.is_identity


def test_a_state_the_noise_holds_wide_at_its_attractor_runs_in_the_z_frame():
    """Model-space seed 6 row 16 (a hard axis, Brown noise at 300 K, alpha = 0.09): the noise
    holds the state 0.25 rad wide at its attractor (sqrt(D / lambda)); its chart timed out at
    90 s, the z' frame met Monte Carlo in 5.5 s.  The same device at 3 K, 0.025 rad wide,
    keeps its chart."""
    micro = dict(B=0.00349, B_theta=2.5415, B_phi=4.1775, alpha=0.0914, n_e=109931.8,
                 B_d=0.167, hard_theta=np.pi / 2, hard_phi=2.1006)
    start = fpstt.GibbsState(2176.1, 2.0398, 3.0123)                 # a vMF start
    for T, kind in ((300.0, "z-remapped"), (3.0, "attractor")):
        model = _model(thermal=True, T=T, **micro)
        assert plan_flow(model, start).kind == kind, T
