"""The Itô Fokker-Planck operator of Eq. (E3) on a :class:`~fpstt.sphere.grid.SphereGrid`.

.. math::
    \\partial_t p = -\\sum_i \\partial_i(\\mu_i p) + \\sum_{ij} \\partial_i \\partial_j (D_{ij} p),
    \\qquad i, j \\in \\{\\theta, \\phi\\},

for a (theta, phi) density p (it carries sin theta).  :func:`fokker_planck_matrix` returns a
sparse ``L`` with ``dp/dt = L p`` for the flattened cell averages (C order, see
:mod:`fpstt.sphere.grid`).  It is written as a sum of mass exchanges between pairs of cells, so
``cell_measure @ L = 0`` holds to round-off (mass is conserved by construction), with no
exchange through the poles (no-flux) and periodic phi.

Discretisation
--------------
The diffusion tensor is split along the four grid directions (theta, phi and the two
diagonals), D = l_t e_t e_t^T + l_p e_p e_p^T + l_+ v_+ v_+^T + l_- v_- v_-^T with
v_± = (h_theta, ±dphi) and l_± = max(±D_tp, 0) / (h_theta dphi), so that the mixed
derivative becomes a diagonal second difference with non-negative weights.  On a grid
uniform in u = ln tan(theta/2) the interior rows are discretised in u (coefficients carried
over by Itô's formula, densities per du), where the cells are uniform: a diagonal second
difference across rows of different theta widths is otherwise inconsistent by a first
derivative term that does not shrink with refinement near a pole, where the cells shrink
geometrically (an O(1) error for the large mixed terms of a sheared Möbius chart).  The pole
caps stay in theta and take no part in the diagonal split.  Along theta and
phi, drift and the remaining diffusion l_t, l_p are combined in Scharfetter-Gummel
(exponentially fitted) fluxes, which are non-negative-weighted for any cell Péclet number
and reduce to upwinding when the noise vanishes.  When l_t, l_p ≥ 0 everywhere the
off-diagonal entries of L are ≥ 0 and ``I - dt L`` is an M-matrix: backward Euler keeps p ≥ 0.
:func:`is_monotone` checks this.

:func:`central_difference_matrix` is an independent, plain central-difference assembly with
findiff, used in the tests as a cross-check on smooth, diffusion-dominated problems.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..sphere.grid import SphereGrid

__all__ = ["fokker_planck_matrix", "directional_operators", "is_monotone", "central_difference_matrix", "bernoulli",
           "stationary_density"]


def bernoulli(x):
    """B(x) = x / (exp(x) - 1), with B(0) = 1, evaluated without overflow."""
    x = np.asarray(x, dtype=float)
    out = np.ones_like(x)
    pos, neg = x > 1e-10, x < -1e-10
    xp, xn = x[pos], x[neg]
    out[pos] = xp * np.exp(-xp) / -np.expm1(-xp)
    out[neg] = xn / np.expm1(xn)
    mid = ~(pos | neg)
    out[mid] = 1 - 0.5 * x[mid]
    return out


def _sg_weights(a, diff, h):
    """Scharfetter-Gummel weights of the flux F = a p - diff dp/dx across a face of width h.

    Returns (w_minus, w_plus), both ≥ 0 when diff ≥ 0, with F = w_minus p_left - w_plus p_right.
    For diff = 0 this is the upwind flux.
    """
    a, diff, h = np.broadcast_arrays(*(np.asarray(v, float) for v in (a, diff, h)))
    w_minus = np.maximum(a, 0.0)
    w_plus = np.maximum(-a, 0.0)
    has = diff > 0
    x = a[has] * h[has] / diff[has]
    scale = diff[has] / h[has]
    w_minus[has] = scale * bernoulli(-x)
    w_plus[has] = scale * bernoulli(x)
    return w_minus, w_plus


class _Exchanges:
    """Accumulates pairwise mass exchanges Phi = alpha p_k - beta p_l from cell k to cell l."""

    def __init__(self, n):
        self.n = n
        self.rows, self.cols, self.vals = [], [], []

    def add(self, k, l, alpha, beta):
        k, l = np.ravel(k), np.ravel(l)
        alpha, beta = np.ravel(alpha), np.ravel(beta)
        self.rows += [l, k, k, l]
        self.cols += [k, k, l, l]
        self.vals += [alpha, -alpha, beta, -beta]

    def matrix(self):
        rows = np.concatenate(self.rows)
        cols = np.concatenate(self.cols)
        vals = np.concatenate(self.vals)
        return sp.csr_matrix((vals, (rows, cols)), shape=(self.n, self.n))


def fokker_planck_matrix(model, grid: SphereGrid, *, drift: bool = True,
                         drift_offset=(0.0, 0.0), n_phi: int | None = None) -> sp.csr_matrix:
    """Sparse Fokker-Planck operator L of Eq. (E3): dp/dt = L p on ``grid``.

    Parameters
    ----------
    model
        Any object with vectorised ``drift(theta, phi) -> (mu_t, mu_p)`` and
        ``diffusion(theta, phi) -> (D_tt, D_tp, D_pp)`` (per t_n), e.g.
        :class:`~fpstt.physics.model.SpinTorqueModel`.
    grid : SphereGrid
        On a grid uniform in u = ln tan(theta/2) (:meth:`SphereGrid.mercator`) the interior
        rows are discretised in u, where the cells are uniform (see the module docstring).
    drift : bool
        If False, the drift is left out (pure diffusion operator).
    drift_offset : (callable or float, callable or float)
        Subtracted from (mu_t, mu_p) before discretising: the part of the drift that a
        splitting scheme integrates exactly (functions of theta, or constants).
    n_phi : int, optional
        Assemble on a periodic strip of this many phi cells (≥ 3) of the grid's width dphi
        instead of all ``grid.n_phi``.  For a phi-independent model the strip has the same
        phi blocks (:func:`~fpstt.numerics.fourier.phi_blocks`) as the whole grid, at a fraction of
        the cost and memory.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n_theta n_phi, n_theta n_phi)
        Acting on cell averages of a (theta, phi) density.  ``cell_measure.ravel() @ L``
        vanishes to round-off.
    """
    exchanges = _directional_exchanges(model, grid, drift, drift_offset, n_phi)
    merged = _Exchanges(exchanges["theta"].n)
    for ex in exchanges.values():
        merged.rows += ex.rows
        merged.cols += ex.cols
        merged.vals += ex.vals
    return _per_cell(merged, grid, merged.n // grid.n_theta)


def directional_operators(model, grid: SphereGrid, *, drift_offset=(0.0, 0.0)) -> dict:
    """The operator of :func:`fokker_planck_matrix` as a sum over the four grid directions.

    Returns ``{"theta": L_t, "phi": L_p, "diag+": L_+, "diag-": L_-}`` (csr, same shape and
    arguments as :func:`fokker_planck_matrix`, whole grid): L_t holds the exchanges across
    theta faces (drift and l_theta), L_p across phi faces, L_± the diagonal second
    differences of the mixed derivative between cells (i, j) and (i + 1, j ± 1).  Each
    couples cells along lines only (theta columns, periodic phi rows, diagonals), each
    conserves mass and has the sign structure of the whole, so ``I - dt L_k`` is a set of
    independent tridiagonal M-matrices (:mod:`fpstt.numerics.lines`).
    """
    exchanges = _directional_exchanges(model, grid, True, drift_offset, None)
    return {name: _per_cell(ex, grid, grid.n_phi) for name, ex in exchanges.items()}


def _directional_exchanges(model, grid, drift, drift_offset, n_phi):
    """The mass exchanges of the operator, one :class:`_Exchanges` per grid direction."""
    nt, nf = grid.n_theta, grid.n_phi if n_phi is None else int(n_phi)
    if nf < 3:
        raise ValueError(f"`n_phi` must be ≥ 3, got {n_phi!r}")
    th, f = grid.theta, grid.phi[:nf]
    T, F = np.meshgrid(th, f, indexing="ij")
    d_tt, d_tp, d_pp = _checked(model, T, F, th, f)
    rows = _Rows(grid, th)
    # diffusion in the rows' coordinates x (theta, or u on Mercator rows) and its split
    d_xx, d_xp = d_tt * rows.J ** 2, d_tp * rows.J
    lam_x = d_xx - np.abs(d_xp) * rows.step / grid.dphi * rows.diagonal
    lam_p = d_pp - np.abs(d_xp) * grid.dphi / rows.step * rows.diagonal
    ex = {name: _Exchanges(nt * nf) for name in ("theta", "phi", "diag+", "diag-")}
    idx = np.arange(nt * nf).reshape(nt, nf)
    _theta_faces(ex["theta"], idx, model, grid, rows, lam_x, f, drift, drift_offset)
    _phi_faces(ex["phi"], idx, model, grid, T, lam_p, drift, drift_offset)
    _diagonals(ex["diag+"], idx, grid, rows, d_xp, 1)
    _diagonals(ex["diag-"], idx, grid, rows, d_xp, -1)
    return ex


def _per_cell(ex, grid, nf):
    """The exchanges as an operator on cell averages (mass units divided by cell measure)."""
    A = ex.matrix()                                   # mass units: column sums vanish
    return (sp.diags(1.0 / grid.cell_measure[:, :nf].ravel()) @ A).tocsr()


def _checked(model, T, F, th, f):
    """D at the cell centres, after checking that every coefficient is finite."""
    nt, nf = T.shape
    d_tt, d_tp, d_pp = (np.broadcast_to(v, (nt, nf)) for v in model.diffusion(T, F))
    for name, values in (("D_theta_theta", d_tt), ("D_theta_phi", d_tp), ("D_phi_phi", d_pp),
                         *zip(("mu_theta", "mu_phi"), model.drift(T, F))):
        bad = ~np.isfinite(values)
        if np.any(bad):
            i, j = np.argwhere(np.broadcast_to(bad, (nt, nf)))[0]
            raise ValueError(f"model coefficient {name} is not finite at theta = "
                             f"{th[i]:.6g}, phi = {f[j]:.6g}")
    return d_tt, d_tp, d_pp


class _Rows:
    """The coordinate x each theta row is discretised in, and its geometry.

    On a Mercator grid the interior rows use x = u = ln tan(theta/2), in which they are
    uniform (width du); the two pole caps use theta.  Elsewhere every row uses theta.
    ``J`` = dx/dtheta at the centre, ``r`` = dtheta/dx of the cell (density per x is
    r p), ``step`` the x distance used by the diagonal split, ``diagonal`` 1 where the row
    takes part in the diagonal exchanges, ``in_u`` the rows in u.
    """

    def __init__(self, grid, th):
        nt = th.size
        mercator = grid.du is not None
        self.in_u = np.zeros(nt, bool)
        h = np.diff(th)
        h_cell = np.concatenate([[h[0]], 0.5 * (h[1:] + h[:-1]), [h[-1]]])
        if mercator:
            self.du = grid.du
            self.in_u[1:-1] = True
        s = np.sin(th)
        self.J = np.where(self.in_u, 1 / s, 1.0)[:, None]
        self.K = np.where(self.in_u, -np.cos(th) / s ** 2, 0.0)[:, None]   # d2x/dtheta2
        width = np.where(self.in_u, self.du if mercator else 1.0, grid.dtheta)
        self.r = (grid.dtheta / width)[:, None]
        self.step = np.where(self.in_u, self.du if mercator else 1.0, h_cell)[:, None]
        self.diagonal = (self.in_u if mercator else np.ones(nt, bool))[:, None] * 1.0
        self.h_theta = h


def _theta_faces(ex, idx, model, grid, rows, lam_x, f, drift, offset):
    """Drift + lam_x across the theta faces by Scharfetter-Gummel, in each face's x."""
    te = grid.theta_edges[1:-1]
    TE, FE = np.meshgrid(te, f, indexing="ij")
    in_u = (rows.in_u[:-1] & rows.in_u[1:])[:, None]
    mu_t = _drift_component(model, TE, FE, 0, drift, offset) if drift else 0 * TE
    se = np.sin(te)[:, None]
    d_face = np.broadcast_to(model.diffusion(TE, FE)[0], TE.shape)
    mu_x = np.where(in_u, mu_t / se - d_face * np.cos(te)[:, None] / se ** 2, mu_t)
    # lam in the face's coordinate: a theta face next to a cap uses theta on both sides
    lam_l = np.where(in_u, lam_x[:-1], lam_x[:-1] / rows.J[:-1] ** 2)
    lam_r = np.where(in_u, lam_x[1:], lam_x[1:] / rows.J[1:] ** 2)
    h = np.where(in_u, getattr(rows, "du", 1.0), rows.h_theta[:, None])
    lam_face = 0.5 * (lam_l + lam_r)
    a = mu_x - (lam_r - lam_l) / h
    wm, wp = _sg_weights(a, np.maximum(lam_face, 0), h)
    neg = np.minimum(lam_face, 0) / h                                 # non-monotone remainder
    r_l = np.where(in_u, rows.r[:-1], 1.0)
    r_r = np.where(in_u, rows.r[1:], 1.0)
    ex.add(idx[:-1], idx[1:], grid.dphi * (wm + neg) * r_l, grid.dphi * (wp + neg) * r_r)


