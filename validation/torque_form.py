"""Issue 26: the spin torque inside Gilbert's equation (default) against the rates form, on a
thermal perpendicular magnet, solver against Monte Carlo in both forms.

Run:  python validation/torque_form.py        (about 15 minutes on 2 cores)
Writes validation/results/torque_form.json.

The magnet (the issue's case): J = 1e4, t_n = 0.1 ns, B_k = 1.1 T along z' (Delta = 24.6 at
300 K), no field, alpha = 0.05, Brown noise at 300 K, quantum noise off (C2 = 0), a current
whose Gilbert-form damping-like rate is twice the critical one, from the -z' well (vMF,
kappa = 2 Delta).  Each form: the default solve, one refined 2x in U, phi and t, and Monte
Carlo with N = 2e5 at dt = 1e-3 and N = 1e5 at dt = 5e-4 (the time-step check).
"""

import math
import sys
import time

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "tests"))

import fpstt  # noqa: E402
from fpstt.runs.montecarlo import simulate  # noqa: E402
from fpstt.analysis.observables import moments  # noqa: E402
from fpstt.analysis.switching import unswitched_probability  # noqa: E402
from _common import refined_solve, write  # noqa: E402
from test_torque_form import _perpendicular  # noqa: E402

TIMES = [0.5, 1.0, 1.5, 2.0, 3.0]


def fokker_planck(model, start, refined=False):
    grid = fpstt.default_grid(model, TIMES, initial=start)
    begin = time.perf_counter()
    if refined:
        grid, sol = refined_solve(model, grid, start.cell_averages, TIMES)
    else:
        sol = fpstt.solve(model, grid, start.cell_averages(grid), TIMES)
    mean, std = moments(grid, sol.p)
    return dict(seconds=time.perf_counter() - begin, mean=mean, std=std,
                p_switch=1 - unswitched_probability(grid, sol.p), grid=grid.shape)


def z_scores(fp, mc, n):
    se_p = np.sqrt(fp["p_switch"] * (1 - fp["p_switch"]) / n) + 1 / n
    return dict(mean=float(np.max(np.abs(mc.mean - fp["mean"]) / mc.stderr)),
                std_first=float(np.max(np.abs(mc.std[0] - fp["std"][0])
                                       / (mc.std[0] / math.sqrt(2 * n)))),
                p_switch=float(np.max(np.abs(mc.p_switch - fp["p_switch"]) / se_p)))


def one_form(micro, start, form):
    model = fpstt.SpinTorqueModel.from_microscopic(micro, thermal=True, torque_form=form)
    model = model.with_options(C2=0j)
    fp, fine = fokker_planck(model, start), fokker_planck(model, start, refined=True)
    runs = {dt: simulate(model, start, TIMES, n, dt=dt, seed=26)
            for dt, n in ((1e-3, 200_000), (5e-4, 100_000))}
    coarse, half = runs[1e-3], runs[5e-4]
    dt_z = np.abs(coarse.p_switch - half.p_switch) / np.sqrt(
        coarse.p_switch_stderr ** 2 + half.p_switch_stderr ** 2 + 1e-12)
    out = dict(C1=model.C1, fp_seconds=fp["seconds"], grid=fp["grid"],
               p_switch_fp=fp["p_switch"], p_switch_mc=coarse.p_switch,
               p_switch_mc_stderr=coarse.p_switch_stderr,
               refined_max_abs_p_switch=float(np.max(np.abs(fine["p_switch"] - fp["p_switch"]))),
               refined_max_abs_mean=float(np.max(np.abs(fine["mean"] - fp["mean"]))),
               z_vs_mc=z_scores(fp, coarse, 200_000), mc_dt_halved_p_switch_z=float(dt_z.max()))
    print(f"{form}: C1 = {model.C1:.4f}, P_sw FP {np.round(fp['p_switch'], 4)}, "
          f"MC {np.round(coarse.p_switch, 4)}; max z vs MC {out['z_vs_mc']}; "
          f"FP vs 2x refined {out['refined_max_abs_p_switch']:.1e} (P_sw); "
          f"MC dt/2 {out['mc_dt_halved_p_switch_z']:.2f} s.e.; FP {fp['seconds']:.1f} s")
    return out


if __name__ == "__main__":
    micro, start = _perpendicular()
    results = {form: one_form(micro, start, form) for form in ("gilbert", "rates")}
    gap = np.abs(results["gilbert"]["p_switch_fp"] - results["rates"]["p_switch_fp"])
    results["forms_p_switch_gap_in_stderr"] = float(
        np.max(gap / (results["gilbert"]["p_switch_mc_stderr"] + 1 / 200_000)))
    print(f"the two forms differ in P_sw by up to {results['forms_p_switch_gap_in_stderr']:.1f}"
          " Monte Carlo standard errors")
    write("torque_form", dict(times=TIMES, n_e=micro.n_e, **results))
