"""Cost of the field-on Table I problem (Eq. 11 with gamma B x J kept on), and of Table I
with a tilted easy axis (B_k = 0.05 T at (0.5, 1.0), alpha = 0.02: no Möbius chart, the rest
of the flow remapped on the attractor chart's grid), relative to the field-off default,
measured side by side in one run (medians of 3; the easy axis once), with peak memory of each
solve measured in a child process; and a lower bound on the cost of a Monte Carlo histogram
on the same grid at the Fokker-Planck's own accuracy at t_n (its L1 against a run refined
2x in U, phi and t): the samples needed by the binomial mean-absolute-deviation law
(validation/bench.py checks that law against runs), times the measured cost of one
trajectory at dt = 1e-3 (bias neglected, so a lower bound).  Writes
validation/results/bench_field_on.json.

    python validation/bench_field_on.py
"""

import json
import statistics
import subprocess
import sys
import time

import numpy as np
from scipy.optimize import brentq

import fpstt
from fpstt.runs.montecarlo import simulate
from fpstt.analysis.observables import l1_distance, remap
from _common import binomial_mad, refined_solve

TIMES = [0, 1 / 3, 2 / 3, 1]
EASY_AXIS = dict(B_k=0.05, easy_theta=0.5, easy_phi=1.0, alpha=0.02)
CHILD = """
import resource, sys, fpstt
micro = fpstt.table_i(**(%r if sys.argv[1] == 'easy_axis' else {}))
model = fpstt.SpinTorqueModel.from_microscopic(micro, field_on=sys.argv[1] == 'on')
gibbs = fpstt.GibbsState.from_microscopic(fpstt.table_i())""" % EASY_AXIS + """
grid = fpstt.default_grid(model, [0, 1/3, 2/3, 1], initial=gibbs)
fpstt.solve(model, grid, gibbs.cell_averages(grid), [0, 1/3, 2/3, 1])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def solve_time(case: str) -> tuple[float, tuple]:
    micro = fpstt.table_i(**(EASY_AXIS if case == "easy_axis" else {}))
    model = fpstt.SpinTorqueModel.from_microscopic(micro, field_on=case == "on")
    gibbs = fpstt.GibbsState.from_microscopic(fpstt.table_i())
    grid = fpstt.default_grid(model, TIMES, initial=gibbs)
    p0 = gibbs.cell_averages(grid)
    start = time.perf_counter()
    fpstt.solve(model, grid, p0, TIMES)
    return time.perf_counter() - start, grid.shape


def monte_carlo_lower_bound(fp_seconds: float) -> dict:
    """Samples and seconds a Monte Carlo histogram needs to match the default's L1 at t_n."""
    micro = fpstt.table_i()
    model = fpstt.SpinTorqueModel.from_microscopic(micro, field_on=True)
    gibbs = fpstt.GibbsState.from_microscopic(micro)
    grid = fpstt.default_grid(model, [0, 1], initial=gibbs)
    fine, refined = refined_solve(model, grid, gibbs.cell_averages, [0, 1])
    p = fpstt.solve(model, grid, gibbs.cell_averages(grid), [0, 1]).p[-1]
    target = l1_distance(grid, p, remap(refined.p[-1], fine, grid))
    mass = np.clip(p * grid.cell_measure, 0, 1).ravel()
    mass = mass[(mass > 0) & (mass < 1)]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        l1 = lambda n: float(np.sum(binomial_mad(n, mass)))           # noqa: E731
        n = float(np.exp(brentq(lambda x: np.log(l1(np.exp(x)) / target), 2.3, 37.0)))
    start = time.perf_counter()
    simulate(model, gibbs, [0, 1], 20_000, dt=1e-3, seed=1)
    per_sample = (time.perf_counter() - start) / 20_000
    return dict(target_l1=target, samples=n, seconds_per_sample=per_sample,
                seconds=n * per_sample, ratio_over_fp=n * per_sample / fp_seconds)


def main():
    rows = {"off": [], "on": [], "easy_axis": []}
    # children first: a child forked from a grown parent reports the parent's pages
    peak = {key: int(subprocess.run([sys.executable, "-c", CHILD, key], capture_output=True,
                                    text=True, check=True).stdout.split()[-1]) / 1024
            for key in rows}
    for repeat in range(3):                # interleaved: all see the same machine load
        for key in rows:
            if key == "easy_axis" and repeat:   # minutes, not seconds: once is enough
                continue
            seconds, _ = solve_time(key)
            rows[key].append(seconds)
    result = {key: dict(median_s=statistics.median(v), runs_s=v, peak_rss_mb=peak[key])
              for key, v in rows.items()}
    result["ratio_on_over_off"] = result["on"]["median_s"] / result["off"]["median_s"]
    result["ratio_easy_axis_over_off"] = (result["easy_axis"]["median_s"]
                                          / result["off"]["median_s"])
    result["monte_carlo_lower_bound"] = monte_carlo_lower_bound(result["on"]["median_s"])
    print(json.dumps(result, indent=1))
    with open("validation/results/bench_field_on.json", "w") as fh:
        json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
