"""Möbius charts: coordinates in which the noiseless flow of Eq. (11) is a translation.

The damping-like STT drift (the gradient of Im C1 n.z') and every precession (Re C1 z' x n,
a field omega x n) are conformal vector fields on the sphere.  In the stereographic
coordinate zeta = tan(theta/2) exp(i phi) of the z' frame their sum is

.. math::
    \\dot\\zeta = a + b\\zeta + c\\zeta^2 ,

a one-parameter Möbius group with two fixed points zeta_s (stable, Re lambda < 0) and
zeta_u, where lambda = b + 2 c zeta_s.  In ``w = k (zeta - zeta_s) / (zeta - zeta_u)`` the flow
is ``ln w -> ln w + lambda t``.  A chart point (theta_c, phi_c) is

.. math::
    U = \\ln\\tan(\\theta_c/2), \\qquad \\arg w = \\phi_c + s U, \\qquad
    s = \\Im\\lambda / \\Re\\lambda ,

so that the flow is ``U -> U + Re(lambda) t`` at fixed phi_c: on a grid uniform in U the
noiseless flow maps every cell onto its neighbour, exactly (:mod:`fpstt.integration.stepping`).
Cells are fine near both fixed points.  Without a field (Table I) the chart is the z' frame itself
(zeta_s = 0, zeta_u = infinity) and fpstt keeps s = 0 (the rotation is exact in Fourier space).

Densities on a chart grid are (theta_c, phi_c) densities: cell averages p with
``sum p dtheta_c dphi_c = 1``; the density per steradian is ``p / area_factor``.

The Itô coefficients of the model are carried into the chart by Itô's formula
(:meth:`MobiusChart.transform`); the map (u, phi) -> (U, arg w) is holomorphic in u + i phi,
which makes its second-order term one complex number (see ``docs/theory.md``).
"""

from __future__ import annotations

import cmath

import numpy as np

__all__ = ["MobiusChart", "ChartModel", "conformal_coefficients", "chart_for", "is_mobius"]

_FIT_POINTS = np.array([[0.4, 0.3], [0.9, 2.0], [1.3, 4.1], [1.9, 1.1], [2.4, 5.3],
                        [2.8, 3.2], [0.7, 5.9], [1.6, 0.2], [2.2, 2.7], [1.1, 3.6]])


def conformal_coefficients(model) -> tuple[complex, complex, complex]:
    """(a, b, c) of the noiseless drift of ``model`` as zeta' = a + b zeta + c zeta^2.

    Fitted by least squares to the model's own drift (C2 = 0, no thermal noise) at ten points;
    ValueError if the residual shows the flow is not a Möbius flow (not conformal).
    Coefficients below 1e-13 of the largest are set to zero (so the z' frame is detected
    exactly).
    """
    flow = model.noiseless()
    th, ph = _FIT_POINTS.T
    mu_t, mu_p = flow.drift(th, ph)
    zeta = np.tan(th / 2) * np.exp(1j * ph)
    velocity = zeta * (mu_t / np.sin(th) + 1j * mu_p)
    basis = np.stack([np.ones_like(zeta), zeta, zeta ** 2], axis=1)
    coef, *_ = np.linalg.lstsq(basis, velocity, rcond=None)
    scale = max(np.max(np.abs(coef)), 1e-300)
    residual = np.max(np.abs(basis @ coef - velocity)) / max(np.max(np.abs(velocity)), 1e-300)
    if residual > 1e-9:
        raise ValueError(f"the noiseless flow is not a Möbius flow (fit residual {residual:.1e})")
    coef = np.where(np.abs(coef) < 1e-13 * scale, 0.0, coef)
    return complex(coef[0]), complex(coef[1]), complex(coef[2])


