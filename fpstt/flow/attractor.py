"""A chart for a flow with no Möbius chart: poles at the flow's attractor and repeller.

An anisotropy or damping makes the noiseless flow non-conformal (:mod:`fpstt.sphere.chart`): no
chart makes it a translation.  The z' frame still shifts its spin-transfer part exactly, but
its poles are not where the flow goes: the density collapses onto an attractor away from
z', where cells uniform in u about z' are coarse, and the rest of the flow crosses the pole,
where phi' ~ 1/sin(theta) defeats a directional split.  This module finds the fixed points
of the flow (the attractor reached from the initial state, and the repeller it came from)
and returns the Möbius chart with those two points as its poles: cells are fine at both, and
every smooth flow is regular at a fixed point in polar coordinates (phi' stays bounded).
The chart's shift (a translation in U at the attractor's mean contraction rate) is exact;
:mod:`fpstt.numerics.remap` moves the rest of the flow.
"""

from __future__ import annotations

import math

import numpy as np

from ..sphere.chart import MobiusChart
from ..physics.pushforward import _tangent_velocity, surface_divergence

__all__ = ["fixed_point", "settle", "settle_all", "attractor_chart", "contraction_rate", "flow_scale",
           "magnet_rate", "precession_rate", "rate_ratio", "from_stereographic"]

_CHUNK, _CHUNKS = 1.0, 200   # a start is followed 1 / rate at a time, at most 200 times
_FIRST_STEPS = 64            # ... after stretches of 64 RK4 steps, doubling up to that
_NEAR = 0.05                 # rad: a start this close to a fixed point is in its basin
_STEP_ANGLE = 0.25           # rad: the fastest rotation per RK4 step of the search
_NEWTON_ITERATIONS = 30
_BACKWARD = 4               # the repeller's search: 4x the attractor's time (attractor_chart)


def fixed_point(model, start, rate: float, forward: bool = True, max_time: float | None = None):
    """The fixed point of ``model``'s noiseless flow that ``start`` (a unit vector) reaches
    forward (``forward``) or backward in time, or None if it does not settle within
    ``max_time`` (default 200 / ``rate``) t_n, ``rate`` the flow's scale per t_n.

    :func:`settle` with the time it took left out.
    """
    return settle(model, start, rate, forward, max_time)[0]


def settle(model, start, rate: float, forward: bool = True, max_time: float | None = None):
    """(fixed point or None, time to reach it in t_n) of ``start`` under the noiseless flow.

    The start is followed by RK4 in Cartesian coordinates (renormalised at every stage, as
    :func:`~fpstt.physics.pushforward.characteristics`), each step turning the model's fastest
    rate by at most 0.25 rad, in stretches of 64 steps doubling up to 1 / ``rate`` (the time
    it took is known to within a factor of 2, not a whole 1 / ``rate``, which set the
    backward search of a weak drive to tens of t_n); after each stretch Newton's method on the
    tangent plane (:func:`_newton`) polishes its end to a zero of the velocity, accepted
    when the end lies within 0.05 rad of it and the zero attracts (forward; repels backward:
    both eigenvalues of the flow's tangent Jacobian on that side).  The velocity is the
    model's own, or its exact cubic polynomial in n when it is one (:func:`_fast_velocity`,
    20x cheaper per point).  :func:`settle_all` for several starts at once.

    The old test, speed below 1e-10 per t_n, waited about 23 / lambda t_n for a contraction
    rate lambda: a weakly driven undamped easy axis (lambda = 0.12 per t_n, precessing at
    82 rad per t_n) took 100 000 RK4 steps, 40 s (model-space seed 2 row 4), damped easy
    axes whose backward run never settled 130 s (rows 10, 19).
    """
    return settle_all(model, np.asarray(start, float)[:, None], rate, forward, max_time)[0]


def settle_all(model, starts, rate: float, forward: bool = True,
               max_time: float | None = None) -> list:
    """:func:`settle` of each column of ``starts`` (3, N), all followed together (one RK4
    step of every unsettled start at a time: 9 probes cost about one,
    :func:`~fpstt.flow.chartcells.other_attractors`); a list of N (fixed point or None, t_n)."""
    velocity = _fast_velocity(model.noiseless())
    ends = np.asarray(starts, float)
    ends = ends / np.linalg.norm(ends, axis=0)
    limit = _CHUNK * _CHUNKS / rate if max_time is None else float(max_time)
    step = 1 / max(200.0, flow_scale(model) / _STEP_ANGLE)
    chunk = min(_FIRST_STEPS * step, _CHUNK / rate, limit)
    found = [None] * ends.shape[1]               # (fixed point, t_n) once settled
    open_ = list(range(ends.shape[1]))
    elapsed = 0.0
    while open_ and elapsed < limit * (1 - 1e-12):
        chunk = min(chunk, limit - elapsed)
        k = max(1, int(np.ceil(chunk / step)))
        h = chunk / k * (1 if forward else -1)
        if len(open_) == 1:             # one start: as a vector, 4x cheaper a step
            ends[:, open_[0]] = _rk4(velocity, ends[:, open_[0]], h, k)
        else:
            ends[:, open_] = _rk4(velocity, ends[:, open_], h, k)
        elapsed += chunk
        for j in list(open_):
            zero = _newton(velocity, ends[:, j])
            if (zero is not None and np.linalg.norm(zero - ends[:, j]) < _NEAR
                    and _attracts(velocity, zero, forward)):
                found[j] = (zero, elapsed)
                open_.remove(j)
        chunk = min(2 * chunk, _CHUNK / rate)
    return [settled or (None, elapsed) for settled in found]


