"""The noiseless flow of Eq. (15) and the Jacobian pushforward of Eq. (16).

With C2 = 0, Eq. (17) is solved by a translation in u = ln tan(theta/2) at speed -Im C1
and a rotation in phi at speed Re C1:

.. math::
    \\theta_S(t, \\theta_0) = 2 \\cot^{-1}[\\cot(\\theta_0/2) e^{\\Im C_1 t}], \\qquad
    \\phi_S(t, \\phi_0) = \\Re C_1 t + \\phi_0 .

Since du = d theta / sin(theta), the Jacobian determinant is
``|d(theta_S, phi_S)/d(theta, phi)| = sin(theta_S(t, theta)) / sin(theta)``
= cosh(u) / cosh(u - Im C1 t), evaluated here in that overflow-free form.

For any other smooth noiseless flow (a field kept on, ...) :func:`general_pushforward_cell_averages`
integrates the characteristics backward in Cartesian coordinates together with
ln|det DPhi| (d ln J / dt = -div_S mu): the same statement as Eq. (16), computed numerically.
"""

from __future__ import annotations

import numpy as np

from ..sphere.grid import SphereGrid, mercator_theta, mercator_u
from .initial import GibbsState, _rotation_to, unit_vector

__all__ = ["flow", "jacobian", "jacobian_fd", "pushforward_density",
           "pushforward_cell_averages", "mean_trajectory", "gibbs_quadrature",
           "surface_divergence", "characteristics", "general_pushforward_cell_averages",
           "gibbs_support"]


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


def gibbs_support(gibbs: GibbsState, n: int = 240):
    """A dense polar net (unit vectors, shape (3, n^2)) over the cap about the Gibbs
    direction that holds all but e^-50 of its mass: the ``support`` of
    :func:`general_pushforward_cell_averages` for a Gibbs initial state."""
    psi = np.linspace(0, np.arccos(max(-1.0, 1 - 50 / gibbs.kappa)), n)
    az = np.linspace(0, 2 * np.pi, n, endpoint=False)
    local = np.array([np.outer(np.sin(psi), np.cos(az)), np.outer(np.sin(psi), np.sin(az)),
                      np.outer(np.cos(psi), np.ones_like(az))]).reshape(3, -1)
    return _rotation_to(gibbs.direction) @ local


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


# ---- any smooth noiseless flow: characteristics integrated numerically ----------------------
def _tangent_velocity(flow, n):
    """The drift of ``flow`` (noiseless) at unit vectors n (3, ...) as a Cartesian tangent
    vector, and the tangent basis (e_theta, e_phi); a :class:`~fpstt.physics.model.SpinTorqueModel`
    gives it directly (regular at the poles: a fixed point at z', e.g. a biaxial magnet)."""
    theta, phi = np.arccos(np.clip(n[2], -1, 1)), np.arctan2(n[1], n[0])
    s, c, cp, sp = np.sin(theta), np.cos(theta), np.cos(phi), np.sin(phi)
    e_t = np.array([c * cp, c * sp, -s])
    e_p = np.array([-sp, cp, np.zeros_like(sp)])
    if hasattr(flow, "noiseless_velocity"):
        return flow.noiseless_velocity(n), (e_t, e_p)
    mu_t, mu_p = flow.drift(theta, phi)
    return mu_t * e_t + s * mu_p * e_p, (e_t, e_p)


def surface_divergence(flow, n, h: float = 1e-5):
    """div_S of the drift of ``flow`` at unit vectors n (per t_n), by central differences
    along the two tangent directions, the displaced points projected back onto the sphere."""
    _, basis = _tangent_velocity(flow, n)
    div = 0.0
    for t in basis:
        plus, minus = n + h * t, n - h * t
        vp, _ = _tangent_velocity(flow, plus / np.linalg.norm(plus, axis=0))
        vm, _ = _tangent_velocity(flow, minus / np.linalg.norm(minus, axis=0))
        div = div + np.sum(t * (vp - vm), axis=0) / (2 * h)
    return div


