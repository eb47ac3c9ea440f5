"""The remap of a z'-frame run whose chart does not carry the flow (plan kind ``"z-remapped"``,
:mod:`fpstt.flow.flowplan`): a pulse with a field kept on or a tilted easy axis.

The noiseless drift of Eq. (17) is linear in C1 (:meth:`~fpstt.physics.model.SpinTorqueModel.drift`):
the spin torque adds (-Im C1 sin theta, Re C1) in the z' frame, the Möbius flow about z', to the
magnet's flow (the drift at C1 = 0: field and anisotropy, precession and damping,
:func:`~fpstt.physics.magnet.landau_lifshitz_velocity`), which is the same at every drive.  So the
pieces of a pulse share one :class:`MagnetFlow`, whose drift is evaluated once on each set of
points (the transit-time samples of :mod:`fpstt.numerics.transit`), and each piece adds its own torque.

The split step either shifts whole rows in U exactly (the torque's -Im C1 sin theta) and remaps
the rest, or, when one row's step turns the state by more than the plan allows at the magnet's
rate (a weak drive under a strong field: :meth:`~fpstt.flow.flowplan.FlowPlan.folds_shift`), remaps
the whole noiseless flow over shorter steps (``folded``): a whole-row kick every 2.3 rad of
precession was 25 s.e. off Monte Carlo in the mean (model space seed 1 row 17,
docs/validation.md §8).
"""

from __future__ import annotations

import numpy as np

from .remap import FlowRemap
from .transit import TransitTracer

__all__ = ["MagnetFlow", "ZFrameRemaps"]

_KEPT = 4                    # evaluations a MagnetFlow keeps (the sweeps' sample sets)


class MagnetFlow:
    """The noiseless drift of ``model`` at C1 = 0, (theta', phi') per t_n in the z' frame,
    with its last few evaluations kept by the points they were made at (the pieces of a pulse
    sample it on the same points)."""

    def __init__(self, model):
        base = getattr(model, "base", model)
        self.model = base.with_options(C1=0j, C2=0j, thermal_D=0.0)
        self.kept = []                 # ((theta, phi), drift), oldest first
        self.n_evaluations = 0

    def __call__(self, theta, phi):
        theta, phi = np.broadcast_arrays(np.asarray(theta, float), np.asarray(phi, float))
        for points, drift in self.kept:           # the same points: compared exactly
            if (points[0].shape == theta.shape and np.array_equal(points[0], theta)
                    and np.array_equal(points[1], phi)):
                return drift
        if len(self.kept) >= _KEPT:
            self.kept.pop(0)
        self.n_evaluations += 1
        self.kept.append(((theta.copy(), phi.copy()), self.model.drift(theta, phi)))
        return self.kept[-1][1]


class ZFrameRemaps:
    """The :class:`~fpstt.numerics.remap.FlowRemap` of one piece (a model at one drive) for any step.

    Parameters
    ----------
    grid : SphereGrid
        A z'-frame Mercator grid.
    magnet : MagnetFlow
        The magnet's flow (shared by the pieces of a run).
    C1 : complex
        The piece's torque rate pair (Eq. 11, at its drive).
    folded : bool
        The remap moves the torque's shift in U too (no exact row shift); else it leaves
        -Im C1 sin theta to the exact shift.

    Calling it with a step tau (t_n) and a number of substeps returns the remap over tau
    (:class:`~fpstt.numerics.remap.FlowRemap`); departures come from one
    :class:`~fpstt.numerics.transit.TransitTracer` of the piece's velocity (any step, one sampling).
    """

    def __init__(self, grid, magnet: MagnetFlow, C1: complex, folded: bool):
        self.grid, self.magnet, self.C1, self.folded = grid, magnet, complex(C1), folded
        self.tracer = TransitTracer()
        self.remaps = {}

    def velocity(self, theta, phi):
        """(theta', phi') per t_n of what the remap moves: the magnet's flow, the torque's
        turn Re C1, and its shift -Im C1 sin theta when ``folded``."""
        mu_t, mu_p = self.magnet(theta, phi)
        shift = -self.C1.imag * np.sin(theta) if self.folded else 0.0
        return mu_t + shift, mu_p + self.C1.real

    def __call__(self, tau: float, substeps: int = 1) -> FlowRemap:
        key = (float(tau), int(substeps))
        if key not in self.remaps:
            while len(self.remaps) >= _KEPT:
                self.remaps.pop(next(iter(self.remaps)))
            self.remaps[key] = FlowRemap(self.grid, self.velocity, key[0], trace=self.tracer,
                                         substeps=key[1])
        return self.remaps[key]
