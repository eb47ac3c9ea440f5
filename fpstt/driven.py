"""Runs under a current pulse (issue 14): the drive s(t) of a :class:`~fpstt.magnet.Pulse`
scales C1 by s and C2 by sqrt(s) (Eq. 14).  The drive is piecewise constant
(:meth:`Pulse.segments`: exact for a rectangular pulse, ramps in 16 steps each), and each
piece is an ordinary run of the model at that drive, started from the previous end state.
"""

from __future__ import annotations

import re
import warnings

import numpy as np

from .flowplan import grid_plan
from .stepping import Solution, solve

__all__ = ["solve_pulse"]


def solve_pulse(model, grid, p0, times, pulse, *, scheme: str | None = None,
                dt: float | None = None, progress: bool = False) -> Solution:
    """:func:`fpstt.stepping.solve` under the current pulse ``pulse`` (None: constant drive).

    ``model`` is the model at full drive; ``grid`` a z'-frame grid (a Möbius chart belongs to
    one drive).  ``scheme`` None: each piece's :attr:`~fpstt.flowplan.FlowPlan.piece_scheme`,
    from the plan of the model at that drive on ``grid``.  Returns one :class:`Solution` at
    ``times``: ``p[k]`` is the (theta, phi) density (carries sin theta) at ``times[k]``;
    diagnostics add up over the pieces.
    """
    if pulse is None:
        return solve(model, grid, p0, times, scheme=_scheme(model, grid, scheme), dt=dt,
                     progress=progress)
    if grid.chart is not None:
        raise ValueError("a pulse needs a z'-frame grid, default_grid(..., attractor=False): "
                         "the Möbius chart of a field kept on changes with the drive")
    times = np.asarray(times, float)
    p = grid.cell_average(p0) if callable(p0) else np.asarray(p0, float)
    out, masses, parts, heard = [], [], [], []
    if times[0] == 0:
        out.append(p), masses.append(float(np.sum(p * grid.cell_measure)))
    for t0, t1, s in pulse.segments(float(times[-1])):
        inside = times[(times > t0) & (times <= t1)]
        piece = np.union1d(inside, [t1]) - t0
        driven = model.with_drive(s)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sol = solve(driven, grid, p, piece, scheme=_scheme(driven, grid, scheme),
                        dt=dt, progress=progress)
        heard += [(w.category, str(w.message)) for w in caught]
        for k, t in enumerate(piece + t0):
            if np.any(np.isclose(t, inside, rtol=0, atol=1e-12)):
                out.append(sol.p[k]), masses.append(sol.mass[k])
        p, parts = sol.p[-1], parts + [sol.diagnostics]
    _warn_once(heard, len(parts))
    return Solution(grid, times, np.array(out), np.array(masses), _combined(parts),
                    dict(pulse=dict(width=pulse.width, rise=pulse.rise, fall=pulse.fall)))


def _scheme(model, grid, scheme: str | None) -> str:
    """``scheme``, or else the piece scheme of ``model``'s plan on ``grid``."""
    return scheme if scheme is not None else grid_plan(model, grid).piece_scheme


def _warn_once(heard, n_pieces: int) -> None:
    """Each kind of warning of the pieces once: the one with the largest number in it."""
    kinds = {}
    for category, text in heard:
        kind = (category, re.sub(r"-?[0-9][0-9.e+-]*", "#", text))
        numbers = re.findall(r"[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?", text)
        size = max((float(v) for v in numbers), default=0.0)
        if kind not in kinds or size > kinds[kind][0]:
            kinds[kind] = (size, category, text)
    for _, category, text in kinds.values():
        warnings.warn(f"{text} (the worst of {n_pieces} pulse pieces)", category, stacklevel=3)


def _combined(parts: list[dict]) -> dict:
    """The diagnostics of the pieces, added up (steps, time) or worst-case (errors)."""
    return dict(
        pieces=len(parts), n_steps=sum(d["n_steps"] for d in parts),
        wall_time_s=sum(d["wall_time_s"] for d in parts),
        max_mass_error=max(d["max_mass_error"] for d in parts),
        min_p_ratio=min(d["min_p_ratio"] for d in parts),
        min_p_ratio_output=min(d["min_p_ratio_output"] for d in parts),
        dt=max(d["dt"] for d in parts), dt_min=min(d["dt"] for d in parts),
        schemes=sorted({d["scheme"] for d in parts}),
        warnings=sorted({w for d in parts for w in d["warnings"]}))
