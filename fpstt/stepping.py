"""Sparse implicit time stepping of the Fokker-Planck equation (Eq. E3) on the sphere grid.

One entry point, :func:`solve`, returning one result type, :class:`Solution`.

Schemes (registry :data:`SCHEMES`)
---------------------------------
``"be"``, ``"cn"``, ``"bdf2"``, ``"tr-bdf2"``
    Backward Euler, Crank-Nicolson, BDF2 (BE start) and TR-BDF2 (gamma = 2 - sqrt 2) on the
    full operator of :func:`~fpstt.operator.fokker_planck_matrix`, one sparse LU per step
    size, reused.  Any model and grid.
``"split-be"``, ``"split-tr-bdf2"``
    For phi-independent models on a :meth:`~fpstt.grid.SphereGrid.mercator` grid: the
    noiseless flow of Eq. (15) is applied exactly (a translation by one cell in
    u = ln tan(theta/2) per step dt = du / |Im C1|, and a rotation by Re C1 t applied at output
    with an exact Fourier phase, since it commutes with every other term); what remains
    (diffusion, the Stratonovich / geometric drifts) is stepped implicitly by Strang
    splitting, half step / shift / half step, with consecutive half steps merged, so one
    solve per step.  The implicit pieces are backward Euler ("split-be": every piece keeps
    p ≥ 0 when the operator is monotone; first order in the diffusion) or TR-BDF2
    ("split-tr-bdf2": L-stable and second order overall).
"""

from __future__ import annotations

import math
import time as _time
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from .grid import SphereGrid, mercator_u
from .chart import ChartModel, chart_for
from .model import check_choice
from .fourier import RealBackend, SpectralBackend
from .flowgrid import DEFAULT_DU, check_times, default_dt, default_grid
from .guards import (health_warnings, load_checkpoint, max_cell_peclet, pole_rows_mass,
                     save_checkpoint)
from .operator import fokker_planck_matrix, is_monotone

__all__ = ["SCHEMES", "Solution", "solve", "default_grid", "mercator_step", "check_times",
           "DEFAULT_DU"]

SCHEMES = ("be", "cn", "bdf2", "tr-bdf2", "split-be", "split-tr-bdf2")
_GAMMA = 2 - math.sqrt(2)
_MARGIN = 6                  # rows kept on each side of the mass window (spectral path)
_WINDOW_TOL = 1e-13          # rows holding less mass than this (relative) are frozen
_AHEAD = 24                  # a window factorisation is reused while the state moves this far
_MODE_TOL = 1e-12            # phi modes dropped at the start may hold this much L1 (relative)


@dataclass
class Solution:
    """Result of :func:`solve`.

    Attributes
    ----------
    grid : SphereGrid
    times : ndarray, shape (n_times,)
        Output times, units of t_n.
    p : ndarray, shape (n_times, n_theta, n_phi)
        Cell averages of the (theta, phi) density (carries sin theta, Eq. 16);
        ``sum(p[k] * grid.cell_measure) = 1``.
    mass : ndarray, shape (n_times,)
        sum p dtheta dphi at each output time.
    diagnostics : dict
        scheme, dt, n_steps, n_factorizations, monotone, max_mass_error, min_p_ratio
        (most negative p / max p of the evolved state over all steps), min_p_ratio_output
        (the same for the returned densities, after the exact Fourier rotation in phi of
        the split schemes, which can ripple when phi is under-resolved), wall_time_s, ...
    meta : dict
        Free-form provenance (model, parameters), stored with the result.
    """

    grid: SphereGrid
    times: np.ndarray
    p: np.ndarray
    mass: np.ndarray
    diagnostics: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)


def _grid_chart(grid: SphereGrid, model):
    """The Möbius chart of ``model``'s flow, checked against the one ``grid`` carries."""
    chart = chart_for(model)
    if grid.chart is None:
        if not chart.is_identity:
            raise ValueError("this flow's fixed points are not z' and -z' (a field kept on "
                             "off z'): split schemes need a grid in its Möbius chart, "
                             "default_grid(model, times)")
        return chart
    if not grid.chart.same_flow(chart):
        raise ValueError("`grid` carries the chart of another flow; build it with "
                         "default_grid(model, times)")
    return grid.chart


def mercator_step(grid: SphereGrid, model) -> float:
    """The split-scheme step du / |Im C1| of a Mercator grid; ValueError if it has none."""
    u = mercator_u(grid.theta_edges[1:-1])
    du = np.diff(u)[np.abs(u[1:]) <= 8]       # beyond, theta near pi rounds u
    if du.size < 2 or not np.allclose(du, du[0], rtol=1e-9, atol=0):
        raise ValueError("split schemes need a grid from SphereGrid.mercator "
                         "(interior theta edges uniform in u = ln tan(theta/2))")
    rate = model.C1.imag
    if rate == 0:
        raise ValueError("split schemes need Im C1 != 0 (no deterministic flow to follow)")
    return float(du[0] / abs(rate))


