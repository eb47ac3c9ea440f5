"""Run configuration: defaults (the Table I preset), TOML files and the objects they build.

A TOML file may hold the sections below; every key is optional and unknown keys are errors
(named with their line).  Example::

    [microscopic]          # SI inputs, see fpstt.physics.microscopic.Microscopic
    n_e = 2.0e5
    T = 3.0
    # B_d = 1.0              # hard-axis (easy-plane) anisotropy, T, along (hard_theta,
    #                        # hard_phi), perpendicular to the easy axis; 0: uniaxial
    # field_like_ratio = 0.3 # Re C1 = beta Im C1 (Eq. 11's C_F / C_D); absent: Eq. 14a's
    [model]
    interpretation = "ito"     # or "stratonovich"
    reading = "eq17"           # or "lab"
    noise = true               # false: C2 = 0 (the noiseless flow of Eq. 15)
    field_on = false           # keep B on during the dynamics
    thermal_D = 0.0            # Brown rotational diffusion, per t_n, by hand
    thermal = false            # Brown noise at T during the dynamics (needs alpha > 0)
    torque_form = "gilbert"    # spin torque inside Gilbert's equation (LLGS), or "rates"
    [pulse]                    # absent: constant drive
    width = 0.5                # t_n, including the ramps
    rise = 0.0
    fall = 0.0
    [initial]
    kind = "gibbs"             # exp(-E / k_B T) (Eq. 13); or "vmf" with theta, phi, kappa;
                               # or "well": exp(-E / k_B T) in the well holding (theta, phi)
    [grid]
    # du = 0.0184              # cell width in U = ln tan(theta_c/2) (the accuracy knob;
                               # default 0.0184, half that in an attractor chart)
    # n_phi = 384              # default 384, 256 in a Möbius chart (a field kept on)
    u_min = -9.0               # default -9 (a relaxation: pole caps half a cell wide)
    # u_max = 3.5              # default: covers the initial state (far cap <= 1e-14)
    # steps_per_unit = 300     # instead of du: dt <= 1/300 t_n and du = rate dt
    [solve]
    times = [0.0, 0.3333333333333333, 0.6666666666666666, 1.0]
    scheme = "split-tr-bdf2"
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields

from ..flow.flowplan import grid_plan, plan_flow
from ..physics.initial import initial_state
from ..physics.magnet import Pulse
from ..physics.microscopic import Microscopic, table_i
from ..physics.model import SpinTorqueModel
from ..integration.stepping import default_grid

__all__ = ["RunConfig", "load_config", "DEFAULTS"]

DEFAULTS = {
    "model": {"interpretation": "ito", "reading": "eq17", "noise": True, "field_on": False,
              "thermal_D": 0.0, "thermal": False, "torque_form": "gilbert"},
    "grid": {"du": None, "steps_per_unit": None, "n_phi": None, "u_min": None,
             "u_max": None},
    "solve": {"times": [0.0, 1 / 3, 2 / 3, 1.0], "scheme": None},
    "pulse": {"width": None, "rise": 0.0, "fall": 0.0},
    "initial": {"kind": "gibbs", "theta": None, "phi": None, "kappa": None},
}
_LARGEST_INT = 2 ** 53        # integers beyond this are no count or size anyone means
_TYPES = {"interpretation": str, "reading": str, "torque_form": str, "noise": bool, "field_on": bool,
          "thermal_D": (int, float), "steps_per_unit": int, "n_phi": int, "du": (int, float),
          "u_min": (int, float), "u_max": (int, float), "times": list, "scheme": (str, type(None)),
          "thermal": bool, "width": (int, float), "rise": (int, float), "fall": (int, float),
          "kind": str, "theta": (int, float), "phi": (int, float), "kappa": (int, float)}


@dataclass
class RunConfig:
    """Everything a run needs: microscopic inputs plus model, grid and solve options."""

    micro: Microscopic = field(default_factory=table_i)
    model: dict = field(default_factory=lambda: dict(DEFAULTS["model"]))
    grid: dict = field(default_factory=lambda: dict(DEFAULTS["grid"]))
    solve: dict = field(default_factory=lambda: dict(DEFAULTS["solve"]))
    pulse: dict = field(default_factory=lambda: dict(DEFAULTS["pulse"]))
    initial: dict = field(default_factory=lambda: dict(DEFAULTS["initial"]))
    given: dict = field(default_factory=dict)       # section -> the keys the file set
    _built: dict = field(default_factory=dict, repr=False, compare=False)

    def _memo(self, what: str, make, *of):
        """``make()``, kept and returned again while the configuration and ``of`` (compared
        by identity) are unchanged: a grid's plan follows the flow for seconds
        (:mod:`fpstt.flow.attractor`), and :func:`load_config` builds it to validate."""
        key = (what, repr(self.to_dict()), *map(id, of))
        if key not in self._built:
            self._built = {k: v for k, v in self._built.items() if k[1] == key[1]}
            self._built[key] = (make(), of)
        return self._built[key][0]

    def build_model(self) -> SpinTorqueModel:
        """The model of [microscopic] and [model] (the same object while they are unchanged)."""
        return self._memo("model", self._new_model)

    def _new_model(self) -> SpinTorqueModel:
        opts = dict(self.model)
        noise, field_on, thermal = opts.pop("noise"), opts.pop("field_on"), opts.pop("thermal")
        if thermal and opts["thermal_D"] == 0.0:
            opts.pop("thermal_D")
        model = SpinTorqueModel.from_microscopic(self.micro, field_on=field_on, thermal=thermal,
                                                 **opts)
        return model if noise else model.with_options(C2=0j)

    def build_gibbs(self):
        """The initial state ([initial]: exp(-E / k_B T) by default, or a vMF state)."""
        return initial_state(self.micro, **self.initial)

    def build_pulse(self) -> Pulse | None:
        """The current pulse of [pulse], or None (constant drive)."""
        if self.pulse["width"] is None:
            return None
        return Pulse(self.pulse["width"], self.pulse["rise"], self.pulse["fall"])

    def build_grid(self, model):
        """The default grid of ``model`` for this run (:func:`~fpstt.flow.flowgrid.default_grid`
        with [grid], the initial state and times; kept while nothing changes)."""
        return self._memo("grid", lambda: default_grid(
            model, self.solve["times"], initial=self.build_gibbs(),
            attractor=self.build_pulse() is None, **self.grid), model)

    def scheme(self, model, grid=None) -> str:
        """[solve] scheme, or else the default of the flow's plan (:mod:`fpstt.flow.flowplan`):
        ``grid``'s when given (:meth:`build_grid`), else made here."""
        chosen = self.solve["scheme"]
        if chosen is not None:
            return chosen
        return (plan_flow(model) if grid is None else grid_plan(model, grid)).scheme

    def note(self) -> str:
        """One line naming the model a figure shows."""
        m, micro, pulse = self.model, self.micro, self.build_pulse()
        extra = "".join([f", B_k = {micro.B_k:g} T" if micro.B_k else "",
                         f", B_d = {micro.B_d:g} T" if micro.B_d else "",
                         f", beta = {micro.field_like_ratio:g}"
                         if micro.field_like_ratio is not None else "",
                         f", alpha = {micro.alpha:g} ({m['torque_form']} torque)"
                         if micro.alpha else "",
                         ", Brown noise" if m["thermal"] else "",
                         f", pulse {pulse.width:g} t_n" if pulse else ""])
        return (f"model: {m['interpretation']}, {m['reading']} reading, "
                f"field {'on' if m['field_on'] else 'off'}, "
                f"noise {'on' if m['noise'] else 'off'}, "
                f"T = {micro.T:g} K, n_e = {micro.n_e:.3g} per t_n{extra}")

    def to_dict(self) -> dict:
        return {"microscopic": self.micro.to_dict(), "model": self.model, "grid": self.grid,
                "solve": self.solve, "pulse": self.pulse, "initial": self.initial}