def characteristics(model, n, t: float, steps_per_unit: int = 200, log_jacobian=True):
    """Flow map Phi_t(n) of the noiseless flow of ``model`` (C2 = 0, no thermal noise) for
    either sign of t, and ln|det DPhi_t(n)| = int_0^t div_S mu, by RK4 in Cartesian
    coordinates (renormalised to the sphere at every stage).  ``n`` has shape (3, ...)."""
    flow = model.noiseless()

    def rhs(x):
        v, _ = _tangent_velocity(flow, x)
        return v, (surface_divergence(flow, x) if log_jacobian else 0.0)

    k = max(1, int(np.ceil(abs(t) * steps_per_unit)))
    h = t / k
    x, log_j = np.array(n, float), np.zeros(np.shape(n)[1:])
    unit = lambda y: y / np.linalg.norm(y, axis=0)                   # noqa: E731
    for _ in range(k):
        a, da = rhs(x)
        b, db = rhs(unit(x + 0.5 * h * a))
        c, dc = rhs(unit(x + 0.5 * h * b))
        d, dd = rhs(unit(x + h * c))
        x = unit(x + h / 6 * (a + 2 * b + 2 * c + d))
        log_j = log_j + h / 6 * (da + 2 * db + 2 * dc + dd)
    return x, log_j


def _cells_reached(model, grid: SphereGrid, support, t, pad: int):
    """Mask of the cells within ``pad`` cells of where the points ``support`` flow by t."""
    end, _ = characteristics(model, support, t, log_jacobian=False)
    theta, phi = np.arccos(np.clip(end[2], -1, 1)), np.arctan2(end[1], end[0])
    if grid.chart is not None:
        theta, phi = grid.chart.from_lab(theta, phi)
    i = np.clip(np.searchsorted(grid.theta_edges, theta) - 1, 0, grid.n_theta - 1)
    j = np.floor(np.mod(phi, 2 * np.pi) / grid.dphi).astype(int) % grid.n_phi
    mask = np.zeros(grid.shape, bool)
    mask[i, j] = True
    for _ in range(pad):
        mask = mask | np.roll(mask, 1, 1) | np.roll(mask, -1, 1)
        mask[1:] |= mask[:-1]
        mask[:-1] |= mask[1:]
    return mask


def general_pushforward_cell_averages(model, per_area, grid: SphereGrid, t: float, *,
                                      support=None, pad: int = 3, order: int = 3,
                                      steps_per_unit: int = 200):
    """Cell averages on ``grid`` of the noiseless pushforward at time t (units of t_n) of
    the initial density ``per_area(n)`` (per steradian, n of shape (3, ...)): Eq. (16) for
    any smooth flow, rho(n, t) = rho0(Phi_{-t} n) |det DPhi_{-t}(n)|.

    The result is a density in the grid's coordinates (it carries sin theta, or the chart's
    area factor), summing to 1 over dtheta dphi.  ``support`` (unit vectors (3, N), e.g.
    :func:`gibbs_quadrature` nodes) limits the work to the cells within ``pad`` cells of
    where those points flow; other cells are 0 (the mass the result misses shows in its
    sum).  Gauss-Legendre with ``order`` points per direction in each cell.
    """
    mask = (np.ones(grid.shape, bool) if support is None
            else _cells_reached(model, grid, np.asarray(support, float), t, pad))
    i, j = np.nonzero(mask)
    x, w = np.polynomial.legendre.leggauss(order)
    tq = grid.theta_edges[i][:, None, None] + 0.5 * (x[None, :, None] + 1) * grid.dtheta[i][
        :, None, None]
    fq = grid.phi_edges[j][:, None, None] + 0.5 * (x[None, None, :] + 1) * grid.dphi
    tq, fq = np.broadcast_arrays(tq, fq)
    theta, phi = grid.lab_points(tq, fq)
    foot, log_j = characteristics(model, unit_vector(theta, phi), -t, steps_per_unit)
    area = grid.chart.area_factor(tq, fq) if grid.chart is not None else np.sin(tq)
    values = per_area(foot) * np.exp(log_j) * area
    p = np.zeros(grid.shape)
    p[i, j] = 0.25 * np.einsum("cab,a,b->c", values, w, w)
    return p
