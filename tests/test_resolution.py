"""The coarsening error estimate against the error measured by refinement."""

import fpstt
from fpstt.analysis.observables import l1_distance, remap
from fpstt.runs.resolution import advice, coarsening_estimate


def test_estimate_tracks_the_error_against_a_refined_run(table_i_model, table_i_gibbs):
    times = [0, 0.3, 0.6]
    g = table_i_gibbs

    def run(du, n_phi):
        grid = fpstt.default_grid(table_i_model, times, du=du, n_phi=n_phi, initial=g)
        return grid, fpstt.solve(table_i_model, grid, g.cell_averages(grid), times)

    grid, sol = run(0.04, 128)
    fine_grid, fine = run(0.01, 512)
    estimate = coarsening_estimate(table_i_model, grid, g.cell_averages, sol)["estimate"]
    for k in (1, 2):
        error = l1_distance(grid, sol.p[k], remap(fine.p[k], fine_grid, grid))
        print(f"t = {times[k]}: estimate {estimate[k]:.2e}, error {error:.2e}")
        assert 0.3 * error <= estimate[k] <= 3 * error
    assert estimate[0] < 1e-10

def test_advice_names_the_refinement():
    assert "refine du and n_phi by about 2.0x" in advice({"estimate": [0, 4e-3]})
    assert advice({"estimate": [0, 1e-4]}).startswith("estimated L1 error ≤ 1.0e-04")
