"""Command-line interface: ``fpstt SUBCOMMAND --help`` (also ``python -m fpstt``).

A thin argparse layer over the API.  Bad input prints one line on stderr and exits with 2.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

from .._version import __version__
from .checks import argv_or_default, integer, interrupted_note, preflight
from .options import (Parser, add_json, add_mc_options, add_model_options, add_out,
                          add_run_options, add_seed, config_from_args, overwriting)
from .switching import add_switching_parsers
from ..runs.config import load_config
from ..analysis.io import save, to_jsonable
from ..physics.constants import (ELECTRON_MASS, ELECTRON_MASS_TABLE_I, HBAR, HBAR_TABLE_I,
                        TABLE_I_PRINTED)
from ..physics.quantities import MAGNET_UNITS, magnet_quantities
from ..physics.microscopic import derived_coefficients, table_i
from ..runs.resolution import advice, coarsening_estimate
from ..integration.stepping import solve

__all__ = ["main"]


def _run(args):
    cfg = config_from_args(args)
    model = cfg.build_model()
    grid = cfg.build_grid(model)
    gibbs = cfg.build_gibbs()
    pulse = cfg.build_pulse()
    meta = {"config": cfg.to_dict(), "C1": model.C1, "C2": model.C2,
            "kappa": gibbs.kappa, "grid_shape": grid.shape}
    sol = solve(model, grid, gibbs.cell_averages(grid), cfg.solve["times"],
                scheme=cfg.solve["scheme"], pulse=pulse, progress=not args.quiet,
                checkpoint=args.checkpoint, resume=args.resume,
                checkpoint_every=getattr(args, "checkpoint_every", None), meta=meta)

    def runner(g, p0, times):                     # the same run on another grid
        return solve(model, g, p0, times, scheme=cfg.solve["scheme"], pulse=pulse)
    if not getattr(args, "no_error_estimate", True):
        estimate = coarsening_estimate(model, grid, gibbs.cell_averages, sol, runner)
        sol.diagnostics["error_estimate"] = estimate
        print(f"fpstt: {advice(estimate)}", file=sys.stderr)
    return cfg, model, gibbs, sol


def cmd_params(args):
    cfg = load_config(args.config)
    micro = cfg.micro
    if args.paper_constants:
        micro = replace(micro, hbar=HBAR_TABLE_I, m_e=ELECTRON_MASS_TABLE_I)
    d = derived_coefficients(micro)
    same_inputs = replace(micro, hbar=HBAR, m_e=ELECTRON_MASS) == table_i()
    printed = TABLE_I_PRINTED if same_inputs else {}
    out = {"t_up": d.t_up, "t_down": d.t_down, "C1": d.C1, "C2": d.C2,
           "delta_mu_spin_J": d.delta_mu_spin_J, "eps_F_J": d.eps_F_J, "kappa": d.kappa,
           "ou_variance": d.ou_variance, **magnet_quantities(micro, cfg.model["torque_form"])}
    constants = f"hbar = {micro.hbar:.6g} J s, m_e = {micro.m_e:.6g} kg"
    if args.json:
        print(json.dumps(to_jsonable(dict(out, constants=constants, paper=printed)), indent=2,
                         allow_nan=False))
        return 0
    units = {"delta_mu_spin_J": "J s / t_n", "eps_F_J": "J", "C1": "1/t_n",
             "C2": "1/sqrt(t_n)", "ou_variance": "rad^2", **MAGNET_UNITS}
    print(f"{'quantity':<20} {'fpstt':<26} {'Table I (paper)':<18} {'residual':<10} unit")
    for name, value in out.items():
        paper = printed.get(name)
        residual = "" if paper is None else f"{_largest_part(value - paper):.1e}"
        print(f"{name:<20} {_number(value, 5):<26} "
              f"{'' if paper is None else _number(paper, 3):<18} {residual:<10} "
              f"{units.get(name, '')}")
    print(f"constants: {constants}"
          + (" (the paper's rounded values)" if args.paper_constants else " (CODATA)"))
    return 0


def _number(value, digits: int) -> str:
    if isinstance(value, complex):
        return f"{value.real:.{digits}f} {value.imag:+.{digits}f}i"
    return f"{value:.{digits + 1}g}"


def _largest_part(z) -> float:
    """|residual| of a real number, the larger of the two parts' for a complex one."""
    return max(abs(complex(z).real), abs(complex(z).imag))


def cmd_solve(args):
    _, _, _, sol = _run(args)
    overwriting(args.out)
    path = save(sol, args.out)
    d = sol.diagnostics
    print(f"saved {path}: grid {sol.grid.shape}, {d['n_steps']} steps of {d['dt']:.4g} t_n, "
          f"solver {d['wall_time_s']:.2f} s, mass error {d['max_mass_error']:.1e}, "
          f"min p/max p {d['min_p_ratio_output']:.1e}")
    if d.get("held_from") is not None:
        print(f"fpstt: the state stopped moving at t = {d['held_from']:.3g} t_n and is held "
              f"(what stepping on would still change: <= {d['hold_bound']:.1e} in L1)", file=sys.stderr)
    return 0


