"""Monte Carlo ensembles of the Langevin equation (Eq. 11 / Eq. 17), vectorised and chunked.

Two pole readings, each matching the Fokker-Planck operator of the same model:

Each step is a Strang splitting: the exact noiseless flow of Eq. (15) for half a step,
then the noise, then the flow for another half step.  Weak order 1 (measured in the tests).

``reading="eq17"``
    The C2 noise of Eq. (17) in (theta, phi): Euler-Maruyama (Itô) or Heun (Stratonovich).
    A step that ends at theta < 0 (or > pi) continues at (-theta, phi + pi) (or
    (2 pi - theta, phi + pi)): theta diffuses straight through the pole.
``reading="lab"``
    The vector form of Eq. (11) with noise isotropic in the tangent plane and smooth in the
    lab frame, dn = ... + sqrt(2 D_t) P(n) o dW: a Stratonovich Euler step in R^3 followed
    by renormalisation |n| = 1.

Brown thermal noise (``thermal_D``) is lab-smooth in both readings and takes the same
vector step; a field kept on during the dynamics is an exact rotation about omega, and with
damping or an anisotropy (:mod:`fpstt.physics.magnet`) a Heun step of the Landau-Lifshitz velocity.

Trajectories start from exact Gibbs samples (Eq. 13).  Randomness only through a seeded
``numpy.random.Generator``; chunk k uses the stream ``SeedSequence(seed).spawn`` child k, so
results do not depend on how many chunks run at once and any chunk can be recomputed.
"""

from __future__ import annotations

import math
import sys
import time as _time
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from ..sphere.budget import MC_BYTES_PER_TRAJECTORY, MC_SECONDS_PER_STEP, check_memory, warn_time
from ..sphere.grid import SphereGrid, angles
from ..physics.initial import GibbsState
from ..analysis.checkpoint import read_checkpoint, write_checkpoint
from ..physics.pushforward import flow
from ..integration.stepping import check_times
from ..physics.magnet import damping_velocity
from ..analysis.switching import switching_stderr

__all__ = ["MonteCarloResult", "simulate"]


@dataclass
class MonteCarloResult:
    """Ensemble statistics at the output times (units of t_n).

    Attributes
    ----------
    times : (n_times,)
    mean, std, stderr : (n_times, 3)
        Mean and standard deviation of the components of n = J/J, and the standard error of
        the mean (std / sqrt(n_samples)).
    theta2, theta2_stderr : (n_times,)
        <theta^2> (polar angle from z') and its standard error.
    p_switch, p_switch_stderr : (n_times,)
        Fraction of trajectories with n_z > ``threshold`` and its binomial standard error.
    switch_time_mean, switch_time_stderr : float
        Mean of min(tau, T) over trajectories, tau the first crossing of n_z = threshold (in
        the first step that ends switched, interpolated linearly in n_z: it does not depend
        on the output times; 0 for a trajectory that starts switched; T = last output
        time), and its standard error; compare
        :meth:`fpstt.runs.wer.SwitchingCurve.statistics`.
    hist : (n_times, n_theta, n_phi) or None
        Histogram as a (theta, phi) density (carries sin theta; sum hist dtheta dphi = 1).
    grid : SphereGrid or None
    n_samples : int
    diagnostics : dict
    """

    times: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    stderr: np.ndarray
    theta2: np.ndarray
    theta2_stderr: np.ndarray
    p_switch: np.ndarray
    p_switch_stderr: np.ndarray
    switch_time_mean: float
    switch_time_stderr: float
    hist: np.ndarray | None
    grid: SphereGrid | None
    n_samples: int
    diagnostics: dict = field(default_factory=dict)


def _reflect(theta, phi):
    low, high = theta < 0, theta > np.pi
    theta = np.where(low, -theta, np.where(high, 2 * np.pi - theta, theta))
    phi = np.where(low | high, phi + np.pi, phi)
    return theta, phi % (2 * np.pi)


def _half_flow(model, theta, phi, h):
    """The exact noiseless flow of Eq. (15) over a time h."""
    th, _ = flow(h, theta, 0.0, model.C1)
    return th, phi + model.C1.real * h


def _unit(theta, phi):
    st = np.sin(theta)
    return np.array([st * np.cos(phi), st * np.sin(phi), np.cos(theta)])


