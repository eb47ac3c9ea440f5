"""Runtime guards and checkpoints of the solver: health warnings, state save/restore.

Warnings are issued as ``RuntimeWarning`` and returned so that they can be recorded in a
result's diagnostics.  Checkpoints are ``.npz`` files written atomically.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..sphere.grid import SphereGrid
from ..analysis.checkpoint import read_checkpoint, write_checkpoint
from ..analysis.observables import moments
from ..flow.sizes import REMAP_TURN

__all__ = ["health_warnings", "save_checkpoint", "load_checkpoint", "max_cell_peclet",
           "pole_rows_mass", "cells_across", "TURNED_SPREAD"]

_ACROSS = 2.0                # cells across a remapped state's narrowest direction, at least

TURNED_SPREAD = 0.3
"""An attractor chart whose steps turn the flow by more than REMAP_TURN (1 rad) warns when
the state spreads wider than this (rad: the root of the summed variances of n) at an
output.  The directionally split remap follows such turns only near the chart's pole:
model-space seed 4 row 23 (no damping, 1.29 rad a step, a 0.06 rad start phase-mixed to
0.95) was 5.1 s.e. off Monte Carlo with no warning (4.6 at 1.0 rad a step, 2.8 at 0.65);
the states validated at 2.5-2.6 rad a step spread to 0.11-0.12 (seed 1 row 22, seed 3
row 8: within 1.9 and 2.7 s.e.; they now fold their shift, 1 rad a step)."""

POLE_ROWS_MASS = 3e-3
"""A sheared chart warns when more than this fraction of the mass lies in a pole cap and the
two (first-order) rows next to it.  Measured against the same run with the cap pushed to
u_min = -13: the std of n moved by 0.03-0.45 times that fraction, relative (model-space
seed 2 row 16: 8.0e-4 of the mass, 3.4e-4; seed 1 row 28: 1.5e-3, 6.7e-5; the latter at
du = 0.05: 1.8e-3, 4.4e-5, and 0.10, 5.2e-3), the means by < 1e-6; so 3e-3 bounds the std's
error by 1.5e-3, 0.7 standard errors of a Monte Carlo with N = 1e5.  (It was 1e-6, and every
state centred on its chart's pole warned.)"""


def save_checkpoint(path, signature, state):
    """Write a solver state (dict) atomically, tagged with the run's signature
    (:mod:`fpstt.analysis.checkpoint`).  Its ``memory`` (the numerics' own state) is JSON but
    for the BDF2 history ``prev``."""
    memory = dict(state.get("memory", {}))
    prev = memory.pop("prev", None)
    scalars = {k: v for k, v in state.items() if k not in ("x", "out", "masses", "memory")}
    out = (np.array(state["out"]).reshape(len(state["out"]), *state["x"].shape[:1], -1)
           if state["out"] else np.zeros(0))
    arrays = dict(x=state["x"], out=out, masses=np.array(state["masses"]),
                  prev=np.zeros(0) if prev is None else prev)
    write_checkpoint(path, signature, arrays, dict(scalars, memory=memory))


def load_checkpoint(path, signature: dict):
    """Read a state written by :func:`save_checkpoint`; refuse another run's checkpoint.

    ``signature`` maps each part of the run's definition (model, grid, scheme, times,
    initial state, ...) to a string; the message names the parts that differ.
    """
    data, record = read_checkpoint(path, signature, ("x", "masses", "out", "prev"),
                                   "a solver checkpoint")
    state = dict(record, x=data["x"], masses=list(data["masses"]),
                 out=list(data["out"]) if data["out"].size else [])
    if data["prev"].size:
        state["memory"]["prev"] = data["prev"]
    return state


def health_warnings(grid, p, diagnostics) -> list[str]:
    """Warn (and return the messages) on mass drift, negativity, or an unresolved state."""
    messages = []
    if diagnostics["max_mass_error"] > 1e-9 * abs(diagnostics["mass0"]):
        messages.append(f"mass drifted by {diagnostics['max_mass_error']:.2e}")
    peclet = diagnostics.get("max_cell_peclet")
    if peclet is not None and peclet > 2:
        messages.append(f"scheme '{diagnostics['scheme']}' upwinds the drift at cell Péclet "
                        f"numbers up to {peclet:.3g} (> 2): its numerical diffusion exceeds "
                        "the physical one and the result is not accurate; use a split scheme")
    residual = diagnostics.get("line_residual", 0.0)
    if residual > 0:
        messages.append(f"the implicit solves stopped at a residual of {residual:.1e} of their "
                        "right-hand sides; the result is not converged")
    pole = diagnostics.get("pole_rows_mass", 0.0)
    if diagnostics.get("chart") and diagnostics["chart"]["shear"] and pole > POLE_ROWS_MASS:
        messages.append(f"{pole:.1e} of the mass lies in the pole cap of the Möbius chart or "
                        "next to it, where the sheared discretisation is first order (the "
                        f"std of n may be off by up to {pole / 2:.1e}, relative); lower "
                        "u_min (or raise u_max)")
    turned = _turned_spread(grid, p, diagnostics)
    if turned is not None:
        messages.append(f"the state spreads over {turned[1]:.2f} rad while each step of its "
                        f"chart's remap turns the flow by {turned[0]:.2f} rad (> {REMAP_TURN:g}), "
                        f"validated only for states ≤ {TURNED_SPREAD:g} rad wide (model space "
                        f"seed 4 row 23: 0.95 rad, 1.29 rad a step, 5.1 s.e. off); refine du")
    if diagnostics["min_p_ratio_output"] < -1e-6:
        messages.append(f"p went negative (min p / max p = "
                        f"{diagnostics['min_p_ratio_output']:.2e}): refine n_phi or the step")
    for k, density in enumerate(p):
        cells = _cells_per_width(grid, density)
        if min(cells) < 2.0:
            messages.append(
                f"the density at output {k} spans only {cells[0]:.1f} theta cells and "
                f"{cells[1]:.1f} phi cells per standard deviation; refine "
                f"{'theta (more steps per t_n)' if cells[0] < cells[1] else 'phi (n_phi)'} "
                f"by a factor ≥ {2.0 / min(cells):.1f}")
            break
    if diagnostics.get("remapped") and grid.chart is None:
        for k, density in enumerate(p):
            across = cells_across(grid, density)
            if across < _ACROSS:
                messages.append(
                    f"the density at output {k} is {across:.1f} cells across its narrowest "
                    f"direction (< {_ACROSS:g}), and a remap smears so narrow a state at every "
                    f"step (model space seed 1 row 26: 1.2 cells across, std 11-17 % wide); "
                    f"refine du and n_phi by a factor ≥ {_ACROSS / across:.1f}")
                break
    for message in messages:
        warnings.warn(message, RuntimeWarning, stacklevel=3)
    return messages


def _turned_spread(grid, p, diagnostics):
    """(turn a step, widest spread of the outputs) of an attractor-chart run whose steps
    turn the flow by more than REMAP_TURN and whose state spreads beyond TURNED_SPREAD;
    else None."""
    plan = grid.plan
    if plan is None or plan.kind != "attractor" or not diagnostics.get("dt"):
        return None
    turn = plan.turn(float(diagnostics["dt"]))
    if turn <= REMAP_TURN:
        return None
    spread = float(np.max(np.sqrt(np.sum(moments(grid, np.asarray(p))[1] ** 2, axis=-1))))
    return (turn, spread) if spread > TURNED_SPREAD else None


def _cells_per_width(grid, p):
    """Standard deviation of the theta and phi marginals around the peak, in local cells."""
    m_t = p.sum(axis=1) * grid.dphi * grid.dtheta
    m_t = m_t / m_t.sum()
    mean_t = float(m_t @ grid.theta)
    sd_t = math.sqrt(max(float(m_t @ (grid.theta - mean_t) ** 2), 0.0))
    i = int(np.clip(np.searchsorted(grid.theta_edges, mean_t) - 1, 0, grid.n_theta - 1))
    m_f = (p * grid.dtheta[:, None]).sum(axis=0)
    m_f = m_f / m_f.sum()
    resultant = abs(np.sum(m_f * np.exp(1j * grid.phi)))
    sd_f = math.sqrt(-2 * math.log(max(resultant, 1e-300)))          # circular std
    return sd_t / grid.dtheta[i], sd_f / grid.dphi


def pole_rows_mass(grid: SphereGrid, outputs) -> float:
    """Largest fraction of the mass, over the outputs, in the cap and the two rows next to
    it at either pole of the grid (where the discretisation is first order)."""
    worst = 0.0
    for p in outputs:
        rows = np.abs(p).sum(axis=1) * grid.dtheta * grid.dphi
        worst = max(worst, float(max(rows[:3].sum(), rows[-3:].sum()) / rows.sum()))
    return worst


def max_cell_peclet(model, grid: SphereGrid, along_phi: bool = True) -> float:
    """Largest cell Péclet number |mu| h / D over the grid (theta and, if ``along_phi``, phi
    directions; a run that keeps only the phi-average mode has no phi transport).

    Above 2 the unsplit schemes' Scharfetter-Gummel fluxes are upwind: their numerical
    diffusion |mu| h / 2 exceeds the physical one and the answer is not accurate.  The
    geometric drift D_t cot(theta) of lab-smooth noise (:meth:`SpinTorqueModel.drift`) is
    left out: with it the flux is -D_t sin(theta) d/dtheta (p / sin(theta)), it carries the
    sin(theta) of the measure and transports nothing (near a pole it alone reaches
    Péclet ~ 2 on the first row, a warning about nothing).
    """
    theta, phi = np.meshgrid(grid.theta, grid.phi, indexing="ij")
    mu_t, mu_p = (np.broadcast_to(v, theta.shape) for v in model.drift(theta, phi))
    mu_t = mu_t - getattr(model, "tangent_diffusion", 0.0) / np.tan(theta)
    d_tt, _, d_pp = (np.broadcast_to(v, theta.shape) for v in model.diffusion(theta, phi))
    with np.errstate(divide="ignore", invalid="ignore"):
        pe_t = np.abs(mu_t) * grid.dtheta[:, None] / d_tt
        pe_p = np.abs(mu_p) * grid.dphi / d_pp
    pe = np.nan_to_num(np.maximum(pe_t, pe_p) if along_phi else pe_t, nan=0.0, posinf=np.inf)
    return float(np.max(pe))


def cells_across(grid, p) -> float:
    """Cells across the narrowest direction of a state (on a z'-frame grid; in the hemisphere
    about its densest cell): the std across it over the larger side of that cell.

    A flow that shears (an anisotropy's precession, whose rate depends on the orbit) draws
    a state into a filament whose std along it is large and across it small; the marginal
    stds of :func:`_cells_per_width` see the length alone.  The entropy area
    exp(H), H = -sum P ln(P / Omega) over cells (P their probabilities, Omega their solid
    angles), is 2 pi e sigma_1 sigma_2 for a Gaussian of stds sigma_1 ≥ sigma_2; sigma_1 is
    the largest std of n (the covariance's largest eigenvalue), so sigma_2 = exp(H) /
    (2 pi e sigma_1).  A state smeared by the grid has the larger H: the estimate errs
    toward more cells, never fewer than the grid's smearing leaves.
    """
    theta, phi = np.meshgrid(grid.theta, grid.phi, indexing="ij")
    n = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)])
    prob = np.maximum(np.asarray(p) * grid.cell_measure, 0.0)
    i, j = np.unravel_index(int(np.argmax(prob / grid.solid_angle)), prob.shape)
    # the hemisphere about the densest cell: one lobe of a bimodal state (two narrow round
    # lobes at +-e are no filament; seed 1 row 14 read 0.0 cells across with both)
    prob = np.where(np.einsum("kij,k->ij", n, n[:, i, j]) > 0, prob, 0.0)
    prob = prob / prob.sum()
    held = prob > 0
    area = math.exp(-float(np.sum(prob[held] * np.log(prob[held] / grid.solid_angle[held]))))
    mean = np.einsum("kij,ij->k", n, prob)
    cov = np.einsum("kij,lij,ij->kl", n, n, prob) - np.outer(mean, mean)
    widest = math.sqrt(max(float(np.linalg.eigvalsh(cov)[-1]), 1e-300))
    cell = max(grid.dtheta[i], math.sin(grid.theta[i]) * grid.dphi)
    return area / (2 * math.pi * math.e * widest) / cell
