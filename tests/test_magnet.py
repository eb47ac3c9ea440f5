"""Issue 14: damping, anisotropy, thermal noise and pulses — against exact results (Boltzmann,
Brown), an independent 1-D solver and Monte Carlo."""

import math
import warnings

import numpy as np
import pytest

import fpstt
from fpstt.physics.constants import BOLTZMANN, GYROMAGNETIC_RATIO
from fpstt.integration.driven import solve_pulse
from fpstt.numerics.fourier import SpectralBackend
from fpstt.physics.initial import BoltzmannState, initial_state
from fpstt.physics.magnet import Pulse, critical_drive, thermal_stability
from fpstt.runs.montecarlo import simulate
from fpstt.analysis.observables import l1_distance, moments
from fpstt.numerics.operator import fokker_planck_matrix
from fpstt.analysis.switching import unswitched_probability
from fpstt.runs.wer import switching_curve

from oracle_1d import marginal_in_cos_theta

# perpendicular device: Table I magnet and current, B_k = 2.2 T along z' (Delta ≈ 49 at 300 K)
DEVICE = fpstt.table_i(B=0.0, B_k=2.2, alpha=0.01, T=300.0)
PULSE = Pulse(4.0, rise=0.5, fall=0.5)
KAPPA_WELL = 98.5                               # the well's curvature 2 Delta


def _tilted(B_k, alpha):
    """No STT; tilted field, tilted easy axis, damping and Brown noise (t_n = 0.1 us)."""
    return fpstt.table_i(n_e=0.0, B=0.05, B_theta=0.6, B_phi=0.3, B_k=B_k, easy_theta=1.0,
                         easy_phi=2.0, alpha=alpha, T=300.0, t_n=1e-7)


def test_landau_lifshitz_is_the_paper_precession_without_damping():
    micro = fpstt.table_i()
    model = fpstt.SpinTorqueModel.from_microscopic(micro, field_on=True)
    th, ph = np.array([0.3, 1.2, 2.5]), np.array([0.1, 2.0, 4.0])
    wx, wy, wz = model.omega
    s, c = np.sin(th), np.cos(th)
    mu_t, mu_p = model.drift(th, ph)
    np.testing.assert_allclose(mu_t, -model.C1.imag * s - wx * np.sin(ph) + wy * np.cos(ph),
                               rtol=1e-12)
    np.testing.assert_allclose(mu_p, model.C1.real - (wx * c * np.cos(ph) + wy * c * np.sin(ph)
                                                      - wz * s) / s, rtol=1e-12)


def test_damping_lowers_the_energy_and_params_report_the_magnet():
    micro = _tilted(0.1, 0.5)
    model = fpstt.SpinTorqueModel.from_microscopic(micro, field_on=True)
    state = BoltzmannState.from_microscopic(micro)
    th, ph = np.meshgrid(np.linspace(0.1, 3.0, 9), np.linspace(0, 6, 7), indexing="ij")
    mu_t, mu_p = model.drift(th, ph)
    # d(-E/kT)/dt = grad(log P) . velocity >= 0 (damping descends the energy)
    eps = 1e-6
    dlog_t = (np.log(state.per_area(th + eps, ph)) - np.log(state.per_area(th - eps, ph))) / 2 / eps
    dlog_p = (np.log(state.per_area(th, ph + eps)) - np.log(state.per_area(th, ph - eps))) / 2 / eps
    assert np.all(dlog_t * mu_t + dlog_p * mu_p >= -1e-9)
    assert thermal_stability(micro) == pytest.approx(2.24, abs=0.01)
    d = 0.5 * BOLTZMANN * 300.0 / (1.25 * micro.hbar * micro.J) * 1e-7
    assert fpstt.SpinTorqueModel.from_microscopic(micro, thermal=True).thermal_D == pytest.approx(d)
    # STT overcomes damping in the device when Im C1 > alpha gamma B_k t_n / (1 + alpha^2)
    assert critical_drive(DEVICE) == pytest.approx(0.01 * GYROMAGNETIC_RATIO * 2.2e-9 / 1.0001)


def _relax(model, grid, p):
    """Backward Euler with steps growing tenfold: far past every relaxation time."""
    for dt, t in ((1e-3, 1e-2), (1e-2, 0.1), (0.1, 1.0), (1.0, 10.0), (100.0, 1000.0)):
        p = fpstt.solve(model, grid, p, [t], scheme="be", dt=dt).p[-1]
    return p


