"""Sparse LU of a grid operator in a nested-dissection order: the one place fpstt factorises
a system (I - b L) on a (theta, phi) grid.

Every implicit operator fpstt assembles couples a cell only to cells in the adjacent theta rows
and the adjacent phi columns (a 5- or 9-point stencil, periodic in phi).  For such a graph the
geometric nested-dissection order (George 1973) is close to optimal: cut the ring of cells into
two boxes by two phi columns, cut each box through the middle of its longer side by one row or
column, recurse, and number every separator after the two parts it separates.  The order is
computed from the grid's shape alone, so it is exact, cheap, and the same for every model.

SuperLU's own minimum-degree orderings do not see the geometry, and on some grids their
ordering time alone dominates: I - 0.03 L of model-space seed 2 row 9 (682 x 384 cells) took
8.4 s to factorise with minimum degree on A^T + A and 1.2 s in this order; on the other grids
measured the two are within 30 % (`validation/bench_ordering.py`, docs/performance.md).  The
order is a permutation only: the factorisation and the solution are those of the same matrix,
and partial pivoting stays on.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

__all__ = ["nested_dissection", "GridLU"]

LEAF = 64
"""Boxes of at most this many cells are numbered row by row, not cut further."""


def nested_dissection(shape: tuple[int, int], leaf: int = LEAF) -> np.ndarray:
    """Elimination order of the cells of a (rows, n_phi) grid, periodic in phi.

    Parameters
    ----------
    shape : (rows, n_phi)
        The grid; cell (i, j) has the C-order index i * n_phi + j.
    leaf : int
        Boxes of at most this many cells are not cut further.

    Returns
    -------
    order : ndarray of int, shape (rows * n_phi,)
        A permutation of the cell indices: ``order[k]`` is the cell eliminated k-th.
    """
    rows, n_phi = shape
    cell = np.arange(rows * n_phi).reshape(rows, n_phi)
    if n_phi < 4 or rows * n_phi <= leaf:
        return cell.ravel()
    half = n_phi // 2
    parts = [_box(cell[:, 1:half], leaf), _box(cell[:, half + 1:], leaf),
             cell[:, [0, half]].ravel()]                  # two cuts open the periodic ring
    return np.concatenate(parts)


def _box(cell: np.ndarray, leaf: int) -> np.ndarray:
    """Nested-dissection order of a box of cell indices (not periodic)."""
    if cell.size <= leaf or min(cell.shape) == 0:
        return cell.ravel()
    if cell.shape[0] >= cell.shape[1]:
        mid = cell.shape[0] // 2
        first, second, separator = cell[:mid], cell[mid + 1:], cell[mid]
    else:
        mid = cell.shape[1] // 2
        first, second, separator = cell[:, :mid], cell[:, mid + 1:], cell[:, mid]
    return np.concatenate([_box(first, leaf), _box(second, leaf), separator.ravel()])


class GridLU:
    """Sparse LU of a matrix on the cells of a (rows, n_phi) grid, in nested-dissection order.

    Parameters
    ----------
    matrix : sparse matrix, shape (rows * n_phi, rows * n_phi)
        The system, on cells in C order.
    shape : (rows, n_phi)
        The grid.

    Notes
    -----
    ``solve(r)`` takes and returns arrays of the grid's shape (cell averages of a density in
    (theta, phi), or whatever the system acts on).
    """

    def __init__(self, matrix, shape: tuple[int, int]):
        self.shape = tuple(shape)
        self.order = nested_dissection(self.shape)
        permuted = sp.csc_matrix(matrix)[self.order][:, self.order]
        self.lu = splu(permuted.tocsc(), permc_spec="NATURAL")

    def solve(self, r: np.ndarray) -> np.ndarray:
        x = np.empty(self.order.size, dtype=np.result_type(r, float))
        x[self.order] = self.lu.solve(np.ascontiguousarray(r).ravel()[self.order])
        return x.reshape(self.shape)
