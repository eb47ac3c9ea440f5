"""Cell-centred (theta, phi) grid on the sphere.

Cells are ``[theta_edges[i], theta_edges[i+1]] x [phi_j - dphi/2, phi_j + dphi/2]``; the
first and last theta edges are the poles 0 and pi, so no cell centre lies on a pole.  A
2-D array has shape ``(n_theta, n_phi)`` and is flattened in C order: cell (i, j) is entry
``i * n_phi + j`` of a vector.  This is the only flattening order used in fpstt.

Densities on the grid are cell averages of a (theta, phi) density p (it carries the
sin(theta) of the area element, as in Eq. 16 of the paper), so that
``sum(p * dtheta[:, None] * dphi) = 1``.

A grid may carry a :class:`~fpstt.sphere.chart.MobiusChart`: its (theta, phi) are then chart
coordinates (theta_c, phi_c), the densities are (theta_c, phi_c) densities, and
:meth:`SphereGrid.directions` / :meth:`SphereGrid.lab_points` give the z'-frame points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["SphereGrid", "mercator_u", "mercator_theta", "unit_vector", "angles",
           "angle_between"]


def angles(n):
    """(theta, phi in [0, 2 pi)) of unit vectors n of shape (3, ...); inverse of unit_vector.

    theta = atan2(|n_xy|, n_z) keeps its relative precision next to the poles, where
    arccos(n_z) rounds every theta below 1e-8 to exactly 0 (then 1/sin theta of Eq. 17's
    phi noise is infinite)."""
    return np.arctan2(np.hypot(n[0], n[1]), n[2]), np.arctan2(n[1], n[0]) % (2 * np.pi)


def angle_between(a, b):
    """Angle in [0, pi] between unit vectors a and b of shape (3, ...) (broadcast).

    atan2(|a x b|, a . b) is accurate at every angle; acos(a . b) is not defined where the
    rounded dot product of antipodal vectors falls below -1, and loses half the digits near
    0 and pi."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    cross = np.cross(a, b, axis=0)
    return np.arctan2(np.sqrt(np.sum(cross ** 2, axis=0)), np.sum(a * b, axis=0))


def unit_vector(theta, phi) -> np.ndarray:
    """(sin t cos f, sin t sin f, cos t), stacked on a new first axis."""
    theta, phi = np.asarray(theta, float), np.asarray(phi, float)
    st = np.sin(theta)
    return np.array([st * np.cos(phi), st * np.sin(phi), np.cos(theta) + 0 * phi])


def mercator_u(theta):
    """u = ln tan(theta/2), the coordinate in which Eq. (15) is a translation."""
    return np.log(np.tan(np.asarray(theta, float) / 2))


def mercator_theta(u):
    """Inverse of :func:`mercator_u`: theta = 2 atan(exp(u)), without overflow for any real u."""
    u = np.asarray(u, float)
    small = 2 * np.arctan(np.exp(-np.abs(u)))
    return np.where(u > 0, np.pi - small, small)


