"""Fast path: implicit solves for phi-independent operators by a Fourier transform in phi.

When drift and diffusion do not depend on phi, the operator L of
:func:`~fpstt.operator.fokker_planck_matrix` commutes with phi translations:
``L = sum_s C_s ⊗ S^s`` with S the one-cell phi shift and s in {-1, 0, 1}.  A real FFT in phi
turns ``(a I - b L) x = r`` into n_phi/2 + 1 independent tridiagonal systems in theta,
``(a I - b T_m) x_m = r_m`` with ``T_m = sum_s C_s exp(2 pi i m s / n_phi)``, solved in
O(n_theta) each: the whole solve costs O(n_theta n_phi log n_phi).  It is the same
discretisation as the sparse path, so both agree to round-off.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack

__all__ = ["phi_blocks", "FourierSolver"]


def phi_blocks(L: sp.spmatrix, shape: tuple[int, int]) -> np.ndarray:
    """Banded blocks of a phi-translation-invariant operator.

    Returns ``ab`` of shape (3 shifts s = -1, 0, 1; 3 bands; n_theta) in scipy's banded
    layout (``ab[s, 1 + i - k, k] = C_s[i, k]``).  Raises ValueError if L couples theta cells
    more than one apart or phi cells more than one apart.
    """
    nt, nf = shape
    L = sp.csr_matrix(L)
    rows = np.arange(nt) * nf                      # cell (i, 0) of every theta row
    sub = L[rows].tocoo()
    i = sub.row
    k, j = np.divmod(sub.col, nf)
    s = (j + nf // 2) % nf - nf // 2
    band = 1 + i - k
    if np.any(np.abs(s) > 1) or np.any((band < 0) | (band > 2)):
        raise ValueError("operator is not tridiagonal in theta and nearest-neighbour in phi")
    ab = np.zeros((3, 3, nt))
    np.add.at(ab, (s + 1, band, k), sub.data)
    return ab


class FourierSolver:
    """Solve ``(a I - b L) x = r`` for a phi-independent L; tridiagonal LU per mode, once.

    Parameters
    ----------
    L : sparse matrix
        The operator on the flattened (n_theta, n_phi) grid.
    shape : (n_theta, n_phi)
    a, b : float
        The system is a I - b L (e.g. a = 1, b = dt for backward Euler).
    """

    def __init__(self, L, shape, a: float, b: float):
        nt, nf = shape
        self.shape = shape
        blocks = phi_blocks(L, shape)
        m = np.arange(nf // 2 + 1)
        phase = np.exp(2j * np.pi * np.outer(m, [-1, 0, 1]) / nf)      # (modes, 3)
        T = np.einsum("ms,sbk->mbk", phase, blocks)                    # (modes, 3, nt)
        ab = -b * T
        ab[:, 1, :] += a
        # all modes as one block-tridiagonal system (no coupling between blocks), LU once
        lower = ab[:, 2, :].copy()
        upper = ab[:, 0, :].copy()
        lower[:, -1] = 0.0                       # would couple mode m to mode m + 1
        upper[:, 0] = 0.0
        dl, d, du = lower.ravel()[:-1], ab[:, 1, :].ravel(), upper.ravel()[1:]
        self._factors = lapack.zgttrf(dl, d, du)
        if self._factors[-1] != 0:
            raise np.linalg.LinAlgError("singular implicit system in the Fourier solver")

    def solve(self, r: np.ndarray) -> np.ndarray:
        nt, nf = self.shape
        spec = np.fft.rfft(r.reshape(nt, nf), axis=1)                   # (nt, modes)
        dl, d, du, du2, ipiv, _ = self._factors
        x, info = lapack.zgttrs(dl, d, du, du2, ipiv, spec.T.ravel())
        return np.fft.irfft(x.reshape(-1, nt).T, n=nf, axis=1).ravel()
