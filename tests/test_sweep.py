import math

import numpy as np
import pytest

import fpstt
import fpstt.runs.sweep as sweep_module
from fpstt.cli import main
from fpstt.runs.montecarlo import simulate
from fpstt.runs.sweep import grid_points, run_point, sweep
from fpstt.analysis.switching import switching_probability
from fpstt.runs.wer import switching_curve

POINTS = grid_points({"n_e": [4.5e4, 5.5e4], "T": [1.0, 3.0]})
OPTIONS = dict(du=0.06, n_phi=64)


def _strip(rows):
    """Rows without the timing, NaN made comparable."""
    return [{k: ("nan" if isinstance(v, float) and math.isnan(v) else v)
             for k, v in r.items() if k != "solver_s"} for r in rows]


def test_switching_probability_of_uniform_density():
    """(1 - c)/2 for a uniform law: exact when theta_c is an edge, else the partial cell's
    linear share converges at second order."""
    def error(c, n):
        grid = fpstt.SphereGrid.uniform(n, 8)
        p = grid.from_per_area(np.full(grid.shape, 1 / (4 * math.pi)))
        return abs(switching_probability(grid, p, c) - (1 - c) / 2)
    assert error(0.0, 8) < 1e-14
    for c in (-0.3, 0.45):
        for n in (7, 14, 28, 56):                    # error ≤ C / n^2 (position in the cell varies)
            assert error(c, n) * n ** 2 < 0.3
    with pytest.raises(ValueError, match="`threshold` must lie in"):
        switching_probability(fpstt.SphereGrid.uniform(4, 4), np.ones((4, 4)), 1.0)


def test_fp_and_mc_switching_probability_agree():
    micro = fpstt.table_i(n_e=5.0e4, T=3.0)
    model = fpstt.SpinTorqueModel.from_microscopic(micro)
    gibbs = fpstt.GibbsState.from_microscopic(micro)
    times = np.linspace(0, 1, 11)
    grid = fpstt.default_grid(model, times, steps_per_unit=180, n_phi=128, u_max=5.0)
    p_fp = switching_probability(grid, fpstt.solve(model, grid, gibbs.cell_averages(grid), times).p)
    mc = simulate(model, gibbs, times, 20_000, dt=0.01, seed=3)
    assert 0.3 < p_fp[-1] < 0.9                                  # a case where it is uncertain
    se = np.sqrt(p_fp * (1 - p_fp) / 20_000)                     # binomial, under P = P_fp
    assert np.all(np.abs(mc.p_switch - p_fp) <= 4 * se + 1 / 20_000)
    mean_fp = switching_curve(model, gibbs, 1.0).statistics()["mean"]
    assert abs(mc.switch_time_mean - mean_fp) <= 4 * mc.switch_time_stderr


def test_sweep_same_table_serial_processes_and_dask():
    from distributed import Client, LocalCluster
    serial = sweep(POINTS, [0.5, 1.0], executor="serial", **OPTIONS)
    procs = sweep(POINTS, [0.5, 1.0], executor="processes", workers=2, **OPTIONS)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        dask = sweep(POINTS, [0.5, 1.0], executor="dask", scheduler=client, **OPTIONS)
    assert all(r["status"] == "ok" for r in serial)
    assert _strip(serial) == _strip(procs) == _strip(dask)
    for r in serial:                   # each side on its own, both at the step resolution
        assert r["P_sw(t=0.5)"] + r["WER(t=0.5)"] == pytest.approx(1.0, abs=1e-9)
        assert 0 < r["WER_floor"] < 1e-12          # warmer states reach the far cap: higher
    p_sw = {(r["n_e"], r["T"]): r["P_sw(t=1)"] for r in serial}
    assert p_sw[(5.5e4, 1.0)] > p_sw[(4.5e4, 1.0)]               # more current, more switching


