"""Sparse implicit time stepping of the Fokker-Planck equation (Eq. E3) on the sphere grid.

One entry point, :func:`solve`, returning one result type, :class:`Solution`.  This module
is the run loop (segments, outputs, checkpoints, diagnostics); the numerics are the pieces
of :mod:`fpstt.integration.integrators` (the integrator of each scheme, :data:`INTEGRATORS`).  Trackers observe the loop at every step (as py-pde's do):
a tracker is a callable ``tracker(t, x, run)``, called with the state at t = 0 and after
every step and every partial step that lands on an output or a pulse piece's end, after
the loop's own health checks of that state (finite, mass, sign); ``t`` is in t_n from the
start, ``x`` the integrator's state (on the fast path the phi Fourier modes of the cell
averages, else the (n_theta, n_phi) cell averages of the (theta, phi) density, which
carries sin theta) and ``run`` the :class:`~fpstt.integration.integrators.Integrator` (its
``backend`` converts the state: ``run.backend.to_density(x)``).  A tracker must not modify ``x``.
Write-error curves are such a tracker (:class:`fpstt.runs.wer.UnswitchedRows`).

Schemes (registry :data:`SCHEMES`)
---------------------------------
``"be"``, ``"cn"``, ``"bdf2"``, ``"tr-bdf2"``
    Backward Euler, Crank-Nicolson, BDF2 (BE start) and TR-BDF2 (gamma = 2 - sqrt 2) on the
    full operator of :func:`~fpstt.numerics.operator.fokker_planck_matrix`, one sparse LU per step
    size, reused.  Any model, on a z'-frame grid (a chart grid is refused).
``"adaptive-tr-bdf2"``
    TR-BDF2 on the full operator over macro steps of at most 0.5 t_n (dividing the output
    times), each tiled by error-controlled substeps (:mod:`fpstt.numerics.adaptive`): the default of
    a relaxation (plan kind ``"unsplit"``, :mod:`fpstt.flow.flowplan`).
``"split-be"``, ``"split-tr-bdf2"``
    On a grid uniform in U = ln tan(theta_c/2) of the flow's Möbius chart
    (:func:`default_grid`; the z' frame without a field): the noiseless flow of Eq. (11) is
    applied exactly (a translation by one cell in U per step dt = du / shift rate; in the
    z' frame the rotation by Re C1 t is applied at output with an exact Fourier phase, since
    it commutes with every other term; a sheared chart has none); what remains
    (diffusion, the Stratonovich / geometric drifts) is stepped implicitly by Strang
    splitting, half step / shift / half step, with consecutive half steps merged, so one
    solve per step.  The implicit pieces are backward Euler ("split-be": every piece keeps
    p ≥ 0 when the operator is monotone; first order in the diffusion) or TR-BDF2
    ("split-tr-bdf2": L-stable and second order overall).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
import sys
import time as _time

import numpy as np
from tqdm.auto import tqdm

from ..sphere.budget import BYTES_PER_CELL, SECONDS_PER_VALUE, check_memory, warn_time
from ..flow.flowgrid import DEFAULT_DU, check_times, default_grid
from ..flow.flowplan import grid_plan
from ..sphere.grid import SphereGrid
from ..analysis.io import Solution
from .guards import health_warnings, load_checkpoint, pole_rows_mass, save_checkpoint
from .coarsen import CoarseRun, check_steps, coarser, continued
from .settled import Settling
from .integrators import UnsplitIntegrator
from .split import SplitIntegrator
from ..numerics.transport import mercator_step
from ..physics.model import check_choice

__all__ = ["SCHEMES", "INTEGRATORS", "Solution", "solve", "default_grid", "mercator_step", "check_times",
           "DEFAULT_DU"]

INTEGRATORS = {**dict.fromkeys(("be", "cn", "bdf2", "tr-bdf2", "adaptive-tr-bdf2"),
                                UnsplitIntegrator),
               **dict.fromkeys(("split-be", "split-tr-bdf2"), SplitIntegrator)}
"""Each scheme's integrator class (the numerics of one run, :mod:`fpstt.integration.integrators`)."""
SCHEMES = tuple(INTEGRATORS)


