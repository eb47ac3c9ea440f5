"""Worked example of issue 25: write errors of an in-plane junction (validation/in_plane.toml).

Run:  python validation/in_plane.py STAGE, STAGE one of
  curves         one WER curve per current [--current A] (results/in_plane_curve_*.json)
  check-mc       Monte Carlo of a 2 t_n pulse, N = 1e5 (results/in_plane_mc.json), and FP
  density        the density during the pulse (docs/figures/in_plane_density.png) and
                 its moments against that Monte Carlo (results/in_plane_density.json)
  figures        docs/figures/in_plane_wer.png from the saved curves
  map            WER over (current, width) on a Dask LocalCluster (results/in_plane_map.csv,
                 docs/figures/in_plane_map.png)
  check-refined  a curve against one refined 2x in u, t and phi
  phi-scan       WER during the switch against the number of phi cells
  lab            the pulse with C2 in the lab pole reading: its own Monte Carlo and the FP
                 density and WER against it (results/in_plane_density_lab.json)

The device: a thin film magnetised in plane, easy axis e = z' in the plane (B_k = 0.05 T,
Delta = 44.8 at 300 K), hard axis h = x' the film normal (B_d = mu0 M_s = 1 T), alpha = 0.01,
Brown noise at 300 K, the polariser (fixed layer) along the easy axis z', a field-like ratio
beta = 0.1, started in the Boltzmann state of the antiparallel well at -z' and written toward
+z' by a square current pulse.  Its critical current is 0.169 mA; the currents are 0.4, 0.6
and 0.8 mA.  WER(w) is read at the end of a pulse of width w from one constant-drive run per
current (one switching curve).
"""

import argparse
import json
import time

import matplotlib.pyplot as plt
import numpy as np

import fpstt
from fpstt.runs.config import load_config
from fpstt.analysis.plotting import add_note, plot_sweep
from fpstt.physics.magnet import Pulse, critical_drive, thermal_stability
from fpstt.runs.montecarlo import simulate
from fpstt.analysis.observables import moments
from fpstt.runs.wer import switching_curve
from _common import (FIGURES, RESULTS, ROOT, fourth_moments, halved_step_bounds, std_stderr,
                     write)

CONFIG = load_config(ROOT / "in_plane.toml")
CURRENTS = {6e-4: 5.5, 8e-4: 4.5, 4e-4: 10.0}          # A: horizon of its curve, t_n
SETTLE = 1.0                                          # t_n with the drive off after a pulse
DU, N_PHI = CONFIG.grid["du"], CONFIG.grid["n_phi"]
MC_DT = 5e-4                                          # t_n (1e-3: means 2.4 s.e. off at t_n)


def device(current, reading="eq17"):
    """(micro, model, start) of the junction at ``current`` (A), its shot noise C2 in the
    pole ``reading``: "eq17" (Itô, Eq. 17 in (theta, phi)) or "lab" (a Stratonovich SDE with
    lab-frame noise fields); Brown's noise is lab-smooth in both."""
    given = {k: v for k, v in CONFIG.micro.to_dict().items() if k != "n_e"}
    micro = fpstt.table_i(**dict(given, current_A=current))
    options = dict(reading="lab", interpretation="stratonovich") if reading == "lab" else {}
    model = fpstt.SpinTorqueModel.from_microscopic(micro, thermal=True, **options)
    return micro, model, fpstt.initial_state(micro, **CONFIG.initial)


def curve(current, horizon, pulse=None, du=DU, n_phi=N_PHI):
    _, model, start = device(current)
    return switching_curve(model, start, horizon, pulse=pulse, du=du, n_phi=n_phi)


def table_i_solve_time():
    """Wall time of the Table I solve (``fpstt.solve`` with defaults), s: the reference."""
    micro = fpstt.table_i()
    model, gibbs = fpstt.SpinTorqueModel.from_microscopic(micro), fpstt.GibbsState.from_microscopic(micro)
    start = time.perf_counter()
    times = [0.0, 1 / 3, 2 / 3, 1.0]
    grid = fpstt.default_grid(model, times, initial=gibbs)
    fpstt.solve(model, grid, gibbs.cell_averages(grid), times)
    return time.perf_counter() - start


def mc_rate(model, start):
    """Monte Carlo trajectory-steps per second of this model (dt = MC_DT)."""
    mc = simulate(model, start, [0.05], 20_000, dt=MC_DT, seed=9)
    return mc.diagnostics["steps_per_second"]


MC_TIMES = [0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0]     # during and after a 2 t_n pulse
SHOWN = [0.0, 0.75, 1.0, 1.25, 2.0, 3.0]                   # times of the density figure


