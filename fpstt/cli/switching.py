"""The ``fpstt switching`` and ``fpstt sweep`` subcommands: write-error rates, switching
statistics and parameter sweeps (:mod:`fpstt.runs.wer`, :mod:`fpstt.runs.sweep`)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

from .checks import integer, number
from .options import (MC_STEP, add_json, add_out, add_seed, config_from_args, overwriting,
                          parse_times)
from ..analysis.io import to_jsonable
from ..physics.magnet import TORQUE_FORMS

__all__ = ["add_switching_parsers", "cmd_switching", "cmd_sweep"]


def _fp_switching(cfg, model, args, horizon, times):
    from ..runs.wer import switching_curve
    curve = switching_curve(model, cfg.build_gibbs(), horizon, threshold=args.threshold,
                            du=cfg.grid["du"], n_phi=cfg.grid["n_phi"],   # None: defaults
                            pulse=cfg.build_pulse(), progress=not args.quiet)
    stats = curve.statistics()
    return curve, dict(
        method="fp", times=times, p_switch=curve.p_switch_at(times), wer=curve.at(times),
        wer_floor=curve.floor, mean=stats["mean"], mean_complete=stats["mean_complete"],
        quantiles=stats["quantiles"], time_to_wer_1e9=curve.time_to(1e-9),
        diagnostics=curve.diagnostics)


def _mc_switching(cfg, model, gibbs, args, horizon, times):
    from ..runs.montecarlo import simulate
    grid_times = np.union1d(times, [0.0, horizon])
    mc = simulate(model, gibbs, grid_times, args.n_samples, dt=args.dt, seed=args.seed,
                  progress=not args.quiet, threshold=args.threshold, pulse=cfg.build_pulse())
    pick = np.searchsorted(grid_times, times)
    return None, dict(
        method="montecarlo", times=times, p_switch=mc.p_switch[pick],
        wer=1 - mc.p_switch[pick], stderr=mc.p_switch_stderr[pick],
        wer_floor=1 / args.n_samples, mean=mc.switch_time_mean,
        mean_stderr=mc.switch_time_stderr, mean_complete=bool(mc.p_switch[-1] == 1.0),
        diagnostics=mc.diagnostics)


def _print_switching(result, cfg, horizon, threshold):
    print(f"switching: n . z' > {threshold:g}; horizon {horizon:g} t_n; method "
          f"{result['method']}; reading {cfg.model['reading']}, {cfg.model['interpretation']}")
    mc = result["method"] == "montecarlo"
    print(f"{'t/t_n':>8}  {'P_sw':>10}  {'WER':>10}" + (f"  {'s.e.':>9}" if mc else ""))
    for k, t in enumerate(result["times"]):
        wer = result["wer"][k]
        shown = f"{wer:10.4e}" if wer > 0 else f"<{result['wer_floor']:9.1e}"
        extra = f"  {result['stderr'][k]:9.2e}" if mc else ""
        print(f"{t:8.4f}  {result['p_switch'][k]:10.6f}  {shown}{extra}")
    mean = f"{result['mean']:.5f}" + (f" ± {result['mean_stderr']:.5f}" if mc else "")
    note = "" if result["mean_complete"] else " (lower bound: not all switched by the horizon)"
    print(f"mean switching time E[min(tau, {horizon:g})]: {mean} t_n{note}")
    if not mc:
        q = ", ".join(f"q{k}: {v:.5f}" for k, v in result["quantiles"].items())
        print(f"switching-time quantiles (t_n): {q}")
        print(f"time to WER 1e-9: {result['time_to_wer_1e9']:.5f} t_n; WER floor "
              f"{result['wer_floor']:.1e} (below it WER is shown as < floor)")


def cmd_switching(args):
    requested, args.times = args.times, None          # printed times only: not the run's
    cfg = config_from_args(args)
    model, gibbs = cfg.build_model(), cfg.build_gibbs()
    horizon = float(args.horizon if args.horizon is not None else cfg.solve["times"][-1])
    times = np.asarray(requested if requested else np.linspace(0, horizon, 21), float)
    if np.any(times < 0) or np.any(times > horizon * (1 + 1e-12)):
        raise ValueError(f"`--times` must lie in [0, {horizon:g}] (the horizon)")
    if args.method == "fp":
        curve, result = _fp_switching(cfg, model, args, horizon, times)
    else:
        curve, result = _mc_switching(cfg, model, gibbs, args, horizon, times)
    if args.plot:
        _plot(curve, result, args.plot, cfg)
    if args.out:
        overwriting(args.out)
        full = dict(result, curve=None if curve is None else dict(t=curve.t, wer=curve.wer,
                                                                 p_switch=curve.p_switch))
        args.out.write_text(json.dumps(to_jsonable(dict(full, config=cfg.to_dict())),
                                       indent=1))
    if args.json:
        print(json.dumps(to_jsonable(result), indent=1))
    else:
        _print_switching(result, cfg, horizon, args.threshold)
    return 0


def _plot(curve, result, path, cfg):
    import matplotlib
    matplotlib.use("Agg")
    from ..analysis.plotting import add_note, plot_wer
    fig = plot_wer(curve if curve is not None else result)
    add_note(fig, cfg.note())
    overwriting(path)
    fig.savefig(path, dpi=130)


def cmd_sweep(args):
    import tomllib
    from ..runs.config import _line_of
    from ..runs.sweep import check_sweep, sweep
    text = args.config.read_text()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{args.config}: malformed TOML: {exc}") from None
    for name, values in data.items():
        if not isinstance(values, dict):
            raise ValueError(f"{args.config}, line {_line_of(text, None, name) or '?'}: "
                             f"`{name}` is outside any [section]; keys go in one of "
                             "['initial', 'model', 'options', 'sweep']")
    unknown = set(data) - {"sweep", "options", "model", "initial"}
    if unknown:
        name = sorted(unknown)[0]
        raise ValueError(f"{args.config}: unknown section [{name}] (line "
                         f"{_line_of(text, name) or '?'}); valid: ['initial', 'model', 'options', 'sweep']")
    options = dict(data.get("options", {}))
    valid = {"times", "threshold", "du", "n_phi"}
    for key in options:
        if key not in valid:
            raise ValueError(f"{args.config}, line {_line_of(text, 'options', key) or '?'}: "
                             "unknown key "
                             f"`{key}` in [options]; valid: {sorted(valid)}")
    times = options.pop("times", [1.0])
    if args.plot and not data.get("sweep"):
        raise ValueError(f"{args.config}: `--plot` needs a [sweep] section naming the "
                         "parameters to plot against")
    try:
        points = check_sweep(data.get("sweep", {}), times, model_options=data.get("model", {}),
                             initial=data.get("initial"), workers=_workers(args), **options)
    except ValueError as exc:
        raise ValueError(f"{args.config}: {exc}") from None
    rows = sweep(points, times, executor="dask" if args.scheduler else args.executor,
                 workers=args.workers, scheduler=args.scheduler, csv_path=args.out,
                 model_options=data.get("model", {}), initial=data.get("initial"), **options)
    failed = [r for r in rows if r["status"] != "ok"]
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        from ..analysis.plotting import add_note, plot_sweep
        varied = [k for k, v in data["sweep"].items() if len(v) > 1]    # fixed ones: no axis
        fig = plot_sweep(rows, varied or list(data["sweep"]), times)
        model = {"interpretation": "ito", "reading": "eq17", **data.get("model", {})}
        fixed = [f"{k} = {v[0]:g}" for k, v in data["sweep"].items() if len(v) == 1]
        add_note(fig, "model: " + ", ".join(f"{k} {v}" for k, v in model.items())
                 + f"; threshold {options.get('threshold', 0.0):g}; "
                 + ", ".join(fixed + ["other inputs: Table I"]))
        overwriting(args.plot)
        fig.savefig(args.plot, dpi=130)
    print(f"{len(rows)} points ({len(failed)} failed) -> {args.out}")
    for r in failed:
        print(f"failed: {r['key']}: {r['error']}", file=sys.stderr)
    return 1 if failed else 0


def _workers(args) -> int:
    """Processes the sweep's points share (for its time estimate)."""
    if args.scheduler or args.executor == "serial":
        return 1
    return args.workers or os.cpu_count() or 1


