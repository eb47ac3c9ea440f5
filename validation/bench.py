"""Benchmarks of issue 7, measured side by side in one process (not a timed test).

Run:  python validation/bench.py [--quick]      (several minutes; --quick: smaller baseline)
Prints ratios and writes validation/results/bench.json.

(a) fpstt defaults vs a naive hand-written baseline: central differences (findiff) on a uniform
    grid, one 2-D sparse matrix, Crank-Nicolson, splu factorised once.
(b) fpstt vs Monte Carlo: time to reach the same L1 density error at t_n.
(c) scaling: wall time per step and peak memory against the number of cells.
Every L1 is measured at t = t_n against a converged fpstt reference (720 steps/t_n, 512 phi).
"""

import sys
import time
import tracemalloc

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import fpstt
from fpstt.montecarlo import simulate
from fpstt.observables import l1_distance, remap
from _common import table_i, write

QUICK = "--quick" in sys.argv
model, gibbs = table_i()
T = [1.0]


def timed(func, repeats=3):
    best, value = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        value = func()
        best = min(best, time.perf_counter() - start)
    return best, value


def fpstt_run(spu, nf):
    grid = fpstt.default_grid(model, T, steps_per_unit=spu, n_phi=nf)
    p0 = gibbs.cell_averages(grid)
    return grid, fpstt.solve(model, grid, p0, T)


print("reference: fpstt, 900 steps per t_n, n_phi = 768 ...", file=sys.stderr)
ref_grid, ref = fpstt_run(900, 768)
p_ref = ref.p[-1]


def error_on(grid, p):
    """L1 at t_n against the reference, on the coarser of the two grids."""
    return l1_distance(grid, p, remap(p_ref, ref_grid, grid))


# ---- (a) fpstt against the naive baseline ----------------------------------------------
fp_rows = []
DEFAULT = (fpstt.config.DEFAULTS["grid"]["steps_per_unit"], fpstt.config.DEFAULTS["grid"]["n_phi"])
for spu, nf in ((45, 64), (90, 128), (180, 256), DEFAULT):
    seconds, (grid, sol) = timed(lambda: fpstt_run(spu, nf))
    fp_rows.append({"steps_per_unit": spu, "n_phi": nf, "cells": grid.size,
                    "solver_s": sol.diagnostics["wall_time_s"], "total_s": seconds,
                    "L1": error_on(grid, sol.p[-1])})
    print("fpstt", fp_rows[-1], file=sys.stderr)


def baseline(n_theta, n_phi, n_steps):
    """What a user writes by hand: uniform grid, central differences, CN, one splu."""
    grid = fpstt.SphereGrid.uniform(n_theta, n_phi)
    L = fpstt.central_difference_matrix(model, grid)
    T_, F = np.meshgrid(grid.theta, grid.phi, indexing="ij")
    p = gibbs.density(T_, F).ravel()
    dt = 1.0 / n_steps
    identity = sp.identity(grid.size, format="csc")
    lu = spla.splu((identity - 0.5 * dt * L).tocsc())
    explicit = (identity + 0.5 * dt * L).tocsr()
    for _ in range(n_steps):
        p = lu.solve(explicit @ p)
    p = p.reshape(grid.shape)
    return grid, p


base_rows = []
sizes = ((64, 32, 250), (128, 64, 500)) if QUICK else ((64, 32, 250), (128, 64, 500),
                                                          (256, 128, 1000), (512, 256, 1000))
for nt, nf, steps in sizes:
    seconds, (grid, p) = timed(lambda: baseline(nt, nf, steps), repeats=1 if nt >= 256 else 3)
    base_rows.append({"grid": [nt, nf], "steps": steps, "total_s": seconds,
                      "L1": error_on(grid, p), "min_p": float(p.min()), "max_p": float(p.max())})
    print("baseline", base_rows[-1], file=sys.stderr)

