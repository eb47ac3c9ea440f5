"""A settled state is held (fpstt.integration.settled): the bound and the default path."""

import numpy as np
import pytest

import fpstt
from fpstt.integration import coarsen, settled
from fpstt.integration.settled import HOLD_L1, Settling
from test_coarsen import _driven_near_attractor


class _Run:
    """What Settling reads of a run: its backend's mass of cell averages (unit cells)."""

    class backend:
        mass = staticmethod(lambda x: float(np.sum(x)))
        to_density = to_state = staticmethod(lambda x: x)


def _changes(settling, sizes):
    """Feed check segments whose states change by ``sizes`` (L1, of a unit mass)."""
    run, state, bounds = _Run(), np.full(4, 0.25), []
    for size in sizes:
        after = state + size / 2 * np.array([1, -1, 0, 0])
        bounds.append(settling.bound(run, state, after))
        state = after
    return bounds


def test_a_geometric_decay_is_bounded_by_its_tail():
    """Changes 1e-6, 1e-7, 1e-8: ratios 0.1, so what is left is 1e-8 * 0.1 / 0.9."""
    bounds = _changes(Settling(), [1e-6, 1e-7, 1e-8])
    assert bounds[:2] == [None, None]
    assert bounds[2] == pytest.approx(1e-8 * 0.1 / 0.9, rel=1e-6)
    assert Settling.holds(bounds[2])


@pytest.mark.parametrize("sizes", [[1e-9, 9e-10, 8.1e-10],        # slow: ratio 0.9
                                   [1e-6, 1e-9, 9e-10],            # a fast mode, then slow
                                   [1e-6, 1e-7, 5e-8]])            # tiny, not yet decayed
def test_a_slow_or_undecided_change_is_not_held(sizes):
    assert not Settling.holds(_changes(Settling(), sizes)[-1])


def test_another_run_or_an_output_restarts_the_chain():
    settling = Settling()
    _changes(settling, [1e-6, 1e-7])
    settling.reset()
    assert _changes(settling, [1e-8]) == [None]


def test_the_default_path_holds_a_settled_state_within_its_bound(monkeypatch):
    """The attractor run of test_coarsen settles by 0.8 t_n of 1: held there, its outputs are
    those of the run stepped to the end within HOLD_L1 (L1 of the mass); ``tails`` steps on."""
    model, near, grid = _driven_near_attractor()
    times = [0.1, 0.5, 1.0]
    sol = fpstt.solve(model, grid, near.cell_averages(grid), times)
    held = sol.diagnostics["held_from"]
    assert held is not None and 0.5 < held < 1.0
    assert 0 <= sol.diagnostics["hold_bound"] <= HOLD_L1
    with_tails = fpstt.solve(model, grid, near.cell_averages(grid), times, tails=True)
    assert with_tails.diagnostics["held_from"] is None
    monkeypatch.setattr(settled, "HOLD_L1", -1.0)
    stepped = fpstt.solve(model, grid, near.cell_averages(grid), times)
    assert stepped.diagnostics["held_from"] is None
    assert stepped.diagnostics["n_steps"] > sol.diagnostics["n_steps"]
    l1 = np.sum(np.abs(sol.p[-1] - stepped.p[-1]) * grid.cell_measure)
    assert l1 <= HOLD_L1


def test_fpstt_solve_says_when_it_held_the_state(tmp_path, capsys):
    """The same run from a config through the CLI: the saved diagnostics and one line on
    stderr say when the state was held and the bound."""
    from fpstt.cli import main
    from test_chartcells import TILTED
    _, near, _ = _driven_near_attractor()
    micro = "\n".join(f"{k} = {v!r}" for k, v in dict(TILTED, n_e=8 * 150000.0).items())
    config = tmp_path / "held.toml"
    config.write_text(f"[microscopic]\n{micro}\n[initial]\nkind = \"vmf\"\n"
                      f"theta = {near.theta_b!r}\nphi = {near.phi_b!r}\nkappa = 400.0\n"
                      "[grid]\ndu = 0.0092\nn_phi = 64\n[solve]\ntimes = [0.1, 0.5, 1.0]\n")
    out = tmp_path / "held.npz"
    assert main(["solve", "--config", str(config), "--out", str(out), "--quiet",
                 "--no-error-estimate"]) == 0
    held = fpstt.load(out).diagnostics["held_from"]
    assert held is not None and 0.5 < held < 1.0
    assert f"the state stopped moving at t = {held:.3g} t_n and is held" in capsys.readouterr().err