def density_run(current=6e-4, width=2.0, times=tuple([0.0] + MC_TIMES), reading="eq17"):
    """(grid, solution) of the density during and after a pulse at ``current``."""
    _, model, start = device(current, reading)
    grid = fpstt.default_grid(model, list(times), du=DU, n_phi=N_PHI, initial=start,
                              attractor=False)
    return grid, fpstt.solve(model, grid, start.cell_averages(grid), list(times),
                             pulse=Pulse(width))


def plot_wer(curves):
    """WER at the end of a pulse of width w: one constant-drive curve per current."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4), constrained_layout=True)
    for name, c in curves.items():
        t, wer = np.array(c["t"]), np.array(c["wer"])
        keep = wer >= max(c["floor"], 1e-13)
        ax.semilogy(t[keep], wer[keep], label=f"I = {name} ({c['diagnostics']['grid'][1]} φ cells)")
    ax.axhline(1e-9, ls=":", c="gray")
    ax.set_xlabel("pulse width ($t_n$ = 1 ns)")
    ax.set_ylabel("write-error rate at the end of the pulse")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    add_note(fig, "validation/in_plane.toml: B_k = 0.05 T, B_d = 1 T, alpha = 0.01, "
                  "beta = 0.1, 300 K, Brown noise")
    fig.savefig(FIGURES / "in_plane_wer.png", dpi=120)


def plot_density(grid, sol):
    """p(theta, phi) at the run's times: the precessional orbit of the switch."""
    fig, axes = plt.subplots(1, len(SHOWN), figsize=(2.3 * len(SHOWN), 3.2),
                             sharey=True, constrained_layout=True)
    for ax, t in zip(axes, SHOWN):
        p = sol.p[int(np.argmin(np.abs(np.asarray(sol.times) - t)))]
        per_area = np.maximum(p / np.sin(grid.theta)[:, None], 1e-300)
        ax.pcolormesh(np.degrees(grid.phi_edges), np.degrees(grid.theta_edges),
                      np.log10(per_area / per_area.max()), vmin=-6, vmax=0, cmap="magma")
        ax.set_title(f"t = {t:g} $t_n$", fontsize=9)
        ax.set_xlabel("phi (deg)")
    axes[0].set_ylabel("theta from z' (deg)")
    axes[0].invert_yaxis()
    fig.suptitle("log10 of p per steradian / its maximum (pulse 0-2 $t_n$, 0.6 mA)", fontsize=9)
    fig.savefig(FIGURES / "in_plane_density.png", dpi=110)


def check_mc(current=6e-4, width=2.0, n=100_000):
    """Monte Carlo of a 2 t_n pulse at MC_TIMES (results/in_plane_mc.json), and the FP
    curve and moments against it (:func:`against_mc`)."""
    _, model, start = device(current)
    mc = simulate(model, start, MC_TIMES, n, dt=MC_DT, seed=11, pulse=Pulse(width))
    saved = dict(times=MC_TIMES, wer=1 - mc.p_switch, mean=mc.mean, std=mc.std,
                 stderr=mc.stderr, n=n, dt=MC_DT, current=current, width=width)
    write("in_plane_mc", saved)
    grid, sol = density_run(current, width)
    c = switching_curve(model, start, width + SETTLE, pulse=Pulse(width), du=DU, n_phi=N_PHI)
    return against_mc(grid, sol, c, saved)


def against_mc(grid, sol, c, mc):
    """z-scores of the FP WER (the curve ``c``), means and stds (the solve at MC_TIMES)
    against the saved Monte Carlo ``mc``."""
    mean_fp, std_fp = moments(grid, sol.p[1:])
    n, wer, mean, std = mc["n"], c.at(MC_TIMES), np.array(mc["mean"]), np.array(mc["std"])
    se = np.sqrt(np.maximum(wer * (1 - wer), 0) / n) + 1 / n
    out = dict(times=MC_TIMES, wer_fp=wer, wer_mc=mc["wer"],
               wer_z=np.abs(np.array(mc["wer"]) - wer) / se,
               mean_z=np.abs(mean - mean_fp) / np.array(mc["stderr"]),
               std_z=np.abs(std - std_fp) / (std / np.sqrt(2 * n)), mean_fp=mean_fp,
               mean_mc=mean, std_fp=std_fp, std_mc=std, n=n, dt=mc["dt"], n_phi=N_PHI, du=DU)
    print("against MC: z of WER", np.round(out["wer_z"], 2), "of means",
          np.round(out["mean_z"].max(axis=1), 2), "of stds", np.round(out["std_z"].max(axis=1), 2))
    return out


