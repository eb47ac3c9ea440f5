"""Seeded random valid models for the model-space check (issue 23, item 6).

A model is a dict of configuration-file sections (``microscopic``, ``model``, ``initial``,
``pulse``, ``solve``), drawn over the ranges docs/usage.md documents; :func:`to_config`
turns it into a :class:`fpstt.runs.config.RunConfig` through a TOML file and
:func:`fpstt.runs.config.load_config`, the path ``fpstt solve --config`` takes, so the check
tests the default grid and scheme a user gets.  Not part of the package.
"""

from __future__ import annotations

import math
import os
import tempfile

import numpy as np

from fpstt.runs.config import RunConfig, load_config
from fpstt.physics.microscopic import table_i
from fpstt.sphere.grid import unit_vector

TABLE_I_NE = 1.5e5
TIMES = [0.5, 1.0, 1.5, 2.0]                 # output times, t_n (to 2 t_n)
TEMPERATURES = (3.0, 30.0, 300.0)            # Brown noise
AXES = ("field_on", "field_off", "alpha_zero", "alpha_on", "B_k", "easy_z", "easy_tilted",
        "thermal", "T_3", "T_30", "T_300", "n_e_zero", "n_e_weak", "n_e_strong", "gibbs",
        "vmf", "ito", "stratonovich", "eq17", "lab", "gilbert", "rates", "pulse",
        "pulse_ramped")
IN_PLANE_AXES = ("hard_axis", "field_like")   # issue 25's terms (draw_models(in_plane=True))
B_D_RANGE = (0.03, 1.0)                        # T, log-uniform: up to a thin film's mu0 M_s
BETA_RANGE = (-0.5, 0.5)                       # field-like ratio b_J / a_J


def _direction(rng):
    """(theta, phi) of a direction uniform on the sphere."""
    return float(np.arccos(rng.uniform(-1, 1))), float(rng.uniform(0, 2 * math.pi))


def draw_model(rng: np.random.Generator) -> dict:
    """One random valid model: a dict of configuration sections.

    Parameters
    ----------
    rng : numpy.random.Generator

    Returns
    -------
    dict
        Sections ``microscopic``, ``model``, ``initial``, ``solve`` and, for a pulse,
        ``pulse``, each a dict of configuration keys (docs/usage.md).
    """
    micro, model = {}, {}
    micro["B"] = 0.0 if rng.random() < 0.1 else float(rng.uniform(0.0, 0.1))
    micro["B_theta"], micro["B_phi"] = _direction(rng)
    model["field_on"] = bool(rng.random() < 0.5)
    micro["alpha"] = 0.0 if rng.random() < 0.25 else float(rng.uniform(0.0, 1.0))
    if rng.random() < 0.5:
        micro["B_k"] = float(rng.uniform(0.0, 0.5))
        micro["easy_theta"], micro["easy_phi"] = ((0.0, 0.0) if rng.random() < 1 / 3
                                                  else _direction(rng))
    model["thermal"] = bool(micro["alpha"] > 0 and rng.random() < 0.5)
    micro["T"] = float(rng.choice(TEMPERATURES if model["thermal"] else (1.0, *TEMPERATURES)))
    micro["n_e"] = 0.0 if rng.random() < 0.15 else TABLE_I_NE * 10 ** float(rng.uniform(-2, 1))
    model["reading"] = "lab" if rng.random() < 0.3 else "eq17"
    model["interpretation"] = ("stratonovich" if model["reading"] == "lab" or rng.random() < 0.5
                               else "ito")
    model["torque_form"] = str(rng.choice(["gilbert", "rates"]))
    if rng.random() < 0.6:
        initial = {"kind": "gibbs"}
    else:
        theta, phi = _direction(rng)
        initial = {"kind": "vmf", "theta": theta, "phi": phi,
                   "kappa": 10 ** float(rng.uniform(1.0, 3.5))}
    out = {"microscopic": micro, "model": model, "initial": initial,
           "solve": {"times": list(TIMES)}}
    if rng.random() < 0.25:
        width = float(rng.uniform(0.3, 1.5))
        ramps = rng.uniform(0.0, 0.2, 2) * (rng.random(2) < 0.5)
        out["pulse"] = {"width": width, "rise": float(ramps[0]), "fall": float(ramps[1])}
    return out


def draw_models(seed: int, count: int, in_plane: bool = False) -> list[dict]:
    """``count`` models from ``numpy.random.default_rng(seed)`` (reproducible).

    ``in_plane``: each model may also get issue 25's terms (:func:`add_in_plane_terms`),
    drawn from a second stream, ``default_rng([seed, 25])``, so that the rest of every
    model is the one drawn without them."""
    rng = np.random.default_rng(seed)
    models = [draw_model(rng) for _ in range(count)]
    if in_plane:
        extra = np.random.default_rng([seed, 25])
        for m in models:
            add_in_plane_terms(m, extra)
    return models


