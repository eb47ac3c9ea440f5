"""Attractor-chart cells sized by the initial state's width (fpstt.flow.chartcells,
FlowPlan.chart_du)."""

import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import fpstt
from fpstt.flow.chartcells import CELLS_PER_WIDTH, cells_per_width, state_width
from fpstt.flow.flowplan import FlowPlan, plan_flow
from fpstt.numerics.transport import mercator_du
from fpstt.sphere.grid import unit_vector
from fpstt.physics.initial import BoltzmannState
from fpstt.analysis.observables import moments

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "validation"))
from model_space_draw import to_config  # noqa: E402

TILTED = dict(B_k=0.05, easy_theta=0.5, easy_phi=1.0, alpha=0.02)


def _tilted():
    """Table I with a tilted easy axis and damping, Table I's Gibbs start (kappa 672, as
    validated in docs/validation.md §5) and its attractor chart."""
    micro = fpstt.table_i(**TILTED)
    model = fpstt.SpinTorqueModel.from_microscopic(micro)
    start = fpstt.GibbsState.from_microscopic(micro)
    return model, start, plan_flow(model, start).chart


def _near_attractor(chart, theta_c: float, kappa: float = 400.0):
    """A vMF state (width 0.05 rad) centred theta_c (chart angle) from the attractor."""
    theta, phi = chart.to_lab(theta_c, 0.0)
    return fpstt.GibbsState(kappa, float(theta), float(phi))


def test_state_width_is_the_inverse_root_of_the_narrowest_curvature():
    assert state_width(fpstt.GibbsState(400.0, 1.0, 2.0)) == pytest.approx(0.05, rel=1e-4)
    axis = tuple(unit_vector(0.7, 0.3).tolist())           # easy axis along the field
    assert state_width(BoltzmannState(10.0, axis, 100.0, axis)) == pytest.approx(
        1 / math.sqrt(210.0), rel=1e-3)
    assert state_width(fpstt.GibbsState(0.2, 1.0, 2.0)) == 1.0


def test_a_state_on_the_chart_pole_is_resolved_relative_to_its_width():
    """At the attractor the cells shrink with the distance from it: a state centred there
    has about 1 / du cells across its width, whatever its width (the chart is locally
    isometric at its stable point)."""
    _, _, chart = _tilted()
    for kappa in (100.0, 400.0, 10000.0):
        cells = cells_per_width(chart, _near_attractor(chart, 1e-9, kappa), 0.02)
        assert 0.8 / 0.02 < cells < 1.25 / 0.02


def test_table_i_start_keeps_its_cells_and_a_start_near_the_attractor_gets_coarse_ones():
    model, start, chart = _tilted()
    table_i = plan_flow(model, start)
    assert cells_per_width(chart, start, 0.0092) == pytest.approx(5.27, abs=0.01)
    assert table_i.chart_du == pytest.approx(0.0092)      # validated (docs/validation.md §5)
    near = _near_attractor(chart, 0.1)
    plan = plan_flow(model, near)
    coarsest = plan.longest_step * plan.chart.shift_rate / 2    # 2 rows: the noise's step
    assert cells_per_width(chart, near, coarsest) > CELLS_PER_WIDTH
    assert plan.chart_du == pytest.approx(coarsest)
    fine = fpstt.default_grid(model, [0.3], initial=start)
    coarse = fpstt.default_grid(model, [0.3], initial=near)
    assert coarse.n_theta * 4 < fine.n_theta                    # 1367 rows against 325
    assert coarse.plan.step(coarsest) <= plan.longest_step * (1 + 1e-12)


@pytest.mark.slow
def test_coarse_cells_near_the_attractor_agree_with_the_fine_grid():
    """A state 0.1 rad from the attractor (width 0.05 rad) to 0.3 t_n on its coarse default
    grid (du 0.039) and on the fine one of du 0.0092 (4x in U and in t): means of n within
    1e-5, std of n within 0.2 % (the standard error of a std from 1e5 samples is 0.22 %)."""
    model, _, chart = _tilted()
    near = _near_attractor(chart, 0.1)
    results = []
    for du in (None, 0.0092):
        grid = fpstt.default_grid(model, [0.3], initial=near, du=du)
        sol = fpstt.solve(model, grid, near.cell_averages(grid), [0.3])
        results.append(moments(grid, sol.p))
    (mean, std), (fine_mean, fine_std) = results
    assert np.max(np.abs(mean - fine_mean)) < 1e-5
    assert np.max(np.abs(std / fine_std - 1)) < 2e-3