class MobiusChart:
    """The chart w = k (zeta - zeta_s) / (zeta - zeta_u), sheared by s (module docstring).

    Parameters
    ----------
    zeta_s, zeta_u : complex or None
        Stable and unstable fixed points in the z'-frame stereographic coordinate; None is the
        point at infinity (-z').
    lam : complex
        The flow's exponent at zeta_s, per t_n (Re lam ≤ 0, except in the z' frame, whose
        zeta_s = 0 may be the unstable point when the current drives toward -z').
    shear : float
        s in arg w = phi_c + s U.
    """

    def __init__(self, zeta_s, zeta_u, lam: complex, shear: float = 0.0):
        self.zeta_s, self.zeta_u = zeta_s, zeta_u
        self.lam, self.shear = complex(lam), float(shear)
        if zeta_s is None:
            self.k = 1.0
        elif zeta_u is None:
            self.k = 1.0 / (1.0 + abs(zeta_s) ** 2)
        else:                     # locally isometric at the stable point
            self.k = abs(zeta_s - zeta_u) / (1.0 + abs(zeta_s) ** 2)

    @property
    def is_identity(self) -> bool:
        """True when the chart is the z' frame (fixed points at z' and -z', no shear)."""
        return self.shear == 0.0 and self.zeta_s == 0j and self.zeta_u is None

    @property
    def is_rotation(self) -> bool:
        """True when the chart is a rigid rotation of the sphere carrying an elliptic flow
        (a precession, Re lam = 0): fixed points antipodal, no shear.  Isotropic noise is
        then as phi_c-independent in the chart as in the z' frame."""
        if self.lam.real != 0 or self.shear != 0:
            return False
        s, u = self.zeta_s, self.zeta_u
        if s is None or u is None:
            return (u if s is None else s) == 0
        return abs(u * s.conjugate() + 1) <= 1e-12 * (1 + abs(u * s))

    @property
    def shift_rate(self) -> float:
        """-dU/dt of the flow, per t_n (> 0: toward theta_c = 0)."""
        return -self.lam.real

    @property
    def rotation_rate(self) -> float:
        """dphi_c/dt of the flow, rad per t_n (0 for a sheared chart)."""
        return self.lam.imag - self.shear * self.lam.real

    def describe(self) -> dict:
        """JSON-able parameters (complex numbers as [re, im], None for infinity)."""
        pair = lambda z: None if z is None else [z.real, z.imag]       # noqa: E731
        return dict(zeta_s=pair(self.zeta_s), zeta_u=pair(self.zeta_u),
                    lam=pair(self.lam), shear=self.shear)

    @classmethod
    def from_description(cls, d: dict) -> "MobiusChart":
        """Inverse of :meth:`describe`."""
        num = lambda v: None if v is None else complex(*v)            # noqa: E731
        return cls(num(d["zeta_s"]), num(d["zeta_u"]), num(d["lam"]), d["shear"])

    def same_flow(self, other: "MobiusChart", rtol: float = 1e-9) -> bool:
        """True if ``other`` has the same fixed points and exponent (to ``rtol``)."""
        def close(a, b):
            return (a is None and b is None) or (
                a is not None and b is not None and abs(a - b) <= rtol * (1 + abs(a)))
        return (close(self.zeta_s, other.zeta_s) and close(self.zeta_u, other.zeta_u)
                and close(self.lam, other.lam))

    def sheared(self) -> "MobiusChart":
        """The same chart with s = Im lam / Re lam (flow purely along U)."""
        s = self.lam.imag / self.lam.real if self.lam.real != 0 else 0.0
        return MobiusChart(self.zeta_s, self.zeta_u, self.lam, s)

    # ---- the map and its derivatives -------------------------------------------------
    def _w_of_zeta(self, zeta):
        if self.zeta_s is None:
            return self.k / (zeta - self.zeta_u)
        if self.zeta_u is None:
            return self.k * (zeta - self.zeta_s)
        return self.k * (zeta - self.zeta_s) / (zeta - self.zeta_u)

    def _zeta_of_w(self, w):
        if self.zeta_s is None:
            return self.zeta_u + self.k / w
        if self.zeta_u is None:
            return self.zeta_s + w / self.k
        return (w * self.zeta_u - self.k * self.zeta_s) / (w - self.k)

    def _log_w_derivatives(self, zeta):
        """d ln w / d zeta and d^2 ln w / d zeta^2 (the infinite point contributes nothing)."""
        h1, h2 = 0j * zeta, 0j * zeta
        for point, sign in ((self.zeta_s, 1), (self.zeta_u, -1)):
            if point is not None:
                h1 = h1 + sign / (zeta - point)
                h2 = h2 - sign / (zeta - point) ** 2
        return h1, h2

    def _w_of_chart(self, theta_c, phi_c):
        big_u = np.log(np.tan(np.asarray(theta_c, float) / 2))
        return np.exp(big_u + 1j * (np.asarray(phi_c, float) + self.shear * big_u))

    def to_lab(self, theta_c, phi_c):
        """(theta, phi) in the z' frame of the chart point (theta_c, phi_c), vectorised."""
        zeta = self._zeta_of_w(self._w_of_chart(theta_c, phi_c))
        return 2 * np.arctan(np.abs(zeta)), np.angle(zeta)

    def from_lab(self, theta, phi):
        """Chart coordinates (theta_c, phi_c in [0, 2 pi)) of z'-frame points, vectorised."""
        zeta = np.tan(np.asarray(theta, float) / 2) * np.exp(1j * np.asarray(phi, float))
        with np.errstate(divide="ignore"):
            logw = np.log(self._w_of_zeta(zeta))
        theta_c = 2 * np.arctan(np.exp(logw.real))
        return theta_c, np.mod(logw.imag - self.shear * logw.real, 2 * np.pi)

    def area_factor(self, theta_c, phi_c):
        """Steradians per unit dtheta_c dphi_c at a chart point: p_chart = rho_per_sr * this."""
        w = self._w_of_chart(theta_c, phi_c)
        zeta = self._zeta_of_w(w)
        h1, _ = self._log_w_derivatives(zeta)
        dw_dzeta = np.abs(w * h1)
        ratio = (1 + np.abs(w) ** 2) / (1 + np.abs(zeta) ** 2) / dw_dzeta
        return np.sin(theta_c) * ratio ** 2

    # ---- Itô coefficients in the chart ------------------------------------------------
    def transform(self, drift, diffusion, theta, phi, theta_c):
        """Carry Itô coefficients from (theta, phi) of the z' frame into chart coordinates.

        ``drift = (mu_t, mu_p)`` and ``diffusion = (D_tt, D_tp, D_pp)`` at the z'-frame points
        (theta, phi) (per t_n), which are the chart points theta_c.  Itô's formula, in three stages: theta -> u = ln tan(theta/2);
        the holomorphic map u + i phi -> Z = ln w (Z' = g', second-order term
        g'' (D_uu - D_pp + 2 i D_up)) followed by the linear shear; U -> theta_c.
        Returns ((mu_t, mu_p), (D_tt, D_tp, D_pp)) in chart coordinates.
        """
        s, c = np.sin(theta), np.cos(theta)
        mu_t, mu_p = drift
        d_tt, d_tp, d_pp = diffusion
        mu_u = mu_t / s - d_tt * c / s ** 2                         # stage 1: theta -> u
        d_uu, d_up = d_tt / s ** 2, d_tp / s
        zeta = np.tan(theta / 2) * np.exp(1j * phi)                 # stage 2: xi -> ln w
        h1, h2 = self._log_w_derivatives(zeta)
        g1, g2 = zeta * h1, zeta * h1 + zeta ** 2 * h2
        m = g1 * (mu_u + 1j * mu_p) + g2 * (d_uu - d_pp + 2j * d_up)
        a, b = g1.real, g1.imag                                    # Jacobian [[a, -b], [b, a]]
        d_UU = a * a * d_uu - 2 * a * b * d_up + b * b * d_pp
        d_UP = a * b * (d_uu - d_pp) + (a * a - b * b) * d_up
        d_PP = b * b * d_uu + 2 * a * b * d_up + a * a * d_pp
        k = self.shear                                              # phi_c = arg w - k U
        mu_U, mu_P = m.real, m.imag - k * m.real
        d_PP, d_UP = d_PP - 2 * k * d_UP + k * k * d_UU, d_UP - k * d_UU
        sc, cc = np.sin(theta_c), np.cos(theta_c)                  # stage 3: U -> theta_c
        return ((mu_U * sc + d_UU * sc * cc, mu_P),
                (d_UU * sc * sc, d_UP * sc, d_PP))


