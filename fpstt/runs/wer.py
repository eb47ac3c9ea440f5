"""Write-error rates and switching-time statistics, at the solver's own time resolution.

:func:`switching_curve` runs :func:`fpstt.integration.stepping.solve` once to a horizon (under a
current pulse, its pieces one after the other, :mod:`fpstt.integration.driven`), with the same
health checks as any run, and an :class:`UnswitchedRows` tracker records, after every step, the write-error
rate WER(t) = Prob(n . z' ≤ threshold) as a sum over the unswitched theta rows of a z'-frame
grid (:func:`~fpstt.analysis.switching.split_rows`), never as 1 - P_sw.  Nothing that would cut a
tail is on: no frozen rows, a far pole cap bounded to 1e-22 in L1 (as far as u = 16), and,
when the model is phi-independent, only the phi-average of the density (mode 0, which no
other mode feeds) is stepped — the same discretisation as :func:`fpstt.integration.stepping.solve`,
exactly, for the theta-marginal.  A model without axial symmetry (a field kept on, a tilted
easy axis, a hard axis) steps every cell (all its phi modes) on the same z'-frame grid, its
flow's part that the z' shift does not carry remapped in real space
(:class:`~fpstt.flow.flowplan.FlowPlan` kind ``"z-remapped"``), and its rows are the sums over phi
of its cells.  Values at other times are interpolated (monotone cubic in log WER), so a result does not depend on which times a
user asks for.

Switching time.  With tau the time at which a trajectory switches, Prob(tau ≤ t) = 1 -
WER(t) when switching is irreversible (damping holds a switched magnet near z'; a
trajectory that re-crosses the threshold is counted as unswitched again).  Mean, median and
quantiles of tau follow from the curve.
"""

from __future__ import annotations

import math
import time as _time
from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import PchipInterpolator

from ..sphere.budget import check_memory
from ..flow.flowgrid import DEFAULT_DU, cap_error_bound, default_grid
from ..flow.flowplan import plan_flow
from ..integration.stepping import solve
from ..analysis.switching import split_rows

__all__ = ["SwitchingCurve", "UnswitchedRows", "switching_curve", "TAIL_CAP_ERROR"]

TAIL_CAP_ERROR = 1e-22        # L1 the far pole cap may cost in a WER run
_FLOOR_FACTOR = 100.0         # WER is quoted to 1 % down to 100 x the bounded errors


@dataclass
class SwitchingCurve:
    """WER(t) on the solver's step lattice, with its floor.

    Attributes
    ----------
    t : ndarray
        Step lattice 0, dt, ..., horizon (units of t_n).
    wer : ndarray
        Prob(n . z' ≤ threshold) at ``t`` (summed over unswitched rows).
    p_switch : ndarray
        Prob(n . z' > threshold) at ``t`` (summed over switched rows).
    floor : float
        Below this the package does not vouch for a WER (100 x the bounded L1 error of the
        pole cap, and never below 1e-300); :meth:`at` reports 0 there.
    threshold : float
    diagnostics : dict
        dt, grid shape, wall time, cap error bound, horizon.
    """

    t: np.ndarray
    wer: np.ndarray
    p_switch: np.ndarray
    floor: float
    threshold: float = 0.0
    diagnostics: dict = field(default_factory=dict)

    def at(self, times) -> np.ndarray:
        """WER at ``times`` (within [0, horizon]), monotone cubic in log WER; 0 below the
        floor."""
        log = PchipInterpolator(self.t, np.log(np.maximum(self.wer, 1e-300)))(
            self._check(times))
        value = np.minimum(np.exp(log), 1.0)          # a probability: no round-off above 1
        return np.where(value < self.floor, 0.0, value)

    def p_switch_at(self, times) -> np.ndarray:
        """P_sw at ``times`` (within [0, horizon]), monotone cubic, within [0, 1]."""
        return np.clip(PchipInterpolator(self.t, self.p_switch)(self._check(times)), 0.0, 1.0)

    def _check(self, times):
        times = np.asarray(times, float)
        if np.any(times < 0) or np.any(times > self.t[-1] * (1 + 1e-12)):
            raise ValueError(f"times must lie in [0, {self.t[-1]:g}] t_n (the horizon of the "
                             "run), got " + str(np.round(times, 6).tolist()))
        return times

    def time_to(self, level: float) -> float:
        """First time at which WER falls to ``level`` (NaN if not within the horizon, or if
        ``level`` is below the floor)."""
        if not (0 < level < 1):
            raise ValueError(f"`level` must lie in (0, 1), got {level!r}")
        if level < self.floor:
            return math.nan
        below = np.flatnonzero(self.wer <= level)
        if below.size == 0:
            return math.nan
        k = int(below[0])
        if k == 0:
            return 0.0
        y = np.log(self.wer[k - 1:k + 1])
        return float(np.interp(-math.log(level), -y, self.t[k - 1:k + 1]))

    def first_passage_density(self):
        """(midpoints, -dWER/dt): the switching-time density per t_n on the step lattice."""
        return (self.t[1:] + self.t[:-1]) / 2, -np.diff(self.wer) / np.diff(self.t)

    def statistics(self, quantiles=(0.5, 0.9, 0.99, 0.999999)) -> dict:
        """Mean of min(tau, horizon), the quantiles of tau (time at which WER = 1 - q), and
        whether the mean is complete (WER at the horizon below the floor or 1e-12)."""
        mean = float(np.sum((self.wer[1:] + self.wer[:-1]) / 2 * np.diff(self.t)))
        end = float(self.wer[-1])
        return dict(mean=mean, mean_complete=bool(end < max(self.floor, 1e-12)),
                    wer_at_horizon=end,
                    quantiles={f"{q:g}": self.time_to(1 - q) for q in quantiles})


