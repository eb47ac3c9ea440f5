"""Issue 24 items 7, 9, 10, 14: runaway sizes, interrupts, failing sweeps, small things."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import fpstt
import fpstt.runs.montecarlo as mc_module
import fpstt.runs.sweep as sweep_module
from fpstt.cli import main
from fpstt.analysis.io import atomic_savez
from fpstt.runs.wer import SwitchingCurve

ROOT = Path(fpstt.__file__).parents[1]
ENV = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _start(argv):
    """``python -m fpstt argv`` with Ctrl-C at its default (a background shell ignores it)."""
    return subprocess.Popen([sys.executable, "-m", "fpstt", *argv], env=ENV, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for(path: Path, process, timeout=60.0):
    start = time.perf_counter()
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.perf_counter() - start < timeout
        time.sleep(0.05)


@pytest.mark.parametrize("argv", [
    ["solve", "--times", "0,30", "--no-error-estimate", "--checkpoint-every", "20"],
    ["montecarlo", "--n-samples", "1000000", "--chunk", "20000"]])
def test_ctrl_c_says_how_to_resume_in_one_line(tmp_path, argv):
    """Item 9: one line naming the command to resume, exit 130, and it resumes."""
    run = _start([*argv, "--checkpoint", "ck.npz", "--quiet"])
    _wait_for(tmp_path / "ck.npz", run)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("fpstt: interrupted; resume with `fpstt ") and "--resume`" in err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_sweep_stops_its_workers(tmp_path, signum):
    """Item 9: SIGINT/SIGTERM to `fpstt sweep` ends its worker processes too."""
    (tmp_path / "s.toml").write_text("[sweep]\nn_e = [1e5, 1.2e5, 1.4e5, 1.6e5, 1.8e5, 2e5]\n"
                                     "T = [1.0, 2.0, 3.0]\n")
    run = _start(["sweep", "--config", "s.toml", "--workers", "2", "--quiet"])
    start, workers = time.perf_counter(), []
    while len(workers) < 2 and time.perf_counter() - start < 30:
        time.sleep(0.1)
        workers = [int(p) for task in Path(f"/proc/{run.pid}/task").iterdir()
                   for p in (task / "children").read_text().split()]
    assert len(workers) == 2
    run.send_signal(signum)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "finished points are kept in sweep.csv" in err
    time.sleep(0.5)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]


def test_sweep_with_failed_points_exits_1(tmp_path, monkeypatch, capsys):
    """Item 10: a point that fails as it runs is listed and the exit status says so."""
    original = sweep_module.solve_pulse

    def failing(model, *args, **kwargs):
        if model.C1.imag > 6:
            raise FloatingPointError("p became non-finite")
        return original(model, *args, **kwargs)

    monkeypatch.setattr(sweep_module, "solve_pulse", failing)
    (tmp_path / "s.toml").write_text("[sweep]\nn_e = [1.5e5, 2e5]\n[options]\ndu = 0.1\n"
                                     "n_phi = 16\n")
    assert main(["sweep", "--config", "s.toml", "--executor", "serial", "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "2 points (1 failed)" in captured.out and "non-finite" in captured.err


def test_a_run_longer_than_a_minute_warns(monkeypatch, table_i_model, table_i_gibbs):
    """Item 7: the estimate comes before the work."""
    def stop(*args):
        raise RuntimeError("stopped before the first step")

    monkeypatch.setattr(mc_module, "_step", stop)
    with pytest.warns(RuntimeWarning, match="will take about"), \
            pytest.raises(RuntimeError, match="stopped"):
        mc_module.simulate(table_i_model, table_i_gibbs, [0, 100], 10 ** 6, chunk=100)


def test_params_json_is_valid_json(capsys):
    """Item 14: no Infinity (Table I has no anisotropy: no critical drive)."""
    assert main(["params", "--json"]) == 0

    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    out = json.loads(capsys.readouterr().out, parse_constant=refuse)
    assert out["damping_like_over_critical"] is None


def test_resumed_montecarlo_reports_its_own_rate(tmp_path, monkeypatch, table_i_model,
                                                 table_i_gibbs):
    """Item 14: the rate counts the steps of this run, not those before the checkpoint."""
    original, calls = mc_module._step, {"n": 0}

    def interrupt(*args):
        calls["n"] += 1
        if calls["n"] > 30:
            raise KeyboardInterrupt
        return original(*args)

    kw = dict(dt=0.02, seed=1, chunk=500, checkpoint=tmp_path / "ck.npz")
    monkeypatch.setattr(mc_module, "_step", interrupt)
    with pytest.raises(KeyboardInterrupt):
        mc_module.simulate(table_i_model, table_i_gibbs, [0.2], 2000, **kw)
    monkeypatch.setattr(mc_module, "_step", original)
    d = mc_module.simulate(table_i_model, table_i_gibbs, [0.2], 2000, resume=True,
                           **kw).diagnostics
    assert d["trajectory_steps"] == 2000 * 10
    assert d["steps_per_second"] * d["wall_time_s"] == pytest.approx(500 * 10, rel=1e-6)


def test_montecarlo_wer_figure_fills_both_panels_over_the_horizon():
    """Item 14: the right panel is drawn and the x axis spans the horizon."""
    import matplotlib.pyplot as plt
    from fpstt.analysis.plotting import plot_wer
    t = np.linspace(0, 1, 11)
    wer = np.where(t < 0.4, 1 - t / 0.4, 0.0)
    fig = plot_wer(dict(times=t, wer=wer, stderr=0 * t + 1e-3, wer_floor=1e-5))
    left, right = fig.axes[:2]
    assert right.get_visible() and right.patches
    assert left.get_xlim() == (0.0, 1.0) and right.get_xlim() == (0.0, 1.0)
    plt.close(fig)


def test_no_progress_bars_in_a_log_and_quiet_keeps_the_saved_line(tmp_path):
    """Item 14: bars only on a terminal; --quiet hides progress, not the result line."""
    env = dict(ENV)
    for argv in (["solve", "--times", "0,0.5", "--steps-per-unit", "45", "--n-phi", "64",
                  "--no-error-estimate"], ["switching", "--horizon", "0.5"]):
        run = subprocess.run([sys.executable, "-m", "fpstt", *argv], env=env, text=True,
                             capture_output=True, timeout=120)
        assert run.returncode == 0 and "it/s" not in run.stderr and "piece" not in run.stderr
        assert "%|" not in run.stderr, run.stderr
    assert main(["solve", "--times", "0,0.5", "--steps-per-unit", "45", "--n-phi", "64",
                 "--no-error-estimate", "--quiet", "--out", "q.npz"]) == 0
    assert (tmp_path / "q.npz").exists()


def test_quiet_keeps_the_saved_line(capsys):
    assert main(["solve", "--times", "0,0.5", "--steps-per-unit", "45", "--n-phi", "64",
                 "--no-error-estimate", "--quiet", "--out", "q.npz"]) == 0
    assert capsys.readouterr().out.startswith("saved q.npz")


def test_probabilities_are_clipped_to_one():
    """Item 14: round-off put WER = 1.0000000000000207 in a sweep's CSV."""
    curve = SwitchingCurve(np.array([0.0, 1.0]), np.array([1 + 2e-14, 0.5]),
                           np.array([-2e-14, 0.5]), 1e-20)
    assert curve.at([0.0])[0] == 1.0 and curve.p_switch_at([0.0])[0] == 0.0


def test_temporaries_of_a_killed_write_are_cleaned_up(tmp_path):
    """Item 14: `kill -9` during a checkpoint write left a hidden .tmp for ever."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".ck.npz.{dead.pid}.abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    live = tmp_path / f".ck.npz.{os.getpid()}.def456.tmp"        # a write under way
    live.write_bytes(b"being written")
    atomic_savez(tmp_path / "ck.npz", x=np.zeros(3))
    assert not stale.exists() and live.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["ck.npz", live.name])
