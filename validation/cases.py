"""The cases of issue 13 off the Table I flow, Fokker-Planck (default grid) against Monte Carlo.

For each case: the mean of n and P_sw at 11 times, as z-scores against Monte Carlo standard
errors (N = 2e5), the relative difference of the std of n, and the run's own coarsening error
estimate.  Writes validation/results/cases.json.

    python validation/cases.py [--n-samples 200000] [--only NAME]
"""

import argparse
import math
import time

import numpy as np

import fpstt
from fpstt.runs.montecarlo import simulate
from fpstt.analysis.observables import moments
from fpstt.runs.resolution import coarsening_estimate
from fpstt.analysis.switching import switching_probability
from _common import write


def cases():
    micro = fpstt.table_i()
    base = fpstt.SpinTorqueModel.from_microscopic(micro)
    gibbs = fpstt.GibbsState.from_microscopic(micro)
    antipode = fpstt.GibbsState(gibbs.kappa, math.pi - 0.05, 1.0)
    on = fpstt.SpinTorqueModel.from_microscopic(micro, field_on=True)
    omega_z = math.sqrt(sum(w * w for w in on.omega))
    weak = base.with_options(C1=base.C1 / 100, C2=base.C2 / 10)
    unit = [0.1 * k for k in range(11)]
    return {
        "antipode_field_off": (base, antipode, unit, 1e-3),
        "antipode_field_on": (on, antipode, unit, 1e-3),
        "T30": (base, fpstt.GibbsState.from_microscopic(fpstt.table_i(T=30.0)), unit, 1e-3),
        "T300": (base, fpstt.GibbsState.from_microscopic(fpstt.table_i(T=300.0)), unit, 1e-3),
        "omega_along_z": (base.with_options(omega=(0.0, 0.0, omega_z)), gibbs, unit, 1e-3),
        "weak_drive_to_5": (weak, gibbs, [0.5 * k for k in range(11)], 0.1),
        "weak_drive_field_on_to_5": (on.with_options(C1=on.C1 / 100, C2=on.C2 / 10), gibbs,
                                     [0.5 * k for k in range(11)], 0.01),
    }


def compare(model, gibbs, times, dt_mc, n_samples):
    grid = fpstt.default_grid(model, times, initial=gibbs)
    start = time.perf_counter()
    sol = fpstt.solve(model, grid, gibbs.cell_averages(grid), times)
    seconds = time.perf_counter() - start
    estimate = coarsening_estimate(model, grid, gibbs.cell_averages, sol)["estimate"]
    mean, std = moments(grid, sol.p)
    p_sw = switching_probability(grid, sol.p)
    mc = simulate(model, gibbs, times, n_samples, dt=dt_mc, seed=3)
    z_mean = (mean - mc.mean) / np.maximum(mc.stderr, 1e-300)
    z_sw = (p_sw - mc.p_switch) / np.maximum(mc.p_switch_stderr, 1.0 / n_samples)
    return dict(grid=list(grid.shape), solve_s=seconds, n_steps=sol.diagnostics["n_steps"],
                max_mass_error=sol.diagnostics["max_mass_error"],
                min_p_ratio=sol.diagnostics["min_p_ratio"], l1_estimate=estimate,
                max_abs_z_mean=float(np.max(np.abs(z_mean))),
                max_abs_z_p_switch=float(np.max(np.abs(z_sw))),
                max_rel_std_difference=float(np.max(np.abs(std[1:] / mc.std[1:] - 1))),
                fp_mean=mean, mc_mean=mc.mean, mc_stderr=mc.stderr, fp_std=std, mc_std=mc.std,
                fp_p_switch=p_sw, mc_p_switch=mc.p_switch, n_samples=n_samples, dt_mc=dt_mc)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-samples", type=int, default=200_000)
    parser.add_argument("--only", help="run one case")
    args = parser.parse_args()
    out = {}
    for name, (model, gibbs, times, dt_mc) in cases().items():
        if args.only and name != args.only:
            continue
        out[name] = compare(model, gibbs, times, dt_mc, args.n_samples)
        print(name, {k: out[name][k] for k in ("grid", "solve_s", "max_abs_z_mean",
                                                "max_abs_z_p_switch", "max_rel_std_difference")},
              flush=True)
    write("cases" if not args.only else f"cases_{args.only}", out)


if __name__ == "__main__":
    main()
