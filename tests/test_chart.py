"""Möbius charts of the noiseless flow of Eq. (11), and the solver on them."""

import math

import numpy as np
import pytest

import fpstt
from fpstt.sphere.chart import ChartModel, MobiusChart, chart_for, conformal_coefficients
from fpstt.analysis.observables import l1_distance
from fpstt.physics.pushforward import general_pushforward_cell_averages, pushforward_cell_averages


@pytest.fixture(scope="module")
def field_on():
    return fpstt.SpinTorqueModel.from_microscopic(fpstt.table_i(), field_on=True)


def test_table_i_flow_is_the_z_prime_frame(table_i_model):
    chart = chart_for(table_i_model)
    assert chart.is_identity
    assert chart.shift_rate == pytest.approx(table_i_model.C1.imag, rel=1e-12)
    assert chart.rotation_rate == pytest.approx(table_i_model.C1.real, rel=1e-12)


def test_field_along_z_prime_rotates_exactly(table_i_model):
    model = table_i_model.with_options(omega=(0.0, 0.0, 8.79))
    chart = chart_for(model)
    assert chart.is_identity and ChartModel(model, chart).phi_independent
    assert chart.rotation_rate == pytest.approx(table_i_model.C1.real + 8.79, rel=1e-12)


def test_fixed_points_are_zeros_of_the_drift(field_on):
    chart = chart_for(field_on)
    flow = field_on.with_options(C2=0)
    for zeta in (chart.zeta_s, chart.zeta_u):
        theta, phi = 2 * math.atan(abs(zeta)), math.atan2(zeta.imag, zeta.real)
        mu_t, mu_p = flow.drift(theta, phi)
        assert abs(mu_t) < 1e-12 and abs(mu_p * math.sin(theta)) < 1e-12
    assert chart.lam.real < 0 and not chart.is_identity


def test_anisotropy_like_flow_is_refused(table_i_model):
    class Tilted:                      # a non-conformal drift: theta' = sin(2 theta)
        def noiseless(self):
            return self

        def drift(self, theta, phi):
            return np.sin(2 * theta), 0 * theta
    with pytest.raises(ValueError, match="not a Möbius flow"):
        conformal_coefficients(Tilted())


def test_chart_round_trip_and_exact_flow(field_on):
    chart = chart_for(field_on)
    rng = np.random.default_rng(1)
    theta, phi = rng.uniform(0.2, 2.9, 50), rng.uniform(0, 2 * np.pi, 50)
    tc, fc = chart.from_lab(theta, phi)
    back_t, back_f = chart.to_lab(tc, fc)
    assert np.allclose(back_t, theta, atol=1e-12)
    assert np.allclose(np.angle(np.exp(1j * (back_f - phi))), 0, atol=1e-12)
    # the model's noiseless drift, carried into the chart, is the pure translation in U
    zero = (0 * theta,) * 3
    (mu_t, mu_p), _ = chart.transform(field_on.with_options(C2=0).drift(theta, phi), zero,
                                      theta, phi, tc)
    assert np.allclose(mu_t, -chart.shift_rate * np.sin(tc), atol=1e-11)
    assert np.allclose(mu_p, 0.0, atol=1e-11)


def test_isotropic_noise_stays_isotropic_in_an_unsheared_chart(field_on):
    """A Möbius map is conformal: lab-isotropic diffusion D_t becomes D_t sin(theta_c) /
    area_factor in each chart direction, with no cross term."""
    base = chart_for(field_on)
    chart = MobiusChart(base.zeta_s, base.zeta_u, base.lam, 0.0)
    model = field_on.with_options(C2=0, thermal_D=0.3)
    rng = np.random.default_rng(2)
    tc, fc = rng.uniform(0.2, 2.9, 40), rng.uniform(0, 2 * np.pi, 40)
    theta, phi = chart.to_lab(tc, fc)
    (mu_t, mu_p), (d_tt, d_tp, d_pp) = chart.transform(
        (0 * theta, 0 * theta), model.diffusion(theta, phi), theta, phi, tc)
    expected = 0.3 * np.sin(tc) / chart.area_factor(tc, fc)
    assert np.allclose(d_tt, expected, rtol=1e-9)
    assert np.allclose(d_pp * np.sin(tc) ** 2, expected, rtol=1e-9)
    assert np.allclose(d_tp, 0, atol=1e-12 * expected.max())