def add_switching_parsers(sub):
    """The ``switching`` and ``sweep`` subcommands."""
    p = sub.add_parser("switching", help="write-error rate WER(t) and switching-time "
                       "statistics (default: the Table I preset)")
    p.add_argument("--config", type=Path, help="TOML file (default: the Table I preset)")
    p.add_argument("--times", type=parse_times, help="times (t_n) at which to print P_sw and "
                   "WER; they do not change the result (default: 21 from 0 to the horizon)")
    p.add_argument("--horizon", type=number(0.0), help="last time of the run, t_n (default: the "
                   "last of the config's times, 1 for Table I)")
    p.add_argument("--threshold", type=number(-1.0, 1.0, closed_high=False), default=0.0,
                   help="switched means n . z' > threshold (default 0)")
    p.add_argument("--method", choices=("fp", "montecarlo"), default="fp",
                   help="Fokker-Planck curve or Monte Carlo with standard errors (default fp)")
    p.add_argument("--n-samples", type=integer(2), default=100_000,
                   help="Monte Carlo trajectories (default 100000)")
    add_seed(p, help="Monte Carlo seed (default 0)")
    p.add_argument("--dt", type=MC_STEP, default=0.005, help="Monte Carlo step, t_n "
                   "(default 0.005)")
    p.add_argument("--interpretation", choices=("ito", "stratonovich"),
                   help="how Eq. 17 is read (default ito; stratonovich with --reading lab)")
    p.add_argument("--reading", choices=("eq17", "lab"), help="eq17: Eq. 17 as written; "
                   "lab: isotropic lab-smooth noise (default eq17)")
    p.add_argument("--torque-form", choices=TORQUE_FORMS,
                   help="with damping: gilbert (LLGS, default) or rates (Eq. 11 as written)")
    p.add_argument("--no-noise", action="store_true", help="C2 = 0 (the noiseless flow)")
    p.add_argument("--out", type=Path, help="JSON file with the full curve (default: none)")
    p.add_argument("--plot", type=Path, help="log-scale WER figure (default: none)")
    add_json(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_switching)

    p = sub.add_parser("sweep", help="switching probability over a grid of parameters")
    p.add_argument("--config", type=Path, required=True, help="SWEEP.toml (docs/usage.md)")
    add_out(p, "sweep.csv")
    p.add_argument("--plot", type=Path, help="figure of P_sw against the swept parameters "
                   "(default: none)")
    p.add_argument("--executor", choices=("serial", "processes"), default="processes",
                   help="where the points run (default processes)")
    p.add_argument("--workers", type=integer(1), help="local processes (default: all cores)")
    p.add_argument("--scheduler", help="Dask scheduler address (needs fpstt[dask]; "
                   "default: none)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_sweep)