def _eq17_noise(model, theta, phi, h, rng):
    """The C2 noise of Eq. (17) in (theta, phi), with its interpretation: Euler-Maruyama
    (Itô) or Heun (Stratonovich); a step ending beyond a pole continues through it."""
    dw = rng.standard_normal((2, theta.size)) * math.sqrt(h)
    strat = model.interpretation == "stratonovich"

    def increment(th):
        s = model.noise_matrix(th)
        return s[0, 0] * dw[0] + s[0, 1] * dw[1], s[1, 0] * dw[0] + s[1, 1] * dw[1]

    d_t, d_p = increment(theta)
    if strat:
        e_t, e_p = increment(theta + d_t)
        d_t, d_p = 0.5 * (d_t + e_t), 0.5 * (d_p + e_p)
    return _reflect(theta + d_t, phi + d_p)


def _lab_noise(model, n, h, rng):
    """Isotropic tangent noise: a Stratonovich Euler step in R^3, then |n| = 1."""
    xi = rng.standard_normal(n.shape) * math.sqrt(2 * model.tangent_diffusion * h)
    n = n + xi - n * np.sum(n * xi, axis=0)                   # tangent projection P(n)
    return n / np.linalg.norm(n, axis=0)


def _rotate(n, omega, h):
    """Rotate each n about its own omega (shape (3, ...)) by |omega| h (Rodrigues)."""
    size = np.linalg.norm(omega, axis=0)
    k = omega / np.where(size > 0, size, 1.0)
    c, s = np.cos(size * h), np.sin(size * h)
    return n * c + np.cross(k, n, axis=0) * s + k * np.sum(k * n, axis=0) * (1 - c)


def _magnet_flow(model, n, h):
    """The field and anisotropy terms over h (Strang): half a Heun step of the damping,
    the precession as an exact rotation about Omega (the model's
    :meth:`~fpstt.physics.model.SpinTorqueModel.effective_omega`) taken at the half-step point (second
    order, norm-preserving at any |Omega| h), half a Heun step of the damping."""
    scale = 1.0 / (1 + model.alpha ** 2)
    big = model.effective_omega                               # Omega(n), rad per t_n

    def damp(m, tau):
        if model.alpha == 0:
            return m
        first = damping_velocity(m, big(m), model.alpha)
        guess = m + tau * first
        guess /= np.linalg.norm(guess, axis=0)
        m = m + 0.5 * tau * (first + damping_velocity(guess, big(guess), model.alpha))
        return m / np.linalg.norm(m, axis=0)

    n = damp(n, h / 2)
    half = _rotate(n, big(n) * scale, h / 2)
    n = _rotate(n, big(half) * scale, h)
    return damp(n, h / 2)


def _step(model, theta, phi, h, rng):
    """One step (Strang splitting): exact flow of Eq. (15) for h/2; the Eq. (17) noise in
    angles (reading "eq17"); the lab-frame isotropic noise, then the field and anisotropy
    terms; flow for h/2.  Weak order 1."""
    theta, phi = _half_flow(model, theta, phi, h / 2)
    if model.reading == "eq17" and model.C2 != 0:
        theta, phi = _eq17_noise(model, theta, phi, h, rng)
    magnet = model.magnet_on
    if model.tangent_diffusion > 0 or magnet:
        n = _unit(theta, phi)
        if model.tangent_diffusion > 0:
            n = _lab_noise(model, n, h, rng)
        if magnet:
            n = _magnet_flow(model, n, h)
        theta, phi = angles(n)
    return _half_flow(model, theta, phi, h / 2)


def _check_budget(times, n_samples: int, dt: float, chunk: int, grid) -> None:
    """Refuse an ensemble whose chunk and histograms the machine cannot hold; warn when it
    should take more than a minute (:mod:`fpstt.sphere.budget`)."""
    cells = 0 if grid is None else grid.n_theta * grid.n_phi
    check_memory(min(chunk, n_samples) * MC_BYTES_PER_TRAJECTORY + times.size * cells * 8,
                 f"a Monte Carlo chunk of {min(chunk, n_samples)} trajectories",
                 "lower `chunk`")
    steps = times[-1] / dt + times.size
    warn_time(n_samples * steps * MC_SECONDS_PER_STEP,
              f"the Monte Carlo ({n_samples} trajectories x {steps:.3g} steps)")


