"""The options shared by the ``fpstt`` subcommands (:mod:`fpstt.cli.commands`): each with a sentence
and its default."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from .checks import FIGURE, integer, join_negative_values, number
from ..runs.config import DEFAULTS, load_config
from ..physics.model import INTERPRETATIONS, READINGS, TORQUE_FORMS
from ..integration.stepping import SCHEMES

__all__ = ["Parser", "add_model_options", "add_run_options", "add_out", "add_json",
           "add_mc_options", "add_seed", "config_from_args", "overwriting", "MC_STEP"]


class Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"fpstt: error: {message}\n")

    def parse_known_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else args
        return super().parse_known_args(join_negative_values(list(args)), namespace)


def parse_times(text: str):
    try:
        times = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"`--times` must be comma-separated numbers, got {text!r}")
    if not times:
        raise argparse.ArgumentTypeError("`--times` needs at least one time, got none")
    if not all(math.isfinite(t) and t >= 0 for t in times) or any(
            b <= a for a, b in zip(times, times[1:])):
        raise argparse.ArgumentTypeError("`--times` must be finite, ≥ 0 and strictly "
                                         f"increasing, got {text}")
    return times


def add_model_options(p):
    """Options that choose the model and the output times (every solver)."""
    p.add_argument("--config", type=Path, help="TOML file with custom parameters "
                   "(docs/usage.md); default: the Table I preset")
    p.add_argument("--times", type=parse_times, help="output times in t_n, e.g. 0,0.33,0.67,1 "
                   f"(default {DEFAULTS['solve']['times']})")
    p.add_argument("--no-noise", action="store_true", help="C2 = 0 (noiseless flow, Eq. 15)")
    p.add_argument("--interpretation", choices=INTERPRETATIONS,
                   help="how Eq. 17 is read (default ito; stratonovich with --reading lab)")
    p.add_argument("--reading", choices=READINGS,
                   help="eq17: Eq. 17 as written; lab: isotropic lab-smooth noise "
                   "(default eq17)")
    p.add_argument("--torque-form", choices=TORQUE_FORMS,
                   help="with damping: gilbert puts the spin torque inside Gilbert's equation "
                   "(LLGS, as cmtj/MuMax3/OOMMF); rates adds Eq. 11 as written "
                   "(default gilbert; the same for alpha = 0)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--checkpoint", type=Path, help="checkpoint file (.npz), written as the "
                   "run goes (default: none)")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")


def add_run_options(p):
    """Model options plus the Fokker-Planck grid and scheme."""
    add_model_options(p)
    p.add_argument("--n-phi", type=int, help="phi cells (default 384; 256 in the Möbius chart "
                   "of a field kept on)")
    p.add_argument("--n-theta", type=int, help="approximate number of theta cells "
                   "(sets du: theta cells are uniform in U = ln tan(theta_c/2) of the "
                   "flow's chart; default du = 0.0184, 0.0092 in an attractor chart)")
    p.add_argument("--steps-per-unit", type=int,
                   help="time steps per t_n (instead of du; default: dt = du / flow rate)")
    p.add_argument("--scheme", choices=SCHEMES, help="time stepping (default split-tr-bdf2)")
    p.add_argument("--no-error-estimate", action="store_true",
                   help="skip the 2x coarser run that estimates the L1 error (default: run it)")


def add_out(p, default):
    p.add_argument("--out", type=Path, default=Path(default),
                   help=f"file to write (default {default})")
    suffix = Path(default).suffix
    p.set_defaults(out_suffixes={".npz": (".npz",), ".png": FIGURE}.get(suffix))


def add_json(p):
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def add_mc_options(p, n_samples=100_000):
    p.add_argument("--n-samples", type=integer(2), default=n_samples,
                   help=f"Monte Carlo trajectories (default {n_samples})")
    add_seed(p)
    p.add_argument("--dt", type=MC_STEP, default=0.01, help="MC step in t_n (default 0.01)")
    p.add_argument("--chunk", type=integer(1), default=100_000,
                   help="trajectories held in memory at once (default 100000)")


MC_STEP = number(0.0, 0.1, what=" t_n (the Monte Carlo's bias grows with its step)")


def add_seed(p, help="random seed (default 0)"):
    p.add_argument("--seed", type=integer(0), default=0, help=help)


def config_from_args(args):
    """The run configuration: --config (or the Table I preset) with the options given."""
    cfg = load_config(args.config)
    if getattr(args, "times", None):
        cfg.solve["times"] = args.times
    if getattr(args, "scheme", None):
        cfg.solve["scheme"] = args.scheme
    if getattr(args, "n_phi", None) is not None:
        cfg.grid["n_phi"] = args.n_phi
    if getattr(args, "steps_per_unit", None) is not None:
        cfg.grid["steps_per_unit"] = args.steps_per_unit
    if getattr(args, "no_noise", False):
        cfg.model["noise"] = False
    for key in ("interpretation", "reading", "torque_form"):
        if getattr(args, key, None):
            cfg.model[key] = getattr(args, key)
    if cfg.model["reading"] == "lab":
        if getattr(args, "interpretation", None) == "ito":
            raise ValueError("`--reading lab` is a Stratonovich SDE with lab-frame noise "
                             "fields; use --interpretation stratonovich or leave it out")
        cfg.model["interpretation"] = "stratonovich"
    if getattr(args, "n_theta", None) is not None:
        if args.n_theta < 8:
            raise ValueError(f"`--n-theta` must be ≥ 8, got {args.n_theta}")
        span = (cfg.grid["u_max"] or 3.5) - (cfg.grid["u_min"] or -9.0)
        cfg.grid["du"], cfg.grid["steps_per_unit"] = span / args.n_theta, None
    return cfg


def overwriting(path) -> None:
    """Say so (stderr) when an output file is about to replace an existing one."""
    if Path(path).exists():
        print(f"fpstt: replacing the existing {path}", file=sys.stderr)