def test_failed_point_is_reported_and_does_not_sink_the_sweep():
    rows = sweep([{"n_e": 5e4}, {"n_e": 5e4, "T": -1.0}], [1.0], executor="serial", **OPTIONS)
    status = {r["key"]: r for r in rows}
    assert status["n_e=50000.0"]["status"] == "ok"
    bad = status["T=-1.0;n_e=50000.0"]
    assert bad["status"] == "failed" and "`T` must be finite and > 0" in bad["error"]


def test_killed_sweep_resumes_only_missing_points(tmp_path, monkeypatch):
    path = tmp_path / "sweep.csv"
    calls = []
    original = sweep_module.run_point

    def killed_after_two(point, times, **kw):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(point)
        return original(point, times, **kw)

    monkeypatch.setattr(sweep_module, "run_point", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        sweep(POINTS, [1.0], executor="serial", csv_path=path, **OPTIONS)
    assert len(sweep_module._read_csv(path)) == 2
    calls.clear()

    def counting(point, times, **kw):
        calls.append(point)
        return original(point, times, **kw)

    monkeypatch.setattr(sweep_module, "run_point", counting)
    rows = sweep(POINTS, [1.0], executor="serial", csv_path=path, **OPTIONS)
    assert len(calls) == 2 and len(rows) == 4
    assert len(sweep_module._read_csv(path)) == 4


def test_cli_sweep(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.toml").write_text(
        "[sweep]\nn_e = [4.5e4, 5.5e4]\n[options]\ntimes = [1.0]\ndu = 0.06\nn_phi = 64\n")
    assert main(["sweep", "--config", "s.toml", "--executor", "serial", "--plot", "s.png"]) == 0
    assert (tmp_path / "sweep.csv").exists() and (tmp_path / "s.png").exists()
    (tmp_path / "bad.toml").write_text("[sweep]\nn_e = [1.0]\n[options]\nwhen = 3\n")
    assert main(["sweep", "--config", "bad.toml"]) == 2
    assert "line 4" in capsys.readouterr().err


def test_grid_points_validation():
    assert len(grid_points({"n_e": [1, 2], "T": [1, 2, 3]})) == 6
    with pytest.raises(ValueError, match="unknown sweep parameter `current`"):
        grid_points({"current": [1]})
    assert run_point({"n_e": 5e4}, [1.0], **OPTIONS)["status"] == "ok"


def test_a_pulse_with_the_field_kept_on_is_a_valid_point():
    """A sweep point with a pulse and the field kept on runs on the z' frame (it was refused:
    the Möbius chart belongs to one drive): its row is the write-error curve of that run on
    the point's du and n_phi (1.2e-7 in P_sw from a solve_pulse on the point's grid, which
    freezes rows and stops nearer the far pole)."""
    point = {"n_e": 1.5e5, "width": 0.5}
    row = run_point(point, [1.0], model_options={"field_on": True})
    assert row["status"] == "ok", row.get("error")
    model = fpstt.SpinTorqueModel.from_microscopic(fpstt.table_i(), field_on=True)
    gibbs = fpstt.GibbsState.from_microscopic(fpstt.table_i())
    curve = switching_curve(model, gibbs, 1.0, du=0.03, n_phi=128, pulse=fpstt.Pulse(0.5))
    assert row["P_sw(t=1)"] == curve.p_switch_at([1.0])[0]
    assert row["WER(t=1)"] == curve.at([1.0])[0] and row["WER_floor"] == curve.floor
    assert row["grid"] == "x".join(map(str, curve.diagnostics["grid"])) and row["solver_s"] > 0


def _threads_in_worker(_):
    import numba
    return numba.get_num_threads()


def test_each_process_worker_takes_its_share_of_the_threads():
    """A process pool of as many workers as cores gives each one thread for the compiled
    loops (numba loaded in the parent before the fork, as after any chart run)."""
    import multiprocessing
    import os
    import numba                                     # loaded before the fork
    from fpstt.runs.sweep import _start_worker
    size = os.cpu_count()
    assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS
    with multiprocessing.get_context("fork").Pool(size, initializer=_start_worker,
                                                  initargs=(1,)) as pool:
        assert pool.map(_threads_in_worker, range(size)) == [1] * size
