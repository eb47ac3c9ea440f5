"""Observables of grid densities: moments of n = J/J, theta statistics, distances, remaps.

All functions take cell averages ``p`` of a (theta, phi) density (it carries sin theta,
Eq. 16).  Moments integrate the density reconstructed linearly in each cell (central
slopes of the cell averages) by Gauss-Legendre quadrature: exact to O(h^4), where the
piecewise-constant density would widen every std by h^2/6 in variance (2 % of the std of a
state two cells wide; docs/theory.md §14).
"""

from __future__ import annotations

import numpy as np

from ..sphere.grid import SphereGrid

__all__ = ["moments", "theta_statistics", "l1_distance", "remap", "marginals",
           "chart_cell_averages"]


def chart_cell_averages(grid: SphereGrid, functions, order: int = 4, chunk: int = 64,
                        offsets: bool = False):
    """Cell averages over ``grid``'s cells of functions of the z'-frame unit vector n.

    ``functions(n)`` maps n (shape (3, ...)) to an array (k, ...); returns (k, n_theta,
    n_phi).  Gauss-Legendre with ``order`` points per direction in each cell, in the grid's
    coordinates (used for grids that carry a :class:`~fpstt.sphere.chart.MobiusChart`).  With
    ``offsets``, a list of three such arrays: the averages, and the averages of the
    functions times the offsets from the cell's centre in the grid's theta and phi.
    """
    x = np.polynomial.legendre.leggauss(order)[0]
    parts = []
    for start in range(0, grid.n_theta, chunk):
        rows = slice(start, min(start + chunk, grid.n_theta))
        n, w = grid.cell_quadrature(order, rows)
        f_w = np.einsum("k...,...->k...", functions(n), w)          # (k, rows, q, nf, q)
        part = [f_w.sum(axis=(2, 4))]
        if offsets:
            half_t = 0.5 * grid.dtheta[rows][:, None, None, None] * x[None, :, None, None]
            half_f = 0.5 * grid.dphi * x
            part += [(f_w * half_t).sum(axis=(2, 4)), (f_w * half_f).sum(axis=(2, 4))]
        parts.append(part)
    averages = [np.concatenate(part, axis=1) for part in zip(*parts)]
    return averages if offsets else averages[0]


def _chart_moments(grid, p):
    """Moments on a chart grid: n and n^2 averaged over each cell and against the offsets
    from its centre by Gauss-Legendre with 2 points per direction, exact for cubics, so
    O(h^4) as the linear reconstruction itself (on model-space seed 1 row 22's 2529 x 256
    cells: within 1e-12 of 4 points, 1.3 s against 3.5 s)."""
    functions = lambda n: np.concatenate([n, n ** 2])                  # noqa: E731
    weights = chart_cell_averages(grid, functions, order=2, offsets=True)
    fields = [f * grid.cell_measure for f in (p, *_slopes(grid, p))]
    expect = sum(np.einsum("...ij,kij->...k", f, w) for f, w in zip(fields, weights))
    expect /= np.sum(fields[0], axis=(-2, -1))[..., None]
    mean, second = expect[..., :3], expect[..., 3:]
    return mean, np.sqrt(np.maximum(second - mean ** 2, 0.0))


def _slopes(grid: SphereGrid, p):
    """Central slopes of the cell averages in the grid's theta and phi (periodic); zero on
    the first and last rows.  With them the density is linear in each cell, so integrals
    against it are exact to O(h^4) where the piecewise-constant density is O(h^2) (it adds
    h^2/6 to each variance: Sheppard's grouping bias twice)."""
    slope_t = np.zeros_like(p)
    slope_t[..., 1:-1, :] = ((p[..., 2:, :] - p[..., :-2, :])
                             / (grid.theta[2:] - grid.theta[:-2])[:, None])
    slope_f = (np.roll(p, -1, axis=-1) - np.roll(p, 1, axis=-1)) / (2 * grid.dphi)
    return slope_t, slope_f


def _cell_integrals(grid: SphereGrid):
    """Per row (theta) and column (phi): the integral over the cell of each function needed
    for first and second moments, and of the function times the offset from the cell's
    centre, as pairs (integral, offset integral); Gauss-Legendre with 6 points."""
    th = dict(sin=np.sin, cos=np.cos, sin2=lambda x: np.sin(x) ** 2,
              cos2=lambda x: np.cos(x) ** 2, one=np.ones_like, lin=lambda x: x,
              sq=lambda x: x ** 2)
    ph = dict(cos=np.cos, sin=np.sin, cos2=lambda x: np.cos(x) ** 2,
              sin2=lambda x: np.sin(x) ** 2, one=np.ones_like)
    return _integrals(grid.theta_edges, th), _integrals(grid.phi_edges, ph)


def _integrals(edges, functions, order: int = 6):
    """{name: (integral of g over each cell, integral of g times the offset from the cell's
    centre)} for the cells between ``edges``; Gauss-Legendre with ``order`` points."""
    x, w = np.polynomial.legendre.leggauss(order)
    half = np.diff(edges) / 2
    offsets = half[:, None] * x
    nodes = (edges[:-1] + half)[:, None] + offsets
    return {name: ((g(nodes) @ w) * half, ((g(nodes) * offsets) @ w) * half)
            for name, g in functions.items()}


def _expect(fields, th_w, ph_w):
    """int g(theta) h(phi) p over the sphere, p linear in each cell: ``fields`` are p and
    its slopes (:func:`_slopes`), of shape (..., nt, nf); th_w, ph_w the (integral, offset
    integral) pairs of g and h (:func:`_cell_integrals`)."""
    p, slope_t, slope_f = fields
    return (np.einsum("...ij,i,j->...", p, th_w[0], ph_w[0])
            + np.einsum("...ij,i,j->...", slope_t, th_w[1], ph_w[0])
            + np.einsum("...ij,i,j->...", slope_f, th_w[0], ph_w[1]))


def moments(grid: SphereGrid, p):
    """Mean and standard deviation of the components of n = J/J (z' frame).

    Parameters
    ----------
    p : array, shape (..., n_theta, n_phi)
        Cell averages of (theta, phi) densities (they carry sin theta); the density is
        taken linear in each cell (central slopes), exact to O(h^4) for smooth densities.

    Returns
    -------
    mean, std : arrays of shape (..., 3)
    """
    p = np.asarray(p, float)
    if grid.chart is not None:
        return _chart_moments(grid, p)
    th, ph = _cell_integrals(grid)
    fields = (p, *_slopes(grid, p))
    norm = _expect(fields, th["one"], ph["one"])
    mean = np.stack([_expect(fields, th["sin"], ph["cos"]),
                     _expect(fields, th["sin"], ph["sin"]),
                     _expect(fields, th["cos"], ph["one"])], axis=-1) / norm[..., None]
    second = np.stack([_expect(fields, th["sin2"], ph["cos2"]),
                       _expect(fields, th["sin2"], ph["sin2"]),
                       _expect(fields, th["cos2"], ph["one"])], axis=-1) / norm[..., None]
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
    fields = (p, *_slopes(grid, p))
    norm = _expect(fields, th["one"], ph["one"])
    t2 = _expect(fields, th["sq"], ph["one"]) / norm
    mx = _expect(fields, th["lin"], ph["cos"]) / norm
    my = _expect(fields, th["lin"], ph["sin"]) / norm
    x_var = _expect(fields, th["sq"], ph["cos2"]) / norm - mx ** 2
    y_var = _expect(fields, th["sq"], ph["sin2"]) / norm - my ** 2
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