def check_refined(current=8e-4, horizon=4.5):
    """The example's curve (DU, N_PHI) against one refined 2x in u, phi and t.

    On the folded path (``FlowPlan.folds_shift``, this device's) the step is
    FOLD_STEP_TURN / the magnet's rate in remaps of FOLD_TURN, not du / Im C1, so the fine
    curve also halves both; on the row-shift path halving du halves the step by itself."""
    base = curve(current, horizon)
    with halved_step_bounds():
        fine = curve(current, horizon, du=DU / 2, n_phi=2 * N_PHI)
    times = np.round(np.arange(0.5, horizon + 1e-9, 0.25), 4)
    ref, got = fine.at(times), base.at(times)
    rel = np.where(ref > 0, np.abs(got / np.where(ref > 0, ref, 1) - 1), np.nan)
    print("refined: times", times.tolist(), "\n ref", ref.tolist(), "\n rel",
          np.round(rel, 4).tolist())
    return dict(times=times, base=got, fine=ref, rel=rel,
                base_steps=base.diagnostics["n_steps"], fine_steps=fine.diagnostics["n_steps"],
                base_grid=base.diagnostics["grid"], fine_grid=fine.diagnostics["grid"],
                base_s=base.diagnostics["wall_time_s"], fine_s=fine.diagnostics["wall_time_s"])


SCAN = (256, 320, 352, 376, 384, 392, 416, 448, 512)          # phi cells of the scan


def phi_scan(current=8e-4, horizon=1.5, cells=SCAN):
    """WER at 1, 1.25 and 1.5 t_n of the constant-drive curve against the number of phi
    cells (du and step as the example's): where the count stops mattering."""
    out = {}
    for n in cells:
        c = curve(current, horizon, n_phi=n)
        out[n] = dict(wer=c.at([1.0, 1.25, 1.5]).tolist(), wall_s=c.diagnostics["wall_time_s"])
        print(n, out[n], flush=True)
    return dict(current=current, times=[1.0, 1.25, 1.5], du=DU, by_n_phi=out)


def run_map():
    """WER over (current, pulse width) with fpstt sweep's Dask executor on a LocalCluster."""
    from distributed import Client, LocalCluster
    from fpstt.runs.sweep import grid_points, sweep
    fixed = {k: [v] for k, v in CONFIG.micro.to_dict().items() if k in
             ("J", "lam", "B", "B_k", "B_d", "hard_theta", "hard_phi", "alpha", "T",
              "field_like_ratio")}
    values = dict(fixed, current_A=[4e-4, 6e-4, 8e-4], width=[1.0, 2.0, 3.0])
    start = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as client:
        rows = sweep(grid_points(values), [4.0], executor="dask", scheduler=client,
                     csv_path=RESULTS / "in_plane_map.csv", du=DU, n_phi=N_PHI // 4,
                     model_options={"thermal": True}, initial=CONFIG.initial)
    fig = plot_sweep(rows, ["current_A", "width"], [4.0])
    fig.savefig(FIGURES / "in_plane_map.png", dpi=110)
    print(f"map: {len(rows)} points in {time.perf_counter() - start:.0f} s")
    return rows


def curves_stage(current, n_phi=N_PHI):
    """The constant-drive curve at ``current`` (A) on ``n_phi`` cells, beside the Table I
    solve timed just before it and the Monte Carlo rate of the model
    (results/in_plane_curve_<mA>.json)."""
    _, model, start = device(current)
    rate = mc_rate(model, start)
    reference = table_i_solve_time()
    c = curve(current, CURRENTS[current], n_phi=n_phi)
    wall, width = c.diagnostics["wall_time_s"], c.time_to(1e-9)
    n_mc = 100 / 1e-9                               # 10 % relative error at WER = 1e-9
    out = dict(t=c.t, wer=c.wer, floor=c.floor, diagnostics=c.diagnostics, width_1e9=width,
               table_i_solve_s=reference, ratio_to_table_i=wall / reference,
               mc_steps_per_second=rate, mc_trajectories=n_mc,
               mc_s=n_mc * width / MC_DT / rate)
    print(f"I = {current * 1e3:.1f} mA: WER 1e-9 at w = {width:.3f} t_n; FP {wall:.1f} s "
          f"({wall / reference:.0f}x the Table I solve, {reference:.2f} s), "
          f"{c.diagnostics['n_steps']} steps on {c.diagnostics['grid']}; Monte Carlo "
          f"{n_mc:.0e} trajectories, {out['mc_s'] / 3.15e7:.2g} years at {rate:.3g} steps/s")
    write(f"in_plane_curve_{current * 1e3:g}mA", out)


