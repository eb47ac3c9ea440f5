"""Failure modes: clear errors, runtime guards, nothing lost, properties for any model."""

import json
import math
import string
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fpstt
import fpstt.runs.montecarlo as mc_module
import fpstt.integration.implicit as implicit
from fpstt.numerics.transport import Shift
from fpstt.cli import main
from fpstt.runs.montecarlo import simulate
from fpstt.numerics.operator import stationary_density

SETTINGS = settings(max_examples=20, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


class RandomModel:
    """Duck-typed model: smooth random drift, diffusion with optional mixed term."""

    def __init__(self, a, b, c, d_t, d_p, d_x, omega_p=0.0):
        self.a, self.b, self.c = a, b, c
        self.d_t, self.d_p, self.d_x, self.omega_p = d_t, d_p, d_x, omega_p

    def drift(self, theta, phi=0.0):
        theta, phi = np.broadcast_arrays(np.asarray(theta, float), np.asarray(phi, float))
        return (self.a * np.sin(theta) + self.b * np.sin(theta) * np.cos(phi),
                self.c + self.omega_p * np.cos(theta))

    def diffusion(self, theta, phi=0.0):
        theta, _ = np.broadcast_arrays(np.asarray(theta, float), np.asarray(phi, float))
        s = np.sin(theta)
        return (self.d_t + 0 * s, self.d_x * s, self.d_p / s ** 2)


coefficient = st.floats(-5, 5, allow_nan=False)
positive = st.floats(1e-3, 2.0)


@SETTINGS
@given(a=coefficient, b=coefficient, c=coefficient, d_t=positive, d_p=positive,
       d_x=st.floats(-0.5, 0.5), n_t=st.integers(4, 24), n_f=st.integers(4, 16))
def test_operator_conserves_mass_for_any_model(a, b, c, d_t, d_p, d_x, n_t, n_f):
    d_x = d_x * math.sqrt(d_t * d_p)                  # keep D positive semi-definite
    grid = fpstt.SphereGrid.uniform(n_t, n_f)
    L = fpstt.fokker_planck_matrix(RandomModel(a, b, c, d_t, d_p, d_x), grid)
    w = grid.cell_measure.ravel()
    scale = np.abs(L.multiply(w[:, None])).max()
    assert np.max(np.abs(w @ L)) <= 1e-13 * scale


@SETTINGS
@given(a=coefficient, b=coefficient, c=coefficient, d_t=positive, d_p=positive,
       n_t=st.integers(4, 20), n_f=st.integers(4, 12), dt=st.floats(1e-3, 1.0))
def test_backward_euler_keeps_p_nonnegative(a, b, c, d_t, d_p, n_t, n_f, dt):
    model = RandomModel(a, b, c, d_t, d_p, 0.0)
    grid = fpstt.SphereGrid.uniform(n_t, n_f)
    p0 = fpstt.GibbsState(4.0, 1.0, 0.5).cell_averages(grid)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = fpstt.solve(model, grid, p0, [dt, 3 * dt], scheme="be", dt=dt, fast=False)
    assert sol.diagnostics["monotone"]
    assert sol.p.min() >= -1e-12 * sol.p.max()
    np.testing.assert_allclose(sol.mass, 1.0, atol=1e-12)


@SETTINGS
@given(a=coefficient, c=coefficient, d_t=positive, d_p=positive, n_t=st.integers(6, 24))
def test_stationary_solution_is_a_density(a, c, d_t, d_p, n_t):
    grid = fpstt.SphereGrid.uniform(n_t, 8)
    p = stationary_density(RandomModel(a, 0.0, c, d_t, d_p, 0.0), grid)
    assert p.min() >= -1e-10 * p.max()
    assert grid.integrate(p) == pytest.approx(1.0, abs=1e-10)


@SETTINGS
@given(n_t=st.integers(3, 12), n_f=st.integers(4, 10), n_times=st.integers(1, 4),
       seed=st.integers(0, 2 ** 32 - 1))
def test_save_load_round_trip_is_exact(tmp_path, n_t, n_f, n_times, seed):
    rng = np.random.default_rng(seed)
    grid = fpstt.SphereGrid.uniform(n_t, n_f)
    sol = fpstt.Solution(grid, np.cumsum(rng.random(n_times)), rng.random((n_times, n_t, n_f)),
                         rng.random(n_times), {"scheme": "be", "x": 1.5}, {"note": "r"})
    path = tmp_path / f"r{seed}.npz"
    fpstt.save(sol, path)
    back = fpstt.load(path)
    np.testing.assert_array_equal(back.p, sol.p)
    np.testing.assert_array_equal(back.times, sol.times)
    np.testing.assert_array_equal(back.grid.theta_edges, grid.theta_edges)
    assert back.diagnostics == sol.diagnostics and back.meta["note"] == "r"


toml_key = st.text(string.ascii_lowercase + "_", min_size=1, max_size=12)
toml_value = st.one_of(st.integers(-10, 10), st.floats(allow_nan=False, allow_infinity=False),
                       st.text(string.ascii_letters, max_size=6).map(repr), st.booleans().map(
                           lambda b: str(b).lower()))


@SETTINGS
@given(section=st.sampled_from(["microscopic", "model", "grid", "solve", "nonsense"]),
       key=toml_key, value=toml_value, garbage=st.booleans())
def test_malformed_configs_exit_2_without_traceback(tmp_path, capsys, section, key, value,
                                                    garbage):
    valid = {"microscopic": fpstt.Microscopic.__dataclass_fields__,
             "model": fpstt.runs.config.DEFAULTS["model"], "grid":
             fpstt.runs.config.DEFAULTS["grid"], "solve": fpstt.runs.config.DEFAULTS["solve"]}
    if section in valid and key in valid[section]:
        key = key + "_x"                                      # always unknown
    text = f"[{section}]\n{key} = {value}\n" + ("= = =\n" if garbage else "")
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code = main(["params", "--config", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("fpstt: error:") and "Traceback" not in err and err.count("\n") == 1


INVALID = [["--n-phi", "abc"], ["--n-phi", "2"], ["--times", "0,-1"], ["--times", "x"],
           ["--scheme", "rk4"], ["-x"], ["--steps-per-unit", "0"], ["--n-theta", "2"],
           ["--interpretation"], ["--reading", "vector"], ["--config", "/nonexistent.toml"]]
VALID = [["--n-phi", "16"], ["--times", "0.1"], ["--quiet"], ["--no-noise"],
         ["--steps-per-unit", "30"]]


@SETTINGS
@given(bad=st.lists(st.sampled_from(INVALID), min_size=1, max_size=3),
       good=st.lists(st.sampled_from(VALID), max_size=3), data=st.randoms())
def test_malformed_cli_arguments_exit_2(capsys, bad, good, data):
    pieces = bad + good
    data.shuffle(pieces)
    args = [token for piece in pieces for token in piece]
    try:
        code = main(["solve", "--out", "/dev/null/x.npz", "--quiet", *args])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and err.strip()


def test_nonfinite_coefficients_are_rejected():
    class Broken(RandomModel):
        def diffusion(self, theta, phi=0.0):
            d_tt, d_tp, d_pp = super().diffusion(theta, phi)
            return np.where(theta > 2.0, np.nan, d_tt), d_tp, d_pp

    grid = fpstt.SphereGrid.uniform(12, 8)
    with pytest.raises(ValueError, match=r"D_theta_theta is not finite at theta = 2.2"):
        fpstt.fokker_planck_matrix(Broken(1, 0, 0, 0.1, 0.1, 0), grid)


def test_nonfinite_state_stops_with_step_and_time():
    """Anti-diffusion (D < 0, not a valid model) under Crank-Nicolson grows until overflow."""
    grid = fpstt.SphereGrid.uniform(12, 8)
    p0 = fpstt.GibbsState(2.0, 1.0, 0.0).cell_averages(grid)
    with pytest.raises(FloatingPointError, match=r"non-finite at step \d+ \(t = [0-9.]+ t_n\)"):
        with np.errstate(all="ignore"):
            fpstt.solve(RandomModel(0, 0, 0, -5.0, -5.0, 0), grid, p0, [40.0], scheme="cn",
                        dt=0.01, fast=False)


def test_negativity_and_resolution_guards_warn_and_record(table_i_model, table_i_gibbs):
    grid = fpstt.default_grid(table_i_model, [0.5], steps_per_unit=12, n_phi=16)
    with pytest.warns(RuntimeWarning, match="p went negative"):
        sol = fpstt.solve(table_i_model, grid, table_i_gibbs.cell_averages(grid), [0.5])
    assert any("negative" in m for m in sol.diagnostics["warnings"])
    assert any("spans only" in m and "refine" in m for m in sol.diagnostics["warnings"])


def test_interrupted_write_leaves_no_file(tmp_path, monkeypatch):
    grid = fpstt.SphereGrid.uniform(4, 4)
    sol = fpstt.Solution(grid, np.array([0.0]), np.ones((1, 4, 4)), np.ones(1))
    target = tmp_path / "r.npz"

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", boom)
    with pytest.raises(KeyboardInterrupt):
        fpstt.save(sol, target)
    assert not target.exists() and list(tmp_path.iterdir()) == []


def _interrupt_after(monkeypatch, module, name, calls):
    original, count = getattr(module, name), {"n": 0}

    def wrapper(*args, **kwargs):
        count["n"] += 1
        if count["n"] > calls:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return original


def test_solve_resume_is_bit_identical(tmp_path, monkeypatch, table_i_model, table_i_gibbs):
    times = [0.25, 0.5]
    grid = fpstt.default_grid(table_i_model, times, steps_per_unit=60, n_phi=64)
    p0 = table_i_gibbs.cell_averages(grid)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = fpstt.solve(table_i_model, grid, p0, times, checkpoint_every=7)
        check = tmp_path / "ck.npz"
        original = _interrupt_after(monkeypatch, Shift, "__call__", 20)
        with pytest.raises(KeyboardInterrupt):
            fpstt.solve(table_i_model, grid, p0, times, checkpoint=check, checkpoint_every=7)
        monkeypatch.setattr(Shift, "__call__", original)
        resumed = fpstt.solve(table_i_model, grid, p0, times, checkpoint=check,
                              checkpoint_every=7, resume=True)
    np.testing.assert_array_equal(resumed.p, full.p)
    assert resumed.diagnostics["n_steps"] == full.diagnostics["n_steps"]
    with pytest.raises(ValueError, match="different run"):
        fpstt.solve(table_i_model, grid, p0, [0.5], checkpoint=check, checkpoint_every=7,
                    resume=True)


def test_montecarlo_resume_is_bit_identical(tmp_path, monkeypatch, table_i_model, table_i_gibbs):
    kw = dict(dt=0.02, seed=8, chunk=500)
    full = simulate(table_i_model, table_i_gibbs, [0.2], 2000, **kw)
    check = tmp_path / "mc.npz"
    original = _interrupt_after(monkeypatch, mc_module, "_step", 25)
    with pytest.raises(KeyboardInterrupt):
        simulate(table_i_model, table_i_gibbs, [0.2], 2000, checkpoint=check, **kw)
    monkeypatch.setattr(mc_module, "_step", original)
    resumed = simulate(table_i_model, table_i_gibbs, [0.2], 2000, checkpoint=check,
                       resume=True, **kw)
    np.testing.assert_array_equal(resumed.mean, full.mean)
    np.testing.assert_array_equal(resumed.std, full.std)


def test_cli_solve_checkpoint_and_resume(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    quick = ["--steps-per-unit", "30", "--n-phi", "32", "--quiet", "--times", "0.5,1"]
    assert main(["solve", "--out", "a.npz", "--checkpoint", "c.npz", "--checkpoint-every",
                 "5", *quick]) == 0
    assert main(["solve", "--out", "b.npz", "--checkpoint", "c.npz", "--checkpoint-every",
                 "5", "--resume", *quick]) == 0
    np.testing.assert_array_equal(fpstt.load("a.npz").p, fpstt.load("b.npz").p)


def test_mass_drift_guard_warns():
    from fpstt.integration.guards import health_warnings
    grid = fpstt.SphereGrid.uniform(32, 32)                   # resolves the state
    p = fpstt.GibbsState(1.0, 1.0, 0.0).cell_averages(grid)[None]
    diagnostics = {"max_mass_error": 1e-6, "mass0": 1.0, "min_p_ratio_output": 0.0}
    with pytest.warns(RuntimeWarning, match="mass drifted by 1.00e-06"):
        messages = health_warnings(grid, p, diagnostics)
    assert messages == ["mass drifted by 1.00e-06"]


@pytest.mark.parametrize("field_on, scheme", [(False, "split-tr-bdf2"), (True, "split-tr-bdf2"),
                                              (False, "bdf2")])
def test_checkpoints_only_observe(tmp_path, monkeypatch, field_on, scheme):
    """Issue 24 item 13: a run with checkpoints (every 3 steps) is bit for bit the run
    without, and so is one resumed from a checkpoint taken in the middle of a segment."""
    model = fpstt.SpinTorqueModel.from_microscopic(fpstt.table_i(), field_on=field_on)
    gibbs = fpstt.GibbsState.from_microscopic(fpstt.table_i())
    times = [0.1, 0.2]
    grid = fpstt.default_grid(model, times, initial=gibbs, du=0.05, n_phi=48)
    p0, check = gibbs.cell_averages(grid), tmp_path / "ck.npz"
    kw = dict(scheme=scheme, dt=0.01 if scheme == "bdf2" else None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = fpstt.solve(model, grid, p0, times, **kw)
        observed = fpstt.solve(model, grid, p0, times, checkpoint=check, checkpoint_every=3,
                               **kw)
        np.testing.assert_array_equal(observed.p, plain.p)
        target = (Shift, "__call__") if scheme != "bdf2" else (
            implicit.ImplicitScheme, "step")
        original = _interrupt_after(monkeypatch, *target, 5 if field_on else 17)
        with pytest.raises(KeyboardInterrupt):
            fpstt.solve(model, grid, p0, times, checkpoint=check, checkpoint_every=3, **kw)
        monkeypatch.setattr(*target, original)
        assert 0 < json.loads(str(np.load(check)["record"]))["done"]   # inside a segment
        resumed = fpstt.solve(model, grid, p0, times, checkpoint=check, checkpoint_every=4,
                              resume=True, **kw)
    np.testing.assert_array_equal(resumed.p, plain.p)


def test_an_attractor_run_of_several_moves_a_step_resumes_bit_for_bit(tmp_path, monkeypatch):
    """A tilted easy axis in its attractor chart, four moves (shift and remap) a step: a run
    with checkpoints every 3 steps is the run without, and one interrupted inside a step's
    moves and resumed from its last checkpoint is too (the remap's order, which alternates
    by move, is part of the checkpoint's memory)."""
    from fpstt.numerics.transport import mercator_du
    from test_chartcells import _near_attractor, _tilted
    model, _, chart = _tilted()
    near, times = _near_attractor(chart, 0.1), [0.1, 0.2]
    grid = fpstt.default_grid(model, times, initial=near, du=0.0092, n_phi=32)
    assert grid.plan.moves_per_step(mercator_du(grid)) == 4
    p0, check = near.cell_averages(grid), tmp_path / "ck.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = fpstt.solve(model, grid, p0, times)
        observed = fpstt.solve(model, grid, p0, times, checkpoint=check, checkpoint_every=3)
        np.testing.assert_array_equal(observed.p, plain.p)
        original = _interrupt_after(monkeypatch, Shift, "__call__", 30)   # in step 8's moves
        with pytest.raises(KeyboardInterrupt):
            fpstt.solve(model, grid, p0, times, checkpoint=check, checkpoint_every=3)
        monkeypatch.setattr(Shift, "__call__", original)
        assert 0 < json.loads(str(np.load(check)["record"]))["done"]
        resumed = fpstt.solve(model, grid, p0, times, checkpoint=check, checkpoint_every=4,
                              resume=True)
    np.testing.assert_array_equal(resumed.p, plain.p)
