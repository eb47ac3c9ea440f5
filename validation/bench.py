"""Benchmarks of issue 7, measured side by side in one process (not a timed test).

Run:  python validation/bench.py [--quick] [--long]
      (about 5 minutes; --quick: smaller baseline and Monte Carlo runs, under a minute;
      --long: also one Monte Carlo run at the accuracy of the 411 x 256 grid, ten more minutes)
Prints ratios and writes validation/results/bench.json.

(a) fpstt defaults vs a naive hand-written baseline: central differences (findiff) on a uniform
    grid, one 2-D sparse matrix, Crank-Nicolson, splu factorised once.
(b) fpstt vs Monte Carlo: time to reach the same L1 density error at t_n.
(c) scaling: wall time per step and peak memory against the number of cells.
(d) time to a write-error rate of 1e-9: fpstt's switching curve against the Monte Carlo run
    that would resolve it (100 / WER trajectories at the measured throughput; validation/wer.py).
Every L1 is measured at t = t_n against a converged fpstt reference (900 steps/t_n, 768 phi),
on a common grid: the cell masses of both sides, the finer remapped exactly onto the coarser.
"""

import functools
import math
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.optimize import brentq

import fpstt
from fpstt.runs.montecarlo import simulate
from fpstt.analysis.observables import l1_distance, remap
from _common import binomial_mad, table_i, write

QUICK = "--quick" in sys.argv
model, gibbs = table_i()
T = [1.0]


def timed(func, repeats=3):
    """Median wall time of ``repeats`` calls, and the last call's value."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        value = func()
        seconds.append(time.perf_counter() - start)
    return float(np.median(seconds)), value


def fpstt_run(spu, nf):
    grid = fpstt.default_grid(model, T, steps_per_unit=spu, n_phi=nf)
    p0 = gibbs.cell_averages(grid)
    return grid, fpstt.solve(model, grid, p0, T)


# ---- the whole `fpstt solve` command at its defaults (Fig. 4 problem) -------------------
# First, while this process is small: a child's peak RSS counts the pages it shares at fork.
with tempfile.TemporaryDirectory() as scratch:
    command = [sys.executable, "-m", "fpstt", "solve", "--quiet", "--out",
               str(Path(scratch) / "fig4.npz")]
    command_s, _ = timed(lambda: subprocess.run(command, check=True, capture_output=True))
command_peak_MB = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"fpstt solve (defaults): {command_s:.2f} s, peak RSS {command_peak_MB:.0f} MB",
      file=sys.stderr)

print("reference: fpstt, 900 steps per t_n, n_phi = 768 ...", file=sys.stderr)
ref_grid, ref = fpstt_run(900, 768)
p_ref = ref.p[-1]


def error_on(grid, p):
    """L1 at t_n against the reference, on the coarser of the two grids."""
    return l1_distance(grid, p, remap(p_ref, ref_grid, grid))


# ---- (a) fpstt against the naive baseline ----------------------------------------------
fp_rows, fp_solutions = [], {}
DEFAULT = (300, fpstt.runs.config.DEFAULTS["grid"]["n_phi"])    # du = 0.0184: Table I's 1/300 t_n
for spu, nf in ((45, 64), (90, 128), (180, 256), DEFAULT):
    solver_seconds = []

    def run_and_time_solver():
        grid, sol = fpstt_run(spu, nf)
        solver_seconds.append(sol.diagnostics["wall_time_s"])
        return grid, sol
    seconds, (grid, sol) = timed(run_and_time_solver)
    fp_rows.append({"steps_per_unit": spu, "n_phi": nf, "cells": grid.size,
                    "solver_s": float(np.median(solver_seconds)), "total_s": seconds,
                    "L1": error_on(grid, sol.p[-1]),
                    "min_p_ratio": sol.diagnostics["min_p_ratio_output"]})
    fp_solutions[spu, nf] = grid, sol
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
# The Monte Carlo error on a grid G is the L1 between its histogram and the reference's cell
# masses on G.  For an unbiased Monte Carlo its expected value at N samples is the sum over
# cells of the binomial mean absolute deviation E|X/N - m| (de Moivre, X ~ Bin(N, m)); the
# measured runs below check that law at every dt of DTS, and it gives the N needed for an L1
# that no run here could reach.  The Monte Carlo is costed at the largest dt, its bias
# neglected: any bias only adds samples, so its times are lower bounds.
DTS = (0.05, 0.02, 0.005)
N_RUNS = (10_000, 100_000) if QUICK else (100_000, 1_000_000)


@functools.lru_cache(maxsize=16)
def reference_masses(grid):
    """The reference's cell masses on ``grid`` that are strictly between 0 and 1."""
    mass = np.clip(remap(p_ref, ref_grid, grid) * grid.cell_measure, 0.0, 1.0).ravel()
    return mass[(mass > 0) & (mass < 1)]


