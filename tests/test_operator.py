import math

import numpy as np
import pytest
import scipy.sparse as sp

import fpstt
from conftest import observed_order
from fpstt.numerics.fourier import phi_blocks
from fpstt.numerics.operator import bernoulli, stationary_density

SMOOTH = fpstt.SpinTorqueModel(0.3 + 0.4j, 0.5 + 0.3j, thermal_D=0.6)


def _models(table_i_model):
    return [table_i_model, table_i_model.with_options(interpretation="stratonovich"),
            table_i_model.with_options(interpretation="stratonovich", reading="lab"),
            table_i_model.with_options(omega=(3.0, -1.0, 0.5)), SMOOTH]


@pytest.mark.parametrize("grid", [fpstt.SphereGrid.uniform(24, 16),
                                  fpstt.SphereGrid.mercator(0.07, -9, 3.5, 32)])
def test_mass_conserved_to_round_off(table_i_model, grid):
    w = grid.cell_measure.ravel()
    for model in _models(table_i_model):
        L = fpstt.fokker_planck_matrix(model, grid)
        colsum = w @ L
        assert np.max(np.abs(colsum)) <= 1e-13 * np.max(np.abs(L.multiply(w[:, None])))
        assert np.all(np.isfinite(L.data))


def test_isotropic_noise_gives_an_m_matrix(table_i_model):
    lab = table_i_model.with_options(interpretation="stratonovich", reading="lab")
    for grid in (fpstt.SphereGrid.uniform(40, 32), fpstt.SphereGrid.mercator(0.05, -9, 3.5, 64)):
        L = fpstt.fokker_planck_matrix(lab, grid)
        assert fpstt.is_monotone(L)
        diag = L.diagonal()
        assert np.all(diag <= 0)


def test_eq17_noise_near_monotone_on_matched_grid(table_i_model):
    """The Eq. 17 diffusion is degenerate at the equator; with dphi / du = |Re C2 / Im C2| the
    diagonal split is exactly non-negative, up to the O(h) variation of the cell widths."""
    r = abs(table_i_model.C2.real / table_i_model.C2.imag)
    dphi = 2 * math.pi / 64
    L = sp.coo_matrix(fpstt.fokker_planck_matrix(
        table_i_model, fpstt.SphereGrid.mercator(dphi / r, -9, 3.5, 64)))
    off = L.data[L.row != L.col]
    assert off.min() >= -1e-10 * np.abs(L.data).max()


def test_bernoulli_limits():
    x = np.array([-800.0, -1.0, -1e-12, 0.0, 1e-12, 1.0, 800.0])
    b = bernoulli(x)
    assert np.all(np.isfinite(b)) and np.all(b >= 0)
    np.testing.assert_allclose(b[[2, 3, 4]], 1.0, rtol=1e-11)
    np.testing.assert_allclose(b[1], 1 / math.expm1(-1) * -1, rtol=1e-14)
    assert b[0] == pytest.approx(800.0) and b[-1] == 0.0
    np.testing.assert_allclose(bernoulli(-x) - bernoulli(x), x, rtol=1e-12, atol=1e-12)


def test_findiff_central_matches_conservative_operator():
    """(d) On a smooth, diffusion-dominated problem the two assemblies agree to O(h^2)."""
    def p(t, f):
        return np.sin(t) * (1 + 0.3 * np.cos(t) * np.cos(f) + 0.2 * np.sin(t) ** 2 * np.sin(2 * f))
    errs, hs = [], []
    for n in (24, 48, 96):
        g = fpstt.SphereGrid.uniform(n, n)
        T, F = np.meshgrid(g.theta, g.phi, indexing="ij")
        lc = (fpstt.fokker_planck_matrix(SMOOTH, g) @ g.cell_average(p).ravel()).reshape(g.shape)
        lf = (fpstt.central_difference_matrix(SMOOTH, g) @ p(T, F).ravel()).reshape(g.shape)
        inner = (g.theta > 0.6) & (g.theta < math.pi - 0.6)
        errs.append(np.max(np.abs(lc - lf)[inner]))
        hs.append(math.pi / n)
    order = observed_order(hs, errs)
    print(f"findiff vs conservative: max diff {errs}, observed order {order:.2f}")
    assert errs[-1] < 2e-3 and order > 1.7


def test_stationary_state_is_von_mises_fisher():
    """(c) Drift to the pole with isotropic noise: p ∝ exp(kappa cos theta) sin theta."""
    rate, D = 2.0, 0.5
    model = fpstt.SpinTorqueModel(1j * rate, 0j, thermal_D=D)
    exact = fpstt.GibbsState(rate / D, 0.0, 0.0)
    errs, hs = [], []
    for n in (32, 64, 128):
        g = fpstt.SphereGrid.uniform(n, 8)
        p = stationary_density(model, g)
        assert np.all(p >= -1e-14) and g.integrate(p) == pytest.approx(1.0, abs=1e-12)
        errs.append(fpstt.analysis.observables.l1_distance(g, p, exact.cell_averages(g)))
        hs.append(1.0 / n)
    order = observed_order(hs, errs)
    print(f"stationary vMF: L1 {errs}, order {order:.2f}")
    assert errs[-1] < 1e-3 and order > 1.6


@pytest.mark.parametrize("reading", ["eq17", "lab"])
def test_three_cell_strip_has_the_phi_blocks_of_the_whole_grid(table_i_model, reading):
    model = table_i_model.with_options(interpretation="stratonovich", reading=reading)
    grid = fpstt.SphereGrid.mercator(0.05, -6.0, 3.0, 40)
    whole = fpstt.fokker_planck_matrix(model, grid)
    strip = fpstt.fokker_planck_matrix(model, grid, n_phi=3)
    assert strip.shape == (3 * grid.n_theta,) * 2
    blocks = phi_blocks(whole, grid.shape)
    assert np.allclose(phi_blocks(strip, (grid.n_theta, 3)), blocks,
                       rtol=1e-13, atol=1e-13 * np.abs(blocks).max())
    with pytest.raises(ValueError, match="n_phi"):
        fpstt.fokker_planck_matrix(model, grid, n_phi=2)
