"""The implicit step on a 2-D chart grid: the exact 2-D system, solved line by line.

:func:`~fpstt.numerics.operator.directional_operators` writes the Fokker-Planck operator as
L = L_theta + L_phi + L_+ + L_-: exchanges across theta faces, across (periodic) phi faces,
and along the two diagonals (i, j) <-> (i + 1, j ± 1) that carry the mixed derivative.  Each
part couples cells along lines only, so ``I - b L_k`` is a set of independent tridiagonal
systems (cyclic along phi), solved for all lines at once by LAPACK (:class:`_Band`).

:class:`LineScheme` takes a TR-BDF2 (or backward-Euler) step of the *whole* operator L, the
scheme of :class:`~fpstt.integration.implicit.ImplicitScheme`, but solves each system
(I - b L) y = r by defect correction,

    y_0 = P r,   y_{k+1} = y_k + P (r - (I - b L) y_k),

with the approximate inverse P the product of the parts' backward-Euler solves
(I - b M_k)^-1, where M_k is L_k with those of its negative couplings (the anti-diffusive
faces of the non-monotone diagonal split, operator.py) removed that would make I - b M_k
lose diagonal dominance (by weighted columns, margin 1/2: :meth:`_Lines.limited`); the
diagonal is rebuilt, so every factor keeps the mass and is bounded for any b, and short
steps keep the whole part.  Iterated until the residual is below 1e-13 of the right-hand
side (on Table I with the field kept on: 1.9 iterations on average for eq17, at most 5;
with every negative coupling removed, an M-matrix product, it took 3.5 and up to 11): the
result is the unsplit 2-D step, with no splitting error and its stability, and every
iterate conserves mass exactly (P and I - b L preserve the weighted sum).  Splitting the
step itself instead (a product of TR-BDF2 factors of the parts) was tried and dropped: the
Eq. (17) noise is degenerate at the z' equator, no 9-point split of it is monotone, and a
part with negative diffusion made the product blow up on a 2x refined grid.

:class:`LineBackend` holds the parts as line coefficients on the whole grid and cuts windows
of theta rows from them (no flux through a window's edges, as
:meth:`fpstt.numerics.fourier.RealBackend.window`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import lapack

from .averaged import TURN, PhiAveragedInverse
from .direct import ExactInverses
from .fourier import CellAverages

__all__ = ["LineBackend", "LineScheme"]

_GAMMA = 2 - math.sqrt(2)
_ORDER = ("theta", "diag+", "diag-", "phi")
TOLERANCE = 1e-13            # residual of each implicit solve, relative to its right-hand side
_MAX_ITERATIONS = 50
_SLOW = 0.3                  # a residual falling by less than this a step has stalled ...
_PATIENCE = 8                # ... as has a solve this many iterations long


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
    with lo[:, 0] and up[:, -1] the wrap-around couplings of cyclic lines (zero otherwise);
    :meth:`LineBackend.matvec` applies them in the grid's layout (:meth:`on_grid`)."""

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

    def on_grid(self, shape):
        """(d, lo, up) scattered to the grid's layout (rows, n_phi)."""
        out = []
        for values in (self.d, self.lo, self.up):
            grid = np.empty(shape[0] * shape[1])
            grid[self.index] = values
            out.append(grid.reshape(shape))
        return out

    def limited(self, b: float, row_measure) -> "_Lines":
        """These lines for the approximate inverse at step b: a negative coupling (an
        anti-diffusive face of the diagonal split) stays where I - b M remains diagonally
        dominant by weighted columns with margin 1/2 (b times the column's negative
        outflow ≤ 1/4), and is removed elsewhere; the diagonal is rebuilt so that the
        weighted column sums still vanish (mass kept).  With every negative coupling
        removed (b large) this is the monotone part, whose I - b M is an M-matrix."""
        w = (np.ones(self.d.shape[1]) if self.cyclic else row_measure)[None, :]
        # column i's outflow to i - 1 is up[i - 1], to i + 1 is lo[i + 1]
        negative = (np.roll(w * np.maximum(-self.up, 0.0), 1, axis=1)
                    + np.roll(w * np.maximum(-self.lo, 0.0), -1, axis=1)) / w
        weak = b * negative > 0.25
        lo = np.where((self.lo < 0) & np.roll(weak, 1, axis=1), 0.0, self.lo)
        up = np.where((self.up < 0) & np.roll(weak, -1, axis=1), 0.0, self.up)
        d = -(np.roll(w * up, 1, axis=1) + np.roll(w * lo, -1, axis=1)) / w
        return _Lines(self.index, d, lo, up, self.cyclic)

    @property
    def empty(self) -> bool:
        return not (self.d.any() or self.lo.any() or self.up.any())

    def factor(self, b: float) -> "_Tridiagonal":
        """The solver of (I - b L) x = r on every line at once."""
        return _Tridiagonal(1.0 - b * self.d, -b * self.lo, -b * self.up, self.cyclic)


