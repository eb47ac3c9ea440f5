"""Model-space check (issue 23, item 6): every model fpstt accepts is fast and right, or
refused up front.

Seeded random valid models (:mod:`model_space_draw`) are loaded from TOML as ``fpstt solve
--config`` loads them and solved to 2 t_n on the default grid with the default scheme, as
``fpstt.cli.commands._run`` does, each in a subprocess with a wall-clock timeout.  Outcome: ok,
refused (a ValueError raised on purpose by fpstt), crashed (any other exception) or timed
out.  The means of n, its std (at the first output time, and while P_sw or 1 - P_sw < 1 %)
and P_sw = Prob(n_z > 0) are compared with fpstt's Monte Carlo at dt/2 (N samples); the MC
is run at dt too and the two must agree (``dt-check``); ``--mc-cache DIR`` keeps its
statistics in DIR under a hash of the model, N, the seed and the Monte Carlo's source, and
reuses them while all of these are unchanged.  ``--refine``: also against a solve
refined 2x in U, phi and t (``_common.refined_solve``; constant drive only).

A row is *warned* when fpstt said in numbers that it cannot vouch for the answer, as a user of
``fpstt solve --config`` sees it: a RuntimeWarning about the answer, or the error estimate that
the command prints by default (:func:`fpstt.runs.resolution.coarsening_estimate`, a 2x coarser
run; its own time is ``estimate_s``, not part of ``wall_s``) above its target of 1e-3 in L1.

Run:  python validation/model_space.py [--seed 1] [--count 30] [--timeout 30]
                                       [--n-mc 100000] [--refine] [--quick] [--in-plane]
                                       [--mc-cache DIR] [--only 2,4] [--name NAME]
Writes validation/results/model_space.json (after every model).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import math
import multiprocessing as mp
import time
import traceback
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np

import fpstt
from fpstt.runs.montecarlo import simulate
from fpstt.analysis.observables import moments
from fpstt.analysis.switching import switching_probability
from fpstt.runs.resolution import TARGET, coarsening_estimate
from _common import fourth_moments, refined_solve, std_stderr, write
from model_space_draw import TIMES, describe, draw_models, model_class, to_config

TABLE_I = {"solve": {"times": list(TIMES)}}


def _failure(exc: BaseException) -> dict:
    """``refused`` when the innermost error is a ValueError that fpstt raises on purpose
    (its frame is a ``raise`` line in fpstt), else ``crashed``; with the one-line message."""
    inner = exc
    while inner.__context__ is not None:
        inner = inner.__context__
    frames = traceback.extract_tb(inner.__traceback__)
    last = frames[-1] if frames else None
    on_purpose = (isinstance(inner, ValueError) and last is not None
                  and "fpstt" in last.filename and (last.line or "").lstrip().startswith("raise"))
    message = f"{type(exc).__name__}: {exc}".splitlines()[0]
    where = f"{Path(last.filename).name}:{last.lineno}" if last else "?"
    return {"outcome": "refused" if on_purpose else "crashed", "error": message[:300],
            "where": where}


def _observables(grid, p) -> dict:
    """Mean and std of n, P_sw, and the 4th central moments of n (cell-centre quadrature)."""
    mean, std = moments(grid, p)
    m4 = fourth_moments(grid, p, mean)
    return {"mean": mean, "std": std, "m4": m4, "p_sw": switching_probability(grid, p)}


def _solve_job(m: dict, refine: bool, conn) -> None:
    """Child process: load, build and solve ``m`` as ``fpstt solve`` does; sends ("class",
    name), ("done", result), ("estimate", the largest estimated L1 error or None) and, with
    ``refine``, ("refined", observables or None)."""
    grid = model = p0_of = pulse = sol = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        try:
            cfg = to_config(m)
            model = cfg.build_model()
            grid = cfg.build_grid(model)
            gibbs, pulse = cfg.build_gibbs(), cfg.build_pulse()
            conn.send(("class", model_class(model, grid, pulse)))
            p0_of, times = gibbs.cell_averages, cfg.solve["times"]
            sol = fpstt.solve(model, grid, p0_of(grid), times, scheme=cfg.solve["scheme"],
                              pulse=pulse)              # as fpstt solve's _run
            out = {"outcome": "ok", "wall_s": time.perf_counter() - start,
                   **_observables(grid, sol.p)}
            d = sol.diagnostics                       # the keys cmd_solve's summary reads
            try:
                _ = (d["n_steps"], d["dt"], d["wall_time_s"], d["max_mass_error"],
                     d["min_p_ratio_output"])
            except KeyError as exc:                   # a crash after the answer: still compared
                out.update(_failure(exc), error=f"KeyError {exc} in fpstt solve's summary line")
        except Exception as exc:                      # noqa: BLE001 - the outcome is recorded
            out = {**_failure(exc), "wall_s": time.perf_counter() - start}
        out["warnings"] = sorted({f"{w.category.__name__}: {w.message}"[:240] for w in caught})
    conn.send(("done", out))
    conn.send(("estimate", _estimate(model, grid, p0_of, sol, pulse, cfg.solve["scheme"])
               if out["outcome"] == "ok" else None))
    if refine:
        fine = None
        if out["outcome"] == "ok" and pulse is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fine_grid, fine_sol = refined_solve(model, grid, p0_of, TIMES)
            fine = _observables(fine_grid, fine_sol.p)
        conn.send(("refined", fine))


def _estimate(model, grid, p0_of, sol, pulse, scheme) -> dict:
    """``fpstt solve``'s error estimate of ``sol`` (the same runner): its largest L1 value
    and wall time."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimate = coarsening_estimate(
            model, grid, p0_of, sol,
            lambda g, p0, times: fpstt.solve(model, g, p0, times, scheme=scheme, pulse=pulse))
    return {"l1_estimate": max(estimate["estimate"]), "estimate_s": time.perf_counter() - start}


