import math

import numpy as np
import pytest

import fpstt
from conftest import observed_order
from fpstt.physics.initial import langevin_function


@pytest.mark.parametrize("shape", [(16, 16), (64, 48), (200, 128)])
@pytest.mark.parametrize("kappa", [0.0, 3.0, 671.7])
def test_gibbs_integrates_to_one(shape, kappa):
    g = fpstt.SphereGrid.uniform(*shape)
    p = fpstt.GibbsState(kappa, 2.8, 1.0).cell_averages(g)
    assert g.integrate(p) == pytest.approx(1.0, abs=1e-12)
    assert np.all(p >= 0) and np.all(np.isfinite(p))


def test_gibbs_integrates_to_one_on_mercator(table_i_gibbs):
    g = fpstt.SphereGrid.mercator(0.03, -9, 3.5, 128)
    assert g.integrate(table_i_gibbs.cell_averages(g)) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("kappa", [0.5, 5.0, 671.7])
def test_gibbs_mean_is_langevin_function(kappa):
    """Grid moments converge to (coth k - 1/k) b at second order (cell-exact moments)."""
    gb = fpstt.GibbsState(kappa, 2.8, 1.0)
    errors = []
    for n in (100, 200, 400):
        g = fpstt.SphereGrid.uniform(n, n)
        mean, _ = fpstt.analysis.observables.moments(g, gb.cell_averages(g))
        errors.append(np.max(np.abs(mean - gb.mean_direction)))
    assert errors[-1] < 1e-4
    assert observed_order([1, 0.5, 0.25], errors) > 1.8
    assert np.linalg.norm(gb.mean_direction) == pytest.approx(
        1 / math.tanh(kappa) - 1 / kappa, rel=1e-12)


def test_langevin_function_small_and_large():
    assert langevin_function(1e-6) == pytest.approx(1e-6 / 3)
    assert langevin_function(1e4) == pytest.approx(1 - 1e-4)


def test_no_overflow_for_large_kappa():
    gb = fpstt.GibbsState(5e4, 1.0, 0.0)
    assert np.isfinite(gb.per_area(1.0, 0.0)) and gb.per_area(1.0, 0.0) > 0


@pytest.mark.parametrize("kappa", [2.0, 671.7])
def test_vmf_samples_reproduce_mean(kappa):
    gb = fpstt.GibbsState(kappa, 2.8, 1.0)
    n = gb.sample(200_000, np.random.default_rng(1))
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, rtol=1e-12)
    se = n.std(axis=0, ddof=1) / math.sqrt(n.shape[0])
    assert np.all(np.abs(n.mean(axis=0) - gb.mean_direction) <= 4 * se)


def test_same_seed_same_samples(table_i_gibbs):
    a = table_i_gibbs.sample(100, np.random.default_rng(7))
    b = table_i_gibbs.sample(100, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
