"""A split run continued on a grid coarser in U or phi once its state settles at its attractor
chart's pole, or widens from a narrow start in the z' frame (fpstt.integration.coarsen): the
restriction and prolongation, and the default paths."""

from types import SimpleNamespace

import numpy as np
import pytest

import fpstt
from fpstt.analysis.observables import moments
from fpstt.flow.flowplan import plan_flow
from fpstt.integration import coarsen
from fpstt.integration.coarsen import prolong, restrict
from fpstt.runs.config import RunConfig
from test_chartcells import _near_attractor, _tilted


def _masses(profile, n_phi=6, rows=42):
    u = np.arange(rows - 2) + 0.5
    inner = profile(u)[:, None] * (1 + 0.1 * np.cos(np.arange(n_phi)))[None, :]
    return np.vstack([np.full(n_phi, 0.3), inner, np.full(n_phi, 1e-3)])


@pytest.mark.parametrize("k, k_phi", [(2, 1), (3, 1), (4, 1), (1, 2), (2, 2), (3, 4)])
def test_restriction_and_prolongation_keep_the_mass_and_the_sign(k, k_phi):
    rng = np.random.default_rng(k + 10 * k_phi)
    mass = rng.random((43, 8)) ** 4
    mass[[0, -1]] = mass[[0, -1]].mean(axis=1, keepdims=True)
    measure = rng.random(43) + 0.5
    coarse = restrict(mass, k, k_phi)
    assert coarse.shape == (2 + 41 // k, 8 // k_phi)
    assert coarse.sum() == pytest.approx(mass.sum(), rel=1e-14)
    for quadratic in (True, False):
        fine = prolong(coarse, k, measure, quadratic=quadratic, k_phi=k_phi)
        assert fine.shape == mass.shape and fine.min() >= 0
        assert fine.sum() == pytest.approx(mass.sum(), rel=1e-14)
        assert np.allclose(restrict(fine, k, k_phi), coarse, rtol=1e-13, atol=0)


def test_a_line_along_phi_comes_back_exactly_where_its_slope_is_not_limited():
    """Columns of a linear profile in phi (away from its periodic jump) are split back
    exactly; the cap rows stay equal shares."""
    phi = np.arange(16) + 0.5
    mass = np.vstack([np.full(16, 0.2), np.tile(1 + 0.02 * phi, (5, 1)), np.full(16, 0.1)])
    back = prolong(restrict(mass, 1, 2), 1, np.ones(7), k_phi=2)
    assert np.allclose(back[1:-1, 2:-2], mass[1:-1, 2:-2], rtol=1e-13)
    assert np.allclose(back[[0, -1]], mass[[0, -1]], rtol=1e-13)


def test_prolongation_is_exact_for_lines_and_parabolas_inside():
    """A linear profile comes back exactly either way; a parabola only with ``quadratic``
    (away from the end rows, which take one-sided lines)."""
    k, measure = 4, np.ones(42)
    line = _masses(lambda u: 1 + 0.01 * u)
    parabola = _masses(lambda u: 1 + 0.001 * (u - 20) ** 2)
    inside = slice(1 + k, 41 - k)
    for quadratic in (True, False):
        back = prolong(restrict(line, k), k, measure, quadratic=quadratic)
        assert np.allclose(back[inside], line[inside], rtol=1e-13)
    back = prolong(restrict(parabola, k), k, measure, quadratic=True)
    assert np.allclose(back[inside], parabola[inside], rtol=1e-13)
    linear = prolong(restrict(parabola, k), k, measure, quadratic=False)
    assert not np.allclose(linear[inside], parabola[inside], rtol=1e-6)


def _driven_near_attractor():
    """Table I with a tilted easy axis at 8x its drive (8 rows of du = 0.0092 a step, so a
    grid of 2 du keeps the step), a vMF state 0.1 rad from the attractor, 64 phi cells."""
    model = _tilted()[0].with_drive(8.0)
    chart = plan_flow(model, _near_attractor(_tilted()[2], 0.1)).chart
    near = _near_attractor(chart, 0.1)
    grid = fpstt.default_grid(model, [0.1, 0.3], initial=near, du=0.0092, n_phi=64)
    return model, near, grid


def test_the_default_path_coarsens_at_the_attractor_within_its_error(monkeypatch):
    """Settled at the attractor by the first output, the run goes on with 2x du: its last
    output is within L1 2e-4 and std of n 1e-4 (relative) of the run that keeps its grid,
    mass and sign kept; not with ``tails``, which must step every row."""
    model, near, grid = _driven_near_attractor()
    assert grid.plan.kind == "attractor"
    sol = fpstt.solve(model, grid, near.cell_averages(grid), [0.1, 0.3])
    assert sol.diagnostics["coarsened"] == 2
    assert sol.diagnostics["max_mass_error"] < 1e-12 and sol.p.min() >= 0
    with_tails = fpstt.solve(model, grid, near.cell_averages(grid), [0.1, 0.3], tails=True)
    assert "coarsened" not in with_tails.diagnostics
    monkeypatch.setattr(coarsen, "FACTORS", ())
    kept = fpstt.solve(model, grid, near.cell_averages(grid), [0.1, 0.3])
    assert np.array_equal(sol.p[0], kept.p[0])                  # the same up to the change
    l1 = np.sum(np.abs(sol.p[-1] - kept.p[-1]) * grid.cell_measure)
    assert 0 < l1 < 2e-4
    std, kept_std = moments(grid, sol.p[-1])[1], moments(grid, kept.p[-1])[1]
    assert np.max(np.abs(std / kept_std - 1)) < 1e-4


def test_a_state_settled_at_the_pole_goes_on_with_half_the_phi_cells(monkeypatch):
    """On 256 phi cells (du 0.0184, whose step a 2x coarser U would not keep) the settled
    state is as smooth in phi as in U: the run goes on with 128 phi cells, its last output
    within L1 5e-5 and std of n 1e-5 (relative) of the run that keeps its grid (measured:
    9.6e-6 and 1.5e-6), mass and sign kept."""
    model, near, _ = _driven_near_attractor()
    grid = fpstt.default_grid(model, [0.1, 0.3], initial=near, du=0.0184, n_phi=256)
    sol = fpstt.solve(model, grid, near.cell_averages(grid), [0.1, 0.3])
    assert (sol.diagnostics["coarsened"], sol.diagnostics["coarsened_phi"]) == (1, 2)
    assert sol.diagnostics["max_mass_error"] < 1e-12 and sol.p.min() >= 0
    monkeypatch.setattr(coarsen, "FACTORS", ())
    monkeypatch.setattr(coarsen, "PHI_CELLS_MIN", 10 ** 9)
    kept = fpstt.solve(model, grid, near.cell_averages(grid), [0.1, 0.3])
    assert "coarsened_phi" not in kept.diagnostics
    assert np.array_equal(sol.p[0], kept.p[0])
    l1 = np.sum(np.abs(sol.p[-1] - kept.p[-1]) * grid.cell_measure)
    assert 0 < l1 < 5e-5
    std, kept_std = moments(grid, sol.p[-1])[1], moments(grid, kept.p[-1])[1]
    assert np.max(np.abs(std / kept_std - 1)) < 1e-5


def _relaxing_under_a_pulse():
    """Model-space seed 5 row 28 made small: an easy axis 95 deg from z' (B_k 0.04 T),
    Gilbert damping 0.45 and Brown noise at 300 K (stationary width 0.75 rad), a weak drive in
    a 0.3 t_n pulse, from a vMF start 0.08 rad wide (kappa 150); 937 x 392 cells."""
    micro = dict(B_k=0.04, easy_theta=1.665, easy_phi=0.601, alpha=0.449, T=300.0,
                 n_e=3045.0)
    cfg = RunConfig(micro=fpstt.table_i(**micro))
    cfg.model.update(thermal=True, interpretation="stratonovich")
    cfg.initial.update(kind="vmf", theta=1.723, phi=3.113, kappa=150.0)
    cfg.pulse.update(width=0.3)
    cfg.solve["times"] = [0.3, 0.6]
    model = cfg.build_model()
    return model, cfg.build_grid(model), cfg.build_gibbs(), cfg.build_pulse()


def test_a_z_frame_relaxation_from_a_narrow_start_goes_on_with_coarser_cells(monkeypatch):
    """The z'-frame grid of a relaxation is sized by its narrow start (cells of 1/5 its
    width, 0.016 rad, against the stationary state's 0.064): once the state has widened so
    that a grid 2x coarser passes the COARSE_L1 test, the run (and the pulse's next piece)
    goes on there.  Against the same run checked but never coarsened (the checks close
    Strang sequences, which alone moves this run's outputs by ~1e-3 in L1), the outputs
    are within L1 2e-4 and std of n 1e-4 (relative; Monte Carlo's s.e. at 1e5 samples:
    2.2e-3), mass and sign kept (measured: 2.6e-5 and 4.4e-5, 1.8e-5)."""
    model, grid, start, pulse = _relaxing_under_a_pulse()
    assert grid.chart is None and grid.plan.cell_width < 0.5 * coarsen.relaxation_cell_width(
        model)
    sol = fpstt.solve(model, grid, start.cell_averages(grid), [0.3, 0.6], pulse=pulse)
    assert sol.diagnostics["coarsened"] * sol.diagnostics["coarsened_phi"] >= 2
    assert sol.diagnostics["max_mass_error"] < 1e-12 and sol.p.min() >= 0
    monkeypatch.setattr(coarsen, "COARSE_L1", 0.0)                 # checks, no coarsening
    kept = fpstt.solve(model, grid, start.cell_averages(grid), [0.3, 0.6], pulse=pulse)
    assert kept.diagnostics["coarsened"] == kept.diagnostics["coarsened_phi"] == 1
    l1 = np.sum(np.abs(sol.p - kept.p) * grid.cell_measure, axis=(1, 2))
    assert 0 < l1.max() < 2e-4
    std, kept_std = moments(grid, sol.p)[1], moments(grid, kept.p)[1]
    assert np.max(np.abs(std / kept_std - 1)) < 1e-4


def test_the_next_piece_of_a_pulse_starts_on_the_coarser_grid():
    """A piece that ended coarsened hands its state to the next on its coarse grid (the
    user's output restricted, which its prolongation gives back), wrapped to stand for the
    user's grid; a piece on the user's grid hands it on there."""
    _, grid, start, _ = _relaxing_under_a_pulse()
    coarse_grid = coarsen._coarse_grid(grid, 2, 2)
    built = []

    def build(on, *, p):
        built.append((on, p))
        return SimpleNamespace(grid=on)
    fine_p = start.cell_averages(grid)
    before = coarsen.CoarseRun(SimpleNamespace(grid=coarse_grid), grid, 2, 2)
    run = coarsen.continued(before, build, fine_p)
    assert isinstance(run, coarsen.CoarseRun) and run.grid is grid and built[-1][0] is coarse_grid
    coarse_mass = built[-1][1] * coarse_grid.cell_measure
    assert np.allclose(coarse_mass, restrict(fine_p * grid.cell_measure, 2, 2), rtol=1e-13)
    assert coarsen.continued(SimpleNamespace(grid=grid), build, fine_p).grid is grid
