"""The paper's Langevin model, Eq. (17), with the magnet's own terms (:mod:`fpstt.physics.magnet`).

References are to Tassi, Barbieri and Raimondi, "Quantum noise in the spin transfer torque
effect" [1]_.  Angles (theta, phi) are measured about the current-polarisation axis z'.

Units
-----
Time is measured in units of ``t_n`` (the time in which ``n_e`` electrons cross the magnet),
so rates (``C1``, drift) are per ``t_n``, ``C2`` is per ``sqrt(t_n)`` and diffusion
coefficients are per ``t_n``.  Microscopic inputs are SI (:mod:`fpstt.physics.microscopic`); the
conversion happens in :func:`~fpstt.physics.microscopic.derived_coefficients` and
:meth:`SpinTorqueModel.from_microscopic` only.

References
----------
.. [1] C. Tassi, M. Barbieri, R. Raimondi, "Quantum noise in the spin transfer torque effect".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from .constants import GYROMAGNETIC_RATIO
from ..sphere.grid import unit_vector
from .magnet import (TORQUE_FORMS, brown_diffusion, effective_omega, landau_lifshitz_velocity,
                     spin_torque_rates)
from .microscopic import Microscopic, check_positive, derived_coefficients, table_i

__all__ = ["SpinTorqueModel", "INTERPRETATIONS", "READINGS", "check_choice", "TORQUE_FORMS"]

INTERPRETATIONS = ("ito", "stratonovich")
READINGS = ("eq17", "lab")


def check_choice(name: str, value: str, valid) -> str:
    """Return ``value`` if it is one of ``valid``, else raise ``ValueError`` listing them."""
    if value not in valid:
        raise ValueError(f"`{name}` must be one of {sorted(valid)}, got {value!r}")
    return value


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
        :func:`~fpstt.physics.magnet.spin_torque_rates`).
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
        :mod:`fpstt.physics.magnet`); 0: the paper's precession gamma B x J.
    anisotropy : float
        gamma B_k t_n, rad per t_n, of a uniaxial anisotropy along ``easy_axis`` (z' frame).
    easy_axis : tuple of 3 floats
        Unit easy axis (default z').
    hard_anisotropy : float
        gamma B_d t_n, rad per t_n, of a hard axis (easy plane) along ``hard_axis``: the
        energy term +(M B_d / 2)(n . h)^2 of :mod:`fpstt.physics.magnet` (issue 25).
    hard_axis : tuple of 3 floats
        Unit hard axis (default x'; any direction here,
        :class:`~fpstt.physics.microscopic.Microscopic` asks for one perpendicular to the easy axis).
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
    hard_anisotropy: float = 0.0
    hard_axis: tuple = (1.0, 0.0, 0.0)
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
        check_positive("thermal_D", self.thermal_D, allow_zero=True)
        check_positive("alpha", self.alpha, allow_zero=True)
        check_positive("anisotropy", self.anisotropy, allow_zero=True)
        check_positive("hard_anisotropy", self.hard_anisotropy, allow_zero=True)
        for name in ("easy_axis", "hard_axis"):
            axis = np.asarray(getattr(self, name), float)
            if axis.shape != (3,) or not np.all(np.isfinite(axis)) or not np.any(axis):
                raise ValueError(f"`{name}` must be a non-zero 3-vector, "
                                 f"got {getattr(self, name)!r}")
            object.__setattr__(self, name, tuple(float(v) for v in axis / np.linalg.norm(axis)))
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
        anisotropies B_k and B_d, when non-zero, always act during the dynamics (they are the
        magnet's).
        ``torque_form``: "gilbert" (default) puts Eq. (11)'s spin torque, noise included, inside
        Gilbert's equation as LLGS codes do; "rates" adds it as the paper writes it
        (:func:`~fpstt.physics.magnet.spin_torque_rates`; identical for alpha = 0).
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
                   easy_axis=unit_vector(micro.easy_theta, micro.easy_phi),
                   hard_anisotropy=GYROMAGNETIC_RATIO * micro.B_d * micro.t_n,
                   hard_axis=unit_vector(micro.hard_theta, micro.hard_phi), **options)

    def with_drive(self, s: float) -> "SpinTorqueModel":
        """The model at drive s ≥ 0 (a current pulse): C1 s and C2 sqrt(s) (Eq. 14)."""
        s = check_positive("drive", s, allow_zero=True)
        return replace(self, C1=self.C1 * s, C2=self.C2 * math.sqrt(s))

    def with_options(self, **changes) -> "SpinTorqueModel":
        """A copy with some fields changed (e.g. ``C2=0`` for the noiseless flow)."""
        return replace(self, **changes)

    def noiseless(self) -> "SpinTorqueModel":
        """The noiseless flow of Eq. (15) with the magnet's terms: C2 = 0 and no Brown noise."""
        return replace(self, C2=0j, thermal_D=0.0)

    # ---- properties used by the solvers -------------------------------------------------
    @property
    def phi_independent(self) -> bool:
        """True when drift and diffusion do not depend on phi (no field, or field along z';
        no anisotropy, or an easy axis along z'; no hard axis, or one along z')."""
        field_axial = self.omega is None or (self.omega[0] == 0.0 and self.omega[1] == 0.0)
        easy_axial = self.anisotropy == 0 or (self.easy_axis[0] == self.easy_axis[1] == 0.0)
        hard_axial = self.hard_anisotropy == 0 or (self.hard_axis[0] == self.hard_axis[1] == 0.0)
        return field_axial and easy_axial and hard_axial

    @property
    def magnet_on(self) -> bool:
        """True when a field or an anisotropy acts during the dynamics (:meth:`effective_omega`)."""
        return ((self.omega is not None and any(self.omega)) or self.anisotropy != 0
                or self.hard_anisotropy != 0)

    def effective_omega(self, n):
        """Omega(n) = gamma B_eff t_n, rad per t_n, at unit vectors n of shape (3, ...) (z'
        frame): the field kept on and both anisotropies (:func:`~fpstt.physics.magnet.effective_omega`)."""
        return effective_omega(n, self.omega or (0.0, 0.0, 0.0), self.anisotropy,
                               self.easy_axis, self.hard_anisotropy, self.hard_axis)

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

    def noiseless_velocity(self, n):
        """The noiseless flow's velocity dn/dt as a Cartesian tangent vector at unit vectors n
        (3, ...) of the z' frame, per t_n: Eq. (11) without noise, Im C1 (z' - (n.z') n) +
        Re C1 z' x n, plus the field and anisotropy terms.  Regular at the poles, where
        :meth:`drift`'s (theta, phi) components are not (a fixed point at z')."""
        n = np.asarray(n, dtype=float)
        velocity = np.stack([-self.C1.real * n[1] - self.C1.imag * n[2] * n[0],
                             self.C1.real * n[0] - self.C1.imag * n[2] * n[1],
                             self.C1.imag * (1 - n[2] ** 2)])
        if self.magnet_on:
            velocity = velocity + landau_lifshitz_velocity(n, self.effective_omega(n), self.alpha)
        return velocity

    def drift(self, theta, phi=0.0):
        """Itô drift (mu_theta, mu_phi) per t_n at (theta, phi), vectorised.

        Contains Eq. (17)'s deterministic part, the field and anisotropy terms
        (precession and damping, :func:`~fpstt.physics.magnet.landau_lifshitz_velocity`), the
        Stratonovich correction when ``interpretation="stratonovich"`` (reading "eq17"), and the
        geometric drift D_t cot(theta) of lab-smooth isotropic noise.
        """
        theta, phi = np.broadcast_arrays(np.asarray(theta, float), np.asarray(phi, float))
        s, c = np.sin(theta), np.cos(theta)
        mu_t = -self.C1.imag * s + self.tangent_diffusion * c / s
        mu_p = np.full_like(theta, self.C1.real)
        if self.reading == "eq17" and self.interpretation == "stratonovich":
            mu_t = mu_t - 0.5 * self.C2.real ** 2 * s * c
        if self.magnet_on:
            n = np.array([s * np.cos(phi), s * np.sin(phi), c])
            v = landau_lifshitz_velocity(n, self.effective_omega(n), self.alpha)
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