@pytest.mark.parametrize("B_k, alpha, delta", [(0.1, 0.5, 2.24), (0.45, 1.0, 10.1)])
def test_relaxes_to_boltzmann_on_the_sphere(B_k, alpha, delta):
    """Tilted field + anisotropy + damping + Brown noise, from a vMF state far from
    equilibrium: exp(-E/kT) (2-D, no symmetry), L1 ≤ 1e-3 on the default grid."""
    micro = _tilted(B_k, alpha)
    model = fpstt.SpinTorqueModel.from_microscopic(micro, field_on=True, thermal=True)
    assert not model.phi_independent
    exact = BoltzmannState.from_microscopic(micro)
    assert exact.delta == pytest.approx(delta, abs=0.05)
    grid = fpstt.default_grid(model, [1.0])
    start = fpstt.GibbsState(50.0, 2.5, 4.0).cell_averages(grid)
    assert l1_distance(grid, start, exact.cell_averages(grid)) > 1.5
    with pytest.warns(RuntimeWarning):                 # the unsplit scheme says what it does
        p = _relax(model, grid, start)
    assert l1_distance(grid, p, exact.cell_averages(grid)) <= 1e-3


@pytest.mark.parametrize("B_k", [0.45, 0.67, 0.9])
def test_escape_over_the_barrier_follows_brown(B_k):
    """Slowest relaxation rate of the solver's operator (uniaxial, no field, no STT) against
    Brown's asymptote 1/tau = 2D (2 / sqrt(pi)) Delta^1.5 exp(-Delta), good to O(1/Delta)."""
    micro = fpstt.table_i(n_e=0.0, B=0.0, B_k=B_k, alpha=1.0, T=300.0, t_n=1e-7)
    model = fpstt.SpinTorqueModel.from_microscopic(micro, thermal=True)
    delta = thermal_stability(micro)
    grid = fpstt.default_grid(model, [1.0], n_phi=8)
    T = SpectralBackend(fokker_planck_matrix(model, grid, n_phi=3), grid).T[0].real
    A = np.diag(T[1]) + np.diag(T[0, 1:], 1) + np.diag(T[2, :-1], -1)
    rate = np.sort(np.abs(np.linalg.eigvals(A).real))[1]
    brown = 2 * model.thermal_D * 2 / math.sqrt(math.pi) * delta ** 1.5 * math.exp(-delta)
    assert abs(rate / brown - 1) <= 1.5 / delta


def _device_marginal(pulse, times):
    """theta-marginal of the device under ``pulse`` from the 1-D solver (coefficients
    written here from Eq. 17, the Landau-Lifshitz damping and Brown's D)."""
    model = fpstt.SpinTorqueModel.from_microscopic(DEVICE, thermal=True)
    a, b, rate = model.C2.real, model.C2.imag, model.C1.imag
    alpha, wk = DEVICE.alpha, GYROMAGNETIC_RATIO * DEVICE.B_k * DEVICE.t_n
    d_th = alpha * BOLTZMANN * DEVICE.T / ((1 + alpha ** 2) * DEVICE.hbar * DEVICE.J) * 1e-9

    def mu(th, s):
        return (-rate * s * np.sin(th) + d_th * np.cos(th) / np.sin(th)
                - alpha / (1 + alpha ** 2) * wk * np.cos(th) * np.sin(th))

    def d_tt(th, s):
        return 0.5 * (a * a * np.cos(th) ** 2 + b * b) * s + d_th

    return marginal_in_cos_theta(mu, d_tt, lambda th: np.log(np.sin(th))
                                 - KAPPA_WELL * np.cos(th), times, drive=pulse, n=4000)


@pytest.fixture(scope="module")
def device_oracle():
    times = np.array([0.5, 1.0, 2.0, 3.0, 4.0, 5.0])
    return (times, *_device_marginal(PULSE, times))