class _Band:
    """Independent tridiagonal systems A x = r (diag, lo, up in line layout, lines not
    coupled).  When a diagonal scaling S = D A D^-1 makes A symmetric (each pair of
    couplings of one sign, or both zero) and S is positive definite (an M-matrix's), it is
    solved as x = D^-1 S^-1 D r by LAPACK ``pttrf``/``pttrs`` (an L D L^T factorisation,
    twice as fast: no division on the recurrence), else by ``gttrf``/``gttrs``."""

    def __init__(self, diag, lo, up):
        self.shape = diag.shape
        a, c = lo[:, 1:], up[:, :-1]                      # A[k, k-1], A[k-1, k] on each line
        pairs = a * c
        symmetric = np.all((pairs > 0) | ((a == 0) & (c == 0)))
        if symmetric:
            with np.errstate(divide="ignore", invalid="ignore"):
                log_ratio = np.where(pairs > 0, 0.5 * np.log(np.abs(c / a)), 0.0)
            log_d = np.concatenate([np.zeros((diag.shape[0], 1)), np.cumsum(log_ratio, 1)], 1)
            symmetric = np.max(np.abs(log_d)) < 300       # D and 1/D representable
        if symmetric:
            e = np.concatenate([np.sign(a) * np.sqrt(pairs), np.zeros((diag.shape[0], 1))], 1)
            d, e, info = lapack.dpttrf(diag.ravel(), e.ravel()[:-1])
            if info == 0:
                self.scale, self.pt = np.exp(log_d), (d, e)
                return
        lower, upper = np.zeros_like(lo), np.zeros_like(up)
        lower[:, 1:], upper[:, :-1] = a, c
        self.pt, self.lu = None, lapack.dgttrf(lower.ravel()[1:], diag.ravel(),
                                               upper.ravel()[:-1])
        if self.lu[-1] != 0:
            raise np.linalg.LinAlgError("singular tridiagonal system in a directional step")

    def by_position(self):
        """The factors laid out (positions, lines), as the grid holds a sheared part's
        lines (:func:`~fpstt.numerics.compiled.solve_sheared_pt` and ``_gt`` read them)."""
        from .compiled import by_row, factors_by_row
        lines, length = self.shape
        if self.pt is not None:
            d, e = (by_row(f, length, lines) for f in self.pt)
            return [d, e, np.ascontiguousarray(self.scale.T)]
        return factors_by_row(*self.lu[:-1], length, lines)

    def solve(self, r):
        r = r.reshape(self.shape)
        if self.pt is None:
            x, info = lapack.dgttrs(*self.lu[:-1], r.ravel())
            return x.reshape(self.shape)
        x, info = lapack.dpttrs(*self.pt, (self.scale * r).ravel())
        return x.reshape(self.shape) / self.scale


class _Tridiagonal:
    """Independent tridiagonal systems (diag, lo, up in line layout) as one :class:`_Band`;
    cyclic lines by Sherman-Morrison with the corners moved to the diagonal."""

    def __init__(self, diag, lo, up, cyclic: bool):
        self.shape, self.cyclic = diag.shape, cyclic
        diag = diag.copy()
        if cyclic:
            top, bottom = lo[:, 0].copy(), up[:, -1].copy()    # M[0, n-1], M[n-1, 0]
            gamma = -diag[:, 0]
            diag[:, 0] -= gamma
            diag[:, -1] -= top * bottom / gamma
            self.v_last = top / gamma
        self.band = _Band(diag, lo, up)
        if not cyclic:
            self.by_position = self.band.by_position()
        if cyclic:
            u = np.zeros(self.shape)
            u[:, 0], u[:, -1] = gamma, bottom
            self.z = self.band.solve(u)
            self.denominator = 1.0 + self.z[:, 0] + self.v_last * self.z[:, -1]

    def solve_on_grid(self, r, shift):
        """The solution for a right-hand side r on the grid (rows, n_phi) whose line l runs
        through the cells (i, (l + shift[i]) mod n_phi) (a part other than phi), on the grid."""
        from .compiled import solve_sheared_gt, solve_sheared_pt
        if self.band.pt is None:
            return solve_sheared_gt(r, shift, *self.by_position)
        return solve_sheared_pt(r, shift, *self.by_position)

    def solve(self, r):
        y = self.band.solve(r)
        if not self.cyclic:
            return y
        scale = (y[:, 0] + self.v_last * y[:, -1]) / self.denominator
        return y - scale[:, None] * self.z