def test_chart_area_covers_the_sphere(field_on):
    grid = fpstt.default_grid(field_on, [0, 1], n_phi=64)
    area = grid.cell_average(grid.chart.area_factor)
    assert grid.integrate(area) == pytest.approx(4 * math.pi, rel=1e-6)


def test_general_pushforward_is_eq16_without_field(table_i_model, table_i_gibbs):
    grid = fpstt.default_grid(table_i_model, [0, 0.25], steps_per_unit=40, n_phi=48)
    g = table_i_gibbs
    rho = lambda n: g.per_area(np.arccos(np.clip(n[2], -1, 1)),        # noqa: E731
                               np.arctan2(n[1], n[0]))
    nodes, w = fpstt.physics.pushforward.gibbs_quadrature(g, 24, 24)
    general = general_pushforward_cell_averages(table_i_model, rho, grid, 0.25,
                                                support=nodes[:, w > 1e-22], pad=4)
    exact = pushforward_cell_averages(g, table_i_model.C1, grid, 0.25)
    assert l1_distance(grid, general, exact) < 1e-4


def test_field_on_noiseless_solve_matches_general_pushforward(field_on, table_i_gibbs):
    model = field_on.with_options(C2=0)
    g = table_i_gibbs
    times = [0, 0.2]
    grid = fpstt.default_grid(model, times, initial=g, du=0.04, n_phi=96)
    sol = fpstt.solve(model, grid, g.cell_averages(grid), times)
    rho = lambda n: g.per_area(np.arccos(np.clip(n[2], -1, 1)),        # noqa: E731
                               np.arctan2(n[1], n[0]))
    nodes, w = fpstt.physics.pushforward.gibbs_quadrature(g, 24, 24)
    ref = general_pushforward_cell_averages(model, rho, grid, 0.2, support=nodes[:, w > 1e-22],
                                            pad=6)
    assert grid.integrate(ref) == pytest.approx(1, abs=1e-6)
    assert l1_distance(grid, sol.p[-1], ref) < 2e-3
    assert sol.diagnostics["min_p_ratio"] >= 0
    assert sol.diagnostics["max_mass_error"] < 1e-12


def test_field_on_noisy_solve_is_positive_and_conservative(field_on, table_i_gibbs):
    times = [0, 0.15]
    grid = fpstt.default_grid(field_on, times, initial=table_i_gibbs, du=0.04, n_phi=96)
    sol = fpstt.solve(field_on, grid, table_i_gibbs.cell_averages(grid), times)
    assert sol.diagnostics["max_mass_error"] < 1e-12
    assert sol.diagnostics["min_p_ratio"] > -1e-10
    assert not sol.diagnostics["fast"]


def test_z_prime_grid_remaps_an_off_axis_field(field_on, table_i_gibbs):
    """On a z'-frame grid (what pulses use) a field off z' is remapped, not refused: noise
    off, its means and stds against the exact run in the flow's Möbius chart at t_n / 6."""
    from fpstt.analysis.observables import moments
    model, gibbs, times = field_on.with_options(C2=0), table_i_gibbs, [0, 1 / 6]
    results = []
    for attractor in (False, True):
        grid = fpstt.default_grid(model, times, initial=gibbs, attractor=attractor)
        sol = fpstt.solve(model, grid, gibbs.cell_averages(grid), times)
        results.append(moments(grid, sol.p[-1:]))
    assert grid.chart is not None
    assert sol.diagnostics["max_mass_error"] < 1e-12
    assert sol.diagnostics["min_p_ratio"] > -1e-12
    (mean_z, std_z), (mean_c, std_c) = results
    assert np.abs(mean_z - mean_c).max() < 2e-4
    assert np.abs(std_z / std_c - 1).max() < 5e-3


