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
    (diffusion, the Stratonovich / geometric drifts) is stepped implicitly, by backward
    Euler (Lie splitting, keeps p ≥ 0 when the operator is monotone) or by TR-BDF2 half
    steps around the shift (Strang splitting, second order).
"""

from __future__ import annotations

import math
import time as _time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from tqdm.auto import tqdm

from .grid import SphereGrid, mercator_theta, mercator_u
from .model import check_choice
from .fourier import FourierSolver
from .operator import fokker_planck_matrix, is_monotone

__all__ = ["SCHEMES", "Solution", "solve", "default_grid", "mercator_step", "check_times",
           "rotate_phi"]

SCHEMES = ("be", "cn", "bdf2", "tr-bdf2", "split-be", "split-tr-bdf2")
_GAMMA = 2 - math.sqrt(2)


def check_times(times) -> np.ndarray:
    """Validate output times (units of t_n): finite, ≥ 0, strictly increasing."""
    t = np.atleast_1d(np.asarray(times, dtype=float))
    if t.ndim != 1 or t.size == 0:
        raise ValueError("`times` must be a non-empty 1-D sequence")
    if not np.all(np.isfinite(t)) or t[0] < 0 or np.any(np.diff(t) <= 0):
        raise ValueError(f"`times` must be finite, ≥ 0 and strictly increasing, got {t.tolist()}")
    return t


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
    status: int = 0
    message: str = "ok"


def mercator_step(grid: SphereGrid, model) -> float:
    """The split-scheme step du / |Im C1| of a Mercator grid; ValueError if it has none."""
    u = mercator_u(grid.theta_edges[1:-1])
    du = np.diff(u)
    if du.size < 2 or not np.allclose(du, du[0], rtol=1e-9, atol=0):
        raise ValueError("split schemes need a grid from SphereGrid.mercator "
                         "(interior theta edges uniform in u = ln tan(theta/2))")
    rate = model.C1.imag
    if rate == 0:
        raise ValueError("split schemes need Im C1 != 0 (no deterministic flow to follow)")
    return float(du[0] / abs(rate))


def rotate_phi(p: np.ndarray, angle: float) -> np.ndarray:
    """Rotate cell averages in phi by ``angle`` (rad): exact for band-limited densities.

    The phase exp(-i m angle) of each Fourier mode; the mean (mode 0, the mass) is untouched.
    """
    n = p.shape[-1]
    m = np.fft.rfftfreq(n, d=1.0 / n)
    spec = np.fft.rfft(p, axis=-1) * np.exp(-1j * m * angle)
    if n % 2 == 0:
        spec[..., -1] = spec[..., -1].real
    return np.fft.irfft(spec, n=n, axis=-1)


def _shift_masses(masses: np.ndarray, grid: SphereGrid, direction: int) -> np.ndarray:
    """Exact one-cell translation in u of cell masses (n_theta, n_phi) on a Mercator grid.

    ``direction`` +1 moves mass toward theta = 0 (Im C1 > 0).  The cap the flow leaves
    splits its mass between itself and its neighbour in proportion to solid angle (exact
    when the density per steradian is uniform in that cap; the cap far from the flow's
    target holds negligible mass in practice).
    """
    out = np.empty_like(masses)
    e = grid.theta_edges
    du = mercator_u(e[2]) - mercator_u(e[1])
    if direction < 0:                       # mirror: theta -> pi - theta
        return _shift_masses(masses[::-1], _MirrorGrid(grid), 1)[::-1]
    out[0] = masses[0] + masses[1]
    out[1:-2] = masses[2:-1]
    top = e[-2]                              # lower edge of the cap at pi
    upper = mercator_theta(mercator_u(top) + du)
    frac = (math.cos(top) - math.cos(upper)) / (math.cos(top) + 1.0)
    out[-2] = frac * masses[-1]
    out[-1] = (1 - frac) * masses[-1]
    return out


class _MirrorGrid:
    """theta -> pi - theta view of a grid's edges (for the reverse flow)."""

    def __init__(self, grid):
        self.theta_edges = (math.pi - grid.theta_edges[::-1]).copy()
        self.theta_edges[0] = 0.0


