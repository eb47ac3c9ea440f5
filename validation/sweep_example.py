"""Worked example of issue 9: P_sw at t_n against n_e for T = 1 K and 3 K.

Run:  python validation/sweep_example.py     (about 10 s on 2 cores)
Writes validation/results/sweep_example.csv and docs/figures/sweep.png.
"""

import matplotlib

matplotlib.use("Agg")

from fpstt.analysis.plotting import add_note, plot_sweep  # noqa: E402
from fpstt.runs.sweep import grid_points, sweep  # noqa: E402
from _common import FIGURES, RESULTS  # noqa: E402

if __name__ == "__main__":
    values = {"n_e": [3.0e4, 4.0e4, 4.5e4, 5.0e4, 5.5e4, 6.0e4, 7.0e4, 8.0e4], "T": [1.0, 3.0]}
    RESULTS.mkdir(exist_ok=True)
    rows = sweep(grid_points(values), [1.0], executor="processes",
                 csv_path=RESULTS / "sweep_example.csv")
    for r in rows:
        print(f"n_e = {float(r['n_e']):8.0f}  T = {float(r['T']):.0f} K  P_sw(t_n) = {float(r['P_sw(t=1)']):.4f}"
              f"  WER(t_n) = {float(r['WER(t=1)']):.3g}  t_median = {float(r['t_switch_median']):.3f}  ({r['status']})")
    fig = plot_sweep(rows, list(values), [1.0])
    add_note(fig, "model: ito, eq17 reading, field off, noise on; other inputs: Table I")
    fig.savefig(FIGURES / "sweep.png", dpi=110)
