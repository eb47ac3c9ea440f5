"""Write-error rates of issue 15: accuracy against an independent 1-D solver, and the time
to a WER of 1e-9 for fpstt against what Monte Carlo would need (measured side by side).

Run:  python validation/wer.py        (about 3 minutes)
Writes validation/results/wer.json and docs/figures/wer.png.

Accuracy: Table I, both readings, ``fpstt.runs.wer.switching_curve`` at its defaults against the
1-D theta-marginal solver of tests/oracle_1d.py at h = 0.004 (its own error ~2e-4 relative,
from h = 0.01 and 0.004), every 0.025 t_n from 0.3 to 1 t_n.
Cost: the switching curve to 1 t_n (median of 5 runs), the `fpstt switching` command
(wall time, including start-up), and the Monte Carlo throughput measured on 20 000
trajectories to the time at which WER = 1e-9; a Monte Carlo estimate of a WER needs about
100 / WER trajectories for a 10 % standard error.
"""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import fpstt
from fpstt.runs.montecarlo import simulate
from fpstt.analysis.plotting import add_note, plot_wer
from fpstt.runs.wer import switching_curve
from _common import FIGURES, TABLE_I_NOTE, write

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from oracle_1d import wer_curve  # noqa: E402

READINGS = {"eq17": "ito", "lab": "stratonovich"}


def accuracy(reading):
    micro = fpstt.table_i()
    model = fpstt.SpinTorqueModel.from_microscopic(micro, reading=reading,
                                                   interpretation=READINGS[reading])
    gibbs = fpstt.GibbsState.from_microscopic(micro)
    times = np.round(np.arange(0.3, 1.0001, 0.025), 4)
    ref = wer_curve(model.C1, model.C2, gibbs.kappa, gibbs.theta_b, times, reading=reading,
                    interpretation=READINGS[reading], h=0.004, v_range=(-3.0, 9.0))
    curve = switching_curve(model, gibbs, 1.0)
    wer = curve.at(times)
    rel = wer / ref - 1
    return curve, dict(times=times, oracle=ref, fpstt=wer, relative=rel,
                       max_rel_above_1e15=float(np.abs(rel[ref >= 1e-15]).max()),
                       max_rel_all=float(np.abs(rel).max()), smallest=float(ref.min()),
                       floor=curve.floor)


def wer_bench():
    """Seconds to WER 1e-9 for fpstt and (extrapolated from measured throughput) for MC."""
    micro = fpstt.table_i()
    model = fpstt.SpinTorqueModel.from_microscopic(micro)
    gibbs = fpstt.GibbsState.from_microscopic(micro)
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        curve = switching_curve(model, gibbs, 1.0)
        runs.append(time.perf_counter() - start)
    t9 = curve.time_to(1e-9)
    start = time.perf_counter()
    subprocess.run(["fpstt", "switching", "--quiet"], check=True, capture_output=True)
    command_s = time.perf_counter() - start
    n = 20_000
    start = time.perf_counter()
    simulate(model, gibbs, [0.0, t9], n, dt=0.005, seed=1)
    per_trajectory = (time.perf_counter() - start) / n
    mc_s = per_trajectory * 100 / 1e-9
    return dict(fpstt_curve_s=float(np.median(runs)), fpstt_switching_command_s=command_s,
                t_wer_1e9=t9, mc_s_per_trajectory=per_trajectory,
                mc_trajectories=100 / 1e-9, mc_s=mc_s, mc_days=mc_s / 86400,
                ratio=mc_s / float(np.median(runs)))


if __name__ == "__main__":
    results = {}
    for reading in READINGS:
        curve, results[reading] = accuracy(reading)
        r = results[reading]
        print(f"{reading}: max |rel| {r['max_rel_above_1e15']:.2e} where WER ≥ 1e-15, "
              f"{r['max_rel_all']:.2e} down to {r['smallest']:.1e}; floor {r['floor']:.1e}")
        if reading == "eq17":
            fig = plot_wer(curve)
            add_note(fig, TABLE_I_NOTE)
            fig.savefig(FIGURES / "wer.png", dpi=130)
    bench = wer_bench()
    print(f"time to WER 1e-9 (t = {bench['t_wer_1e9']:.4f} t_n): fpstt {bench['fpstt_curve_s']:.2f} s "
          f"(`fpstt switching` {bench['fpstt_switching_command_s']:.2f} s with start-up); "
          f"Monte Carlo {bench['mc_s_per_trajectory'] * 1e6:.1f} us per trajectory x "
          f"{bench['mc_trajectories']:.0e} = {bench['mc_s']:.2e} s ({bench['mc_days']:.1f} days): "
          f"{bench['ratio']:.2e}x")
    write("wer", dict(accuracy=results, bench=bench))
