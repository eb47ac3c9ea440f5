"""The model-space check's sampler (validation/model_space_draw.py) and, marked slow, the
check itself (validation/model_space.py, issue 23 item 6)."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "validation"))

from model_space_draw import AXES, axes_of, draw_models, to_config, to_toml  # noqa: E402

SEED, COUNT = 1, 30


@pytest.fixture(scope="module")
def drawn():
    return draw_models(SEED, COUNT)


def test_draws_are_reproducible(drawn):
    assert draw_models(SEED, COUNT) == drawn
    assert draw_models(SEED + 1, COUNT) != drawn


def test_draws_pass_the_config_validation(drawn):
    """Every model is valid: microscopic inputs, model, initial state and pulse as
    load_config checks them (the grid, seconds each, is built for a few cheap ones)."""
    for m in drawn:
        to_config(m, grid=False)
        assert m["microscopic"]["alpha"] > 0 or not m["model"]["thermal"]
        assert m["model"]["reading"] == "eq17" or m["model"]["interpretation"] == "stratonovich"
    cheap = [m for m in drawn if not m["microscopic"].get("B_k")][:3]
    for m in cheap:
        assert to_config(m).solve["times"] == [0.5, 1.0, 1.5, 2.0]       # TOML round trip
        assert "[microscopic]" in to_toml(m)


def test_draws_cover_every_axis(drawn):
    seen = set().union(*(axes_of(m) for m in drawn))
    assert seen == set(AXES), set(AXES) - seen
    ranges = {"B": (0, 0.1), "alpha": (0, 1), "B_k": (0, 0.5)}
    for key, (lo, hi) in ranges.items():
        values = [m["microscopic"][key] for m in drawn if key in m["microscopic"]]
        assert values and all(lo <= v <= hi for v in values)
    ratios = [m["microscopic"]["n_e"] / 1.5e5 for m in drawn]
    assert all(r == 0 or 0.01 <= r <= 10 for r in ratios)


def test_in_plane_draws_add_issue_25_terms_and_keep_the_rest():
    """``in_plane``: a hard axis perpendicular to the easy axis (z' without one) and a
    field-like ratio, from a second stream; every other key as drawn without them."""
    from model_space_draw import B_D_RANGE, BETA_RANGE, IN_PLANE_AXES
    plain, extended = draw_models(6, COUNT), draw_models(6, COUNT, in_plane=True)
    seen = set()
    for m, e in zip(plain, extended):
        micro = e["microscopic"]
        assert {k: micro[k] for k in m["microscopic"]} == m["microscopic"]
        assert {k: v for k, v in e.items() if k != "microscopic"} == \
            {k: v for k, v in m.items() if k != "microscopic"}
        to_config(e, grid=False)                      # B_d's axis passes the config's check
        if "B_d" in micro:
            assert B_D_RANGE[0] <= micro["B_d"] <= B_D_RANGE[1]
        if "field_like_ratio" in micro:
            assert BETA_RANGE[0] <= micro["field_like_ratio"] <= BETA_RANGE[1]
        seen |= axes_of(e)
    assert set(IN_PLANE_AXES) <= seen


def _checked(argv, tmp_path, at_least: int):
    """Run the check; no crash, no refusal, no answer off by > 4 s.e. without a warning,
    every Monte Carlo finite."""
    import json
    import model_space
    name = str(tmp_path / "model_space")
    assert model_space.main(argv + ["--name", name]) == 0
    rows = json.loads(Path(name + ".json").read_text())["models"]
    assert len(rows) >= at_least
    assert not [r for r in rows if r["outcome"] in ("crashed", "refused")]
    assert not [r for r in rows if r.get("max_z", 0) > 4 and not r["warned"]]
    assert all(np.isfinite(r["max_z"]) for r in rows if "max_z" in r)      # MC and FP finite
    return rows


def test_model_space_quick_handful(tmp_path):
    """The default suite's handful (z' frame, Brown noise, a pulse; N = 5000): all solved."""
    rows = _checked(["--quick"], tmp_path, 6)
    assert all(r["outcome"] == "ok" for r in rows)
    assert all(0 <= r["l1_estimate"] < 2 for r in rows)       # fpstt solve's error estimate


@pytest.mark.slow
def test_model_space_check(tmp_path):
    """≥ 30 models of a seed not developed against: no crash, no refusal, no answer off by
    > 4 s.e. without a warning."""
    _checked(["--count", "30", "--seed", "2"], tmp_path, 30)


def test_zero_field_magnitude_with_the_field_on_loads():
    """Seed 2, model 19 (B = 0 with field_on, alpha 0.14, tilted B_k, n_e 0.07 x Table I):
    a settled probe antipodal to a chart pole made acos of a dot product below -1 raise
    'math domain error' in load_config; angles now come from atan2 (sphere.grid.angle_between)."""
    m = draw_models(2, 30)[19]
    assert m["microscopic"]["B"] == 0.0 and m["model"]["field_on"]
    cfg = to_config(m)
    assert cfg.build_grid(cfg.build_model()).shape[0] > 0


def test_a_run_time_estimate_is_not_a_warning_about_the_answer():
    """The check's "off by > 4 s.e. without a warning" counts warnings on accuracy alone: a
    row warned only that it would take 1.65 minutes (seed 1 row 20) is not warned."""
    from model_space import _about_the_answer
    assert not _about_the_answer("RuntimeWarning: this solve will take about 1.65 minutes "
                                 "(a rough estimate)")
    assert _about_the_answer("RuntimeWarning: p went negative (min p / max p = -1.16e-05)")
    assert not _about_the_answer("UserWarning: anything else")


def test_an_error_estimate_above_its_target_is_a_warning_in_numbers():
    """`fpstt solve` prints its error estimate (a 2x coarser run) by default; above 1e-3 it
    asks to refine.  Seed 6 row 20 (--in-plane; no damping, a 0.025-rad start) was 10.8 s.e.
    off Monte Carlo in std with no RuntimeWarning and an estimate of 0.17: warned."""
    from model_space import warned
    assert warned({"warnings": [], "l1_estimate": 0.17})
    assert not warned({"warnings": [], "l1_estimate": 8e-4})
    assert not warned({"warnings": ["RuntimeWarning: this solve will take about 2 minutes"]})
    assert warned({"warnings": ["RuntimeWarning: p went negative"], "l1_estimate": 1e-6})


def _z_against_monte_carlo(cfg, times, seed: int, dt_scale: float = 1.0):
    """(z of the means, z of the stds) of n at ``times[0]``: the default path (``cfg``'s grid,
    as `fpstt solve` builds it) against fpstt's Monte Carlo, N = 2e4 at mc_step x dt_scale."""
    import fpstt
    from fpstt.analysis.observables import moments
    from fpstt.runs.montecarlo import simulate
    from model_space import mc_step
    model, gibbs = cfg.build_model(), cfg.build_gibbs()
    grid = cfg.build_grid(model)
    sol = fpstt.solve(model, grid, gibbs.cell_averages(grid), times)
    mean, std = moments(grid, sol.p)
    mc = simulate(model, gibbs, times, 20000, dt=mc_step(model) * dt_scale, seed=seed)
    z_mean = np.abs(mean[0] - mc.mean[0]) / mc.stderr[0]
    z_std = np.abs(std[0] - mc.std[0]) / (mc.std[0] / np.sqrt(2 * 20000))
    return z_mean, z_std


