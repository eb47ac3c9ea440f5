"""Runs under a current pulse (fpstt.integration.driven): the models the config accepts with a pulse."""

import math

import numpy as np

import fpstt
from fpstt.cli import main
from fpstt.runs.config import RunConfig
from fpstt.integration.driven import solve_pulse
from fpstt.runs.montecarlo import simulate
from fpstt.analysis.observables import moments


def test_pulse_with_a_field_kept_on_against_monte_carlo():
    """Table I with the field kept on and a 0.5 t_n pulse (it was refused: "a pulse needs a
    z'-frame grid"): the z' frame with the field remapped, during the pulse and after it
    (a precession alone, which TR-BDF2's fluxes broadened 2.5x); means and stds within
    4 s.e. of Monte Carlo at every time."""
    cfg = RunConfig()
    cfg.model["field_on"] = True
    cfg.pulse["width"] = 0.5
    times = [0.25, 0.5, 0.75, 1.0]
    cfg.solve["times"] = times
    model, start, pulse = cfg.build_model(), cfg.build_gibbs(), cfg.build_pulse()
    grid = cfg.build_grid(model)
    sol = solve_pulse(model, grid, start.cell_averages(grid), times, pulse)
    mc = simulate(model, start, times, 20_000, dt=1e-3, seed=4, pulse=pulse)
    mean, std = moments(grid, sol.p)
    assert np.all(np.abs(mc.mean - mean) <= 4 * mc.stderr)
    assert np.all(np.abs(mc.std - std) <= 4 * mc.std / math.sqrt(2 * 20_000))
    assert sol.diagnostics["min_p_ratio"] >= -1e-12


def test_cli_solves_a_pulse_without_current(tmp_path, monkeypatch, capsys):
    """A pulse with n_e = 0 (nothing moves) saves and reports its steps (it raised KeyError
    'dt' after saving)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.toml").write_text("[microscopic]\nn_e = 0.0\n[pulse]\nwidth = 0.5\n")
    assert main(["solve", "--config", "p.toml", "--out", "p.npz", "--times", "0,0.5,1",
                 "--no-error-estimate"]) == 0
    assert "steps of" in capsys.readouterr().out
    sol = fpstt.load("p.npz")
    assert np.abs(sol.p[-1] - sol.p[0]).max() <= 1e-12 * sol.p[0].max()