def add_in_plane_terms(m: dict, rng: np.random.Generator) -> None:
    """With probability 1/2 each, in place: a hard axis (``B_d`` log-uniform over
    :data:`B_D_RANGE`, its direction uniform on the circle perpendicular to the easy axis,
    z' when the model has none) and a field-like torque (``field_like_ratio`` uniform over
    :data:`BETA_RANGE`)."""
    micro = m["microscopic"]
    if rng.random() < 0.5:
        easy = unit_vector(micro.get("easy_theta", 0.0), micro.get("easy_phi", 0.0))
        a = np.cross(easy, np.eye(3)[int(np.argmin(np.abs(easy)))])
        a /= np.linalg.norm(a)
        turn = rng.uniform(0, 2 * math.pi)
        hard = math.cos(turn) * a + math.sin(turn) * np.cross(easy, a)
        micro["B_d"] = float(10 ** rng.uniform(*np.log10(B_D_RANGE)))
        micro["hard_theta"] = float(math.acos(max(-1.0, min(1.0, hard[2]))))
        micro["hard_phi"] = float(math.atan2(hard[1], hard[0]) % (2 * math.pi))
    if rng.random() < 0.5:
        micro["field_like_ratio"] = float(rng.uniform(*BETA_RANGE))


def axes_of(m: dict) -> set[str]:
    """The sampled axes (:data:`AXES`) a model exercises."""
    micro, model = m["microscopic"], m["model"]
    out = {"field_on" if model["field_on"] else "field_off",
           "alpha_on" if micro["alpha"] > 0 else "alpha_zero",
           m["initial"]["kind"], model["interpretation"], model["reading"],
           model["torque_form"]}
    if micro.get("B_k", 0) > 0:
        out |= {"B_k", "easy_z" if micro["easy_theta"] == 0 else "easy_tilted"}
    if model["thermal"]:
        out |= {"thermal", f"T_{micro['T']:.0f}"}
    ratio = micro["n_e"] / TABLE_I_NE
    out.add("n_e_zero" if ratio == 0 else "n_e_weak" if ratio < 1 else "n_e_strong")
    if "pulse" in m:
        out.add("pulse")
        if m["pulse"]["rise"] or m["pulse"]["fall"]:
            out.add("pulse_ramped")
    if micro.get("B_d", 0) > 0:
        out.add("hard_axis")
    if "field_like_ratio" in micro:
        out.add("field_like")
    return out


def describe(m: dict) -> str:
    """A short description, e.g. ``B.07@(31°,57°) on, α.40 gilbert, Bk.35@(31°,12°), ...``."""
    micro, model, init = m["microscopic"], m["model"], m["initial"]
    deg = math.degrees
    parts = [f"B{micro['B']:.3f}@({deg(micro['B_theta']):.0f}°,{deg(micro['B_phi']):.0f}°)"
             + (" on" if model["field_on"] else " off")]
    if micro["alpha"]:
        parts.append(f"α{micro['alpha']:.2f} {model['torque_form']}")
    if micro.get("B_k"):
        parts.append(f"Bk{micro['B_k']:.2f}@({deg(micro['easy_theta']):.0f}°,"
                     f"{deg(micro['easy_phi']):.0f}°)")
    if micro.get("B_d"):
        parts.append(f"Bd{micro['B_d']:.2f}@({deg(micro['hard_theta']):.0f}°,"
                     f"{deg(micro['hard_phi']):.0f}°)")
    if "field_like_ratio" in micro:
        parts.append(f"β{micro['field_like_ratio']:+.2f}")
    parts.append(f"T{micro['T']:g}" + (" Brown" if model["thermal"] else ""))
    parts.append(f"ne×{micro['n_e'] / TABLE_I_NE:.2g}")
    parts.append("ito" if model["interpretation"] == "ito" else
                 "lab" if model["reading"] == "lab" else "strat")
    if init["kind"] == "vmf":
        parts.append(f"vMF({deg(init['theta']):.0f}°,κ{init['kappa']:.0f})")
    if "pulse" in m:
        p = m["pulse"]
        parts.append(f"pulse {p['width']:.2f}/{p['rise']:.2f}/{p['fall']:.2f}")
    return ", ".join(parts)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(float(value))


def to_toml(m: dict) -> str:
    """The model as a configuration file (the text ``fpstt solve --config`` reads)."""
    return "".join(f"[{section}]\n" + "".join(f"{k} = {_toml_value(v)}\n"
                                             for k, v in values.items())
                   for section, values in m.items())


def to_config(m: dict, grid: bool = True):
    """The :class:`~fpstt.runs.config.RunConfig` of ``m``, loaded (and validated) from TOML by
    :func:`~fpstt.runs.config.load_config`; raises ValueError as the CLI would.

    ``grid=False`` skips the default grid that ``load_config`` builds to validate (seconds
    for an attractor chart) and checks the rest as it does: microscopic inputs, model,
    initial state and pulse.
    """
    if not grid:
        cfg = RunConfig(micro=table_i(**m["microscopic"]))
        for section, values in m.items():
            if section != "microscopic":
                getattr(cfg, section).update(values)
        cfg.build_model(), cfg.build_gibbs(), cfg.build_pulse()
        return cfg
    fd, path = tempfile.mkstemp(suffix=".toml", prefix="model_space_")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(to_toml(m))
        return load_config(path)
    finally:
        os.unlink(path)


def model_class(model, grid, pulse) -> str:
    """How fpstt treats the model: ``pulse``, ``Möbius chart`` (a field kept on),
    ``attractor chart`` (a tilted easy axis), ``z' axial`` (phi-independent), ``z' frame``
    (phi-dependent, no chart) or ``no drive``; with ``+Brown`` for Brown noise."""
    from fpstt.flow.flowplan import grid_plan
    if pulse is not None:
        kind = "pulse"
    elif grid.chart is not None:
        kind = "Möbius chart" if grid_plan(model, grid).mobius else "attractor chart"
    elif model.C1 == 0:
        kind = "no drive"
    else:
        kind = "z' axial" if model.phi_independent else "z' frame"
    return kind + (" +Brown" if model.thermal_D > 0 else "")
