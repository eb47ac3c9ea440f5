"""Sparse LU orderings side by side (python validation/bench_ordering.py): SuperLU's minimum
degree on A^T + A (fpstt's ordering before session 6) against the grid's nested-dissection order
(fpstt.numerics.ordering.GridLU, the one fpstt uses), on I - h L of the default grids of a few
model classes.  Prints factorisation and solve times, fill, and their ratios; both solutions
agree to rounding (printed).
"""

import sys
import time

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))

from fpstt.numerics.operator import fokker_planck_matrix  # noqa: E402
from fpstt.numerics.ordering import GridLU  # noqa: E402
from fpstt.runs.config import load_config  # noqa: E402
from model_space_draw import draw_models, to_config  # noqa: E402

H = 0.03
"""Step (t_n) of the system I - h L."""


def cases():
    """(name, config) of the models compared."""
    yield "relaxation (validation/relax/relax.toml)", load_config(
        str(__import__("pathlib").Path(__file__).parent / "relax" / "relax.toml"))
    for seed, k in ((2, 9), (1, 8), (1, 0)):
        yield f"model space seed {seed} model {k}", to_config(draw_models(seed, 30)[k])


def timed(make):
    start = time.perf_counter()
    out = make()
    return out, time.perf_counter() - start


def compare(name, cfg) -> float:
    model = cfg.build_model()
    grid = cfg.build_grid(model)
    a = (sp.identity(grid.n_theta * grid.n_phi) - H * fokker_planck_matrix(model, grid)).tocsc()
    r = np.random.default_rng(0).random(grid.shape)
    mmd, t_mmd = timed(lambda: splu(a, permc_spec="MMD_AT_PLUS_A"))
    nd, t_nd = timed(lambda: GridLU(a, grid.shape))
    x_mmd, s_mmd = timed(lambda: mmd.solve(r.ravel()))
    x_nd, s_nd = timed(lambda: nd.solve(r))
    gap = np.abs(x_nd.ravel() - x_mmd).max() / np.abs(x_mmd).max()
    print(f"{name}: {grid.shape[0]} x {grid.shape[1]} cells\n"
          f"  factorise  minimum degree {t_mmd:6.2f} s   nested dissection {t_nd:6.2f} s"
          f"   ratio {t_mmd / t_nd:5.1f}\n"
          f"  fill       {mmd.L.nnz + mmd.U.nnz:.2e}   {nd.lu.L.nnz + nd.lu.U.nnz:.2e}\n"
          f"  one solve  {1e3 * s_mmd:6.1f} ms   {1e3 * s_nd:6.1f} ms;"
          f"  solutions differ by {gap:.1e} (relative)", flush=True)
    return t_mmd / t_nd


def main() -> int:
    ratios = [compare(name, cfg) for name, cfg in cases()]
    print(f"factorisation time ratio (minimum degree / nested dissection): "
          f"{min(ratios):.1f}-{max(ratios):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
