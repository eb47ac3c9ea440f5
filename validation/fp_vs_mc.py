"""FP vs Monte Carlo on the Table I problem (issue 5): moments, histograms, stationary, dt, Fig. 5.

Run:  python validation/fp_vs_mc.py     (a few minutes on 2 cores)
Writes validation/results/fp_vs_mc.json and docs/figures/fig5.png.
"""

import time

import numpy as np

import fpstt
from fpstt.runs.montecarlo import simulate
from fpstt.analysis.observables import l1_distance, moments, remap
from fpstt.analysis.plotting import add_note, plot_fig5
from fpstt.physics.pushforward import mean_trajectory
from _common import FIGURES, TABLE_I_NOTE, table_i, write

model, gibbs = table_i()
out = {}
times = np.linspace(0, 1, 21)
variants = {"eq17_ito": model,
            "lab": model.with_options(interpretation="stratonovich", reading="lab")}

# --- moments at 21 times, both readings ------------------------------------------------
for name, variant in variants.items():
    grid = fpstt.default_grid(variant, times)
    sol = fpstt.solve(variant, grid, gibbs.cell_averages(grid), times)
    mean_fp, std_fp = moments(grid, sol.p)
    mc = simulate(variant, gibbs, times, 200_000, dt=0.005, seed=1)
    z = (mc.mean - mean_fp) / mc.stderr
    out[f"moments_{name}"] = {"max_abs_z": float(np.abs(z).max()),
                              "max_rel_std_difference": float(np.max(np.abs(mc.std[1:] / std_fp[1:] - 1))),
                              "mc_steps_per_second": mc.diagnostics["steps_per_second"]}
    print(name, out[f"moments_{name}"])
    if name == "eq17_ito":
        fig = plot_fig5(times, (mean_fp, std_fp), mc, n_samples=200_000,
                        noiseless_std=mean_trajectory(gibbs, model.C1, times)[1])
        add_note(fig, TABLE_I_NOTE + ", noise on")
        fig.savefig(FIGURES / "fig5.png", dpi=110)

# --- L1(FP, MC histogram) against N ------------------------------------------------------
panel = [1 / 3, 2 / 3, 1.0]
fine = fpstt.default_grid(model, panel)
sol = fpstt.solve(model, fine, gibbs.cell_averages(fine), panel)
e = fine.theta_edges
coarse = fpstt.SphereGrid(np.concatenate([e[:-1:4], [np.pi]]), 64)
p_fp = [remap(p, fine, coarse) for p in sol.p]
rows = []
for n in (10_000, 100_000, 1_000_000):
    start = time.perf_counter()
    mc = simulate(model, gibbs, panel, n, dt=0.005, seed=7, grid=coarse)
    rows.append({"N": n, "L1": [l1_distance(coarse, a, b) for a, b in zip(p_fp, mc.hist)],
                 "wall_time_s": time.perf_counter() - start})
    print(rows[-1])
out["histogram_l1_vs_N"] = {"grid": coarse.shape, "times": panel, "rows": rows}

# --- stationary <theta^2> ----------------------------------------------------------------
ou = abs(model.C2) ** 2 / (2 * model.C1.imag)
for name, variant in variants.items():
    mc = simulate(variant, gibbs, [3.0], 400_000, dt=0.01, seed=3)
    out[f"stationary_{name}"] = {"theta2_over_ou": float(mc.theta2[0] / ou),
                                 "stderr_over_ou": float(mc.theta2_stderr[0] / ou)}
    print(name, out[f"stationary_{name}"])

# --- MC convergence in dt (mean n_z and its std at t = 0.5 against FP) ------------------
grid = fpstt.default_grid(model, [0.5], steps_per_unit=720, n_phi=512)
sol = fpstt.solve(model, grid, gibbs.cell_averages(grid), [0.5])
mean_fp, std_fp = moments(grid, sol.p)
dt_rows = []
for dt in (0.05, 0.025, 0.0125, 0.00625):
    mc = simulate(model, gibbs, [0.5], 400_000, dt=dt, seed=5)
    dt_rows.append({"dt": dt, "mean_z_diff": float(mc.mean[0, 2] - mean_fp[0, 2]),
                    "stderr": float(mc.stderr[0, 2])})
    print(dt_rows[-1])
out["mc_dt_convergence"] = dt_rows
write("fp_vs_mc", out)
