"""Runs under a current pulse (issue 14): the drive s(t) of a :class:`~fpstt.physics.magnet.Pulse`
scales C1 by s and C2 by sqrt(s) (Eq. 14).  The drive is piecewise constant
(:meth:`Pulse.segments`: exact for a rectangular pulse, ramps in 16 steps each); its pieces
are a drive of the one run loop, :func:`fpstt.integration.stepping.solve` with ``pulse``.
"""

from __future__ import annotations

from ..flow.flowplan import grid_plan
from .stepping import Solution, solve

__all__ = ["solve_pulse"]


def solve_pulse(model, grid, p0, times, pulse, *, scheme: str | None = None,
                dt: float | None = None, progress: bool = False) -> Solution:
    """:func:`fpstt.integration.stepping.solve` of ``model`` (at full drive) under the current pulse
    ``pulse`` (None: constant drive) on ``grid`` (a z'-frame grid under a pulse).

    ``scheme`` None: each piece's :attr:`~fpstt.flow.flowplan.FlowPlan.piece_scheme` at its
    drive (at constant drive the plan's ``piece_scheme`` too).  Returns one
    :class:`Solution` at ``times``: ``p[k]`` is the (theta, phi) density (carries sin theta)
    at ``times[k]``.
    """
    if pulse is None and scheme is None:
        scheme = grid_plan(model, grid).piece_scheme
    return solve(model, grid, p0, times, scheme=scheme, pulse=pulse, dt=dt, progress=progress)
