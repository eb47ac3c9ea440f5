"""Write-error rates and switching-time statistics, at the solver's own time resolution.

:func:`switching_curve` runs the solver once to a horizon (piece by piece under a current
pulse, :mod:`fpstt.driven`) and records, after every step, the write-error rate WER(t) =
Prob(n . z' ≤ threshold) as a sum over the unswitched rows
(:func:`~fpstt.switching.split_rows`), never as 1 - P_sw.  Nothing that would cut a tail
is on: no frozen rows, a far pole cap bounded to 1e-22 in L1 (as far as u = 16), and, since
the model is phi-independent, only the phi-average of the density (mode 0, which no other
mode feeds) is stepped — the same discretisation as :func:`fpstt.stepping.solve`, exactly, for the
theta-marginal.  Values at other times are interpolated (monotone cubic in log WER), so a
result does not depend on which times a user asks for.

Switching time.  With tau the time at which a trajectory switches, Prob(tau ≤ t) = 1 -
WER(t) when switching is irreversible (damping holds a switched magnet near z'; a
trajectory that re-crosses the threshold is counted as unswitched again).  Mean, median and
quantiles of tau follow from the curve.
"""

from __future__ import annotations

import math
import sys
import time as _time
from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import PchipInterpolator
from tqdm.auto import tqdm

from .budget import SECONDS_PER_VALUE, check_memory, warn_time
from .flowgrid import DEFAULT_DU, cap_error_bound, default_grid
from .flowplan import grid_plan, plan_flow
from .integrators import Integrator
from .switching import split_rows

__all__ = ["SwitchingCurve", "switching_curve", "TAIL_CAP_ERROR"]

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


def switching_curve(model, initial, horizon: float, *, threshold: float = 0.0,
                    du: float | None = None, pulse=None, dt: float = 2e-3,
                    progress: bool = False) -> SwitchingCurve:
    """WER(t) from t = 0 to ``horizon`` (t_n) at every step of the solver.

    Parameters
    ----------
    model : SpinTorqueModel
        Must be phi-independent (no field during the dynamics, or a field along z'; an
        anisotropy along z'); the WER of other flows comes from
        :func:`fpstt.switching.unswitched_probability` of a :func:`~fpstt.stepping.solve`
        result.  At full drive when there is a ``pulse``.
    initial
        The initial state (:class:`~fpstt.initial.GibbsState` or ``BoltzmannState``).
    horizon : float
        Last time, t_n.  Driven pieces take the split scheme's step du / |Im C1 s| (a flow with
        no Möbius chart, an anisotropy along z': the STT shifted exactly, the rest remapped on
        phi mode 0, :class:`~fpstt.remap.ModalRemap`); drive-off pieces of a flow with no
        Möbius chart step ``dt`` with TR-BDF2.
    threshold : float
        Switched means n . z' > threshold.  With an anisotropy along z' and threshold 0 this
        is "in the well of z'"; read WER after the pulse and a relaxation time.
    du : float, optional
        Cell width in u (default :data:`~fpstt.flowgrid.DEFAULT_DU`; half of it for flows
        with no Möbius chart: measured on the device example with TR-BDF2's
        Scharfetter-Gummel fluxes, 1.2 % -> 0.4 % in a WER of 2.4e-14; with the split scheme
        remapped on mode 0, 0.51 % -> 0.27 % at 12 t_n of a 14 t_n pulse, 1.6 s -> 9 s).
    pulse : Pulse, optional
        Current pulse (:mod:`fpstt.driven`); None: constant drive.
    """
    plan = plan_flow(model, initial, attractor=False)
    if not plan.phi_independent:
        raise ValueError("WER curves need a phi-independent model (no field during the "
                         "dynamics, or a field along z'); with a field kept on, use "
                         "fpstt.switching.unswitched_probability on a solve() result")
    if not (horizon > 0 and math.isfinite(horizon)):
        raise ValueError(f"`horizon` must be finite and > 0, got {horizon!r}")
    start = _time.perf_counter()
    if du is None and not plan.mobius:       # a remapped flow (and drive-off TR-BDF2): finer
        du = DEFAULT_DU / 2
    grid = default_grid(model, [0.0, horizon], du=du, initial=initial,
                        cap_error=TAIL_CAP_ERROR, attractor=False, plan=plan)
    _check_budget(grid, horizon, dt)
    pieces = pulse.segments(horizon) if pulse is not None else [(0.0, horizon, 1.0)]
    density = initial.cell_averages(grid)
    t, rows = [0.0], None
    shown = progress and len(pieces) > 1 and sys.stderr.isatty()       # one piece: no bar
    for t0, t1, s in tqdm(pieces, disable=not shown, desc="fpstt switching", unit="piece"):
        driven = model.with_drive(s)
        piece_dt = (t1 - t0) / max(math.ceil((t1 - t0) / dt - 1e-9), 1)     # divides the piece
        run = Integrator.build(driven, grid, grid_plan(driven, grid).piece_scheme,
                               [0.0, t1 - t0], piece_dt, True, density, tails=True, n_modes=1)
        if rows is None:
            rows = [_rows(run, run.x0)]
        times, x = _advance(run, t1 - t0, rows)
        t += [t0 + tau for tau in times]
        density = run.backend.to_density(x)
    rows = np.array(rows)
    p_switch, wer = split_rows(grid, rows, threshold)
    cap = cap_error_bound(plan.chart, initial, grid.u_range[1])
    return SwitchingCurve(
        np.array(t), wer, p_switch, max(_FLOOR_FACTOR * cap, 1e-300), threshold,
        dict(dt=float(np.max(np.diff(t))), n_steps=len(t) - 1, grid=list(grid.shape),
             horizon=horizon, cap_error_bound=cap, pieces=len(pieces),
             max_mass_error=float(np.max(np.abs(rows.sum(axis=1) - rows[0].sum()))),
             wall_time_s=_time.perf_counter() - start))


def _check_budget(grid, horizon: float, dt: float) -> None:
    """Refuse a curve whose rows (one per step) the machine cannot hold; warn when it
    should take more than a minute (:mod:`fpstt.budget`)."""
    plan = grid.plan                    # split at full drive: the exact shift's step
    step = plan.step(grid.du) if plan.piece_scheme != "tr-bdf2" else dt
    n_steps = horizon / step
    check_memory(n_steps * (8 * grid.n_theta + 100),
                 f"a WER curve of {n_steps:.3g} steps (horizon {horizon:g} t_n)",
                 "shorten the horizon")
    warn_time(n_steps * grid.n_theta * SECONDS_PER_VALUE[True], "the WER curve")


def _advance(run, length: float, rows: list):
    """Step ``run`` over ``length`` (t_n), appending each state's row masses to ``rows``;
    a split step off the lattice ends the piece.  Returns (times within the piece, state)."""
    step = run.dt
    k = int(math.floor(length / step + 1e-9))
    x, times = run.x0, list(step * np.arange(1, k + 1))
    for x in run.advance(x, k):
        rows.append(_rows(run, x))
    if k * step < length - 1e-9 * step:
        x = run.land(x, length - k * step)
        rows.append(_rows(run, x))
        times.append(length)
    return times, x


def _rows(run, x):
    """Signed mass of each theta row of a one-mode (phi-average) state."""
    return x[:, 0].real * run.backend.row_measure
