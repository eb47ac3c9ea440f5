"""Initial states: the Gibbs state of Eq. (13), a von Mises-Fisher law on the sphere, and its
generalisation exp(-E / k_B T) with easy- and hard-axis anisotropies (:class:`BoltzmannState`)."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .constants import BOLTZMANN
from ..sphere.grid import SphereGrid, unit_vector
from .magnet import magnet_moment, thermal_stability
from .microscopic import Microscopic, derived_coefficients

__all__ = ["GibbsState", "BoltzmannState", "initial_state", "unit_vector", "langevin_function"]


def langevin_function(kappa: float) -> float:
    """coth(kappa) - 1/kappa, the mean of n . b under exp(kappa n . b); stable for all kappa."""
    if kappa < 1e-4:
        return kappa / 3
    return (1 + math.exp(-2 * kappa)) / (-math.expm1(-2 * kappa)) - 1 / kappa


@dataclass(frozen=True)
class GibbsState:
    """P(n) = C exp(kappa n . b), Eq. (13), with kappa = gamma hbar J B / (k_B T).

    Parameters
    ----------
    kappa : float
        Concentration (dimensionless), ≥ 0.
    theta_b, phi_b : float
        Direction b of the field about z', rad.
    """

    kappa: float
    theta_b: float
    phi_b: float

    def __post_init__(self):
        if not (math.isfinite(self.kappa) and self.kappa >= 0):
            raise ValueError(f"`kappa` must be finite and ≥ 0, got {self.kappa!r}")
        if not (0 <= self.theta_b <= math.pi) or not math.isfinite(self.phi_b):
            raise ValueError("`theta_b` must lie in [0, pi] and `phi_b` be finite")

    @classmethod
    def from_microscopic(cls, micro: Microscopic) -> "GibbsState":
        return cls(derived_coefficients(micro).kappa, micro.B_theta, micro.B_phi)

    @property
    def direction(self) -> np.ndarray:
        return unit_vector(self.theta_b, self.phi_b)

    @property
    def mean_direction(self) -> np.ndarray:
        """Exact <n> = (coth kappa - 1/kappa) b."""
        return langevin_function(self.kappa) * self.direction

    def log_normaliser(self) -> float:
        """log C with C^-1 = 4 pi sinh(kappa)/kappa, written as C exp(kappa) (no overflow)."""
        k = self.kappa
        if k < 1e-8:
            return -math.log(4 * math.pi) - k
        return math.log(k) - math.log(2 * math.pi) - math.log(-math.expm1(-2 * k)) - k

    def per_area(self, theta, phi):
        """P(n(theta, phi)) per steradian, vectorised."""
        n = unit_vector(theta, phi)
        b = self.direction
        cos_b = b[0] * n[0] + b[1] * n[1] + b[2] * n[2]
        return np.exp(self.log_normaliser() + self.kappa * cos_b)

    def density(self, theta, phi):
        """The (theta, phi) density p0 = P sin(theta) of Eq. (16); integrates to 1 over dtheta dphi."""
        return self.per_area(theta, phi) * np.sin(theta)

    def cell_averages(self, grid: SphereGrid, theta_edges=None, phi_offset: float = 0.0):
        """Cell averages of the (theta, phi) density p0 on ``grid`` (carries sin theta).

        Integrated by Gauss-Legendre on sub-cells no wider than a quarter of the width
        1/sqrt(kappa) wherever the density is non-negligible, so sharp states on coarse grids
        are averaged exactly, not sampled.  ``theta_edges`` and ``phi_offset`` integrate
        instead over the cells ``[theta_edges[i], theta_edges[i+1]] x (phi cell - phi_offset)``
        (the pre-images used by :mod:`fpstt.physics.pushforward`); the result is still divided by
        the measure of ``grid``'s cells.
        """
        if grid.chart is not None:
            return chart_state_averages(self, grid)
        edges = grid.theta_edges if theta_edges is None else np.asarray(theta_edges, float)
        width = 1 / math.sqrt(max(self.kappa, 1.0))
        reach = min(math.pi, 12 * width)                 # exp(-72): negligible beyond
        lo, hi = self.theta_b - reach, self.theta_b + reach
        x, wq = np.polynomial.legendre.leggauss(6)
        # theta sub-cells: split cells that meet the support into pieces <= width / 4
        a, b = edges[:-1], edges[1:]
        inside = (b > lo) & (a < hi)                      # other rows get mass 0 (< e^-72)
        pieces = np.where(inside, np.ceil((b - a) / (width / 4)), 0).astype(int)
        row = np.repeat(np.arange(a.size), pieces)
        start = np.cumsum(pieces) - pieces
        k = np.arange(row.size) - start[row]
        h = (b - a)[row] / pieces[row]
        tq = (a[row] + h * k)[:, None] + 0.5 * (x + 1)[None, :] * h[:, None]   # (sub, 6)
        # phi: enough Gauss points per cell for the phi width at the field direction
        sin_b = max(math.sin(self.theta_b), width)
        n_phi_pts = int(min(64, max(6, math.ceil(3 * grid.dphi * sin_b / width) + 4)))
        xf, wf = np.polynomial.legendre.leggauss(n_phi_pts)
        fq = (grid.phi_edges[:-1, None] - phi_offset
              + 0.5 * (xf + 1)[None, :] * grid.dphi)                            # (nf, q)
        vals = self.density(tq[:, :, None, None], fq[None, None, :, :])       # (sub,6,nf,q)
        sub_mass = 0.25 * np.einsum("aibj,i,j->ab", vals, wq, wf) * h[:, None] * grid.dphi
        mass = np.zeros((a.size, grid.n_phi))
        np.add.at(mass, row, sub_mass)
        return mass / grid.cell_measure

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Exact von Mises-Fisher samples, unit vectors of shape (n, 3)."""
        u = rng.random(n)
        k = self.kappa
        if k < 1e-8:
            w = 2 * u - 1
        else:
            w = 1 + np.log(u + (1 - u) * math.exp(-2 * k)) / k
        w = np.clip(w, -1.0, 1.0)
        psi = 2 * math.pi * rng.random(n)
        r = np.sqrt(np.maximum(0.0, 1 - w * w))
        local = np.stack([r * np.cos(psi), r * np.sin(psi), w], axis=1)
        return local @ _rotation_to(self.direction).T