class ChartModel:
    """A model's Fokker-Planck coefficients in a :class:`MobiusChart` (same interface).

    ``drift`` is the exact flow of the chart, (-shift_rate sin theta_c, rotation_rate),
    plus the transformed noise-induced part (Itô, Stratonovich and geometric drifts and the
    Itô term of the chart change); ``diffusion`` is the transformed tensor.  (A flow with no
    Möbius chart runs in the z' frame, whose chart moves its STT part; the rest of its
    noiseless drift is not in these coefficients: :mod:`fpstt.numerics.remap` moves it.)  ``C1`` is
    the effective rate pair (rotation_rate + i shift_rate) read by the split schemes.
    """

    def __init__(self, model, chart: MobiusChart):
        self.base, self.chart = model, chart
        self.C1 = complex(chart.rotation_rate, chart.shift_rate)
        # in the z' frame the noise, all that is left, does not depend on phi; nor does
        # isotropic noise (or none) in a rotated frame about a precession's axis
        isotropic = model.C2 == 0 or model.reading == "lab"
        self.phi_independent = chart.is_identity or (chart.is_rotation and isotropic)
        self._flow = model.noiseless()       # moved exactly or remapped
        self._last = None

    def _coefficients(self, theta_c, phi_c):
        """(rest of the drift, diffusion) at chart points; the last evaluation is kept, as
        the operator asks for drift and diffusion at the same points one after the other."""
        last = self._last
        if (last is not None and last[0].shape == theta_c.shape
                and np.array_equal(last[0], theta_c) and np.array_equal(last[1], phi_c)):
            return last[2]
        result = self._evaluate(theta_c, phi_c)
        self._last = (theta_c.copy(), phi_c.copy(), result)
        return result

    def _evaluate(self, theta_c, phi_c):
        theta, phi = self.chart.to_lab(theta_c, phi_c)
        if self.chart.is_identity:                     # the z' frame: nothing to transform
            theta, phi = theta_c, phi_c
        full, flow = self.base.drift(theta, phi), self._flow.drift(theta, phi)
        rest = (full[0] - flow[0], full[1] - flow[1])
        diffusion = self.base.diffusion(theta, phi)
        if self.chart.is_identity:
            return rest, diffusion
        return self.chart.transform(rest, diffusion, theta, phi, theta_c)

    def drift(self, theta_c, phi_c=0.0):
        """Itô drift (mu_theta_c, mu_phi_c) per t_n at chart points, vectorised."""
        theta_c, phi_c = np.broadcast_arrays(np.asarray(theta_c, float),
                                             np.asarray(phi_c, float))
        (mu_t, mu_p), _ = self._coefficients(theta_c, phi_c)
        return (mu_t - self.C1.imag * np.sin(theta_c), mu_p + self.C1.real)

    def diffusion(self, theta_c, phi_c=0.0):
        """Diffusion tensor (D_tt, D_tp, D_pp) per t_n at chart points, vectorised."""
        theta_c, phi_c = np.broadcast_arrays(np.asarray(theta_c, float),
                                             np.asarray(phi_c, float))
        return self._coefficients(theta_c, phi_c)[1]