def run_fp(m: dict, timeout: float, refine: bool = False) -> dict:
    """Solve ``m`` in a subprocess; ``timeout`` s for the solve, as long again for its error
    estimate, 8x more for the refined one."""
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_solve_job, args=(m, refine, send), daemon=True)
    start = time.perf_counter()
    proc.start()
    send.close()
    result, deadline = {"class": "?"}, start + timeout
    while True:
        if not recv.poll(max(deadline - time.perf_counter(), 0)):
            if "outcome" not in result:
                result.update(outcome="timed out", wall_s=timeout, warnings=[])
            break
        try:
            kind, payload = recv.recv()
        except EOFError:
            proc.join(1)
            if "outcome" not in result:
                result.update(outcome="crashed", error=f"child exited ({proc.exitcode})",
                              wall_s=time.perf_counter() - start, warnings=[])
            break
        if kind == "class":
            result["class"] = payload
        elif kind == "done":
            result.update(payload)
            deadline = time.perf_counter() + timeout
        elif kind == "estimate":
            result.update(payload or {})
            if not refine:
                break
            deadline = time.perf_counter() + 8 * timeout
        else:
            result["refined"] = payload
            break
    if proc.is_alive():
        proc.kill()
    proc.join()
    return result


def mc_step(model) -> float:
    """The Monte Carlo step: 0.005 t_n, or 0.03 rad of the fastest magnet rate (the field's
    and anisotropy's Heun step) when that is shorter."""
    rate = (model.anisotropy + abs(model.hard_anisotropy)
            + (math.hypot(*model.omega) if model.omega else 0.0))
    return min(0.005, 0.03 / rate) if rate > 0 else 0.005


_MC_FIELDS = ("mean", "std", "stderr", "p_switch", "p_switch_stderr")
_MC_SOURCES = [Path(fpstt.__file__).parent / part for part in ("runs/montecarlo.py", "physics")]