def _phi_faces(ex, idx, model, grid, T, lam_p, drift, offset):
    """Drift + lam_p across the phi faces (between j-1 and j, periodic), Scharfetter-Gummel."""
    nf, dphi = idx.shape[1], grid.dphi
    FE2 = (np.arange(nf)[None, :]) * dphi + 0 * T                  # face at the left of cell j
    mu_p = _drift_component(model, T, FE2, 1, drift, offset) if drift else 0 * T
    left = np.roll(idx, 1, axis=1)
    lam_left = np.roll(lam_p, 1, axis=1)
    lam_face = 0.5 * (lam_p + lam_left)
    a = mu_p - (lam_p - lam_left) / dphi
    wm, wp = _sg_weights(a, np.maximum(lam_face, 0), dphi)
    neg = np.minimum(lam_face, 0) / dphi
    dth = grid.dtheta[:, None]
    ex.add(left, idx, dth * (wm + neg), dth * (wp + neg))


def _diagonals(ex, idx, grid, rows, d_xp, sign):
    """Diagonal second differences of lam_sign q (the mixed derivative) between cells
    (i, j) and (i + 1, j + sign), where both rows take part, in their coordinate x (uniform
    on Mercator rows, so the second difference is consistent however fast theta cells
    shrink toward a pole)."""
    dphi = grid.dphi
    both = (rows.diagonal[:-1] * rows.diagonal[1:]) > 0
    lam = np.maximum(sign * d_xp, 0) / (rows.step * dphi) * rows.r
    k, l = idx[:-1], np.roll(idx[1:], -sign, axis=1)                 # (i,j) <-> (i+1,j±1)
    lk, ll = lam[:-1], np.roll(lam[1:], -sign, axis=1)
    width = grid.dtheta[:, None] / rows.r                               # du, or dtheta
    width = 0.5 * (width[:-1] + width[1:])
    w = np.where(both, width * dphi, 0.0)
    ex.add(k, l, w * lk, w * ll)