def chart_for(model) -> MobiusChart:
    """The Möbius chart of ``model``'s noiseless flow (stable fixed point at theta_c = 0).

    The z' frame when the fixed points are z' and -z' (no field, or a field along z');
    otherwise a sheared chart in which the flow runs along U only.  A flow with no attractor
    (a pure rotation, Re lambda = 0) gets the unsheared chart about its axis.
    """
    a, b, c = conformal_coefficients(model)
    if a == 0 and c == 0:                 # fixed points z', -z': the z' frame, either way
        return MobiusChart(0j, None, b)
    if c == 0:                                                # one finite fixed point
        root = -a / b
        return MobiusChart(root, None, b) if b.real <= 0 else MobiusChart(None, root, -b)
    disc = cmath.sqrt(b * b - 4 * a * c)
    r1, r2 = (-b + disc) / (2 * c), (-b - disc) / (2 * c)
    if abs(r1 - r2) <= 1e-12 * (1 + abs(r1)):
        raise ValueError("the noiseless flow has a double fixed point (parabolic); "
                         "no Möbius chart")
    lam1 = b + 2 * c * r1
    if abs(lam1.real) <= 1e-12 * abs(lam1):     # elliptic (a rotation): no shift, exactly
        lam1 = complex(0.0, lam1.imag)
    stable, unstable, lam = (r1, r2, lam1) if lam1.real <= 0 else (r2, r1, -lam1)
    chart = MobiusChart(stable, unstable, lam)
    return chart.sheared() if lam.real != 0 else chart


def is_mobius(model) -> bool:
    """True when the noiseless flow of ``model`` has a Möbius chart (:func:`chart_for`):
    STT plus any constant field, with or without damping; not with an anisotropy."""
    try:
        chart_for(model)
    except ValueError:
        return False
    return True