class _Shift:
    """Exact one-cell translation in u of a density on a Mercator grid, in place.

    Works on any array whose first axis is theta (cell averages, or their phi-Fourier
    modes): the mass w_i x_i of cell i moves to cell i - 1 (``direction`` +1, toward
    theta = 0, Im C1 > 0; mirrored for -1).  The cap the flow leaves splits its mass between
    itself and its neighbour in proportion to solid angle (exact when the density per
    steradian is uniform in that cap, which holds negligible mass in practice).
    """

    def __init__(self, grid: SphereGrid, direction: int):
        e, w = grid.theta_edges, grid.dtheta
        if direction < 0:                                    # mirror: theta -> pi - theta
            e, w = math.pi - e[::-1], w[::-1]
        du = mercator_u(e[2]) - mercator_u(e[1])
        u_top = float(mercator_u(e[-2]))                     # lower edge of the far cap
        # solid angle of [top, theta(u_top + du)] over that of the cap [top, pi]:
        # 1 - (1 + cos upper)/(1 + cos top), with 1 + cos theta(u) = 2 / (1 + e^{2u})
        self.frac = -math.expm1(np.logaddexp(0, 2 * u_top) - np.logaddexp(0, 2 * (u_top + du)))
        self.w, self.direction = w[:, None], direction
        self.ratio = (w[2:-1] / w[1:-2])[:, None]

    def __call__(self, x):
        y, w = (x if self.direction > 0 else x[::-1]), self.w
        cap = y[-1] * w[-1]
        y[0] = (y[0] * w[0] + y[1] * w[1]) / w[0]
        np.multiply(y[2:-1], self.ratio, out=y[1:-2])
        y[-2] = self.frac * cap / w[-2]
        y[-1] = (1 - self.frac) * cap / w[-1]
        return x


class _Stepper:
    """One implicit scheme on a backend's operator L and a fixed step dt, factorised once."""

    def __init__(self, backend, dt, scheme):
        self.backend, self.scheme, self.dt = backend, scheme, dt
        self.prev = None
        coef = {"be": 1.0, "cn": 0.5, "tr-bdf2": _GAMMA / 2, "bdf2": 1.0}[scheme]
        self.lu = backend.factor(1.0, coef * dt)
        self.n_factorizations = 1
        if scheme == "bdf2":
            self.lu2 = backend.factor(1.5, dt)
            self.n_factorizations = 2

    def step(self, x):
        dt, b = self.dt, self.backend
        if self.scheme == "be":
            return self.lu.solve(x)
        if self.scheme == "cn":
            return self.lu.solve(x + 0.5 * dt * b.matvec(x))
        if self.scheme == "tr-bdf2":
            g = _GAMMA
            mid = self.lu.solve(x + 0.5 * g * dt * b.matvec(x))
            return self.lu.solve(mid / (g * (2 - g)) - (1 - g) ** 2 / (g * (2 - g)) * x)
        # bdf2, started by backward Euler
        new = self.lu.solve(x) if self.prev is None else self.lu2.solve(2 * x - 0.5 * self.prev)
        self.prev = x
        return new


