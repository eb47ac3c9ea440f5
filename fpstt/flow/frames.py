"""The chart a grid runs in: chosen for a new grid from the model and its initial state, or
given by a grid already built (:func:`~fpstt.flow.flowplan.plan_flow` reads it)."""

from __future__ import annotations

import warnings

from .attractor import attractor_chart, from_stereographic, rate_ratio
from ..sphere.chart import MobiusChart
from .chartcells import other_attractors, state_spread
from .sizes import (CHART_SPREAD_MAX, NODE_RATIO_MIN, noise_dominated, noise_size, too_fine,
                    turn_capped, wide_at_attractor)

__all__ = ["chosen_frame", "given_frame", "warn_other_attractors"]


def chosen_frame(model, own, initial, attractor: bool):
    """(chart, carries the flow) that a new grid runs in: the flow's own Möbius chart (z'
    when its fixed points are ±z'), unless ``attractor`` is off and it is not z'; for a
    torque-driven flow with none whose rest depends on phi, given ``initial`` and
    ``attractor``, the chart of the attractor the state flows to, unless noise dominates
    (:func:`noise_dominated`: the unsplit relaxation, which runs in the z' frame; in an
    attractor chart it settled on the wrong state, seed 2 row 12: 76 s.e.), or unless
    that chart contracts too slowly for a state spread wider than CHART_SPREAD_MAX
    (:func:`~fpstt.flow.sizes.turn_capped`) or for cells of at least CHART_DU_MIN
    (:func:`~fpstt.flow.sizes.too_fine`), or unless its attractor is a node whose slow
    rate of approach is below NODE_RATIO_MIN = 0.3 of its fast one
    (:func:`~fpstt.flow.attractor.rate_ratio`: a hard axis with weak or no easy axis;
    model-space seed 6 row 17, an easy plane at ratio 0.012, was 12.9 s.e. off Monte Carlo
    unwarned in its attractor chart, 1.4 in the z' frame; rows 1, 9, 13, ratios 0.04-0.17,
    met it there too, 2-13x faster), or unless the noise holds the state at the attractor
    wider than WIDE_AT_ATTRACTOR = 0.1 rad (:func:`~fpstt.flow.sizes.wide_at_attractor`:
    seed 6 row 16 timed out in its chart, 5.5 s in the z' frame); else the z' frame, also
    when the state flows to no attractor (model-space seed 5 row 14, no damping: it was
    refused)."""
    if own is not None and (attractor or own.is_identity):
        return own, True
    zprime = MobiusChart(0j, None, 1j * model.C1)
    if (not attractor or own is not None or initial is None or model.C1.imag == 0
            or model.phi_independent or noise_dominated(model)):
        return zprime, False
    try:
        chart = attractor_chart(model, initial.direction)
    except ValueError:              # no attractor from there (a flow that does not contract)
        return zprime, False
    if turn_capped(model, chart) and (state_spread(initial) > CHART_SPREAD_MAX
                                      or too_fine(model, chart)):
        return zprime, False
    if rate_ratio(model, from_stereographic(chart.zeta_s)) < NODE_RATIO_MIN:
        return zprime, False
    if wide_at_attractor(model, chart):
        return zprime, False
    return chart, False


def given_frame(model, own, frame):
    """(chart, carries the flow) on a grid in ``frame`` (None: the z' frame)."""
    zprime = MobiusChart(0j, None, 1j * model.C1)
    if own is None:
        return (frame if frame is not None else zprime), False
    if frame is None:
        return (own, True) if own.is_identity else (zprime, False)
    if not frame.same_flow(own):
        raise ValueError("`grid` carries the chart of another flow; build it with "
                         "default_grid(model, times)")
    return frame, True


def warn_other_attractors(model, chart, initial, du: float) -> None:
    """RuntimeWarning, in numbers, when the noiseless flow takes part of ``initial`` to an
    attractor other than the chart's (:func:`~fpstt.flow.chartcells.other_attractors`): the
    chart cannot vouch for that mass."""
    others, probes, angle = other_attractors(model, chart, initial, du, noise_size(model))
    if others:
        warnings.warn(f"the noiseless flow takes {others} of {probes} probes of the initial "
                      f"state (its mode, 8 points one width about it, draws that end "
                      f"unresolved) to another attractor, "
                      f"{angle:.2f} rad from the chart's: the chart resolves only the mass at "
                      f"its own, and model-space seed 2 row 14 so split was 18 s.e. off Monte "
                      f"Carlo in its mean", RuntimeWarning, stacklevel=3)
