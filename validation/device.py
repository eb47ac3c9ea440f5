"""Worked device example of issue 14: a perpendicular magnet switched by a current pulse.

Run:  python validation/device.py        (about 3 minutes)
Writes validation/results/device.json, docs/figures/device_wer.png and
docs/figures/device_density.png.

The Table I magnet (J = 1e4) with B_k = 2.2 T along z' (Delta = 49 at 300 K), no field,
Gilbert damping alpha = 0.01, Brown noise at 300 K, started in the well at -z' (a vMF state of
concentration 2 Delta, the well's curvature), driven toward z' by the Table I current (or
others) during a pulse with 0.2 t_n ramps; WER is read 2 t_n after the pulse ends (the wells
hold: nothing crosses the Delta = 49 barrier in that time).  The drift of this flow is carried
by Scharfetter-Gummel fluxes (no Möbius chart), so the density run uses du = 0.0092 and
dt = 2e-3, as the switching curve does by default for such flows.
"""

import math

import matplotlib.pyplot as plt
import numpy as np

import fpstt
from fpstt.flow.flowgrid import DEFAULT_DU
from fpstt.physics.initial import initial_state
from fpstt.physics.magnet import Pulse, critical_drive, thermal_stability
from fpstt.runs.montecarlo import simulate
from fpstt.analysis.switching import unswitched_probability
from fpstt.runs.wer import switching_curve
from _common import FIGURES, write

BASE = dict(B=0.0, B_k=2.2, alpha=0.01, T=300.0)
CURRENTS = [2.0e-5, 2.4e-5, 3.0e-5]                   # A (Table I: n_e = 1.5e5 <=> 24 uA)
WIDTHS = [1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0]      # t_n
RAMP, SETTLE = 0.2, 2.0


def device(current):
    micro = fpstt.table_i(current_A=current, **BASE)
    model = fpstt.SpinTorqueModel.from_microscopic(micro, thermal=True)
    start = initial_state(micro, "vmf", theta=math.pi, phi=0.0,
                          kappa=2 * thermal_stability(micro))
    return micro, model, start


def wer_after(current, width):
    _, model, start = device(current)
    pulse = Pulse(width, RAMP, RAMP)
    curve = switching_curve(model, start, width + SETTLE, pulse=pulse)
    return float(curve.at([width + SETTLE])[0]), curve.floor


if __name__ == "__main__":
    micro, model, start = device(2.4e-5)
    print(f"Delta = {thermal_stability(micro):.1f}, Im C1 = {model.C1.imag:.3f}, critical "
          f"{critical_drive(micro):.3f} per t_n, Brown D = {model.thermal_D:.4f} per t_n")
    table = {}
    for current in CURRENTS:
        table[current] = [wer_after(current, w) for w in WIDTHS]
        print(f"I = {current * 1e6:.0f} uA: " + ", ".join(
            f"w {w:g}: {v:.2e}" for w, (v, _) in zip(WIDTHS, table[current])))
    # density during and after a 4 t_n pulse at 24 uA
    pulse, times = Pulse(4.0, RAMP, RAMP), [0.0, 0.5, 1.0, 1.5, 2.0, 4.0, 6.0]
    grid = fpstt.default_grid(model, times, initial=start, n_phi=8, du=DEFAULT_DU / 2)
    sol = fpstt.solve(model, grid, start.cell_averages(grid), times, pulse=pulse, dt=2e-3)
    wer_fp = unswitched_probability(grid, sol.p)
    mc = simulate(model, start, times[1:], 20_000, dt=1e-3, seed=3, pulse=pulse)
    z = np.abs((1 - mc.p_switch) - wer_fp[1:]) / np.maximum(mc.p_switch_stderr, 1 / 20_000)
    print("WER during/after the 4 t_n pulse: FP " + ", ".join(f"{v:.3g}" for v in wer_fp)
          + f"; Monte Carlo (N = 2e4, dt = 1e-3) within {z.max():.2f} s.e.")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    for current in CURRENTS:
        values = [v if v > 0 else np.nan for v, _ in table[current]]     # 0: below the floor
        ax1.semilogy(WIDTHS, values, "o-", label=f"I = {current * 1e6:.0f} µA")
    ax1.axhline(table[CURRENTS[0]][0][1], ls=":", c="gray", label="floor")
    ax1.set_xlabel("pulse width ($t_n$ = 1 ns)")
    ax1.set_ylabel(f"WER, {SETTLE:g} $t_n$ after the pulse")
    ax1.grid(alpha=0.3, which="both")
    ax1.legend(fontsize=8)
    rows = sol.p.sum(axis=-1) * grid.dphi                  # theta-marginal per rad
    for k, t in enumerate(times):
        ax2.semilogy(grid.theta, np.maximum(rows[k], 1e-30), label=f"t = {t:g} $t_n$")
    ax2.set_ylim(1e-12, 1e2)
    ax2.set_xlabel(r"$\theta$ (rad from z')")
    ax2.set_ylabel(r"$\int p\, d\phi$ (per rad)")
    ax2.legend(fontsize=7)
    ax2.grid(alpha=0.3)
    fig.suptitle("perpendicular magnet, Δ = 49, α = 0.01, 300 K: WER against pulse width (left); "
                 "density during (t ≤ 4 $t_n$) and after a 4 $t_n$ pulse at 24 µA (right)",
                 fontsize=10)
    fig.savefig(FIGURES / "device_wer.png", dpi=120)
    write("device", dict(currents=CURRENTS, widths=WIDTHS, settle=SETTLE, ramp=RAMP,
                         wer={f"{c:g}": table[c] for c in CURRENTS}, density_times=times,
                         wer_fp=wer_fp, wer_mc=1 - mc.p_switch, wer_mc_stderr=mc.p_switch_stderr,
                         max_z=float(z.max())))