def _mc_key(m: dict, n_mc: int, seed: int) -> str:
    """Hash of what a Monte Carlo run of ``m`` depends on: the model, N, the seed, the
    output times and the source of fpstt's Monte Carlo and physics modules."""
    digest = hashlib.sha256(json.dumps([m, n_mc, seed, list(TIMES)], sort_keys=True).encode())
    for source in _MC_SOURCES:
        for path in sorted(source.rglob("*.py")) if source.is_dir() else [source]:
            digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def monte_carlo(m: dict, n_mc: int, seed: int, cache: Path | None = None):
    """(MC at dt, MC at dt/2, dt) of ``m``: its statistics as namespaces, read from the
    folder ``cache`` when the same model, N, seed, times and Monte Carlo source ran before
    (the Fokker-Planck side is always solved afresh), else simulated (and kept there)."""
    path = None if cache is None else Path(cache) / f"{_mc_key(m, n_mc, seed)}.json"
    if path is not None and path.exists():
        saved = json.loads(path.read_text())
    else:
        cfg = to_config(m, grid=False)
        model, gibbs, pulse = cfg.build_model(), cfg.build_gibbs(), cfg.build_pulse()
        dt = mc_step(model)
        runs = [simulate(model, gibbs, TIMES, n_mc, dt=h, seed=seed + k, pulse=pulse)
                for k, h in enumerate((dt, dt / 2))]
        saved = {"dt": dt, "runs": [{**{f: np.asarray(getattr(r, f)).tolist()
                                        for f in _MC_FIELDS},
                                     "wall_s": r.diagnostics["wall_time_s"]} for r in runs]}
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(saved))
    coarse, fine = (SimpleNamespace(**{k: np.asarray(v) for k, v in r.items()})
                    for r in saved["runs"])
    return coarse, fine, saved["dt"]


def compare(m: dict, fp: dict, n_mc: int, seed: int, cache: Path | None = None) -> dict:
    """|z| of FP against Monte Carlo at dt/2 (mean, std, P_sw) and of MC(dt) against
    MC(dt/2); ``fp`` holds ``mean``, ``std``, ``p_sw`` at :data:`TIMES`."""
    coarse, mc, dt = monte_carlo(m, n_mc, seed, cache)
    floor = 1.0 / n_mc
    se_p = np.maximum(mc.p_switch_stderr, floor)
    one_sided = np.minimum(mc.p_switch, 1 - mc.p_switch) < 0.01
    one_sided[0] = True
    # standard errors of the MC mean and std: the larger of the MC's own and the one the FP
    # density implies (a tail of mass 1e-6 sets the std but no sample of N = 1e5 sees it)
    se_mean = np.maximum(mc.stderr, fp["std"] / math.sqrt(n_mc))
    # (the normal law's term at the larger std, the 4th-moment term at the FP's own std)
    se_std = np.maximum(std_stderr(np.maximum(mc.std, fp["std"]), fp["m4"], n_mc),
                        std_stderr(fp["std"], fp["m4"], n_mc))
    z = {"mean": np.abs(fp["mean"] - mc.mean) / np.maximum(se_mean, floor),
         "std": (np.abs(fp["std"] - mc.std) / np.maximum(se_std, floor))[one_sided],
         "p_sw": np.abs(fp["p_sw"] - mc.p_switch) / se_p}
    dt_z = max(float(np.max(np.abs(coarse.mean - mc.mean)
                            / np.maximum(np.hypot(coarse.stderr, mc.stderr), floor))),
               float(np.max(np.abs(coarse.p_switch - mc.p_switch)
                            / np.maximum(np.hypot(coarse.p_switch_stderr, se_p), floor))))
    out = {"max_z": max(float(np.max(v)) for v in z.values()),
           "z": {k: float(np.max(v)) for k, v in z.items()}, "mc_dt": dt, "mc_dt_z": dt_z,
           "mc_wall_s": float(coarse.wall_s + mc.wall_s),
           "mc": {"mean": mc.mean, "std": mc.std, "p_sw": mc.p_switch}}
    if fp.get("refined"):
        fine = fp["refined"]
        out["refine_z"] = max(float(np.max(np.abs(fp["mean"] - fine["mean"])
                                           / np.maximum(se_mean, floor))),
                              float(np.max(np.abs(fp["p_sw"] - fine["p_sw"]) / se_p)))
    return out


HEADER = (f"{'#':>3} {'class':<22} {'outcome':<9} {'wall s':>7} {'×T.I':>6} {'max z':>7} "
          f"{'dt z':>5} {'ref z':>6} {'L1 est':>7} {'warned':<6} model")


def row(k: int, r: dict, table_i_s: float) -> str:
    def num(key, fmt):
        v = r.get(key)
        return format(v, fmt) if v is not None else "-"
    ratio = r["wall_s"] / table_i_s if r.get("wall_s") else None
    return (f"{k:>3} {r['class']:<22.22} {r['outcome']:<9} {r['wall_s']:>7.1f} "
            f"{'-' if ratio is None else format(ratio, '.1f'):>6} {num('max_z', '.1f'):>7} "
            f"{num('mc_dt_z', '.1f'):>5} {num('refine_z', '.1f'):>6} "
            f"{num('l1_estimate', '.0e'):>7} {'yes' if r['warned'] else 'no':<6} {r['model']}")


