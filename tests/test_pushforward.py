import math

import numpy as np
import pytest

import fpstt
from fpstt.analysis.observables import l1_distance, theta_statistics
from fpstt.numerics.operator import stationary_density
from fpstt.physics.pushforward import (flow, jacobian, jacobian_fd, mean_trajectory,
                               pushforward_cell_averages, pushforward_density)

FIG4_TIMES = [0.0, 1 / 3, 2 / 3, 1.0]


def test_flow_matches_eq15_and_inverts(table_i_model):
    C1 = table_i_model.C1
    theta0 = np.array([0.3, 1.5, 2.8])
    th, ph = flow(0.7, theta0, 1.0, C1)
    expected = 2 * np.arctan(1 / (np.exp(C1.imag * 0.7) / np.tan(theta0 / 2)))   # Eq. 15
    np.testing.assert_allclose(th, expected, rtol=1e-13)
    assert ph == pytest.approx(1.0 + C1.real * 0.7)
    back, _ = flow(-0.7, th, 0.0, C1)
    np.testing.assert_allclose(back, theta0, rtol=1e-13)


@pytest.mark.parametrize("t", [-1.0, -0.3, 0.4, 1.0])
def test_jacobian_closed_form_matches_finite_differences(table_i_model, t):
    theta = np.linspace(0.02, 3.12, 300)
    np.testing.assert_allclose(jacobian(t, theta, table_i_model.C1),
                               jacobian_fd(t, theta, table_i_model.C1), rtol=1e-6)


def test_jacobian_no_overflow_near_poles(table_i_model):
    with np.errstate(all="raise", under="ignore"):
        j = jacobian(-1.0, np.array([1e-12, 1e-6, math.pi - 1e-9]), table_i_model.C1)
    assert np.all(np.isfinite(j)) and np.all(j > 0)


def test_pushforward_integrates_to_one(table_i_model, table_i_gibbs):
    grid = fpstt.default_grid(table_i_model, FIG4_TIMES, steps_per_unit=90, n_phi=128)
    for t in FIG4_TIMES:
        p = pushforward_cell_averages(table_i_gibbs, table_i_model.C1, grid, t)
        assert grid.integrate(p) == pytest.approx(1.0, abs=1e-12)
        assert np.all(p >= 0) and np.all(np.isfinite(p))


def test_cell_averages_agree_with_quadrature_of_point_values(table_i_model, table_i_gibbs):
    """Pre-image integration vs Gauss quadrature of Eq. 16's point values on the cells."""
    grid = fpstt.default_grid(table_i_model, FIG4_TIMES, steps_per_unit=180, n_phi=256)
    for t in (1 / 3, 1.0):
        a = pushforward_cell_averages(table_i_gibbs, table_i_model.C1, grid, t)
        b = grid.cell_average(lambda th, ph: pushforward_density(
            table_i_gibbs, table_i_model.C1, t, th, ph), order=6)
        assert l1_distance(grid, a, b) < 1e-8


def test_fp_noise_off_equals_pushforward_on_every_grid(table_i_model, table_i_gibbs):
    quiet = table_i_model.with_options(C2=0j)
    errors = []
    for spu, nf in ((45, 128), (90, 256), (180, 256)):
        grid = fpstt.default_grid(table_i_model, FIG4_TIMES, steps_per_unit=spu, n_phi=nf)
        sol = fpstt.solve(quiet, grid, table_i_gibbs.cell_averages(grid), FIG4_TIMES)
        errors.append([l1_distance(grid, p, pushforward_cell_averages(
            table_i_gibbs, table_i_model.C1, grid, t)) for p, t in zip(sol.p, FIG4_TIMES)])
    print("noise-off FP vs pushforward L1:", errors)
    assert np.max(errors) < 1e-10                       # round-off on every grid (≤ 2e-2)


def test_noise_makes_the_difference_grow_toward_the_pole(table_i_model, table_i_gibbs):
    grid = fpstt.default_grid(table_i_model, FIG4_TIMES, steps_per_unit=90, n_phi=256)
    sol = fpstt.solve(table_i_model, grid, table_i_gibbs.cell_averages(grid), FIG4_TIMES)
    d = [l1_distance(grid, p, pushforward_cell_averages(table_i_gibbs, table_i_model.C1, grid, t))
         for p, t in zip(sol.p, FIG4_TIMES)]
    print("noise-on FP vs pushforward L1:", d)
    assert d[0] < 1e-12 and d[1] < d[2] < d[3] and d[3] > 0.3


@pytest.fixture(scope="module")
def pole_grid():
    return fpstt.SphereGrid.mercator(0.05, -12.0, 3.5, 16)


@pytest.mark.parametrize("interpretation, reading, factor", [
    ("ito", "eq17", 1.0), ("stratonovich", "eq17", 1.0), ("stratonovich", "lab", 2.0)])
def test_stationary_ou_variance(table_i_model, table_i_gibbs, pole_grid, interpretation,
                                reading, factor):
    """<theta^2> = |C2|^2/(2 Im C1) for Eq. 17 (both interpretations: the Stratonovich
    shift is -(Re C2)^2/(2 Im C1) ~ 7e-6 relative), twice that for the lab reading; each
    tangent component carries half of <theta^2>."""
    model = table_i_model.with_options(interpretation=interpretation, reading=reading)
    ou = abs(model.C2) ** 2 / (2 * model.C1.imag)
    null = theta_statistics(pole_grid, stationary_density(model, pole_grid))
    assert null["theta2"] / ou == pytest.approx(factor, rel=0.02)
    assert null["x_var"] / ou == pytest.approx(factor / 2, rel=0.02)
    assert null["y_var"] / ou == pytest.approx(factor / 2, rel=0.02)
    stepped = fpstt.solve(model, pole_grid, table_i_gibbs.cell_averages(pole_grid), [4.0])
    long_time = theta_statistics(pole_grid, stepped.p[-1])
    assert long_time["theta2"] == pytest.approx(null["theta2"], rel=5e-3)


def test_fig3_quadrature_and_sampling_agree(table_i_model, table_i_gibbs):
    times = np.linspace(0, 1, 21)
    mean_q, _ = mean_trajectory(table_i_gibbs, table_i_model.C1, times)
    n0 = table_i_gibbs.sample(50_000, np.random.default_rng(9))
    th0, ph0 = np.arccos(n0[:, 2]), np.arctan2(n0[:, 1], n0[:, 0])
    for k, t in enumerate(times):
        th, ph = flow(t, th0, ph0, table_i_model.C1)
        n = np.array([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)])
        se = n.std(axis=1, ddof=1) / math.sqrt(n.shape[1])
        assert np.all(np.abs(n.mean(axis=1) - mean_q[k]) <= 4 * se + 1e-15)
    np.testing.assert_allclose(mean_q[0], table_i_gibbs.mean_direction, atol=1e-10)
