"""The noiseless flow of Eq. (15) and the Jacobian pushforward of Eq. (16).

With C2 = 0, Eq. (17) is solved by a translation in u = ln tan(theta/2) at speed -Im C1
and a rotation in phi at speed Re C1:

.. math::
    \\theta_S(t, \\theta_0) = 2 \\cot^{-1}[\\cot(\\theta_0/2) e^{\\Im C_1 t}], \\qquad
    \\phi_S(t, \\phi_0) = \\Re C_1 t + \\phi_0 .

Since du = d theta / sin(theta), the Jacobian determinant is
``|d(theta_S, phi_S)/d(theta, phi)| = sin(theta_S(t, theta)) / sin(theta)``
= cosh(u) / cosh(u - Im C1 t), evaluated here in that overflow-free form.
"""

from __future__ import annotations

import numpy as np

from .grid import SphereGrid, mercator_theta, mercator_u
from .initial import GibbsState, _rotation_to, unit_vector

__all__ = ["flow", "jacobian", "jacobian_fd", "pushforward_density",
           "pushforward_cell_averages", "mean_trajectory", "gibbs_quadrature"]


def flow(t: float, theta0, phi0, C1: complex):
    """(theta_S, phi_S) of Eq. (15) at time t (units of t_n, any sign), vectorised."""
    with np.errstate(divide="ignore"):
        u = mercator_u(theta0)
    return mercator_theta(u - C1.imag * t), np.asarray(phi0, float) + C1.real * t


def _log_cosh(u):
    a = np.abs(u)
    return a + np.log1p(np.exp(-2 * a)) - np.log(2)


def jacobian(t: float, theta, C1: complex):
    """|d(theta_S(t, .), phi_S(t, .)) / d(theta, phi)| in closed form (see module docstring)."""
    u = mercator_u(theta)
    return np.exp(_log_cosh(u) - _log_cosh(u - C1.imag * t))


def jacobian_fd(t: float, theta, C1: complex, h: float = 1e-6):
    """The same Jacobian by central finite differences of :func:`flow` (a check)."""
    theta = np.asarray(theta, float)
    plus, _ = flow(t, theta + h, 0.0, C1)
    minus, _ = flow(t, theta - h, 0.0, C1)
    return (plus - minus) / (2 * h)


def pushforward_density(gibbs: GibbsState, C1: complex, t: float, theta, phi):
    """Point values of p(theta, phi; t) of Eq. (16), a (theta, phi) density (carries sin theta)."""
    th0, ph0 = flow(-t, theta, phi, C1)
    return gibbs.density(th0, ph0) * jacobian(-t, theta, C1)


def pushforward_cell_averages(gibbs: GibbsState, C1: complex, grid: SphereGrid, t: float):
    """Cell averages of the pushforward (theta, phi) density of Eq. (16) on ``grid`` at time
    ``t`` (units of t_n); the density carries sin theta and sums to 1 over dtheta dphi.

    The mass of a cell at time t is the initial mass of its pre-image under the flow, a
    (theta, phi) rectangle, integrated exactly by :meth:`GibbsState.cell_averages`; no
    sampling bias, accurate for the sharp Table I state.
    """
    pre_edges, _ = flow(-t, grid.theta_edges, 0.0, C1)
    pre_edges[0], pre_edges[-1] = 0.0, np.pi
    return gibbs.cell_averages(grid, theta_edges=pre_edges, phi_offset=C1.real * t)


def gibbs_quadrature(gibbs: GibbsState, n_radial: int = 64, n_azimuth: int = 64):
    """Quadrature nodes (unit vectors, shape (3, N)) and weights (sum 1) for the Gibbs law.

    Gauss-Laguerre in s = kappa (1 - n.b) (the density is ∝ exp(-s)) and the trapezoid rule
    in the azimuth about b; exact for smooth functions to high order for any kappa ≥ 1.
    """
    k = gibbs.kappa
    s, ws = np.polynomial.laguerre.laggauss(n_radial)
    keep = s < 2 * k
    s, ws = s[keep], ws[keep]
    w_cos = 1 - s / k
    psi = 2 * np.pi * np.arange(n_azimuth) / n_azimuth
    r = np.sqrt(np.maximum(0.0, 1 - w_cos ** 2))
    local = np.array([np.outer(r, np.cos(psi)), np.outer(r, np.sin(psi)),
                      np.outer(w_cos, np.ones_like(psi))]).reshape(3, -1)
    nodes = _rotation_to(gibbs.direction) @ local
    weights = np.outer(ws, np.full(n_azimuth, 1.0 / n_azimuth)).ravel()
    return nodes, weights / weights.sum()


def mean_trajectory(gibbs: GibbsState, C1: complex, times, n_radial=64, n_azimuth=64):
    """<n>(t) and std of n(t) over the Gibbs ensemble under the noiseless flow (Fig. 3).

    Returns mean, std of shape (n_times, 3), by quadrature of the initial law pushed forward
    along Eq. (15).
    """
    nodes, w = gibbs_quadrature(gibbs, n_radial, n_azimuth)
    theta0 = np.arccos(np.clip(nodes[2], -1, 1))
    phi0 = np.arctan2(nodes[1], nodes[0])
    means, stds = [], []
    for t in np.atleast_1d(times):
        th, ph = flow(t, theta0, phi0, C1)
        n = unit_vector(th, ph)
        m = n @ w
        means.append(m)
        stds.append(np.sqrt(np.maximum((n ** 2) @ w - m ** 2, 0)))
    return np.array(means), np.array(stds)
