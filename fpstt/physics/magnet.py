"""The magnet beyond the paper (issue 14): energy, Landau-Lifshitz-Gilbert precession and
damping, Brown's thermal noise and current pulses.

Energy (SI), with M = gamma hbar J the magnet's moment (the paper's M = gamma J, hbar = 1), an
easy axis e and a hard axis h perpendicular to it (issue 25; B_d = mu0 M_s for a thin film):

.. math::
    E(n) = -M\\, B\\cdot n - \\tfrac{1}{2} M B_k (n\\cdot\\hat e)^2
           + \\tfrac{1}{2} M B_d (n\\cdot\\hat h)^2,\\\\
    B_{eff} = -\\frac{1}{M}\\frac{\\partial E}{\\partial n}
            = B + B_k (n\\cdot\\hat e)\\hat e - B_d (n\\cdot\\hat h)\\hat h .

Dynamics (Landau-Lifshitz form; Omega = gamma B_eff t_n in rad per t_n):

.. math::
    \\dot n = \\frac{1}{1+\\alpha^2}\\left[\\Omega\\times n - \\alpha\\, n\\times(n\\times\\Omega)\\right],

which for alpha = 0 and B_k = 0 is exactly the paper's gamma B x J.  The spin-transfer torque
of Eq. (11), C_F z' x n + C_D n x (z' x n) with its noise (Eq. 12), enters by default inside
Gilbert's equation as LLGS codes write it (``torque_form="gilbert"``), which in this
Landau-Lifshitz form is Eq. (11) with C1 -> C1 / (1 - i alpha) and C2 -> C2 / (1 - i alpha)
(:func:`spin_torque_rates`); ``torque_form="rates"`` adds Eq. (11) as the paper writes it.
For alpha = 0 both are Eq. (11).  Brown's thermal noise is isotropic tangent
diffusion with D = alpha k_B T / ((1 + alpha^2) hbar J) per second (times t_n per t_n), the
fluctuation-dissipation value for which, without STT, exp(-E / k_B T) is stationary.  A current
pulse s(t) scales C1 by s and C2 by sqrt(s) (Eq. 14: C1 ∝ Delta mu_spin, C2 ∝ sqrt(Delta mu)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .constants import BOLTZMANN, GYROMAGNETIC_RATIO

__all__ = ["TORQUE_FORMS", "spin_torque_rates", "landau_lifshitz_velocity", "effective_omega",
           "damping_velocity", "Pulse", "FunctionDrive", "magnet_moment",
           "thermal_stability", "brown_diffusion", "critical_drive"]


TORQUE_FORMS = ("gilbert", "rates")


def spin_torque_rates(C1: complex, C2: complex, alpha: float, torque_form: str = "gilbert"):
    """The coefficients (C1, C2) of Eq. (11)'s spin torque in Landau-Lifshitz form.

    ``"gilbert"`` (default; cmtj, MuMax3, OOMMF, Slonczewski-Berger LLGS): the torque
    tau = C_F z' x n + C_D n x (z' x n) of Eqs. (11)-(12), noise included, sits inside Gilbert's
    equation, n' = ... + tau + alpha n x n'.  Solved for n', tau becomes
    (tau + alpha n x tau) / (1 + alpha^2): with n x (z' x n) -> -(z' x n) under n x, the
    field-like rate is (Re C1 - alpha Im C1) / (1 + alpha^2) and the damping-like one
    (Im C1 + alpha Re C1) / (1 + alpha^2), i.e. C1 / (1 - i alpha); the noise torque is mixed by
    the same tangent-plane map, so C2 -> C2 / (1 - i alpha) (docs/theory.md §11).
    ``"rates"``: Eq. (11) added to the Landau-Lifshitz equation as written (C1, C2 unchanged).

    Parameters
    ----------
    C1 : complex
        Eq. (14a), per t_n.
    C2 : complex
        Eq. (14b), per sqrt(t_n).
    alpha : float
        Gilbert damping (≥ 0).
    torque_form : {"gilbert", "rates"}

    Returns
    -------
    (complex, complex)
        C1 (per t_n) and C2 (per sqrt(t_n)) as they enter Eq. (17); unchanged for alpha = 0.
    """
    if torque_form not in TORQUE_FORMS:
        raise ValueError(f"`torque_form` must be one of {sorted(TORQUE_FORMS)}, "
                         f"got {torque_form!r}")
    if torque_form == "rates" or alpha == 0:
        return complex(C1), complex(C2)
    mix = complex(1.0, -alpha)
    return complex(C1) / mix, complex(C2) / mix


def magnet_moment(micro) -> float:
    """M = gamma hbar J, J/T (the paper's M = gamma J with hbar = 1)."""
    return GYROMAGNETIC_RATIO * micro.hbar * micro.J


def thermal_stability(micro) -> float:
    """Delta = M B_k / (2 k_B T), the zero-field barrier in units of k_B T, with or without the
    hard axis: from the wells ±e the lowest path crosses at e x h, where (n . h) = 0, so B_d
    does not raise the barrier (it shapes the wells and the escape rate's prefactor)."""
    return magnet_moment(micro) * micro.B_k / (2 * BOLTZMANN * micro.T)


def brown_diffusion(micro) -> float:
    """Brown's D = alpha k_B T / ((1 + alpha^2) hbar J), per t_n (fluctuation-dissipation)."""
    a = micro.alpha
    return a * BOLTZMANN * micro.T / ((1 + a * a) * micro.hbar * micro.J) * micro.t_n


def critical_drive(micro) -> float:
    """The damping-like rate (per t_n, Landau-Lifshitz form: Im of :func:`spin_torque_rates`)
    above which STT destabilises the well at -z' when e ∥ B ∥ z' (a hard axis, then ⊥ z',
    allowed): alpha gamma (B_k + B_z + B_d / 2) t_n / (1 + alpha^2), with B_z = B cos(B_theta)
    taken toward -z'.  Linearised at -z' the damping contracts at the mean of the two
    stiffnesses, B_k + B_z and B_k + B_z + B_d (the in-plane junction's alpha (H_k + H + 2 pi M_s));
    without B_d this is linearising theta' at theta = pi."""
    a = micro.alpha
    b_z = -micro.B * math.cos(micro.B_theta)
    stiffness = micro.B_k + b_z + micro.B_d / 2
    return a * GYROMAGNETIC_RATIO * stiffness * micro.t_n / (1 + a * a)


def effective_omega(n, omega, anisotropy: float, easy_axis, hard: float = 0.0,
                    hard_axis=(1.0, 0.0, 0.0)):
    """Omega(n) = omega + anisotropy (n . e) e - hard (n . h) h, rad per t_n (gamma B_eff t_n
    of the energy above), shape (3, ...).

    n : array (3, ...) of unit vectors (z' frame); omega : 3 rad per t_n (gamma B t_n);
    anisotropy : gamma B_k t_n; easy_axis : unit 3-vector e; hard : gamma B_d t_n;
    hard_axis : unit 3-vector h.
    """
    n = np.asarray(n, float)
    shape = (3,) + (1,) * (n.ndim - 1)
    e = np.reshape(np.asarray(easy_axis, float), shape)
    big = np.reshape(np.asarray(omega, float), shape) + anisotropy * np.sum(n * e, axis=0) * e
    if hard:
        h = np.reshape(np.asarray(hard_axis, float), shape)
        big = big - hard * np.sum(n * h, axis=0) * h
    return big


def damping_velocity(n, big, alpha: float):
    """The Gilbert damping part of dn/dt, alpha (Omega - (n . Omega) n) / (1 + alpha^2)."""
    return alpha * (big - np.sum(n * big, axis=0) * n) / (1 + alpha * alpha)


def landau_lifshitz_velocity(n, big, alpha: float):
    """dn/dt of precession and Gilbert damping about Omega(n) = ``big`` (rad per t_n,
    :func:`effective_omega` at n): [Omega x n - alpha n x (n x Omega)] / (1 + alpha^2),
    shape (3, ...), tangent."""
    turn = np.array([big[1] * n[2] - big[2] * n[1], big[2] * n[0] - big[0] * n[2],
                     big[0] * n[1] - big[1] * n[0]])           # Omega x n (np.cross: 3x slower)
    return turn / (1 + alpha * alpha) + damping_velocity(n, big, alpha)


@dataclass(frozen=True)
class Pulse:
    """Drive s(t) in [0, 1]: 1 on the plateau of a pulse of ``width`` (t_n), with linear
    ``rise`` and ``fall`` (t_n, included in the width, 0 = sharp edges).

    ``segments(t_end, pieces)`` gives the piecewise-constant drive the solvers use: the
    plateau and the off-time exactly, each ramp as ``pieces`` equal steps at the ramp's
    midpoint values (a second-order quadrature of the ramp in time).
    """

    width: float
    rise: float = 0.0
    fall: float = 0.0

    def __post_init__(self):
        for name in ("width", "rise", "fall"):
            value = float(getattr(self, name))
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"pulse `{name}` must be finite and ≥ 0, got {value!r}")
        if not self.width > 0 or self.rise + self.fall > self.width:
            raise ValueError("pulse `width` must be > 0 and ≥ rise + fall, got "
                             f"width {self.width}, rise {self.rise}, fall {self.fall}")

    def __call__(self, t):
        """s(t), vectorised."""
        t = np.asarray(t, float)
        up = np.clip(t / self.rise, 0, 1) if self.rise > 0 else (t >= 0) * 1.0
        down_start = self.width - self.fall
        down = (np.clip((self.width - t) / self.fall, 0, 1) if self.fall > 0
                else (t < self.width) * 1.0)
        return np.where(t < down_start, up, down) * (t >= 0)

    def segments(self, t_end: float, pieces: int = 16):
        """[(t0, t1, s), ...] covering [0, t_end]: piecewise-constant drive."""
        edges = [0.0]
        for start, length in ((0.0, self.rise), (self.width - self.fall, self.fall)):
            if length > 0:
                edges += list(start + length * np.arange(1, pieces + 1) / pieces)
        edges += [self.width - self.fall, self.width, t_end]
        edges = sorted({e for e in edges if 0 <= e <= t_end} | {0.0, t_end})
        return [(a, b, float(self(0.5 * (a + b)))) for a, b in zip(edges[:-1], edges[1:])
                if b > a]


@dataclass(frozen=True)
class FunctionDrive:
    """Any drive s(t) ≥ 0 given as a function, for :func:`fpstt.integration.driven.solve_pulse`, the
    switching curve and the Monte Carlo: held constant over pieces of length ``step`` (t_n)
    at its midpoint values (second order in ``step``)."""

    func: object
    step: float = 0.01

    def __call__(self, t):
        return np.asarray(self.func(np.asarray(t, float)), float)

    def segments(self, t_end: float, pieces: int = 16):
        """[(t0, t1, s), ...] covering [0, t_end] in pieces of at most ``step``."""
        n = max(int(math.ceil(t_end / self.step - 1e-9)), 1)
        edges = np.linspace(0.0, t_end, n + 1)
        values = self(0.5 * (edges[1:] + edges[:-1]))
        if np.any(values < 0) or not np.all(np.isfinite(values)):
            raise ValueError("a drive s(t) must be finite and ≥ 0")
        return [(float(a), float(b), float(s)) for a, b, s in zip(edges[:-1], edges[1:], values)]