def expected_histogram_l1(grid, n):
    """Expected L1 at t_n of an unbiased n-sample histogram on ``grid`` (reference masses)."""
    mass = reference_masses(grid)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return float(np.sum(binomial_mad(n, mass)))


def samples_needed(grid, target):
    """Smallest N (real) whose expected histogram L1 on ``grid`` is ``target``."""
    return float(np.exp(brentq(lambda x: np.log(expected_histogram_l1(grid, np.exp(x)) / target),
                               np.log(10.0), np.log(1e16))))


def coarse_grid_for(steps_per_unit):
    """The grid of about 45 steps per t_n and 64 phi cells nested in a run's grid."""
    steps = min((d for d in range(1, steps_per_unit + 1) if steps_per_unit % d == 0),
                key=lambda d: abs(d - 45))
    return fpstt.default_grid(model, T, steps_per_unit=steps, n_phi=64)


mc_rows = []
for dt in DTS:
    for n in N_RUNS:
        seconds, mc = timed(lambda: simulate(model, gibbs, T, n, dt=dt, seed=1, grid=ref_grid),
                            repeats=3 if n <= 100_000 else 1)
        measured_over_expected = {
            f"{g.n_theta}x{g.n_phi}": error_on(g, remap(mc.hist[-1], ref_grid, g))
            / expected_histogram_l1(g, n) for g, _ in fp_solutions.values()}
        mc_rows.append({"dt": dt, "N": n, "total_s": seconds, "s_per_trajectory": seconds / n,
                        "steps_per_second": mc.diagnostics["steps_per_second"],
                        "measured_over_expected_L1": measured_over_expected})
        print("montecarlo", mc_rows[-1], file=sys.stderr)
mc_dt = max(DTS)
mc_cost = min(r["s_per_trajectory"] for r in mc_rows if r["dt"] == mc_dt)   # its best run

# The bias of the Monte Carlo step: two large runs; on a grid, the L1 beyond the binomial law,
# b = sqrt(L1^2 - expected^2).  It is measured on the coarse grid, where sampling noise hides
# it least (and where it is smallest: a bias seen on a coarse grid is at least as large on any
# finer one), and extrapolated as b = c dt^q with q fitted to the two runs (kept in [1, 2]:
# weak order 1 for the noise step, 2 at most for a Strang splitting).
N_BIAS = 1_000_000 if QUICK else 10_000_000
BIAS_DTS = (0.05, 0.02)
bias_runs = {dt: simulate(model, gibbs, T, N_BIAS, dt=dt, seed=3, grid=ref_grid).hist[-1]
             for dt in BIAS_DTS}
mc_step_cost = min(1 / r["steps_per_second"] for r in mc_rows)


