"""Directional splitting of the implicit step: one tridiagonal solve per grid line.

:func:`~fpstt.operator.directional_operators` writes the Fokker-Planck operator as
L = L_theta + L_phi + L_+ + L_-: exchanges across theta faces, across (periodic) phi faces,
and along the two diagonals (i, j) <-> (i + 1, j ± 1) that carry the mixed derivative.  Each
part couples cells along lines only, so ``I - b L_k`` is a set of independent tridiagonal
systems (cyclic along phi), each an M-matrix with vanishing weighted column sums.

:class:`DirectionalScheme` advances ``dp/dt = L p`` over a step tau by the symmetric
(Strang) product of the parts,

    outer_1(tau/2) ... outer_m(tau/2)  middle(tau)  outer_m(tau/2) ... outer_1(tau/2),

each factor one step of TR-BDF2 (second order, L-stable) or backward Euler on that part
alone.  Every factor conserves mass to round-off and (backward Euler) keeps p ≥ 0; the
product is second order in tau for TR-BDF2 factors.  Its cost is a few passes of a
tridiagonal solver (LAPACK ``gttrf``/``gttrs``) over the cells, against a sparse 2-D LU of
the whole window for the unsplit operator: on Table I with the field kept on, 26
factorisations of 0.64 s and 674 solves of 16 ms.

:class:`LineBackend` holds the parts as line coefficients on the whole grid and cuts windows
of theta rows from them (no flux through a window's edges, as
:meth:`fpstt.fourier.RealBackend.window`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import lapack

from .flowgrid import CHART_STEP
from .fourier import CellAverages

__all__ = ["LineBackend", "DirectionalScheme"]

_GAMMA = 2 - math.sqrt(2)
_ORDER = ("theta", "diag+", "diag-", "phi")      # phi, every row in every window, is the middle


def _line_index(part: str, rows: range, n_phi: int) -> np.ndarray:
    """Flat indices (into the rows' cells, C order) of each line's cells, shape (lines, length).

    theta: one line per phi column along theta; diag±: cells (i, j0 ± i mod n_phi) for
    i in ``rows`` (absolute row numbers, so a line is the same in every window); phi: one
    periodic line per row.
    """
    i = np.arange(len(rows))[None, :]
    j = np.arange(n_phi)[:, None]
    if part == "phi":
        return np.arange(len(rows) * n_phi).reshape(len(rows), n_phi)
    if part == "theta":
        return i * n_phi + j
    sign = 1 if part == "diag+" else -1
    return i * n_phi + (j + sign * (np.asarray(rows)[None, :])) % n_phi


class _Lines:
    """One part's coefficients along its lines: (L x)_m = d_m x_m + lo_m x_{m-1} + up_m x_{m+1},
    with lo[:, 0] and up[:, -1] the wrap-around couplings of cyclic lines (zero otherwise)."""

    def __init__(self, index, d, lo, up, cyclic: bool):
        self.index, self.d, self.lo, self.up, self.cyclic = index, d, lo, up, cyclic

    @classmethod
    def from_matrix(cls, L, part: str, shape) -> "_Lines":
        nt, nf = shape
        index = _line_index(part, range(nt), nf)
        line = np.empty(nt * nf, int)
        pos = np.empty(nt * nf, int)
        line[index], pos[index] = np.arange(index.shape[0])[:, None], np.arange(index.shape[1])
        coo = L.tocoo()
        lr, ir, ic = line[coo.row], pos[coo.row], pos[coo.col]
        if np.any(line[coo.col] != lr):
            raise ValueError(f"the {part} part couples cells of different lines")
        step = ic - ir
        if part == "phi":                                   # periodic: n - 1 is a step of -1
            step = (step + 1) % nf - 1
        arrays = {name: np.zeros(index.shape) for name in ("d", "lo", "up")}
        for name, mask in (("d", step == 0), ("up", step == 1), ("lo", step == -1)):
            np.add.at(arrays[name], (lr[mask], ir[mask]), coo.data[mask])
        return cls(index, arrays["d"], arrays["lo"], arrays["up"], part == "phi")

    def window(self, i0: int, i1: int, row_measure, n_phi: int, part: str) -> "_Lines":
        """These lines on theta rows i0..i1-1, the exchanges with rows outside removed and
        their outflow returned to the diagonal (mass conserved exactly in the window)."""
        index = _line_index(part, range(i0, i1), n_phi)
        if self.cyclic:                                        # lines are rows
            return _Lines(index, self.d[i0:i1], self.lo[i0:i1], self.up[i0:i1], True)
        d, lo, up = self.d[:, i0:i1].copy(), self.lo[:, i0:i1].copy(), self.up[:, i0:i1].copy()
        w = row_measure
        if i0 > 0:
            d[:, 0] += w[i0 - 1] * self.up[:, i0 - 1] / w[i0]
            lo[:, 0] = 0.0
        if i1 < self.d.shape[1]:
            d[:, -1] += w[i1] * self.lo[:, i1] / w[i1 - 1]
            up[:, -1] = 0.0
        return _Lines(index, d, lo, up, False)

    @property
    def empty(self) -> bool:
        return not (self.d.any() or self.lo.any() or self.up.any())

    def matvec(self, y):
        """L y for y in line layout (lines, length)."""
        return self.d * y + self.lo * np.roll(y, 1, axis=1) + self.up * np.roll(y, -1, axis=1)

    def factor(self, b: float) -> "_Tridiagonal":
        """The solver of (I - b L) x = r on every line at once."""
        return _Tridiagonal(1.0 - b * self.d, -b * self.lo, -b * self.up, self.cyclic)


class _Tridiagonal:
    """LU of independent tridiagonal systems (diag, lo, up in line layout), as one LAPACK
    band; cyclic lines by Sherman-Morrison with the corners moved to the diagonal."""

    def __init__(self, diag, lo, up, cyclic: bool):
        self.shape, self.cyclic = diag.shape, cyclic
        diag = diag.copy()
        if cyclic:
            top, bottom = lo[:, 0].copy(), up[:, -1].copy()    # M[0, n-1], M[n-1, 0]
            gamma = -diag[:, 0]
            diag[:, 0] -= gamma
            diag[:, -1] -= top * bottom / gamma
            self.v_last = top / gamma
        lower, upper = lo.copy(), up.copy()
        lower[:, 0], upper[:, -1] = 0.0, 0.0                  # lines do not couple
        self.lu = lapack.dgttrf(lower.ravel()[1:], diag.ravel(), upper.ravel()[:-1])
        if self.lu[-1] != 0:
            raise np.linalg.LinAlgError("singular tridiagonal system in a directional step")
        if cyclic:
            u = np.zeros(self.shape)
            u[:, 0], u[:, -1] = gamma, bottom
            self.z = self._plain(u)
            self.denominator = 1.0 + self.z[:, 0] + self.v_last * self.z[:, -1]

    def _plain(self, r):
        x, info = lapack.dgttrs(*self.lu[:-1], r.ravel())
        return x.reshape(self.shape)

    def solve(self, r):
        y = self._plain(r)
        if not self.cyclic:
            return y
        scale = (y[:, 0] + self.v_last * y[:, -1]) / self.denominator
        return y - scale[:, None] * self.z


class LineBackend(CellAverages):
    """State: cell averages (n_theta, n_phi); the operator as the four directional parts of
    :func:`~fpstt.operator.directional_operators`, each a set of tridiagonal lines."""

    def __init__(self, parts: dict, grid):
        self.shape, self.measure = grid.shape, grid.cell_measure
        self.lines = {name: _Lines.from_matrix(parts[name], name, grid.shape)
                      for name in _ORDER}
        self.lines = {name: lines for name, lines in self.lines.items() if not lines.empty}

    def window(self, i0: int, i1: int) -> "LineBackend":
        """The parts on theta rows i0..i1-1 alone, with no flux through the window's edges."""
        view = object.__new__(LineBackend)
        view.shape, view.measure = (i1 - i0, self.shape[1]), self.measure[i0:i1]
        row_measure = self.measure[:, 0]
        view.lines = {name: lines.window(i0, i1, row_measure, self.shape[1], name)
                      for name, lines in self.lines.items()}
        return view


class DirectionalScheme:
    """One step tau of dp/dt = L p on a :class:`LineBackend` by the symmetric product of its
    parts (module docstring), each by ``scheme`` ("tr-bdf2" or "be"); factorised once.

    A step longer than :data:`~fpstt.flowgrid.CHART_STEP` is taken as that many equal
    sub-steps: TR-BDF2 factors are not contractive for very stiff parts, and their product
    over long steps can grow (measured on Table I with the field kept on, eq17 reading:
    p ≥ 0 to 1e-37 up to 0.012 t_n, -5e-13 at 0.015, unbounded at 0.03).
    """

    def __init__(self, backend: LineBackend, tau: float, scheme: str):
        if scheme not in ("tr-bdf2", "be"):
            raise ValueError(f"directional steps take 'tr-bdf2' or 'be', got {scheme!r}")
        self.scheme, self.shape = scheme, backend.shape
        self.substeps = max(1, math.ceil(tau / CHART_STEP - 1e-9))      # stability, see below
        tau = tau / self.substeps
        names = list(backend.lines)                  # none: nothing left to step (no noise)
        sequence = [(n, tau / 2) for n in names[:-1]] + [(n, tau) for n in names[-1:]]
        sequence += [(n, tau / 2) for n in reversed(names[:-1])]
        self.sequence = [(backend.lines[n], h) for n, h in sequence]
        coef = _GAMMA / 2 if scheme == "tr-bdf2" else 1.0
        factors = {}
        for n, h in sequence:
            if (n, h) not in factors:
                factors[n, h] = backend.lines[n].factor(coef * h)
        self.factors = [factors[key] for key in sequence]
        self.n_factorizations = len(factors)

    def step(self, x):
        flat = x.ravel()
        for _ in range(self.substeps):
            for (lines, h), lu in zip(self.sequence, self.factors):
                y = flat[lines.index]
                flat = np.empty_like(flat)
                flat[lines.index] = self._part(lines, h, lu, y)
        return flat.reshape(self.shape)

    def _part(self, lines, h, lu, y):
        if self.scheme == "be":
            return lu.solve(y)
        g = _GAMMA
        mid = lu.solve(y + 0.5 * g * h * lines.matvec(y))
        return lu.solve(mid / (g * (2 - g)) - (1 - g) ** 2 / (g * (2 - g)) * y)
