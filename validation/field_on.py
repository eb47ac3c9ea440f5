"""Table I off the Eq. 15 flow: Fokker-Planck against Monte Carlo (both pole readings) and,
without noise, against the general pushforward.  Cases: ``field_on`` (the field kept on,
Eq. 11's gamma B x J term: a Möbius chart) and ``easy_axis`` (the field only in the initial
state, an easy axis B_k = 0.05 T at (0.5, 1.0) and alpha = 0.02 during the dynamics: no
Möbius chart, the rest of the flow remapped).  Writes validation/results/<case>.json.

    python validation/field_on.py [--case field_on|easy_axis] [--n-samples 200000]
"""

import argparse
import json
import time

import numpy as np

import fpstt
from fpstt.runs.montecarlo import simulate
from fpstt.analysis.observables import l1_distance, moments
from fpstt.physics.pushforward import general_pushforward_cell_averages, gibbs_support
from fpstt.analysis.switching import switching_probability
from _common import refined_solve

TIMES = [round(0.1 * k, 10) for k in range(11)]


CASES = dict(field_on=(dict(), True),
             easy_axis=(dict(B_k=0.05, easy_theta=0.5, easy_phi=1.0, alpha=0.02), False))


def noiseless(micro, field_on, gibbs, times, du=None, n_phi=None):
    model = fpstt.SpinTorqueModel.from_microscopic(micro, field_on=field_on).with_options(C2=0)
    grid = fpstt.default_grid(model, times, initial=gibbs, du=du, n_phi=n_phi)
    sol = fpstt.solve(model, grid, gibbs.cell_averages(grid), times)
    rho = lambda n: gibbs.per_area(np.arccos(np.clip(n[2], -1, 1)),      # noqa: E731
                                   np.arctan2(n[1], n[0]))
    rows = []
    for k, t in enumerate(times):
        ref = general_pushforward_cell_averages(model, rho, grid, t, support=gibbs_support(gibbs))
        rows.append(dict(t=t, l1=l1_distance(grid, sol.p[k], ref),
                         reference_mass=grid.integrate(ref)))
        print(rows[-1], flush=True)
    return dict(grid=list(grid.shape), min_p_ratio=sol.diagnostics["min_p_ratio"],
                max_mass_error=sol.diagnostics["max_mass_error"], rows=rows)


def noisy(micro, field_on, gibbs, reading, n_samples, reuse=None, refine=True):
    options = dict(interpretation="stratonovich", reading="lab") if reading == "lab" else {}
    model = fpstt.SpinTorqueModel.from_microscopic(micro, field_on=field_on, **options)
    out = dict(reading=reading)
    grid = fpstt.default_grid(model, TIMES, initial=gibbs)
    runs = [("default", lambda: (grid, fpstt.solve(model, grid, gibbs.cell_averages(grid),
                                                   TIMES)))]
    if refine:                               # 2x in U, phi and t
        runs.append(("refined", lambda: refined_solve(model, grid, gibbs.cell_averages, TIMES)))
    for label, run in runs:
        start = time.perf_counter()
        grid_run, sol = run()
        mean, std = moments(grid_run, sol.p)
        out[label] = dict(grid=list(grid_run.shape), dt=sol.diagnostics["dt"],
                          solve_s=time.perf_counter() - start,
                          mean=mean.tolist(), std=std.tolist(),
                          p_switch=switching_probability(grid_run, sol.p).tolist(),
                          min_p_ratio=sol.diagnostics["min_p_ratio"],
                          max_mass_error=sol.diagnostics["max_mass_error"],
                          line_iterations_mean=sol.diagnostics.get("line_iterations_mean"),
                          line_residual=sol.diagnostics.get("line_residual"))
        out[label + "_p"] = (grid_run, sol.p)
        print(reading, label, out[label]["solve_s"], flush=True)
    if reuse is None:
        start = time.perf_counter()
        mc = simulate(model, gibbs, TIMES, n_samples, dt=5e-4, seed=7)
        out["mc"] = dict(n_samples=n_samples, seconds=time.perf_counter() - start,
                         mean=mc.mean.tolist(), stderr=mc.stderr.tolist(), std=mc.std.tolist(),
                         p_switch=mc.p_switch.tolist(),
                         p_switch_stderr=mc.p_switch_stderr.tolist())
    else:
        out["mc"] = reuse
    n_samples = out["mc"]["n_samples"]
    mc = argparse.Namespace(**{k: np.array(v) for k, v in out["mc"].items()})
    fp = out["default"]
    z_mean = (np.array(fp["mean"]) - mc.mean) / np.maximum(mc.stderr, 1e-300)
    # standard error of a sample standard deviation ~ std / sqrt(2 N) (Gaussian approximation)
    z_std = (np.array(fp["std"]) - mc.std) / np.maximum(mc.std / np.sqrt(2 * n_samples), 1e-300)
    z_sw = ((np.array(fp["p_switch"]) - mc.p_switch)
            / np.maximum(mc.p_switch_stderr, 1 / n_samples))
    out["max_abs_z"] = dict(mean=float(np.max(np.abs(z_mean))), std=float(np.max(np.abs(z_std[1:]))),
                            p_switch=float(np.max(np.abs(z_sw))))
    g1, p1 = out.pop("default_p")
    if refine:
        g2, p2 = out.pop("refined_p")
        out["default_vs_refined_l1"] = [l1_distance(g1, a, fpstt.observables.remap(b, g2, g1))
                                        for a, b in zip(p1, p2)]
    print(reading, out["max_abs_z"], max(out.get("default_vs_refined_l1", [0])), flush=True)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", choices=sorted(CASES), default="field_on")
    parser.add_argument("--n-samples", type=int, default=200_000)
    parser.add_argument("--mc-from", help="reuse the Monte Carlo of this earlier result file "
                        "(same case) instead of simulating again")
    parser.add_argument("--no-refined", action="store_true",
                        help="skip the run refined 2x in U, phi and t")
    parser.add_argument("--out", help="result file (default validation/results/<case>.json)")
    parser.add_argument("--noiseless-times", default="0,0.3333333333333333,0.6666666666666666,1",
                        help="times of the noiseless check ('' to skip it)")
    args = parser.parse_args()
    changes, field_on = CASES[args.case]
    micro = fpstt.table_i(**changes)
    gibbs = fpstt.GibbsState.from_microscopic(fpstt.table_i())
    times = [float(t) for t in args.noiseless_times.split(",") if t]
    earlier = {}
    if args.mc_from:
        with open(args.mc_from) as fh:
            earlier = {block["reading"]: block["mc"] for block in json.load(fh)["noisy"]}
    result = dict(case=args.case,
                  noiseless=noiseless(micro, field_on, gibbs, times) if times else None,
                  noisy=[noisy(micro, field_on, gibbs, r, args.n_samples,
                               reuse=earlier.get(r), refine=not args.no_refined)
                         for r in ("eq17", "lab")])
    if times and not field_on:              # the same on the grid refined twice
        result["noiseless_refined"] = noiseless(micro, field_on, gibbs, times,
                                                du=fpstt.integration.stepping.DEFAULT_DU / 2, n_phi=768)
    with open(args.out or f"validation/results/{args.case}.json", "w") as fh:
        json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
