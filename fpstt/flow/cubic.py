"""The attractor search's RK4 steps compiled (numba), for a velocity that is a cubic
polynomial in n (:class:`fpstt.flow.attractor._Cubic`): a start took 17 us a step in numpy,
2.7 s of model-space seed 2 row 4's set-up.  Imported on first use (numba's start-up is paid
only by runs that search for an attractor)."""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["cubic_rk4"]


@numba.njit(cache=True)
def cubic_rk4(coef, x, h, k):
    """``k`` RK4 steps of ``h`` t_n of each column of x (3, N), unit vectors, for the
    velocity coef @ monomials(n) (coef (3, 20)), renormalised at every stage as
    :func:`fpstt.flow.attractor._rk4` does."""
    out = np.empty_like(x)
    v = np.empty((4, 3))
    for col in range(x.shape[1]):
        n = x[:, col].copy()
        for _ in range(k):
            _cubic(coef, n, v[0])
            _cubic(coef, _unit_of(n + 0.5 * h * v[0]), v[1])
            _cubic(coef, _unit_of(n + 0.5 * h * v[1]), v[2])
            _cubic(coef, _unit_of(n + h * v[2]), v[3])
            n = _unit_of(n + h / 6 * (v[0] + 2 * v[1] + 2 * v[2] + v[3]))
        out[:, col] = n
    return out


@numba.njit(cache=True)
def _cubic(coef, n, out):
    """out = coef @ _monomials(n) for one unit vector n."""
    x, y, z = n[0], n[1], n[2]
    xx, xy, xz, yy, yz, zz = x * x, x * y, x * z, y * y, y * z, z * z
    terms = (1.0, x, y, z, xx, xy, xz, yy, yz, zz, xx * x, xx * y, xx * z, xy * y, xy * z,
             xz * z, yy * y, yy * z, yz * z, zz * z)
    for i in range(3):
        s = 0.0
        for j in range(20):
            s += coef[i, j] * terms[j]
        out[i] = s


@numba.njit(cache=True)
def _unit_of(n):
    return n / math.sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2])