class _SparseLU:
    """splu of a I - b L, factorised once."""

    def __init__(self, L, shape, a, b):
        self.lu = spla.splu((a * sp.identity(L.shape[0], format="csc") - b * L).tocsc())

    def solve(self, r):
        return self.lu.solve(r)


class _Stepper:
    """One implicit scheme on a fixed operator L and step dt, factorised once."""

    def __init__(self, L, dt, scheme, shape, fast):
        factor = FourierSolver if fast else _SparseLU
        self.scheme, self.L, self.dt = scheme, L, dt
        self.prev = None
        coef = {"be": 1.0, "cn": 0.5, "tr-bdf2": _GAMMA / 2, "bdf2": 1.0}[scheme]
        self.lu = factor(L, shape, 1.0, coef * dt)
        self.n_factorizations = 1
        if scheme == "bdf2":
            self.lu2 = factor(L, shape, 1.5, dt)
            self.n_factorizations = 2

    def step(self, p):
        dt, L = self.dt, self.L
        if self.scheme == "be":
            return self.lu.solve(p)
        if self.scheme == "cn":
            return self.lu.solve(p + 0.5 * dt * (L @ p))
        if self.scheme == "tr-bdf2":
            mid = self.lu.solve(p + 0.5 * _GAMMA * dt * (L @ p))
            g = _GAMMA
            return self.lu.solve(mid / (g * (2 - g)) - (1 - g) ** 2 / (g * (2 - g)) * p)
        # bdf2, started by backward Euler
        new = self.lu.solve(p) if self.prev is None else self.lu2.solve(2 * p - 0.5 * self.prev)
        self.prev = p
        return new


