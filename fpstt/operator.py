"""The Itô Fokker-Planck operator of Eq. (E3) on a :class:`~fpstt.grid.SphereGrid`.

.. math::
    \\partial_t p = -\\sum_i \\partial_i(\\mu_i p) + \\sum_{ij} \\partial_i \\partial_j (D_{ij} p),
    \\qquad i, j \\in \\{\\theta, \\phi\\},

for a (theta, phi) density p (it carries sin theta).  :func:`fokker_planck_matrix` returns a
sparse ``L`` with ``dp/dt = L p`` for the flattened cell averages (C order, see
:mod:`fpstt.grid`).  It is written as a sum of mass exchanges between pairs of cells, so
``cell_measure @ L = 0`` holds to round-off (mass is conserved by construction), with no
exchange through the poles (no-flux) and periodic phi.

Discretisation
--------------
The diffusion tensor is split along the four grid directions (theta, phi and the two
diagonals), D = l_t e_t e_t^T + l_p e_p e_p^T + l_+ v_+ v_+^T + l_- v_- v_-^T with
v_± = (h_theta, ±dphi) and l_± = max(±D_tp, 0) / (h_theta dphi), so that the mixed
derivative becomes a diagonal second difference with non-negative weights.  Along theta and
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

from .grid import SphereGrid

__all__ = ["fokker_planck_matrix", "is_monotone", "central_difference_matrix", "bernoulli",
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
        :class:`~fpstt.model.SpinTorqueModel`.
    grid : SphereGrid
    drift : bool
        If False, the drift is left out (pure diffusion operator).
    drift_offset : (callable or float, callable or float)
        Subtracted from (mu_t, mu_p) before discretising: the part of the drift that a
        splitting scheme integrates exactly (functions of theta, or constants).
    n_phi : int, optional
        Assemble on a periodic strip of this many phi cells (≥ 3) of the grid's width dphi
        instead of all ``grid.n_phi``.  For a phi-independent model the strip has the same
        phi blocks (:func:`~fpstt.fourier.phi_blocks`) as the whole grid, at a fraction of
        the cost and memory.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n_theta n_phi, n_theta n_phi)
        Acting on cell averages of a (theta, phi) density.  ``cell_measure.ravel() @ L``
        vanishes to round-off.
    """
    nt, nf = grid.n_theta, grid.n_phi if n_phi is None else int(n_phi)
    if nf < 3:
        raise ValueError(f"`n_phi` must be ≥ 3, got {n_phi!r}")
    th, f = grid.theta, grid.phi[:nf]
    dth, dphi = grid.dtheta, grid.dphi
    idx = np.arange(nt * nf).reshape(nt, nf)
    measure = grid.cell_measure[:, :nf]
    T, F = np.meshgrid(th, f, indexing="ij")

    d_tt, d_tp, d_pp = (np.broadcast_to(v, (nt, nf)) for v in model.diffusion(T, F))
    for name, values in (("D_theta_theta", d_tt), ("D_theta_phi", d_tp), ("D_phi_phi", d_pp),
                         *zip(("mu_theta", "mu_phi"), model.drift(T, F))):
        bad = ~np.isfinite(values)
        if np.any(bad):
            i, j = np.argwhere(np.broadcast_to(bad, (nt, nf)))[0]
            raise ValueError(f"model coefficient {name} is not finite at theta = "
                             f"{th[i]:.6g}, phi = {f[j]:.6g}")
    # theta distance between neighbouring centres and the diagonal split of D_tp
    h = np.diff(th)                                                   # (nt-1,)
    h_cell = np.concatenate([[h[0]], 0.5 * (h[1:] + h[:-1]), [h[-1]]])[:, None]
    lam_t = d_tt - np.abs(d_tp) * h_cell / dphi
    lam_p = d_pp - np.abs(d_tp) * dphi / h_cell
    lam_plus = np.maximum(d_tp, 0) / (h_cell * dphi)
    lam_minus = np.maximum(-d_tp, 0) / (h_cell * dphi)

    ex = _Exchanges(nt * nf)
    # ---- theta faces (interior edges 1..nt-1): drift + lam_t by Scharfetter-Gummel --------
    te = grid.theta_edges[1:-1]
    TE, FE = np.meshgrid(te, f, indexing="ij")
    mu_t = _drift_component(model, TE, FE, 0, drift, drift_offset) if drift else 0 * TE
    lam_face = 0.5 * (lam_t[1:] + lam_t[:-1])
    a = mu_t - (lam_t[1:] - lam_t[:-1]) / h[:, None]
    wm, wp = _sg_weights(a, np.maximum(lam_face, 0), h[:, None])
    neg = np.minimum(lam_face, 0) / h[:, None]                       # non-monotone remainder
    ex.add(idx[:-1], idx[1:], dphi * (wm + neg), dphi * (wp + neg))

    # ---- phi faces (between j-1 and j, periodic): drift + lam_p by Scharfetter-Gummel ----
    FE2 = (np.arange(nf)[None, :]) * dphi + 0 * T                  # face at the left of cell j
    mu_p = _drift_component(model, T, FE2, 1, drift, drift_offset) if drift else 0 * T
    left = np.roll(idx, 1, axis=1)
    lam_left = np.roll(lam_p, 1, axis=1)
    lam_face = 0.5 * (lam_p + lam_left)
    a = mu_p - (lam_p - lam_left) / dphi
    wm, wp = _sg_weights(a, np.maximum(lam_face, 0), dphi)
    neg = np.minimum(lam_face, 0) / dphi
    ex.add(left, idx, dth[:, None] * (wm + neg), dth[:, None] * (wp + neg))

    # ---- diagonal second differences of lam_± p (mixed derivative) ----------------------
    for lam, shift in ((lam_plus, 1), (lam_minus, -1)):
        k, l = idx[:-1], np.roll(idx[1:], -shift, axis=1)            # (i,j) <-> (i+1,j±1)
        lk, ll = lam[:-1], np.roll(lam[1:], -shift, axis=1)
        w = 0.5 * (measure[:-1] + np.roll(measure[1:], -shift, axis=1))
        ex.add(k, l, w * lk, w * ll)

    A = ex.matrix()                                   # mass units: column sums vanish
    return (sp.diags(1.0 / measure.ravel()) @ A).tocsr()


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
