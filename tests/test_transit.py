"""Departure points from transit times (fpstt.numerics.transit) against exact flows and RK4."""

import math

import numpy as np

from fpstt.numerics.remap import _rk4_back
from fpstt.numerics.transit import TransitTracer


def test_linear_velocity_is_exact_and_stops_at_the_poles():
    # theta' = k (theta - pi/2): a fixed point at pi/2, repelling; exact for linear velocity
    edges = np.linspace(0, math.pi, 33)[1:-1]
    y = np.tile(edges, (2, 1))
    k = np.array([3.0, -3.0])
    rate = lambda t, lines: k[lines, None] * (t - math.pi / 2)            # noqa: E731
    tau = 0.4
    back = TransitTracer()(rate, y, tau, (0.0, math.pi))
    exact = math.pi / 2 + (y - math.pi / 2) * np.exp(-k[:, None] * tau)
    # a repeller forward in time: the past stays inside; an attractor: it came from a pole
    assert np.allclose(back[0], exact[0], rtol=0, atol=1e-12)
    assert np.allclose(back[1], np.clip(exact[1], 0, math.pi), rtol=0, atol=1e-12)


def test_periodic_lines_match_rk4_for_any_step_from_one_table():
    n = 128
    edges = np.arange(n) * 2 * math.pi / n
    A, B = np.array([1.0, 0.5, -2.0, 3.0]), np.array([0.3, 2.0, 1.0, -40.0])
    rate = lambda p, lines: A[lines, None] + B[lines, None] * np.cos(p)   # noqa: E731
    y = np.tile(edges, (4, 1))
    tracer = TransitTracer()
    for tau in (0.01, 0.3, 2.0):
        got = tracer(rate, y, tau)
        assert np.max(np.abs(got - _rk4_back(rate, y, tau))) < 5e-3 * (2 * math.pi / n)
    assert len(tracer.tables) == 1


def test_a_trace_of_no_time_stays_at_its_edge_next_to_a_fixed_point():
    # theta' = 5 sin(theta) (cos(theta) - 0.1): a fixed point between two edges, where the
    # interval's transit time is BLOCKED; the search used to end across it (x ~ 1e212)
    edges = np.linspace(0, math.pi, 65)[1:-1]
    y = np.tile(edges, (2, 1))
    rate = lambda t, lines: 5 * np.sin(t) * (np.cos(t) - 0.1)             # noqa: E731
    tracer = TransitTracer()
    assert np.array_equal(tracer(rate, y, 0.0, (0.0, math.pi)), y)
    short = tracer(rate, y, 1e-9, (0.0, math.pi))
    assert np.max(np.abs(short - y)) < 1e-8
