"""Physical constants in SI units, in one place.

All SI inputs of fpstt are converted to the package's units (time in units of
``t_n``, rates per ``t_n``, noise amplitudes per ``sqrt(t_n)``) in
:mod:`fpstt.physics.microscopic` and :mod:`fpstt.physics.model`, using only the constants
defined here.
"""

from scipy import constants as _c

__all__ = ["HBAR", "HBAR_TABLE_I", "ELECTRON_MASS", "ELEMENTARY_CHARGE", "BOLTZMANN",
           "GYROMAGNETIC_RATIO", "ELECTRON_MASS_TABLE_I"]

#: Reduced Planck constant (CODATA), J s.
HBAR = _c.hbar
#: The rounded value of hbar that reproduces the paper's Table I to its printed
#: precision, J s.  Used only to check the table (see ``tests/test_model.py``).
HBAR_TABLE_I = 1.06e-34
#: The rounded electron mass that, with HBAR_TABLE_I, reproduces Table I, kg.
ELECTRON_MASS_TABLE_I = 9.11e-31
#: Electron mass, kg.
ELECTRON_MASS = _c.m_e
#: Elementary charge, C.
ELEMENTARY_CHARGE = _c.e
#: Boltzmann constant, J/K.
BOLTZMANN = _c.k
#: Gyromagnetic ratio of the electron as the paper takes it, gamma = |e|/m, rad/(s T).
GYROMAGNETIC_RATIO = _c.e / _c.m_e

#: The values printed in Table I of the paper, shown by ``fpstt params`` beside the computed
#: ones (a reference for the reader; no computation uses them).
TABLE_I_PRINTED = {"t_up": 0.067 - 0.251j, "t_down": 0.924 - 0.265j,
                   "delta_mu_spin_J": 9.990e-29, "C1": 3.312 + 5.509j, "C2": 0.009 + 0.014j}
