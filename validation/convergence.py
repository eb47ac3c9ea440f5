"""Grid convergence of the Table I problem (noise on, Gibbs start) at the Fig. 4 times.

Run:  python validation/convergence.py       (under a minute)
Writes validation/results/convergence.json: L1 between successive refinements, refining
theta/t (steps per t_n) and phi separately and together, for both split schemes, and phi
alone at the default step against a (900, 1536) reference.
"""

import fpstt
from fpstt.analysis.observables import l1_distance, remap
from _common import FIG4_TIMES, table_i, write

model, gibbs = table_i()
out = {}


def run(spu, nf, scheme):
    grid = fpstt.default_grid(model, FIG4_TIMES, steps_per_unit=spu, n_phi=nf)
    sol = fpstt.solve(model, grid, gibbs.cell_averages(grid), FIG4_TIMES, scheme=scheme)
    return grid, sol


def differences(a, b):
    (ga, sa), (gb, sb) = a, b
    return [l1_distance(ga, pa, remap(pb, gb, ga)) for pa, pb in zip(sa.p, sb.p)]


for scheme in ("split-tr-bdf2", "split-be"):
    levels = [(90, 64), (180, 128), (360, 256), (720, 512)]
    sols = [run(spu, nf, scheme) for spu, nf in levels]
    out[scheme] = [{"coarse": levels[k], "fine": levels[k + 1],
                    "L1_at_fig4_times": differences(sols[k], sols[k + 1]),
                    "coarse_solver_s": sols[k][1].diagnostics["wall_time_s"],
                    "min_p_ratio": sols[k][1].diagnostics["min_p_ratio_output"]}
                   for k in range(len(levels) - 1)]
    for row in out[scheme]:
        print(scheme, row)
spu, nf = 300, fpstt.runs.config.DEFAULTS["grid"]["n_phi"]   # du = 0.0184 is Table I's 1/300 t_n step
base = run(spu, nf, "split-tr-bdf2")
out["default"] = {"grid": (spu, nf), "solver_s": base[1].diagnostics["wall_time_s"],
                  "vs_2x_refined": differences(base, run(2 * spu, 2 * nf, "split-tr-bdf2")),
                  "phi_only": differences(base, run(spu, 2 * nf, "split-tr-bdf2")),
                  "theta_t_only": differences(base, run(2 * spu, nf, "split-tr-bdf2"))}
print(out["default"])

# phi refinement alone at the default step, against a reference fine in both
reference = run(900, 1536, "split-tr-bdf2")
out["against_900x1536"] = [{"grid": (s_, n_), "L1_at_fig4_times":
                            differences(run(s_, n_, "split-tr-bdf2"), reference)}
                           for s_, n_ in ((300, 384), (300, 768), (300, 1536), (450, 768),
                                          (900, 768))]
for row in out["against_900x1536"]:
    print(row)
write("convergence", out)
