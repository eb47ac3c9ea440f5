"""The numerics of one run of :func:`fpstt.integration.stepping.solve`: what every scheme
shares, and the unsplit schemes.

An integrator is built for one (model, grid, scheme) and offers the run loop
``advance(x, k)``, ``land(x, tau)``, ``output(x, t)``, ``memory()``/``recall(m)`` (a resumed
run continues bit for bit) and ``diagnostics(n_partial)``.  :class:`Integrator` holds what
every scheme needs: the operator on its backend (:mod:`fpstt.numerics.fourier`: sparse LU in
real space, or one tridiagonal system per phi Fourier mode on the fast path of a
phi-independent model), the step and the initial state.  :class:`UnsplitIntegrator` steps
the full operator with one implicit scheme (:class:`~fpstt.integration.implicit.ImplicitScheme`,
or error-controlled TR-BDF2, :mod:`fpstt.numerics.adaptive`); the split schemes are
:class:`~fpstt.integration.split.SplitIntegrator`.  :data:`~fpstt.integration.stepping.SCHEMES`
names the class of each scheme.
"""

from __future__ import annotations

import math

import numpy as np

from ..flow.flowgrid import default_dt
from ..numerics.adaptive import MACRO_STEP, AdaptiveTRBDF2
from ..numerics.fourier import RealBackend, SpectralBackend
from ..numerics.operator import fokker_planck_matrix, is_monotone
from ..sphere.grid import SphereGrid
from .guards import max_cell_peclet
from .implicit import ImplicitScheme

__all__ = ["Integrator", "UnsplitIntegrator", "COMPILED_WORK"]

COMPILED_WORK = 1e8
"""Unknowns x steps of a Fourier-path run beyond which its solves are compiled
(:attr:`~fpstt.numerics.fourier.SpectralBackend.compiled`, bit for bit the same): they save
~25 ns per unknown and step, numba's start-up costs ~1 s.  Table I to t_n is 1.5e7.  A run
that remaps (its line sweeps are numba's) pays that start-up anyway: its solves are
compiled whatever its size (the in-plane curve at 210 steps, 7e7: 6.3 -> 3.2 ms a solve)."""

_MODE_TOL = 1e-12            # phi modes dropped at the start may hold this much L1 (relative)
_FREE_STEP = 0.01            # t_n: the default step of an unsplit scheme
_UNSPLIT = {"adaptive-tr-bdf2": AdaptiveTRBDF2}    # unsplit schemes not of ImplicitScheme
_LONGEST = {"adaptive-tr-bdf2": MACRO_STEP}       # their default step


