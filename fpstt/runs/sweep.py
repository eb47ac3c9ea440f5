"""Parameter sweeps of the switching probability, serial, on local processes, or on Dask.

A sweep is a list of points, each a dict of :class:`~fpstt.physics.microscopic.Microscopic`
overrides (e.g. ``{"n_e": 5e4, "T": 3.0}``, or ``current_A``, ``B_k``, ``alpha``) and, optionally,
the ``width`` (and ``rise``, ``fall``) of a current pulse in t_n.  Every point runs the Fokker-Planck solver on its own
flow-adapted grid and yields one row: the parameters, P_sw at the requested times, the median
and mean switching times, and solver diagnostics.  P_sw, the write-error rate WER =
Prob(n_z ≤ threshold) and the switching times come from :func:`fpstt.runs.wer.switching_curve`
(the solver's own time resolution, WER accurate down to its floor: columns ``WER(t=...)``,
``WER_floor``).  For a phi-independent model the diagnostics columns are those of a solve on
the point's grid (``du``, ``n_phi``) and the curve takes its own defaults; for any other
model (a field kept on, a tilted easy axis, a hard axis) the curve steps every cell of a
z'-frame grid with the point's ``du`` and ``n_phi``, and its run gives the diagnostics.  A point that fails is
reported in its row (``status = "failed"`` and the message) and does not stop the sweep.  With a CSV path, the
table is rewritten atomically after every finished point, and a re-run skips the points whose
rows are already there with ``status = "ok"`` and were computed from the same other inputs
(column ``inputs``: the times, threshold, du, n_phi, model options and initial state).
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io as _io
import itertools
import json
import math
import multiprocessing
import os
import signal
import sys
import warnings
from pathlib import Path

import numpy as np

from ..sphere.budget import warn_time
from ..integration.driven import solve_pulse
from ..physics.initial import initial_state
from ..physics.magnet import Pulse
from ..physics.microscopic import Microscopic, table_i
from ..physics.model import SpinTorqueModel
from ..analysis.io import publish, temporary_for, to_jsonable
from ..integration.stepping import check_times, default_grid
from .wer import switching_curve

__all__ = ["grid_points", "check_sweep", "run_point", "sweep", "EXECUTORS", "MAX_POINTS"]

EXECUTORS = ("serial", "processes", "dask")
MAX_POINTS = 10_000                # a sweep beyond this is a mistake or a job for a cluster
POINT_SECONDS = 1.0                # rough time of a point (Table I, du 0.03: 1.3 s)
_MICRO_KEYS = set(Microscopic.__dataclass_fields__)
_PULSE_KEYS = {"width", "rise", "fall"}             # a current pulse (t_n), :class:`Pulse`


def grid_points(values: dict) -> list[dict]:
    """All combinations of parameter values: {"n_e": [..], "T": [..]} -> list of dicts."""
    for key, options in values.items():
        if key not in _MICRO_KEYS | _PULSE_KEYS:
            raise ValueError(f"unknown sweep parameter `{key}`; valid: "
                             f"{sorted(_MICRO_KEYS | _PULSE_KEYS)}")
        if not isinstance(options, (list, tuple)) or not options:
            raise ValueError(f"sweep parameter `{key}` needs a non-empty list of values")
    keys = list(values)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(values[k] for k in keys))]


def check_sweep(values: dict, times, *, model_options: dict | None = None,
                initial: dict | None = None, workers: int = 1, **point_options) -> list[dict]:
    """Validate a sweep once, before any point runs, and return its points.

    ValueError when it has more than :data:`MAX_POINTS` points, a point's value is not a
    finite number or its inputs are invalid, or ``model_options``, ``initial`` or
    ``point_options`` (threshold, du, n_phi) fail at the first point; a RuntimeWarning
    when it should take more than a minute on ``workers`` processes.
    """
    count = math.prod(len(v) if isinstance(v, (list, tuple)) else 1 for v in values.values())
    if count > MAX_POINTS:
        raise ValueError(f"[sweep] makes {count} points, more than {MAX_POINTS} in one sweep "
                         f"(about {count * POINT_SECONDS / 3600 / workers:.3g} hours); "
                         "split it")
    points = grid_points(values)
    for point in points:
        _check_point(point)
    times = check_times(times)
    threshold = point_options.get("threshold", 0.0)
    if not -1 < threshold < 1:
        raise ValueError(f"[options] `threshold` must lie in (-1, 1), got {threshold!r}")
    first = points[0] if points else {}
    micro, where = table_i(**{k: v for k, v in first.items() if k in _MICRO_KEYS}), "[model]"
    try:
        model = SpinTorqueModel.from_microscopic(micro, **(model_options or {}))
        where = "[initial]"
        gibbs = initial_state(micro, **(initial or {}))
        where = "[options]"
        default_grid(model, times, du=point_options.get("du", 0.03),
                     n_phi=point_options.get("n_phi", 128), initial=gibbs)
    except TypeError as exc:
        raise ValueError(f"{where}: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    warn_time(count * POINT_SECONDS / workers, f"the sweep ({count} points)")
    return points


def _check_point(point: dict) -> None:
    """ValueError naming the parameter of a point that cannot run."""
    for key, value in point.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                math.isfinite(value)):
            raise ValueError(f"[sweep] `{key}` must hold finite numbers, got {value!r}")
    try:
        table_i(**{k: v for k, v in point.items() if k in _MICRO_KEYS})
        shape = {k: v for k, v in point.items() if k in _PULSE_KEYS}
        if shape:
            Pulse(**shape)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"[sweep] point {_key(point)}: {exc}") from None


def _key(point: dict) -> str:
    return ";".join(f"{k}={float(point[k])!r}" for k in sorted(point))


def run_point(point: dict, times, *, threshold: float = 0.0, du: float = 0.03,
              n_phi: int = 128, model_options: dict | None = None,
              initial: dict | None = None) -> dict:
    """Solve one parameter point; return its row (never raises for a bad point).

    ``point`` holds Microscopic overrides and, optionally, a pulse (``width``, ``rise``,
    ``fall`` in t_n); ``model_options`` go to :meth:`SpinTorqueModel.from_microscopic`
    (e.g. ``thermal``, ``field_on``); ``initial`` to :func:`~fpstt.physics.initial.initial_state`.
    """
    row = {"key": _key(point), **{k: float(v) for k, v in point.items()}}
    try:
        micro = table_i(**{k: v for k, v in point.items() if k in _MICRO_KEYS})
        shape = {k: v for k, v in point.items() if k in _PULSE_KEYS}
        pulse = Pulse(**shape) if shape else None
        model = SpinTorqueModel.from_microscopic(micro, **(model_options or {}))
        gibbs = initial_state(micro, **(initial or {}))
        t_out = np.asarray(times, float)
        if model.phi_independent:       # a solve for the diagnostics, the curve for WER
            grid = default_grid(model, t_out, du=du, n_phi=n_phi, initial=gibbs,
                                attractor=pulse is None)      # a chart is one drive's
            run = solve_pulse(model, grid, gibbs.cell_averages(grid), t_out, pulse).diagnostics
            curve = switching_curve(model, gibbs, float(t_out.max()), threshold=threshold,
                                    pulse=pulse)
            cells = grid.shape
        else:                           # the curve's run (real space, z' frame) is the solve
            curve = switching_curve(model, gibbs, float(t_out.max()), threshold=threshold,
                                    du=du, n_phi=n_phi, pulse=pulse)
            run, cells = curve.diagnostics, curve.diagnostics["grid"]
        prob, wer = curve.p_switch_at(t_out), curve.at(t_out)
        stats = curve.statistics()
        row["WER_floor"] = curve.floor
        for t, p_t, w_t in zip(t_out, np.clip(prob, 0, 1), np.clip(wer, 0, 1)):
            row[f"P_sw(t={t:g})"], row[f"WER(t={t:g})"] = float(p_t), float(w_t)
        row.update(t_switch_median=stats["quantiles"]["0.5"], t_switch_mean=stats["mean"],
                   kappa=gibbs.kappa, Im_C1=model.C1.imag, grid=f"{cells[0]}x{cells[1]}",
                   solver_s=run["wall_time_s"], mass_error=run["max_mass_error"],
                   min_p_ratio=run.get("min_p_ratio_output", run["min_p_ratio"]),
                   warnings=" | ".join(run["warnings"]), status="ok", error="")
    except Exception as exc:                                   # reported, not raised
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    return row


_POINT_DEFAULTS = dict(run_point.__kwdefaults__)      # what an option left out means


def _inputs(times, point_options: dict) -> str:
    """Everything besides the point that shapes a row (times, threshold, du, n_phi, model
    options, initial state; defaults filled in, numbers as floats), as canonical JSON."""
    merged = dict(_POINT_DEFAULTS, **point_options, times=list(times))
    merged["model_options"] = merged["model_options"] or {}
    merged["initial"] = merged["initial"] or {}
    return json.dumps(_canonical(to_jsonable(merged)), sort_keys=True)


def _canonical(value):
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _reusable(csv_path: Path, inputs: str) -> dict:
    """The finished rows of an existing table computed from ``inputs``, by key; warn when
    rows of other inputs are dropped."""
    rows, other = {}, 0
    for row in _read_csv(csv_path):
        if row.get("status") == "ok" and row.get("inputs") == inputs:
            rows[row["key"]] = row
        else:
            other += row.get("status") == "ok"
    if other:
        warnings.warn(f"{csv_path}: replacing {other} finished row(s) computed from other "
                      "inputs (times, [options], [model] or [initial])", RuntimeWarning,
                      stacklevel=3)
    return rows


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _start_worker(threads: int):
    """Run in each worker as it starts: Ctrl-C is the parent's to handle (it terminates
    the pool), SIGTERM ends a worker at once; then the stop signals held while the pool
    was forked (`_stop_signals_held`) are let through.  The compiled loops' threads
    (:mod:`fpstt.numerics.compiled`) are cut to ``threads``, the worker's share of the cores
    (2 workers on 2 cores: one each, not two contending for one core)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    os.environ["NUMBA_NUM_THREADS"] = str(threads)         # numba not yet loaded here
    numba = sys.modules.get("numba")
    if numba is not None:                                  # loaded before the fork
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


