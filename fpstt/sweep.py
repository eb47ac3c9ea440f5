"""Parameter sweeps of the switching probability, serial, on local processes, or on Dask.

A sweep is a list of points, each a dict of :class:`~fpstt.model.Microscopic` overrides
(e.g. ``{"n_e": 5e4, "T": 3.0}``, or ``current_A``, ``B_k``, ``alpha``) and, optionally,
the ``width`` (and ``rise``, ``fall``) of a current pulse in t_n.  Every point runs the Fokker-Planck solver on its own
flow-adapted grid and yields one row: the parameters, P_sw at the requested times, the median
and mean switching times, and solver diagnostics.  P_sw, the write-error rate WER =
Prob(n_z ≤ threshold) and the switching times come from :func:`fpstt.wer.switching_curve`
(the solver's own time resolution, WER accurate down to its floor: columns ``WER(t=...)``,
``WER_floor``) when the model is phi-independent; otherwise from the solution's cells
(each side summed on its own) and the switching times are NaN.  A point that fails is
reported in its row (``status = "failed"`` and the message) and does not stop the sweep.  With a CSV path, the
table is rewritten atomically after every finished point, and a re-run skips the points whose
rows are already there with ``status = "ok"`` and were computed from the same other inputs
(column ``inputs``: the times, threshold, du, n_phi, model options and initial state).
"""

from __future__ import annotations

import csv
import io as _io
import itertools
import json
import os
import tempfile
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from .driven import solve_pulse
from .initial import initial_state
from .magnet import Pulse
from .model import Microscopic, SpinTorqueModel, table_i
from .io import publish, to_jsonable
from .stepping import default_grid
from .switching import switching_probability, unswitched_probability
from .wer import switching_curve

__all__ = ["grid_points", "run_point", "sweep", "EXECUTORS"]

EXECUTORS = ("serial", "processes", "dask")
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


def _key(point: dict) -> str:
    return ";".join(f"{k}={float(point[k])!r}" for k in sorted(point))


def run_point(point: dict, times, *, threshold: float = 0.0, du: float = 0.03,
              n_phi: int = 128, model_options: dict | None = None,
              initial: dict | None = None) -> dict:
    """Solve one parameter point; return its row (never raises for a bad point).

    ``point`` holds Microscopic overrides and, optionally, a pulse (``width``, ``rise``,
    ``fall`` in t_n); ``model_options`` go to :meth:`SpinTorqueModel.from_microscopic`
    (e.g. ``thermal``, ``field_on``); ``initial`` to :func:`~fpstt.initial.initial_state`.
    """
    row = {"key": _key(point), **{k: float(v) for k, v in point.items()}}
    try:
        micro = table_i(**{k: v for k, v in point.items() if k in _MICRO_KEYS})
        shape = {k: v for k, v in point.items() if k in _PULSE_KEYS}
        pulse = Pulse(**shape) if shape else None
        model = SpinTorqueModel.from_microscopic(micro, **(model_options or {}))
        gibbs = initial_state(micro, **(initial or {}))
        t_out = np.asarray(times, float)
        grid = default_grid(model, t_out, du=du, n_phi=n_phi, initial=gibbs)
        sol = solve_pulse(model, grid, gibbs.cell_averages(grid), t_out, pulse)
        prob = switching_probability(grid, sol.p, threshold)
        wer = unswitched_probability(grid, sol.p, threshold)
        median = mean = np.nan
        if model.phi_independent:               # WER at the step resolution, to its floor
            curve = switching_curve(model, gibbs, float(t_out.max()), threshold=threshold,
                                    pulse=pulse)
            prob, wer = curve.p_switch_at(t_out), curve.at(t_out)
            stats = curve.statistics()
            median, mean = stats["quantiles"]["0.5"], stats["mean"]
            row["WER_floor"] = curve.floor
        for t, p_t, w_t in zip(t_out, prob, wer):
            row[f"P_sw(t={t:g})"], row[f"WER(t={t:g})"] = float(p_t), float(w_t)
        row.update(t_switch_median=median, t_switch_mean=mean,
                   kappa=gibbs.kappa, Im_C1=model.C1.imag, grid=f"{grid.n_theta}x{grid.n_phi}",
                   solver_s=sol.diagnostics["wall_time_s"],
                   mass_error=sol.diagnostics["max_mass_error"],
                   min_p_ratio=sol.diagnostics["min_p_ratio_output"],
                   warnings=" | ".join(sol.diagnostics["warnings"]), status="ok", error="")
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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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
        with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
            futures = [pool.submit(run_point, p, times, **point_options) for p in todo]
            for future in as_completed(futures):
                finished(future.result())
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
