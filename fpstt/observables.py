"""Observables of grid densities: moments of n = J/J, theta statistics, distances, remaps.

All functions take cell averages ``p`` of a (theta, phi) density (it carries sin theta,
Eq. 16), and integrate the piecewise-constant density exactly over each cell, so no
sampling bias enters from where a cell's centre happens to lie.
"""

from __future__ import annotations

import numpy as np

from .grid import SphereGrid

__all__ = ["moments", "theta_statistics", "l1_distance", "remap", "marginals",
           "chart_cell_averages"]


def chart_cell_averages(grid: SphereGrid, functions, order: int = 4, chunk: int = 64):
    """Cell averages over ``grid``'s cells of functions of the z'-frame unit vector n.

    ``functions(n)`` maps n (shape (3, ...)) to an array (k, ...); returns (k, n_theta,
    n_phi).  Gauss-Legendre with ``order`` points per direction in each cell, in the grid's
    coordinates (used for grids that carry a :class:`~fpstt.chart.MobiusChart`).
    """
    out = []
    for start in range(0, grid.n_theta, chunk):
        rows = slice(start, min(start + chunk, grid.n_theta))
        n, w = grid.cell_quadrature(order, rows)
        out.append(np.einsum("k...,...->k...", functions(n), w).sum(axis=(2, 4)))
    return np.concatenate(out, axis=1)


def _chart_moments(grid, p):
    avg = chart_cell_averages(grid, lambda n: np.concatenate([n, n ** 2]))
    mass = p * grid.cell_measure
    norm = mass.sum(axis=(-2, -1))
    expect = np.einsum("...ij,kij->...k", mass, avg) / norm[..., None]
    mean, second = expect[..., :3], expect[..., 3:]
    return mean, np.sqrt(np.maximum(second - mean ** 2, 0.0))


def _cell_integrals(grid: SphereGrid):
    """Exact integrals over each cell of the functions needed for first and second moments."""
    e, f = grid.theta_edges, grid.phi_edges
    dt = lambda g: np.diff(g(e))                                    # noqa: E731
    df = lambda g: np.diff(g(f))                                    # noqa: E731
    th = dict(sin=dt(lambda x: -np.cos(x)), cos=dt(np.sin),
              sin2=dt(lambda x: x / 2 - np.sin(2 * x) / 4),
              cos2=dt(lambda x: x / 2 + np.sin(2 * x) / 4),
              sincos=dt(lambda x: np.sin(x) ** 2 / 2),
              one=np.diff(e), lin=dt(lambda x: x ** 2 / 2), sq=dt(lambda x: x ** 3 / 3))
    ph = dict(cos=df(np.sin), sin=df(lambda x: -np.cos(x)),
              cos2=df(lambda x: x / 2 + np.sin(2 * x) / 4),
              sin2=df(lambda x: x / 2 - np.sin(2 * x) / 4), one=np.diff(f))
    return th, ph


def _expect(p, grid, th_w, ph_w):
    """sum_ij p_ij (int_cell g(theta) h(phi)) / ..., for p of shape (..., nt, nf)."""
    return np.einsum("...ij,i,j->...", p, th_w, ph_w)


def moments(grid: SphereGrid, p):
    """Mean and standard deviation of the components of n = J/J (z' frame).

    Parameters
    ----------
    p : array, shape (..., n_theta, n_phi)
        Cell averages of (theta, phi) densities.

    Returns
    -------
    mean, std : arrays of shape (..., 3)
    """
    p = np.asarray(p, float)
    if grid.chart is not None:
        return _chart_moments(grid, p)
    th, ph = _cell_integrals(grid)
    norm = _expect(p, grid, th["one"], ph["one"])
    mean = np.stack([_expect(p, grid, th["sin"], ph["cos"]),
                     _expect(p, grid, th["sin"], ph["sin"]),
                     _expect(p, grid, th["cos"], ph["one"])], axis=-1) / norm[..., None]
    second = np.stack([_expect(p, grid, th["sin2"], ph["cos2"]),
                       _expect(p, grid, th["sin2"], ph["sin2"]),
                       _expect(p, grid, th["cos2"], ph["one"])], axis=-1) / norm[..., None]
    return mean, np.sqrt(np.maximum(second - mean ** 2, 0.0))


def theta_statistics(grid: SphereGrid, p) -> dict:
    """<theta^2> and the variances of the tangent components theta cos(phi), theta sin(phi).

    The pole statistics of Eqs. (18)-(19): near theta = 0 these are the OU variances.
    """
    if grid.chart is not None:
        raise ValueError("theta_statistics are the z'-frame pole statistics of Eqs. 18-19; "
                         "this grid carries a Möbius chart (use moments)")
    p = np.asarray(p, float)
    th, ph = _cell_integrals(grid)
    norm = _expect(p, grid, th["one"], ph["one"])
    t2 = _expect(p, grid, th["sq"], ph["one"]) / norm
    mx = _expect(p, grid, th["lin"], ph["cos"]) / norm
    my = _expect(p, grid, th["lin"], ph["sin"]) / norm
    x_var = _expect(p, grid, th["sq"], ph["cos2"]) / norm - mx ** 2
    y_var = _expect(p, grid, th["sq"], ph["sin2"]) / norm - my ** 2
    return {"theta2": t2, "x_var": x_var, "y_var": y_var}


def l1_distance(grid: SphereGrid, p, q) -> float:
    """int |p - q| dtheta dphi for two densities on the same grid."""
    return float(np.sum(np.abs(np.asarray(p) - np.asarray(q)) * grid.cell_measure))


def marginals(grid: SphereGrid, p):
    """Marginal densities in theta (per rad, length n_theta) and phi (per rad, n_phi), in the
    grid's own coordinates (theta_c, phi_c on a grid that carries a Möbius chart)."""
    p = np.asarray(p, float)
    return p.sum(axis=-1) * grid.dphi, np.einsum("...ij,i->...j", p, grid.dtheta)


def _same_chart(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.same_flow(b) and a.shear == b.shear


def remap(p, source: SphereGrid, target: SphereGrid) -> np.ndarray:
    """Conservative remap of cell averages of a (theta, phi) density (carries sin theta) from
    ``source`` to ``target``.

    Cumulative masses are interpolated linearly at the target edges (theta, then phi), so
    mass is conserved exactly, p ≥ 0 is kept, and the remap is exact when the target's edges
    are a subset of the source's (coarsening).
    """
    if not _same_chart(source.chart, target.chart):
        raise ValueError("`source` and `target` use different charts; remap works within one")
    mass = np.asarray(p, float) * source.cell_measure
    cum = np.concatenate([np.zeros((1, source.n_phi)), np.cumsum(mass, axis=0)])
    cum_t = np.array([np.interp(target.theta_edges, source.theta_edges, c) for c in cum.T]).T
    mass = np.diff(cum_t, axis=0)                                     # (nt_target, nf_src)
    cum = np.concatenate([np.zeros((mass.shape[0], 1)), np.cumsum(mass, axis=1)], axis=1)
    cum_f = np.array([np.interp(target.phi_edges, source.phi_edges, c) for c in cum])
    return np.diff(cum_f, axis=1) / target.cell_measure
