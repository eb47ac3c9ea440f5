"""Bad input, CLI flags and TOML files (issue 24): every case exits 2 with one line on
stderr naming the option or key, no traceback, before any work, and nothing in the folder
is written or changed (each runs beside pre-existing outputs whose bytes are compared).

Most cases call ``fpstt.cli.commands.main(argv)`` in-process; a few run ``python -m fpstt``.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fpstt.cli import main

OUTPUTS = ["result.npz", "mc.npz", "fig3.png", "fig4.png", "fig5.png", "sweep.csv",
           "out.json", "ck.npz", "afile.txt"]
SWEEP = "[sweep]\nn_e = [1.0e5]\n"

FLAGS = [
    (["montecarlo", "--seed", "-1"], "--seed"),
    (["fig3", "--seed", "-5"], "--seed"),
    (["switching", "--seed", "-1"], "--seed"),
    (["validate", "--seed", "-1"], "--seed"),
    (["fig3", "--n-samples", "0"], "--n-samples"),
    (["montecarlo", "--n-samples", "1"], "--n-samples"),
    (["switching", "--n-samples", "abc"], "--n-samples"),
    (["validate", "--n-samples", "0"], "--n-samples"),
    (["montecarlo", "--dt", "5"], "--dt"),
    (["montecarlo", "--dt", "0"], "--dt"),
    (["montecarlo", "--dt", "nan"], "--dt"),
    (["switching", "--method", "montecarlo", "--dt", "-0.1"], "--dt"),
    (["fig5", "--dt", "inf"], "--dt"),
    (["montecarlo", "--chunk", "0"], "--chunk"),
    (["switching", "--horizon", "-1"], "--horizon"),
    (["switching", "--horizon", "0"], "--horizon"),
    (["switching", "--horizon", "inf"], "--horizon"),
    (["switching", "--horizon", "x"], "--horizon"),
    (["switching", "--threshold", "1"], "--threshold"),
    (["switching", "--threshold", "-1.5"], "--threshold"),
    (["switching", "--threshold", "nan"], "--threshold"),
    (["switching", "--times", "2", "--horizon", "1"], "--times"),
    (["solve", "--times", ""], "--times"),
    (["solve", "--times", "-1,0"], "--times"),
    (["solve", "--times", "1,0.5"], "--times"),
    (["solve", "--times", "a,b"], "--times"),
    (["fig4", "--times", "0,nan"], "--times"),
    (["montecarlo", "--times", ","], "--times"),
    (["solve", "--checkpoint-every", "5"], "--checkpoint-every"),
    (["solve", "--checkpoint-every", "0", "--checkpoint", "c.npz"], "--checkpoint-every"),
    (["solve", "--resume"], "--resume"),
    (["montecarlo", "--resume"], "--resume"),
    (["solve", "--resume", "--checkpoint", "missing.npz"], "--checkpoint"),
    (["montecarlo", "--resume", "--checkpoint", "missing.npz"], "--checkpoint"),
    (["solve", "--checkpoint", "ck.txt"], "--checkpoint"),
    (["solve", "--checkpoint", "result.npz"], "--checkpoint"),
    (["solve", "--out", "adir"], "--out"),
    (["solve", "--out", "folder.npz"], "--out"),
    (["solve", "--out", "/proc/x.npz"], "--out"),
    (["solve", "--out", "afile.txt/x.npz"], "--out"),
    (["solve", "--out", "r.txt"], "--out"),
    (["montecarlo", "--out", "m.png"], "--out"),
    (["fig4", "--out", "f.npz"], "--out"),
    (["fig3", "--out", "f.xyz"], "--out"),
    (["fig5", "--out", "folder.png"], "--out"),
    (["switching", "--plot", "p.txt"], "--plot"),
    (["switching", "--out", "adir"], "--out"),
    (["sweep", "--config", "s.toml", "--plot", "afile.txt/p.png"], "--plot"),
    (["sweep", "--config", "s.toml", "--out", "adir"], "--out"),
    (["sweep", "--config", "s.toml", "--workers", "0"], "--workers"),
    (["sweep", "--config", "s.toml", "--executor", "threads"], "--executor"),
    (["sweep"], "--config"),
    (["solve", "--n-phi", "2"], "n_phi"),
    (["solve", "--n-phi", "100000000"], "n_phi"),
    (["solve", "--n-phi", "99999999999999999999999"], "n_phi"),
    (["solve", "--n-theta", "10000000"], "n_theta"),
    (["solve", "--n-theta", "3"], "--n-theta"),
    (["solve", "--steps-per-unit", "0"], "steps_per_unit"),
    (["solve", "--steps-per-unit", "1e8"], "--steps-per-unit"),
    (["solve", "--steps-per-unit", "100000000"], "steps_per_unit"),
    (["switching", "--horizon", "1e7"], "horizon"),
    (["montecarlo", "--chunk", "1000000000", "--n-samples", "1000000000"], "chunk"),
    (["solve", "--scheme", "rk4"], "--scheme"),
    (["solve", "--interpretation", "ito", "--reading", "lab"], "--reading"),
    (["switching", "--method", "exact"], "--method"),
    (["solve", "--config", "missing.toml"], "missing.toml"),
    (["solve", "--bogus"], "--bogus"),
]

TOMLS = [
    ("foo = 1\n", "`foo`"),
    ("model = 3\n", "`model`"),
    ("[grdi]\nn_phi = 64\n", "[grdi]"),
    ("[model]\nnoize = true\n", "`noize`"),
    ("[model]\nnoise = 1\n", "`noise`"),
    ("[model]\nreading = \"lab\"\ninterpretation = \"ito\"\n", "reading"),
    ("[grid]\nn_phi = 99999999999999999999999\n", "`n_phi`"),
    ("[grid]\nn_phi = \"many\"\n", "`n_phi`"),
    ("[grid]\ndu = 1e-7\n", "du"),
    ("[grid]\nsteps_per_unit = 100000000\n", "steps_per_unit"),
    ("[microscopic]\nn_e = 1.0\n", "du"),
    ("[microscopic]\nT = -1.0\n", "T"),
    ("[solve]\ntimes = [1.0, 0.5]\n", "times"),
    ("[solve]\nscheme = \"rk4\"\n", "scheme"),
    ("[pulse]\nwidth = -1.0\n", "width"),
    ("[initial]\nkind = \"vmf\"\n", "theta"),
    ("[microscopic\n", "malformed TOML"),
]

SWEEPS = [
    ("[sweep]\nn_e = [1e5, nan]\n", "`n_e`"),
    ("[sweep]\nn_e = [1e5, inf]\n", "`n_e`"),
    (SWEEP + "[model]\nreading = \"lab\"\ninterpretation = \"ito\"\n", "reading"),
    ("[sweep]\nn_e = [" + ", ".join(f"{1e5 + k}" for k in range(1000)) + "]\nT = ["
     + ", ".join(f"{1.0 + k}" for k in range(1000)) + "]\n", "[sweep]"),
    ("[sweep]\nfoo = [1.0]\n", "`foo`"),
    ("[sweep]\nn_e = []\n", "`n_e`"),
    ("[sweep]\nn_e = [\"a\"]\n", "`n_e`"),
    ("[sweep]\nT = [-1.0]\n", "T"),
    ("[sweep]\nwidth = [1.0]\nrise = [0.8]\nfall = [0.8]\n", "rise"),
    (SWEEP + "[options]\nthreshold = 2.0\n", "threshold"),
    (SWEEP + "[options]\nbogus = 1\n", "`bogus`"),
    (SWEEP + "[options]\nn_phi = 2\n", "n_phi"),
    (SWEEP + "[options]\ntimes = [-1.0]\n", "times"),
    (SWEEP + "[initial]\nkind = \"nope\"\n", "kind"),
    ("x = 1\n" + SWEEP, "`x`"),
    ("[sweep]\nn_e = [1e5]\n[grid]\ndu = 0.1\n", "[grid]"),
]

CASES = ([pytest.param(argv, key, None, id=" ".join(argv)[:60]) for argv, key in FLAGS]
         + [pytest.param(["solve", "--config", "bad.toml"], key, text, id=f"toml {key}")
            for text, key in TOMLS]
         + [pytest.param(["sweep", "--config", "bad.toml"], key, text, id=f"sweep {key}")
            for text, key in SWEEPS])


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A folder with an output of every command already in it, and its bytes."""
    monkeypatch.chdir(tmp_path)
    for k, name in enumerate(OUTPUTS):
        (tmp_path / name).write_bytes(f"existing output {k}\n".encode())
    for name in ("adir", "folder.npz", "folder.png"):
        (tmp_path / name).mkdir()
    (tmp_path / "s.toml").write_text(SWEEP)
    return tmp_path


