"""Saving and loading results as ``.npz`` files, written atomically.

A solution file holds ``theta``, ``phi``, ``theta_edges``, ``times``, ``p`` (shape
(n_times, n_theta, n_phi), cell averages of the (theta, phi) density of Eq. 16, which
carries sin theta), ``mass``, and ``meta``: a JSON string with the model parameters, scheme,
grid, diagnostics and package version.
"""

from __future__ import annotations

import glob
import json
import math
import os
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..sphere.chart import MobiusChart
from ..sphere.grid import SphereGrid
from .._version import __version__

__all__ = ["Solution", "save", "load", "atomic_savez", "read_npz", "to_jsonable", "temporary_for"]



@dataclass
class Solution:
    """Result of :func:`fpstt.integration.stepping.solve` (and of every run that returns densities).

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


def to_jsonable(obj):
    """Convert numpy scalars/arrays and complex numbers to JSON-compatible values; a
    non-finite number (which JSON has no word for) becomes null."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (complex, np.complexfloating)):
        return [to_jsonable(float(obj.real)), to_jsonable(float(obj.imag))]
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def publish(tmp, path) -> None:
    """Give a finished temporary file the permissions a plain ``open()`` would (mkstemp
    makes it 0600) and rename it over ``path``."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


def temporary_for(path: Path) -> tuple[int, str]:
    """(fd, name) of a new hidden temporary file beside ``path``, named after it and this
    process, ``.NAME.PID.XXXX.tmp``.  The temporaries of ``path`` left by processes that
    are gone (killed while writing) are removed first."""
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = stale.name[len(path.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            stale.unlink(missing_ok=True)
    try:
        return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                                suffix=".tmp")
    except OSError as exc:
        raise OSError(f"cannot write {path}: {exc.strerror or exc}") from None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:                 # someone else's process
        return True
    return True


def atomic_savez(path, **arrays) -> Path:
    """np.savez_compressed to a temporary file in the target folder, then rename over ``path``.

    An interrupted write never leaves a truncated file at ``path``.
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"result files must end in .npz, got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temporary_for(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez_compressed(handle, **arrays)
        publish(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save(solution, path) -> Path:
    """Write a :class:`Solution` to ``path`` (.npz), atomically."""
    g = solution.grid
    meta = dict(solution.meta, diagnostics=solution.diagnostics, fpstt_version=__version__,
                n_phi=g.n_phi, chart=None if g.chart is None else g.chart.describe())
    return atomic_savez(path, theta=g.theta, phi=g.phi, theta_edges=g.theta_edges,
                        times=solution.times, p=solution.p, mass=solution.mass,
                        meta=np.array(json.dumps(to_jsonable(meta))))


def read_npz(path, names, what: str = "an fpstt file") -> dict:
    """The arrays ``names`` of the ``.npz`` file at ``path``, all read now.

    Raises
    ------
    ValueError
        One line naming the file and what is wrong with it: not a readable ``.npz``
        (truncated, corrupted or another format) or without one of ``names``.
    OSError
        The file cannot be opened (e.g. it does not exist).
    """
    try:
        data = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError):
        data = None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"{path} is not a readable .npz file (truncated, corrupted or "
                         "another format)")
    with data:
        missing = [name for name in names if name not in data.files]
        if missing:
            raise ValueError(f"{path} is not {what}: it has no `{missing[0]}`")
        try:
            return {name: data[name] for name in names}
        except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError):
            raise ValueError(f"{path} is truncated or corrupted (its `.npz` entries do "
                             "not read back)") from None


def load(path):
    """Read a file written by :func:`save` back into a :class:`Solution`."""
    data = read_npz(path, ("meta", "theta_edges", "times", "p", "mass"), "a solution file")
    meta = json.loads(str(data["meta"]))
    chart = meta.pop("chart", None)
    grid = SphereGrid(data["theta_edges"], int(meta.pop("n_phi")),
                      None if chart is None else MobiusChart.from_description(chart))
    diagnostics = meta.pop("diagnostics", {})
    return Solution(grid, data["times"], data["p"], data["mass"], diagnostics, meta)
