"""Directional splitting of the implicit step (fpstt.lines) and the fractional shift that
reaches output times off the step lattice."""

import numpy as np
import pytest

import fpstt
from fpstt.chart import ChartModel
from fpstt.flowgrid import CHART_STEP, rows_per_step
from fpstt.fourier import RealBackend
from fpstt.integrators import ImplicitScheme, Shift, mercator_du
from fpstt.lines import DirectionalScheme, LineBackend
from fpstt.observables import l1_distance
from fpstt.operator import directional_operators, fokker_planck_matrix, is_monotone
from fpstt.pushforward import pushforward_cell_averages


def _chart_problem(gibbs, du=0.04, **options):
    """Table I with the field kept on, in its Möbius chart, on a coarse grid."""
    model = fpstt.SpinTorqueModel.from_microscopic(fpstt.table_i(), field_on=True, **options)
    grid = fpstt.default_grid(model, [0, 0.3], initial=gibbs, du=du, n_phi=64)
    chart_model = ChartModel(model, grid.chart)
    offset = (lambda th: -chart_model.C1.imag * np.sin(th), chart_model.C1.real)
    parts = directional_operators(chart_model, grid, drift_offset=offset)
    whole = fokker_planck_matrix(chart_model, grid, drift_offset=offset)
    return grid, parts, whole, gibbs.cell_averages(grid)


@pytest.fixture(scope="module")
def chart_problem(table_i_gibbs):
    return _chart_problem(table_i_gibbs)


@pytest.fixture(scope="module")
def lab_chart_problem(table_i_gibbs):
    """The lab reading: isotropic noise, whose split is monotone on this grid (du between
    s dphi / (1 + s^2) and dphi / s for the chart's shear s)."""
    return _chart_problem(table_i_gibbs, 0.07, interpretation="stratonovich", reading="lab")


def test_parts_sum_to_the_operator_and_each_conserves_mass(chart_problem):
    grid, parts, whole, _ = chart_problem
    scale = abs(whole).max()
    assert abs(sum(parts.values()) - whole).max() < 1e-13 * scale
    w = grid.cell_measure.ravel()
    for L in parts.values():
        assert np.max(np.abs(w @ L)) < 1e-13 * scale * w.max()
    assert all(is_monotone(L) for L in parts.values()) == is_monotone(whole)


def test_directional_step_is_second_order_against_the_2d_solve(chart_problem):
    """One step of the symmetric product against the unsplit 2-D TR-BDF2 step on the same
    window: the local splitting error falls like tau^3."""
    grid, parts, whole, p0 = chart_problem
    lines, real = LineBackend(parts, grid), RealBackend(whole, grid)
    rows = np.flatnonzero(real.row_mass(p0) > 1e-13)
    i0, i1 = max(rows[0] - 6, 0), min(rows[-1] + 7, grid.n_theta)
    x = p0[i0:i1]
    errors = []
    for tau in (4e-3, 2e-3):
        split = DirectionalScheme(lines.window(i0, i1), tau, "tr-bdf2").step(x.copy())
        exact = ImplicitScheme(real.window(i0, i1), tau, "tr-bdf2").step(x.copy())
        errors.append(np.sum(np.abs(split - exact) * grid.cell_measure[i0:i1]))
    assert errors[0] < 1e-6
    assert errors[0] / errors[1] > 5


def test_backward_euler_factors_keep_p_positive_and_mass_exact(lab_chart_problem):
    """On a monotone operator every factor is an M-matrix solve.  (The eq17 noise is
    degenerate at the z' equator, so no 9-point split of it is monotone: docs/theory.md §9.)"""
    grid, parts, whole, _ = lab_chart_problem
    assert is_monotone(whole)
    backend = LineBackend(parts, grid)
    x = np.random.default_rng(3).random(grid.shape) ** 8
    y = DirectionalScheme(backend.window(0, grid.n_theta), 0.05, "be").step(x.copy())
    assert y.min() >= 0
    assert backend.mass(y) == pytest.approx(backend.mass(x), rel=1e-13)


def test_long_steps_are_cut_into_substeps(chart_problem):
    grid, parts, _, _ = chart_problem
    scheme = DirectionalScheme(LineBackend(parts, grid), 2.5 * CHART_STEP, "tr-bdf2")
    assert scheme.substeps == 3


def test_step_length_comes_from_accuracy_not_the_cell(table_i_model, table_i_gibbs):
    field_on = fpstt.SpinTorqueModel.from_microscopic(fpstt.table_i(), field_on=True)
    grid = fpstt.default_grid(field_on, [0, 1], initial=table_i_gibbs)
    rows = rows_per_step(grid.chart, mercator_du(grid))
    assert rows == 3
    assert rows * mercator_du(grid) / abs(grid.chart.shift_rate) <= CHART_STEP
    plain = fpstt.default_grid(table_i_model, [0, 1])
    assert rows_per_step(plain.chart, mercator_du(plain)) == 1


def test_fractional_shift_conserves_and_stays_positive():
    grid = fpstt.SphereGrid.mercator(0.05, -6.0, 3.5, 8)
    x = np.random.default_rng(5).random(grid.shape) ** 12       # spiky, positive
    mass = grid.integrate(x)
    for f in (0.1, 0.5, 0.9):
        y = Shift(grid, 1).fraction(x.copy(), f)
        assert y.min() >= 0
        assert grid.integrate(y) == pytest.approx(mass, rel=1e-13)


def test_fractional_shift_is_exact_for_a_linear_mass_profile():
    """Cell masses linear in the row index translate exactly (second order)."""
    grid = fpstt.SphereGrid.mercator(0.05, -3.0, 3.0, 4)
    rows = np.arange(grid.n_theta, dtype=float)
    x = ((10.0 + rows)[:, None] / grid.dtheta[:, None]) * np.ones(grid.shape)
    f = 0.3
    y = Shift(grid, 1).fraction(x.copy(), f)
    moved = y * grid.dtheta[:, None]
    np.testing.assert_allclose(moved[3:-3, 0], (10.0 + rows + f)[3:-3], rtol=1e-12)


@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.75])
def test_output_off_the_step_lattice_is_second_order(table_i_model, table_i_gibbs, fraction):
    """Noiseless Table I at a time between two steps against the closed form (Eq. 16).
    Before the fractional shift, one backward-Euler step: L1 4e-3, 9e-3, 1.6e-2."""
    model = table_i_model.with_options(C2=0)
    grid = fpstt.default_grid(model, [0, 1], initial=table_i_gibbs, n_phi=128)
    dt = fpstt.stepping.mercator_step(grid, model)
    t = (100 + fraction) * dt
    sol = fpstt.solve(model, grid, table_i_gibbs.cell_averages(grid), [t])
    ref = pushforward_cell_averages(table_i_gibbs, model.C1, grid, t)
    assert l1_distance(grid, sol.p[0], ref) < 2e-4
