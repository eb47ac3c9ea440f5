"""The exact transport of the split schemes: translations in U and turns in phi.

On a grid uniform in U = ln tan(theta_c/2) of the flow's Möbius chart (the z' frame without a
field) the noiseless flow is a translation in U and a rotation in phi_c.  Whole cells of it
are permutations of cell masses (:class:`Shift`, and a cyclic shift of the columns); a
fraction of a cell, for output times off the step lattice, is a flux-form semi-Lagrangian
step with a linear reconstruction (:meth:`Shift.fraction`, :func:`turn_columns`).
"""

from __future__ import annotations

import math

import numpy as np

from ..flow.flowplan import grid_plan
from ..sphere.grid import SphereGrid, mercator_u

__all__ = ["Shift", "turn_columns", "mercator_step", "mercator_du"]


def mercator_step(grid: SphereGrid, model) -> float:
    """The split-scheme step rows du / |shift rate| of ``model`` on a Mercator grid
    (:meth:`~fpstt.flow.flowplan.FlowPlan.step` of its plan there); ValueError if the grid is not
    one, or its chart does not shift."""
    return grid_plan(model, grid).step(mercator_du(grid))


def mercator_du(grid: SphereGrid) -> float:
    """The cell width in u of a Mercator grid (:attr:`SphereGrid.du`); ValueError if it is
    not one."""
    if grid.du is None:
        raise ValueError("split schemes need a grid from SphereGrid.mercator "
                         "(interior theta edges uniform in u = ln tan(theta/2))")
    return grid.du


class Shift:
    """Exact translation by ``rows`` cells in u of a density on a Mercator grid, in place.

    Works on any array whose first axis is theta (cell averages, or their phi-Fourier
    modes): the mass w_i x_i of cell i moves to cell i - 1 (``direction`` +1, toward
    theta = 0, Im C1 > 0; mirrored for -1).  The cap the flow leaves splits its mass between
    itself and its neighbour in proportion to solid angle (exact when the density per
    steradian is uniform in that cap, which holds negligible mass in practice).
    """

    def __init__(self, grid: SphereGrid, direction: int, rows: int = 1):
        self.rows = rows
        e, w = grid.theta_edges, grid.dtheta
        if direction < 0:                                    # mirror: theta -> pi - theta
            e, w = math.pi - e[::-1], w[::-1]
        du = mercator_u(e[2]) - mercator_u(e[1])
        u_top = float(mercator_u(e[-2]))                     # lower edge of the far cap
        # solid angle of [top, theta(u_top + du)] over that of the cap [top, pi]:
        # 1 - (1 + cos upper)/(1 + cos top), with 1 + cos theta(u) = 2 / (1 + e^{2u})
        self.u_top, self.du = u_top, du
        self.frac = self._cap_share(1.0)
        self.w, self.direction = w[:, None], direction
        self.ratio = (w[2:-1] / w[1:-2])[:, None]
        k = rows                                     # a step of k rows in one pass:
        self.ratio_k = (w[1 + k:-1] / w[1:-1 - k])[:, None] if 1 < k <= w.size - 2 else None
        self.released = self.frac * (1 - self.frac) ** np.arange(k)     # at steps 1..k

    def _cap_share(self, f):
        """Share of the far cap's mass that a translation by f cells moves out of it."""
        u = self.u_top
        return -math.expm1(np.logaddexp(0, 2 * u) - np.logaddexp(0, 2 * (u + f * self.du)))

    def __call__(self, x):
        y, w = (x if self.direction > 0 else x[::-1]), self.w
        if self.ratio_k is not None:
            self._rows_at_once(y)
            return x
        for _ in range(self.rows):
            cap = y[-1] * w[-1]
            y[0] = (y[0] * w[0] + y[1] * w[1]) / w[0]
            np.multiply(y[2:-1], self.ratio, out=y[1:-2])
            y[-2] = self.frac * cap / w[-2]
            y[-1] = (1 - self.frac) * cap / w[-1]
        return x

    def _rows_at_once(self, y):
        """``rows`` (≤ n - 2) one-row translations of y in one pass over the array: row 0
        (the cap the flow runs into) takes rows 1..k, row i the mass of row i + k, and the
        last k interior rows what the far cap released at each of the k steps, a share
        frac of what it held, frac (1 - frac)^(p - 1) of its mass at step p.  The same
        masses as k passes, up to rounding."""
        k, w = self.rows, self.w
        cap = y[-1] * w[-1]
        pole = y[0] * w[0] + np.sum(y[1:k + 1] * w[1:k + 1], axis=0)
        y[1:-1 - k] = y[1 + k:-1] * self.ratio_k
        y[-1 - k:-1] = np.multiply.outer(self.released, cap) / w[-1 - k:-1]
        y[-1] = (1 - self.frac) ** k * cap / w[-1]
        y[0] = pole / w[0]

    def fraction(self, x, f: float):
        """Translate real cell averages by a fraction 0 ≤ f < 1 of a cell, in place:
        flux-form semi-Lagrangian.

        The mass each interior row sends on is the integral over its leading f of a linear
        reconstruction in u (central slopes, clipped only where the reconstruction would go
        negative): conservative, second order where smooth, and between 0 and what the row
        holds, so p ≥ 0.
        """
        y, w = (x if self.direction > 0 else x[::-1]), self.w
        mass = y * w
        slope = np.zeros_like(mass)
        slope[2:-2] = _limited_slope(mass[1:-3], mass[2:-2], mass[3:-1])
        flux = f * mass - 0.5 * f * (1 - f) * slope          # row i -> row i - 1
        flux[0] = 0.0
        flux[-1] = self._cap_share(f) * mass[-1]
        mass[:-1] += flux[1:]
        mass -= flux
        y[:] = mass / w
        return x


def turn_columns(x, cells: float):
    """Turn real cell averages by ``cells`` phi cells (any real number), conservatively:
    whole cells by a cyclic shift, the fraction by a flux-form step with a linear
    reconstruction along phi, limited as in :meth:`Shift.fraction`, so p ≥ 0."""
    whole = math.floor(cells)
    x = np.roll(x, whole, axis=1)
    f = cells - whole
    if f == 0:
        return x
    slope = _limited_slope(np.roll(x, 1, axis=1), x, np.roll(x, -1, axis=1))
    flux = f * x + 0.5 * f * (1 - f) * slope             # column j -> column j + 1
    return x - flux + np.roll(flux, 1, axis=1)


def _limited_slope(left, centre, right):
    """Central slope of cell masses, clipped so that the linear reconstruction stays ≥ 0
    in the cell (|slope| ≤ 2 centre): unchanged where the density is smooth and resolved,
    so no clipping of smooth extrema, and every flux is between 0 and the cell's mass."""
    return np.clip(0.5 * (right - left), -2 * np.abs(centre), 2 * np.abs(centre))
