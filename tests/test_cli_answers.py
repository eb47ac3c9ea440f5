"""Issue 24, items 1-6 and 8: the CLI run as a user runs it (a subprocess), each case a wrong
answer with exit 0 or a traceback on the code before the fix."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fpstt

ROOT = Path(fpstt.__file__).parents[1]
QUICK = ["--steps-per-unit", "45", "--n-phi", "64", "--quiet", "--no-error-estimate"]


def cli(*argv, cwd):
    """``python -m fpstt ARGV`` in ``cwd``; the finished process."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-m", "fpstt", *map(str, argv)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def assert_refused(run, *words):
    """Exit 2 with one line on stderr holding every word, and no traceback."""
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2, run.stderr
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    for word in words:
        assert word in lines[0], lines[0]


# ---- 1. a checkpoint carries the whole run definition ---------------------------------------

@pytest.mark.parametrize("other, part", [(["--no-noise"], "model"),
                                         (["--config", "warm.toml"], "initial state")])
def test_resume_refuses_the_checkpoint_of_another_run(tmp_path, other, part):
    (tmp_path / "warm.toml").write_text("[microscopic]\nT = 1.5\n")
    run = ["solve", "--times", "0,0.2", "--checkpoint", "ck.npz", "--checkpoint-every", "3",
           *QUICK]
    assert cli(*run, "--out", "A.npz", cwd=tmp_path).returncode == 0
    refused = cli(*run, *other, "--resume", "--out", "B.npz", cwd=tmp_path)
    assert_refused(refused, "ck.npz", "different run", part)
    assert not (tmp_path / "B.npz").exists()
    again = cli(*run, "--resume", "--out", "C.npz", cwd=tmp_path)     # the same run resumes
    assert again.returncode == 0, again.stderr
    np.testing.assert_array_equal(fpstt.load(tmp_path / "C.npz").p,
                                  fpstt.load(tmp_path / "A.npz").p)


# ---- 6. a damaged .npz: one line naming the file --------------------------------------------