def _about_the_answer(warning: str) -> bool:
    """A RuntimeWarning that bears on the answer: every one but the run-time estimate
    (:mod:`fpstt.sphere.budget`: "will take about"), which says nothing about accuracy."""
    return warning.startswith("RuntimeWarning") and "will take about" not in warning


def warned(r: dict) -> bool:
    """The row carries a warning about its answer in numbers (module docstring)."""
    return (any(_about_the_answer(w) for w in r.get("warnings", []))
            or r.get("l1_estimate", 0.0) > TARGET)


def _cheap(m: dict) -> bool:
    """No field kept on and no tilted easy axis (for --quick: the z' frame, with Brown
    noise and pulses)."""
    micro = m["microscopic"]
    return not (m["model"]["field_on"] or (micro.get("B_k") and micro["easy_theta"] != 0))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=30.0, help="s per solve")
    parser.add_argument("--n-mc", type=int, default=100_000, help="Monte Carlo samples")
    parser.add_argument("--refine", action="store_true", help="also a 2x refined solve")
    parser.add_argument("--quick", action="store_true", help="6 cheap models, N = 5000")
    parser.add_argument("--name", default="model_space", help="results/NAME.json")
    parser.add_argument("--mc-cache", type=Path, default=None, metavar="DIR",
                        help="keep and reuse Monte Carlo statistics in DIR")
    parser.add_argument("--only", type=lambda s: [int(k) for k in s.split(",")],
                        help="run only these model indices, e.g. 2,4")
    parser.add_argument("--in-plane", action="store_true",
                        help="also draw issue 25's hard axis and field-like torque")
    args = parser.parse_args(argv)
    models = draw_models(args.seed, args.count, args.in_plane)
    if args.quick:
        models = [m for m in draw_models(args.seed, 200) if _cheap(m)][:6]
        args.n_mc = min(args.n_mc, 5000)
    picked = range(len(models)) if args.only is None else args.only
    reference = run_fp(TABLE_I, args.timeout)
    table_i_s = reference["wall_s"]
    print(f"Table I default solve to 2 t_n: {reference['outcome']}, {table_i_s:.2f} s "
          f"(seed {args.seed}, N = {args.n_mc}, timeout {args.timeout:g} s)", flush=True)
    print(HEADER, flush=True)
    rows = []
    for k in picked:
        m = models[k]
        r = run_fp(m, args.timeout, args.refine)
        r["model"], r["config"] = describe(m), m
        r["warned"] = warned(r)
        if "mean" in r:                               # an answer (perhaps crashed after it)
            r.update(compare(m, r, args.n_mc, 1000 * args.seed + k, args.mc_cache))
        rows.append(r)
        print(row(k, r, table_i_s), flush=True)
        for line in [r.get("error")] + r.get("warnings", []):
            if line:
                print(f"      {line}", flush=True)
        with contextlib.redirect_stderr(io.StringIO()):     # quiet: rewritten per model
            write(args.name, {"seed": args.seed, "n_mc": args.n_mc, "timeout_s": args.timeout,
                              "times": TIMES, "table_i_s": table_i_s, "models": rows})
    outcomes = [r["outcome"] for r in rows]
    walls = [r["wall_s"] for r in rows]           # a timed-out row: its timeout, a lower bound
    late = outcomes.count("timed out")
    silent = sum(1 for r in rows if r.get("max_z", 0) > 4 and not r["warned"])
    by_estimate = sum(1 for r in rows
                      if r["warned"] and not warned(dict(r, l1_estimate=0.0)))
    no_mc = sum(1 for r in rows if "max_z" in r and not math.isfinite(r["max_z"]))
    print(f"\n{len(rows)} models: " + ", ".join(f"{outcomes.count(o)} {o}" for o in
                                                 ("ok", "refused", "crashed", "timed out"))
          + f"; {silent} off by > 4 s.e. without a warning ({by_estimate} warned by the "
          + f"error estimate alone); {no_mc} with a non-finite "
          + "Monte Carlo; median wall " + (f"{'≥ ' if late else ''}{np.median(walls):.1f} s "
                                           f"(timed-out rows at their {args.timeout:g} s)"
                                           if walls else "-"), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