@contextlib.contextmanager
def _stop_signals_held():
    """While a process pool is forked: Ctrl-C / SIGTERM wait, and reach the parent's
    handlers once the workers exist (so no worker is left behind, none is cut mid-fork)."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _write_csv(path: Path, rows: list[dict]) -> None:
    columns = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    buffer = _io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(sorted(rows, key=lambda r: r["key"]))
    fd, tmp = temporary_for(path)
    with os.fdopen(fd, "w", newline="") as handle:
        handle.write(buffer.getvalue())
    publish(tmp, path)


def sweep(points: list[dict], times, *, executor: str = "processes", workers: int | None = None,
          scheduler: str | None = None, csv_path=None, **point_options) -> list[dict]:
    """Run :func:`run_point` for every point; return the rows sorted by point.

    Parameters
    ----------
    points : list of dict
        Microscopic overrides per point (see :func:`grid_points`).
    times : sequence of float
        Times (t_n) at which P_sw is reported.
    executor : {"serial", "processes", "dask"}
        Where the points run: this process, a local process pool (``workers``, default the
        number of cores), or a Dask cluster at ``scheduler`` (an address, or a
        ``distributed.Client``/``LocalCluster``-compatible object); needs ``fpstt[dask]``.
    csv_path : path, optional
        Table kept up to date (atomically) after each point; points it holds finished from
        the same times and ``point_options`` are skipped, rows from other inputs replaced.
    point_options
        Passed to :func:`run_point` (threshold, du, n_phi, model_options).
    """
    if executor not in EXECUTORS:
        raise ValueError(f"`executor` must be one of {sorted(EXECUTORS)}, got {executor!r}")
    rows, inputs = {}, _inputs(times, point_options)
    if csv_path is not None:
        csv_path = Path(csv_path)
        if csv_path.exists():
            rows = _reusable(csv_path, inputs)
    todo = [p for p in points if _key(p) not in rows]

    def finished(row):
        rows[row["key"]] = dict(row, inputs=inputs)
        if csv_path is not None:
            _write_csv(csv_path, list(rows.values()))

    if executor == "serial" or not todo:
        for point in todo:
            finished(run_point(point, times, **point_options))
    elif executor == "processes":
        pool = None
        try:
            with _stop_signals_held():
                size = workers or os.cpu_count()
                pool = multiprocessing.Pool(size, initializer=_start_worker,
                                            initargs=(max(1, os.cpu_count() // size),))
            for row in pool.imap_unordered(
                    functools.partial(run_point, times=times, **point_options), todo):
                finished(row)
            pool.close()
        except BaseException:           # Ctrl-C, SIGTERM, an error: the workers stop now
            if pool is not None:
                pool.terminate()
            raise
        finally:
            if pool is not None:
                pool.join()
    else:
        from distributed import Client, as_completed as dask_completed
        client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
        try:
            futures = client.map(run_point, todo, times=list(map(float, times)), pure=False,
                                 **point_options)
            for future in dask_completed(futures):
                finished(future.result())
        finally:
            if client is not scheduler:
                client.close()
    return [rows[k] for k in sorted(rows) if k in {_key(p) for p in points}]