best_base = min(base_rows, key=lambda r: r["L1"])
default = fp_rows[-1]
cheapest = min((r for r in fp_rows if r["L1"] <= best_base["L1"]), key=lambda r: r["total_s"])
same_time = min((r for r in fp_rows if r["total_s"] <= best_base["total_s"]), key=lambda r: r["L1"])
ratios = {
    "speedup_at_baseline_best_accuracy": best_base["total_s"] / cheapest["total_s"],
    "error_ratio_at_equal_or_less_time": best_base["L1"] / same_time["L1"],
}

# ---- (b) fpstt against its own Monte Carlo ---------------------------------------------
coarse = fpstt.default_grid(model, T, steps_per_unit=45, n_phi=64)    # nested in all rows
mc_rows = []
for n in ((10_000, 100_000) if QUICK else (10_000, 100_000, 1_000_000)):
    seconds, mc = timed(lambda: simulate(model, gibbs, T, n, dt=0.005, seed=1, grid=coarse),
                        repeats=1)
    mc_rows.append({"N": n, "total_s": seconds, "L1": error_on(coarse, mc.hist[-1]),
                    "steps_per_second": mc.diagnostics["steps_per_second"]})
    print("montecarlo", mc_rows[-1], file=sys.stderr)
fp_coarse = []
for r in fp_rows:
    if r["steps_per_unit"] % 45 or r["n_phi"] % 64:
        continue                                     # not nested in the coarse grid
    grid, sol = fpstt_run(r["steps_per_unit"], r["n_phi"])
    fp_coarse.append(dict(r, L1_coarse=error_on(coarse, remap(sol.p[-1], grid, coarse))))
best_mc = mc_rows[-1]
match = min((r for r in fp_coarse if r["L1_coarse"] <= best_mc["L1"]), key=lambda r: r["total_s"])
ratios["speedup_vs_monte_carlo_at_equal_L1"] = best_mc["total_s"] / match["total_s"]
ratios["mc_trajectory_steps_per_second"] = max(r["steps_per_second"] for r in mc_rows)

# ---- (c) scaling ---------------------------------------------------------------------------
scale_rows = []
for spu, nf in ((90, 128), (180, 256), (360, 512), (720, 512)):
    grid = fpstt.default_grid(model, T, steps_per_unit=spu, n_phi=nf)
    p0 = gibbs.cell_averages(grid)
    tracemalloc.start()
    sol = fpstt.solve(model, grid, p0, T)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    scale_rows.append({"cells": grid.size, "steps": sol.diagnostics["n_steps"],
                       "solver_s": sol.diagnostics["wall_time_s"],
                       "s_per_step": sol.diagnostics["wall_time_s"] / sol.diagnostics["n_steps"],
                       "peak_MB": peak / 2 ** 20})
    print("scaling", scale_rows[-1], file=sys.stderr)
cells = np.array([r["cells"] for r in scale_rows])
ratios["per_step_cost_exponent_in_cells"] = float(np.polyfit(
    np.log(cells), np.log([r["s_per_step"] for r in scale_rows]), 1)[0])
ratios["peak_memory_exponent_in_cells"] = float(np.polyfit(
    np.log(cells), np.log([r["peak_MB"] for r in scale_rows]), 1)[0])

print(f"\nfpstt defaults: {default['solver_s']:.2f} s in the solver, {default['total_s']:.2f} s "
      f"with set-up, L1 at t_n = {default['L1']:.2e}")
print(f"naive baseline, best: grid {best_base['grid']}, {best_base['total_s']:.1f} s, "
      f"L1 = {best_base['L1']:.2f}, p in [{best_base['min_p']:.3g}, {best_base['max_p']:.3g}]")
for key, value in ratios.items():
    print(f"{key:<45} {value:.3g}")
write("bench", {"fpstt": fp_rows, "baseline": base_rows, "montecarlo": mc_rows,
                "scaling": scale_rows, "ratios": ratios, "quick": QUICK})
