"""The z'-frame remap of a pulse (fpstt.numerics.zremap): the whole noiseless flow remapped when a row's
step turns the state too far (FlowPlan.folds_shift), against the exact pushforward."""

import dataclasses
import math
import warnings

import numpy as np
import pytest

import fpstt.flow.flowplan as flowplan
import fpstt.flow.sizes as sizes
from fpstt.runs.config import RunConfig
from fpstt.integration.driven import solve_pulse
from fpstt.sphere.grid import SphereGrid
from fpstt.integration.guards import _cells_per_width, cells_across, health_warnings
from fpstt.analysis.observables import moments
from fpstt.physics.pushforward import characteristics, gibbs_quadrature
from fpstt.numerics.zremap import MagnetFlow


def _weak_drive_under_a_strong_field():
    """Model space seed 1 row 17 without noise: a field of 10 rad/t_n at 150 deg, a drive of
    0.08 per t_n (rows of 0.22 t_n, 2.3 rad), a vMF state on the field's axis."""
    cfg = RunConfig()
    cfg.micro = dataclasses.replace(cfg.micro, B=0.0585, B_theta=2.62, B_phi=0.33, alpha=0.0,
                                    T=1.0, n_e=2245.7)
    cfg.model.update(field_on=True, noise=False)
    cfg.initial.update(kind="vmf", theta=2.62, phi=0.33, kappa=1000.0)
    cfg.pulse["width"] = 0.3
    cfg.solve["times"] = [0.15, 0.3, 0.45]
    return cfg


def _pushforward_means(model, start, pulse, times):
    """<n> at ``times`` of the initial law pushed along the noiseless flow, piece by piece."""
    nodes, weights = gibbs_quadrature(start, 32, 32)
    means, t_now = {}, 0.0
    for t0, t1, s in pulse.segments(times[-1]):
        for t in [t for t in times if t0 < t <= t1] + [t1]:
            if t > t_now:
                nodes, _ = characteristics(model.with_drive(s), nodes, t - t_now,
                                           steps_per_unit=400, log_jacobian=False)
                t_now = t
            means.setdefault(t, nodes @ weights)
    return np.array([means[t] for t in times])


def test_weak_drive_under_a_strong_field_follows_the_pushforward(monkeypatch):
    """Remapped whole (folded), the means are within 1e-4 of the pushforward (the state moves
    by 7e-3); with whole-row shifts between the remaps (FOLD_TURN raised: the pulse branch's
    and main's path) they were 7.5e-3 off, as large as the motion itself."""
    cfg = _weak_drive_under_a_strong_field()
    model, start, pulse = cfg.build_model(), cfg.build_gibbs(), cfg.build_pulse()
    times = cfg.solve["times"]
    grid = cfg.build_grid(model)
    assert grid.plan.folds_shift(grid.du)
    sol = solve_pulse(model, grid, start.cell_averages(grid), times, pulse)
    mean, _ = moments(grid, sol.p)
    exact = _pushforward_means(model, start, pulse, times)
    assert np.max(np.abs(exact - start.direction)) > 5e-3          # the state moves
    assert np.max(np.abs(mean - exact)) < 2e-4
    monkeypatch.setattr(flowplan, "FOLD_TURN", 1e9)               # whole-row kicks
    grid = cfg.build_grid(model)
    assert not grid.plan.folds_shift(grid.du)
    kicked, _ = moments(grid, solve_pulse(model, grid, start.cell_averages(grid), times,
                                          pulse).p)
    assert np.max(np.abs(kicked - exact)) > 3e-3


def test_plan_folds_only_a_weak_drive_under_a_fast_magnet():
    cfg = _weak_drive_under_a_strong_field()
    model = cfg.build_model()
    plan = cfg.build_grid(model).plan
    du = sizes.DEFAULT_DU
    assert plan.kind == "z-remapped" and plan.folds_shift(du)
    rate, step = flowplan.magnet_rate(model), plan.step(du)          # no damping to bound it
    remaps = plan.remap_substeps(step, du)                          # each one 0.25 rad
    assert step <= min(sizes.FOLD_STEP_TURN / rate, sizes.CHART_STEP_MAX)
    assert remaps > 1 and step * rate == pytest.approx(remaps * sizes.FOLD_TURN)
    assert plan.remap_substeps(sizes.FOLD_TURN / rate, du) == 1
    strong = flowplan.grid_plan(model.with_drive(100.0), cfg.build_grid(model))
    assert not strong.folds_shift(du)                               # 0.023 rad a row
    assert strong.remap_substeps(step, du) == 1                     # rows shifted: one remap
    assert flowplan.grid_plan(model.with_drive(0.0), cfg.build_grid(model)).folds_shift(du)


