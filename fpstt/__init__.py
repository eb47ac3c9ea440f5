"""fpstt: Fokker-Planck densities on the sphere for the stochastic spin-transfer torque.

Physics from C. Tassi, M. Barbieri, R. Raimondi, "Quantum noise in the spin transfer torque
effect".  Time is in units of t_n; densities p(theta, phi) are (theta, phi) densities (they
carry sin theta, Eq. 16) with sum p dtheta dphi = 1.

The sub-packages, each importing only from those listed before it:

- :mod:`fpstt.sphere` -- cells and coordinates: the (theta, phi) grid, Möbius charts, budgets;
- :mod:`fpstt.physics` -- the model: Table I inputs, the magnet, Eq. (17), initial states and
  the exact noiseless pushforward (Eqs. 15-16);
- :mod:`fpstt.analysis` -- what is read off a density: moments, switching, files, figures;
- :mod:`fpstt.flow` -- the flow plan (the one decision of how a run follows the flow) and the
  grid it implies;
- :mod:`fpstt.numerics` -- the operator of Eq. (E3), implicit solves and exact transport;
- :mod:`fpstt.integration` -- the integrator and the one time loop, :func:`solve`;
- :mod:`fpstt.runs` -- what is built on the loop: configs, Monte Carlo, write-error curves,
  sweeps, error estimates, cross-checks;
- :mod:`fpstt.cli` -- the ``fpstt`` command.
"""

from ._version import __version__
from .analysis import observables
from .analysis.io import load, save
from .integration.driven import solve_pulse
from .integration.stepping import SCHEMES, Solution, default_grid, solve
from .numerics.operator import central_difference_matrix, fokker_planck_matrix, is_monotone
from .physics import pushforward
from .physics.initial import BoltzmannState, GibbsState, initial_state
from .physics.magnet import FunctionDrive, Pulse
from .physics.microscopic import Microscopic, derived_coefficients, table_i, transmission_amplitude
from .physics.model import SpinTorqueModel
from .runs import config
from .runs.wer import SwitchingCurve, switching_curve
from .sphere.grid import SphereGrid, mercator_theta, mercator_u

__all__ = ["__version__", "config", "observables", "pushforward", "SphereGrid", "mercator_theta",
           "mercator_u", "GibbsState", "BoltzmannState", "initial_state", "Microscopic",
           "SpinTorqueModel", "derived_coefficients", "table_i", "transmission_amplitude",
           "central_difference_matrix", "fokker_planck_matrix", "is_monotone", "SCHEMES",
           "Solution", "default_grid", "solve", "load", "save", "Pulse", "FunctionDrive",
           "solve_pulse", "SwitchingCurve", "switching_curve"]
