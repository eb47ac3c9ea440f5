"""Error estimates by coarsening: how far a result is from the converged answer, in numbers.

:func:`coarsening_estimate` repeats a run on the grid with twice the cell width in U and
half the phi cells (twice the step; each coarse edge is a fine edge, so the comparison
remaps exactly) and measures the L1 change of every output density on
the coarse grid.  The split schemes are second order, so the error of the fine run is about
a third of that change; ``docs/validation.md`` checks this calibration against a 2x refined
reference on Table I.
"""

from __future__ import annotations


from ..sphere.grid import SphereGrid
from ..analysis.observables import l1_distance, remap
from ..integration.stepping import solve

__all__ = ["coarsening_estimate", "advice"]

ORDER = 2
TARGET = 1e-3
"""The L1 error below which :func:`advice` calls a result resolved."""


def coarsening_estimate(model, grid, p0_of_grid, solution, runner=None) -> dict:
    """Estimated L1 error of ``solution`` at each output time (units: mass, ≤ 2).

    ``p0_of_grid(grid)`` returns the initial cell averages on a grid (e.g.
    ``gibbs.cell_averages``); ``runner(grid, p0, times)`` repeats the run (default
    :func:`~fpstt.integration.stepping.solve` of ``model`` with the solution's scheme; a pulse passes
    :func:`~fpstt.integration.driven.solve_pulse`).  Returns ``l1_change`` (fine vs coarse, on the
    coarse grid), ``estimate`` = l1_change / (2**2 - 1), and the coarse grid's shape.
    """
    coarse = SphereGrid.mercator(2 * grid.du, *grid.u_range, grid.n_phi // 2, grid.chart,
                                 grid.plan)          # every coarse edge is a fine edge
    if runner is None:
        def runner(g, p0, times):
            return solve(model, g, p0, times, scheme=solution.diagnostics["scheme"])
    rough = runner(coarse, p0_of_grid(coarse), solution.times)
    change = [l1_distance(coarse, remap(p, grid, coarse), q) for p, q in zip(solution.p, rough.p)]
    return dict(l1_change=change, estimate=[c / (2 ** ORDER - 1) for c in change],
                coarse_shape=list(coarse.shape))


def advice(estimate: dict, target: float = TARGET) -> str:
    """One line: the largest estimated error and what to do if it exceeds ``target``."""
    worst = max(estimate["estimate"])
    if worst <= target:
        return f"estimated L1 error ≤ {worst:.1e} at every output (from a 2x coarser run)"
    factor = (worst / target) ** (1 / ORDER)
    return (f"estimated L1 error up to {worst:.1e} (from a 2x coarser run): refine du and "
            f"n_phi by about {factor:.1f}x (--n-theta, --n-phi) for {target:.0e}")