def _damaged(tmp_path, kind):
    """A copy of a real result file, damaged in one way, as ``bad.npz``."""
    good = tmp_path / "good.npz"
    if not good.exists():
        assert cli("solve", "--times", "0,0.1", *QUICK, "--out", good, cwd=tmp_path).returncode == 0
    data = bytearray(good.read_bytes())
    if kind == "truncated":
        data = data[: len(data) // 2]
    elif kind == "flipped byte":
        data[len(data) // 3] ^= 0xFF
    elif kind == "random bytes":
        data = np.random.default_rng(0).bytes(4096)
    (tmp_path / "bad.npz").write_bytes(bytes(data))
    return tmp_path / "bad.npz"


@pytest.mark.parametrize("kind", ["truncated", "flipped byte", "random bytes", "another file"])
def test_resuming_a_damaged_checkpoint_names_the_file(tmp_path, kind):
    _damaged(tmp_path, kind)
    for command in (["solve", "--times", "0,0.1", *QUICK],
                    ["montecarlo", "--times", "0,0.1", "--n-samples", "100", "--quiet"]):
        run = cli(*command, "--checkpoint", "bad.npz", "--resume", "--out", "r.npz",
                  cwd=tmp_path)
        assert_refused(run, "bad.npz")
        assert "unsafely" not in run.stderr and not (tmp_path / "r.npz").exists()


@pytest.mark.parametrize("kind", ["truncated", "flipped byte", "random bytes"])
def test_loading_a_damaged_result_names_the_file(tmp_path, kind):
    bad = _damaged(tmp_path, kind)
    with pytest.raises(ValueError, match="bad.npz is .*(truncated|corrupted)"):
        fpstt.load(bad)


# ---- 8. an input whose coefficients overflow ------------------------------------------------

@pytest.mark.parametrize("command", [["params"], ["solve", *QUICK]])
@pytest.mark.parametrize("value", ["1e300", "1e-300"])
def test_an_overflowing_input_is_named(tmp_path, command, value):
    (tmp_path / "kf.toml").write_text(f"[microscopic]\nk_F = {value}\n")
    run = cli(*command, "--config", "kf.toml", cwd=tmp_path)
    assert_refused(run, "kf.toml", "`k_F`", "out of floating-point range")
    assert not (tmp_path / "result.npz").exists()


# ---- 2. a sweep reuses rows only of the same inputs -----------------------------------------

SWEEP = ("[sweep]\nn_e = [5.0e4]\n[options]\ntimes = [1.0]\nthreshold = {threshold}\n"
         "du = 0.1\nn_phi = 16\n[model]\ninterpretation = \"{interpretation}\"\n")


def _sweep_row(tmp_path, out, **inputs):
    import csv
    (tmp_path / "st.toml").write_text(SWEEP.format(**inputs))
    run = cli("sweep", "--config", "st.toml", "--out", out, "--executor", "serial", "--quiet",
              cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    with open(tmp_path / out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1 and rows[0]["status"] == "ok"
    return rows[0], run.stderr


@pytest.mark.parametrize("changed", [{"threshold": 0.9}, {"interpretation": "stratonovich"}])
def test_sweep_reuses_rows_only_of_the_same_inputs(tmp_path, changed):
    first = dict(threshold=0, interpretation="ito")
    old, _ = _sweep_row(tmp_path, "s.csv", **first)
    again, _ = _sweep_row(tmp_path, "s.csv", **first)
    assert again == old                                    # same inputs: the row is reused
    new, err = _sweep_row(tmp_path, "s.csv", **dict(first, **changed))
    fresh, _ = _sweep_row(tmp_path, "fresh.csv", **dict(first, **changed))
    assert new["P_sw(t=1)"] == fresh["P_sw(t=1)"] != old["P_sw(t=1)"]
    assert "replacing 1 finished row(s) computed from other inputs" in err


# ---- 5. sweep --plot with the docs' [model] section, and without [sweep] -------------------

def test_sweep_plot_with_the_docs_model_section(tmp_path):
    (tmp_path / "st.toml").write_text(
        "[sweep]\nn_e = [4.5e4, 5.0e4]\nT = [1.0]\n[options]\ntimes = [1.0]\nthreshold = 0.0\n"
        "du = 0.1\nn_phi = 16\n[model]\ninterpretation = \"ito\"\nreading = \"eq17\"\n")
    run = cli("sweep", "--config", "st.toml", "--plot", "sweep.png", "--executor", "serial",
              "--quiet", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "sweep.png").stat().st_size > 10_000


def test_sweep_plot_without_a_sweep_section_is_refused_up_front(tmp_path):
    (tmp_path / "none.toml").write_text("[options]\ntimes = [1.0]\ndu = 0.1\nn_phi = 16\n")
    run = cli("sweep", "--config", "none.toml", "--plot", "x.png", "--out", "x.csv",
              cwd=tmp_path)
    assert_refused(run, "none.toml", "`--plot`", "[sweep]")
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "x.csv").exists()


# ---- 4. fig5 honours --times and the config's times -----------------------------------------

@pytest.mark.parametrize("argv, shown", [(["--times", "0,0.5"], "2 times from 0 to 0.5 t_n"),
                                         (["--config", "t.toml"], "3 times from 0 to 0.5 t_n"),
                                         ([], "41 times from 0 to 1 t_n")])
def test_fig5_honours_the_times(tmp_path, argv, shown):
    (tmp_path / "t.toml").write_text("[solve]\ntimes = [0.0, 0.25, 0.5]\n")
    run = cli("fig5", *argv, "--n-samples", "500", "--steps-per-unit", "45", "--n-phi", "64",
              "--no-error-estimate", cwd=tmp_path)                  # not --quiet: the line
    assert run.returncode == 0, run.stderr
    assert f"wrote fig5.png ({shown})" in run.stdout


# ---- 3. fig3 draws the paper's flow only, and refuses a device -------------------------------

DEVICE = ("[microscopic]\nB = 0.0\nB_k = 2.2\nalpha = 0.01\nT = 300.0\ncurrent_A = 2.4e-5\n"
          "[model]\nthermal = true\n[pulse]\nwidth = 4.0\nrise = 0.2\nfall = 0.2\n"
          "[initial]\nkind = \"vmf\"\ntheta = 3.141592653589793\nphi = 0.0\nkappa = 98.5\n")


@pytest.mark.parametrize("config, named", [
    (DEVICE, ["B_k = 2.2 T", "thermal", "[pulse]"]),
    ("[microscopic]\nB_k = 0.5\nalpha = 0.1\n", ["B_k = 0.5 T"]),
    ("[model]\nthermal_D = 0.2\n", ["thermal_D = 0.2"])], ids=["device", "anisotropy", "brown"])
def test_fig3_refuses_a_model_beyond_eq15(tmp_path, config, named):
    (tmp_path / "device.toml").write_text(config)
    run = cli("fig3", "--config", "device.toml", "--n-samples", "500", "--quiet", cwd=tmp_path)
    assert_refused(run, "fig3", "Eq. 15", "device.toml", *named)
    assert not (tmp_path / "fig3.png").exists()
