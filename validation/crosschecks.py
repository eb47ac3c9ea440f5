"""Cross-checks of issue 4: Jacobian, pushforward (Eq. 16) vs FP, OU variance (Eqs. 18-19), Fig. 3.

Run:  python validation/crosschecks.py     (about a minute)
Writes validation/results/crosschecks.json and docs/figures/fig3.png, fig4.png.
"""

import numpy as np

import fpstt
from fpstt.analysis.observables import l1_distance, theta_statistics
from fpstt.numerics.operator import stationary_density
from fpstt.analysis.plotting import add_note, plot_components, plot_fig4
from fpstt.physics.pushforward import (flow, jacobian, jacobian_fd, mean_trajectory,
                               pushforward_cell_averages)
from _common import FIG4_TIMES, FIGURES, TABLE_I_NOTE, table_i, write

model, gibbs = table_i()
out = {}

# --- Jacobian: closed form vs finite differences, and the pushforward's mass --------------
theta = np.linspace(0.01, 3.1, 400)
rel = [float(np.max(np.abs(jacobian(t, theta, model.C1) / jacobian_fd(t, theta, model.C1) - 1)))
       for t in (-1.0, -0.5, 0.5, 1.0)]
out["jacobian_vs_fd_max_rel_error"] = max(rel)
grid = fpstt.default_grid(model, FIG4_TIMES)
out["pushforward_mass"] = [grid.integrate(pushforward_cell_averages(gibbs, model.C1, grid, t))
                           for t in FIG4_TIMES]

# --- FP (noise off) vs pushforward, split scheme and the unsplit upwind path -------------
quiet = model.with_options(C2=0j)
rows = []
for spu in (90, 180, 360):
    g = fpstt.default_grid(model, FIG4_TIMES, steps_per_unit=spu)
    p0 = gibbs.cell_averages(g)
    refs = [pushforward_cell_averages(gibbs, model.C1, g, t) for t in FIG4_TIMES]
    split = fpstt.solve(quiet, g, p0, FIG4_TIMES)
    row = {"steps_per_unit": spu, "grid": g.shape,
           "split_tr_bdf2": [l1_distance(g, p, r) for p, r in zip(split.p, refs)]}
    if spu <= 360:
        unsplit = fpstt.solve(quiet, g, p0, FIG4_TIMES, scheme="tr-bdf2", dt=1 / spu)
        row["unsplit_tr_bdf2"] = [l1_distance(g, p, r) for p, r in zip(unsplit.p, refs)]
    noisy = fpstt.solve(model, g, p0, FIG4_TIMES)
    row["noise_on_vs_pushforward"] = [l1_distance(g, p, r) for p, r in zip(noisy.p, refs)]
    rows.append(row)
    print(row)
out["fp_vs_pushforward"] = rows

# --- OU stationary variance: null space and long-time stepping ---------------------------
ou = abs(model.C2) ** 2 / (2 * model.C1.imag)
pole = fpstt.SphereGrid.mercator(0.05, -12.0, 3.5, 16)
stationary = {}
for label, variant in (("ito_eq17", model),
                       ("stratonovich_eq17", model.with_options(interpretation="stratonovich")),
                       ("lab", model.with_options(interpretation="stratonovich", reading="lab"))):
    null = theta_statistics(pole, stationary_density(variant, pole))
    stepped = fpstt.solve(variant, pole, gibbs.cell_averages(pole), [4.0])
    long_time = theta_statistics(pole, stepped.p[-1])
    stationary[label] = {k: {"null_space": float(null[k]) / ou,
                             "long_time_stepping": float(long_time[k]) / ou}
                         for k in ("theta2", "x_var", "y_var")}
    print(label, stationary[label])
out["ou_variance"] = ou
out["stationary_over_ou"] = stationary
out["stratonovich_shift_predicted"] = -model.C2.real ** 2 / (2 * model.C1.imag)

# --- Fig. 3: quadrature vs sampling ------------------------------------------------------
times = np.linspace(0, 1, 101)
mean_q, std_q = mean_trajectory(gibbs, model.C1, times)
n0 = gibbs.sample(200_000, np.random.default_rng(3))
th0, ph0 = np.arccos(n0[:, 2]), np.arctan2(n0[:, 1], n0[:, 0])
mean_s, se_s = [], []
for t in times:
    th, ph = flow(t, th0, ph0, model.C1)
    n = np.array([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)])
    mean_s.append(n.mean(axis=1))
    se_s.append(n.std(axis=1, ddof=1) / np.sqrt(n.shape[1]))
z = np.abs(np.array(mean_s) - mean_q) / np.maximum(np.array(se_s), 1e-300)
out["fig3_max_abs_z"] = float(z[1:].max())
fig = plot_components(times, {"quadrature of Eq. 16": (mean_q, std_q),
                              "200000 Gibbs samples": (np.array(mean_s), None)},
                      title=r"Fig. 3: mean trajectory of $\vec J/J$, noiseless (band: ± std)")
add_note(fig, TABLE_I_NOTE.replace("model:", "model (noiseless):"))
fig.savefig(FIGURES / "fig3.png", dpi=110)

# --- Fig. 4 -----------------------------------------------------------------------------
sol = fpstt.solve(model, grid, gibbs.cell_averages(grid), FIG4_TIMES)
refs = [pushforward_cell_averages(gibbs, model.C1, grid, t) for t in FIG4_TIMES]
plot_fig4(sol, refs, note=TABLE_I_NOTE + ", noise on").savefig(FIGURES / "fig4.png", dpi=110)
write("crosschecks", out)
