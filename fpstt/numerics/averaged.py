"""The phi-averaged approximate inverse of an implicit chart step (second preconditioner of
:class:`fpstt.numerics.lines.LineScheme`).

Near a chart's pole the cells are small in both directions, and the implicit step
(I - b L) is stiff along theta and along phi at once: there the product of the parts'
line solves, (I - b M_theta)^-1 (I - b M_phi)^-1 ..., carries the factorisation error
b^2 M_theta M_phi, larger than the operator itself, and defect correction with it stalls
(Table I with a tilted easy axis, whose state ends at the attractor chart's pole).  There
the operator hardly depends on phi (smooth noise about the pole), so its phi average is
diagonalised by a Fourier transform in phi: each mode m is one tridiagonal system in theta,

    (1 - b D_m(i)) X_i - b Lo_m(i) X_(i-1) - b Up_m(i) X_(i+1) = R_i,

with D_m, Lo_m, Up_m the row averages of the directional parts (:mod:`fpstt.numerics.lines`), a
phi coupling x_(j -+ 1) contributing its average times e^(-+ i k), k = 2 pi m / n_phi, and
a diagonal coupling (i -+ 1, j -+ s) its average times e^(-+ i k s) to Lo_m or Up_m.  It is
exact for a phi-independent operator and solves the stiff polar block as a whole.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

__all__ = ["PhiAveragedInverse"]

TURN = {"theta": 0, "diag+": 1, "diag-": -1}
"""Each part's phi step per theta step: (i -+ 1, j -+ TURN) are a cell's neighbours."""


class PhiAveragedInverse:
    """(I - b Lbar)^-1 for the phi average Lbar of a :class:`~fpstt.numerics.lines.LineBackend`'s
    operator, applied to cell averages (rows, n_phi) of a (theta_c, phi_c) density (it
    carries sin theta_c and the chart's area factor, as every chart state) through a real
    FFT in phi; one LAPACK ``zgttrf`` factorisation of all modes at once, solved mode by
    mode along the rows of the spectrum itself (no transposes).  Mode 0 keeps the
    mass sum_i w_i X_0(i) (each part's weighted column sums vanish)."""

    def __init__(self, backend, b: float):
        rows, n_phi = backend.shape
        self.shape, modes = backend.shape, n_phi // 2 + 1
        k = 2 * np.pi * np.arange(modes) / n_phi
        diag, lower, upper = (np.zeros((modes, rows), complex) for _ in range(3))
        for name, d, lo, up in backend.grid_parts:
            diag += d.mean(axis=1)
            if name == "phi":
                diag += (np.outer(np.exp(-1j * k), lo.mean(axis=1))
                         + np.outer(np.exp(1j * k), up.mean(axis=1)))
                continue
            turn = TURN[name]
            lower += np.outer(np.exp(-1j * k * turn), lo.mean(axis=1))
            upper += np.outer(np.exp(1j * k * turn), up.mean(axis=1))
        lower[:, 0], upper[:, -1] = 0.0, 0.0                # the modes do not couple
        *factors, ipiv, info = lapack.zgttrf(-b * lower.ravel()[1:], (1.0 - b * diag).ravel(),
                                             -b * upper.ravel()[:-1])
        if info != 0:
            raise np.linalg.LinAlgError("singular phi-averaged system in a chart step")
        from .compiled import factors_by_row         # numba: loaded on first use
        self.factors = factors_by_row(*factors, ipiv, rows, modes)
        self._spectrum = np.empty((rows, modes), complex)   # kept: docs/performance.md

    def __call__(self, r):
        np.fft.rfft(r, axis=1, out=self._spectrum)
        from .compiled import solve_factored_columns
        solve_factored_columns(*self.factors, self._spectrum)
        return np.fft.irfft(self._spectrum, n=self.shape[1], axis=1)