class LineBackend(CellAverages):
    """State: cell averages (n_theta, n_phi); the operator as the four directional parts of
    :func:`~fpstt.numerics.operator.directional_operators`, each a set of tridiagonal lines (the
    approximate inverse takes their dominant versions, :meth:`_Lines.limited`).

    ``exact`` holds the exact inverses factorised on this backend's windows
    (:class:`~fpstt.numerics.direct.ExactInverses`, shared by its windows).
    """

    def __init__(self, parts: dict, grid):
        self.shape, self.measure = grid.shape, grid.cell_measure
        self.exact, self.rows = ExactInverses(), (0, grid.shape[0])
        lines = {name: _Lines.from_matrix(parts[name], name, grid.shape) for name in _ORDER}
        self.lines = {name: part for name, part in lines.items() if not part.empty}
        self.row_measure = self.measure[:, 0]
        self._set_parts([(name, *part.on_grid(self.shape)) for name, part in self.lines.items()])

    def _set_parts(self, grid_parts):
        """The directional parts on the grid and their summed diagonal; the couplings of
        the parts across theta rows stacked for :func:`~fpstt.numerics.compiled.line_product`
        (``grid_parts`` holds views of the stacks)."""
        across = [(name, lo, up) for name, _, lo, up in grid_parts if name != "phi"]
        empty = np.zeros((0,) + self.shape)
        self._turns = np.array([TURN[name] for name, _, _ in across], dtype=np.int64)
        self._lo = np.array([lo for _, lo, _ in across]) if across else empty
        self._up = np.array([up for _, _, up in across]) if across else empty
        views = {name: (self._lo[k], self._up[k]) for k, (name, _, _) in enumerate(across)}
        self.grid_parts = [(name, d, *views.get(name, (lo, up)))
                           for name, d, lo, up in grid_parts]
        phi = [(lo, up) for name, _, lo, up in grid_parts if name == "phi"]
        self._phi = phi[0] if phi else (np.zeros((0, 0)), np.zeros((0, 0)))
        self.diagonal = sum((d for _, d, _, _ in grid_parts), np.zeros(self.shape))

    def window(self, i0: int, i1: int) -> "LineBackend":
        """The parts on theta rows i0..i1-1 alone, with no flux through the window's edges."""
        view = object.__new__(LineBackend)
        view.shape, view.measure = (i1 - i0, self.shape[1]), self.measure[i0:i1]
        view.exact, view.rows = self.exact, (i0, i1)
        view.row_measure = view.measure[:, 0]
        view.lines = {name: part.window(i0, i1, self.row_measure, self.shape[1], name)
                      for name, part in self.lines.items()}
        view._set_parts([(name, *part.on_grid(view.shape)) for name, part in view.lines.items()])
        return view

    def matvec(self, x):
        """L x for cell averages x (rows, n_phi), in the grid's own layout: one compiled
        pass (:func:`~fpstt.numerics.compiled.line_product`), a new array per call."""
        from .compiled import line_product           # numba: loaded on first use
        return line_product(np.ascontiguousarray(x, dtype=float), self.diagonal, self._lo,
                            self._up, self._turns, *self._phi)


