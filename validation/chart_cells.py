"""One model-space row against its Monte Carlo, with the Table I solve timed in the same
process (docs/performance.md, "Attractor-chart cells from the start's width").

Run:  python validation/chart_cells.py SEED ROW [DU|-] [N_PHI|-]
(rows of validation/results/model_space_after.json for seed 1, model_space_seed2.json for
seed 2; DU, N_PHI override the default grid).  The Monte Carlo (N from $NMC, default 2e4, at
the model-space runner's dt/2) is cached in $TMPDIR; z as in model_space.compare, without the
dt check.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

import fpstt
from fpstt.flow.flowgrid import default_grid
from fpstt.runs.montecarlo import simulate
from model_space import _observables, mc_step
from model_space_draw import TIMES, to_config

RESULTS = Path(__file__).parent / "results"
FILES = {1: "model_space_after.json", 2: "model_space_seed2.json"}


def monte_carlo(seed: int, row: int, cfg_dict: dict, n: int) -> dict:
    """Mean, std and P_sw of the row's Monte Carlo at dt/2 (cached by seed, row, n)."""
    cache = Path(tempfile.gettempdir()) / f"chart_cells_mc_s{seed}_r{row}_{n}.pkl"
    if not cache.exists():
        cfg = to_config(cfg_dict, grid=False)
        model = cfg.build_model()
        r = simulate(model, cfg.build_gibbs(), TIMES, n, dt=mc_step(model) / 2, seed=seed + 1)
        cache.write_bytes(pickle.dumps(dict(mean=r.mean, std=r.std, se=r.stderr,
                                            p=r.p_switch, sep=r.p_switch_stderr)))
    return pickle.loads(cache.read_bytes())


def table_i_seconds() -> float:
    """Wall time of the Table I default solve to 2 t_n."""
    start = time.perf_counter()
    cfg = to_config({"solve": {"times": list(TIMES)}})
    model = cfg.build_model()
    grid = cfg.build_grid(model)
    fpstt.solve(model, grid, cfg.build_gibbs().cell_averages(grid), TIMES)
    return time.perf_counter() - start


def z_scores(fp: dict, mc: dict, n: int) -> tuple[float, float, float]:
    """max |z| of the mean, the std (while one-sided) and P_sw, as model_space.compare."""
    se_mean = np.maximum(mc["se"], fp["std"] / math.sqrt(n))
    var = np.maximum(mc["std"], fp["std"]) ** 2
    se_std = np.sqrt(np.maximum(var / (2 * (n - 1)), (np.asarray(fp["m4"]) - fp["std"] ** 4)
                                / (4 * np.maximum(fp["std"] ** 2, 1e-300) * n)))
    one_sided = np.minimum(mc["p"], 1 - mc["p"]) < 0.01
    one_sided[0] = True
    z_mean = np.abs(fp["mean"] - mc["mean"]) / np.maximum(se_mean, 1 / n)
    z_std = (np.abs(fp["std"] - mc["std"]) / np.maximum(se_std, 1 / n))[one_sided]
    z_p = np.abs(fp["p_sw"] - mc["p"]) / np.maximum(mc["sep"], 1 / n)
    return float(z_mean.max()), float(z_std.max()), float(z_p.max())


def main(argv) -> None:
    seed, row = int(argv[0]), int(argv[1])
    kw = {k: cast(v) for k, v, cast in zip(("du", "n_phi"), argv[2:], (float, int)) if v != "-"}
    n = int(os.environ.get("NMC", 20000))
    cfg_dict = json.loads((RESULTS / FILES[seed]).read_text())["models"][row]["config"]
    mc = monte_carlo(seed, row, cfg_dict, n)
    table_i = table_i_seconds()
    cfg = to_config(cfg_dict)
    model = cfg.build_model()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        gibbs = cfg.build_gibbs()
        grid = default_grid(model, TIMES, initial=gibbs, **kw)
        sol = fpstt.solve(model, grid, gibbs.cell_averages(grid), TIMES,
                          scheme=cfg.scheme(model, grid))
        wall = time.perf_counter() - start
    z = z_scores(_observables(grid, sol.p), mc, n)
    print(f"s{seed} r{row} {kw} grid {grid.shape} steps {sol.diagnostics['n_steps']} "
          f"wall {wall:.1f} s, Table I {table_i:.2f} s, ratio {wall / table_i:.0f}; "
          f"max z mean {z[0]:.1f} std {z[1]:.1f} P_sw {z[2]:.1f} (N = {n})")
    for message in sorted({str(w.message)[:160] for w in caught}):
        print("  warning:", message)


if __name__ == "__main__":
    main(sys.argv[1:])