def bias_law(grid):
    """(c, q) of b = c dt^q on ``grid``; c = 0 if no bias is seen at either step."""
    expected = expected_histogram_l1(grid, N_BIAS)
    b = [math.sqrt(max(error_on(grid, remap(h, ref_grid, grid)) ** 2 - expected ** 2, 0.0))
         for h in bias_runs.values()]
    if min(b) > 0:
        q = float(np.clip(math.log(b[0] / b[1]) / math.log(BIAS_DTS[0] / BIAS_DTS[1]), 1, 2))
        return b[1] / BIAS_DTS[1] ** q, q
    seen = [(bi, dt) for bi, dt in zip(b, BIAS_DTS) if bi > 0]
    return (seen[0][0] / seen[0][1], 1.0) if seen else (0.0, 1.0)


def monte_carlo_with_bias(grid, target, c, q):
    """(dt, N, seconds) of the cheapest run whose bias c dt^q and sampling error combine in
    quadrature to ``target``: the optimum of N / dt puts the bias at target / sqrt(1 + 2q);
    dt at most max(DTS)."""
    dt = min(max(DTS), (target / math.sqrt(1 + 2 * q) / c) ** (1 / q)) if c > 0 else max(DTS)
    n = samples_needed(grid, math.sqrt(target ** 2 - (c * dt ** q) ** 2))
    return dt, n, n * T[-1] / dt * mc_step_cost


comparisons = []
for r in fp_rows:
    grid, sol = fp_solutions[(r["steps_per_unit"], r["n_phi"])]
    coarse = coarse_grid_for(r["steps_per_unit"])
    c_bias, q_bias = bias_law(coarse)
    for common, p in ((grid, sol.p[-1]), (coarse, remap(sol.p[-1], grid, coarse))):
        if common is coarse and coarse.shape == grid.shape:
            continue
        target = error_on(common, p)
        n = samples_needed(common, target)
        dt_b, n_b, seconds_b = monte_carlo_with_bias(common, target, c_bias, q_bias)
        comparisons.append({"fpstt_grid": list(grid.shape), "common_grid": list(common.shape),
                            "L1": target, "fpstt_s": r["total_s"], "mc_N": n,
                            "mc_s": n * mc_cost, "speedup": n * mc_cost / r["total_s"],
                            "bias_law_c_q": [c_bias, q_bias], "with_bias_dt": dt_b,
                            "with_bias_N": n_b,
                            "with_bias_s": seconds_b,
                            "speedup_with_bias": seconds_b / r["total_s"]})
        print("fpstt vs montecarlo", comparisons[-1], file=sys.stderr)

# One comparison run in full: the Monte Carlo at the predicted N, on the 207 x 128 grid.
check = next(c for c in comparisons if c["fpstt_grid"] == c["common_grid"] == [207, 128])
check_grid = fp_solutions[(90, 128)][0]
seconds, mc = timed(lambda: simulate(model, gibbs, T, int(np.ceil(check["mc_N"])), dt=mc_dt,
                                     seed=2, grid=check_grid), repeats=1)
check.update(mc_measured_s=seconds, mc_measured_L1=error_on(check_grid, mc.hist[-1]),
             measured_speedup=seconds / check["fpstt_s"])
# With --long: the bias-aware Monte Carlo run in full on 411 x 256 (about ten minutes).
if "--long" in sys.argv:
    long_check = next(c for c in comparisons if c["fpstt_grid"] == c["common_grid"] == [411, 256])
    long_grid = fp_solutions[(180, 256)][0]
    seconds, mc = timed(lambda: simulate(model, gibbs, T, int(np.ceil(long_check["with_bias_N"])),
                                         dt=long_check["with_bias_dt"], seed=4, grid=long_grid),
                        repeats=1)
    long_check.update(mc_measured_s=seconds, mc_measured_L1=error_on(long_grid, mc.hist[-1]),
                      measured_speedup=seconds / long_check["fpstt_s"])
    ratios["speedup_vs_monte_carlo_measured_411x256"] = long_check["measured_speedup"]