def solve(model, grid: SphereGrid, p0, times, *, scheme: str = "split-be",
          dt: float | None = None, fast: bool | None = None, progress: bool = False,
          meta: dict | None = None) -> Solution:
    """Evolve a (theta, phi) density under the Fokker-Planck equation (E3) of ``model``.

    Parameters
    ----------
    model
        A :class:`~fpstt.model.SpinTorqueModel` (or any object with ``drift``/``diffusion``;
        split schemes also need ``C1`` and ``phi_independent``).
    grid : SphereGrid
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
        Solve the implicit systems mode by mode in phi-Fourier space (same discretisation,
        O(n_theta n_phi log n_phi) per step).  Default: whenever the model is phi-independent.
    progress : bool
        Show a progress bar.

    Returns
    -------
    Solution
        ``p[k]`` is the (theta, phi) density at ``times[k]``.
    """
    check_choice("scheme", scheme, SCHEMES)
    times = check_times(times)
    p = grid.cell_average(p0) if callable(p0) else np.array(p0, dtype=float)
    if p.shape != grid.shape:
        raise ValueError(f"`p0` must have shape {grid.shape}, got {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError("`p0` contains non-finite values")
    start = _time.perf_counter()
    w = grid.cell_measure
    mass0 = float(np.sum(p * w))
    split = scheme.startswith("split")
    fast = model.phi_independent if fast is None else bool(fast)
    if fast and not model.phi_independent:
        raise ValueError("`fast`=True needs a phi-independent model")
    if split:
        if not model.phi_independent:
            raise ValueError("split schemes need a phi-independent model (no field kept on "
                             "during the dynamics, or a field along z'); use 'be' or 'tr-bdf2'")
        dt = mercator_step(grid, model)
        rest = fokker_planck_matrix(model, grid, drift_offset=(
            lambda th: -model.C1.imag * np.sin(th), model.C1.real))
        stepper = _Stepper(rest, dt / 2 if scheme == "split-tr-bdf2" else dt,
                           "tr-bdf2" if scheme == "split-tr-bdf2" else "be", grid.shape, fast)
        direction = 1 if model.C1.imag > 0 else -1
        operator = rest
    else:
        dt = _default_dt(times) if dt is None else float(dt)
        if not (dt > 0 and math.isfinite(dt)):
            raise ValueError(f"`dt` must be finite and > 0, got {dt!r}")
        operator = fokker_planck_matrix(model, grid)
        stepper = _Stepper(operator, dt, scheme, grid.shape, fast)
    full = None                                  # for partial steps, built on demand

    def advance(p):
        if not split:
            return stepper.step(p.ravel()).reshape(grid.shape)
        if scheme == "split-tr-bdf2":
            p = stepper.step(p.ravel()).reshape(grid.shape)
        p = _shift_masses(p * w, grid, direction) / w
        return stepper.step(p.ravel()).reshape(grid.shape)

    out, masses = [], []
    t, n_steps, n_partial, worst_neg, worst_out, worst_mass = 0.0, 0, 0, 0.0, 0.0, 0.0
    n_total = int(round(times[-1] / dt))
    bar = tqdm(total=n_total, disable=not progress, desc="fpstt solve", unit="step")
    for t_out in times:
        k = int(math.floor((t_out - t) / dt + 1e-9))
        for _ in range(k):
            p = advance(p)
            n_steps += 1
            bar.update(1)
            if not np.all(np.isfinite(p)):
                raise FloatingPointError(f"p became non-finite at step {n_steps} "
                                         f"(t = {t + dt:.6g} t_n)")
            worst_neg = min(worst_neg, float(p.min()) / float(p.max()))
            worst_mass = max(worst_mass, abs(float(np.sum(p * w)) - mass0))
            t += dt
        tau = t_out - t
        if tau > 1e-9 * dt:                      # land exactly on an off-grid output time
            if full is None:
                full = (fokker_planck_matrix(model, grid, drift_offset=(0.0, model.C1.real))
                        if split else operator)
            p = _Stepper(full, tau, "be", grid.shape, fast).step(p.ravel()).reshape(grid.shape)
            n_partial += 1
            t = t_out
        worst_neg = min(worst_neg, float(p.min()) / float(p.max()))
        p_out = rotate_phi(p, model.C1.real * t) if split else p.copy()
        out.append(p_out)
        masses.append(float(np.sum(p_out * w)))
        worst_out = min(worst_out, float(p_out.min()) / float(p_out.max()))
    bar.close()
    p_all = np.array(out)
    masses = np.array(masses)
    diagnostics = dict(
        scheme=scheme, fast=fast, dt=dt, n_steps=n_steps, n_partial_steps=n_partial,
        n_factorizations=stepper.n_factorizations + n_partial,
        monotone=is_monotone(operator), mass0=mass0,
        max_mass_error=max(worst_mass, float(np.max(np.abs(masses - mass0)))),
        min_p_ratio=worst_neg, min_p_ratio_output=worst_out,
        wall_time_s=_time.perf_counter() - start)
    return Solution(grid, times, p_all, masses, diagnostics, dict(meta or {}))


def default_grid(model, times, *, steps_per_unit: int = 360, n_phi: int = 256,
                 u_min: float = -9.0, u_max: float = 3.5) -> SphereGrid:
    """Flow-adapted grid for the split schemes: cells uniform in u = ln tan(theta/2).

    The step dt is the largest ≤ 1 / ``steps_per_unit`` (t_n) that divides every output time
    (when they are commensurate); du = |Im C1| dt, so that every output time is reached by
    exact shifts.  [u_min, u_max] = [-9, 3.5] spans theta from 2.5e-4 to 3.0 rad, plus the caps.
    """
    if int(steps_per_unit) != steps_per_unit or steps_per_unit < 1:
        raise ValueError(f"`steps_per_unit` must be an integer ≥ 1, got {steps_per_unit!r}")
    dt = _default_dt(check_times(times), 1.0 / steps_per_unit)
    return SphereGrid.mercator(abs(model.C1.imag) * dt, u_min, u_max, n_phi)


def _default_dt(times, dt_max: float = 0.01) -> float:
    """Largest dt ≤ dt_max dividing every output time (when they are commensurate)."""
    t_end = times[-1]
    if t_end == 0:
        return dt_max
    n = max(1, int(math.ceil(t_end / dt_max)))
    for k in range(n, n + 1000):
        dt = t_end / k
        if np.allclose(times / dt, np.round(times / dt), atol=1e-9, rtol=0):
            return dt
    return t_end / n
