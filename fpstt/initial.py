"""The Gibbs initial state of Eq. (13): a von Mises-Fisher law on the sphere."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .grid import SphereGrid
from .model import Microscopic, derived_coefficients

__all__ = ["GibbsState", "unit_vector", "langevin_function"]


def angles(n):
    """(theta, phi in [0, 2 pi)) of unit vectors n of shape (3, ...); inverse of unit_vector."""
    return np.arccos(np.clip(n[2], -1.0, 1.0)), np.arctan2(n[1], n[0]) % (2 * np.pi)


def unit_vector(theta, phi) -> np.ndarray:
    """(sin t cos f, sin t sin f, cos t), stacked on a new first axis."""
    theta, phi = np.asarray(theta, float), np.asarray(phi, float)
    st = np.sin(theta)
    return np.array([st * np.cos(phi), st * np.sin(phi), np.cos(theta) + 0 * phi])


def langevin_function(kappa: float) -> float:
    """coth(kappa) - 1/kappa, the mean of n . b under exp(kappa n . b); stable for all kappa."""
    if kappa < 1e-4:
        return kappa / 3
    return (1 + math.exp(-2 * kappa)) / (-math.expm1(-2 * kappa)) - 1 / kappa


@dataclass(frozen=True)
class GibbsState:
    """P(n) = C exp(kappa n . b), Eq. (13), with kappa = gamma hbar J B / (k_B T).

    Parameters
    ----------
    kappa : float
        Concentration (dimensionless), ≥ 0.
    theta_b, phi_b : float
        Direction b of the field about z', rad.
    """

    kappa: float
    theta_b: float
    phi_b: float

    def __post_init__(self):
        if not (math.isfinite(self.kappa) and self.kappa >= 0):
            raise ValueError(f"`kappa` must be finite and ≥ 0, got {self.kappa!r}")
        if not (0 <= self.theta_b <= math.pi) or not math.isfinite(self.phi_b):
            raise ValueError("`theta_b` must lie in [0, pi] and `phi_b` be finite")

    @classmethod
    def from_microscopic(cls, micro: Microscopic) -> "GibbsState":
        return cls(derived_coefficients(micro).kappa, micro.B_theta, micro.B_phi)

    @property
    def direction(self) -> np.ndarray:
        return unit_vector(self.theta_b, self.phi_b)

    @property
    def mean_direction(self) -> np.ndarray:
        """Exact <n> = (coth kappa - 1/kappa) b."""
        return langevin_function(self.kappa) * self.direction

    def log_normaliser(self) -> float:
        """log C with C^-1 = 4 pi sinh(kappa)/kappa, written as C exp(kappa) (no overflow)."""
        k = self.kappa
        if k < 1e-8:
            return -math.log(4 * math.pi) - k
        return math.log(k) - math.log(2 * math.pi) - math.log(-math.expm1(-2 * k)) - k

    def per_area(self, theta, phi):
        """P(n(theta, phi)) per steradian, vectorised."""
        n = unit_vector(theta, phi)
        b = self.direction
        cos_b = b[0] * n[0] + b[1] * n[1] + b[2] * n[2]
        return np.exp(self.log_normaliser() + self.kappa * cos_b)

    def density(self, theta, phi):
        """The (theta, phi) density p0 = P sin(theta) of Eq. (16); integrates to 1 over dtheta dphi."""
        return self.per_area(theta, phi) * np.sin(theta)

    def cell_averages(self, grid: SphereGrid, theta_edges=None, phi_offset: float = 0.0):
        """Cell averages of the (theta, phi) density p0 on ``grid`` (carries sin theta).

        Integrated by Gauss-Legendre on sub-cells no wider than a quarter of the width
        1/sqrt(kappa) wherever the density is non-negligible, so sharp states on coarse grids
        are averaged exactly, not sampled.  ``theta_edges`` and ``phi_offset`` integrate
        instead over the cells ``[theta_edges[i], theta_edges[i+1]] x (phi cell - phi_offset)``
        (the pre-images used by :mod:`fpstt.pushforward`); the result is still divided by the
        measure of ``grid``'s cells.
        """
        if grid.chart is not None:
            return self._chart_cell_averages(grid)
        edges = grid.theta_edges if theta_edges is None else np.asarray(theta_edges, float)
        width = 1 / math.sqrt(max(self.kappa, 1.0))
        reach = min(math.pi, 12 * width)                 # exp(-72): negligible beyond
        lo, hi = self.theta_b - reach, self.theta_b + reach
        x, wq = np.polynomial.legendre.leggauss(6)
        # theta sub-cells: split cells that meet the support into pieces <= width / 4
        a, b = edges[:-1], edges[1:]
        inside = (b > lo) & (a < hi)                      # other rows get mass 0 (< e^-72)
        pieces = np.where(inside, np.ceil((b - a) / (width / 4)), 0).astype(int)
        row = np.repeat(np.arange(a.size), pieces)
        start = np.cumsum(pieces) - pieces
        k = np.arange(row.size) - start[row]
        h = (b - a)[row] / pieces[row]
        tq = (a[row] + h * k)[:, None] + 0.5 * (x + 1)[None, :] * h[:, None]   # (sub, 6)
        # phi: enough Gauss points per cell for the phi width at the field direction
        sin_b = max(math.sin(self.theta_b), width)
        n_phi_pts = int(min(64, max(6, math.ceil(3 * grid.dphi * sin_b / width) + 4)))
        xf, wf = np.polynomial.legendre.leggauss(n_phi_pts)
        fq = (grid.phi_edges[:-1, None] - phi_offset
              + 0.5 * (xf + 1)[None, :] * grid.dphi)                            # (nf, q)
        vals = self.density(tq[:, :, None, None], fq[None, None, :, :])       # (sub,6,nf,q)
        sub_mass = 0.25 * np.einsum("aibj,i,j->ab", vals, wq, wf) * h[:, None] * grid.dphi
        mass = np.zeros((a.size, grid.n_phi))
        np.add.at(mass, row, sub_mass)
        return mass / grid.cell_measure

    def _chart_cell_averages(self, grid: SphereGrid, order: int = 8):
        """Cell averages of the (theta_c, phi_c) density on a chart grid: the density per
        steradian times the chart's area factor, by Gauss-Legendre in the cells of the rows
        whose centres see more than e^-60 of the peak (other rows: below 1e-20 of the mass)."""
        chart = grid.chart

        def density(t, f):
            return self.per_area(*chart.to_lab(t, f)) * chart.area_factor(t, f)

        centres = density(grid.theta[:, None], grid.phi[None, :])
        rows = np.flatnonzero(centres.max(axis=1) > np.exp(-60) * centres.max())
        rows = np.arange(max(rows[0] - 2, 0), min(rows[-1] + 3, grid.n_theta))
        x, w = np.polynomial.legendre.leggauss(order)
        e, d = grid.theta_edges[rows], grid.dtheta[rows]
        tq = e[:, None] + 0.5 * (x[None, :] + 1) * d[:, None]
        fq = grid.phi_edges[:-1, None] + 0.5 * (x[None, :] + 1) * grid.dphi
        vals = density(tq[:, :, None, None], fq[None, None, :, :])
        p = np.zeros(grid.shape)
        p[rows] = 0.25 * np.einsum("aibj,i,j->ab", vals, w, w)
        return p

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Exact von Mises-Fisher samples, unit vectors of shape (n, 3)."""
        u = rng.random(n)
        k = self.kappa
        if k < 1e-8:
            w = 2 * u - 1
        else:
            w = 1 + np.log(u + (1 - u) * math.exp(-2 * k)) / k
        w = np.clip(w, -1.0, 1.0)
        psi = 2 * math.pi * rng.random(n)
        r = np.sqrt(np.maximum(0.0, 1 - w * w))
        local = np.stack([r * np.cos(psi), r * np.sin(psi), w], axis=1)
        return local @ _rotation_to(self.direction).T


def _rotation_to(b: np.ndarray) -> np.ndarray:
    """Rotation matrix taking z onto the unit vector b (columns e1, e2, b)."""
    b = b / np.linalg.norm(b)
    helper = np.array([1.0, 0.0, 0.0]) if abs(b[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(helper, b)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(b, e1)
    return np.column_stack([e1, e2, b])
