import math

import numpy as np
import pytest

import fpstt
from fpstt.sphere.grid import angle_between, mercator_theta, mercator_u


def test_no_centre_on_a_pole_and_measures():
    for g in (fpstt.SphereGrid.uniform(10, 8), fpstt.SphereGrid.mercator(0.1, -8, 3, 12)):
        assert g.theta[0] > 0 and g.theta[-1] < math.pi
        assert g.cell_measure.sum() == pytest.approx(2 * math.pi ** 2)
        assert g.solid_angle.sum() == pytest.approx(4 * math.pi)


def test_mercator_edges_uniform_in_u():
    g = fpstt.SphereGrid.mercator(0.05, -6, 2, 8)
    u = mercator_u(g.theta_edges[1:-1])
    np.testing.assert_allclose(np.diff(u), 0.05, rtol=1e-9)
    assert mercator_theta(-800.0) == 0.0 and np.isfinite(mercator_theta(800.0))


@pytest.mark.parametrize("n", [8, 16, 32])
def test_integration_of_smooth_density_is_exact_with_cell_averages(n):
    g = fpstt.SphereGrid.uniform(n, n)
    p = g.cell_average(lambda t, f: np.sin(t) * (1 + 0.5 * np.cos(f) * np.cos(t)) / (4 * math.pi))
    assert g.integrate(p) == pytest.approx(1.0, abs=1e-13)


def test_per_area_round_trip_and_directions():
    g = fpstt.SphereGrid.uniform(12, 10)
    p = np.random.default_rng(0).random(g.shape)
    np.testing.assert_allclose(g.from_per_area(g.per_area(p)), p, rtol=1e-13)
    n = g.directions()
    np.testing.assert_allclose(np.sum(n ** 2, axis=0), 1.0, rtol=1e-14)


@pytest.mark.parametrize("edges, match", [
    ([0, 1, 0.5, 2, math.pi], "strictly increasing"), ([0, 1, math.pi], "≥ 4 entries"),
    ([0.1, 1, 2, 3, math.pi], "from 0 to pi")])
def test_bad_edges(edges, match):
    with pytest.raises(ValueError, match=match):
        fpstt.SphereGrid(np.array(edges, float), 8)


def test_bad_sizes():
    with pytest.raises(ValueError, match="`n_theta` must be an integer ≥ 3, got 2"):
        fpstt.SphereGrid.uniform(2, 8)
    with pytest.raises(ValueError, match="`n_phi` must be an integer ≥ 4"):
        fpstt.SphereGrid.uniform(8, 3)


def test_angles_keep_their_precision_at_the_poles():
    """theta = 1e-12 and pi - 1e-12 come back to 1e-4 relative (arccos gave 0 and pi, and
    Eq. 17's 1/sin theta then made the Monte Carlo NaN)."""
    from fpstt.sphere.grid import angles, unit_vector
    theta = np.array([1e-12, 1e-9, 0.3, np.pi - 1e-9])
    back, _ = angles(unit_vector(theta, 0.7))
    assert np.all(np.abs(back[:2] / theta[:2] - 1) <= 1e-4)
    assert abs((np.pi - back[3]) / 1e-9 - 1) <= 1e-4
    assert abs(back[2] - 0.3) <= 1e-15


def test_angle_between_is_defined_at_every_angle():
    """acos(a . b) fails where the rounded dot product of antipodal vectors is below -1;
    angle_between keeps [0, pi] and full precision at both ends."""
    rng = np.random.default_rng(3)
    a = rng.normal(size=(3, 1000))
    a /= np.linalg.norm(a, axis=0)
    assert np.all(angle_between(a, -a) == np.pi)
    assert np.all(angle_between(a, a) == 0.0)
    tilt = 1e-9 * np.array([1.0, 0.0, 0.0])
    z = np.array([0.0, 0.0, 1.0])
    b = (z + tilt) / np.linalg.norm(z + tilt)
    assert abs(angle_between(z, b) - 1e-9) < 1e-20