def test_a_slow_contraction_against_a_fast_flow_folds_its_shift_into_the_remap():
    """Seed 3 row 8 (field on, no damping, a weak drive: lambda = 0.13 against a fastest rate
    of 36 per t_n): two rows of the finest cell, 0.0092, made a step of 0.125 t_n that
    turned the flow by 4.5 rad, and the mean and std missed Monte Carlo by 72 s.e. with no
    warning; cells shrunk until two rows turned it by 2.6 rad met it (18 s on 3 000 rows),
    but seed 8 row 1 (lambda = 0.12 against 51 per t_n) got 7 089 rows of du 0.003 that
    way and timed out at 90 s.  Such a chart now folds its slow shift into the remap: steps
    of at most REMAP_TURN (1 rad), the longest that divide the outputs, on the cells the
    state needs (at least DEFAULT_DU / 2), and it meets Monte Carlo on the default path."""
    from fpstt.flow.attractor import flow_scale
    from fpstt.flow.flowgrid import default_dt
    from fpstt.flow.sizes import DEFAULT_DU, REMAP_TURN
    cfg = to_config(draw_models(3, 30)[8], grid=False)
    model = cfg.build_model()
    grid = cfg.build_grid(model)
    plan = grid.plan
    assert plan.kind == "attractor" and plan.folds_shift(grid.du) and grid.du >= DEFAULT_DU / 2
    assert plan.moves_per_step(grid.du) == 1 and plan.steps_per_pair(grid.du) == 1
    step = default_dt(np.array(cfg.solve["times"]), plan.step(grid.du))    # the run's
    turn, k = step * flow_scale(model), round(0.5 / step)     # outputs 0.5 t_n apart
    assert k * step == pytest.approx(0.5, rel=1e-9) and turn <= REMAP_TURN < turn * k / (k - 1)
    other = to_config(draw_models(8, 30)[1], grid=False)
    assert other.build_grid(other.build_model()).shape[0] < 1000
    z_mean, z_std = _z_against_monte_carlo(cfg, [0.5], seed=3)
    assert z_mean.max() < 4 and z_std.max() < 4, (z_mean, z_std)