def snapshot(root: Path) -> dict:
    """Every file and folder under root (hidden ones too), with the files' bytes."""
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None
            for p in sorted(root.rglob("*"))}


def refused(argv, capsys) -> str:
    try:
        code = main(argv)
    except SystemExit as exc:               # argparse refuses before main's body runs
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    return err


@pytest.mark.parametrize("argv, key, toml", CASES)
def test_bad_input_exits_2_naming_it_and_writes_nothing(folder, capsys, argv, key, toml):
    if toml is not None:
        (folder / "bad.toml").write_text(toml)
    before = snapshot(folder)
    start = time.perf_counter()
    err = refused(argv, capsys)
    assert time.perf_counter() - start < 10                  # refused before any work
    assert err.startswith("fpstt: error: ") and err.count("\n") == 1, err
    assert key in err and "Traceback" not in err and ".tmp" not in err, err
    assert snapshot(folder) == before


def test_there_are_at_least_sixty_cases():
    assert len(CASES) >= 60


@pytest.mark.parametrize("argv, key", [
    (["solve", "--times", "-1,0"], "--times"),
    (["solve", "--out", "afile.txt/x.npz"], "--out"),
    (["switching", "--horizon", "-1"], "--horizon"),
    (["solve", "--config", "top.toml"], "`foo`"),
    (["solve", "--n-phi", "100000000"], "would need about")])
def test_bad_input_in_a_subprocess(folder, argv, key):
    (folder / "top.toml").write_text("foo = 1\n")
    before = snapshot(folder)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]), MPLBACKEND="Agg")
    run = subprocess.run([sys.executable, "-m", "fpstt", *argv], capture_output=True,
                         text=True, env=env, timeout=60)
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert key in run.stderr and "Traceback" not in run.stderr
    assert snapshot(folder) == before