def test_device_wer_below_1e15_matches_the_1d_solver():
    """Issue 15 with an anisotropy and a pulse: the WER curve (defaults) within 1 % of the
    1-D solver from 0.8 down to 2e-17 during a 14 t_n pulse."""
    pulse, times = Pulse(14.0, rise=0.5, fall=0.5), np.array([1.0, 4.0, 8.0, 10.0, 12.0])
    x, mass = _device_marginal(pulse, times)
    wer_ref = mass[:, : mass.shape[1] // 2].sum(axis=1)
    model, start = _device()
    curve = switching_curve(model, start, 12.0, pulse=pulse)
    assert wer_ref[-1] < 1e-16 and curve.floor < 1e-17
    assert np.all(np.abs(curve.at(times) / wer_ref - 1) <= 0.01)


def _device():
    model = fpstt.SpinTorqueModel.from_microscopic(DEVICE, thermal=True)
    return model, initial_state(DEVICE, "vmf", theta=math.pi, phi=0.0, kappa=KAPPA_WELL)


def test_device_pulse_matches_the_1d_solver(device_oracle):
    """P_sw(t) and the theta-marginal of the 2-D solver (default grid) under a pulse with
    ramps, e ∥ z', STT + anisotropy + damping + Brown noise."""
    times, x, mass = device_oracle
    model, start = _device()
    grid = fpstt.default_grid(model, times, initial=start)
    with warnings.catch_warnings():      # split by default (z-remapped): no Péclet warning
        warnings.simplefilter("error", RuntimeWarning)
        sol = solve_pulse(model, grid, start.cell_averages(grid), times, PULSE)
    wer_ref = mass[:, : mass.shape[1] // 2].sum(axis=1)
    assert np.all(np.abs(unswitched_probability(grid, sol.p) / wer_ref - 1) <= 0.01)
    edges = np.linspace(0, np.pi, 61)                      # marginal on 60 bins in theta
    for k in range(times.size):
        ref = np.diff(np.interp(-np.cos(edges), x, np.concatenate([[0], np.cumsum(mass[k])])))
        rows = sol.p[k].sum(axis=-1) * grid.dphi * grid.dtheta
        fp = np.diff(np.interp(edges, grid.theta_edges, np.concatenate([[0], np.cumsum(rows)])))
        assert np.abs(ref[::-1] - fp).sum() <= 1e-2
    curve = switching_curve(model, start, 5.0, pulse=PULSE)
    assert np.all(np.abs(curve.at(times) / wer_ref - 1) <= 0.01)


def test_device_against_monte_carlo():
    """Means and P_sw of the device under the pulse within 4 standard errors at every time;
    stds at t = 0.5, while the law is one Gaussian-like well (later it is bimodal, then
    dominated by the ~1e-4 of unswitched magnets: its standard error is not the normal one)."""
    model, start = _device()
    times = [0.5, 1.0, 2.0, 5.0]
    grid = fpstt.default_grid(model, times, initial=start)
    with warnings.catch_warnings():      # split by default (z-remapped): no Péclet warning
        warnings.simplefilter("error", RuntimeWarning)
        sol = solve_pulse(model, grid, start.cell_averages(grid), times, PULSE)
    mc = simulate(model, start, times, 20_000, dt=2e-3, seed=5, pulse=PULSE)
    mean, std = moments(grid, sol.p)
    assert np.all(np.abs(mc.mean - mean) <= 4 * mc.stderr + 1e-6)
    assert np.all(np.abs(mc.std[0] - std[0]) <= 4 * mc.std[0] / math.sqrt(2 * 20_000))
    wer = unswitched_probability(grid, sol.p)
    se = np.sqrt(wer * (1 - wer) / 20_000) + 1 / 20_000
    assert np.all(np.abs((1 - mc.p_switch) - wer) <= 4 * se)


def test_tilted_magnet_against_monte_carlo():
    """The non-axial terms (tilted field and easy axis, damping, Brown noise) on the sparse
    2-D path against Monte Carlo: means and stds within 4 standard errors."""
    micro = _tilted(0.1, 0.5)
    model = fpstt.SpinTorqueModel.from_microscopic(micro, field_on=True, thermal=True)
    start = fpstt.GibbsState(50.0, 2.5, 4.0)
    times = [0.002, 0.005, 0.01]
    grid = fpstt.default_grid(model, times, du=0.03, n_phi=128)
    sol = fpstt.solve(model, grid, start.cell_averages(grid), times, scheme="tr-bdf2", dt=1e-4)
    mc = simulate(model, start, times, 20_000, dt=2e-5, seed=9)
    mean, std = moments(grid, sol.p)
    assert np.all(np.abs(mc.mean - mean) <= 4 * mc.stderr)
    assert np.all(np.abs(mc.std - std) <= 4 * mc.std / math.sqrt(2 * 20_000))


def test_pulse_pieces_and_a_user_drive():
    from fpstt.physics.magnet import FunctionDrive
    pulse = Pulse(2.0, rise=0.4, fall=0.2)
    pieces = pulse.segments(3.0)
    assert pieces[0][0] == 0.0 and pieces[-1][1] == 3.0 and pieces[-1][2] == 0.0
    assert all(b > a for a, b, _ in pieces)
    # the pieces' drive integrates the pulse exactly (midpoint rule on linear ramps)
    assert sum((b - a) * s for a, b, s in pieces) == pytest.approx(2.0 - 0.2 - 0.1)
    with pytest.raises(ValueError, match="rise \\+ fall"):
        Pulse(1.0, rise=0.6, fall=0.6)
    model, start = _device()
    ramp = FunctionDrive(lambda t: np.clip(t / 2.0, 0, 1), step=0.1)
    same = FunctionDrive(lambda t: np.where(t < 2.0, 1.0, 0.0), step=0.1)
    a = switching_curve(model, start, 3.0, pulse=same).at([3.0])[0]
    b = switching_curve(model, start, 3.0, pulse=Pulse(2.0)).at([3.0])[0]
    assert a == pytest.approx(b, rel=1e-6)                 # the same drive, two ways
    assert switching_curve(model, start, 3.0, pulse=ramp).at([3.0])[0] > b   # less drive


def test_split_scheme_for_a_flow_with_no_mobius_chart():
    """Asked for explicitly, the split scheme runs the anisotropic device in the z' frame (the
    STT flow shifted exactly, the rest implicit): WER within 1 % of the 1-D solver."""
    times = np.array([0.5, 1.0, 2.0])
    x, mass = _device_marginal(None, times)
    wer_ref = mass[:, : mass.shape[1] // 2].sum(axis=1)
    model, start = _device()
    grid = fpstt.default_grid(model, times, initial=start, n_phi=8)
    sol = fpstt.solve(model, grid, start.cell_averages(grid), times, scheme="split-tr-bdf2")
    assert np.all(np.abs(unswitched_probability(grid, sol.p) / wer_ref - 1) <= 0.01)


def test_pulse_pieces_warn_once():
    """TR-BDF2 asked for on the device: each pulse piece upwinds, one warning says so (one
    health check over the whole run, at the worst piece's Péclet number)."""
    model, start = _device()
    times = [0.5, 1.0]
    grid = fpstt.default_grid(model, times, initial=start)
    with pytest.warns(RuntimeWarning, match="Péclet") as heard:
        solve_pulse(model, grid, start.cell_averages(grid), times, Pulse(0.8, rise=0.2,
                                                                          fall=0.2),
                    scheme="tr-bdf2")
    peclet = [w for w in heard if "Péclet" in str(w.message)]
    assert len(peclet) == 1


def test_weak_axial_anisotropy_is_split_by_default_against_monte_carlo():
    """A driven easy axis along z' with weak noise (model-space row 13: cell Péclet 1.8e3,
    TR-BDF2 was 149 s.e. off in P_sw): the default plan is the z' frame with the STT shifted
    exactly and the rest remapped on the phi modes; means and P_sw within 4 s.e. of Monte
    Carlo at every time."""
    micro = fpstt.table_i(B=0.0607, B_theta=2.770, B_phi=2.698, alpha=0.0, B_k=0.00992,
                          T=1.0, n_e=36797.0)
    model = fpstt.SpinTorqueModel.from_microscopic(micro, interpretation="stratonovich")
    start, times = initial_state(micro), [0.5, 1.0, 1.5, 2.0]
    grid = fpstt.default_grid(model, times, initial=start)
    assert model.phi_independent and grid.plan.kind == "z-remapped"
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        sol = fpstt.solve(model, grid, start.cell_averages(grid), times,
                          scheme=grid.plan.scheme)
    assert sol.diagnostics["scheme"] == "split-tr-bdf2" and sol.diagnostics["n_phi_modes"] < 193
    mc = simulate(model, start, times, 20_000, dt=1e-3, seed=1)
    mean, _ = moments(grid, sol.p)
    assert np.all(np.abs(mc.mean - mean) <= 4 * mc.stderr)
    p_switch = 1 - unswitched_probability(grid, sol.p)
    se = np.sqrt(mc.p_switch * (1 - mc.p_switch) / 20_000) + 1 / 20_000
    assert np.all(np.abs(p_switch - mc.p_switch) <= 4 * se)
