"""Cell width in U of an attractor chart, from the initial state's width where it starts.

An attractor chart (docs/theory.md §12) is uniform in U = ln tan(theta_c / 2): a cell is
``ell du`` rad long in both directions (du = dphi), ``ell = r sin theta_c`` with r the
chart's conformal factor (rad on the sphere per rad of theta_c).  Near the chart's poles
``ell`` falls like theta_c, so a state centred on the attractor or the repeller is resolved
relative to its own width (about 1 / du cells per width) whatever du is; a state that starts
away from the poles, where ``ell`` is largest, is what needs fine cells.
:func:`attractor_du` chooses du so that the initial state has
:data:`CELLS_PER_WIDTH` cells across its narrowest width where the cells are widest.
"""

from __future__ import annotations

import math

import numpy as np

from .attractor import _tangent_basis, contraction_rate, from_stereographic, settle_all
from ..sphere.grid import angle_between, angles

__all__ = ["CELLS_PER_WIDTH", "state_width", "cells_per_width", "attractor_du",
           "other_attractors"]

CELLS_PER_WIDTH = 5.3        # Table I with a tilted easy axis: 5.27 at du 0.0092 met Monte
#                              Carlo within 2.2 s.e., 2.6 (du 0.0184) missed it by 7 s.e.
_RING = 16                   # points on the state's rim where the cell length is taken
_HESSIAN_STEP = 1e-4         # rad: finite-difference step of the state's curvature
_PROBE_RADII = (1.0,)        # widths from the mode of the probes of other_attractors
_PROBE_DRAWS = 24            # ... and draws of the initial state among them (a second well)
_SAME_POINT = 1e-3           # rad: fixed points closer than this are the same


def state_width(initial) -> float:
    """Narrowest width (rad, at most 1) of ``initial`` at its most probable direction b:
    1 / sqrt(largest curvature of -ln P across b), by central differences of ln P per
    steradian on the tangent plane (Eq. 13: kappa for a vMF state; kappa + 2 delta for an
    easy axis along the field)."""
    b = initial.direction
    basis = _tangent_basis(b)
    h = _HESSIAN_STEP

    def log_p(x, y):
        n = b + x * basis[0] + y * basis[1]
        return float(np.log(initial.per_area(*angles((n / np.linalg.norm(n))[:, None]))[0]))

    centre = log_p(0.0, 0.0)
    xx = (log_p(h, 0) - 2 * centre + log_p(-h, 0)) / h ** 2
    yy = (log_p(0, h) - 2 * centre + log_p(0, -h)) / h ** 2
    xy = (log_p(h, h) - log_p(h, -h) - log_p(-h, h) + log_p(-h, -h)) / (4 * h * h)
    curvature = float(np.max(np.linalg.eigvalsh(-np.array([[xx, xy], [xy, yy]]))))
    return 1.0 / math.sqrt(max(curvature, 1.0))


def state_spread(initial, samples: int = 4000) -> float:
    """Spread (rad) of ``initial`` over the sphere: the root of the summed variances of n,
    sqrt(1 - |<n>|^2), from ``samples`` draws of a fixed seed (a vMF state of width w:
    ~sqrt(2) w; a state in two opposite wells: ~1)."""
    n = initial.sample(samples, np.random.default_rng(0))
    return math.sqrt(max(1.0 - float(np.sum(np.mean(n, axis=0) ** 2)), 0.0))


def cells_per_width(chart, initial, du: float) -> float:
    """Cells of width ``du`` in U across the narrowest width w of ``initial``
    (:func:`state_width`), where the chart's cells are longest on the circle of radius w
    about its centre (or at the centre): w / (du max ell), ell = sqrt(area_factor
    sin theta_c) = r sin theta_c (module docstring)."""
    b, w = initial.direction, state_width(initial)
    a, c = _tangent_basis(b)
    turn = np.linspace(0.0, 2 * np.pi, _RING, endpoint=False)
    rim = (math.cos(w) * b[:, None]
           + math.sin(w) * (np.outer(a, np.cos(turn)) + np.outer(c, np.sin(turn))))
    points = np.concatenate([b[:, None], rim], axis=1)
    theta_c, phi_c = chart.from_lab(*angles(points))
    ell = np.sqrt(chart.area_factor(theta_c, phi_c) * np.sin(theta_c))
    return w / (du * float(np.max(ell)))


