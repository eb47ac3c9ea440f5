"""An independent 1-D oracle for the write-error rate of axially symmetric problems.

When drift and diffusion do not depend on phi, the theta-marginal P(theta, t) obeys a 1-D
Itô Fokker-Planck equation.  This module solves it with nothing from fpstt: the
coefficients are written here from the paper's Eq. (17) (and the lab reading), the initial
marginal of the Gibbs state (Eq. 13) in closed form with a Bessel function, and the
equation is discretised differently from fpstt (a uniform grid in v = u + Im C1 t, the
frame that moves with the deterministic flow, so the drift left is small; central fluxes;
SciPy's BDF integrator with a relative error control per cell, so tails keep their
relative accuracy).

WER(t) = Prob(theta(t) > pi/2) = Prob(u > 0) is the mass at v > Im C1 t, summed directly.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.integrate import solve_ivp
from scipy.special import i0e


def theta_coefficients(C1: complex, C2: complex, reading: str, interpretation: str):
    """(mu_theta(theta), D_thetatheta(theta)) of the theta equation, Itô form."""
    a, b, rate = C2.real, C2.imag, C1.imag
    if reading == "lab":                      # isotropic tangent noise |C2|^2/2 per direction
        d = abs(C2) ** 2 / 2
        return (lambda th: -rate * np.sin(th) + d * np.cos(th) / np.sin(th),
                lambda th: d + 0 * th)
    strat = 0.5 * a * a if interpretation == "stratonovich" else 0.0
    return (lambda th: -rate * np.sin(th) - strat * np.sin(th) * np.cos(th),
            lambda th: 0.5 * (a * a * np.cos(th) ** 2 + b * b))


def log_gibbs_marginal(theta, kappa: float, theta_b: float):
    """log of int_0^{2 pi} C exp(kappa n . b) sin(theta) dphi (Eq. 13 integrated over phi)."""
    z = kappa * np.sin(theta) * np.sin(theta_b)
    log_norm = np.log(kappa) - kappa - np.log(-np.expm1(-2 * kappa))   # kappa / (2 sinh kappa)
    return (log_norm + np.log(np.sin(theta)) + kappa * np.cos(theta) * np.cos(theta_b)
            + z + np.log(i0e(z)))


def wer_curve(C1, C2, kappa, theta_b, times, *, reading="eq17", interpretation="ito",
              h=0.002, v_range=(-3.0, 14.0), rtol=1e-9):
    """WER(t) = Prob(cos theta(t) < 0) at ``times`` from the 1-D Fokker-Planck equation."""
    mu_theta, d_tt = theta_coefficients(complex(C1), complex(C2), reading, interpretation)
    rate = complex(C1).imag
    v = np.arange(v_range[0], v_range[1] + h / 2, h)               # cell edges in v
    centre, faces = (v[:-1] + v[1:]) / 2, v[1:-1]

    def coefficients(u):                      # drift and diffusion in the moving frame
        theta = 2 * np.arctan(np.exp(u))
        s, c = np.sin(theta), np.cos(theta)
        dtt = d_tt(theta)
        return mu_theta(theta) / s - dtt * c / s ** 2 + rate, dtt / s ** 2

    def matrix(t):
        mu, _ = coefficients(faces - rate * t)
        _, d = coefficients(centre - rate * t)
        n = centre.size
        # flux F_{i+1/2} = mu (P_i + P_{i+1})/2 - (d_{i+1} P_{i+1} - d_i P_i)/h, zero at ends
        left = mu / 2 + d[:-1] / h                     # coefficient of P_i in F_{i+1/2}
        right = mu / 2 - d[1:] / h                     # coefficient of P_{i+1}
        diag = np.zeros(n)
        diag[:-1] -= left / h
        diag[1:] += right / h
        return sp.diags([left / h, diag, -right / h], [-1, 0, 1], shape=(n, n), format="csc")

    theta0 = 2 * np.arctan(np.exp(centre))
    p0 = np.exp(log_gibbs_marginal(theta0, kappa, theta_b)) * np.sin(theta0)   # per du
    sol = solve_ivp(lambda t, p: matrix(t) @ p, (0.0, float(times[-1])), p0, method="BDF",
                    t_eval=times, jac=lambda t, p: matrix(t), rtol=rtol, atol=1e-250)
    wer = []
    for t, p in zip(sol.t, sol.y.T):
        cut = rate * t                                  # u = 0 <=> v = Im C1 t
        k = np.searchsorted(v, cut)
        wer.append(p[k:].sum() * h + _beyond(p[k - 2:k + 1], cut - v[k - 1], h))
    return np.array(wer)


def _beyond(p3, offset, h):
    """Mass of the middle of three cells beyond ``offset`` from its left edge, the density
    taken as exponential across it with the slope of its neighbours (exact for an
    exponential tail)."""
    s = np.log(p3[2] / p3[0]) / (2 * h)
    if abs(s * h) < 1e-8:
        return p3[1] * (h - offset)
    return p3[1] * h * np.exp(s * offset) * np.expm1(s * (h - offset)) / np.expm1(s * h)


def marginal_in_cos_theta(mu_theta, d_tt, log_p0, times, *, drive=None, n=8000, rtol=1e-8):
    """The theta-marginal of an axially symmetric problem on a uniform grid in x = cos theta.

    ``mu_theta(theta, s)``, ``d_tt(theta, s)``: Itô coefficients of theta at drive s;
    ``log_p0(theta)``: log of the initial theta-marginal; ``drive(t)``: the drive s(t)
    (default 1).  In x, mu_x = -sin(theta) mu_theta - cos(theta) D_tt and D_xx = sin^2 D_tt
    vanish at the poles, so they need no boundary condition; central fluxes, BDF.
    Returns (x_edges, masses of shape (len(times), n)).
    """
    x = np.linspace(-1.0, 1.0, n + 1)
    h = x[1] - x[0]
    centre = 0.5 * (x[1:] + x[:-1])

    def coefficients(xs, s):
        th = np.arccos(np.clip(xs, -1, 1))
        sin = np.sqrt(np.maximum(1 - xs * xs, 0.0))
        dtt = d_tt(th, s)
        mu = np.where(sin > 0, -sin * mu_theta(np.clip(th, 1e-300, None), s), 0.0) - xs * dtt
        return mu, sin * sin * dtt

    def matrix(t):
        s = 1.0 if drive is None else float(drive(t))
        mu, _ = coefficients(x[1:-1], s)
        _, d = coefficients(centre, s)
        left, right = mu / 2 + d[:-1] / h, mu / 2 - d[1:] / h
        diag = np.zeros(n)
        diag[:-1] -= left / h
        diag[1:] += right / h
        return sp.diags([left / h, diag, -right / h], [-1, 0, 1], shape=(n, n), format="csc")

    theta = np.arccos(centre)
    p0 = np.exp(log_p0(theta)) / np.sin(theta)          # per dx = per dtheta / sin theta
    p0 *= 1.0 / (p0.sum() * h)
    sol = solve_ivp(lambda t, p: matrix(t) @ p, (0.0, float(times[-1])), p0, method="BDF",
                    t_eval=times, jac=lambda t, p: matrix(t), rtol=rtol, atol=1e-250,
                    max_step=_max_step(drive, times))
    return x, sol.y.T * h


def _max_step(drive, times):
    """Small enough not to step over a change of the drive."""
    return float(times[-1]) / 400 if drive is not None else np.inf