default_vs_mc = [c for c in comparisons if c["fpstt_grid"] == list(fp_solutions[DEFAULT][0].shape)]
ratios["speedup_vs_monte_carlo_at_equal_L1_default_own_grid"] = default_vs_mc[0]["speedup"]
ratios["speedup_vs_monte_carlo_at_equal_L1_default_coarse_grid"] = default_vs_mc[1]["speedup"]
for key, row in zip(("own", "coarse"), default_vs_mc):
    ratios[f"speedup_vs_monte_carlo_with_bias_default_{key}_grid"] = row["speedup_with_bias"]
ratios["speedup_vs_monte_carlo_measured_207x128"] = check["measured_speedup"]
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
ratios["total_cost_exponent_in_cells"] = float(np.polyfit(
    np.log(cells), np.log([r["solver_s"] for r in scale_rows]), 1)[0])
ratios["peak_memory_exponent_in_cells"] = float(np.polyfit(
    np.log(cells), np.log([r["peak_MB"] for r in scale_rows]), 1)[0])

print(f"\nfpstt defaults: {default['solver_s']:.2f} s in the solver, {default['total_s']:.2f} s "
      f"with set-up, L1 at t_n = {default['L1']:.2e}")
print(f"fpstt solve command at its defaults: {command_s:.2f} s, peak RSS {command_peak_MB:.0f} MB")
print(f"naive baseline, best: grid {best_base['grid']}, {best_base['total_s']:.1f} s, "
      f"L1 = {best_base['L1']:.2f}, p in [{best_base['min_p']:.3g}, {best_base['max_p']:.3g}]")
print(f"Monte Carlo costed at dt = {mc_dt}: {mc_cost * 1e6:.2f} us per trajectory; "
      f"its bias on the coarse grid b = c dt^q, (c, q) = {comparisons[0]['bias_law_c_q']}")
for c in comparisons:
    print(f"  fpstt {c['fpstt_grid']} on {c['common_grid']}: L1 {c['L1']:.2e} in {c['fpstt_s']:.3f} s;"
          f" Monte Carlo needs N = {c['mc_N']:.3g}, {c['mc_s']:.3g} s: {c['speedup']:.3g}x;"
          f" with its bias: dt = {c['with_bias_dt']:.2g}, N = {c['with_bias_N']:.3g},"
          f" {c['with_bias_s']:.3g} s: {c['speedup_with_bias']:.3g}x")
print(f"  run in full on 207 x 128: N = {np.ceil(check['mc_N']):.0f} gives L1 "
      f"{check['mc_measured_L1']:.2e} (target {check['L1']:.2e}) in {check['mc_measured_s']:.2f} s")
if "--long" in sys.argv:
    print(f"  run in full on 411 x 256: dt = {long_check['with_bias_dt']:.3g}, "
          f"N = {np.ceil(long_check['with_bias_N']):.0f} gives L1 {long_check['mc_measured_L1']:.2e} "
          f"(target {long_check['L1']:.2e}) in {long_check['mc_measured_s']:.0f} s")
from wer import wer_bench  # noqa: E402
wer = wer_bench()
ratios["montecarlo_over_fpstt_time_to_wer_1e-9"] = wer["ratio"]
print(f"time to WER 1e-9: fpstt {wer['fpstt_curve_s']:.2f} s (`fpstt switching` "
      f"{wer['fpstt_switching_command_s']:.2f} s); Monte Carlo {wer['mc_trajectories']:.0e} "
      f"trajectories x {wer['mc_s_per_trajectory'] * 1e6:.1f} us = {wer['mc_days']:.1f} days")
for key, value in ratios.items():
    print(f"{key:<45} {value:.3g}")
write("bench", {"fpstt": fp_rows, "baseline": base_rows, "montecarlo": mc_rows,
                "montecarlo_dt": mc_dt, "fpstt_vs_montecarlo": comparisons,
                "scaling": scale_rows, "ratios": ratios, "quick": QUICK, "wer": wer,
                "fpstt_solve_command": {"median_s": command_s, "peak_rss_MB": command_peak_MB}})