def chart_state_averages(state, grid: SphereGrid, order: int = 8):
    """Cell averages of ``state``'s (theta_c, phi_c) density on a chart grid: its density
    per steradian times the chart's area factor, by Gauss-Legendre in the cells of the rows
    whose centres see more than e^-60 of the peak (other rows: below 1e-20 of the mass).

    ``order`` points per direction where needed: rows whose cell masses by 2 and 3 points
    agree to 1e-13 (cells much finer than the state, the rule's error falling by (cell /
    width)^2 per order) keep the 3-point values; the others take ``order``.  On the
    attractor chart of a wide state (model-space seed 2 row 4, 0.9 M cells, all holding
    mass) 8 points everywhere took 38-66 s."""
    chart = grid.chart

    def density(t, f):
        return state.per_area(*chart.to_lab(t, f)) * chart.area_factor(t, f)

    def averages(rows, points):
        x, w = np.polynomial.legendre.leggauss(points)
        e, d = grid.theta_edges[rows], grid.dtheta[rows]
        tq = e[:, None] + 0.5 * (x[None, :] + 1) * d[:, None]
        fq = grid.phi_edges[:-1, None] + 0.5 * (x[None, :] + 1) * grid.dphi
        vals = density(tq[:, :, None, None], fq[None, None, :, :])
        return 0.25 * np.einsum("aibj,i,j->ab", vals, w, w)

    centres = density(grid.theta[:, None], grid.phi[None, :])
    rows = np.flatnonzero(centres.max(axis=1) > np.exp(-60) * centres.max())
    rows = np.arange(max(rows[0] - 2, 0), min(rows[-1] + 3, grid.n_theta))
    p = np.zeros(grid.shape)
    if order > 3:
        coarse, fine = averages(rows, 2), averages(rows, 3)
        measure = grid.dtheta[rows, None] * grid.dphi
        gap = np.max(np.abs(fine - coarse) * measure, axis=1)
        done = gap <= _QUADRATURE_AGREEMENT
        p[rows[done]] = fine[done]
        rows = rows[~done]
    if rows.size:
        p[rows] = averages(rows, order)
    return p


_QUADRATURE_AGREEMENT = 1e-13    # chart_state_averages: cell masses of 2 and 3 points


