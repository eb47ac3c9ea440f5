"""The paper's model: microscopic inputs, derived coefficients and Langevin coefficients.

References are to Tassi, Barbieri and Raimondi, "Quantum noise in the spin transfer torque
effect" [1]_.  Angles (theta, phi) are measured about the current-polarisation axis z'.

Units
-----
Time is measured in units of ``t_n`` (the time in which ``n_e`` electrons cross the magnet),
so rates (``C1``, drift) are per ``t_n``, ``C2`` is per ``sqrt(t_n)`` and diffusion
coefficients are per ``t_n``.  Microscopic inputs are SI; the conversion happens in
:func:`derived_coefficients` and :meth:`SpinTorqueModel.from_microscopic` only.

References
----------
.. [1] C. Tassi, M. Barbieri, R. Raimondi, "Quantum noise in the spin transfer torque effect".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from .constants import BOLTZMANN, ELECTRON_MASS, ELEMENTARY_CHARGE, GYROMAGNETIC_RATIO, HBAR
from .grid import unit_vector
from .magnet import TORQUE_FORMS, brown_diffusion, landau_lifshitz_velocity, spin_torque_rates

__all__ = ["Microscopic", "table_i", "DerivedCoefficients", "derived_coefficients",
           "transmission_amplitude", "SpinTorqueModel", "INTERPRETATIONS", "READINGS",
           "check_choice", "TORQUE_FORMS"]

INTERPRETATIONS = ("ito", "stratonovich")
READINGS = ("eq17", "lab")


def check_choice(name: str, value: str, valid) -> str:
    """Return ``value`` if it is one of ``valid``, else raise ``ValueError`` listing them."""
    if value not in valid:
        raise ValueError(f"`{name}` must be one of {sorted(valid)}, got {value!r}")
    return value


def _positive(name: str, value: float, allow_zero: bool = False) -> float:
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
        Gilbert damping (dimensionless, ≥ 0; :mod:`fpstt.magnet`).
    B_k : float
        Uniaxial anisotropy field, T (≥ 0); energy -(M B_k / 2)(n . e)^2.
    easy_theta, easy_phi : float
        Easy axis e about z', rad.
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
    current_A: float | None = None
    t_n: float = 1e-9
    hbar: float = HBAR
    m_e: float = ELECTRON_MASS

    def __post_init__(self):
        for name in ("lam", "J", "k_F", "T", "t_n", "hbar", "m_e"):
            _positive(name, getattr(self, name))
        for name in ("n_e", "B", "alpha", "B_k"):
            _positive(name, getattr(self, name), allow_zero=True)
        if self.current_A is not None:
            current = _positive("current_A", self.current_A, allow_zero=True)
            object.__setattr__(self, "n_e", current * self.t_n / ELEMENTARY_CHARGE)
        if not (math.isfinite(self.easy_theta) and math.isfinite(self.easy_phi)):
            raise ValueError("`easy_theta` and `easy_phi` must be finite")
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
        Per t_n, Eq. (14a).
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
    Inputs for which one of these leaves the floating-point range raise a ValueError naming
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
    C2 = complex(mix * micro.lam / hbar ** 1.5 * math.sqrt(dmu_tn * m / (16 * math.pi * eps_F)))
    kappa = GYROMAGNETIC_RATIO * hbar * micro.J * micro.B / (BOLTZMANN * micro.T)
    ou = abs(C2) ** 2 / (2 * C1.imag) if C1.imag > 0 else math.inf
    return DerivedCoefficients(complex(t_up), complex(t_down), eps_F, dmu_tn, C1, C2,
                               kappa, ou)


@dataclass(frozen=True)
class SpinTorqueModel:
    """Langevin system of Eq. (17) (angles about z'), with optional field and thermal noise.

    Eq. (17), from Eqs. (11)-(12):

    .. math::
        d\\theta &= -\\Im C_1 \\sin\\theta\\, dt
                    - (\\Re C_2 \\cos\\theta\\, dW_1 + \\Im C_2\\, dW_2),\\\\
        d\\phi &= \\Re C_1\\, dt
                  - (\\Im C_2 \\cos\\theta\\, dW_1 - \\Re C_2\\, dW_2)/\\sin\\theta .

    Parameters
    ----------
    C1 : complex
        Per t_n: the spin-torque rates as they enter Eq. (17), in Landau-Lifshitz form (with
        damping, :meth:`from_microscopic` maps Eq. 14's C1 through
        :func:`~fpstt.magnet.spin_torque_rates`).
    C2 : complex
        Per sqrt(t_n), likewise.
    interpretation : {"ito", "stratonovich"}
        How Eq. (17) is read (``reading="eq17"``).  The paper writes the Itô FP of Eq. (E3),
        so "ito" is the default.  "stratonovich" adds the noise-induced drift
        ``0.5 sum_k sigma_jk d_j sigma_ik`` = (-(Re C2)^2 sin(theta) cos(theta) / 2, 0).
    reading : {"eq17", "lab"}
        "eq17": Eq. (17) taken literally in (theta, phi); theta diffuses straight through the
        pole (a path that reaches theta = 0 continues at (−theta, phi + pi)).
        "lab": the geometric variant, noise isotropic in the tangent plane and smooth in the
        lab frame (Stratonovich with lab-frame noise fields, as stochastic LLG codes use), with
        tangent diffusion |C2|^2/2 per direction (the paper's noise covariance at the pole).
        Its Itô form in (theta, phi) has the extra drift (|C2|^2/2) cot(theta).  Requires
        ``interpretation="stratonovich"``.
    omega : tuple of 3 floats, optional
        Precession vector gamma B t_n (rad per t_n) of a field kept on during the dynamics,
        in the z' frame (x', y', z').  ``None``: no field during the dynamics (Table I).
    thermal_D : float
        Isotropic (Brown) rotational diffusion constant per t_n, lab-smooth; 0 by default.
    alpha : float
        Gilbert damping of the field and anisotropy terms (Landau-Lifshitz form,
        :mod:`fpstt.magnet`); 0: the paper's precession gamma B x J.
    anisotropy : float
        gamma B_k t_n, rad per t_n, of a uniaxial anisotropy along ``easy_axis`` (z' frame).
    easy_axis : tuple of 3 floats
        Unit easy axis (default z').
    """

    C1: complex
    C2: complex
    interpretation: str = "ito"
    reading: str = "eq17"
    omega: tuple | None = None
    thermal_D: float = 0.0
    alpha: float = 0.0
    anisotropy: float = 0.0
    easy_axis: tuple = (0.0, 0.0, 1.0)
    label: str = field(default="custom", compare=False)

    def __post_init__(self):
        object.__setattr__(self, "C1", complex(self.C1))
        object.__setattr__(self, "C2", complex(self.C2))
        for name in ("C1", "C2"):
            z = getattr(self, name)
            if not (math.isfinite(z.real) and math.isfinite(z.imag)):
                raise ValueError(f"`{name}` must be finite, got {z!r}")
        check_choice("interpretation", self.interpretation, INTERPRETATIONS)
        check_choice("reading", self.reading, READINGS)
        if self.reading == "lab" and self.interpretation != "stratonovich":
            raise ValueError("`reading`='lab' is a Stratonovich SDE with lab-frame noise "
                             "fields; use interpretation='stratonovich'")
        _positive("thermal_D", self.thermal_D, allow_zero=True)
        _positive("alpha", self.alpha, allow_zero=True)
        _positive("anisotropy", self.anisotropy, allow_zero=True)
        axis = np.asarray(self.easy_axis, float)
        if axis.shape != (3,) or not np.all(np.isfinite(axis)) or np.linalg.norm(axis) == 0:
            raise ValueError(f"`easy_axis` must be a non-zero 3-vector, got {self.easy_axis!r}")
        object.__setattr__(self, "easy_axis", tuple(float(v) for v in axis / np.linalg.norm(axis)))
        if self.omega is not None:
            om = tuple(float(w) for w in self.omega)
            if len(om) != 3 or not all(math.isfinite(w) for w in om):
                raise ValueError(f"`omega` must be 3 finite numbers, got {self.omega!r}")
            object.__setattr__(self, "omega", om)

    @classmethod
    def from_microscopic(cls, micro: Microscopic, *, field_on: bool = False,
                         thermal: bool = False, torque_form: str = "gilbert",
                         **options) -> "SpinTorqueModel":
        """Build the model from SI inputs (the only SI -> t_n conversion of the package).

        ``field_on``: the field precesses (and, with alpha, damps) the magnet during the
        dynamics; ``thermal``: Brown noise at T during the dynamics (needs alpha > 0).  The
        anisotropy B_k, when non-zero, always acts during the dynamics (it is the magnet's).
        ``torque_form``: "gilbert" (default) puts Eq. (11)'s spin torque, noise included, inside
        Gilbert's equation as LLGS codes do; "rates" adds it as the paper writes it
        (:func:`~fpstt.magnet.spin_torque_rates`; identical for alpha = 0).
        """
        d = derived_coefficients(micro)
        C1, C2 = spin_torque_rates(d.C1, d.C2, micro.alpha, torque_form)
        if thermal:
            if micro.alpha <= 0 or "thermal_D" in options:
                raise ValueError("`thermal` noise needs alpha > 0 (D ∝ alpha) and no "
                                 "`thermal_D` given by hand")
            options["thermal_D"] = brown_diffusion(micro)
        omega = None
        if field_on:
            w = GYROMAGNETIC_RATIO * micro.B * micro.t_n
            st = math.sin(micro.B_theta)
            omega = (w * st * math.cos(micro.B_phi), w * st * math.sin(micro.B_phi),
                     w * math.cos(micro.B_theta))
        return cls(C1, C2, omega=omega, label="Table I" if micro == table_i() else "custom",
                   alpha=micro.alpha, anisotropy=GYROMAGNETIC_RATIO * micro.B_k * micro.t_n,
                   easy_axis=unit_vector(micro.easy_theta, micro.easy_phi), **options)

    def with_drive(self, s: float) -> "SpinTorqueModel":
        """The model at drive s ≥ 0 (a current pulse): C1 s and C2 sqrt(s) (Eq. 14)."""
        s = _positive("drive", s, allow_zero=True)
        return replace(self, C1=self.C1 * s, C2=self.C2 * math.sqrt(s))

    def with_options(self, **changes) -> "SpinTorqueModel":
        """A copy with some fields changed (e.g. ``C2=0`` for the noiseless flow)."""
        return replace(self, **changes)

    # ---- properties used by the solvers -------------------------------------------------
    @property
    def phi_independent(self) -> bool:
        """True when drift and diffusion do not depend on phi (no field, or field along z';
        no anisotropy, or an easy axis along z')."""
        field_axial = self.omega is None or (self.omega[0] == 0.0 and self.omega[1] == 0.0)
        easy_axial = self.anisotropy == 0 or (self.easy_axis[0] == self.easy_axis[1] == 0.0)
        return field_axial and easy_axial

    @property
    def tangent_diffusion(self) -> float:
        """Lab-smooth isotropic tangent diffusion per direction (per t_n)."""
        iso = abs(self.C2) ** 2 / 2 if self.reading == "lab" else 0.0
        return iso + self.thermal_D

    # ---- Langevin and Fokker-Planck coefficients ----------------------------------------
    def noise_matrix(self, theta):
        """sigma(theta) of Eq. (E1) for the Eq. (17) noise, shape (2, 2, ...).

        Rows (theta, phi), columns (W1, W2).  Zero for ``reading="lab"`` (that noise is
        isotropic and carried by :attr:`tangent_diffusion`).
        """
        theta = np.asarray(theta, dtype=float)
        s, c = np.sin(theta), np.cos(theta)
        a, b = self.C2.real, self.C2.imag
        if self.reading == "lab":
            a = b = 0.0
        return np.array([[-a * c, -b * np.ones_like(c)], [-b * c / s, a / s]])

    def drift(self, theta, phi=0.0):
        """Itô drift (mu_theta, mu_phi) per t_n at (theta, phi), vectorised.

        Contains Eq. (17)'s deterministic part, the field and anisotropy terms
        (precession and damping, :func:`~fpstt.magnet.landau_lifshitz_velocity`), the Stratonovich
        correction when ``interpretation="stratonovich"`` (reading "eq17"), and the
        geometric drift D_t cot(theta) of lab-smooth isotropic noise.
        """
        theta, phi = np.broadcast_arrays(np.asarray(theta, float), np.asarray(phi, float))
        s, c = np.sin(theta), np.cos(theta)
        mu_t = -self.C1.imag * s + self.tangent_diffusion * c / s
        mu_p = np.full_like(theta, self.C1.real)
        if self.reading == "eq17" and self.interpretation == "stratonovich":
            mu_t = mu_t - 0.5 * self.C2.real ** 2 * s * c
        if self.omega is not None or self.anisotropy != 0:
            n = np.array([s * np.cos(phi), s * np.sin(phi), c])
            v = landau_lifshitz_velocity(n, self.omega or (0.0, 0.0, 0.0), self.anisotropy,
                                         self.easy_axis, self.alpha)
            # theta' = v . e_theta,  phi' = v . e_phi / sin(theta)
            cp, sp = np.cos(phi), np.sin(phi)
            mu_t = mu_t + v[0] * c * cp + v[1] * c * sp - v[2] * s
            mu_p = mu_p + (-v[0] * sp + v[1] * cp) / s
        return mu_t, mu_p

    def diffusion(self, theta, phi=0.0):
        """Diffusion tensor D = sigma sigma^T / 2 of Eq. (E2): (D_tt, D_tp, D_pp) per t_n.

        For Eq. (17), with a = Re C2, b = Im C2:
        D_tt = (a^2 cos^2 + b^2)/2, D_tp = -a b sin/2, D_pp = (b^2 cos^2 + a^2)/(2 sin^2).
        """
        theta, _ = np.broadcast_arrays(np.asarray(theta, float), np.asarray(phi, float))
        s, c = np.sin(theta), np.cos(theta)
        a, b = (self.C2.real, self.C2.imag) if self.reading == "eq17" else (0.0, 0.0)
        dt = self.tangent_diffusion
        d_tt = 0.5 * (a * a * c * c + b * b) + dt
        d_tp = -0.5 * a * b * s
        d_pp = (0.5 * (b * b * c * c + a * a) + dt) / (s * s)
        return d_tt, d_tp, d_pp
