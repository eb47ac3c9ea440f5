"""The cross-checks behind ``fpstt validate``: each returns a value, its reference and tolerance.

Every reference is exact or independent of the code under test (the pushforward of Eq. 16,
the OU variance of Eqs. 18-19, Monte Carlo); numbers quoted from the paper are references
with stated tolerances, never inputs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..physics.constants import ELECTRON_MASS_TABLE_I, HBAR_TABLE_I
from ..sphere.grid import SphereGrid
from ..physics.initial import GibbsState
from ..physics.microscopic import derived_coefficients, table_i
from ..physics.model import SpinTorqueModel
from .montecarlo import simulate
from ..analysis.observables import l1_distance, moments, theta_statistics
from ..numerics.operator import stationary_density
from ..physics.pushforward import pushforward_cell_averages
from ..integration.stepping import default_grid, solve

__all__ = ["Check", "run_checks", "format_table"]


@dataclass
class Check:
    name: str
    value: float
    reference: float
    tolerance: str
    passed: bool

    def as_dict(self):
        return asdict(self)


def _within(name, value, reference, rel=None, abs_=None):
    tol = rel * abs(reference) if rel is not None else abs_
    text = f"±{rel:.0%}" if rel is not None else f"±{abs_:.1e}"
    return Check(name, float(value), float(reference), text, bool(abs(value - reference) <= tol))


def _at_most(name, value, bound):
    return Check(name, float(value), float(bound), f"≤ {bound:.1e}", bool(value <= bound))


def _at_least(name, value, bound):
    return Check(name, float(value), float(bound), f"≥ {bound:.1e}", bool(value >= bound))


def run_checks(n_samples: int = 20_000, seed: int = 0) -> list[Check]:
    """Run the quick cross-checks on the Table I problem (about a minute on 2 cores)."""
    checks = []
    paper = derived_coefficients(table_i(hbar=HBAR_TABLE_I, m_e=ELECTRON_MASS_TABLE_I))
    checks.append(_within("Table I: Im C1 (paper constants)", paper.C1.imag, 5.509, abs_=5e-4))
    checks.append(_within("Table I: |C2| (paper constants)", abs(paper.C2),
                          abs(0.009 + 0.014j), abs_=7e-4))

    micro = table_i()
    model = SpinTorqueModel.from_microscopic(micro)
    gibbs = GibbsState.from_microscopic(micro)
    times = np.linspace(0, 1, 11)
    grid = default_grid(model, times, steps_per_unit=200, n_phi=256)
    p0 = gibbs.cell_averages(grid)
    sol = solve(model, grid, p0, times)
    d = sol.diagnostics
    checks.append(_at_most("FP mass drift (relative)", d["max_mass_error"] / d["mass0"], 1e-12))
    checks.append(_at_least("FP most negative p / max p", d["min_p_ratio"], -1e-12))

    quiet = solve(model.with_options(C2=0j), grid, p0, [1.0])
    ref = pushforward_cell_averages(gibbs, model.C1, grid, 1.0)
    checks.append(_at_most("FP (noise off) vs pushforward Eq. 16, L1 at t_n",
                           l1_distance(grid, quiet.p[-1], ref), 2e-2))

    ou = abs(model.C2) ** 2 / (2 * model.C1.imag)
    pole = SphereGrid.mercator(0.05, -12.0, 3.5, 16)
    for label, variant, factor in (
            ("Itô, Eq. 17", model, 1.0),
            ("Stratonovich, Eq. 17", model.with_options(interpretation="stratonovich"), 1.0),
            ("lab reading", model.with_options(interpretation="stratonovich", reading="lab"), 2.0)):
        stats = theta_statistics(pole, stationary_density(variant, pole))
        checks.append(_within(f"stationary <theta^2> / OU variance ({label})",
                              stats["theta2"] / ou, factor, rel=0.02))

    mc = simulate(model, gibbs, times, n_samples, dt=0.01, seed=seed)
    mean_fp, _ = moments(grid, sol.p)
    z = np.abs(mc.mean - mean_fp) / mc.stderr
    checks.append(_at_most(f"FP vs MC mean of n, max |z| over 11 times (N={n_samples})",
                           float(z.max()), 4.0))
    late = simulate(model, gibbs, [3.0], n_samples, dt=0.01, seed=seed + 1)
    checks.append(_within("MC stationary <theta^2> (Itô, Eq. 17)", late.theta2[0], ou,
                          abs_=3 * float(late.theta2_stderr[0])))
    return checks


def format_table(checks: list[Check]) -> str:
    lines = [f"{'check':<62} {'value':>12} {'reference':>12} {'tolerance':>12}  result"]
    for c in checks:
        lines.append(f"{c.name:<62} {c.value:>12.5g} {c.reference:>12.5g} {c.tolerance:>12}  "
                     f"{'pass' if c.passed else 'FAIL'}")
    return "\n".join(lines)