def simulate(model, gibbs: GibbsState, times, n_samples: int, *, dt: float = 1e-3,
             seed: int = 0, chunk: int = 100_000, grid: SphereGrid | None = None,
             progress: bool = False, checkpoint=None, resume: bool = False,
             threshold: float = 0.0, pulse=None) -> MonteCarloResult:
    """Run an ensemble of the Langevin equation of ``model`` from exact Gibbs samples.

    Parameters
    ----------
    model : SpinTorqueModel
        Its ``reading`` and ``interpretation`` choose the scheme (module docstring).
    gibbs : GibbsState
    times : sequence of float
        Output times, t_n; a time off the dt grid is reached by a shorter last step.
    n_samples : int
    dt : float
        Step, t_n.
    seed : int
        Seed of the ``numpy.random.SeedSequence``; chunk k uses its k-th spawned child.
    chunk : int
        Trajectories held in memory at once.
    grid : SphereGrid, optional
        If given, histograms on this grid are returned as (theta, phi) densities (in the
        grid's chart coordinates when it carries a Möbius chart).
    threshold : float
        Switched means n_z > threshold (for ``p_switch``).
    pulse : Pulse, optional
        Current pulse: the same piecewise-constant drive as
        :func:`fpstt.integration.driven.solve_pulse` (``model`` at full drive); None: constant drive.
    checkpoint : path, optional
        After every chunk, write the running sums to this ``.npz`` (atomically).
    resume : bool
        Continue from ``checkpoint`` with the next chunk; the result is bit-for-bit that of an
        uninterrupted run (chunk k always uses the k-th child stream of ``seed``).
    """
    times = check_times(times)
    if int(n_samples) != n_samples or n_samples < 2:
        raise ValueError(f"`n_samples` must be an integer ≥ 2, got {n_samples!r}")
    if not (dt > 0 and math.isfinite(dt)):
        raise ValueError(f"`dt` must be finite and > 0, got {dt!r}")
    if int(chunk) != chunk or chunk < 1:
        raise ValueError(f"`chunk` must be an integer ≥ 1, got {chunk!r}")
    _check_budget(times, n_samples, dt, chunk, grid)
    start = _time.perf_counter()
    pieces = pulse.segments(float(times[-1])) if pulse is not None else [(0.0, math.inf, 1.0)]
    drive = (np.array([b for _, b, _ in pieces]), [model.with_drive(s) for _, _, s in pieces])
    sums = _empty_sums(times.size, grid)
    sizes = [min(chunk, n_samples - k) for k in range(0, n_samples, chunk)]
    streams = np.random.SeedSequence(seed).spawn(len(sizes))
    signature = {"samples": str(n_samples), "dt": repr(dt), "seed": str(seed),
                 "chunk": str(chunk), "times": repr(times.tolist()), "model": repr(model),
                 "initial state": repr(gibbs), "pulse": repr(pulse),
                 "grid": repr(None if grid is None else grid.shape)}
    first, n_steps = 0, 0
    if resume:
        sums, record = read_checkpoint(checkpoint, signature, tuple(sums),
                                       "a Monte Carlo checkpoint")
        first, n_steps = record["next_chunk"], record["n_steps"]
    steps_before = n_steps                                   # a resumed run's own rate
    bar = tqdm(total=len(sizes), initial=first, disable=not (progress and sys.stderr.isatty()),
               desc="fpstt montecarlo", unit="chunk")
    for index in range(first, len(sizes)):
        rng = np.random.default_rng(streams[index])
        n_steps += _run_chunk(drive, gibbs, sizes[index], rng, times, dt, threshold, grid,
                              sums)
        bar.update(1)
        if checkpoint is not None:
            write_checkpoint(checkpoint, signature, sums,
                             {"next_chunk": index + 1, "n_steps": n_steps})
    bar.close()
    s1, s2, t2, t4 = sums["s1"], sums["s2"], sums["t2"], sums["t4"]
    switched, tau_sums = sums["switched"], sums["tau_sums"]
    hist = sums["hist"] if grid is not None else None
    mean = s1 / n_samples
    var = np.maximum(s2 / n_samples - mean ** 2, 0.0) * n_samples / (n_samples - 1)
    theta2 = t2 / n_samples
    theta2_var = np.maximum(t4 / n_samples - theta2 ** 2, 0.0)
    if hist is not None:
        hist /= n_samples * grid.cell_measure
    elapsed = _time.perf_counter() - start
    p_switch = switched / n_samples
    tau_mean = tau_sums[0] / n_samples
    tau_var = max(tau_sums[1] / n_samples - tau_mean ** 2, 0.0) * n_samples / (n_samples - 1)
    return MonteCarloResult(times, mean, np.sqrt(var), np.sqrt(var / n_samples), theta2,
                            np.sqrt(theta2_var / n_samples), p_switch,
                            switching_stderr(p_switch, n_samples), float(tau_mean),
                            math.sqrt(tau_var / n_samples), hist, grid, int(n_samples),
                            dict(dt=dt, seed=seed, chunk=chunk, reading=model.reading,
                                 interpretation=model.interpretation, wall_time_s=elapsed,
                                 trajectory_steps=n_steps,
                                 steps_per_second=(n_steps - steps_before)
                                 / max(elapsed, 1e-12)))