def _drift_component(model, theta, phi, which, drift, offset):
    mu = model.drift(theta, phi)[which]
    off = offset[which]
    off = off(theta) if callable(off) else off
    return np.broadcast_to(mu - off, theta.shape)


def is_monotone(L: sp.spmatrix, tol: float = 0.0) -> bool:
    """True if every off-diagonal entry of L is ≥ -tol (then I - dt L is an M-matrix)."""
    off = sp.coo_matrix(L)
    mask = off.row != off.col
    return bool(np.all(off.data[mask] >= -tol))


def stationary_density(model, grid: SphereGrid) -> np.ndarray:
    """Stationary (theta, phi) density (carries sin theta): the null vector of L, normalised.

    Solves L p = 0 with one equation replaced by sum p dtheta dphi = 1 (sparse direct).
    """
    L = fokker_planck_matrix(model, grid).tolil()
    w = grid.cell_measure.ravel()
    L[-1, :] = w
    rhs = np.zeros(grid.size)
    rhs[-1] = 1.0
    p = spla.spsolve(L.tocsc(), rhs)
    return p.reshape(grid.shape)


def central_difference_matrix(model, grid: SphereGrid, acc: int = 2) -> sp.csr_matrix:
    """Plain central-difference discretisation of Eq. (E3) built with findiff.

    Not conservative and not monotone; meant as an independent check of
    :func:`fokker_planck_matrix` on smooth, diffusion-dominated problems (away from the
    poles, where findiff uses one-sided stencils).  Acts on point values at cell centres.
    """
    from findiff import Coef, Diff      # imported here: findiff loads sympy (0.2 s), and
                                        # only this cross-check needs it
    T, F = np.meshgrid(grid.theta, grid.phi, indexing="ij")
    mu_t, mu_p = (np.broadcast_to(v, T.shape) for v in model.drift(T, F))
    d_tt, d_tp, d_pp = (np.broadcast_to(v, T.shape) for v in model.diffusion(T, F))
    d_t = Diff(0, grid.theta, acc=acc)
    d_p = Diff(1, grid.dphi, periodic=True, acc=acc)
    op = (d_t * Coef(-mu_t) + d_p * Coef(-mu_p) + (d_t ** 2) * Coef(d_tt)
          + 2 * (d_t * d_p) * Coef(d_tp) + (d_p ** 2) * Coef(d_pp))
    return sp.csr_matrix(op.matrix(grid.shape))