def density_stage(current=6e-4, width=2.0):
    """The density during and after a 2 t_n pulse (figure), its moments and the pulse's WER
    curve against the saved Monte Carlo (results/in_plane_density.json)."""
    mc = json.loads((RESULTS / "in_plane_mc.json").read_text())
    grid, sol, out = against_saved_mc(mc, current, width)
    plot_density(grid, sol)
    write("in_plane_density", out)


def lab_stage(current=6e-4, width=2.0, n=100_000):
    """The same pulse with C2 in the lab reading: a Monte Carlo of its own (N = 1e5,
    results/in_plane_mc_lab.json) and the FP density and WER against it
    (results/in_plane_density_lab.json)."""
    _, model, start = device(current, "lab")
    mc = simulate(model, start, MC_TIMES, n, dt=MC_DT, seed=12, pulse=Pulse(width))
    saved = dict(times=MC_TIMES, wer=1 - mc.p_switch, mean=mc.mean, std=mc.std,
                 stderr=mc.stderr, n=n, dt=MC_DT, current=current, width=width, reading="lab")
    write("in_plane_mc_lab", saved)
    write("in_plane_density_lab", against_saved_mc(saved, current, width, "lab")[2])


def against_saved_mc(mc, current, width, reading="eq17"):
    """(grid, solution, z table) of the density and the pulse's WER curve in ``reading``
    against a Monte Carlo ``mc`` of the same pulse; the stds' standard error from the 4th
    moment (after the pulse the law is bimodal: a WER of 3.5e-3 at n_z' = -1, and the normal
    law's std / sqrt(2 n) understates it ~13x)."""
    grid, sol = density_run(current, width, reading=reading)
    mean_fp, std_fp = moments(grid, sol.p[1:])
    m4 = fourth_moments(grid, sol.p[1:], mean_fp)
    n, mean, std = mc["n"], np.array(mc["mean"]), np.array(mc["std"])
    out = dict(times=MC_TIMES, mean_fp=mean_fp, std_fp=std_fp, mean_mc=mean, std_mc=std,
               m4_fp=m4, mean_z=np.abs(mean - mean_fp) / np.array(mc["stderr"]),
               std_z=np.abs(std - std_fp) / std_stderr(np.maximum(std, std_fp), m4, n),
               std_z_normal=np.abs(std - std_fp) / (std / np.sqrt(2 * n)),
               solve_s=sol.diagnostics["wall_time_s"], n_phi=N_PHI, du=DU, reading=reading)
    _, model, start = device(current, reading)
    c = switching_curve(model, start, width + SETTLE, pulse=Pulse(width), du=DU, n_phi=N_PHI)
    wer, n_wer = c.at(MC_TIMES), np.asarray(mc["wer"])
    out.update(wer_fp=wer, wer_mc=n_wer, wer_z=np.abs(n_wer - wer) / (
        np.sqrt(np.maximum(wer * (1 - wer), 0) / n) + 1 / n))
    print("against MC: z of WER", np.round(out["wer_z"], 2))
    print("against MC: z of means", np.round(out["mean_z"].max(axis=1), 2), "of stds",
          np.round(out["std_z"].max(axis=1), 2), "(normal-law s.e.:",
          np.round(out["std_z_normal"].max(axis=1), 2), ")")
    return grid, sol, out


def figures_stage():
    """The WER figure from the saved curves."""
    curves = {f"{k * 1e3:g} mA": json.loads(
        (RESULTS / f"in_plane_curve_{k * 1e3:g}mA.json").read_text()) for k in CURRENTS}
    plot_wer(curves)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("stage", choices=["curves", "density", "figures", "map", "check-mc",
                                          "check-refined", "phi-scan", "lab"])
    parser.add_argument("--current", type=float, help="A (stage curves; default: all)")
    parser.add_argument("--n-phi", type=int, default=N_PHI, help="stage curves: phi cells")
    args = parser.parse_args()
    micro, model, start = device(6e-4)
    print(f"Delta = {thermal_stability(micro):.1f}, Im C1 = {model.C1.imag:.3f} per t_n "
          f"(critical {critical_drive(micro):.3f}), Brown D = {model.thermal_D:.2e} per t_n")
    if args.stage == "check-mc":
        write("in_plane_check_mc", check_mc())
    elif args.stage == "check-refined":
        write("in_plane_check_refined_all", check_refined())
    elif args.stage == "lab":
        lab_stage()
    elif args.stage == "phi-scan":
        write("in_plane_phi_scan", phi_scan())
    elif args.stage == "curves":
        for current in [args.current] if args.current else CURRENTS:
            curves_stage(current, args.n_phi)
    else:
        {"density": density_stage, "figures": figures_stage, "map": run_map}[args.stage]()