def test_magnet_flow_is_the_drift_at_no_drive_and_evaluates_once():
    """The drift is linear in C1 (Eq. 17): magnet + (-Im C1 sin theta, Re C1)."""
    model = _weak_drive_under_a_strong_field().build_model().with_options(C2=0j)
    magnet = MagnetFlow(model)
    rng = np.random.default_rng(3)
    theta, phi = rng.uniform(0.1, 3.0, 50), rng.uniform(0, 6.28, 50)
    mu_t, mu_p = model.drift(theta, phi)
    m_t, m_p = magnet(theta, phi)
    assert np.allclose(mu_t, m_t - model.C1.imag * np.sin(theta), rtol=0, atol=1e-12)
    assert np.allclose(mu_p, m_p + model.C1.real, rtol=0, atol=1e-12)
    magnet(theta.copy(), phi.copy())
    assert magnet.n_evaluations == 1


def _z_grid():
    return SphereGrid.mercator(0.0184, -9.0, 3.5, 384)


def _band(grid, across: float, along: float, tilt: float = 0.0, at=(1.2, 3.0)):
    """A (theta, phi) density about (theta, phi) = ``at``: Gaussian of std ``across`` (rad)
    and ``along`` (rad of arc) along directions turned by ``tilt`` from theta and phi."""
    theta, phi = np.meshgrid(grid.theta, grid.phi, indexing="ij")
    x, y = theta - at[0], (phi - at[1]) * np.sin(at[0])
    a = math.cos(tilt) * x + math.sin(tilt) * y
    b = -math.sin(tilt) * x + math.cos(tilt) * y
    p = np.exp(-0.5 * (a / across) ** 2 - 0.5 * (b / along) ** 2) * np.sin(theta)
    return p / np.sum(p * grid.cell_measure)


def test_cells_across_sees_a_filament_that_the_marginals_miss():
    """A state drawn out obliquely (1.2 cells across, 0.3 rad long) spans > 10 cells per std
    in theta and in phi, which the resolution warning reads; across it, 1.2 cells."""
    grid = _z_grid()
    cell = grid.dtheta[np.searchsorted(grid.theta_edges, 1.2) - 1]      # 0.017 rad
    round_state = _band(grid, 4 * cell, 4 * cell)
    assert abs(cells_across(grid, round_state) - 4) < 0.4
    filament = _band(grid, 1.2 * cell, 0.3, tilt=math.pi / 4)
    assert min(_cells_per_width(grid, filament)) > 10
    assert abs(cells_across(grid, filament) - 1.2) < 0.3
    diagnostics = dict(max_mass_error=0.0, mass0=1.0, min_p_ratio_output=0.0, remapped=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        messages = health_warnings(grid, np.array([round_state, filament]), diagnostics)
    assert len(messages) == 1 and "output 1 is 1.2 cells across" in messages[0] and caught
    diagnostics["remapped"] = False                 # a shift alone does not smear it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert not health_warnings(grid, np.array([filament]), diagnostics)


def test_two_round_lobes_are_no_filament():
    """A bimodal state (seed 1 row 14: exp(-E / k_B T) at 1 K on a tilted easy axis, its
    lobes at +-e) read 0.0 cells across over the whole sphere; each lobe is round."""
    grid = _z_grid()
    cell = grid.dtheta[np.searchsorted(grid.theta_edges, 1.2) - 1]
    lobe = _band(grid, 4 * cell, 4 * cell, at=(1.2, 2.0))
    other = _band(grid, 4 * cell, 4 * cell, at=(math.pi - 1.2, 2.0 + math.pi))  # antipode
    assert abs(cells_across(grid, 0.6 * lobe + 0.4 * other) - 4) < 0.4
