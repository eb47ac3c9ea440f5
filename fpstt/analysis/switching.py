"""Switching observables of grid densities: P_sw = Prob(n . z' > threshold), the write-error
rate WER = Prob(n . z' ≤ threshold), and binomial standard errors of Monte Carlo estimates.

The magnet starts near the field direction (Table I: theta = 2.8 rad, n_z ≈ -0.94) and the
current drives it toward z'.  "Switched" means n_z = cos(theta) > ``threshold`` (0 by
default).  P_sw and WER are each summed over their own side of the threshold, never as one
minus the other, so a WER of 1e-15 keeps its relative accuracy.  Time-resolved curves and
switching-time statistics are in :mod:`fpstt.runs.wer`.
"""

from __future__ import annotations

import math

import numpy as np

from ..sphere.grid import SphereGrid, mercator_u
from .observables import chart_cell_averages

__all__ = ["switching_probability", "unswitched_probability", "split_rows",
           "switching_stderr"]


def _check_threshold(threshold: float) -> float:
    if not -1.0 < threshold < 1.0:
        raise ValueError(f"`threshold` must lie in (-1, 1), got {threshold!r}")
    return float(threshold)


def switching_probability(grid: SphereGrid, p, threshold: float = 0.0) -> np.ndarray:
    """P_sw = Prob(cos theta > threshold) of (theta, phi) densities p (carry sin theta).

    p has shape (..., n_theta, n_phi); returns shape (...).  See :func:`split_rows`.
    """
    return _by_side(grid, p, threshold)[0]


def unswitched_probability(grid: SphereGrid, p, threshold: float = 0.0) -> np.ndarray:
    """WER = Prob(cos theta ≤ threshold) of (theta, phi) densities p (carry sin theta),
    summed over the unswitched cells (not 1 - P_sw).  Shape (...)."""
    return _by_side(grid, p, threshold)[1]


def _by_side(grid, p, threshold):
    threshold = _check_threshold(threshold)
    p = np.asarray(p, float)
    if grid.chart is not None:                         # cells of a chart: by quadrature
        sides = chart_cell_averages(
            grid, lambda n: np.stack([n[2] > threshold, n[2] <= threshold]) * 1.0, order=8)
        mass = np.einsum("...ij,kij->k...", p, sides * grid.cell_measure)
        return mass[0], mass[1]
    rows = p.sum(axis=-1) * grid.dphi * grid.dtheta
    return split_rows(grid, rows, threshold)


def split_rows(grid: SphereGrid, rows, threshold: float = 0.0):
    """(switched, unswitched) masses from theta-row masses ``rows`` (shape (..., n_theta)) of
    a z'-frame grid, each summed over its own side.

    Whole rows are summed exactly.  The row that contains theta_c = arccos(threshold) is
    shared: on a grid uniform in u = ln tan(theta/2) (:func:`~fpstt.flow.flowgrid.default_grid`)
    its density in u is taken as exponential, with the slope of its two neighbours (exact
    for an exponential tail, where a constant would be off by the tail's slope times the
    cell width); otherwise, or if a neighbour is not positive, as constant in theta.
    """
    threshold = _check_threshold(threshold)
    rows = np.asarray(rows, float)
    e = grid.theta_edges
    theta_c = math.acos(threshold)
    r = int(np.searchsorted(e, theta_c, side="right")) - 1        # e[r] <= theta_c < e[r+1]
    switched = rows[..., :r].sum(axis=-1)
    unswitched = rows[..., r + 1:].sum(axis=-1)
    below = _fraction_below(grid, rows, r, theta_c)                  # of row r, theta < theta_c
    return switched + below[0] * rows[..., r], unswitched + below[1] * rows[..., r]


def _fraction_below(grid, rows, r, theta_c):
    """(fraction of row r at theta < theta_c, fraction at theta > theta_c), shape (...)."""
    e = grid.theta_edges
    lin = (theta_c - e[r]) / (e[r + 1] - e[r])
    linear = (np.full(rows.shape[:-1], lin), np.full(rows.shape[:-1], 1 - lin))
    if r < 1 or r + 2 >= e.size - 1:
        return linear
    u = mercator_u(e[r - 1:r + 3])
    du = np.diff(u)
    if not np.allclose(du, du[1], rtol=1e-9, atol=0):
        return linear
    h, offset = du[1], float(mercator_u(theta_c) - u[1])
    left, right = rows[..., r - 1], rows[..., r + 1]
    good = (left > 0) & (right > 0)
    ratio = np.divide(right, left, out=np.ones_like(left), where=good)
    sh = np.log(ratio, out=np.zeros_like(ratio), where=good) / 2     # slope times h
    flat = np.abs(sh) < 1e-9
    sh = np.where(flat, 1.0, sh)
    # density in u ∝ exp(sh (u - u_r) / h) across row r; the cut lies at offset from u_r
    before = np.where(flat, offset / h, np.expm1(sh * offset / h) / np.expm1(sh))
    beyond = np.where(flat, 1 - offset / h,
                      np.exp(sh * offset / h) * np.expm1(sh * (1 - offset / h)) / np.expm1(sh))
    return (np.where(good, before, linear[0]), np.where(good, beyond, linear[1]))


def switching_stderr(p_switch, n_samples: int):
    """Binomial standard error sqrt(P (1 - P) / N) of a Monte Carlo switching probability."""
    p_switch = np.asarray(p_switch, float)
    return np.sqrt(np.maximum(p_switch * (1 - p_switch), 0.0) / n_samples)
