"""The relaxation path (plan kind "unsplit"): `fpstt solve --config` with no current."""

import time

import pytest

import fpstt
from fpstt.cli import main
from fpstt.runs.config import load_config
from fpstt.physics.initial import BoltzmannState
from fpstt.analysis.observables import l1_distance
from fpstt.numerics.operator import stationary_density

RELAX = """
[microscopic]              # tests/test_magnet.py::_tilted(0.1, 0.5): Delta = 2.24
n_e = 0.0
B = 0.05
B_theta = 0.6
B_phi = 0.3
B_k = 0.1
easy_theta = 1.0
easy_phi = 2.0
alpha = 0.5
T = 300.0
t_n = 1e-7
[model]
field_on = true
thermal = true
[initial]                  # far from equilibrium: L1 = 1.99 from exp(-E/kT)
kind = "vmf"
theta = 2.5
phi = 4.0
kappa = 50.0
[solve]
times = [0.0, 3.0, 6.0]
"""


BIAXIAL = RELAX.replace("easy_theta = 1.0\n", """easy_theta = 1.0
B_d = 0.15                 # a hard axis, perpendicular to the easy one, 121 deg from the field
hard_theta = 2.4964620291991038
hard_phi = 1.4513385433534707
""")


@pytest.mark.parametrize("text", [RELAX, BIAXIAL], ids=["uniaxial", "biaxial"])
def test_relaxation_through_the_cli_reaches_boltzmann(tmp_path, capsys, text):
    """Issues 23 and 25: the user path (defaults: plan kind "unsplit", adaptive TR-BDF2 on
    cells from the plan's widths) ends within L1 1e-3 of exp(-E / k_B T) at t = 3 and 6, with
    and without a hard axis (the biaxial energy with a tilted field: no symmetry left;
    validation/relax/relax_biaxial.toml)."""
    config = tmp_path / "relax.toml"
    config.write_text(text)
    out = tmp_path / "relax.npz"
    start = time.perf_counter()
    assert main(["solve", "--config", str(config), "--out", str(out), "--quiet",
                 "--no-error-estimate"]) == 0
    wall = time.perf_counter() - start
    sol = fpstt.load(out)
    exact = BoltzmannState.from_microscopic(load_config(config).micro).cell_averages(sol.grid)
    l1 = [l1_distance(sol.grid, p, exact) for p in sol.p]
    d = sol.diagnostics
    with capsys.disabled():
        print(f"\nrelaxation: grid {sol.grid.shape}, L1 {l1[1]:.2e} (t=3), {l1[2]:.2e} (t=6), "
              f"{d['n_substeps']} substeps, {d['n_factorizations']} LU, wall {wall:.1f} s")
    assert d["scheme"] == "adaptive-tr-bdf2"
    assert l1[0] > 1.5
    assert l1[1] <= 1e-3 and l1[2] <= 1e-3
    assert abs(d["max_mass_error"]) < 1e-9


@pytest.mark.filterwarnings("ignore:scheme .* upwinds the drift")    # a 64-phi grid
def test_adaptive_steps_follow_the_transient_and_keep_the_null_vector():
    """Early outputs agree with fixed small TR-BDF2 steps; the operator's null vector is a
    fixed point of every step (so long steps keep the stationary state)."""
    cfg_micro = fpstt.table_i(n_e=0.0, B=0.05, B_theta=0.6, B_phi=0.3, B_k=0.1,
                              easy_theta=1.0, easy_phi=2.0, alpha=0.5, T=300.0, t_n=1e-7)
    model = fpstt.SpinTorqueModel.from_microscopic(cfg_micro, field_on=True, thermal=True)
    start = fpstt.GibbsState(50.0, 2.5, 4.0)
    grid = fpstt.SphereGrid.mercator(0.1, -4.0, 4.0, 64)
    times = [0.002, 0.01, 0.05]
    p0 = start.cell_averages(grid)
    fine = fpstt.solve(model, grid, p0, times, scheme="tr-bdf2", dt=2e-5)
    ours = fpstt.solve(model, grid, p0, times, scheme="adaptive-tr-bdf2")
    for a, b in zip(fine.p, ours.p):
        assert l1_distance(grid, a, b) <= 2e-3
    assert ours.diagnostics["n_substeps"] < fine.diagnostics["n_steps"] / 5
    null = stationary_density(model, grid)
    kept = fpstt.solve(model, grid, null, [10.0], scheme="adaptive-tr-bdf2")
    assert l1_distance(grid, kept.p[-1], null) <= 1e-10
    assert kept.diagnostics["n_substeps"] <= 40


class _HereAndNow:
    """An executor that factorises at once on the calling thread (no factorisation ahead)."""

    def submit(self, fn, *args):
        from concurrent.futures import Future
        done = Future()
        done.set_result(fn(*args))
        return done


@pytest.mark.filterwarnings("ignore:scheme .* upwinds the drift")    # a 64-phi grid
def test_factorisations_ahead_change_nothing(monkeypatch):
    """The levels factorised ahead on worker threads give the same answer, to the last bit,
    as factorising each one here when it is first needed."""
    from fpstt.numerics import ahead as workers
    micro = fpstt.table_i(n_e=0.0, B=0.05, B_theta=0.6, B_phi=0.3, B_k=0.1, easy_theta=1.0,
                          easy_phi=2.0, alpha=0.5, T=300.0, t_n=1e-7)
    model = fpstt.SpinTorqueModel.from_microscopic(micro, field_on=True, thermal=True)
    grid = fpstt.SphereGrid.mercator(0.1, -4.0, 4.0, 64)
    p0 = fpstt.GibbsState(50.0, 2.5, 4.0).cell_averages(grid)
    ahead = fpstt.solve(model, grid, p0, [0.01, 0.5], scheme="adaptive-tr-bdf2")
    monkeypatch.setattr(workers, "_EXECUTOR", _HereAndNow())
    here = fpstt.solve(model, grid, p0, [0.01, 0.5], scheme="adaptive-tr-bdf2")
    assert ahead.diagnostics["n_substeps"] == here.diagnostics["n_substeps"] > 20
    for a, b in zip(ahead.p, here.p):
        assert (a == b).all()


def _relax_in_child(queue):
    micro = fpstt.table_i(n_e=0.0, B=0.05, B_theta=0.6, B_phi=0.3, B_k=0.1, easy_theta=1.0,
                          easy_phi=2.0, alpha=0.5, T=300.0, t_n=1e-7)
    model = fpstt.SpinTorqueModel.from_microscopic(micro, field_on=True, thermal=True)
    grid = fpstt.SphereGrid.mercator(0.2, -3.0, 3.0, 32)
    p0 = fpstt.GibbsState(50.0, 2.5, 4.0).cell_averages(grid)
    sol = fpstt.solve(model, grid, p0, [0.05], scheme="adaptive-tr-bdf2")
    queue.put(sol.diagnostics["n_substeps"])


@pytest.mark.filterwarnings("ignore:scheme .* upwinds the drift")
@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_a_forked_child_factorises_ahead_too():
    """A process forked after factorisations ahead (fpstt sweep's workers) starts its own
    worker threads: the parent's are not in it, and its solve must not wait for them."""
    import multiprocessing
    _relax_in_child(multiprocessing.Queue())          # the parent's threads exist now
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_relax_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    alive = child.is_alive()
    if alive:
        child.kill()
    assert not alive and child.exitcode == 0
    assert queue.get(timeout=5) > 5
