"""fpstt: Fokker-Planck densities on the sphere for the stochastic spin-transfer torque.

Physics from C. Tassi, M. Barbieri, R. Raimondi, "Quantum noise in the spin transfer torque
effect".  Time is in units of t_n; densities p(theta, phi) are (theta, phi) densities (they
carry sin theta, Eq. 16) with sum p dtheta dphi = 1.
"""

from . import config, observables, pushforward
from .grid import SphereGrid, mercator_theta, mercator_u
from .initial import GibbsState
from .microscopic import Microscopic, derived_coefficients, table_i, transmission_amplitude
from .model import SpinTorqueModel
from .operator import central_difference_matrix, fokker_planck_matrix, is_monotone

__version__ = "0.1.0"

__all__ = ["config", "SphereGrid", "mercator_theta", "mercator_u", "GibbsState", "Microscopic",
           "SpinTorqueModel", "derived_coefficients", "table_i", "transmission_amplitude",
           "observables", "pushforward", "central_difference_matrix", "fokker_planck_matrix", "is_monotone", "__version__"]

from .stepping import SCHEMES, Solution, default_grid, solve  # noqa: E402
from .io import load, save  # noqa: E402

__all__ += ["SCHEMES", "Solution", "default_grid", "solve", "load", "save"]

from .initial import BoltzmannState, initial_state  # noqa: E402
from .magnet import FunctionDrive, Pulse  # noqa: E402
from .driven import solve_pulse  # noqa: E402
from .wer import SwitchingCurve, switching_curve  # noqa: E402

__all__ += ["BoltzmannState", "initial_state", "Pulse", "FunctionDrive", "solve_pulse",
            "SwitchingCurve", "switching_curve"]