def solve(model, grid: SphereGrid, p0, times, *, scheme: str | None = None, pulse=None,
          dt: float | None = None, fast: bool | None = None, progress: bool = False,
          checkpoint=None, checkpoint_every: int | None = None, resume: bool = False,
          meta: dict | None = None, trackers=(), tails: bool = False,
          n_modes: int | None = None) -> Solution:
    """Evolve a (theta, phi) density under the Fokker-Planck equation (E3) of ``model``.

    Parameters
    ----------
    model
        A :class:`~fpstt.physics.model.SpinTorqueModel` (or any object with ``drift``/``diffusion``
        for the unsplit schemes), at full drive.  Split schemes run in the chart of the
        grid's plan (:mod:`fpstt.flow.flowplan`): the exact translation in U, the rest implicit
        (and remapped where the chart is not the flow's own).
    grid : SphereGrid
        For split schemes a grid uniform in U of that chart: :func:`default_grid` builds it
        (a z'-frame grid when the flow's fixed points are z' and -z', and under a pulse).
    p0 : array (n_theta, n_phi) or callable
        Initial (theta, phi) density (carries sin theta): cell averages, or a callable
        ``p0(theta, phi)`` averaged over cells.  It is not renormalised.
    times : sequence of float
        Output times in units of t_n, increasing, ≥ 0 (the start is t = 0).
    scheme : str, optional
        One of :data:`SCHEMES`; None: the grid's plan (``FlowPlan.scheme``; under a pulse,
        each piece's ``FlowPlan.piece_scheme`` at its drive).
    pulse : Pulse or FunctionDrive, optional
        A drive s(t) (:mod:`fpstt.physics.magnet`) whose piecewise-constant pieces run one after
        the other in this loop, each at its drive (C1 s, C2 sqrt s, Eq. 14), on ``grid`` (a
        z'-frame grid: a chart belongs to one drive).  None: constant drive.
    dt : float, optional
        Step for the unsplit schemes (default: the largest ≤ 0.01 that divides every
        output time, when they are commensurate).  Split schemes take dt = rows du / |Im C1|
        from the grid's plan (:meth:`~fpstt.flow.flowplan.FlowPlan.step`); output times
        that are not multiples of it are reached by a final backward-Euler step of the
        full operator.
    fast : bool, optional
        Keep the state as Fourier modes in phi and solve one tridiagonal system per mode
        (same discretisation, O(n_theta n_phi) per step, FFTs only at output times), over
        the leading modes outside which p0 holds less than 1e-12 of its mass in L1 norm.
        Default: whenever the model is phi-independent.  The fast path checks the sign of p
        at output times; the sparse path at every step.
    progress : bool
        Show a progress bar (on a terminal).
    checkpoint : path, optional
        Write the state to this ``.npz`` (atomically) at each output time and every
        ``checkpoint_every`` steps.  Checkpoints only observe: the result is bit for bit
        that of a run without them.  Not under a pulse (yet).
    checkpoint_every : int, optional
        Also checkpoint every this many steps (the state as it is, in the middle of a
        Strang sequence, with the factorisations in use).
    resume : bool
        Continue from ``checkpoint``; the result is bit-for-bit that of an uninterrupted run
        with the same arguments.
    trackers : sequence of callable
        Observers ``tracker(t, x, run)`` of every step (module docstring).  Not with
        ``checkpoint`` (a resumed run would not replay the steps they saw).
    tails : bool
        Step every theta row: no row is frozen by the split schemes' mass window (rows
        holding < 1e-13 of the mass each), as probabilities far below 1e-12 need.
    n_modes : int, optional
        On the fast path, keep only this many leading phi modes (1: the phi-average alone,
        which no other mode feeds when the model is phi-independent; the outputs are then
        phi averages).  None: the modes the initial state uses (``fast`` above).

    Returns
    -------
    Solution
        ``p[k]`` is the (theta, phi) density at ``times[k]`` (carries sin theta).
    """
    if scheme is not None:
        check_choice("scheme", scheme, SCHEMES)
    times = check_times(times)
    if checkpoint_every is not None and (int(checkpoint_every) != checkpoint_every
                                         or checkpoint_every < 1):
        raise ValueError(f"`checkpoint_every` must be an integer ≥ 1, got {checkpoint_every!r}")
    if pulse is not None and (checkpoint is not None or resume):
        raise ValueError("checkpoints are not supported under a pulse (yet)")
    trackers = tuple(trackers)
    if trackers and (checkpoint is not None or resume):
        raise ValueError("`trackers` cannot be combined with `checkpoint` or `resume`")
    if n_modes is not None and (int(n_modes) != n_modes or n_modes < 1):
        raise ValueError(f"`n_modes` must be an integer ≥ 1, got {n_modes!r}")
    p = grid.cell_average(p0) if callable(p0) else np.array(p0, dtype=float)
    if p.shape != grid.shape:
        raise ValueError(f"`p0` must have shape {grid.shape}, got {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError("`p0` contains non-finite values")
    start = _time.perf_counter()
    fourier = model.phi_independent if fast is None else bool(fast)
    check_memory(p.size * (BYTES_PER_CELL[fourier] + 8 * times.size),
                 f"a solve on {grid.shape[0]} x {grid.shape[1]} cells", "use fewer cells")
    state = dict(n_steps=0, worst_neg=0.0, worst_out=0.0, worst_mass=0.0, out=[], masses=[],
                 trackers=trackers)
    if pulse is not None and times[0] == 0:                  # the start is an output
        _keep(state, p, grid)
    bar = tqdm(total=0, disable=not (progress and sys.stderr.isatty()), desc="fpstt solve",
               unit="step")
    parts, shared = [], {}          # numerics the pieces of a pulse share (zremap's flow)
    run = None                      # the last piece's run: the next one starts on its grid
    for t0, driven, piece_times, recorded, piece_scheme in _pieces(model, grid, times, scheme,
                                                                  pulse):
        build = functools.partial(INTEGRATORS[piece_scheme], driven, scheme=piece_scheme,
                                  times=piece_times, dt=dt, fast=fast, tails=tails,
                                  n_modes=n_modes, shared=shared)
        run = build(grid, p=p) if run is None else continued(run, build, p)
        warn_time(piece_times[-1] / run.dt * run.x0.size * SECONDS_PER_VALUE[run.fast],
                  "this solve")
        bar.total += int(round(piece_times[-1] / run.dt))
        state.update(x=run.x0, t=0.0, t0=t0, segment=0, done=0, memory={}, n_partial=0)
        if "mass0" not in state:                                 # the start of the run
            state["mass0"] = run.backend.mass(run.x0)
            _observe(state, 0.0, run.x0, run)
        save = None
        if pulse is None and (resume or checkpoint is not None):
            signature = _run_signature(model, grid, p, piece_scheme, run, times)
            if resume:
                state = load_checkpoint(checkpoint, signature)
                run.recall(state["memory"])
                bar.update(state["n_steps"])
            if checkpoint is not None:
                save = lambda: save_checkpoint(checkpoint, signature, state)  # noqa: E731
        p, run = _run_piece(run, state, piece_times, recorded, bar, save, checkpoint_every,
                            coarsen=not (tails or trackers or save))
        parts += [r.diagnostics(0) for r in state.pop("before", [])]
        parts.append(run.diagnostics(state["n_partial"]))
    bar.close()
    masses = np.array(state["masses"])
    diagnostics = dict(
        _combined(parts), n_steps=state["n_steps"], mass0=state["mass0"],
        max_mass_error=max(state["worst_mass"], float(np.max(np.abs(masses - state["mass0"])))),
        min_p_ratio=state["worst_neg"], min_p_ratio_output=state["worst_out"],
        pole_rows_mass=pole_rows_mass(grid, state["out"]),
        **dict(zip(("held_from", "hold_bound"), state.get("held", (None, None)))),
        wall_time_s=_time.perf_counter() - start)
    diagnostics["warnings"] = health_warnings(grid, np.array(state["out"]), diagnostics)
    meta = dict(meta or {})
    if pulse is not None:
        meta.setdefault("pulse", repr(pulse))
    return Solution(grid, times, np.array(state["out"]), masses, diagnostics, meta)


def _pieces(model, grid, times, scheme, pulse):
    """[(start of the piece, model at its drive, piece times from its start, which of them
    are outputs, scheme)]: one piece at constant drive; under ``pulse`` one per piece of its
    piecewise-constant drive, each run to its end (recorded where that is an output)."""
    if pulse is None:
        return [(0.0, model, times, np.ones(times.size, bool),
                 scheme or grid_plan(model, grid).scheme)]
    if grid.chart is not None:
        raise ValueError("a pulse needs a z'-frame grid, default_grid(..., attractor=False): "
                         "the Möbius chart of a field kept on changes with the drive")
    pieces = []
    for t0, t1, s in pulse.segments(float(times[-1])):
        inside = times[(times > t0) & (times <= t1)]
        piece_times = np.union1d(inside, [t1]) - t0
        recorded = np.array([np.any(np.isclose(t, inside, rtol=0, atol=1e-12))
                             for t in piece_times + t0])
        driven = model.with_drive(s)
        pieces.append((t0, driven, piece_times, recorded,
                       scheme or grid_plan(driven, grid).piece_scheme))
    return pieces


def _run_piece(run, state, times, recorded, bar, save, every, coarsen=False):
    """Run ``run`` through ``times`` (from its start), recording the outputs ``recorded``
    and checkpointing with ``save``; with ``coarsen``, continuing on a coarser grid from
    an output on where the state allows (:mod:`fpstt.integration.coarsen`; the runs left
    behind in ``state["before"]``), and holding a state that has stopped moving
    (:mod:`fpstt.integration.settled`).  Returns the output density at the last time and
    the run that ended."""
    plan = _plan(times, run.dt, check_steps(run) if coarsen else None)
    p_out, settling = None, Settling()
    for k, index in plan[state["segment"]:]:
        if "held_from" in state:                  # settled: the state is every later output
            p_out = _held_output(run, state, times, index, recorded, bar, k)
            continue
        start = state["x"]
        x, t = _run_segment(run, state, k, bar, save, every)
        if index is not None:
            settling.reset()
            x, t, _, p_out = _reach(run, state, x, t, times[index])
            if recorded[index]:
                _keep(state, p_out, run.grid)
        elif settling.holds(bound := settling.bound(run, start, x)):   # a check segment
            state.update(held_from=state["t0"] + t, hold_bound=bound)
        left = times[times > t + 1e-9 * run.dt] - t
        if coarsen and left.size and not isinstance(run, CoarseRun) and "held_from" not in state:
            before = run
            run, x = coarser(run, x, left)
            if run is not before:
                state.setdefault("before", []).append(before)
        state.update(x=x, t=t, segment=state["segment"] + 1, done=0, memory=run.memory())
        if save is not None and state["segment"] < len(plan):
            save()
    if "held_from" in state:                      # the next piece (a pulse's) steps afresh
        state["held"] = (state.pop("held_from"), state.pop("hold_bound"))
    return p_out, run


def _held_output(run, state, times, index, recorded, bar, k):
    """The output of a held run at ``times[index]`` (None: a check segment, skipped)."""
    bar.update(k)
    if index is None:
        return None
    _, p_out = run.output(state["x"], times[index])
    if recorded[index]:
        _keep(state, p_out, run.grid)
    return p_out


def _combined(parts: list[dict]) -> dict:
    """The numerics of one piece, or of several added up (counts) or worst-case; the
    scheme named is that of the piece with the largest cell Péclet number."""
    if len(parts) == 1:
        return parts[0]
    peclets = [d["max_cell_peclet"] for d in parts if d["max_cell_peclet"] is not None]
    worst = max(parts, key=lambda d: d["max_cell_peclet"] or 0.0)
    return dict(parts[0], scheme=worst["scheme"], schemes=sorted({d["scheme"] for d in parts}),
                pieces=len(parts), dt=max(d["dt"] for d in parts),
                dt_min=min(d["dt"] for d in parts),
                n_partial_steps=sum(d["n_partial_steps"] for d in parts),
                n_factorizations=sum(d["n_factorizations"] for d in parts),
                monotone=all(d["monotone"] for d in parts),
                remapped=any(d["remapped"] for d in parts),
                max_cell_peclet=max(peclets) if peclets else None,
                line_residual=max(d.get("line_residual", 0.0) for d in parts),
                coarsened=max(d.get("coarsened", 1) for d in parts),
                coarsened_phi=max(d.get("coarsened_phi", 1) for d in parts))


def _run_signature(model, grid, p0, scheme, run, times) -> dict:
    """The definition of a run, part by part, as strings a checkpoint stores and compares:
    the model's parameters (a dataclass's compared fields; of another object, its type),
    the grid (theta edges, n_phi, chart), the initial cell averages (a SHA-256 digest),
    the scheme and its step and the output times (checkpoints only observe the run,
    so their cadence may change on resume)."""
    if dataclasses.is_dataclass(model):
        model_text = repr([(f.name, getattr(model, f.name))
                           for f in dataclasses.fields(model) if f.compare])
    else:
        model_text = type(model).__qualname__
    chart = None if grid.chart is None else grid.chart.describe()
    return {"model": model_text,
            "grid": f"{_digest(grid.theta_edges)} x {grid.n_phi}, chart {chart}",
            "initial state": _digest(p0),
            "scheme": f"{scheme} (fast {run.fast}, dt {run.dt!r})",
            "times": repr(times.tolist())}


def _digest(array) -> str:
    data = np.ascontiguousarray(array, dtype=float)
    return hashlib.sha256(repr(data.shape).encode() + data.tobytes()).hexdigest()[:16]


def _plan(times, dt, check=None):
    """Segments (steps, output index): whole steps up to each output time, where the
    output is recorded, cut every ``check`` steps by segments whose index is None (where a
    run may continue on a coarser grid).  Checkpoints observe the run inside them and do
    not cut them."""
    plan, t_plan = [], 0.0
    for index, t_out in enumerate(times):
        steps = int(math.floor((t_out - t_plan) / dt + 1e-9))
        while check and steps > check:
            plan.append((check, None))
            steps -= check
        plan.append((steps, index))
        t_plan = t_out
    return plan


def _run_segment(run, state, k, bar, save, every):
    """Steps ``state["done"]`` .. k-1 of a segment, checking finiteness, mass and (real
    space) sign; with ``save`` and ``every``, the state is checkpointed every that many
    steps of the run (a pure observer: the open state and the numerics' memory are saved
    as they are)."""
    x, t = state["x"], state["t"]
    for x in run.advance(x, k, state["done"]):
        state["n_steps"] += 1
        state["done"] += 1
        bar.update(1)
        t += run.dt
        _check(state, x, t, run)
        if not run.fast:
            state["worst_neg"] = min(state["worst_neg"], float(x.min()) / float(x.max()))
        _observe(state, t, x, run)
        if save and every and state["done"] < k and state["n_steps"] % every == 0:
            state.update(x=x, t=t, memory=run.memory())
            save()
    return x, t


def _reach(run, state, x, t, t_out):
    """Reach the time t_out (a partial step if it is off the step lattice); (state, time,
    state density, output density), the sign of the state density checked."""
    tau = t_out - t
    landed = tau > 1e-9 * run.dt
    if landed:
        x, t = run.land(x, tau), t_out
        state["n_partial"] += 1
        _check(state, x, t, run)
    density, p_out = run.output(x, t)
    state["worst_neg"] = min(state["worst_neg"], float(density.min()) / float(density.max()))
    if landed:
        _observe(state, t, x, run)
    return x, t, density, p_out


def _check(state, x, t, run):
    """The health of a state at time t (from the piece's start): finite, and its mass."""
    if not np.all(np.isfinite(x)):
        raise FloatingPointError(f"p became non-finite at step {state['n_steps']} "
                                 f"(t = {state.get('t0', 0.0) + t:.6g} t_n)")
    state["worst_mass"] = max(state["worst_mass"], abs(run.backend.mass(x) - state["mass0"]))


def _observe(state, t, x, run):
    """Call the run's trackers with the state x at time t from the piece's start."""
    for tracker in state.get("trackers", ()):           # none in a resumed checkpoint
        tracker(state.get("t0", 0.0) + t, x, run)


def _keep(state, p_out, grid):
    """Record an output density, its mass and its sign."""
    state["out"].append(p_out)
    state["masses"].append(float(np.sum(p_out * grid.cell_measure)))
    state["worst_out"] = min(state["worst_out"], float(p_out.min()) / float(p_out.max()))