def beyond_eq15(cfg) -> list[str]:
    """What in ``cfg`` acts during the dynamics besides the paper's Eq. 15 (a field, an
    anisotropy with its damping, Brown noise, a pulse); empty for the paper's flow."""
    m = cfg.model
    return [what for what, present in [
        ("a field kept on (field_on)", m["field_on"]),
        (f"an anisotropy (B_k = {cfg.micro.B_k:g} T)", cfg.micro.B_k),
        (f"a hard-axis anisotropy (B_d = {cfg.micro.B_d:g} T)", cfg.micro.B_d),
        ("Brown noise (thermal)", m["thermal"]),
        (f"Brown diffusion (thermal_D = {m['thermal_D']:g})", m["thermal_D"]),
        ("a [pulse]", cfg.build_pulse())] if present]


def paper_flow(cfg) -> bool:
    """True when the noiseless flow is the paper's Eq. 15 (no field, anisotropy, damping
    terms, Brown noise or pulse during the dynamics), so Eq. 16 is its pushforward."""
    return not beyond_eq15(cfg)


def cmd_fig4(args):
    import matplotlib
    matplotlib.use("Agg")
    from ..analysis.plotting import plot_fig4
    from ..physics.pushforward import pushforward_cell_averages
    cfg = config_from_args(args)
    if cfg.model["field_on"]:
        raise ValueError("fig4 is the paper's Fig. 4 (no field during the dynamics); "
                         "use `fpstt solve` with field_on")
    cfg, model, gibbs, sol = _run(args)
    refs = ([pushforward_cell_averages(gibbs, model.C1, sol.grid, t) for t in sol.times]
            if paper_flow(cfg) else None)          # Eq. 16 is the flow of Eq. 15 only
    return _save_figure(plot_fig4(sol, refs), args, f" ({len(sol.times)} panels, solver "
                        f"{sol.diagnostics['wall_time_s']:.2f} s)")


def cmd_fig3(args):
    import matplotlib
    matplotlib.use("Agg")
    from ..analysis.plotting import plot_components
    from ..physics.pushforward import flow, mean_trajectory
    cfg = load_config(args.config)
    if beyond_eq15(cfg):
        raise ValueError(f"fig3 is the paper's Fig. 3, the noiseless flow of Eq. 15 only; "
                         f"{args.config} has {', '.join(beyond_eq15(cfg))} during the "
                         "dynamics: use `fpstt fig5` or `fpstt switching`")
    model, gibbs = cfg.build_model(), cfg.build_gibbs()
    times = np.linspace(0, 1, 101)
    mean_q, std_q = mean_trajectory(gibbs, model.C1, times)
    n0 = gibbs.sample(args.n_samples, np.random.default_rng(args.seed))
    th0, ph0 = np.arccos(np.clip(n0[:, 2], -1, 1)), np.arctan2(n0[:, 1], n0[:, 0])
    mean_s = []
    for t in times:
        th, ph = flow(t, th0, ph0, model.C1)
        mean_s.append([np.mean(np.sin(th) * np.cos(ph)), np.mean(np.sin(th) * np.sin(ph)),
                       np.mean(np.cos(th))])
    fig = plot_components(times, {"quadrature of Eq. 16": (mean_q, None),
                                  f"{args.n_samples} Gibbs samples": (np.array(mean_s), None)},
                          title=r"Fig. 3: mean trajectory $\langle \vec J\rangle/J$ (noiseless flow)")
    args.no_noise = True                       # the flow drawn is noiseless: its note says so
    return _save_figure(fig, args)


def _save_figure(fig, args, note=""):
    from ..analysis.plotting import add_note
    add_note(fig, config_from_args(args).note())
    overwriting(args.out)
    fig.savefig(args.out, dpi=130)
    print(f"wrote {args.out}{note}")
    return 0


def cmd_montecarlo(args):
    from ..analysis.io import atomic_savez
    from ..runs.montecarlo import simulate
    cfg = config_from_args(args)
    model, gibbs = cfg.build_model(), cfg.build_gibbs()
    grid = cfg.build_grid(model)
    mc = simulate(model, gibbs, cfg.solve["times"], args.n_samples, dt=args.dt, seed=args.seed,
                  chunk=args.chunk, grid=grid, progress=not args.quiet,
                  checkpoint=args.checkpoint, resume=args.resume, pulse=cfg.build_pulse())
    meta = {"config": cfg.to_dict(), "n_samples": mc.n_samples, "n_phi": grid.n_phi,
            "chart": None if grid.chart is None else grid.chart.describe(),
            "diagnostics": mc.diagnostics, "fpstt_version": __version__}
    atomic_savez(args.out, times=mc.times, mean=mc.mean, std=mc.std, stderr=mc.stderr,
                 theta2=mc.theta2, theta2_stderr=mc.theta2_stderr, p_switch=mc.p_switch,
                 p_switch_stderr=mc.p_switch_stderr, hist=mc.hist,
                 theta_edges=grid.theta_edges, phi_edges=grid.phi_edges,
                 meta=np.array(json.dumps(to_jsonable(meta))))
    print(f"saved {args.out}: {mc.n_samples} trajectories, "
          f"{mc.diagnostics['steps_per_second']:.2e} trajectory-steps/s")
    return 0


