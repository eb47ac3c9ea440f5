"""A chart for a flow with no Möbius chart: poles at the flow's attractor and repeller.

An anisotropy or damping makes the noiseless flow non-conformal (:mod:`fpstt.chart`): no
chart makes it a translation.  The z' frame still shifts its spin-transfer part exactly, but
its poles are not where the flow goes: the density collapses onto an attractor away from
z', where cells uniform in u about z' are coarse, and the rest of the flow crosses the pole,
where phi' ~ 1/sin(theta) defeats a directional split.  This module finds the fixed points
of the flow (the attractor reached from the initial state, and the repeller it came from)
and returns the Möbius chart with those two points as its poles: cells are fine at both, and
every smooth flow is regular at a fixed point in polar coordinates (phi' stays bounded).
The chart's shift (a translation in U at the attractor's mean contraction rate) is exact;
:mod:`fpstt.remap` moves the rest of the flow.
"""

from __future__ import annotations

import numpy as np

from .chart import MobiusChart
from .pushforward import _tangent_velocity, characteristics, surface_divergence

__all__ = ["fixed_point", "attractor_chart", "contraction_rate"]

_CHUNK, _CHUNKS = 4.0, 50    # a start is followed 4 / rate at a time, at most 50 times


def fixed_point(model, start, rate: float, forward: bool = True):
    """The fixed point of ``model``'s noiseless flow that ``start`` (a unit vector) reaches
    forward (``forward``) or backward in time, or None if it does not settle (its speed stays
    above 1e-10 per t_n over 200 / ``rate`` t_n, ``rate`` the flow's scale per t_n)."""
    end, flow = np.asarray(start, float)[:, None], _noiseless(model)
    chunk = _CHUNK / rate * (1 if forward else -1)
    for _ in range(_CHUNKS):
        end, _ = characteristics(model, end, chunk, log_jacobian=False)
        speed, _ = _tangent_velocity(flow, end)
        if np.linalg.norm(speed) < 1e-10:
            return end[:, 0]
    return None


def contraction_rate(model, point) -> float:
    """Half the surface divergence of the flow at ``point`` (per t_n): its mean rate of
    approach (< 0 at an attractor)."""
    return float(surface_divergence(_noiseless(model), np.asarray(point, float)[:, None])[0]) / 2


def attractor_chart(model, start) -> MobiusChart:
    """The Möbius chart whose pole theta_c = 0 is the attractor that ``start`` (a unit
    vector, e.g. the initial state's direction) flows to, and whose other pole is the repeller
    it flows from (the attractor's antipode if it came from no fixed point), with the exact
    shift U -> U + lam t at the attractor's mean contraction rate lam < 0.  ValueError if the
    flow has no attractor there (a limit cycle, a flow that does not contract)."""
    rate = max(abs(model.C1), 1e-12)
    stable = fixed_point(model, start, rate)
    if stable is None:
        raise ValueError("the noiseless flow from the initial state settles on no fixed point: "
                         "no attractor chart (use a z'-frame grid)")
    lam = contraction_rate(model, stable)
    if not lam < 0:
        raise ValueError(f"the flow's fixed point at {stable.round(4).tolist()} does not "
                         f"attract (mean rate {lam:.3g} per t_n): no attractor chart")
    unstable = fixed_point(model, start, rate, forward=False)
    if unstable is None or np.linalg.norm(unstable - stable) < 1e-6:
        unstable = -stable
    return MobiusChart(_stereographic(stable), _stereographic(unstable), complex(lam, 0.0))


def _stereographic(n):
    """zeta = tan(theta/2) e^{i phi} of a unit vector of the z' frame (None at -z')."""
    if 1 + n[2] < 1e-14:
        return None
    return complex(n[0], n[1]) / (1 + n[2])


def _noiseless(model):
    return model.with_options(C2=0, thermal_D=0.0)
