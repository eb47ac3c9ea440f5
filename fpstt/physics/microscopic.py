"""The paper's microscopic inputs and the coefficients derived from them (Eqs. A4b, 13, 14).

References are to Tassi, Barbieri and Raimondi, "Quantum noise in the spin transfer torque
effect" [1]_.  Angles (theta, phi) are measured about the current-polarisation axis z'.
Inputs are SI; C1 is returned per t_n and C2 per sqrt(t_n) (:func:`derived_coefficients`).

References
----------
.. [1] C. Tassi, M. Barbieri, R. Raimondi, "Quantum noise in the spin transfer torque effect".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np

from .constants import BOLTZMANN, ELECTRON_MASS, ELEMENTARY_CHARGE, GYROMAGNETIC_RATIO, HBAR

__all__ = ["Microscopic", "table_i", "DerivedCoefficients", "derived_coefficients",
           "transmission_amplitude", "check_positive"]


def check_positive(name: str, value: float, allow_zero: bool = False) -> float:
    """Return float(``value``) if it is finite and > 0 (≥ 0 with ``allow_zero``), else raise
    ``ValueError`` naming it."""
    value = float(value)
    ok = math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = "≥ 0" if allow_zero else "> 0"
        raise ValueError(f"`{name}` must be finite and {bound}, got {value!r}")
    return value


@dataclass(frozen=True)
class Microscopic:
    """Microscopic SI inputs of the model (Table I of [1]_ and its caption).

    Parameters
    ----------
    lambda0 : float
        Spin-independent delta-barrier strength, J m.
    lam : float
        Exchange coupling lambda, J m.
    J : float
        Total angular momentum of the magnet in units of hbar (dimensionless).
    k_F : float
        Fermi wave number, 1/m.
    n_e : float
        Electrons crossing the magnet per ``t_n``; Delta mu_spin = 2 pi hbar n_e / t_n.
    B : float
        Static field magnitude, T.
    B_theta, B_phi : float
        Field direction about z', rad.
    T : float
        Temperature, K (the Gibbs state of Eq. 13; with ``thermal`` models also the noise).
    alpha : float
        Gilbert damping (dimensionless, ≥ 0; :mod:`fpstt.physics.magnet`).
    B_k : float
        Uniaxial anisotropy field, T (≥ 0); energy -(M B_k / 2)(n . e)^2.
    easy_theta, easy_phi : float
        Easy axis e about z', rad.
    B_d : float
        Hard-axis (easy-plane) anisotropy field, T (≥ 0): the shape anisotropy mu0 M_s of a
        thin film (~1 T); energy +(M B_d / 2)(n . h)^2 (:mod:`fpstt.physics.magnet`).  0: uniaxial.
    hard_theta, hard_phi : float
        Hard axis h about z', rad (default x'); must be perpendicular to e when B_d > 0.
    field_like_ratio : float, optional
        beta = Re C1 / Im C1, the field-like over the damping-like coefficient of Eq. (11)'s
        spin torque, C_F / C_D (Eq. 12).  With p = z', Eq. (11) is the LLGS torque
        -a_J n x (n x p) - b_J n x p with a_J = Im C1, b_J = Re C1, so beta = b_J / a_J; a_J > 0
        pulls n toward p, b_J > 0 precesses n like a field along +p (MuMax3's eps'/eps;
        docs/theory.md §13).  Given, it sets Re C1 = beta Im C1 (Im C1 and C2 stay Eq. 14's);
        None: Eq. (14a)'s own ratio (0.601 for Table I), bit for bit.
    current_A : float, optional
        Charge current, A: if given, n_e = I t_n / e (the alternative to ``n_e``).
    t_n : float
        The time unit in seconds; needed only to convert a field kept on during the dynamics
        (gamma B t_n) and to quote rates in SI.
    hbar : float
        Reduced Planck constant used in every formula, J s.
    m_e : float
        Electron mass used in every formula, kg.
    """

    lambda0: float = 3.36e-28
    lam: float = 5.76e-32
    J: float = 1e4
    k_F: float = 13.6e9
    n_e: float = 1.5e5
    B: float = 0.05
    B_theta: float = 2.8
    B_phi: float = 1.0
    T: float = 1.0
    alpha: float = 0.0
    B_k: float = 0.0
    easy_theta: float = 0.0
    easy_phi: float = 0.0
    B_d: float = 0.0
    hard_theta: float = math.pi / 2
    hard_phi: float = 0.0
    field_like_ratio: float | None = None
    current_A: float | None = None
    t_n: float = 1e-9
    hbar: float = HBAR
    m_e: float = ELECTRON_MASS

    def __post_init__(self):
        for name in ("lam", "J", "k_F", "T", "t_n", "hbar", "m_e"):
            check_positive(name, getattr(self, name))
        for name in ("n_e", "B", "alpha", "B_k", "B_d"):
            check_positive(name, getattr(self, name), allow_zero=True)
        if self.current_A is not None:
            current = check_positive("current_A", self.current_A, allow_zero=True)
            object.__setattr__(self, "n_e", current * self.t_n / ELEMENTARY_CHARGE)
        angles = (self.easy_theta, self.easy_phi, self.hard_theta, self.hard_phi)
        if not all(map(math.isfinite, angles)):
            raise ValueError("`easy_theta`, `easy_phi`, `hard_theta` and `hard_phi` must be "
                             f"finite, got {angles!r}")
        overlap = abs(math.sin(self.easy_theta) * math.sin(self.hard_theta)
                      * math.cos(self.easy_phi - self.hard_phi)
                      + math.cos(self.easy_theta) * math.cos(self.hard_theta))
        if self.B_d > 0 and overlap > 1e-9:
            raise ValueError("the hard axis (`hard_theta`, `hard_phi`) must be perpendicular to "
                             f"the easy axis when `B_d` > 0, got |h . e| = {overlap:.3g}")
        if self.field_like_ratio is not None:
            ratio = float(self.field_like_ratio)
            if not math.isfinite(ratio):
                raise ValueError(f"`field_like_ratio` must be finite, got {ratio!r}")
            object.__setattr__(self, "field_like_ratio", ratio)
        if not math.isfinite(self.lambda0):
            raise ValueError(f"`lambda0` must be finite, got {self.lambda0!r}")
        if not (0.0 <= self.B_theta <= math.pi) or not math.isfinite(self.B_phi):
            raise ValueError("`B_theta` must lie in [0, pi] and `B_phi` be finite, "
                             f"got {self.B_theta!r}, {self.B_phi!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def table_i(**overrides) -> Microscopic:
    """The microscopic inputs of Table I of [1]_ (not its outputs), with optional overrides."""
    if "n_e" in overrides and overrides.get("current_A") is not None:
        raise ValueError("give the current as `n_e` or as `current_A`, not both")
    return replace(Microscopic(), **overrides)


def transmission_amplitude(k: float, barrier: float, hbar: float = HBAR,
                           mass: float = ELECTRON_MASS) -> complex:
    """Transmission amplitude of a delta barrier, Eq. (A4b) with hbar restored.

    t(k) = 1 / (1 + i m V / (hbar^2 k)), with V = lambda0 ± lambda J / 2 (J m).
    """
    return 1.0 / (1.0 + 1j * mass * barrier / (hbar ** 2 * k))


@dataclass(frozen=True)
class DerivedCoefficients:
    """Quantities derived from :class:`Microscopic` (Eqs. A4b, 14a, 14b, 13).

    Attributes
    ----------
    t_up, t_down : complex
        Transmission amplitudes at k_F for spin parallel / antiparallel to J.
    eps_F_J : float
        Fermi energy hbar^2 k_F^2 / (2 m), J.
    delta_mu_spin_J : float
        Delta mu_spin t_n = 2 pi hbar n_e, J s (i.e. Delta mu_spin in J per t_n).
    C1 : complex
        Per t_n, Eq. (14a); its real part is beta Im C1 when ``field_like_ratio`` beta is given.
    C2 : complex
        Per sqrt(t_n), Eq. (14b).
    kappa : float
        Gibbs concentration gamma hbar J B / (k_B T) of Eq. (13).
    ou_variance : float
        |C2|^2 / (2 Im C1), the stationary variance of Eq. (19) (rad^2).
    """

    t_up: complex
    t_down: complex
    eps_F_J: float
    delta_mu_spin_J: float
    C1: complex
    C2: complex
    kappa: float
    ou_variance: float


def derived_coefficients(micro: Microscopic) -> DerivedCoefficients:
    """Compute t_up, t_down, eps_F, Delta mu_spin, C1, C2, kappa from SI inputs.

    With hbar restored, Eqs. (14a) and (14b) read

    .. math::
        C_1 = t_\\downarrow t_\\uparrow^* \\frac{\\Delta\\mu\\, \\lambda m}{4\\pi k_F \\hbar^3},
        \\qquad
        C_2 = t_\\downarrow t_\\uparrow^* \\frac{\\lambda}{\\hbar^{3/2}}
              \\sqrt{\\frac{\\Delta\\mu\\, m}{16 \\pi \\epsilon_F}},

    with Delta mu = 2 pi hbar n_e / t_n, so that C1 t_n and C2 sqrt(t_n) do not depend on t_n.
    With ``micro.field_like_ratio`` = beta the field-like coefficient of Eq. (11), C_F = Re C1
    (Eq. 12a), is set to beta times the damping-like one, Im C1 (Eq. 12b): C1 = Im C1 (beta + i);
    C2 is Eq. (14b)'s either way (docs/theory.md §13).  Inputs for which one of these leaves the floating-point range raise a ValueError naming
    the inputs that differ from Table I.
    """
    try:
        d = _derived(micro)
        finite = all(map(np.isfinite, (d.t_up, d.t_down, d.eps_F_J, d.C1, d.C2, d.kappa)))
    except (OverflowError, ZeroDivisionError):
        finite = False
    if not finite:
        changed = [f"`{k}` = {v:g}" for k, v in asdict(micro).items()
                   if v is not None and v != getattr(Microscopic, k)]
        raise ValueError(f"{', '.join(changed) or 'the inputs'}: out of floating-point "
                         "range in Eq. (14) (eps_F, t_up, t_down, C1, C2 or kappa)")
    return d


def _derived(micro: Microscopic) -> DerivedCoefficients:
    hbar, m = micro.hbar, micro.m_e
    t_up = transmission_amplitude(micro.k_F, micro.lambda0 + micro.lam * micro.J / 2, hbar, m)
    t_down = transmission_amplitude(micro.k_F, micro.lambda0 - micro.lam * micro.J / 2, hbar, m)
    eps_F = hbar ** 2 * micro.k_F ** 2 / (2 * m)
    dmu_tn = 2 * math.pi * hbar * micro.n_e               # J s; Delta mu = dmu_tn / t_n
    mix = t_down * np.conj(t_up)
    C1 = complex(mix * dmu_tn * micro.lam * m / (4 * math.pi * micro.k_F * hbar ** 3))
    if micro.field_like_ratio is not None:                  # C_F = beta C_D in Eq. (11)
        C1 = complex(micro.field_like_ratio * C1.imag, C1.imag)
    C2 = complex(mix * micro.lam / hbar ** 1.5 * math.sqrt(dmu_tn * m / (16 * math.pi * eps_F)))
    kappa = GYROMAGNETIC_RATIO * hbar * micro.J * micro.B / (BOLTZMANN * micro.T)
    ou = abs(C2) ** 2 / (2 * C1.imag) if C1.imag > 0 else math.inf
    return DerivedCoefficients(complex(t_up), complex(t_down), eps_F, dmu_tn, C1, C2,
                               kappa, ou)