def test_a_step_of_one_move_comes_in_pairs_to_each_output_and_check(monkeypatch):
    """At 8x Table I's drive a move of 8 rows fills the width's step: one move a step, its
    remap before the shift on one step and after it on the next.  The default grid gives
    every output interval an even number of steps and the run checks its state on pairs of
    steps too, so that every segment ends on a closed pair (FlowPlan.steps_per_pair)."""
    from fpstt.integration import stepping
    from fpstt.numerics.transport import mercator_du
    model, near, grid = _driven_near_attractor()
    plan, du = grid.plan, mercator_du(grid)
    assert plan.moves_per_step(du) == 1 and plan.steps_per_pair(du) == 2
    times = np.array([0.1, 0.3])
    steps = np.diff(times, prepend=0.0) / plan.step(du)
    assert np.allclose(steps, 2 * np.round(steps / 2), atol=1e-9)
    checks = []
    monkeypatch.setattr(stepping, "check_steps",
                        lambda run: checks.append(coarsen.check_steps(run)) or checks[-1])
    sol = fpstt.solve(model, grid, near.cell_averages(grid), times)
    assert sol.diagnostics["n_steps"] % 2 == 0
    assert checks and all(k % 2 == 0 for k in checks)


def _stationary_n_z(model):
    """(mean, std, 4th central moment) of n_z in the stationary state of a phi-independent
    model: the zero-flux solution of its 1-D Fokker-Planck equation in theta,
    p(theta) proportional to exp(int mu_theta / D_tt) / D_tt (a density in theta, carrying
    sin theta through the geometric drift of the noise)."""
    from scipy.integrate import cumulative_trapezoid
    theta = np.linspace(1e-7, np.pi - 1e-7, 400001)
    mu, _ = model.drift(theta)
    d_tt = model.diffusion(theta)[0]
    log_p = cumulative_trapezoid(mu / d_tt, theta, initial=0.0)
    p = np.exp(log_p - log_p.max()) / d_tt
    p /= np.trapezoid(p, theta)
    n_z = np.cos(theta)
    mean = np.trapezoid(p * n_z, theta)
    moment = [np.trapezoid(p * (n_z - mean) ** k, theta) for k in (2, 4)]
    return mean, np.sqrt(moment[0]), moment[1]


def test_a_driven_easy_axis_along_z_prime_is_held_and_meets_its_exact_stationary_law():
    """Model-space seed 8 row 8 (an easy axis along z', alpha = 0.73, Brown noise at 300 K,
    6.8x Table I's drive, Itô): its state in the z' frame (phi modes, remapped) is
    stationary by 0.5 t_n, and was stepped 960 steps to 2 t_n; it is now held.  Its law is
    known exactly (the zero flux of the 1-D equation in theta): the default path's mean and
    std of n_z are within 4 standard errors of a Monte Carlo of N = 1e5 of it (Monte Carlo
    itself, N = 2e4 at the model-space step, was 4.1 s.e. from the grid in std: 0.75 %
    narrow at N = 1e5, its step's bias)."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).parents[1] / "validation"))
    from fpstt.analysis.observables import moments
    from model_space_draw import draw_models, to_config
    cfg = to_config(draw_models(8, 30)[8], grid=False)
    model = cfg.build_model()
    grid = cfg.build_grid(model)
    sol = fpstt.solve(model, grid, cfg.build_gibbs().cell_averages(grid), [0.5, 2.0])
    assert sol.diagnostics["held_from"] <= 1.0
    mean, std = moments(grid, sol.p)
    exact_mean, exact_std, m4 = _stationary_n_z(model)
    n = 1e5
    se_mean = exact_std / np.sqrt(n)
    se_std = np.sqrt((m4 - exact_std ** 4) / (4 * n * exact_std ** 2))
    assert np.all(np.abs(mean[:, 2] - exact_mean) < 4 * se_mean), (mean[:, 2], exact_mean)
    assert np.all(np.abs(std[:, 2] - exact_std) < 4 * se_std), (std[:, 2], exact_std, se_std)