def test_no_current_is_a_valid_input():
    micro = fpstt.table_i(n_e=0.0)
    model = fpstt.SpinTorqueModel.from_microscopic(micro)
    gibbs = fpstt.GibbsState.from_microscopic(micro)
    grid = fpstt.default_grid(model, [0, 0.5], n_phi=32, initial=gibbs)
    p0 = gibbs.cell_averages(grid)
    sol = fpstt.solve(model, grid, p0, [0, 0.5])          # nothing moves the state
    assert l1_distance(grid, sol.p[-1], p0) < 1e-12


def test_antipodal_state_is_covered(table_i_model):
    """The old default grid ended at theta = 3.08 with 45 % of this state in its cap row;
    the default now grows u_max until the cap's uniform-density error is negligible."""
    gibbs = fpstt.GibbsState(671.7, math.pi - 0.05, 1.0)
    for initial, bound in ((None, 2e-3), (gibbs, 1e-4)):
        grid = fpstt.default_grid(table_i_model, [0, 1], initial=initial, n_phi=64)
        p0 = gibbs.cell_averages(grid)
        mean, _ = fpstt.analysis.observables.moments(grid, p0)
        assert (np.max(np.abs(mean - gibbs.mean_direction)) < bound) == (initial is not None)
    assert grid.integrate(p0) == pytest.approx(1, abs=1e-9)
    sol = fpstt.solve(table_i_model, grid, p0, [0, 0.2])
    assert sol.diagnostics["max_mass_error"] < 1e-12


def test_grid_cost_does_not_grow_as_the_drive_weakens(table_i_model):
    weak = table_i_model.with_options(C1=table_i_model.C1 / 100, C2=table_i_model.C2 / 10)
    strong = fpstt.default_grid(table_i_model, [0, 0.05])
    slow = fpstt.default_grid(weak, [0, 5.0])
    assert slow.shape == strong.shape


def test_chart_grid_survives_save_and_load(field_on, table_i_gibbs, tmp_path):
    times = [0, 0.05]
    grid = fpstt.default_grid(field_on, times, initial=table_i_gibbs, du=0.05, n_phi=48)
    sol = fpstt.solve(field_on, grid, table_i_gibbs.cell_averages(grid), times)
    again = fpstt.load(fpstt.save(sol, tmp_path / "r.npz"))
    assert again.grid.chart.same_flow(grid.chart) and again.grid.chart.shear == grid.chart.shear
    np.testing.assert_allclose(again.grid.directions(), grid.directions(), atol=1e-14)


