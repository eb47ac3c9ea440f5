"""Long runs, excluded by default: run with `pytest -m slow`."""

import numpy as np
import pytest

import fpstt
from fpstt.runs.montecarlo import simulate
from fpstt.analysis.observables import l1_distance, moments, remap

pytestmark = pytest.mark.slow
FIG4_TIMES = [0.0, 1 / 3, 2 / 3, 1.0]


@pytest.mark.parametrize("interpretation, reading", [("ito", "eq17"), ("stratonovich", "lab")])
def test_fp_and_mc_moments_agree_large_ensemble(table_i_model, table_i_gibbs, interpretation,
                                                reading):
    model = table_i_model.with_options(interpretation=interpretation, reading=reading)
    times = np.linspace(0, 1, 21)
    grid = fpstt.default_grid(model, times)
    sol = fpstt.solve(model, grid, table_i_gibbs.cell_averages(grid), times)
    mean_fp, std_fp = moments(grid, sol.p)
    mc = simulate(model, table_i_gibbs, times, 400_000, dt=0.005, seed=17)
    assert np.all(np.abs(mc.mean - mean_fp) <= 4 * mc.stderr)
    np.testing.assert_allclose(mc.std[1:], std_fp[1:], rtol=0.01)


def test_table_i_second_order_convergence(table_i_model, table_i_gibbs):
    sols = []
    for spu, nf in ((90, 64), (180, 128), (360, 256), (720, 512)):
        grid = fpstt.default_grid(table_i_model, FIG4_TIMES, steps_per_unit=spu, n_phi=nf)
        sols.append((grid, fpstt.solve(table_i_model, grid,
                                       table_i_gibbs.cell_averages(grid), FIG4_TIMES)))
    diffs = [l1_distance(g, s.p[-1], remap(f.p[-1], gf, g))
             for (g, s), (gf, f) in zip(sols[:-1], sols[1:])]
    print("successive refinements at t_n:", diffs)
    assert diffs[-1] < 1.5e-3
    assert diffs[0] / diffs[1] > 3 and diffs[1] / diffs[2] > 3          # second order