@dataclass(frozen=True, eq=False)
class SphereGrid:
    """Immutable finite-volume grid: non-uniform theta edges over [0, pi], uniform periodic phi.

    Parameters
    ----------
    theta_edges : array_like, shape (n_theta + 1,)
        Strictly increasing, from exactly 0 to exactly pi.
    n_phi : int
        Number of phi cells (uniform, periodic, first cell centred at dphi/2).
    chart : MobiusChart, optional
        The chart whose coordinates (theta_c, phi_c) the grid uses; None: the z' frame.
    plan : FlowPlan, optional
        How runs follow the flow of the model the grid was made for
        (:func:`~fpstt.flow.flowplan.plan_flow`, stored by
        :func:`~fpstt.flow.flowgrid.default_grid`); None: made from the model when a run needs it
        (:func:`~fpstt.flow.flowplan.grid_plan`).

    Attributes
    ----------
    du : float or None
        On a Mercator grid (interior edges uniform in u = ln tan(theta/2), as
        :meth:`mercator` builds them) the cell width in u, as measured on the edges once
        (the first row with |u| ≤ 8: beyond, theta near pi rounds u); None on other grids.
    u_range : tuple of float or None
        (u of the first, u of the last interior edge) on a Mercator grid; else None.
    """

    theta_edges: np.ndarray
    n_phi: int
    chart: object = None
    plan: object = field(default=None, repr=False)
    du: float | None = field(init=False, default=None)
    u_range: tuple | None = field(init=False, default=None)

    def __post_init__(self):
        edges = np.asarray(self.theta_edges, dtype=float)
        if edges.ndim != 1 or edges.size < 4:
            raise ValueError(f"`theta_edges` must be 1-D with ≥ 4 entries (n_theta ≥ 3), "
                             f"got shape {edges.shape}")
        if not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
            raise ValueError("`theta_edges` must be finite and strictly increasing")
        if edges[0] != 0.0 or not math.isclose(edges[-1], math.pi, rel_tol=0, abs_tol=1e-12):
            raise ValueError(f"`theta_edges` must run from 0 to pi, got [{edges[0]}, {edges[-1]}]")
        edges = edges.copy()
        edges[-1] = math.pi
        edges.setflags(write=False)
        object.__setattr__(self, "theta_edges", edges)
        if int(self.n_phi) != self.n_phi or self.n_phi < 4:
            raise ValueError(f"`n_phi` must be an integer ≥ 4, got {self.n_phi!r}")
        object.__setattr__(self, "n_phi", int(self.n_phi))
        u = mercator_u(edges[1:-1])
        core = np.diff(u)[np.abs(u[1:]) <= 8]
        if core.size >= 2 and np.allclose(core, core[0], rtol=1e-9, atol=0):
            object.__setattr__(self, "du", float(core[0]))
            object.__setattr__(self, "u_range", (float(u[0]), float(u[-1])))

    # ---- constructors -------------------------------------------------------------------
    @classmethod
    def uniform(cls, n_theta: int, n_phi: int) -> "SphereGrid":
        """Uniform theta cells of width pi / n_theta."""
        if int(n_theta) != n_theta or n_theta < 3:
            raise ValueError(f"`n_theta` must be an integer ≥ 3, got {n_theta!r}")
        return cls(np.linspace(0.0, math.pi, int(n_theta) + 1), n_phi)

    @classmethod
    def mercator(cls, du: float, u_min: float, u_max: float, n_phi: int,
                 chart=None, plan=None) -> "SphereGrid":
        """Cells uniform in u = ln tan(theta/2) on [u_min, u_max], plus two pole caps.

        The interior edges are u_min + k du; the caps are [0, theta(u_min)] and
        [theta(u_max), pi].  On this grid the noiseless flow of Eq. (15) moves every interior
        edge onto another edge in a time du / Im C1 (in a ``chart``: du / its shift rate).
        """
        if not (du > 0 and math.isfinite(du)):
            raise ValueError(f"`du` must be finite and > 0, got {du!r}")
        if not (u_min < u_max):
            raise ValueError(f"`u_min` must be < `u_max`, got {u_min!r}, {u_max!r}")
        n = int(math.ceil((u_max - u_min) / du - 1e-9))
        u = u_min + du * np.arange(n + 1)
        return cls(np.concatenate([[0.0], mercator_theta(u), [math.pi]]), n_phi, chart, plan)

    # ---- geometry -----------------------------------------------------------------------
    @property
    def n_theta(self) -> int:
        return self.theta_edges.size - 1

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_theta, self.n_phi)

    @property
    def size(self) -> int:
        return self.n_theta * self.n_phi

    @property
    def theta(self) -> np.ndarray:
        """Cell centres in theta (midpoints of the edges), rad."""
        e = self.theta_edges
        return 0.5 * (e[1:] + e[:-1])

    @property
    def dtheta(self) -> np.ndarray:
        return np.diff(self.theta_edges)

    @property
    def dphi(self) -> float:
        return 2 * math.pi / self.n_phi

    @property
    def phi(self) -> np.ndarray:
        """Cell centres in phi, rad, in [0, 2 pi)."""
        return (np.arange(self.n_phi) + 0.5) * self.dphi

    @property
    def phi_edges(self) -> np.ndarray:
        return np.arange(self.n_phi + 1) * self.dphi

    @property
    def cell_measure(self) -> np.ndarray:
        """dtheta_i dphi, shape (n_theta, n_phi): weights for integrating (theta, phi) densities."""
        return np.repeat(self.dtheta[:, None] * self.dphi, self.n_phi, axis=1)

    @property
    def solid_angle(self) -> np.ndarray:
        """Exact solid angle of each cell, shape (n_theta, n_phi), sr."""
        e = self.theta_edges
        band = np.cos(e[:-1]) - np.cos(e[1:])
        return np.repeat(band[:, None] * self.dphi, self.n_phi, axis=1)

    def integrate(self, p) -> float:
        """Integral of a (theta, phi) density (cell averages): sum p dtheta dphi."""
        return float(np.sum(np.asarray(p) * self.cell_measure))

    def per_area(self, p) -> np.ndarray:
        """Convert a (theta, phi) density (carries sin theta) to a density per steradian."""
        return np.asarray(p) * self.cell_measure / self.solid_angle

    def from_per_area(self, rho) -> np.ndarray:
        """Convert a density per steradian into a (theta, phi) density (cell averages)."""
        return np.asarray(rho) * self.solid_angle / self.cell_measure

    def lab_points(self, theta, phi):
        """z'-frame (theta, phi) of grid-coordinate points (the identity without a chart)."""
        if self.chart is None:
            return np.asarray(theta, float), np.asarray(phi, float)
        return self.chart.to_lab(theta, phi)

    def directions(self) -> np.ndarray:
        """Unit vectors at the cell centres, shape (3, n_theta, n_phi), in the z' frame."""
        t, f = self.lab_points(*np.meshgrid(self.theta, self.phi, indexing="ij"))
        return np.array([np.sin(t) * np.cos(f), np.sin(t) * np.sin(f), np.cos(t)])

    def cell_quadrature(self, order: int, rows=slice(None)):
        """Gauss-Legendre nodes of each cell of ``rows``: z'-frame unit vectors of shape
        (3, rows, order, n_phi, order) and weights (rows, order, 1, order) that sum to 1 over
        each cell (a cell average of f is the weighted sum of f at the nodes)."""
        x, w = np.polynomial.legendre.leggauss(order)
        e, d = self.theta_edges[:-1][rows], self.dtheta[rows]
        tq = e[:, None] + 0.5 * (x[None, :] + 1) * d[:, None]
        fq = self.phi_edges[:-1, None] + 0.5 * (x[None, :] + 1) * self.dphi
        t, f = self.lab_points(tq[:, :, None, None], fq[None, None, :, :])
        n = np.array([np.sin(t) * np.cos(f), np.sin(t) * np.sin(f), np.cos(t)])
        return n, np.broadcast_to(0.25 * w[:, None, None] * w[None, None, :],
                                  (d.size, order, 1, order))

    def cell_average(self, density, order: int = 6) -> np.ndarray:
        """Cell averages of a (theta, phi) density callable ``density(theta, phi)``.

        Gauss-Legendre with ``order`` points per direction in every cell; exact for
        polynomials of degree 2 order - 1 in each variable.
        """
        x, w = np.polynomial.legendre.leggauss(order)
        e, d = self.theta_edges, self.dtheta
        tq = e[:-1, None] + 0.5 * (x[None, :] + 1) * d[:, None]           # (nt, q)
        fq = (self.phi_edges[:-1, None] + 0.5 * (x[None, :] + 1) * self.dphi)  # (nf, q)
        vals = density(tq[:, :, None, None], fq[None, None, :, :])       # (nt, q, nf, q)
        vals = np.broadcast_to(vals, (self.n_theta, order, self.n_phi, order))
        return 0.25 * np.einsum("aibj,i,j->ab", vals, w, w)