def _rotation_to(b: np.ndarray) -> np.ndarray:
    """Rotation matrix taking z onto the unit vector b (columns e1, e2, b)."""
    b = b / np.linalg.norm(b)
    helper = np.array([1.0, 0.0, 0.0]) if abs(b[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(helper, b)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(b, e1)
    return np.column_stack([e1, e2, b])


@dataclass(frozen=True)
class BoltzmannState:
    """P(n) ∝ exp(-E(n) / k_B T) = exp(kappa n . b + delta (n . e)^2 - hard (n . h)^2): Eq. (13)
    with the anisotropies of :mod:`fpstt.physics.magnet` (kappa = M B / k_B T, delta = M B_k / 2 k_B T,
    hard = M B_d / 2 k_B T).

    ``side`` = -1 or +1 keeps one well, the hemisphere sign(n . e) = side, renormalised (the
    start of a write: a magnet thermalised in the well at -e, :func:`initial_state` kind
    ``"well"``); 0, the whole sphere.  At Delta = 45 the density on the cut, n . e = 0, is
    exp(-Delta) = 3e-20 of the peak's.

    The normaliser is computed by quadrature (512 Gauss-Legendre nodes in cos theta, 512 in
    phi: exact to round-off for delta + kappa + hard up to a few hundred).  ``theta_b``,
    ``phi_b`` locate the most probable direction (the deeper well), used to size grids;
    ``mean_direction`` is <n> by the same quadrature.
    """

    kappa: float
    field_direction: tuple
    delta: float
    easy_axis: tuple
    hard: float = 0.0
    hard_axis: tuple = (1.0, 0.0, 0.0)
    side: int = 0

    def __post_init__(self):
        for name in ("kappa", "delta", "hard"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"`{name}` must be finite and ≥ 0, got {value!r}")
        if self.side not in (-1, 0, 1):
            raise ValueError(f"`side` must be -1, 0 or 1, got {self.side!r}")
        grid_t, grid_f, weights = _sphere_quadrature(512)
        log_f = self._exponent(unit_vector(grid_t, grid_f))
        top = float(log_f.max())
        best = np.unravel_index(np.argmax(log_f), log_f.shape)
        object.__setattr__(self, "_log_z", top + math.log(float(np.sum(np.exp(log_f - top)
                                                                      * weights))))
        object.__setattr__(self, "theta_b", float(grid_t[best]))
        object.__setattr__(self, "phi_b", float(grid_f[best]))
        mean = np.einsum("ijk,jk->i", unit_vector(grid_t, grid_f),
                         np.exp(log_f - self._log_z) * weights)
        object.__setattr__(self, "mean_direction", mean)

    @classmethod
    def from_microscopic(cls, micro: Microscopic, side: int = 0) -> "BoltzmannState":
        hard = magnet_moment(micro) * micro.B_d / (2 * BOLTZMANN * micro.T)
        return cls(derived_coefficients(micro).kappa,
                   tuple(unit_vector(micro.B_theta, micro.B_phi).tolist()),
                   thermal_stability(micro),
                   tuple(unit_vector(micro.easy_theta, micro.easy_phi).tolist()),
                   hard, tuple(unit_vector(micro.hard_theta, micro.hard_phi).tolist()), side)

    def _exponent(self, n):
        b, e = np.asarray(self.field_direction, float), np.asarray(self.easy_axis, float)
        along = np.tensordot(e, n, axes=1)
        log_p = self.kappa * np.tensordot(b, n, axes=1) + self.delta * along * along
        if self.hard:
            across = np.tensordot(np.asarray(self.hard_axis, float), n, axes=1)
            log_p = log_p - self.hard * across * across
        if self.side:
            log_p = np.where(self.side * along >= 0, log_p, -np.inf)
        return log_p

    @property
    def direction(self) -> np.ndarray:
        return unit_vector(self.theta_b, self.phi_b)

    def per_area(self, theta, phi):
        """P(n(theta, phi)) per steradian, vectorised (integrates to 1 over the sphere)."""
        return np.exp(self._exponent(unit_vector(theta, phi)) - self._log_z)

    def density(self, theta, phi):
        """The (theta, phi) density P sin(theta); integrates to 1 over dtheta dphi."""
        return self.per_area(theta, phi) * np.sin(theta)

    def cell_averages(self, grid: SphereGrid, order: int = 4):
        """Cell averages of the (theta, phi) density (carries sin theta), by Gauss-Legendre
        with ``order`` points per direction in each cell (on a chart grid: its (theta_c,
        phi_c) density, :func:`chart_state_averages`)."""
        if grid.chart is not None:
            return chart_state_averages(self, grid)
        x, w = np.polynomial.legendre.leggauss(order)
        tq = grid.theta_edges[:-1, None] + 0.5 * (x + 1)[None, :] * grid.dtheta[:, None]
        fq = grid.phi_edges[:-1, None] + 0.5 * (x + 1)[None, :] * grid.dphi
        vals = self.density(tq[:, :, None, None], fq[None, None, :, :])
        return 0.25 * np.einsum("aibj,i,j->ab", vals, w, w)

    def sample(self, n: int, rng: np.random.Generator, cells: int = 1024) -> np.ndarray:
        """Samples (n, 3): a cell of a (cos theta, phi) table of ``cells`` x 2 ``cells``
        chosen by its mass (density at its centre), then uniform in cos theta and phi within
        it (a bias of order (cell / width)^2 / 12, below 1e-4 for delta ≤ 100).  One well
        (``side``): the table is about its peak, geometric in 1 - cos (:meth:`_sample_well`)."""
        if self.side:
            return self._sample_well(n, rng, cells)
        c_edges = np.linspace(-1, 1, cells + 1)
        f_edges = np.linspace(0, 2 * np.pi, 2 * cells + 1)
        c = 0.5 * (c_edges[1:] + c_edges[:-1])
        f = 0.5 * (f_edges[1:] + f_edges[:-1])
        log_p = self._exponent(unit_vector(np.arccos(c)[:, None], f[None, :]))
        prob = np.exp(log_p - np.max(log_p)).ravel()
        pick = rng.choice(prob.size, size=n, p=prob / prob.sum())
        i, j = np.divmod(pick, f.size)
        cos_t = c_edges[i] + rng.random(n) * (c_edges[1] - c_edges[0])
        phi = f_edges[j] + rng.random(n) * (f_edges[1] - f_edges[0])
        return unit_vector(np.arccos(np.clip(cos_t, -1, 1)), phi).T

    def _sample_well(self, n: int, rng: np.random.Generator, cells: int) -> np.ndarray:
        """Samples of one well: a table in (s, psi) about the peak direction b, s = 1 - n . b
        (the area element is ds dpsi), with ``cells`` s-edges geometric from 1e-12 to 2 (2.8 %
        apart at 1024) and 2 ``cells`` in psi.  A flat table in cos theta is too coarse
        for a well narrowed by a hard axis (B_d = 1 T, B_k = 0.05 T: width 5e-4 in
        1 - cos against cells of 2e-3; <n . z'> was 19 s.e. off the quadrature's at N = 2e5)."""
        s_edges = np.concatenate([[0.0], np.geomspace(1e-12, 2.0, cells)])
        f_edges = np.linspace(0, 2 * np.pi, 2 * cells + 1)
        s = 0.5 * (s_edges[1:] + s_edges[:-1])
        f = 0.5 * (f_edges[1:] + f_edges[:-1])
        turn = _rotation_to(self.direction)
        log_p = self._exponent(np.tensordot(turn, unit_vector(np.arccos(1 - s)[:, None],
                                                              f[None, :]), axes=1))
        prob = (np.exp(log_p - np.max(log_p)) * np.diff(s_edges)[:, None]).ravel()
        pick = rng.choice(prob.size, size=n, p=prob / prob.sum())
        i, j = np.divmod(pick, f.size)
        s_n = s_edges[i] + rng.random(n) * (s_edges[i + 1] - s_edges[i])
        psi = f_edges[j] + rng.random(n) * (f_edges[1] - f_edges[0])
        return (turn @ unit_vector(np.arccos(np.clip(1 - s_n, -1, 1)), psi)).T


@functools.lru_cache(maxsize=4)
def _sphere_quadrature(n: int):
    """(theta, phi, weights) of an n x n product rule on the sphere (Gauss-Legendre in
    cos theta, trapezoid in phi); the weights sum to 4 pi.  Cached, read-only: numpy's
    leggauss(512) takes 1.3-2.7 s, paid by every BoltzmannState (three times per run of
    ``fpstt solve --config``: validation, grid, initial state)."""
    x, w = np.polynomial.legendre.leggauss(n)
    phi = np.arange(n) * 2 * np.pi / n
    out = (np.arccos(x)[:, None] + 0 * phi[None, :], phi[None, :] + 0 * x[:, None],
           w[:, None] * np.full(n, 2 * np.pi / n)[None, :])
    for array in out:
        array.flags.writeable = False
    return out


def initial_state(micro: Microscopic, kind: str = "gibbs", theta=None, phi=None, kappa=None):
    """The initial state of a run: ``"gibbs"``, exp(-E / k_B T) over the sphere (Eq. 13; a
    :class:`BoltzmannState` when B_k > 0 or B_d > 0), ``"well"``, exp(-E / k_B T) on the
    side of the easy axis e that holds the direction (theta, phi) (default theta = pi: the
    well at -e when e = z'; needs B_k > 0), or ``"vmf"``, a von Mises-Fisher state about
    (theta, phi) with concentration kappa."""
    if kind == "well":
        if micro.B_k <= 0:
            raise ValueError("a well initial state needs an easy axis, `B_k` > 0")
        toward = unit_vector(math.pi if theta is None else float(theta),
                             0.0 if phi is None else float(phi))
        along = float(np.dot(unit_vector(micro.easy_theta, micro.easy_phi), toward))
        if abs(along) < 1e-12:
            raise ValueError("a well initial state needs (theta, phi) off the easy axis' "
                             "equator")
        return BoltzmannState.from_microscopic(micro, side=1 if along > 0 else -1)
    if kind == "vmf":
        if None in (theta, phi, kappa):
            raise ValueError("a vmf initial state needs `theta`, `phi` and `kappa`")
        return GibbsState(float(kappa), float(theta), float(phi))
    if kind != "gibbs":
        raise ValueError(f"`kind` must be 'gibbs', 'vmf' or 'well', got {kind!r}")
    if micro.B_k > 0 or micro.B_d > 0:
        return BoltzmannState.from_microscopic(micro)
    return GibbsState.from_microscopic(micro)