def test_a_step_takes_the_moves_that_fit_in_the_width_of_the_state(monkeypatch):
    """On du 0.0092 the tilted easy axis moves two rows (0.0031 t_n, within Z_STEP) at a
    time, while its width at the pole allows implicit steps of 0.0144 t_n: a step is 4
    moves and divides the output times.  The state 0.1 rad from the attractor at 0.3 t_n is
    then within L1 5e-4 and std of n 5e-4 (relative) of the run with one move a step
    (measured 2.1e-4 and 1.5e-4; Monte Carlo's standard error of a std from 1e5 samples is
    2.2e-3), with its mass and sign."""
    model, _, chart = _tilted()
    near, times = _near_attractor(chart, 0.1), [0.1, 0.3]
    grid = fpstt.default_grid(model, times, initial=near, du=0.0092, n_phi=64)
    plan, du = grid.plan, mercator_du(grid)
    assert plan.moves_per_step(du) == 4 and plan.step(du) <= plan.longest_step
    sol = fpstt.solve(model, grid, near.cell_averages(grid), times)
    assert sol.diagnostics["dt"] == pytest.approx(4 * plan.move_step(du), rel=1e-12)
    assert np.allclose(np.array(times) / sol.diagnostics["dt"],
                       np.round(np.array(times) / sol.diagnostics["dt"]), atol=1e-9)
    assert sol.diagnostics["max_mass_error"] < 1e-12 and sol.p.min() > -1e-30
    monkeypatch.setattr(FlowPlan, "moves_per_step", lambda self, du: 1)
    one = fpstt.solve(model, grid, near.cell_averages(grid), times)
    l1 = np.sum(np.abs(sol.p[-1] - one.p[-1]) * grid.cell_measure)
    assert 0 < l1 < 5e-4
    std, one_std = moments(grid, sol.p[-1])[1], moments(grid, one.p[-1])[1]
    assert np.max(np.abs(std / one_std - 1)) < 5e-4

# model-space seed 2 row 14: field on, alpha 0.06, easy axis along z', a vMF start (kappa 64)
# that the noiseless flow splits between two attractors
SPLIT_START = {'microscopic': {'B': 0.04570588016311225, 'B_theta': 2.0327077886652143, 'B_phi': 2.6331312909682216, 'alpha': 0.058781247010298854, 'B_k': 0.161623044082154, 'easy_theta': 0.0, 'easy_phi': 0.0, 'T': 30.0, 'n_e': 2215.75095642438}, 'model': {'field_on': True, 'thermal': False, 'reading': 'eq17', 'interpretation': 'stratonovich', 'torque_form': 'gilbert'}, 'initial': {'kind': 'vmf', 'theta': 2.171869402348397, 'phi': 0.13697466311993528, 'kappa': 63.98017096824057}, 'solve': {'times': [0.5, 1.0, 1.5, 2.0]}}


def test_a_start_split_between_two_attractors_warns_in_numbers():
    cfg = to_config(SPLIT_START, grid=False)
    with pytest.warns(RuntimeWarning, match=r"takes \d+ of 33 probes .* another attractor, "
                                            r"\d\.\d\d rad from the chart's"):
        plan_flow(cfg.build_model(), cfg.build_gibbs())
    model, start, _ = _tilted()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert plan_flow(model, start).kind == "attractor"


def test_the_spread_of_a_state_sees_both_of_its_wells():
    """state_spread is sqrt(1 - |<n>|^2): ~sqrt(2 / kappa) for a vMF state, ~1 for a
    Boltzmann state in two opposite wells, each narrow at its mode (model-space seed 4 row
    19, which the width at the mode let onto a turn-capped chart: 90 s, timed out)."""
    from fpstt.flow.chartcells import state_spread
    from fpstt.physics.initial import GibbsState
    from model_space_draw import draw_models
    assert abs(state_spread(GibbsState(400.0, 1.0, 2.0)) - np.sqrt(2 / 400)) < 0.005
    cfg = to_config(draw_models(4, 30)[19], grid=False)
    two_wells = cfg.build_gibbs()
    assert state_spread(two_wells) > 0.9
    assert plan_flow(cfg.build_model(), two_wells).kind == "z-remapped"