class LineScheme:
    """One step tau of dp/dt = L p on a :class:`LineBackend`: TR-BDF2 or backward Euler of the
    whole operator (as :class:`~fpstt.integration.implicit.ImplicitScheme`), each system solved
    by defect correction (module docstring).

    Three inverses serve, cheapest first: the product of the parts' dominant line solves;
    the phi-averaged one (:mod:`fpstt.numerics.averaged`, for the stiff block at a chart's pole);
    and the exact one, a sparse LU of the window's system (:mod:`fpstt.numerics.direct`).  A solve
    whose residual falls by less than 10x in one iteration switches between the first two, once;
    one that then stalls (its residual falls by less than _SLOW = 0.3x in an iteration, or
    _PATIENCE = 8 iterations pass) switches to the exact inverse, with which it converges in
    one iteration.
    The next solve starts with the inverse that served last (``inverse``).  A solve is
    converged when its residual is below TOLERANCE of the right-hand side or below the
    rounding of its own evaluation, eps (2 + b max_i sum_j |L_ij|) (stiff polar rows put that
    above TOLERANCE).  The step is taken as ``substeps`` equal steps, as many as make each at
    most ``longest``.  ``iterations`` records the solves; ``worst_residual`` is the largest
    relative residual of a solve that stopped short of convergence (0: none).
    """

    build_solves = 4     # building one (line factors, phi-averaged inverse) costs about this
                         # many of its solves (443 x 384 cells: 65 ms against 20 ms)

    def __init__(self, backend: LineBackend, tau: float, scheme: str,
                 longest: float = math.inf, inverse: str = "lines"):
        if scheme not in ("tr-bdf2", "be"):
            raise ValueError(f"line schemes take 'tr-bdf2' or 'be', got {scheme!r}")
        self.backend, self.scheme, self.tau = backend, scheme, tau
        self.n_factorizations, self.iterations, self.worst_residual = 0, [], 0.0
        self.inverse = inverse              # the inverse each solve starts with
        self.longest, self.on_exact = longest, None     # on_exact(self): before the exact LU
        self.substeps = max(1, math.ceil(tau / longest - 1e-9))
        self.h = tau / self.substeps
        self.b = self.coefficient(tau)
        rows, n_phi = self.backend.shape
        self.factors = [(part, part.limited(self.b, self.backend.row_measure).factor(self.b),
                         None if part.cyclic                # else line l at (i, l + shift_i)
                         else part.index[0] - n_phi * np.arange(rows))
                        for part in self.backend.lines.values()]
        self.n_factorizations += len(self.factors)
        self._built = {"lines": self._approximate_inverse}      # the others when first needed
        row_sums = sum((np.abs(d) + np.abs(lo) + np.abs(up)
                        for _, d, lo, up in self.backend.grid_parts), np.zeros(self.backend.shape))
        self.tolerance = max(TOLERANCE, np.finfo(float).eps * (2 + self.b * row_sums.max()))

    def _inverse(self, name: str):
        """The inverse called ``name`` ("lines", "averaged" or "direct"), factorised on first
        use; the exact one is held by the backend's store alone (so its cap frees memory)."""
        if name == "direct":
            inverse, made = self.backend.exact.inverse(self.backend, self.b)
            self.n_factorizations += made
            return inverse
        if name not in self._built:
            self._built[name] = PhiAveragedInverse(self.backend, self.b)
            self.n_factorizations += 1
        return self._built[name]

    def coefficient(self, tau: float) -> float:
        """b of the systems I - b L of a step ``tau`` with this scheme and longest substep."""
        h = tau / max(1, math.ceil(tau / self.longest - 1e-9))
        return (_GAMMA / 2 if self.scheme == "tr-bdf2" else 1.0) * h

    def step(self, x):
        for _ in range(self.substeps):
            x = self._one_step(x)
        return x

    def _one_step(self, x):
        if self.scheme == "be":
            return self._solve(x)
        g, h = _GAMMA, self.h
        mid = self._solve(x + 0.5 * g * h * self.backend.matvec(x))
        return self._solve(mid / (g * (2 - g)) - (1 - g) ** 2 / (g * (2 - g)) * x)

    def _approximate_inverse(self, r):
        x = np.ascontiguousarray(r, dtype=float)
        for part, lu, shift in self.factors:
            if part.cyclic:                          # phi lines are the rows
                x = lu.solve(x.ravel()).reshape(r.shape)
            else:
                x = lu.solve_on_grid(x, shift)
        return x

    def _solve(self, rhs):
        """(I - b L) y = rhs by defect correction, to ``tolerance`` of max |rhs|, moving on
        to the next inverse when one converges slowly (class docstring)."""
        scale = float(np.max(np.abs(rhs))) or 1.0
        inverse, switched = self._inverse(self.inverse), False
        y, previous = np.array(inverse(rhs)), math.inf      # own copy: updated in place
        for k in range(_MAX_ITERATIONS):
            residual = self.backend.matvec(y)           # rhs - (I - b L) y, in place
            residual *= self.b
            residual += rhs
            residual -= y
            size = max(float(residual.max()), -float(residual.min())) / scale
            if size <= self.tolerance:
                break
            stalled = size > _SLOW * previous or k == _PATIENCE
            if self.inverse != "direct" and not switched and size > 0.1 * previous:
                self.inverse = "averaged" if self.inverse == "lines" else "lines"
                inverse, switched = self._inverse(self.inverse), True
            elif self.inverse != "direct" and stalled:
                self.inverse = "direct"
                if self.on_exact is not None:
                    self.on_exact(self)
                inverse = self._inverse(self.inverse)
            previous = size
            y += inverse(residual)
        self.iterations.append(k)
        if size > self.tolerance:
            self.worst_residual = max(self.worst_residual, size)
        return y
