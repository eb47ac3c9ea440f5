import json
import subprocess
import sys

import numpy as np
import pytest

import fpstt
from fpstt.cli import main

QUICK = ["--steps-per-unit", "45", "--n-phi", "64", "--quiet"]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_params_json(capsys):
    assert main(["params", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"t_up", "t_down", "C1", "C2", "delta_mu_spin_J", "eps_F_J", "kappa",
                        "ou_variance", "constants", "paper", "n_e", "moment_M", "Delta",
                        "omega_B", "omega_k", "omega_d", "brown_D", "field_like_ratio",
                        "damping_like_rate", "field_like_rate", "critical_damping_like",
                        "damping_like_over_critical"}
    assert out["C1"][1] == pytest.approx(5.51, abs=0.01)
    assert out["field_like_ratio"] == pytest.approx(0.6014, abs=1e-4)


def test_params_of_a_device(tmp_path, capsys):
    """Delta, Brown's D, the critical drive and the rates, from the config's SI inputs."""
    cfg = tmp_path / "device.toml"
    cfg.write_text("[microscopic]\nB = 0.0\nB_k = 2.2\nalpha = 0.01\nT = 300.0\n"
                   "current_A = 2.4e-5\n")
    assert main(["params", "--json", "--config", str(cfg)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_e"] == pytest.approx(2.4e-5 * 1e-9 / 1.602176634e-19)
    assert out["Delta"] == pytest.approx(49.26, abs=0.01)
    assert out["brown_D"] == pytest.approx(0.03927, abs=1e-5)
    assert out["critical_damping_like"] == pytest.approx(3.869, abs=1e-3)
    (re, im), a = out["C1"], 0.01
    gilbert = (im + a * re) / (1 + a * a)        # LLGS: C1 / (1 - i alpha), issue 26
    assert out["damping_like_rate"] == pytest.approx(gilbert, rel=1e-12)
    assert out["field_like_rate"] == pytest.approx((re - a * im) / (1 + a * a), rel=1e-12)
    assert out["damping_like_over_critical"] == pytest.approx(gilbert / 3.869, rel=1e-3)
    cfg.write_text(cfg.read_text() + '[model]\ntorque_form = "rates"\n')
    assert main(["params", "--json", "--config", str(cfg)]) == 0
    rates = json.loads(capsys.readouterr().out)
    assert (rates["damping_like_rate"], rates["field_like_rate"]) == (im, re)
    cfg.write_text("[microscopic]\nn_e = 1e5\ncurrent_A = 1e-5\n")
    assert main(["params", "--config", str(cfg)]) == 2
    assert "not both" in capsys.readouterr().err


def test_pulse_and_initial_sections(tmp_path, capsys):
    cfg = tmp_path / "pulse.toml"
    cfg.write_text("[microscopic]\nB = 0.0\nB_k = 2.2\nalpha = 0.01\nT = 300.0\n"
                   "[model]\nthermal = true\n[pulse]\nwidth = 1.0\nrise = 0.2\n"
                   "[initial]\nkind = \"vmf\"\ntheta = 3.1415\nphi = 0.0\nkappa = 98.5\n")
    assert main(["switching", "--config", str(cfg), "--quiet", "--json", "--horizon", "2",
                 "--times", "1,2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["wer"][1] == pytest.approx(out["wer"][0], rel=1e-2)   # the wells hold after it
    assert main(["solve", "--config", str(cfg), "--quiet", "--checkpoint",
                 str(tmp_path / "c.npz")]) == 2
    assert "not supported under a pulse" in capsys.readouterr().err
    assert not (tmp_path / "c.npz").exists()
    for bad, message in [("[pulse]\nwidth = 1.0\nrise = 0.8\nfall = 0.8\n", "rise + fall"),
                         ("[initial]\nkind = \"vmf\"\n", "needs `theta`"),
                         ("[model]\nthermal = true\n", "alpha > 0"),
                         ("[pulse]\nwidht = 1.0\n", "unknown key `widht`")]:
        cfg.write_text(bad)
        assert main(["params", "--config", str(cfg)]) == 2
        assert message in capsys.readouterr().err


def test_params_table(capsys):
    assert main(["params"]) == 0
    out = capsys.readouterr().out
    assert "ou_variance" in out and "Table I (paper)" in out and "(CODATA)" in out


def test_params_paper_constants_reproduce_every_printed_digit(capsys):
    """With the paper's rounded hbar and m every residual is within half a unit of the last
    printed digit (5e-4; 5e-33 J s for Delta mu_spin); with CODATA t_up is 2.7e-3 off."""
    assert main(["params", "--paper-constants"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()}
    for name in ("t_up", "t_down", "C1", "C2"):            # name, re, im, re, im, residual
        assert float(rows[name][5]) <= 5e-4
    assert float(rows["delta_mu_spin_J"][3]) <= 5e-33
    assert main(["params"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()}
    assert float(rows["t_up"][5]) > 2e-3


def test_solve_and_load_round_trip(tmp_path):
    assert main(["solve", "--out", "r.npz", "--times", "0,0.5,1", *QUICK]) == 0
    loaded = fpstt.load("r.npz")
    micro = fpstt.table_i()
    model = fpstt.SpinTorqueModel.from_microscopic(micro)
    gibbs = fpstt.GibbsState.from_microscopic(micro)
    grid = fpstt.default_grid(model, [0, 0.5, 1], steps_per_unit=45, n_phi=64, initial=gibbs)
    ref = fpstt.solve(model, grid, gibbs.cell_averages(grid), [0, 0.5, 1])
    np.testing.assert_array_equal(loaded.p, ref.p)
    np.testing.assert_array_equal(loaded.grid.theta_edges, grid.theta_edges)
    assert loaded.p.shape == (3, *grid.shape)
    assert loaded.meta["config"]["solve"]["times"] == [0, 0.5, 1]
    again = tmp_path / "again.npz"
    fpstt.save(loaded, again)
    np.testing.assert_array_equal(fpstt.load(again).p, loaded.p)
    with np.load("r.npz") as data:
        assert {"theta", "phi", "theta_edges", "times", "p", "mass", "meta"} <= set(data.files)


def test_fig4_default_writes_four_panels(tmp_path):
    assert main(["fig4", "--quiet"]) == 0
    assert (tmp_path / "fig4.png").stat().st_size > 20_000


def test_fig3_and_fig5(tmp_path):
    assert main(["fig3", "--quiet", "--n-samples", "2000"]) == 0
    assert main(["fig5", "--n-samples", "2000", *QUICK]) == 0
    assert (tmp_path / "fig3.png").exists() and (tmp_path / "fig5.png").exists()


def test_montecarlo_saves(tmp_path):
    assert main(["montecarlo", "--out", "mc.npz", "--n-samples", "500", "--quiet"]) == 0
    with np.load("mc.npz") as data:
        assert data["mean"].shape == (4, 3) and data["hist"].shape[0] == 4
        assert data["hist"].shape[1:] == (data["theta_edges"].size - 1, data["phi_edges"].size - 1)
        assert json.loads(str(data["meta"]))["n_samples"] == 500


def test_validate_passes(capsys):
    assert main(["validate", "--json", "--n-samples", "20000"]) == 0
    checks = json.loads(capsys.readouterr().out)
    assert len(checks) >= 8 and all(c["passed"] for c in checks)


@pytest.mark.parametrize("argv, message", [
    (["solve", "--n-phi", "2"], "`n_phi` must be an integer ≥ 4"),
    (["solve", "--times", "1,0.5"], "strictly increasing"),
    (["solve", "--times", "a,b"], "--times"),
    (["solve", "--scheme", "rk4"], "invalid choice"),
    (["solve", "--n-phi", "0"], "`n_phi` must be an integer ≥ 4, got 0"),
    (["solve", "--n-theta", "0"], "`--n-theta` must be ≥ 8"),
    (["solve", "--steps-per-unit", "0"], "`steps_per_unit` must be an integer ≥ 1"),
    (["solve", "--interpretation", "ito", "--reading", "lab"], "Stratonovich"),
    (["solve", "--config", "missing.toml"], "No such file"),
    (["nonsense"], "invalid choice")])
def test_bad_input_exit_2_one_line(capsys, argv, message):
    try:
        code = main(argv)
    except SystemExit as exc:                 # argparse rejects before main's body runs
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_config_unknown_key_names_key_and_line(tmp_path, capsys):
    (tmp_path / "c.toml").write_text("[microscopic]\nT = 3.0\n\n[model]\nnoize = true\n")
    assert main(["params", "--config", "c.toml"]) == 2
    err = capsys.readouterr().err
    assert "line 5" in err and "`noize`" in err


def test_config_changes_parameters(tmp_path, capsys):
    (tmp_path / "c.toml").write_text("[microscopic]\nn_e = 3.0e5\n")
    assert main(["params", "--json", "--config", "c.toml"]) == 0
    assert json.loads(capsys.readouterr().out)["C1"][1] == pytest.approx(11.0, rel=0.01)


def test_python_dash_m_help():
    out = subprocess.run([sys.executable, "-m", "fpstt", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for command in ("params", "solve", "fig3", "fig4", "fig5", "montecarlo", "validate"):
        assert command in out


def test_solve_reports_an_error_estimate(capsys):
    assert main(["solve", "--out", "r.npz", "--times", "0,0.5", *QUICK]) == 0
    assert "estimated L1 error" in capsys.readouterr().err
    estimate = fpstt.load("r.npz").diagnostics["error_estimate"]
    assert len(estimate["estimate"]) == 2 and all(0 <= e < 2 for e in estimate["estimate"])


@pytest.mark.parametrize("figure", ["fig3", "fig4"])
def test_figures_of_the_field_off_flow_refuse_a_field_kept_on(tmp_path, capsys, figure):
    (tmp_path / "f.toml").write_text("[model]\nfield_on = true\n")
    argv = [figure, "--config", "f.toml", "--quiet"] + (QUICK if figure == "fig4" else [])
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and figure in err[0] and not (tmp_path / f"{figure}.png").exists()


def test_config_unknown_section_names_its_line(tmp_path, capsys):
    (tmp_path / "c.toml").write_text("[model]\nnoise = true\n\n[grdi]\nn_phi = 64\n")
    assert main(["params", "--config", "c.toml"]) == 2
    assert "[grdi] (line 4)" in capsys.readouterr().err


def test_results_get_ordinary_permissions(tmp_path):
    import os
    old = os.umask(0o022)
    try:
        assert main(["solve", "--out", "r.npz", "--times", "0,0.1", *QUICK,
                     "--no-error-estimate"]) == 0
    finally:
        os.umask(old)
    assert (tmp_path / "r.npz").stat().st_mode & 0o777 == 0o644


def test_replacing_an_output_says_so(capsys):
    argv = ["solve", "--out", "r.npz", "--times", "0,0.1", *QUICK, "--no-error-estimate"]
    assert main(argv) == 0
    assert "replacing" not in capsys.readouterr().err
    assert main(argv) == 0
    assert "replacing the existing r.npz" in capsys.readouterr().err


def test_validate_into_a_closed_pipe_exits_quietly():
    run = subprocess.run(f"set -o pipefail; {sys.executable} -m fpstt validate --json | true",
                         shell=True, capture_output=True, text=True, executable="/bin/bash")
    assert run.returncode == 0 and "Broken pipe" not in run.stderr


def test_validate_reports_the_negativity_as_a_signed_ratio(capsys):
    main(["validate", "--json"])
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    row = rows["FP most negative p / max p"]
    assert row["value"] <= 0 and row["reference"] < 0 and row["tolerance"].startswith("≥")


def test_montecarlo_takes_the_checkpoint_options_the_readme_names(tmp_path):
    assert main(["montecarlo", "--out", "m.npz", "--n-samples", "200", "--chunk", "100",
                 "--checkpoint", "ck.npz", "--quiet"]) == 0
    readme = (__import__("pathlib").Path(fpstt.__file__).parents[1] / "README.md").read_text()
    assert "`montecarlo` takes\n`--checkpoint FILE`" in readme


def test_every_option_says_what_it_does_and_its_default():
    import argparse
    from fpstt.cli.commands import build_parser
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in sub.choices.items():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"{name} {action.option_strings} has no help"
            flag = isinstance(action, (argparse._StoreTrueAction, argparse._StoreConstAction))
            if not flag and not action.required:
                assert "default" in action.help, f"{name} {action.option_strings}: no default"


@pytest.mark.parametrize("option", [["--scheme", "be"], ["--steps-per-unit", "10"],
                                    ["--n-phi", "64"]])
def test_montecarlo_refuses_solver_options(option, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["montecarlo", *option])
    assert exc.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err


def test_default_outputs_in_a_clone_are_ignored_by_git():
    import shutil
    root = __import__("pathlib").Path(fpstt.__file__).parents[1]
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout")
    for name in ("fig4.png", "fig5.png", "result.npz", "mc.npz", "sweep.csv"):
        run = subprocess.run(["git", "check-ignore", "-q", name], cwd=root)
        assert run.returncode == 0, f"{name} is not ignored"
