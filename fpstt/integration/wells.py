"""Wells stepped apart: a window's implicit pieces on the runs of rows that hold the mass, the
long empty runs between them frozen.

:class:`~fpstt.integration.implicit.WindowedImplicit` steps the rows from the first to the last
that hold more than its tolerance (1e-13) of the mass each, and the rows between: a state in
two wells must be stepped in both (model-space seed 5 row 19).  When the wells are far apart,
the rows between them hold less than the tolerance each and cost as much as the wells: model-
space seed 3 row 12 settles at its chart's pole in rows 0-330 of 896 while 3e-10 of its mass
stays in a second well at rows 800-830, and each of its last 230 steps solved an exact
system on all 896 rows.  Here such an empty run (at least GAP rows between the margins of the
rows that hold mass) is frozen as the rows outside a window are (they only shift and are
remapped; no flux crosses its edges, which are the pieces' window edges), and each run of
rows between frozen gaps is stepped by its own piece.  A frozen gap keeps 1/8 of its empty
rows stepped at each end (SLACK), so that a well whose tail spreads a little does not undo it
every step; a well that reaches into a frozen gap undoes it (the gap is stepped again).
Only exact pieces (sparse LU) are set apart: a line piece's solve converges to 1e-13 of the
largest value of its own window, and on a window that holds only a far tail at a chart's pole
(model-space seed 6 row 20, with issue 25's terms) it stalled where the whole window's did not,
and the run went exact on 992 rows (25 -> 43 s).
"""

from __future__ import annotations

import numpy as np

__all__ = ["GAP", "SLACK", "empty_runs", "to_freeze", "still_empty", "rows_in", "inside",
           "ApartPiece"]

GAP = 64        # rows: the shortest empty run between two wells that is frozen
SLACK = 8       # a frozen gap leaves 1/SLACK of its empty rows stepped at each end


def empty_runs(held: np.ndarray, margin: int) -> list[tuple[int, int]]:
    """The runs of rows [a, b) between the rows ``held`` (sorted indices of the rows that hold
    mass), less ``margin`` rows at each end, that are at least GAP rows long."""
    jumps = np.flatnonzero(np.diff(held) > 1)
    runs = [(int(held[k]) + 1 + margin, int(held[k + 1]) - margin) for k in jumps]
    return [(a, b) for a, b in runs if b - a >= GAP]


def to_freeze(runs, lo: int, hi: int) -> tuple:
    """The gaps to freeze in the window [lo, hi): its empty ``runs``, each less 1/SLACK of
    its rows at both ends, that stay at least GAP rows long."""
    gaps = []
    for a, b in runs:
        keep = (b - a) // SLACK
        a, b = max(a + keep, lo + 1), min(b - keep, hi - 1)
        if b - a >= GAP:
            gaps.append((a, b))
    return tuple(gaps)


def still_empty(gaps, runs) -> bool:
    """True while every frozen gap lies inside one of the state's empty ``runs``."""
    return all(any(a <= g0 and g1 <= b for a, b in runs) for g0, g1 in gaps)


def rows_in(gaps) -> int:
    """The rows the gaps hold."""
    return sum(b - a for a, b in gaps)


def inside(gaps, lo: int, hi: int) -> tuple:
    """The gaps that lie inside the window [lo, hi)."""
    return tuple((a, b) for a, b in gaps if lo < a and b < hi)


class ApartPiece:
    """The pieces of one step length on the rows of a window [lo, hi) between its frozen
    ``gaps``: ``parts`` is [(a, b, piece)], each stepping the rows a..b-1 of the grid."""

    def __init__(self, parts, lo: int, gaps: tuple):
        self.parts, self.lo, self.gaps = parts, lo, gaps
        self.n_factorizations = sum(piece.n_factorizations for _, _, piece in parts)

    def __getattr__(self, name):
        if name == "inverse":           # its line pieces' (they go exact together), if any
            return getattr(self.parts[0][2], name)
        raise AttributeError(name)

    def step(self, x):
        """The window's rows x (lo..hi-1) after the step, in a new array: each part's rows
        stepped by its piece, the gaps' rows as they were."""
        y = x.copy()
        for a, b, piece in self.parts:
            y[a - self.lo:b - self.lo] = piece.step(x[a - self.lo:b - self.lo])
        return y
