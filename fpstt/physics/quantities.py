"""The derived quantities of a magnet that ``fpstt params`` prints beside Table I's: the
spin-torque rates of the chosen torque form and the magnet's own scales (:mod:`fpstt.physics.magnet`).
"""

from __future__ import annotations

import math

from .constants import GYROMAGNETIC_RATIO
from .magnet import (brown_diffusion, critical_drive, magnet_moment, spin_torque_rates,
                     thermal_stability)
from .microscopic import derived_coefficients

__all__ = ["MAGNET_UNITS", "magnet_quantities"]


MAGNET_UNITS = {"n_e": "electrons / t_n", "moment_M": "J/T", "Delta": "k_B T",
                "omega_B": "rad / t_n", "omega_k": "rad / t_n", "omega_d": "rad / t_n",
                "brown_D": "1/t_n", "field_like_ratio": "", "damping_like_rate": "1/t_n",
                "field_like_rate": "1/t_n",
                "critical_damping_like": "1/t_n", "damping_like_over_critical": ""}


def magnet_quantities(micro, torque_form: str = "gilbert") -> dict:
    """The magnet's derived quantities for ``fpstt params`` (units: :data:`MAGNET_UNITS`):
    n_e, M = gamma hbar J, Delta = M B_k / 2 k_B T (the zero-field barrier, hard axis or not:
    :func:`~fpstt.physics.magnet.thermal_stability`), gamma B t_n, gamma B_k t_n, gamma B_d t_n, Brown's
    D (what ``thermal`` noise uses), the field-like ratio beta = Re C1 / Im C1 of Eq. (11)
    (``field_like_ratio`` or Eq. 14a's; inf without current), the damping-like (Im) and
    field-like (Re) spin-torque
    rates of :func:`~fpstt.physics.magnet.spin_torque_rates` in ``torque_form``, the critical
    damping-like rate and the ratio of the two (inf without damping; null in JSON)."""
    critical = critical_drive(micro)
    d = derived_coefficients(micro)
    rate, _ = spin_torque_rates(d.C1, d.C2, micro.alpha, torque_form)
    return {"n_e": micro.n_e, "moment_M": magnet_moment(micro),
            "Delta": thermal_stability(micro),
            "omega_B": GYROMAGNETIC_RATIO * micro.B * micro.t_n,
            "omega_k": GYROMAGNETIC_RATIO * micro.B_k * micro.t_n,
            "omega_d": GYROMAGNETIC_RATIO * micro.B_d * micro.t_n,
            "brown_D": brown_diffusion(micro),
            "field_like_ratio": d.C1.real / d.C1.imag if d.C1.imag else math.inf,
            "damping_like_rate": rate.imag,
            "field_like_rate": rate.real, "critical_damping_like": critical,
            "damping_like_over_critical": rate.imag / critical if critical > 0 else math.inf}