def attractor_du(chart, initial, finest: float, coarsest: float,
                 cells: float = CELLS_PER_WIDTH) -> float:
    """du of a chart: ``cells`` (:data:`CELLS_PER_WIDTH`) cells across the initial state's
    narrowest width where its cells are longest (:func:`cells_per_width`), within
    [``finest``, ``coarsest``]."""
    du = finest * cells_per_width(chart, initial, finest) / cells
    return float(min(max(du, finest), coarsest))



def other_attractors(model, chart, initial, du: float, noise: float) -> tuple[int, int, float]:
    """(probes that settle away from both poles of ``chart``, probes, largest angle in rad of
    such an end from the chart's attractor) of the noiseless flow from the mode of
    ``initial`` and 8 points on the circle of one width about it
    (:func:`~fpstt.flow.attractor.settle_all`; a probe that settles nowhere counts, angle 0),
    and _PROBE_DRAWS = 24 draws of ``initial`` (fixed seed) that settle at another attractor
    where the state would be under 2 cells of width ``du`` across (:func:`_unresolved`,
    ``noise`` the model's D).

    The chart resolves the mass that collapses onto either pole; mass that the flow takes to
    another attractor collapses where the cells are ``ell du`` long: model-space seed 2 row
    14 (probes split between its attractors) was 18 s.e. off Monte Carlo in its mean at
    2 t_n, 7.4 on cells of du 0.0092.  The draws find the mass of a state in two wells (a
    Boltzmann state below a low barrier) that the probes about its mode miss: seed 6 row 5
    (in-plane terms; half its mass in a well 0.0017 rad wide at +z', 90 degrees from the
    chart's poles) was 12 s.e. off Monte Carlo in std with no warning.  A draw is counted
    only where the state would be unresolved: seeds 1-5 have two-well starts (seed 2 rows 10,
    19) that met Monte Carlo in their attractor charts."""
    b, w = initial.direction, state_width(initial)
    a, c = _tangent_basis(b)
    poles = [from_stereographic(chart.zeta_s), from_stereographic(chart.zeta_u)]
    rate = max(abs(model.C1), 1e-12)
    probes = [b] + [math.cos(r * w) * b + math.sin(r * w) * (math.cos(t) * a + math.sin(t) * c)
                    for r in _PROBE_RADII for t in np.arange(8) * np.pi / 4]
    about_mode = len(probes)
    probes += list(initial.sample(_PROBE_DRAWS, np.random.default_rng(0)))
    others, farthest = 0, 0.0
    for k, (end, _) in enumerate(settle_all(model, np.array(probes).T, rate)):
        # None: settles nowhere, not resolved either (counted for the probes about the mode)
        apart = [0.0, 0.0] if end is None else [float(angle_between(end, pole))
                                                for pole in poles]
        elsewhere = end is None or min(apart) > _SAME_POINT
        if elsewhere and (k < about_mode
                          or end is not None and _unresolved(model, chart, end, du, noise)):
            others, farthest = others + 1, max(farthest, apart[0])
    return others, len(probes), farthest


def _unresolved(model, chart, end, du: float, noise: float) -> bool:
    """The stationary width sqrt(D / |lam|) at the attractor ``end`` (lam its mean rate of
    approach) is under 2 of the chart's cells there, ``ell du`` long."""
    lam = contraction_rate(model, end)
    theta_c, phi_c = chart.from_lab(*angles(end[:, None]))
    ell = float(np.sqrt(chart.area_factor(theta_c, phi_c) * np.sin(theta_c))[0])
    return lam >= 0 or math.sqrt(noise / abs(lam)) < 2 * ell * du
