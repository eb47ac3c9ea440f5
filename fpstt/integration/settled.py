"""A run whose state has stopped moving is not stepped on: its later outputs are that state.

A state that relaxes onto an attractor stops changing long before most runs end (model-space
seed 3 row 12 settles by 0.8 t_n of its 2 t_n and spent the remaining 1.2 t_n, 500 steps
of 26 ms, stepping a state whose outputs agreed to 1e-10).  Inside the runs that check
their state every CHECK_EVERY t_n (:func:`~fpstt.integration.coarsen.check_steps`), each
check segment applies one and the same linear map S (a closed Strang sequence of the same
number of steps, the same drive), so its change

.. math::
    D_j = \\lVert S^j x_0 - S^{j-1} x_0 \\rVert_1 \\quad\\text{(of the cell masses)}

falls geometrically, D_{j+1} ≈ r D_j, once the fast transients are gone, and everything the
run would still do to the state adds up to at most

.. math::
    R_j = D_j \\, \\frac{r}{1 - r}.

The state is held (the loop stops stepping, every later output is it) when the last
DECAYS = 2 ratios of consecutive changes are both ≤ DECAY_MAX = 1/2 and R ≤ HOLD_L1 = 1e-8
of the mass.  A slow mode (an exchange between two wells, a slow drift) keeps its change
from falling, so its ratio stays near 1 and the state is not held; one hidden under faster
modes cannot hold more than ~ D / (lambda CHECK_EVERY) of the mass (lambda its rate), and
the two ratios ≤ 1/2 leave it at most half of D.  HOLD_L1 sits far below the grid's own
errors (1e-5 to 1e-3 in L1 on the model-space rows), so the outputs are those of the
stepped run to that level: the solution's diagnostics report ``held_from`` (t_n) and the
bound ``hold_bound``.  Runs that need every step stepped (``tails``, trackers, checkpoints)
never check, and so are never held.
"""

from __future__ import annotations

import numpy as np

__all__ = ["HOLD_L1", "DECAY_MAX", "DECAYS", "can_hold", "Settling"]

HOLD_L1 = 1e-8          # what the held run may still have changed, L1 of the mass, at most
DECAY_MAX = 0.5         # ratio of consecutive check changes that counts as a clear decay
DECAYS = 2              # that many consecutive such ratios before a state is held


def can_hold(run) -> bool:
    """True for a run that may be held: a split run whose implicit pieces freeze rows (not
    ``tails``) and whose state is its output: on a chart grid (solved line by line), or in
    the z' frame with a remap (not the exact shift alone, whose state turns with the
    torque's precession until it is output).  Model-space seed 8 row 8 (an easy axis along
    z', alpha = 0.73, Brown noise at 300 K) is stationary by 0.5 t_n and stepped 960 steps
    to 2 t_n."""
    implicit = getattr(run, "implicit", None)
    return (implicit is not None and implicit.tol is not None
            and (run.lines or run.remap is not None))


class Settling:
    """Watches the check segments of one run piece and says when its state can be held."""

    def __init__(self):
        self.run, self.changes = None, []

    def reset(self) -> None:
        """A segment that is not a check segment (an output's) breaks the chain of equal maps."""
        self.run, self.changes = None, []

    def bound(self, run, before, after) -> float | None:
        """After a check segment of ``run`` that took the state from ``before`` to
        ``after`` (closed Strang sequences): the bound R on the change still to come
        (module docstring), or None while the decay is not yet established."""
        if run is not self.run:                 # a coarser grid's run starts a new chain
            self.run, self.changes = run, []
        backend = run.backend                   # cell averages, or phi modes: via densities
        change = np.abs(backend.to_density(after - before))
        self.changes.append(backend.mass(backend.to_state(change)) / backend.mass(after))
        if len(self.changes) <= DECAYS:
            return None
        last = self.changes[-DECAYS - 1:]
        ratios = [b / a if a > 0 else 0.0 for a, b in zip(last[:-1], last[1:])]
        if max(ratios) > DECAY_MAX:
            return None
        r = max(ratios)
        return last[-1] * r / (1 - r)

    @staticmethod
    def holds(bound: float | None) -> bool:
        """True when ``bound`` (from :meth:`bound`) allows holding the state."""
        return bound is not None and bound <= HOLD_L1
