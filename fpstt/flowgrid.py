"""Flow-adapted grids: cells uniform in U = ln tan(theta_c/2) of the flow's Möbius chart.

:func:`default_grid` chooses the chart (:func:`~fpstt.chart.chart_for`), the cell width du
(an accuracy choice, independent of the drive), the step dt = du / rate that divides every
output time, and the U range that covers the initial state.
"""

from __future__ import annotations

import math

import numpy as np

from .chart import grid_chart_for
from .grid import SphereGrid, angles, mercator_theta, unit_vector

__all__ = ["DEFAULT_DU", "default_grid", "check_times", "default_dt", "cap_error_bound",
           "rows_per_step"]


def check_times(times) -> np.ndarray:
    """Validate output times (units of t_n): finite, ≥ 0, strictly increasing."""
    t = np.atleast_1d(np.asarray(times, dtype=float))
    if t.ndim != 1 or t.size == 0:
        raise ValueError("`times` must be a non-empty 1-D sequence")
    if not np.all(np.isfinite(t)) or t[0] < 0 or np.any(np.diff(t) <= 0):
        raise ValueError(f"`times` must be finite, ≥ 0 and strictly increasing, got {t.tolist()}")
    return t


DEFAULT_DU = 0.0184          # cell width in U = ln tan(theta_c/2): Table I's 1/300 t_n step
_CAP_ERROR = 1e-11           # L1 error the pole cap next to an initial state may cost
_U_MAX_LIMIT = 12.0          # theta edges near pi keep their precision up to here
_U_MAX_TAILS = 16.0          # ... and, for the rows' own masses (tails), up to here
CHART_STEP = 0.01            # longest directional implicit step, t_n (docs/validation.md §5)


def default_grid(model, times, *, du: float | None = None, steps_per_unit: int | None = None,
                 n_phi: int = 384, u_min: float = -9.0, u_max: float | None = None,
                 initial=None, cap_error: float = _CAP_ERROR) -> SphereGrid:
    """Flow-adapted grid for the split schemes: cells uniform in U = ln tan(theta_c/2).

    In the Möbius chart of the model's noiseless flow (:func:`~fpstt.chart.chart_for`; the
    z' frame without a field, or for flows with no Möbius chart, such as an anisotropy) the
    flow is a translation in U.  The cell width is ``du``
    (default 0.0184, an accuracy choice that does not depend on the drive; narrowed to
    dphi / |shear| in a sheared chart so that the diagonal diffusion weights stay ≥ 0), and
    the step dt = rows du / shift rate (``rows`` = :func:`rows_per_step`) is adjusted down to
    divide every output time.
    ``steps_per_unit`` instead fixes dt ≤ 1 / steps_per_unit (t_n) and du = rate dt.
    [u_min, u_max] = [-9, 3.5] spans theta_c from 2.5e-4 to 3.0 rad plus the caps; when the
    ``initial`` state (a :class:`~fpstt.initial.GibbsState`) reaches beyond, u_max grows
    (up to 12) until treating the cap next to it as uniform costs ≤ ``cap_error`` in L1
    (default 1e-11; write-error rates ask for less, :mod:`fpstt.wer`).
    """
    chart = grid_chart_for(model)
    times = check_times(times)
    rate = abs(chart.shift_rate)
    if steps_per_unit is not None:
        if int(steps_per_unit) != steps_per_unit or steps_per_unit < 1:
            raise ValueError(f"`steps_per_unit` must be an integer ≥ 1, got {steps_per_unit!r}")
        du = rate * default_dt(times, 1.0 / steps_per_unit) if rate > 0 else DEFAULT_DU
    else:
        du = DEFAULT_DU if du is None else float(du)
        if not (du > 0 and math.isfinite(du)):
            raise ValueError(f"`du` must be finite and > 0, got {du!r}")
        if not chart.is_identity and chart.shear != 0:
            du = min(du, 2 * math.pi / n_phi / abs(chart.shear))
        if rate > 0:
            rows = rows_per_step(chart, du)
            du = rate * default_dt(times, rows * du / rate) / rows
    if u_max is None:
        u_max = _covering_u_max(chart, initial, cap_error)
    return SphereGrid.mercator(du, u_min, u_max, n_phi,
                               chart=None if chart.is_identity else chart)