class Integrator:
    """What every scheme's run shares: the model in the grid's frame, the backend of its
    operator, the step ``dt`` and the initial state ``x0`` (backend form).

    Parameters
    ----------
    model : SpinTorqueModel
        The model of this run (a pulse: of this piece's drive).
    grid : SphereGrid
    scheme : str
        One of :data:`~fpstt.integration.stepping.SCHEMES` that this class steps.
    times : array
        Output times (t_n), from the piece's start.
    dt : float or None
        The step (t_n); None: the scheme's default.
    fast : bool or None
        The Fourier path (phi modes); None: when the model is phi-independent.
    p : array
        The initial (theta, phi) density (carries sin theta; integrates to 1).
    tails : bool
        Step every row (no frozen rows), as tails need (split schemes).
    n_modes : int, optional
        Keep only that many leading phi modes on the fast path (1: the theta-marginal
        alone, which no other mode feeds when the model is phi-independent).
    shared : dict, optional
        Numerics the pieces of one run (a pulse) share, filled here.
    """

    lines = False            # 2-D systems solved line by line (chart grids, split schemes)
    remap = None             # the transport of a flow the chart does not carry (split)
    peclet = None            # the largest cell Péclet number (unsplit schemes)

    def __init__(self, model, grid: SphereGrid, scheme: str, times, dt, fast, p, *,
                 tails: bool = False, n_modes: int | None = None, shared: dict | None = None):
        self.shared = {} if shared is None else shared
        self.grid, self.scheme = grid, scheme
        self.horizon = float(np.max(times))         # t_n from the piece's start
        self.model = model = self._in_frame(model)
        self.fast = model.phi_independent if fast is None else bool(fast)
        if self.fast and not model.phi_independent:
            raise ValueError("`fast`=True needs a phi-independent model")
        self.Backend = SpectralBackend if self.fast else RealBackend
        self.strip = 3 if self.fast else None       # the fast path needs only the phi blocks
        self.dt = self._step(times, dt)
        self.monotone, self.backend = self._operator()
        self.x0 = self.backend.to_state(p)
        self._prepare()
        if self.fast and self._modes_stay_apart():
            # only the phi modes that the initial state uses
            keep = self.backend.modes_needed(self.x0, _MODE_TOL) if n_modes is None else n_modes
            self.backend = self.backend.truncated(keep)
            self.x0 = self.x0[:, :self.backend.n_modes]
        if self.fast:
            self.backend.compiled = (self._remaps()
                                     or self.x0.size * self.horizon / self.dt > COMPILED_WORK)
        self._set_up_steps(tails)

    # the hooks of a scheme (SplitIntegrator overrides them)
    def _in_frame(self, model):
        """The model as the operator is built in (the z' frame here)."""
        return model

    def _offset(self):
        """(theta drift, phi drift) taken off the operator's drift (what moves exactly)."""
        return 0.0, 0.0

    def _prepare(self) -> None:
        """Numerics built before the phi modes are chosen."""

    def _modes_stay_apart(self) -> bool:
        """True when no piece of a step mixes phi modes (the fast path may drop modes)."""
        return True

    def _remaps(self) -> bool:
        """True when a step remaps the flow (numba's line sweeps, :mod:`fpstt.numerics.remap`)."""
        return False

    def _set_up_steps(self, tails: bool) -> None:
        one_mode = self.fast and self.backend.n_modes == 1
        self.peclet = max_cell_peclet(self.model, self.grid, along_phi=not one_mode)
        self.stepper = _UNSPLIT.get(self.scheme, ImplicitScheme)(self.backend, self.dt,
                                                                 self.scheme)

    def _operator(self):
        """(is the operator monotone, backend), the offset of :meth:`_offset` taken off
        the drift."""
        L = fokker_planck_matrix(self.model, self.grid, n_phi=self.strip,
                                 drift_offset=self._offset())
        return is_monotone(L), self.Backend(L, self.grid)

    def _step(self, times, dt, longest: float | None = None) -> float:
        """``dt``, or the longest step (the scheme's default) that divides ``times``."""
        if longest is None:
            longest = _LONGEST.get(self.scheme, _FREE_STEP)
        dt = default_dt(times, longest) if dt is None else float(dt)
        if not (dt > 0 and math.isfinite(dt)):
            raise ValueError(f"`dt` must be finite and > 0, got {dt!r}")
        return dt

    def output(self, x, t: float):
        """(state density, output density), the same here."""
        density = self.backend.to_density(x)
        return density, density

    def _work(self) -> dict:
        """(factorisations, the scheme's own diagnostics)."""
        extra = self.stepper.work() if isinstance(self.stepper, AdaptiveTRBDF2) else {}
        return self.stepper.n_factorizations, [], extra

    def diagnostics(self, n_partial: int) -> dict:
        """The run's numerics; ``n_partial`` partial steps each cost one factorisation."""
        factorizations, windows, extra = self._work()
        return dict(
            scheme=self.scheme, fast=self.fast, dt=self.dt, n_partial_steps=n_partial,
            n_factorizations=factorizations + n_partial,
            mean_window_fraction=float(np.mean(windows)) if windows else 1.0,
            n_phi_modes=int(self.backend.n_modes) if self.fast else None,
            compiled_solves=self.fast and self.backend.compiled,
            chart=None if self.grid.chart is None else self.grid.chart.describe(),
            monotone=self.monotone, max_cell_peclet=self.peclet,
            remapped=self.remap is not None, **extra)


class UnsplitIntegrator(Integrator):
    """The full operator (E3) stepped by one implicit scheme on the z'-frame grid:
    ``"be"``, ``"cn"``, ``"bdf2"``, ``"tr-bdf2"`` (:class:`ImplicitScheme`, factorised once)
    or ``"adaptive-tr-bdf2"`` (error-controlled macro steps)."""

    def __init__(self, model, grid: SphereGrid, scheme: str, times, dt, fast, p, **options):
        if grid.chart is not None:
            raise ValueError(f"scheme {scheme!r} steps the z'-frame operator, but this grid "
                             "carries a chart: use a split scheme on it, or a z'-frame grid")
        super().__init__(model, grid, scheme, times, dt, fast, p, **options)

    def advance(self, x, k: int, start: int = 0):
        """Steps ``start`` .. k-1 of a segment of k steps from state x, yielding the state
        after each."""
        for _ in range(start, k):
            x = self.stepper.step(x)
            yield x

    def land(self, x, tau: float):
        """Reach an output time tau < dt past the step lattice: one backward-Euler step
        over tau (the adaptive scheme: its own substeps)."""
        if isinstance(self.stepper, AdaptiveTRBDF2):
            return self.stepper.step(x, tau)
        return ImplicitScheme(self.backend, tau, "be").step(x)

    def memory(self) -> dict:
        """The BDF2 history, if any: what :meth:`recall` restores."""
        prev = getattr(self.stepper, "prev", None)
        return {"prev": prev} if prev is not None else {}

    def recall(self, memory: dict) -> None:
        """Continue with the history that :meth:`memory` saved ({}: a segment's start)."""
        if "prev" in memory:
            self.stepper.prev = memory["prev"]
