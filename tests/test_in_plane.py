"""The in-plane junction of issue 25's worked example (validation/in_plane.toml): its start in
one well of exp(-E / k_B T), and (slow) its write-error curve against Monte Carlo and against
a run refined 2x in u, t and phi."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest

import fpstt
from fpstt.runs.config import load_config
from fpstt.physics.initial import BoltzmannState, _sphere_quadrature, initial_state
from fpstt.sphere.grid import unit_vector
from fpstt.physics.magnet import Pulse, critical_drive, thermal_stability
from fpstt.runs.montecarlo import simulate
from fpstt.runs.wer import switching_curve
from fpstt.flow.sizes import hard_axis_n_phi

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "validation"))

CONFIG = load_config(Path(__file__).resolve().parents[1] / "validation" / "in_plane.toml")
MICRO = CONFIG.micro


def _quadrature_moments(state):
    t, f, w = _sphere_quadrature(512)
    n, p = unit_vector(t, f), state.per_area(t, f) * w
    mean = np.einsum("ijk,jk->i", n, p)
    return mean, np.sqrt(np.einsum("ijk,jk->i", n * n, p) - mean ** 2), p.sum()


def test_the_example_is_an_in_plane_junction():
    model = CONFIG.build_model()
    assert thermal_stability(MICRO) == pytest.approx(44.8, abs=0.05)
    assert model.hard_anisotropy / model.anisotropy == pytest.approx(20.0)   # B_d / B_k
    assert not model.phi_independent and model.C1.imag > 3 * critical_drive(MICRO)
    start = CONFIG.build_gibbs()
    assert start.side == -1 and start.mean_direction[2] < -0.99


def test_well_state_holds_one_well_and_its_samples_match_its_moments():
    """Samples of the well at -z' against the 512^2 quadrature of the density: means and
    stds within 4 s.e. (the flat (cos theta, phi) table of the whole-sphere state put <n_z>
    19 s.e. off at N = 2e5: its cells are 4x the well's width in 1 - cos theta)."""
    state = initial_state(MICRO, "well")
    mean, std, total = _quadrature_moments(state)
    assert total == pytest.approx(1.0, abs=1e-12)
    assert state.per_area(0.3, 1.0) == 0.0 and state.per_area(math.pi - 0.3, 1.0) > 0
    n = 200_000
    x = state.sample(n, np.random.default_rng(4))
    assert np.all(x[:, 2] < 0)
    assert np.all(np.abs(x.mean(axis=0) - mean) <= 4 * std / math.sqrt(n))
    assert np.all(np.abs(x.std(axis=0) - std) <= 4 * std / math.sqrt(2 * n))
    assert std[0] < 0.25 * std[1]                       # narrowed along the hard axis x'
    whole = BoltzmannState.from_microscopic(MICRO)
    assert whole.per_area(math.pi, 0.0) == pytest.approx(state.per_area(math.pi, 0.0) / 2)


def test_well_state_refuses_what_it_cannot_be():
    with pytest.raises(ValueError, match="needs an easy axis"):
        initial_state(fpstt.table_i(), "well")
    with pytest.raises(ValueError, match="equator"):
        initial_state(MICRO, "well", theta=math.pi / 2, phi=0.0)
    with pytest.raises(ValueError, match="'gibbs', 'vmf' or 'well'"):
        initial_state(MICRO, "wells")
    with pytest.raises(ValueError, match="`side` must be -1, 0 or 1"):
        BoltzmannState(0.0, (0, 0, 1), 1.0, (0, 0, 1), side=2)


def test_the_z_frame_grid_resolves_the_hard_axis_width_in_phi():
    """The thermal width of n . x' (0.0236 rad) is >= 1.75 phi cells at the z' equator: 512
    cells by default (384 scattered WER by 2.3 % during the switch); no change without
    Brown noise, nor for a hard axis along z' (axial)."""
    model = CONFIG.build_model()
    width = math.sqrt(model.thermal_D * (1 + model.alpha ** 2) / (model.alpha
                                                                  * model.hard_anisotropy))
    assert width == pytest.approx(0.0236, abs=2e-4)
    grid = fpstt.default_grid(model, [0, 1], initial=CONFIG.build_gibbs(), attractor=False)
    assert grid.n_phi == 512 and 2 * math.pi / grid.n_phi * 1.75 <= width
    assert fpstt.default_grid(model, [0, 1], initial=CONFIG.build_gibbs(), attractor=False,
                              n_phi=96).n_phi == 96               # asked for: kept
    quiet = model.with_options(thermal_D=0.0)
    axial = model.with_options(hard_axis=(0.0, 0.0, 1.0))
    for other in (quiet, axial):
        assert hard_axis_n_phi(other, 384) == 384


def _device(current):
    given = {k: v for k, v in MICRO.to_dict().items() if k != "n_e"}
    micro = fpstt.table_i(**dict(given, current_A=current))
    return fpstt.SpinTorqueModel.from_microscopic(micro, thermal=True), initial_state(
        micro, **CONFIG.initial)


@pytest.mark.slow
def test_wer_of_a_pulse_against_monte_carlo():
    """A 2 t_n pulse at 0.6 mA on the example's grid (512 phi cells, du = 0.0184): WER
    within 4 s.e. (binomial, plus 1/N) of 1e5 trajectories (dt = 5e-4) wherever WER ≥ 1e-4,
    during the pulse and 1 t_n after it."""
    model, start = _device(6e-4)
    times = [0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0]
    curve = switching_curve(model, start, 3.0, pulse=Pulse(2.0), du=CONFIG.grid["du"],
                            n_phi=CONFIG.grid["n_phi"])
    n = 100_000
    mc = simulate(model, start, times, n, dt=5e-4, seed=11, pulse=Pulse(2.0))
    wer = curve.at(times)
    se = np.sqrt(np.maximum(wer * (1 - wer), 0) / n) + 1 / n
    reach = wer >= 1e-4
    assert reach.sum() >= 6 and wer[-1] < 1e-2
    z = np.abs((1 - mc.p_switch) - wer) / se
    assert np.all(z[reach] <= 4), np.round(z, 2)


@pytest.mark.slow
def test_wer_curve_against_a_run_refined_2x_in_u_t_and_phi():
    """The example's constant-drive curve at 0.8 mA (512 phi cells, du = 0.0184, 420 folded
    steps of 4 rad, each in 16 remaps) against (1 024 cells, du / 2, every step bound halved): within 1 % from WER 0.86
    down to 1e-12 (0.42 % measured, docs/validation.md §11; ~25 min)."""
    from _common import halved_step_bounds
    model, start = _device(8e-4)
    du, n_phi = CONFIG.grid["du"], CONFIG.grid["n_phi"]
    base = switching_curve(model, start, 4.5, du=du, n_phi=n_phi)
    with halved_step_bounds():
        fine = switching_curve(model, start, 4.5, du=du / 2, n_phi=2 * n_phi)
    times = np.arange(0.5, 4.5 + 1e-9, 0.25)
    ref = fine.at(times)
    assert ref[-1] < 1e-12
    assert np.all(np.abs(base.at(times) / ref - 1) <= 0.01)
