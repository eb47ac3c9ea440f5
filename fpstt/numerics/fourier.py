"""Linear-algebra backends for the implicit steppers: sparse LU, or Fourier modes in phi.

When drift and diffusion do not depend on phi, the operator L of
:func:`~fpstt.numerics.operator.fokker_planck_matrix` commutes with phi translations:
``L = sum_s C_s ⊗ S^s`` with S the one-cell phi shift and s in {-1, 0, 1}.  A real FFT in phi
turns it into n_phi/2 + 1 independent tridiagonal operators in theta,
``T_m = sum_s C_s exp(2 pi i m s / n_phi)``.  :class:`SpectralBackend` keeps the state in
that representation for the whole run (shape (n_theta, n_modes), complex), so a step costs
O(n_theta n_phi) and the FFT is paid only at output times.  It is the same discretisation
as :class:`RealBackend`, so both agree to round-off.

A backend offers ``to_state(p)``, ``to_density(x)``, ``matvec(x)``, ``factor(a, b)`` (an
object whose ``solve(r)`` solves (a I - b L) x = r), ``mass(x)``, ``row_mass(x)``,
``window(i0, i1)`` (the operator on theta rows i0..i1-1 with no-flux edges) and
``rotate(x, angle)``.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import scipy.sparse as sp
from scipy.linalg import lapack

from .ordering import GridLU

__all__ = ["phi_blocks", "rotate_phi", "CellAverages", "RealBackend", "SpectralBackend"]


def _phase(spec, angle, n_phi):
    """Multiply rfft modes (last axis) by exp(-i m angle); the Nyquist mode stays real."""
    m = np.arange(spec.shape[-1])
    out = spec * np.exp(-1j * m * angle)
    if n_phi % 2 == 0 and spec.shape[-1] == n_phi // 2 + 1:
        out[..., -1] = out[..., -1].real
    return out


def rotate_phi(p: np.ndarray, angle: float) -> np.ndarray:
    """Rotate cell averages in phi by ``angle`` (rad): exact for band-limited densities.

    The phase exp(-i m angle) of each Fourier mode; the mean (mode 0, the mass) is untouched.
    """
    n = p.shape[-1]
    return np.fft.irfft(_phase(np.fft.rfft(p, axis=-1), angle, n), n=n, axis=-1)


def phi_blocks(L: sp.spmatrix, shape: tuple[int, int]) -> np.ndarray:
    """Banded blocks of a phi-translation-invariant operator.

    Returns ``ab`` of shape (3 shifts s = -1, 0, 1; 3 bands; n_theta) in scipy's banded
    layout (``ab[s, 1 + i - k, k] = C_s[i, k]``).  Raises ValueError if L couples theta cells
    more than one apart or phi cells more than one apart.
    """
    nt, nf = shape
    L = sp.csr_matrix(L)
    sub = L[np.arange(nt) * nf].tocoo()              # rows of cells (i, 0)
    k, j = np.divmod(sub.col, nf)
    s = (j + nf // 2) % nf - nf // 2
    band = 1 + sub.row - k
    if np.any(np.abs(s) > 1) or np.any((band < 0) | (band > 2)):
        raise ValueError("operator is not tridiagonal in theta and nearest-neighbour in phi")
    ab = np.zeros((3, 3, nt))
    np.add.at(ab, (s + 1, band, k), sub.data)
    return ab


class CellAverages:
    """What every real-space backend shares: the state is the (n_theta, n_phi) cell averages."""

    measure: np.ndarray

    def mass(self, x):
        """sum p dtheta dphi."""
        return float(np.sum(x * self.measure))

    def row_mass(self, x):
        """sum over phi of |p| dtheta dphi, per theta row."""
        return np.abs(x) @ np.full(x.shape[1], 1.0) * self.measure[:, 0]

    def to_state(self, p):
        return np.array(p, dtype=float)

    def to_density(self, x):
        return x.copy()

    def rotate(self, x, angle):
        return rotate_phi(x, angle)


class RealBackend(CellAverages):
    """State: the (n_theta, n_phi) cell averages; systems by sparse LU (splu), factorised once."""

    def __init__(self, L, grid):
        self.L, self.shape = sp.csr_matrix(L), grid.shape
        self.measure = grid.cell_measure

    def window(self, i0: int, i1: int) -> "RealBackend":
        """The operator on theta rows i0..i1-1 alone, with no flux through the window's edges:
        the outflow to rows outside goes back on the diagonal, so the window conserves mass
        exactly and stays an M-matrix operator if L is one."""
        nf = self.shape[1]
        a, b = i0 * nf, i1 * nf
        sub = self.L[a:b, a:b].tocsr()
        w = self.measure.ravel()[a:b]
        leak = (w @ sub) / w                              # weighted column sums (outflow)
        view = object.__new__(RealBackend)
        view.L = (sub - sp.diags(leak)).tocsr()
        view.shape, view.measure = (i1 - i0, nf), self.measure[i0:i1]
        return view

    def matvec(self, x):
        return (self.L @ x.ravel()).reshape(self.shape)

    def factor(self, a, b):
        lu = GridLU(a * sp.identity(self.L.shape[0], format="csc") - b * self.L, self.shape)
        return _Solve(lu.solve)


class SpectralBackend:
    """State: rfft of the cell averages along phi, shape (n_theta, n_phi // 2 + 1), complex.

    ``compiled``: solve by :func:`~fpstt.numerics.compiled.solve_factored_columns` along the
    rows of the state (LAPACK's ``gttrs`` arithmetic, bit for bit, without its two
    transposes: 3-4x faster) instead of ``zgttrs``; it loads numba (~1 s a process), so the
    integrator sets it for long runs only (:data:`fpstt.integration.integrators.COMPILED_WORK`).
    Either way the result is the same to the last bit.
    """

    compiled = False

    def __init__(self, L, grid):
        nf = grid.n_phi
        self.grid, self.n_phi = grid, nf
        m = np.arange(nf // 2 + 1)
        phase = np.exp(2j * np.pi * np.outer(m, [-1, 0, 1]) / nf)         # (modes, 3)
        blocks = phi_blocks(L, (grid.n_theta, L.shape[0] // grid.n_theta))   # any strip width
        self.T = np.einsum("ms,sbk->mbk", phase, blocks)                    # (modes, 3, nt)
        self.row_measure = grid.dtheta * grid.dphi            # mode 0 of a row = sum over phi

    def mass(self, x):
        """sum p dtheta dphi: only mode 0 carries mass (other modes average to zero)."""
        return float(x[:, 0].real @ self.row_measure)

    def row_mass(self, x):
        """|mass| of each theta row (from mode 0)."""
        return np.abs(x[:, 0].real) * self.row_measure

    def window(self, i0: int, i1: int) -> "SpectralBackend":
        """The operator on theta rows i0..i1-1 alone, with no flux through the window's edges.

        The couplings to rows outside are removed and the outflow they carried is put back on
        the diagonal (the same scalar for every mode, as in real space), so the window's
        operator conserves mass exactly; rows outside are left as they are.
        """
        T = self.T[:, :, i0:i1].copy()
        w = self.grid.dtheta                       # mass of a row = w_i * (its mode 0) * dphi
        if i0 > 0:                                 # outflow from row i0 into row i0 - 1
            T[:, 1, 0] += T[0, 0, 0].real * w[i0 - 1] / w[i0]
            T[:, 0, 0] = 0.0
        if i1 < self.T.shape[2]:                   # outflow from row i1 - 1 into row i1
            T[:, 1, -1] += T[0, 2, -1].real * w[i1] / w[i1 - 1]
            T[:, 2, -1] = 0.0
        return self._view(T, self.row_measure[i0:i1])

    def modes_needed(self, x, tol: float) -> int:
        """Number of leading phi modes of state ``x`` outside which the L1 norm of p is
        ≤ ``tol`` × its mass.

        Mode m > 0 is a cosine of amplitude 2 |x_m| / n_phi in each theta row, whose L1 norm
        over phi is (8 / n_phi) |x_m|; mode 0 carries the mass (2 pi / n_phi) x_0.  The modes
        never couple, and a positive, mass-conserving step cannot increase the L1 norm of
        any one of them, so dropping modes moves every later state by at most this bound
        (exactly for backward Euler on an M-matrix; TR-BDF2 departs from positivity by ~1e-14).
        """
        w = self.grid.dtheta
        norms = 8.0 / self.n_phi * (w @ np.abs(x))
        mass = 2 * np.pi / self.n_phi * abs(w @ x[:, 0].real)
        tail = np.cumsum(norms[::-1])[::-1]               # tail[m]: modes m, m + 1, ...
        return max(int(np.count_nonzero(tail > tol * mass)), 1)

    @property
    def n_modes(self) -> int:
        """Number of phi modes the state holds."""
        return self.T.shape[0]

    def truncated(self, n_modes: int) -> "SpectralBackend":
        """The operator on the leading ``n_modes`` modes (the rest are taken to be zero)."""
        return self._view(self.T[:n_modes], self.row_measure)

    def _view(self, T, row_measure) -> "SpectralBackend":
        """A backend on the same grid with blocks ``T`` (some rows or modes of this one)."""
        view = object.__new__(SpectralBackend)
        view.grid, view.n_phi, view.T, view.row_measure = self.grid, self.n_phi, T, row_measure
        view.compiled = self.compiled
        return view

    def to_state(self, p):
        return scipy.fft.rfft(p, axis=1, workers=-1)       # rows shared among the cores

    def to_density(self, x):                                  # missing modes count as zero
        return scipy.fft.irfft(x, n=self.n_phi, axis=1, workers=-1)

    def matvec(self, x):
        if self.compiled:
            from .compiled import tridiagonal_modes
            return tridiagonal_modes(self.T, np.ascontiguousarray(x))
        T, xt = self.T, x.T                                            # (modes, nt)
        y = T[:, 1] * xt
        y[:, :-1] += T[:, 0, 1:] * xt[:, 1:]
        y[:, 1:] += T[:, 2, :-1] * xt[:, :-1]
        return y.T

    def factor(self, a, b):
        ab = -b * self.T
        ab[:, 1, :] += a
        nt = ab.shape[2]
        lower, upper = ab[:, 2, :].copy(), ab[:, 0, :].copy()
        lower[:, -1] = 0.0                   # all modes as one block-tridiagonal system
        upper[:, 0] = 0.0
        dl, d, du, du2, ipiv, info = lapack.zgttrf(lower.ravel()[:-1], ab[:, 1, :].ravel(),
                                                   upper.ravel()[1:])
        if info != 0:
            raise np.linalg.LinAlgError("singular implicit system in the Fourier solver")
        if self.compiled:
            return _Solve(_solve_along_rows(dl, d, du, du2, ipiv, nt, ab.shape[0]))

        def solve(r):
            x, _ = lapack.zgttrs(dl, d, du, du2, ipiv, np.ascontiguousarray(r.T).ravel())
            return x.reshape(-1, nt).T
        return _Solve(solve)

    def rotate(self, x, angle):
        return _phase(x, angle, self.n_phi)


def _solve_along_rows(dl, d, du, du2, ipiv, rows: int, modes: int):
    """The solve of :meth:`SpectralBackend.factor` on states (rows, modes) as they lie, by the
    compiled ``gttrs`` (numba: loaded here, on first use)."""
    from .compiled import factors_by_row, solve_factored_columns
    by_row = factors_by_row(dl, d, du, du2, ipiv, rows, modes)

    def solve(r):
        x = np.array(r, dtype=complex, order="C")
        solve_factored_columns(*by_row, x)
        return x
    return solve


class _Solve:
    def __init__(self, func):
        self.solve = func
