"""The phi-averaged approximate inverse (fpstt.numerics.averaged) and the line scheme's switch to it
at a chart's pole, where the product of line solves fails."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

import fpstt
from fpstt.numerics.averaged import PhiAveragedInverse
from fpstt.sphere.chart import ChartModel
from fpstt.physics.initial import chart_state_averages
from fpstt.numerics.lines import LineBackend, LineScheme
from fpstt.numerics.operator import directional_operators, fokker_planck_matrix


def _exact(whole, b, x):
    return spsolve((sp.identity(whole.shape[0]) - b * whole).tocsc(),
                   x.ravel()).reshape(x.shape)


def test_exact_for_a_phi_independent_operator():
    """Table I without a field in the z' frame: every coefficient is phi-independent, so
    the averaged inverse is the inverse."""
    model = fpstt.SpinTorqueModel.from_microscopic(fpstt.table_i())
    grid = fpstt.SphereGrid.mercator(0.05, -6.0, 3.5, 32)
    backend = LineBackend(directional_operators(model, grid), grid)
    x = np.random.default_rng(1).random(grid.shape)
    exact = _exact(fokker_planck_matrix(model, grid), 0.01, x)
    ours = PhiAveragedInverse(backend, 0.01)(x)
    assert np.max(np.abs(ours - exact)) < 1e-12 * np.max(np.abs(exact))


@pytest.fixture(scope="module")
def polar_problem(table_i_gibbs):
    """Table I with a tilted easy axis in its attractor chart, a narrow state at the
    chart's pole (where the run ends), on a coarse grid."""
    micro = fpstt.table_i(B_k=0.05, easy_theta=0.5, easy_phi=1.0, alpha=0.02)
    model = fpstt.SpinTorqueModel.from_microscopic(micro)
    grid = fpstt.default_grid(model, [0, 0.1], initial=table_i_gibbs, du=0.04, n_phi=64)
    chart_model = ChartModel(model, grid.chart)
    offset = (lambda th: -chart_model.C1.imag * np.sin(th), chart_model.C1.real)
    parts = directional_operators(chart_model, grid, drift_offset=offset)
    whole = fokker_planck_matrix(chart_model, grid, drift_offset=offset)
    theta, phi = grid.chart.to_lab(np.array(1e-6), np.array(0.0))
    x = chart_state_averages(fpstt.GibbsState(2000.0, float(theta), float(phi)), grid)
    return grid, LineBackend(parts, grid), whole, x


def test_line_solves_leave_the_line_product_at_the_pole_and_converge(polar_problem):
    """The phi average converges there (0.06x an iteration); the exact inverse, which it
    moves on to after 8 iterations, in one."""
    grid, backend, whole, x = polar_problem
    piece = LineScheme(backend.window(0, grid.n_theta), 0.03, "be")
    y = piece.step(x.copy())
    assert piece.inverse == "direct" and piece.worst_residual == 0.0
    assert max(piece.iterations) <= 10
    exact = _exact(whole, 0.03, x)
    assert np.max(np.abs(y - exact)) < 1e-11 * np.max(np.abs(exact))
    measure = grid.cell_measure
    assert np.sum(y * measure) == pytest.approx(np.sum(x * measure), rel=1e-12)


def test_the_line_product_alone_fails_there(polar_problem, monkeypatch):
    """Why the switch exists: the product of the parts' line solves carries the
    factorisation error b^2 M_theta M_phi, which dominates in the stiff polar block."""
    grid, backend, _, x = polar_problem
    monkeypatch.setattr(LineScheme, "_inverse", lambda self, name: self._approximate_inverse)
    piece = LineScheme(backend.window(0, grid.n_theta), 0.03, "be")
    piece.step(x.copy())
    assert piece.worst_residual > 1.0


def test_the_other_steps_exact_inverse_is_started_ahead_on_the_same_window(polar_problem):
    """Once the half step's solve moves on to the exact inverse, the full step's is
    factorised ahead (on a worker thread) on the same window, and the full step's piece
    starts with it: its answer is (I - tau L)^-1 of its input, and nobody factorised it
    again."""
    from fpstt.integration.implicit import WindowedImplicit
    from fpstt.numerics.direct import DirectInverse
    grid, backend, _, x = polar_problem
    implicit = WindowedImplicit(backend, "be", 0, None, piece=LineScheme, steps=(0.015, 0.03))
    half = implicit.step(0.015, x.copy())
    assert implicit.exact_rows == (0, grid.n_theta)
    full = implicit.step(0.03, half.copy())
    lo, hi, piece = implicit.factors[0.03]
    assert (lo, hi) == implicit.exact_rows and piece.inverse == "direct"
    assert piece.iterations == [0]                       # one solve, no correction needed
    assert piece.n_factorizations == len(piece.factors)  # its line parts' alone
    reference = DirectInverse(backend.window(lo, hi), 0.03)(half)
    assert np.max(np.abs(full - reference)) <= 1e-13 * np.max(np.abs(reference))
