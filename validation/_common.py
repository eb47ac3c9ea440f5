"""Shared set-up for the validation scripts (not part of the package)."""

import contextlib
import json
import sys
from pathlib import Path

import matplotlib
import numpy as np
from scipy.special import gammaln

matplotlib.use("Agg")

import fpstt  # noqa: E402
from fpstt.analysis.io import to_jsonable  # noqa: E402

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
FIGURES = ROOT.parent / "docs" / "figures"
FIG4_TIMES = [0.0, 1 / 3, 2 / 3, 1.0]
TABLE_I_NOTE = "model: ito, eq17 reading, field off, T = 1 K, n_e = 1.5e+05 per t_n (Table I)"


def table_i():
    micro = fpstt.table_i()
    return fpstt.SpinTorqueModel.from_microscopic(micro), fpstt.GibbsState.from_microscopic(micro)


def write(name, data):
    RESULTS.mkdir(parents=True, exist_ok=True)
    FIGURES.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(to_jsonable(data), indent=2) + "\n")
    print(f"wrote {path}", file=sys.stderr)


@contextlib.contextmanager
def halved_step_bounds():
    """Every bound on the step halved (:mod:`fpstt.flow.sizes`: CHART_SPREAD, the implicit
    step's bound in a chart; Z_STEP, FOLD_TURN, FOLD_STEP_TURN and REMAP_TURN, the bounds of a
    step of several rows, of a remap and of a folded step in the z' frame or an attractor
    chart), so that with du / 2 a step of one row halves with du and one of several keeps
    its rows."""
    from unittest import mock
    from fpstt.flow import flowplan, sizes
    halved = [mock.patch.object(sizes, "CHART_SPREAD", sizes.CHART_SPREAD / 2)] + [
        mock.patch.object(flowplan, name, getattr(flowplan, name) / 2)
        for name in ("Z_STEP", "FOLD_TURN", "FOLD_STEP_TURN", "REMAP_TURN")]
    with contextlib.ExitStack() as stack:
        for patch in halved:
            stack.enter_context(patch)
        yield


def refined_solve(model, grid, p0_of_grid, times):
    """(grid, solution) of ``model`` on ``grid`` refined 2x in U, phi and t: du/2, twice the
    phi cells, and every bound on the step halved (:func:`halved_step_bounds`)."""
    fine = fpstt.SphereGrid.mercator(grid.du / 2, *grid.u_range, 2 * grid.n_phi, grid.chart)
    with halved_step_bounds():
        return fine, fpstt.solve(model, fine, p0_of_grid(fine), times)


def binomial_mad(n, m):
    """E|X/n - m| for X ~ Bin(n, m), per cell: de Moivre's closed form where n m (1 - m) < 100
    (its Poisson limit for m ≤ 1e-3, which stays well conditioned at any n), the normal
    limit sqrt(2 m (1 - m) / (pi n)) above (relative error < 1e-3 there)."""
    var = n * m * (1 - m)
    nu = np.floor(n * m) + 1
    poisson = 2 * np.exp(nu * np.log(n * m) - n * m - gammaln(nu)) / n
    exact = 2 * np.exp(np.log(nu) + gammaln(n + 1) - gammaln(nu + 1) - gammaln(n - nu + 1)
                       + nu * np.log(m) + (n - nu + 1) * np.log1p(-m)) / n
    normal = np.sqrt(2 * var / np.pi) / n
    return np.where(var >= 100, normal, np.where(m <= 1e-3, poisson, exact))


def fourth_moments(grid, p, mean):
    """Central 4th moments of the components of n (outputs, 3) under the densities p (outputs,
    cells), cell-centre quadrature; ``mean`` (outputs, 3)."""
    from fpstt.sphere.grid import unit_vector
    centres = [0.5 * (e[1:] + e[:-1]) for e in (grid.theta_edges, grid.phi_edges)]
    n = unit_vector(*grid.lab_points(*np.meshgrid(*centres, indexing="ij")))
    w = np.asarray(p) * grid.cell_measure
    w = w / w.sum(axis=(-2, -1), keepdims=True)
    return np.stack([np.einsum("kij,kij->k", w, (n[c][None] - mean[:, c, None, None]) ** 4)
                     for c in range(3)], axis=-1)


def std_stderr(std, m4, n):
    """Standard error of a sample std of n draws: sqrt((m4 - std^4) / n) / (2 std), not less
    than the normal law's std / sqrt(2 (n - 1)).  A bimodal law (a small switched or
    unswitched fraction) has m4 far above 3 std^4, and the normal formula understates the
    error there by an order of magnitude."""
    std, m4 = np.asarray(std, float), np.asarray(m4, float)
    return np.sqrt(np.maximum(std ** 2 / (2 * (n - 1)),
                              (m4 - std ** 4) / (4 * np.maximum(std ** 2, 1e-300) * n)))