def solve(model, grid: SphereGrid, p0, times, *, scheme: str = "split-tr-bdf2",
          dt: float | None = None, fast: bool | None = None, progress: bool = False,
          checkpoint=None, checkpoint_every: int | None = None, resume: bool = False,
          meta: dict | None = None) -> Solution:
    """Evolve a (theta, phi) density under the Fokker-Planck equation (E3) of ``model``.

    Parameters
    ----------
    model
        A :class:`~fpstt.model.SpinTorqueModel` (or any object with ``drift``/``diffusion``
        for the unsplit schemes).  Split schemes run in the Möbius chart of the model's
        noiseless flow (:mod:`fpstt.chart`): the exact translation in U, the rest implicit.
    grid : SphereGrid
        For split schemes a grid uniform in U of that chart: :func:`default_grid` builds it
        (a z'-frame grid when the flow's fixed points are z' and -z').
    p0 : array (n_theta, n_phi) or callable
        Initial (theta, phi) density (carries sin theta): cell averages, or a callable
        ``p0(theta, phi)`` averaged over cells.  It is not renormalised.
    times : sequence of float
        Output times in units of t_n, increasing, ≥ 0 (the start is t = 0).
    scheme : str
        One of :data:`SCHEMES`.
    dt : float, optional
        Step for the unsplit schemes (default: the largest ≤ 0.01 that divides every
        output time, when they are commensurate).  Split schemes take dt = du / |Im C1| from
        the grid; output times that are not multiples of it are reached by a final
        backward-Euler step of the full operator.
    fast : bool, optional
        Keep the state as Fourier modes in phi and solve one tridiagonal system per mode
        (same discretisation, O(n_theta n_phi) per step, FFTs only at output times), over
        the leading modes outside which p0 holds less than 1e-12 of its mass in L1 norm.
        Default: whenever the model is phi-independent.  The fast path checks the sign of p
        at output times; the sparse path at every step.
    progress : bool
        Show a progress bar.
    checkpoint : path, optional
        Write the state to this ``.npz`` (atomically) after every segment of the run: at
        each output time and every ``checkpoint_every`` steps.
    checkpoint_every : int, optional
        Cut the run into segments of at most this many steps (each segment is a complete
        Strang sequence, so the result depends on this value, not on interruptions).
    resume : bool
        Continue from ``checkpoint``; the result is bit-for-bit that of an uninterrupted run
        with the same arguments.

    Returns
    -------
    Solution
        ``p[k]`` is the (theta, phi) density at ``times[k]`` (carries sin theta).
    """
    check_choice("scheme", scheme, SCHEMES)
    times = check_times(times)
    if checkpoint_every is not None and (int(checkpoint_every) != checkpoint_every
                                         or checkpoint_every < 1):
        raise ValueError(f"`checkpoint_every` must be an integer ≥ 1, got {checkpoint_every!r}")
    p = grid.cell_average(p0) if callable(p0) else np.array(p0, dtype=float)
    if p.shape != grid.shape:
        raise ValueError(f"`p0` must have shape {grid.shape}, got {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError("`p0` contains non-finite values")
    start = _time.perf_counter()
    split = scheme.startswith("split")
    if split:
        model = ChartModel(model, _grid_chart(grid, model))
    fast = model.phi_independent if fast is None else bool(fast)
    if fast and not model.phi_independent:
        raise ValueError("`fast`=True needs a phi-independent model")
    Backend = SpectralBackend if fast else RealBackend
    strip = 3 if fast else None               # the fast path needs only the phi blocks
    if split:
        if not model.phi_independent and model.C1.real != 0:
            raise ValueError("a precession without damping (no attractor) with noise that "
                             "depends on phi in its chart is not supported by split schemes")
        dt = mercator_step(grid, model) if model.C1.imag != 0 else (
            default_dt(times) if dt is None else float(dt))
        operator = fokker_planck_matrix(model, grid, n_phi=strip, drift_offset=(
            lambda th: -model.C1.imag * np.sin(th), model.C1.real))
    else:
        dt = default_dt(times) if dt is None else float(dt)
        if not (dt > 0 and math.isfinite(dt)):
            raise ValueError(f"`dt` must be finite and > 0, got {dt!r}")
        operator = fokker_planck_matrix(model, grid, n_phi=strip)
    peclet = None if split else max_cell_peclet(model, grid)
    backend = Backend(operator, grid)
    x0 = backend.to_state(p)
    if fast:                                  # only the phi modes that the initial state uses
        backend = backend.truncated(backend.modes_needed(x0, _MODE_TOL))
        x0 = x0[:, :backend.n_modes]
    if split:
        inner = "tr-bdf2" if scheme == "split-tr-bdf2" else "be"
        direction = int(np.sign(model.C1.imag))
        shift = _Shift(grid, direction) if direction else (lambda x: x)
    else:
        stepper = _Stepper(backend, dt, scheme)
    measure = grid.cell_measure
    windows, factors, n_factored = [], {}, [0]

    def implicit(stepper_dt, x):
        """One implicit piece (G or H), only over the contiguous rows around the densest one
        that hold more than 1e-13 of the mass each (plus a margin), with no flux through the
        window's edges: rows outside are frozen (they only shift), which changes the result
        by ~1e-12 in L1 on Table I and nothing in mass."""
        row_mass = backend.row_mass(x)
        small = row_mass <= _WINDOW_TOL * row_mass.sum()
        peak = int(np.argmax(row_mass))
        below, above = np.flatnonzero(small[:peak]), np.flatnonzero(small[peak:])
        i0 = max((int(below[-1]) + 1 if below.size else 0) - _MARGIN, 0)
        i1 = min((peak + int(above[0]) if above.size else x.shape[0]) + _MARGIN, x.shape[0])
        lo, hi, piece = factors.get(stepper_dt, (0, 0, None))
        if not (lo <= i0 and i1 <= hi):          # factorise a window that the state, moving
            ahead = _AHEAD * (1 if direction > 0 else 0)   # one row a step, fits for
            behind = _AHEAD - ahead                               # the next _AHEAD steps
            lo, hi = max(i0 - ahead, 0), min(i1 + behind, x.shape[0])
            piece = _Stepper(backend.window(lo, hi), stepper_dt, inner)
            factors[stepper_dt] = (lo, hi, piece)
            n_factored[0] += 1
        windows.append((hi - lo) / x.shape[0])
        x[lo:hi] = piece.step(x[lo:hi])
        return x

    def advance(x, k):
        """k steps.  Split schemes use Strang splitting H S H per step, with the two
        adjacent half steps of consecutive steps merged into one full step G:
        (H S H)^k = H S (G S)^(k-1) H, so one implicit solve per step."""
        if not split:
            for _ in range(k):
                x = stepper.step(x)
                yield x
            return
        x = implicit(dt / 2, x.copy())
        for i in range(k):
            x = implicit(dt if i < k - 1 else dt / 2, shift(x))
            yield x

    # segments: whole steps up to each output time, cut every `checkpoint_every` steps
    plan, t_plan = [], 0.0
    for index, t_out in enumerate(times):
        k = int(math.floor((t_out - t_plan) / dt + 1e-9))
        cut = checkpoint_every or max(k, 1)
        plan += [(min(cut, k - done), None) for done in range(0, k, cut)]
        plan.append((0, index))                                   # reach and record t_out
        t_plan = t_out
    state = dict(x=x0, t=0.0, n_steps=0, n_partial=0, worst_neg=0.0,
                 worst_out=0.0, worst_mass=0.0, segment=0, out=[], masses=[])
    state["mass0"] = backend.mass(state["x"])
    signature = (f"{scheme}|{fast}|{dt!r}|{grid.shape}|{x0.shape}|{times.tolist()}|"
                 f"{checkpoint_every}")
    if resume:
        state = load_checkpoint(checkpoint, signature)
    mass0 = state["mass0"]
    partial_backend = None
    bar = tqdm(total=int(round(times[-1] / dt)), initial=state["n_steps"],
               disable=not progress, desc="fpstt solve", unit="step")
    for k, index in plan[state["segment"]:]:
        x, t = state["x"], state["t"]
        factors.clear()                  # each segment starts afresh: resumable bit for bit
        for x in advance(x, k):
            state["n_steps"] += 1
            bar.update(1)
            t += dt
            if not np.all(np.isfinite(x)):
                raise FloatingPointError(f"p became non-finite at step {state['n_steps']} "
                                         f"(t = {t:.6g} t_n)")
            state["worst_mass"] = max(state["worst_mass"],
                                      abs(backend.mass(x) - mass0))
            if not fast:
                state["worst_neg"] = min(state["worst_neg"], float(x.min()) / float(x.max()))
        if index is not None:
            tau = times[index] - t
            if tau > 1e-9 * dt:                  # land exactly on an off-grid output time
                if partial_backend is None:
                    full = (fokker_planck_matrix(model, grid, n_phi=strip,
                                                 drift_offset=(0.0, model.C1.real))
                            if split else operator)
                    partial_backend = Backend(full, grid)
                    if fast:
                        partial_backend = partial_backend.truncated(backend.n_modes)
                x = _Stepper(partial_backend, tau, "be").step(x)
                state["n_partial"] += 1
                t = times[index]
            density = backend.to_density(x)
            state["worst_neg"] = min(state["worst_neg"], float(density.min()) / float(density.max()))
            p_out = backend.to_density(backend.rotate(x, model.C1.real * t)) if split else density
            state["out"].append(p_out)
            state["masses"].append(float(np.sum(p_out * measure)))
            state["worst_out"] = min(state["worst_out"], float(p_out.min()) / float(p_out.max()))
        state.update(x=x, t=t, segment=state["segment"] + 1)
        if checkpoint is not None and state["segment"] < len(plan):
            save_checkpoint(checkpoint, signature, state)
    bar.close()
    masses = np.array(state["masses"])
    diagnostics = dict(
        scheme=scheme, fast=fast, dt=dt, n_steps=state["n_steps"],
        n_partial_steps=state["n_partial"],
        n_factorizations=(n_factored[0] if split else stepper.n_factorizations)
        + state["n_partial"],
        mean_window_fraction=float(np.mean(windows)) if windows else 1.0,
        n_phi_modes=int(state["x"].shape[1]) if fast else None,
        chart=None if grid.chart is None else grid.chart.describe(),
        monotone=is_monotone(operator), mass0=mass0, max_cell_peclet=peclet,
        max_mass_error=max(state["worst_mass"], float(np.max(np.abs(masses - mass0)))),
        min_p_ratio=state["worst_neg"], min_p_ratio_output=state["worst_out"],
        pole_rows_mass=pole_rows_mass(grid, state["out"]),
        wall_time_s=_time.perf_counter() - start)
    diagnostics["warnings"] = health_warnings(grid, np.array(state["out"]), diagnostics)
    return Solution(grid, times, np.array(state["out"]), masses, diagnostics, dict(meta or {}))
