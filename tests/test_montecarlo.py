import math

import numpy as np
import pytest

import fpstt
from conftest import observed_order
from fpstt.runs.montecarlo import simulate
from fpstt.analysis.observables import l1_distance, moments

TIMES = np.linspace(0.0, 1.0, 11)
READINGS = [("ito", "eq17"), ("stratonovich", "eq17"), ("stratonovich", "lab")]


def test_same_seed_same_result(table_i_model, table_i_gibbs):
    g = fpstt.SphereGrid.uniform(16, 16)
    a = simulate(table_i_model, table_i_gibbs, [0.1, 0.2], 3000, dt=0.01, seed=4, chunk=1000, grid=g)
    b = simulate(table_i_model, table_i_gibbs, [0.1, 0.2], 3000, dt=0.01, seed=4, chunk=1000, grid=g)
    c = simulate(table_i_model, table_i_gibbs, [0.1, 0.2], 3000, dt=0.01, seed=5, chunk=1000, grid=g)
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.hist, b.hist)
    assert not np.array_equal(a.mean, c.mean)
    assert g.integrate(a.hist[0]) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("interpretation, reading", READINGS)
def test_fp_and_mc_moments_agree(table_i_model, table_i_gibbs, interpretation, reading):
    """Mean of n = J/J from FP and MC agree within 4 standard errors at 11 times."""
    model = table_i_model.with_options(interpretation=interpretation, reading=reading)
    grid = fpstt.default_grid(model, TIMES, steps_per_unit=200, n_phi=256)
    sol = fpstt.solve(model, grid, table_i_gibbs.cell_averages(grid), TIMES)
    mean_fp, std_fp = moments(grid, sol.p)
    mc = simulate(model, table_i_gibbs, TIMES, 40_000, dt=0.01, seed=11)
    z = (mc.mean - mean_fp) / mc.stderr
    print(f"{interpretation}/{reading}: max |z| = {np.abs(z).max():.2f}")
    assert np.all(np.abs(z) <= 4)
    # the spread agrees too (std of a std estimate ~ std / sqrt(2 N), plus dt bias)
    np.testing.assert_allclose(mc.std[1:], std_fp[1:], rtol=0.05)


@pytest.mark.parametrize("interpretation, reading, factor", [
    ("ito", "eq17", 1.0), ("stratonovich", "lab", 2.0)])
def test_mc_stationary_theta2(table_i_model, table_i_gibbs, interpretation, reading, factor):
    """<theta^2> = |C2|^2/(2 Im C1) (Eq. 17 as written) or |C2|^2/Im C1 (lab reading).

    The dt bias of the splitting on the OU limit is -(k dt)^2/6 relative, 5e-4 here: well
    inside 3 standard errors (0.7 %), so it is not added."""
    model = table_i_model.with_options(interpretation=interpretation, reading=reading)
    ou = abs(model.C2) ** 2 / (2 * model.C1.imag)
    mc = simulate(model, table_i_gibbs, [3.0], 40_000, dt=0.01, seed=21)
    print(f"{reading}: <theta^2> / OU = {mc.theta2[0] / ou:.4f} ± {mc.theta2_stderr[0] / ou:.4f}")
    assert abs(mc.theta2[0] - factor * ou) <= 3 * mc.theta2_stderr[0]


@pytest.mark.parametrize("interpretation, reading", [("ito", "eq17"), ("stratonovich", "lab")])
def test_weak_order_on_free_rotational_diffusion(interpretation, reading):
    """<cos theta>(t) = <cos theta>(0) exp(-2 D t): the dt bias falls at first order."""
    D, t_end = 1.0, 0.5
    model = fpstt.SpinTorqueModel(0j, 0j, thermal_D=D, interpretation=interpretation,
                                  reading=reading)
    gibbs = fpstt.GibbsState(1e4, 1.0, 0.0)
    exact = gibbs.mean_direction[2] * math.exp(-2 * D * t_end)
    dts, bias = [0.05, 0.025, 0.0125], []
    for dt in dts:
        mc = simulate(model, gibbs, [t_end], 200_000, dt=dt, seed=5)
        bias.append(abs(mc.mean[0, 2] - exact))
        assert bias[-1] > 4 * mc.stderr[0, 2]         # resolved above the statistical noise
    order = observed_order(dts, bias)
    print(f"weak order {order:.2f}, biases {bias}")
    assert 0.8 < order < 1.3


def test_mc_histogram_approaches_fp_density(table_i_model, table_i_gibbs):
    """L1(FP, MC histogram) falls with N until it meets the FP/histogram resolution."""
    times = [1 / 3]
    grid = fpstt.default_grid(table_i_model, times, steps_per_unit=60, n_phi=64)
    sol = fpstt.solve(table_i_model, grid, table_i_gibbs.cell_averages(grid), times)
    dists = [l1_distance(grid, sol.p[0], simulate(table_i_model, table_i_gibbs, times, n,
                                                  dt=0.01, seed=2, grid=grid).hist[0])
             for n in (1_000, 16_000)]
    print("L1 FP vs MC histogram", dists)
    assert dists[1] < 0.5 * dists[0]


def test_bad_arguments(table_i_model, table_i_gibbs):
    with pytest.raises(ValueError, match="`n_samples` must be an integer ≥ 2"):
        simulate(table_i_model, table_i_gibbs, [1.0], 1)
    with pytest.raises(ValueError, match="`dt` must be finite and > 0"):
        simulate(table_i_model, table_i_gibbs, [1.0], 10, dt=0.0)


def test_eq17_noise_next_to_a_pole_stays_finite():
    """A strong easy axis along z' with damping pulls magnets to within 1e-8 rad of the pole,
    where Eq. 17's phi noise goes as 1/sin theta: the ensemble stays finite (it was NaN)."""
    micro = fpstt.table_i(B_k=0.46, alpha=0.22, n_e=6.9e4, T=3.0, B=0.072, B_theta=1.46,
                          B_phi=2.66)
    model = fpstt.SpinTorqueModel.from_microscopic(micro, interpretation="stratonovich")
    mc = simulate(model, fpstt.GibbsState.from_microscopic(micro), [1.0, 2.0], 2000, seed=3)
    assert np.all(np.isfinite(mc.mean)) and np.all(np.isfinite(mc.std))
    assert abs(mc.mean[-1, 2]) > 0.999                  # at a pole


def test_a_trajectory_that_starts_switched_has_a_first_passage_time_of_zero(table_i_model):
    """With the threshold below every start (n_z > -1), each trajectory starts switched: the
    mean of min(tau, T) is 0, not a crossing extrapolated from its first step (which divided
    by zero where a step did not move n_z: model-space seed 3's Monte Carlo)."""
    start = fpstt.GibbsState(50.0, 2.0, 0.0)
    run = simulate(table_i_model, start, [0.05], 200, dt=1e-3, seed=1, threshold=-1.0)
    assert run.switch_time_mean == 0.0 and run.switch_time_stderr == 0.0
    assert np.all(run.p_switch == 1.0)
    unswitched = simulate(table_i_model, start, [0.05], 200, dt=1e-3, seed=1, threshold=0.99)
    assert unswitched.switch_time_mean == pytest.approx(0.05)
