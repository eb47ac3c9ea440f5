"""Departure points of a 1-D autonomous flow along grid lines from transit times, for any step.

A directional sweep of :class:`~fpstt.numerics.remap.FlowRemap` traces the edges of each line back
along x' = f(x), the line's own velocity (phi' along a row, theta' along a meridian).  With
RK4 its cost grows with the step and the stiffness: next to a pole of the z' frame a field
that is not along z' has phi' ~ 1/sin theta, and a row at theta = 2.5e-4 needed 1 000 - 4 000
RK4 steps for one remap (26 s of a 43 s piece, issue 23).  Here the flow is integrated once
instead: f is sampled on ``SAMPLES`` points per cell, taken as linear between samples, and
the transit time across each sub-interval is exact for that f,

.. math::
    t_i = \\int_{x_i}^{x_{i+1}} \\frac{dx}{f} = h \\frac{\\ln|f_{i+1}| - \\ln|f_i|}{|f_{i+1}| - |f_i|},

(the logarithmic mean of |f|), infinite where f changes sign (a fixed point, which no
trajectory crosses).  A departure point over any step tau is then found by summing transit
times back from the edge and inverting the last sub-interval exactly,
x = x_k + f_k expm1(-kappa r) / kappa with kappa the slope of f there; a trajectory that
runs into a fixed point approaches it as exp(-kappa r), and one that reaches a meridian's
end (a pole) stops there, as the RK4 trace clamps it.  Cost: ``SAMPLES`` velocity
evaluations per edge once, then a search per step size, whatever the stiffness; second order
in the sample width (exact for a velocity linear along the line).

:class:`TransitTracer` has the signature of the RK4 trace of :mod:`fpstt.numerics.remap` and keeps its
tables, so the remaps of one velocity for every step of a run (the pieces of a pulse) share
one sampling.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["TransitTracer", "transit_back", "SAMPLES", "BLOCKED"]

SAMPLES = 4                  # velocity samples per cell of a line
BLOCKED = 100.0              # t_n: the transit time of an interval holding a fixed point


class TransitTracer:
    """``tracer(rate, y, tau, limits=None)`` -> the points y (lines, points) traced back over
    tau along y' = rate(y, lines), as ``fpstt.numerics.remap._rk4_back``; y are a line's cell edges
    (the same on every line): periodic lines (2 pi, ``limits`` None) or meridians between
    ``limits`` (their ends are the poles).  The tables of a (shape, limits) are made on the
    first call and reused: one tracer serves one velocity on one grid."""

    def __init__(self):
        self.tables = {}

    def __call__(self, rate, y, tau: float, limits=None):
        key = (y.shape, limits)
        if key not in self.tables:
            self.tables[key] = _Table(rate, y, limits)
        return self.tables[key].back(float(tau))


def transit_back(rate, y, tau: float, limits=None):
    """The points y (lines, points) traced back over tau along y' = rate(y, lines) from
    one table of transit times (what :class:`TransitTracer` does without keeping it)."""
    return _Table(rate, y, limits).back(float(tau))


class _Table:
    """Velocity samples and transit times of every line of one sweep, searched for all lines
    at once (:func:`~fpstt.numerics.compiled.transit_departures`).  An interval holding a
    fixed point (f changes sign) gets the transit time ``BLOCKED`` (t_n), longer than any
    step, so that a search stops inside it, where the exact inversion approaches the fixed
    point as exp(-kappa r); a periodic line is searched over three turns, its edges in the
    middle one, and its whole turns (a line with no fixed point, period P) are taken off
    first, so the search never leaves them."""

    def __init__(self, rate, y, limits):
        edges = y[0]
        self.periodic = limits is None
        full = (np.append(edges, edges[0] + 2 * math.pi) if self.periodic
                else np.concatenate([[limits[0]], edges, [limits[1]]]))
        fine = (full[:-1, None] + np.diff(full)[:, None]
                * np.arange(SAMPLES)[None, :] / SAMPLES).ravel()
        self.x = np.append(fine, full[-1])                     # samples, shared by the lines
        lines = np.arange(y.shape[0])
        self.f = np.array(rate(np.broadcast_to(self.x, (lines.size, self.x.size)).copy(),
                               lines), dtype=float)
        if self.periodic:
            self.f[:, -1] = self.f[:, 0]
        from .compiled_transit import transit_times         # numba: loaded on first use
        h = np.diff(self.x)
        self.kappa = np.diff(self.f, axis=1) / h
        t = transit_times(self.f, h, BLOCKED)
        self.q = np.concatenate([np.zeros((lines.size, 1)), np.cumsum(t, axis=1)], axis=1)
        self.at = SAMPLES * np.arange(edges.size) + (0 if self.periodic else SAMPLES)
        # a meridian, or a circle with a fixed point, never turns: its "period" is BLOCKED
        self.period = self.q[:, -1].copy() if self.periodic else np.full(lines.size, BLOCKED)

    def back(self, tau: float):
        """Departure points (lines, edges) of the edges over tau (unwrapped when periodic)."""
        if not 0 <= tau < BLOCKED / 10:
            raise ValueError(f"`tau` must be in [0, {BLOCKED / 10:g}) t_n, got {tau!r}")
        from .compiled_transit import transit_departures
        return transit_departures(self.x, self.f, self.kappa, self.q, self.at, self.period,
                                  self.periodic, float(tau))