def rows_per_step(chart, du: float) -> int:
    """Rows of translation per split step on a grid of cell width ``du`` in ``chart``.

    1 in the z' frame (the Fourier path, whose step is one row).  In a Möbius chart each
    step is a directional product of tridiagonal solves (:mod:`fpstt.lines`), whose step
    is chosen from its own accuracy: as many rows as fit in CHART_STEP t_n (at least one).
    """
    if chart is None or chart.is_identity:
        return 1
    return max(1, int(CHART_STEP * abs(chart.shift_rate) / du + 1e-9))


def _covering_u_max(chart, initial, cap_error: float, default: float = 3.5) -> float:
    """Smallest u_max ≥ ``default`` (steps of 0.25, at most 12) at which the far pole cap
    [theta_c(u_max), pi] costs ≤ ``cap_error`` in L1 (:func:`cap_error_bound`).  Beyond
    u = 12 the theta edges near pi lose precision in floating point (mass errors of 1e-10
    measured at u = 19).  Tail runs (``cap_error`` below the default) may go to u = 16: there
    the rows' relative widths are still good to 1e-7, and on the device example of
    ``docs/usage.md`` the results at every WER above the u = 12 floor did not move (1e-9)
    while the floor fell from 5e-15 to 4e-21."""
    if initial is None:
        return default
    limit = _U_MAX_LIMIT if cap_error >= _CAP_ERROR else _U_MAX_TAILS
    for u in np.arange(default, limit, 0.25):
        if cap_error_bound(chart, initial, u) <= cap_error:
            return float(u)
    return limit


def cap_error_bound(chart, initial, u_max: float) -> float:
    """Bound on the L1 error of treating the far pole cap [theta_c(u_max), pi] of ``initial``
    (a :class:`~fpstt.initial.GibbsState`) as uniform per steradian.

    The error is at most the cap's mass times the relative variation of the density over
    it; the mass is bounded by the cap's area times the largest density on its rim (or the
    peak, if the cap holds the state's centre).
    """
    phi_c = np.linspace(0, 2 * np.pi, 256, endpoint=False)
    b = initial.direction
    peak = float(initial.per_area(initial.theta_b, initial.phi_b))
    theta_c = np.full_like(phi_c, float(mercator_theta(u_max)))
    to_lab = (lambda th, ph: (th, ph)) if chart.is_identity else chart.to_lab
    rim = unit_vector(*to_lab(theta_c, phi_c))
    pole = unit_vector(*to_lab(np.pi, 0.0))
    radius = float(np.max(np.arccos(np.clip(pole @ rim, -1, 1))))
    inside = math.acos(min(1.0, float(pole @ b))) < radius
    on_rim = initial.per_area(*angles(rim))
    rho = peak if inside else float(np.max(on_rim))
    centre = float(initial.per_area(*angles(pole)))
    variation = min(1.0, float(np.max(np.abs(on_rim - centre))) / max(rho, 1e-300))
    return rho * 2 * math.pi * (1 - math.cos(radius)) * variation


def default_dt(times, dt_max: float = 0.01) -> float:
    """Largest dt ≤ dt_max dividing every output time (when they are commensurate)."""
    t_end = times[-1]
    if t_end == 0:
        return dt_max
    n = max(1, int(math.ceil(t_end / dt_max - 1e-9)))
    for k in range(n, n + 1000):
        dt = t_end / k
        if np.allclose(times / dt, np.round(times / dt), atol=1e-9, rtol=0):
            return dt
    return t_end / n