def _empty_sums(n_times: int, grid) -> dict:
    """The running sums of an ensemble at each output time: the components of n and their
    squares, theta^2 and theta^4, switched counts, the sums of min(tau, T) and its square,
    and the histogram on ``grid`` (an empty array without one)."""
    return {"s1": np.zeros((n_times, 3)), "s2": np.zeros((n_times, 3)),
            "t2": np.zeros(n_times), "t4": np.zeros(n_times), "switched": np.zeros(n_times),
            "tau_sums": np.zeros(2),
            "hist": np.zeros(0) if grid is None else np.zeros((n_times, *grid.shape))}


def _run_chunk(drive, gibbs, size: int, rng, times, dt: float, threshold: float, grid,
               sums) -> int:
    """Step ``size`` trajectories from Gibbs samples through ``times``, the drive piecewise
    constant (``drive`` = (ends of the pieces, the model of each)); add them to ``sums``
    (:func:`_empty_sums`) and return the trajectory steps taken.  The first-passage time
    tau is that of the first step that ends switched, interpolated linearly in n_z; it does
    not depend on the output times; it is 0 for a trajectory that starts switched."""
    ends, driven = drive
    theta, phi = angles(gibbs.sample(size, rng).T)
    horizon = times[-1]
    z = np.cos(theta)
    crossed = z > threshold                        # a start on the switched side: tau = 0
    tau = np.where(crossed, 0.0, horizon)
    t, n_steps = 0.0, 0
    for k, t_out in enumerate(times):
        while t < t_out - 1e-12:
            piece = min(int(np.searchsorted(ends, t + 1e-12, side="right")), len(ends) - 1)
            h = min(dt, t_out - t, ends[piece] - t)
            theta, phi = _step(driven[piece], theta, phi, h, rng)
            t += h
            n_steps += size
            z_old, z = z, np.cos(theta)
            new = ~crossed & (z > threshold)           # z_old ≤ threshold < z
            tau[new] = t - h * (z[new] - threshold) / (z[new] - z_old[new])
            crossed |= new
        _add_output(sums, k, theta, phi, threshold, grid)
    sums["tau_sums"] += [tau.sum(), (tau ** 2).sum()]
    return n_steps


def _add_output(sums, k: int, theta, phi, threshold: float, grid) -> None:
    """Add the ensemble at output k to ``sums`` (and to its histogram on ``grid``, in the
    grid's chart coordinates when it carries one)."""
    comp = _unit(theta, phi)
    sums["s1"][k] += comp.sum(axis=1)
    sums["s2"][k] += (comp ** 2).sum(axis=1)
    sums["t2"][k] += np.sum(theta ** 2)
    sums["t4"][k] += np.sum(theta ** 4)
    sums["switched"][k] += np.count_nonzero(comp[2] > threshold)
    if grid is not None:
        at = grid.chart.from_lab(theta, phi) if grid.chart is not None else (theta, phi)
        counts, _, _ = np.histogram2d(*at, bins=[grid.theta_edges, grid.phi_edges])
        sums["hist"][k] += counts