def test_a_broad_state_under_a_slow_contraction_runs_in_the_z_frame_and_meets_monte_carlo():
    """Seed 3 row 23 (no damping, lambda = 0.114 against a fastest rate of 45 per t_n, a
    Gibbs start spread over 0.92 rad): its attractor chart, whose steps turn the flow
    by 2.2 rad, was 13 s.e. off Monte Carlo in the mean of n_x at 0.1 t_n and 40 s.e. at 2 t_n, with no
    warning.  Such a chart is kept only for narrow states (sizes.turn_capped); this one runs
    in the z' frame, whose steps turn it by FOLD_TURN, on the path `fpstt solve` takes."""
    cfg = to_config(draw_models(3, 30)[23], grid=False)
    assert cfg.build_grid(cfg.build_model()).plan.kind == "z-remapped"
    narrow = to_config(draw_models(3, 30)[8], grid=False)        # 0.067 rad wide: kept
    assert narrow.build_grid(narrow.build_model()).plan.kind == "attractor"
    z_mean, z_std = _z_against_monte_carlo(cfg, [0.1], seed=5)
    assert z_mean.max() < 4 and z_std.max() < 4, (z_mean, z_std)


def test_a_damped_easy_axis_along_z_prime_under_a_weak_drive_folds_its_shift():
    """Seed 3 row 28 (easy axis along z', alpha = 0.51, precession 57 rad per t_n, Brown noise
    at 30 K, a weak drive): one row of its drive was a step of 0.071 t_n, in which the
    damping contracts the state 2 e-folds, and it was 200 s.e. off Monte Carlo (warned only
    that the state was 0.2 cells across).  A phi-independent flow now folds its shift into
    the remap where the damping contracts it by more than FOLD_DAMPING in one row's step
    (Monte Carlo at dt / 2: at dt its std of n_z is 0.9 % narrow)."""
    from fpstt.flow.sizes import FOLD_DAMPING
    cfg = to_config(draw_models(3, 30)[28], grid=False)
    model = cfg.build_model()
    grid = cfg.build_grid(model)
    plan = grid.plan
    assert plan.phi_independent and plan.folds_shift(grid.du)
    damping = model.alpha * model.anisotropy
    assert np.isclose(plan.step(grid.du) * damping, FOLD_DAMPING, rtol=0.01)
    z_mean, z_std = _z_against_monte_carlo(cfg, [0.25], seed=7, dt_scale=0.5)
    assert z_mean.max() < 4 and z_std.max() < 4, (z_mean, z_std)