class UnswitchedRows:
    """Tracker of :func:`fpstt.integration.stepping.solve`: the signed mass of every theta row,
    summed over phi, at every step (the rows of a z'-frame grid).

    A state is the cell averages of a (theta, phi) density (it carries sin theta), or on the
    fast path their phi Fourier modes, of which mode 0 is the sum over phi; a row's mass is
    that sum times dtheta dphi.  :func:`~fpstt.analysis.switching.split_rows` turns the rows into
    (P_sw, WER), each a sum over its own side of the threshold.

    Parameters
    ----------
    grid : SphereGrid
        A z'-frame grid (no chart): ValueError otherwise, since a chart's rows are not rows
        of n . z' (classifying cells by their centre would cost up to the mass of the cells
        the threshold cuts, no bound on a tail's relative error).

    Attributes
    ----------
    t : list of float
        Times of the rows, t_n.
    rows : list of ndarray
        Row masses, shape (n_theta,) each.
    """

    def __init__(self, grid):
        if grid.chart is not None:
            raise ValueError("write-error rates sum the theta rows of a z'-frame grid, and "
                             "this grid is in a Möbius chart; build it with "
                             "default_grid(..., attractor=False)")
        self.t, self.rows = [], []
        self.row_measure = grid.dtheta * grid.dphi

    def __call__(self, t, x, run):
        total = x[:, 0].real if run.fast else x.sum(axis=1)
        self.t.append(float(t))
        self.rows.append(total * self.row_measure)