def _rk4(velocity, x, h: float, k: int):
    """``k`` RK4 steps of ``h`` t_n of dx/dt = velocity(x) on the unit sphere (x: (3,) or
    (3, N)); compiled for a :class:`_Cubic` velocity (a start's search took 17 us a step in
    numpy: 2.7 s of model-space seed 2 row 4's set-up)."""
    if isinstance(velocity, _Cubic):
        from .cubic import cubic_rk4                 # numba: loaded on first use
        columns = np.array(x, float).reshape(3, -1)
        return cubic_rk4(velocity.coef, columns, h, k).reshape(np.shape(x))
    for _ in range(k):
        a = velocity(x)
        b = velocity(_unit(x + 0.5 * h * a))
        c = velocity(_unit(x + 0.5 * h * b))
        d = velocity(_unit(x + h * c))
        x = _unit(x + h / 6 * (a + 2 * b + 2 * c + d))
    return x


def _unit(x):
    size = x[0] * x[0] + x[1] * x[1] + x[2] * x[2]
    return x / (math.sqrt(size) if x.ndim == 1 else np.sqrt(size))


def _monomials(n):
    """The 20 monomials of degree ≤ 3 in the components of n (3, ...)."""
    x, y, z = n[0], n[1], n[2]
    one = np.ones_like(x) if isinstance(x, np.ndarray) else 1.0
    xx, xy, xz, yy, yz, zz = x * x, x * y, x * z, y * y, y * z, z * z
    return np.array([one, x, y, z, xx, xy, xz, yy, yz, zz, xx * x, xx * y, xx * z, xy * y,
                     xy * z, xz * z, yy * y, yy * z, yz * z, zz * z])


class _Cubic:
    """A velocity that is a cubic polynomial in n: ``coef`` (3, 20) on :func:`_monomials`."""

    def __init__(self, coef):
        self.coef = np.ascontiguousarray(coef, dtype=float)

    def __call__(self, n):
        return self.coef @ _monomials(n)


def _fast_velocity(flow):
    """n -> the noiseless velocity of ``flow`` at a unit vector n (3,) or at each column of
    n (3, N).

    Every drift of :meth:`~fpstt.physics.model.SpinTorqueModel.noiseless_velocity` (spin torque, a
    constant field, anisotropies, Gilbert damping) is a polynomial of degree ≤ 3 in n: it is
    fitted on 64 points of the sphere and used when it reproduces the model on 64 others to
    1e-12 of the flow's scale; else the model's own velocity."""
    rng = np.random.default_rng(0)
    fit, check = rng.normal(size=(2, 3, 64))
    fit, check = fit / np.linalg.norm(fit, axis=0), check / np.linalg.norm(check, axis=0)
    coef = np.linalg.lstsq(_monomials(fit).T, _tangent_velocity(flow, fit)[0].T, rcond=None)[0].T
    error = np.max(np.abs(coef @ _monomials(check) - _tangent_velocity(flow, check)[0]))
    if error <= 1e-12 * max(flow_scale(flow), 1.0):
        return _Cubic(coef)
    return lambda n: (_tangent_velocity(flow, n)[0] if n.ndim == 2
                      else _tangent_velocity(flow, n[:, None])[0][:, 0])


def flow_scale(flow) -> float:
    """An upper bound on the flow's speed, rad per t_n: drive, field and anisotropies."""
    return abs(getattr(flow, "base", flow).C1) + magnet_rate(flow)


def precession_rate(flow) -> float:
    """A bound on the magnet's precession rate (rad per t_n): |omega| + |anisotropies|, the
    field's and the anisotropies' turn (Eq. 17 beyond the paper, :mod:`fpstt.physics.magnet`)."""
    base = getattr(flow, "base", flow)
    omega = math.hypot(*(base.omega or (0.0, 0.0, 0.0)))
    return omega + abs(base.anisotropy) + abs(base.hard_anisotropy)


def magnet_rate(flow) -> float:
    """A bound on the magnet's own rate (rad per t_n): :func:`precession_rate` (1 + alpha),
    its precession and damping."""
    return precession_rate(flow) * (1 + getattr(flow, "base", flow).alpha)


def _tangent_basis(n):
    """Two orthonormal tangent vectors at the unit vector n (regular everywhere)."""
    helper = np.eye(3)[int(np.argmin(np.abs(n)))]
    a = np.cross(n, helper)
    a /= np.linalg.norm(a)
    return a, np.cross(n, a)


