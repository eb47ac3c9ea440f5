"""Runs under a current pulse (issue 14): the drive s(t) of a :class:`~fpstt.magnet.Pulse`
scales C1 by s and C2 by sqrt(s) (Eq. 14).  The drive is piecewise constant
(:meth:`Pulse.segments`: exact for a rectangular pulse, ramps in 16 steps each), and each
piece is an ordinary run of the model at that drive, started from the previous end state.
"""

from __future__ import annotations

import re
import warnings

import numpy as np

from .chart import grid_chart_for, is_mobius
from .stepping import Solution, solve

__all__ = ["solve_pulse", "segment_scheme", "default_scheme"]


def default_scheme(model) -> str:
    """The scheme a model gets when none is asked for: split TR-BDF2 where it follows the
    flow (a Möbius flow in its chart; a flow with spin-transfer torque whose rest depends on
    phi, remapped by :mod:`fpstt.remap`), else TR-BDF2 on the full operator (no torque, or
    the axially symmetric magnet on the Fourier path)."""
    remapped = model.C1.imag != 0 and not model.phi_independent and not is_mobius(model)
    return "split-tr-bdf2" if remapped or is_mobius(model) else "tr-bdf2"


def segment_scheme(model, grid, scheme: str | None) -> str:
    """The scheme of one piece: ``scheme`` if given, else the split scheme where the piece's
    flow is followed on ``grid`` (its Möbius chart; the z' frame with the rest of the flow
    remapped when it depends on phi: a field kept on under a pulse, a tilted easy axis, also
    while the drive is off; the z' frame for a driven Möbius flow whose fixed points are ±z'),
    else TR-BDF2 on the full operator.  (A field kept on with the drive off, a precession of a
    narrow state, was 2.5x too broad in std after 0.5 t_n with TR-BDF2's fluxes on the z'
    grid, within 1 s.e. of Monte Carlo remapped.)  (For the axially symmetric anisotropy of the device
    example the split scheme was less accurate than TR-BDF2: 2.2 % against 1.2 % in WER at
    12 t_n, with the rest implicit.)"""
    if scheme is not None:
        return scheme
    if grid.chart is not None:                         # the flow's own Möbius chart
        return "split-tr-bdf2"
    if not model.phi_independent:                      # the rest of the flow remapped
        return "split-tr-bdf2"
    exact = model.C1.imag != 0 and is_mobius(model) and grid_chart_for(model).is_identity
    return "split-tr-bdf2" if exact else "tr-bdf2"


def solve_pulse(model, grid, p0, times, pulse, *, scheme: str | None = None,
                dt: float | None = None, progress: bool = False) -> Solution:
    """:func:`fpstt.stepping.solve` under the current pulse ``pulse`` (None: constant drive).

    ``model`` is the model at full drive; ``grid`` a z'-frame grid (a Möbius chart belongs to
    one drive).  Returns one :class:`Solution` at ``times``: ``p[k]`` is the (theta, phi)
    density (carries sin theta) at ``times[k]``; diagnostics add up over the pieces.
    """
    if pulse is None:
        return solve(model, grid, p0, times, scheme=segment_scheme(model, grid, scheme), dt=dt,
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
            sol = solve(driven, grid, p, piece, scheme=segment_scheme(driven, grid, scheme),
                        dt=dt, progress=progress)
        heard += [(w.category, str(w.message)) for w in caught]
        for k, t in enumerate(piece + t0):
            if np.any(np.isclose(t, inside, rtol=0, atol=1e-12)):
                out.append(sol.p[k]), masses.append(sol.mass[k])
        p, parts = sol.p[-1], parts + [sol.diagnostics]
    _warn_once(heard, len(parts))
    return Solution(grid, times, np.array(out), np.array(masses), _combined(parts),
                    dict(pulse=dict(width=pulse.width, rise=pulse.rise, fall=pulse.fall)))


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