def switching_curve(model, initial, horizon: float, *, threshold: float = 0.0,
                    du: float | None = None, n_phi: int | None = None, pulse=None,
                    dt: float = 2e-3, progress: bool = False) -> SwitchingCurve:
    """WER(t) from t = 0 to ``horizon`` (t_n) at every step of
    :func:`fpstt.integration.stepping.solve`.

    Parameters
    ----------
    model : SpinTorqueModel
        Any model, at full drive when there is a ``pulse``.  Phi-independent ones (no field
        during the dynamics or one along z', anisotropies along z') step the phi-average
        alone on the Fourier path; others (a field with a component off z', a tilted easy
        axis, a hard axis) step every cell (all phi modes, the flow remapped in real space)
        on a z'-frame grid of
        :data:`~fpstt.flow.flowgrid.DEFAULT_N_PHI` phi cells.
    initial
        The initial state (:class:`~fpstt.physics.initial.GibbsState` or ``BoltzmannState``).
    horizon : float
        Last time, t_n.  Driven pieces take the split scheme's step du / |Im C1 s| (a flow
        with no Möbius chart or one whose fixed points are not ±z': the STT shifted
        exactly, the rest remapped, on phi mode 0 (:class:`~fpstt.numerics.remap.ModalRemap`) when
        the model is phi-independent); drive-off pieces of a phi-independent flow with no
        Möbius chart step ``dt`` with TR-BDF2 (a last partial step by backward Euler).
    threshold : float
        Switched means n . z' > threshold.  With an anisotropy along z' and threshold 0 this
        is "in the well of z'"; read WER after the pulse and a relaxation time.
    du : float, optional
        Cell width in u (default :data:`~fpstt.flow.flowgrid.DEFAULT_DU`; half of it for flows
        with no Möbius chart: measured on the device example with TR-BDF2's
        Scharfetter-Gummel fluxes, 1.2 % -> 0.4 % in a WER of 2.4e-14; with the split scheme
        remapped on mode 0, 0.51 % -> 0.27 % at 12 t_n of a 14 t_n pulse, 1.6 s -> 9 s).
    n_phi : int, optional
        Phi cells (default :data:`~fpstt.flow.flowgrid.DEFAULT_N_PHI`).  A phi-independent model
        steps mode 0 alone, whose cost does not depend on it; for the others the cost is
        proportional to it.
    pulse : Pulse, optional
        Current pulse (:mod:`fpstt.integration.driven`); None: constant drive.
    dt : float
        Step of the unsplit (TR-BDF2) pieces, t_n.
    progress : bool
        Show a progress bar (on a terminal).

    Returns
    -------
    SwitchingCurve
        Its ``diagnostics`` add the run's (scheme, factorisations, warnings) to the curve's.
    """
    if not (horizon > 0 and math.isfinite(horizon)):
        raise ValueError(f"`horizon` must be finite and > 0, got {horizon!r}")
    start = _time.perf_counter()
    plan = plan_flow(model, initial, attractor=False)     # the z' frame: rows of n . z'
    if du is None and not plan.mobius:       # a remapped flow (and drive-off TR-BDF2): finer
        du = DEFAULT_DU / 2
    grid = default_grid(model, [0.0, horizon], du=du, n_phi=n_phi, initial=initial,
                        cap_error=TAIL_CAP_ERROR, attractor=False, plan=plan)
    _check_budget(grid, horizon, dt)
    rows = UnswitchedRows(grid)
    sol = solve(model, grid, initial.cell_averages(grid), [horizon], pulse=pulse, dt=dt,
                scheme=None if pulse is not None else plan.piece_scheme, progress=progress,
                trackers=[rows], tails=True, n_modes=1 if plan.phi_independent else None)
    t, masses = np.array(rows.t), np.array(rows.rows)
    p_switch, wer = split_rows(grid, masses, threshold)
    cap = cap_error_bound(plan.chart, initial, grid.u_range[1])
    run = sol.diagnostics
    return SwitchingCurve(
        t, wer, p_switch, max(_FLOOR_FACTOR * cap, 1e-300), threshold,
        dict(dt=float(np.max(np.diff(t))), n_steps=len(t) - 1, grid=list(grid.shape),
             horizon=horizon, cap_error_bound=cap, pieces=run.get("pieces", 1),
             scheme=run["scheme"], fast=run["fast"], n_factorizations=run["n_factorizations"],
             max_mass_error=float(np.max(np.abs(masses.sum(axis=1) - masses[0].sum()))),
             min_p_ratio=run["min_p_ratio"], warnings=run["warnings"],
             wall_time_s=_time.perf_counter() - start))


def _check_budget(grid, horizon: float, dt: float) -> None:
    """Refuse a curve whose rows (one per step) the machine cannot hold (:mod:`fpstt.sphere.budget`);
    the run's time is estimated by :func:`~fpstt.integration.stepping.solve`."""
    plan = grid.plan                    # split at full drive: the exact shift's step
    step = plan.step(grid.du) if plan.piece_scheme != "tr-bdf2" else dt
    n_steps = horizon / step
    check_memory(n_steps * (8 * grid.n_theta + 100),
                 f"a WER curve of {n_steps:.3g} steps (horizon {horizon:g} t_n)",
                 "shorten the horizon")