def cmd_fig5(args):
    import matplotlib
    matplotlib.use("Agg")
    from ..runs.montecarlo import simulate
    from ..analysis.observables import moments
    from ..analysis.plotting import plot_fig5
    from ..physics.pushforward import mean_trajectory
    if not args.times and "times" not in load_config(args.config).given.get("solve", ()):
        args.times = list(np.linspace(0, 1, 41))           # the paper's: 41 times to t_n
    cfg, model, gibbs, sol = _run(args)
    mc = simulate(model, gibbs, sol.times, args.n_samples, dt=args.dt, seed=args.seed,
                  chunk=args.chunk, progress=not args.quiet, pulse=cfg.build_pulse())
    noiseless = (mean_trajectory(gibbs, model.C1, sol.times)[1] if paper_flow(cfg)
                 else None)                          # Eq. 16 is the flow of Eq. 15 only
    fig = plot_fig5(sol.times, moments(sol.grid, sol.p), mc, noiseless_std=noiseless,
                    n_samples=args.n_samples)
    return _save_figure(fig, args, f" ({len(sol.times)} times from {sol.times[0]:g} to "
                        f"{sol.times[-1]:g} t_n)")


def cmd_validate(args):
    from ..runs.checks import format_table, run_checks
    checks = run_checks(n_samples=args.n_samples, seed=args.seed)
    if args.json:
        print(json.dumps([c.as_dict() for c in checks], indent=2))
    else:
        print(format_table(checks))
    return 0 if all(c.passed for c in checks) else 1


def build_parser():
    parser = Parser(prog="fpstt", description="Fokker-Planck densities for the stochastic "
                     "spin-transfer torque (Tassi, Barbieri, Raimondi).")
    parser.add_argument("--version", action="version", version=f"fpstt {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("params", help="derived quantities of the Table I preset (or --config), "
                       "beside the values printed in the paper's Table I")
    add_json(p)
    p.add_argument("--paper-constants", action="store_true",
                   help="use the paper's rounded hbar = 1.06e-34 J s and m = 9.11e-31 kg, "
                   "which reproduce every printed digit of Table I (default: CODATA)")
    p.add_argument("--config", type=Path, help="TOML file (default: the Table I preset)")
    p.set_defaults(func=cmd_params)

    p = sub.add_parser("solve", help="solve the Fokker-Planck equation and save RESULT.npz")
    add_out(p, "result.npz")
    p.add_argument("--checkpoint-every", type=integer(1),
                   help="checkpoint every N steps (default: at output times only)")
    add_run_options(p)
    p.set_defaults(func=cmd_solve)

    p = sub.add_parser("fig4", help="Fig. 4: density contours, FP with noise vs pushforward")
    add_out(p, "fig4.png")
    add_run_options(p)
    p.set_defaults(func=cmd_fig4)

    p = sub.add_parser("fig3", help="Fig. 3: mean trajectory by quadrature and by sampling")
    add_out(p, "fig3.png")
    p.add_argument("--config", type=Path, help="TOML file (default: the Table I preset)")
    p.add_argument("--n-samples", type=integer(1), default=20000,
                   help="Gibbs samples (default 20000)")
    add_seed(p)
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_fig3)

    p = sub.add_parser("fig5", help="Fig. 5: mean ± std of J/J, Fokker-Planck and Monte Carlo")
    add_out(p, "fig5.png")
    add_run_options(p)
    add_mc_options(p, n_samples=20_000)
    p.set_defaults(func=cmd_fig5)

    p = sub.add_parser("montecarlo", help="Monte Carlo ensemble; saves MC.npz")
    add_out(p, "mc.npz")
    add_model_options(p)
    add_mc_options(p)
    p.set_defaults(func=cmd_montecarlo)

    add_switching_parsers(sub)

    p = sub.add_parser("validate", help="run the cross-checks; exit 1 if any fails")
    add_json(p)
    p.add_argument("--n-samples", type=integer(2), default=20_000,
                   help="Monte Carlo trajectories of the moment check (default 20000)")
    add_seed(p)
    p.set_defaults(func=cmd_validate)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(f"fpstt: warning: {message}", file=sys.stderr)


def _terminate(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    argv = argv_or_default(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warning
        try:
            preflight(args)
            return args.func(args)
        except BrokenPipeError:              # e.g. `fpstt validate --json | head`
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 0
        except (ValueError, TypeError, OSError, FloatingPointError, OverflowError) as exc:
            print(f"fpstt: error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:            # Ctrl-C, or SIGTERM (above)
            print(f"fpstt: {interrupted_note(args, argv)}", file=sys.stderr)
            return 130
        finally:
            if main_thread:
                signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