def _jacobian(velocity, n, h: float = 1e-6):
    """The velocity at n in a tangent basis (2,) and its tangent Jacobian (2, 2) by central
    differences along the basis, the displaced points projected onto the sphere."""
    basis = _tangent_basis(n)
    f = np.array([t @ velocity(n) for t in basis])
    jac = np.empty((2, 2))
    for j, step in enumerate(basis):
        dv = velocity(_unit(n + h * step)) - velocity(_unit(n - h * step))
        jac[:, j] = [t @ dv / (2 * h) for t in basis]
    return f, jac, basis


def _newton(velocity, n, tol: float = 1e-13):
    """A zero of the velocity near the unit vector n by Newton's method on the tangent
    plane, or None if it does not converge (|velocity| ≤ tol times its scale at n, or a step
    below 1e-14 rad)."""
    scale = max(float(np.linalg.norm(velocity(n))), 1e-300)
    for _ in range(_NEWTON_ITERATIONS):
        f, jac, basis = _jacobian(velocity, n)
        try:
            delta = np.linalg.solve(jac, -f)
        except np.linalg.LinAlgError:
            return None
        if not np.all(np.isfinite(delta)) or np.linalg.norm(delta) > 0.5:
            return None
        n = _unit(n + delta[0] * basis[0] + delta[1] * basis[1])
        if np.linalg.norm(delta) < 1e-14 or np.linalg.norm(f) <= tol * scale:
            return n
    return None


def _attracts(velocity, point, forward: bool) -> bool:
    """True when both eigenvalues of the tangent Jacobian at the fixed point ``point`` have
    negative (``forward``) or positive (backward) real parts."""
    _, jac, _ = _jacobian(velocity, point)
    real = np.linalg.eigvals(jac).real * (1 if forward else -1)
    return bool(np.all(real < 0))


def contraction_rate(model, point) -> float:
    """Half the surface divergence of the flow at ``point`` (per t_n): its mean rate of
    approach (< 0 at an attractor)."""
    return float(surface_divergence(model.noiseless(), np.asarray(point, float)[:, None])[0]) / 2


def rate_ratio(model, point) -> float:
    """Slower over faster rate of approach to the fixed point ``point``: the smaller |real
    part| of the two eigenvalues of the flow's tangent Jacobian there over the larger (1 for
    a spiral, whose eigenvalues are a conjugate pair).  A Möbius chart's shift contracts
    every direction alike (z -> z e^(lam t)); at a node whose ratio is small its shift at the
    mean rate is far from the flow along the slow direction, and the remap must undo it."""
    _, jac, _ = _jacobian(_fast_velocity(model.noiseless()), np.asarray(point, float))
    rates = np.sort(np.abs(np.linalg.eigvals(jac).real))
    return float(rates[0] / rates[1]) if rates[1] > 0 else 1.0


def attractor_chart(model, start) -> MobiusChart:
    """The Möbius chart whose pole theta_c = 0 is the attractor that ``start`` (a unit
    vector, e.g. the initial state's direction) flows to, and whose other pole is the repeller
    it flows from (the attractor's antipode if it came from no fixed point), with the exact
    shift U -> U + lam t at the attractor's mean contraction rate lam < 0.  ValueError if the
    flow has no attractor there (a limit cycle, a flow that does not contract).

    The repeller is searched for backward in time for at most 4x as long as the start took
    to reach the attractor (at least 4 / |lam|): a damped easy axis run backward goes to the
    ring of its energy maxima, which holds no fixed point, and the full search of 200 / |C1|
    t_n cost 35-50 s (model-space seed 2 rows 10, 19) to return the antipode all the same."""
    rate = max(abs(model.C1), 1e-12)
    stable, took = settle(model, start, rate)
    if stable is None:
        raise ValueError("the noiseless flow from the initial state settles on no fixed point: "
                         "no attractor chart (use a z'-frame grid)")
    lam = contraction_rate(model, stable)
    if not lam < 0:
        raise ValueError(f"the flow's fixed point at {stable.round(4).tolist()} does not "
                         f"attract (mean rate {lam:.3g} per t_n): no attractor chart")
    limit = min(_BACKWARD * max(took, 1 / abs(lam)), _CHUNK * _CHUNKS / rate)
    unstable = fixed_point(model, start, rate, forward=False, max_time=limit)
    if unstable is None or np.linalg.norm(unstable - stable) < 1e-6:
        unstable = -stable
    return MobiusChart(_stereographic(stable), _stereographic(unstable), complex(lam, 0.0))


def from_stereographic(zeta) -> np.ndarray:
    """The unit vector of the z'-frame stereographic coordinate zeta (None: -z')."""
    if zeta is None:
        return np.array([0.0, 0.0, -1.0])
    size = abs(zeta) ** 2
    return np.array([2 * zeta.real, 2 * zeta.imag, 1 - size]) / (1 + size)


def _stereographic(n):
    """zeta = tan(theta/2) e^{i phi} of a unit vector of the z' frame (None at -z')."""
    if 1 + n[2] < 1e-14:
        return None
    return complex(n[0], n[1]) / (1 + n[2])