def _line_of(text: str, section: str, key: str | None = None) -> int | None:
    """Line number of ``[section]`` (key None) or of ``key = ...`` inside it."""
    current = None
    for number, line in enumerate(text.splitlines(), 1):
        header = re.match(r"\s*\[\s*([^\]]+?)\s*\]", line)
        if header:
            current = header.group(1).strip('"')
            if key is None and current == section:
                return number
        elif key is not None and current == section and re.match(
                rf"\s*[\"']?{re.escape(key)}[\"']?\s*=", line):
            return number
    return None


def load_config(path=None) -> RunConfig:
    """Read a TOML run configuration (or the defaults when ``path`` is None).

    Raises ValueError naming the offending key and its line for unknown keys, wrong types
    and invalid values, and for malformed TOML.
    """
    cfg = RunConfig()
    if path is None:
        return cfg
    with open(path, "rb") as handle:
        text = handle.read().decode("utf-8", errors="replace")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: malformed TOML: {exc}") from None
    micro_keys = {f.name for f in fields(Microscopic)}
    for section, values in data.items():
        if not isinstance(values, dict):
            raise ValueError(f"{path}, line {_line_of(text, None, section) or '?'}: `{section}` "
                             "is outside any [section]; keys go in one of "
                             f"{sorted(['microscopic', *DEFAULTS])}")
        if section not in ("microscopic", *DEFAULTS):
            raise ValueError(f"{path}: unknown section [{section}] (line "
                             f"{_line_of(text, section) or '?'}); valid: "
                             f"{sorted(['microscopic', *DEFAULTS])}")
        valid = micro_keys if section == "microscopic" else set(DEFAULTS[section])
        for key, value in values.items():
            where = f"{path}, line {_line_of(text, section, key) or '?'}"
            if key not in valid:
                raise ValueError(f"{where}: unknown key `{key}` in [{section}]; valid: "
                                 f"{sorted(valid)}")
            kind = (int, float) if section == "microscopic" else _TYPES[key]
            if isinstance(value, bool) and kind is not bool:
                kind = ()
            if not isinstance(value, kind):
                raise ValueError(f"{where}: `{key}` has the wrong type "
                                 f"({type(value).__name__})")
            if isinstance(value, int) and abs(value) > _LARGEST_INT:
                raise ValueError(f"{where}: `{key}` = {value:.3g} is too large")
    try:
        cfg.micro = table_i(**data.get("microscopic", {}))
        for section in DEFAULTS:
            getattr(cfg, section).update(data.get(section, {}))
        cfg.given = {section: set(values) for section, values in data.items()}
        cfg.build_grid(cfg.build_model())           # validates every value now
        cfg.build_pulse()
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    return cfg