def test_ito_transform_matches_finite_differences_of_the_chart_map(field_on):
    """mu' = J mu + D : Hess(F), D' = J D J^T for F = chart.from_lab, by central differences
    (brute force, independent of the holomorphic algebra in MobiusChart.transform)."""
    chart = chart_for(field_on)
    theta, phi = np.array([0.5, 1.3, 2.2, 2.6]), np.array([0.3, 2.0, 4.0, 5.5])
    centre = chart.from_lab(theta, phi)

    def F(t, p):
        tc, pc = chart.from_lab(t, p)
        return np.array([tc, centre[1] + np.angle(np.exp(1j * (pc - centre[1])))])

    h = 1e-4
    f0 = F(theta, phi)
    f_t = (F(theta + h, phi) - F(theta - h, phi)) / (2 * h)
    f_p = (F(theta, phi + h) - F(theta, phi - h)) / (2 * h)
    f_tt = (F(theta + h, phi) - 2 * f0 + F(theta - h, phi)) / h ** 2
    f_pp = (F(theta, phi + h) - 2 * f0 + F(theta, phi - h)) / h ** 2
    f_tp = (F(theta + h, phi + h) - F(theta + h, phi - h) - F(theta - h, phi + h)
            + F(theta - h, phi - h)) / (4 * h * h)
    d_tt, d_tp, d_pp = field_on.diffusion(theta, phi)
    rest = (0 * theta, 0 * theta)                 # Itô eq17: the drift is all flow
    (mu_t, mu_p), (c_tt, c_tp, c_pp) = chart.transform(rest, (d_tt, d_tp, d_pp), theta, phi,
                                                       f0[0])
    mu = d_tt * f_tt + 2 * d_tp * f_tp + d_pp * f_pp
    quad = lambda a, b: (a[0] * b[0] * d_tt + (a[0] * b[1] + a[1] * b[0]) * d_tp  # noqa: E731
                         + a[1] * b[1] * d_pp)
    rows = [(f_t[0], f_p[0]), (f_t[1], f_p[1])]
    np.testing.assert_allclose(mu_t, mu[0], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(mu_p, mu[1], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose([c_tt, c_tp, c_pp], [quad(rows[0], rows[0]), quad(rows[0], rows[1]),
                                                    quad(rows[1], rows[1])], rtol=1e-6)


@pytest.mark.parametrize("shear", [0.0, None])
def test_free_diffusion_in_a_sheared_chart_decays_exactly(field_on, shear):
    """Brown diffusion alone, solved in the field-on chart (sheared: D_theta_phi ~ D_theta_theta
    / sin theta_c): <n> decays as exp(-2 D t).  The mixed term is discretised in u, where the
    Mercator rows are uniform; in theta it was inconsistent near the chart pole (error 2e-2)."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla
    from fpstt.numerics.operator import fokker_planck_matrix
    base = chart_for(field_on)
    chart = MobiusChart(base.zeta_s, base.zeta_u, base.lam,
                        base.shear if shear is None else shear)
    D, t, n = 0.05, 0.3, 60
    model = ChartModel(fpstt.SpinTorqueModel(0j, 0j, thermal_D=D), chart)
    grid = fpstt.SphereGrid.mercator(0.05, -12.0, 6.0, 96, chart)
    L = fokker_planck_matrix(model, grid, drift_offset=(
        lambda th: -model.C1.imag * np.sin(th), model.C1.real))
    gibbs = fpstt.GibbsState(50.0, 0.39, -1.345)            # at the chart's pole
    lu = spla.splu((sp.identity(grid.size) - (t / n) * L).tocsc())
    x = gibbs.cell_averages(grid).ravel()
    for _ in range(n):
        x = lu.solve(x)
    mean, _ = fpstt.analysis.observables.moments(grid, x.reshape(grid.shape))
    assert np.max(np.abs(mean - gibbs.mean_direction * np.exp(-2 * D * t))) < 1e-4


def test_z_prime_only_observables_refuse_chart_grids(field_on, table_i_model):
    chart_grid = fpstt.default_grid(field_on, [0, 1], n_phi=32)
    plain = fpstt.default_grid(table_i_model, [0, 1], n_phi=32)
    p = np.ones(chart_grid.shape)
    with pytest.raises(ValueError, match="Möbius chart"):
        fpstt.analysis.observables.theta_statistics(chart_grid, p)
    with pytest.raises(ValueError, match="different charts"):
        fpstt.observables.remap(p, chart_grid, plain)
    assert fpstt.observables.remap(p, chart_grid, chart_grid).shape == chart_grid.shape


def test_precession_alone_is_an_exact_rotation_on_the_default_path():
    """A field kept on with no current (n_e = 0: C1 = C2 = 0) is an elliptic flow: its chart
    is a rotation of the sphere and the state turns rigidly about the field, Re lambda = 0
    exactly (it used to come out 1e-14 and ask for a 60 PiB grid).  The default path of a
    config, against the exact rotation of the initial mean."""
    from scipy.spatial.transform import Rotation

    from fpstt.runs.config import RunConfig
    from fpstt.analysis.observables import moments
    cfg = RunConfig(micro=fpstt.table_i(n_e=0.0))
    cfg.model["field_on"] = True
    cfg.initial.update(kind="vmf", theta=1.0, phi=0.5, kappa=200.0)
    cfg.solve["times"] = [0.0, 0.25, 0.5]
    model = cfg.build_model()
    grid = cfg.build_grid(model)
    assert grid.chart.is_rotation and grid.chart.lam.real == 0.0
    sol = fpstt.solve(model, grid, cfg.build_gibbs().cell_averages(grid), cfg.solve["times"],
                      scheme=cfg.scheme(model))
    mean, _ = moments(grid, sol.p)
    turned = Rotation.from_rotvec(np.outer(cfg.solve["times"], model.omega)).apply(mean[0])
    assert np.abs(mean - turned).max() <= 1e-12
    assert sol.diagnostics["max_mass_error"] <= 1e-13
