"""Switching observables: P_sw(t) = Prob(n . z' > threshold), write-error rate, switching time.

The magnet starts near the field direction (Table I: theta = 2.8 rad, n_z ≈ -0.94) and the
current drives it toward z'.  "Switched" means n_z = cos(theta) > ``threshold`` (0 by default).
"""

from __future__ import annotations

import math

import numpy as np

from .grid import SphereGrid
from .observables import chart_cell_averages

__all__ = ["switching_probability", "switching_times", "switching_stderr"]


def switching_probability(grid: SphereGrid, p, threshold: float = 0.0) -> np.ndarray:
    """Prob(cos theta > threshold) of (theta, phi) densities p (carry sin theta), shape (...).

    Whole cells are summed exactly; the cell containing theta_c = arccos(threshold)
    contributes the fraction of its theta width below theta_c (p taken constant across it).
    On a chart grid the switched fraction of each cell is taken at 8 x 8 Gauss nodes.
    """
    if not -1.0 < threshold < 1.0:
        raise ValueError(f"`threshold` must lie in (-1, 1), got {threshold!r}")
    if grid.chart is not None:                         # cells of a chart: by quadrature
        fraction = chart_cell_averages(grid, lambda n: (n[2:] > threshold) * 1.0, order=8)[0]
        return np.einsum("...ij,ij->...", np.asarray(p), fraction * grid.cell_measure)
    theta_c = math.acos(threshold)
    e = grid.theta_edges
    fraction = np.clip((theta_c - e[:-1]) / np.diff(e), 0.0, 1.0)          # of each theta row
    row_mass = np.asarray(p).sum(axis=-1) * grid.dphi * grid.dtheta
    return row_mass @ fraction


def switching_stderr(p_switch, n_samples: int):
    """Binomial standard error sqrt(P (1 - P) / N) of a Monte Carlo switching probability."""
    p_switch = np.asarray(p_switch, float)
    return np.sqrt(np.maximum(p_switch * (1 - p_switch), 0.0) / n_samples)


def switching_times(times, p_switch) -> dict:
    """Median and mean switching time (units of t_n) from P_sw on an increasing time grid.

    ``median``: first time P_sw reaches 1/2 (linear interpolation; NaN if it never does).
    ``mean``: sum_k (t_{k+1} - t_k)(1 - P_sw(t_k)) = E[min(tau, T)] for the first time tau at
    which a trajectory is seen switched on the grid ``times`` (which must start at 0), when
    switching is irreversible (as here: damping holds a switched magnet near z').  Monte
    Carlo estimates the same quantity trajectory by trajectory (``MonteCarloResult``).
    """
    t, prob = np.asarray(times, float), np.asarray(p_switch, float)
    if t[0] != 0.0:
        raise ValueError("`times` must start at 0 for the mean switching time")
    above = np.flatnonzero(prob >= 0.5)
    if above.size == 0:
        median = math.nan
    elif above[0] == 0:
        median = 0.0
    else:
        k = above[0]
        median = float(np.interp(0.5, prob[k - 1:k + 1], t[k - 1:k + 1]))
    mean = float(np.sum((1.0 - prob[:-1]) * np.diff(t)))
    return {"median": median, "mean": mean}
