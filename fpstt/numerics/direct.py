"""The exact inverse of an implicit chart step: (I - b L) assembled and factorised by sparse LU
(third inverse of :class:`fpstt.numerics.lines.LineScheme`).

Where neither the product of line solves nor their phi average is a good approximate inverse
(noise that is stiff in theta and phi at once and depends on phi: Brown noise in a Möbius
chart that is not a rotation, a narrow state at a chart's pole with a tilted flow), defect
correction with either stalls.  The system itself is then factorised: L is the sum of the
directional parts of a :class:`~fpstt.numerics.lines.LineBackend` window (a 9-point stencil,
periodic in phi), I - b L is assembled in the window's cell order and handed to SuperLU in the
grid's nested-dissection order (:class:`fpstt.numerics.ordering.GridLU`; a window of 93 000
cells, 363 x 256, took 0.4 s to factorise and 12 ms per solve with minimum degree on A^T + A).  A
window's factorisation is reused for every solve of its step, so a defect-correction solve
converges in one iteration, to the rounding of the residual.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from . import ahead
from .averaged import TURN
from .ordering import GridLU

__all__ = ["assembled", "DirectInverse", "ExactInverses"]

KEPT = 4                     # exact inverses a backend keeps (each up to ~1e7 LU entries)


def assembled(backend) -> sp.csr_matrix:
    """L of a :class:`~fpstt.numerics.lines.LineBackend` (or a window of one) as a sparse matrix on
    its cells in C order (rows, n_phi), the operator that ``backend.matvec`` applies."""
    rows, n_phi = backend.shape
    cell = np.arange(rows * n_phi).reshape(rows, n_phi)
    i_all, j_all, v_all = [], [], []
    for name, d, lo, up in backend.grid_parts:
        i_all.append(cell.ravel()), j_all.append(cell.ravel()), v_all.append(d.ravel())
        if name == "phi":                       # (i, j) <- (i, j -+ 1), periodic
            for coef, step in ((lo, -1), (up, 1)):
                i_all.append(cell.ravel())
                j_all.append(np.roll(cell, -step, axis=1).ravel())
                v_all.append(coef.ravel())
            continue
        turn = TURN[name]                       # (i, j) <- (i -+ 1, j -+ turn)
        i_all += [cell[1:].ravel(), cell[:-1].ravel()]
        j_all += [np.roll(cell[:-1], turn, axis=1).ravel(),
                  np.roll(cell[1:], -turn, axis=1).ravel()]
        v_all += [lo[1:].ravel(), up[:-1].ravel()]
    size = rows * n_phi
    return sp.csr_matrix((np.concatenate(v_all), (np.concatenate(i_all),
                                                  np.concatenate(j_all))), shape=(size, size))


class DirectInverse:
    """(I - b L)^-1 of a :class:`~fpstt.numerics.lines.LineBackend` window, by one sparse LU
    factorisation; applied to cell averages (rows, n_phi) of a chart density (it carries
    sin theta_c and the chart's area factor)."""

    def __init__(self, backend, b: float):
        self.shape = backend.shape
        matrix = sp.identity(self.shape[0] * self.shape[1], format="csc") - b * assembled(backend)
        self.lu = GridLU(matrix, self.shape)

    def __call__(self, r):
        return self.lu.solve(r)


class ExactInverses(ahead.Kept):
    """The exact inverses factorised on the windows of one backend, by (rows, b): the last
    KEPT of them, so that a window met again (each segment of a run starts its windows
    afresh) is not factorised again, and those started ahead on a worker thread
    (:mod:`fpstt.numerics.ahead`)."""

    def __init__(self):
        super().__init__(KEPT)

    def inverse(self, backend, b: float) -> tuple[DirectInverse, bool]:
        """(I - b L)^-1 on ``backend``'s window, and True when it was factorised by this call
        (not kept, nor started ahead)."""
        inverse, how = self.get((backend.rows, b), lambda: DirectInverse(backend, b))
        return inverse, how == "made"

    def start_inverse(self, backend, b: float) -> bool:
        """Start factorising (I - b L) on ``backend``'s window ahead; False when it is there."""
        return self.start((backend.rows, b), lambda: DirectInverse(backend, b))