def test_a_broad_state_remapped_at_more_than_a_radian_a_step_is_warned():
    """Seed 4 row 23 (no damping, an attractor chart whose steps turn the flow by 1.29 rad;
    its 0.06 rad start phase-mixes to 0.95 rad) was 5.1 s.e. off Monte Carlo with no
    warning (2.8 at half the cell): the run now says so in numbers, on the default path."""
    import warnings
    import fpstt
    from fpstt.integration.guards import TURNED_SPREAD
    cfg = to_config(draw_models(4, 30)[23], grid=False)
    model, start = cfg.build_model(), cfg.build_gibbs()
    grid = cfg.build_grid(model)
    assert grid.plan.kind == "attractor"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fpstt.solve(model, grid, start.cell_averages(grid), [1.0])
    said = [str(w.message) for w in caught if "chart's remap turns" in str(w.message)]
    assert len(said) == 1 and f"≤ {TURNED_SPREAD:g} rad" in said[0], said


def test_a_node_with_a_slow_direction_runs_in_the_z_frame_and_meets_monte_carlo():
    """Seed 6 row 17 with issue 25's terms (a hard axis, B_d = 0.18 T, and no easy axis: an
    easy plane; alpha 0.84, Brown noise at 30 K, a weak drive): its attractor is a node whose
    rates of approach are 0.19 and 16.3 per t_n.  Its attractor chart shifts both directions
    at their mean and the remap undid it along the slow one: the mean of n_z drifted twice
    as fast as Monte Carlo's (12.9 s.e. at 2 t_n, unwarned).  A node with a rate ratio below
    NODE_RATIO_MIN takes the z' frame (an attractor that spirals keeps its chart)."""
    from fpstt.flow.attractor import rate_ratio
    from fpstt.flow.sizes import NODE_RATIO_MIN
    cfg = to_config(draw_models(6, 30, in_plane=True)[17], grid=False)
    model = cfg.build_model()
    assert cfg.build_grid(model).plan.kind == "z-remapped"
    assert rate_ratio(model, np.array([0.0, 0.0, 1.0])) < NODE_RATIO_MIN
    spiral = to_config(draw_models(3, 30)[8], grid=False)          # a spiral: its chart
    assert spiral.build_grid(spiral.build_model()).plan.kind == "attractor"
    z_mean, _ = _z_against_monte_carlo(cfg, [1.0], seed=11)
    assert z_mean.max() < 4, z_mean


def test_a_second_well_too_narrow_for_the_chart_is_warned():
    """Seed 6 row 5 with issue 25's terms: a Boltzmann start below a low barrier, half its
    mass in the well at +z', 90 degrees from its attractor chart's poles, where the well
    (0.0017 rad wide) is far under a cell: 12 s.e. off Monte Carlo in std, and the probes
    about the start's mode all went to the chart's own attractor.  Draws of the start find
    the second well; the plan says so in numbers."""
    from fpstt.flow.flowplan import plan_flow
    cfg = to_config(draw_models(6, 30, in_plane=True)[5], grid=False)
    with pytest.warns(RuntimeWarning, match=r"takes \d+ of 33 probes .* another attractor"):
        plan = plan_flow(cfg.build_model(), cfg.build_gibbs())
    assert plan.kind == "attractor"


def test_a_chart_whose_turn_cap_needs_cells_finer_than_the_floor_is_not_taken():
    """Seed 6 row 25 with issue 25's terms (no damping: lambda = 0.018 against 100 rad per
    t_n): the turn cap made its attractor chart's du 2.2e-4, 58 712 rows, refused for memory
    after 87 s.  Below CHART_DU_MIN it takes the z' frame (its narrow state is then warned
    about in numbers, not refused)."""
    from fpstt.flow.sizes import CHART_DU_MIN, turn_capped_du
    from fpstt.flow.attractor import attractor_chart
    cfg = to_config(draw_models(6, 30, in_plane=True)[25], grid=False)
    model, start = cfg.build_model(), cfg.build_gibbs()
    assert turn_capped_du(model, attractor_chart(model, start.direction)) < CHART_DU_MIN
    grid = cfg.build_grid(model)
    assert grid.plan.kind == "z-remapped" and grid.shape[0] < 2000
