import math

import numpy as np
import pytest
import scipy.sparse as sp

import fpstt
from conftest import observed_order
from fpstt.numerics.fourier import SpectralBackend, rotate_phi
from fpstt.analysis.observables import l1_distance, moments, remap
from fpstt.physics.pushforward import pushforward_cell_averages

FIG4_TIMES = [0.0, 1 / 3, 2 / 3, 1.0]


def table_i_grid(model, steps_per_third, n_phi):
    return fpstt.SphereGrid.mercator(model.C1.imag / (3 * steps_per_third), -9.0, 3.5, n_phi)


@pytest.fixture(scope="module")
def table_i_runs(table_i_model, table_i_gibbs):
    """Table I (noise on, Gibbs start, t = 0 .. t_n) on a coarse and a fine grid."""
    runs = {}
    for name, (k, nf) in {"coarse": (20, 128), "fine": (40, 256)}.items():
        g = table_i_grid(table_i_model, k, nf)
        p0 = table_i_gibbs.cell_averages(g)
        runs[name] = {s: fpstt.solve(table_i_model, g, p0, FIG4_TIMES, scheme=s)
                      for s in ("split-be", "split-tr-bdf2")}
    return runs


@pytest.mark.parametrize("name", ["coarse", "fine"])
def test_table_i_mass_and_positivity(table_i_runs, name):
    be, tr = table_i_runs[name]["split-be"], table_i_runs[name]["split-tr-bdf2"]
    for sol in (be, tr):
        assert sol.diagnostics["max_mass_error"] <= 1e-12 * sol.diagnostics["mass0"]
        assert np.all(np.isfinite(sol.p))
    print(name, "most negative p / max p: BE", be.diagnostics["min_p_ratio"],
          "TR-BDF2", tr.diagnostics["min_p_ratio"], "outputs after phi rotation",
          be.diagnostics["min_p_ratio_output"], tr.diagnostics["min_p_ratio_output"])
    assert be.diagnostics["min_p_ratio"] >= -1e-12
    assert tr.diagnostics["min_p_ratio"] >= -1e-6
    assert be.diagnostics["min_p_ratio_output"] >= -1e-6
    assert tr.diagnostics["min_p_ratio_output"] >= -1e-6


def test_default_scheme_does_not_oscillate(table_i_runs):
    """No spurious extrema: along theta through the peak, p rises then falls (unimodal)."""
    sol = table_i_runs["fine"]["split-be"]
    for p in sol.p:
        row = p[:, np.argmax(p.max(axis=0))]
        peak = np.argmax(row)
        rising, falling = np.diff(row[:peak + 1]), np.diff(row[peak:])
        tiny = 1e-9 * row.max()
        assert np.all(rising >= -tiny) and np.all(falling <= tiny)


def test_table_i_converges_under_refinement(table_i_model, table_i_gibbs):
    sols = []
    for k, nf in ((15, 64), (30, 128), (60, 256)):
        g = table_i_grid(table_i_model, k, nf)
        sols.append(fpstt.solve(table_i_model, g, table_i_gibbs.cell_averages(g), FIG4_TIMES))
    d1 = l1_distance(sols[0].grid, sols[0].p[-1], remap(sols[1].p[-1], sols[1].grid, sols[0].grid))
    d2 = l1_distance(sols[1].grid, sols[1].p[-1], remap(sols[2].p[-1], sols[2].grid, sols[1].grid))
    print(f"Table I at t_n: L1 between successive refinements {d1:.3e}, {d2:.3e}")
    assert d2 < 0.6 * d1 and d2 < 2e-2


def test_noise_off_split_scheme_equals_pushforward(table_i_model, table_i_gibbs):
    g = table_i_grid(table_i_model, 20, 256)
    sol = fpstt.solve(table_i_model.with_options(C2=0), g, table_i_gibbs.cell_averages(g),
                      FIG4_TIMES)
    for t, p in zip(FIG4_TIMES, sol.p):
        ref = pushforward_cell_averages(table_i_gibbs, table_i_model.C1, g, t)
        assert l1_distance(g, p, ref) < 1e-10


@pytest.mark.parametrize("scheme", ["split-be", "split-tr-bdf2", "be", "tr-bdf2"])
def test_fourier_fast_path_equals_sparse_path(table_i_model, table_i_gibbs, scheme):
    """Output times on the step lattice (1/6): off it, the real-space path limits the
    fractional shift's slopes (p ≥ 0) and the Fourier path cannot (it is linear)."""
    g = table_i_grid(table_i_model, 6, 32)
    p0 = table_i_gibbs.cell_averages(g)
    kw = {} if scheme.startswith("split") else {"dt": 0.02}
    times = [1 / 3, 2 / 3]
    fast = fpstt.solve(table_i_model, g, p0, times, scheme=scheme, fast=True, **kw)
    slow = fpstt.solve(table_i_model, g, p0, times, scheme=scheme, fast=False, **kw)
    assert np.max(np.abs(fast.p - slow.p)) <= 1e-10 * np.max(np.abs(slow.p))


@pytest.mark.parametrize("scheme", ["split-tr-bdf2", "tr-bdf2"])
def test_fast_path_drops_only_phi_modes_the_state_does_not_use(table_i_model, table_i_gibbs,
                                                              scheme):
    """The Gibbs state is smooth in phi: about half of 129 modes carry < 1e-12 of it.  The
    fast path drops them; every output moves by less than that bound in L1 (mass 1)."""
    g = table_i_grid(table_i_model, 6, 256)
    p0 = table_i_gibbs.cell_averages(g)
    kw = {} if scheme.startswith("split") else {"dt": 0.02}
    times = [1 / 3, 0.5, 5 / 6]         # on the step lattice: see the test above
    fast = fpstt.solve(table_i_model, g, p0, times, scheme=scheme, fast=True, **kw)
    slow = fpstt.solve(table_i_model, g, p0, times, scheme=scheme, fast=False, **kw)
    assert fast.diagnostics["n_phi_modes"] < 0.7 * (g.n_phi // 2 + 1)
    for p, q in zip(fast.p, slow.p):
        assert l1_distance(g, p, q) <= 1e-12


def test_a_state_sharp_in_phi_keeps_every_mode():
    g = fpstt.SphereGrid.uniform(8, 16)
    backend = SpectralBackend(sp.identity(g.size), g)
    delta = np.zeros(g.shape)
    delta[3, 5] = 1 / g.cell_measure[3, 5]
    assert backend.modes_needed(backend.to_state(delta), 1e-12) == g.n_phi // 2 + 1
    smooth = 1 + 0.5 * np.cos(g.phi)[None, :] + 0 * delta          # modes 0 and 1 only
    assert backend.modes_needed(backend.to_state(smooth), 1e-12) == 2


def test_rotation_of_a_truncated_spectral_state_is_the_rotation_of_its_density():
    g = fpstt.SphereGrid.uniform(8, 16)
    p = np.random.default_rng(3).random(g.shape)
    backend = SpectralBackend(sp.identity(g.size), g)
    x = backend.to_state(p)[:, :5]                           # modes 0..4 of 9
    rotated = backend.truncated(5).rotate(x, 0.7)
    assert np.allclose(backend.to_density(rotated), rotate_phi(backend.to_density(x), 0.7),
                       rtol=0, atol=1e-14)


def test_pure_precession_rotates_rigidly():
    """(a) Only mu_phi: the density rotates in phi at Re C1 (upwind: first order)."""
    model = fpstt.SpinTorqueModel(2.0 + 0j, 0j)
    gibbs = fpstt.GibbsState(2.0, 1.2, 0.5)
    t_end, errs, hs = 0.5, [], []
    for n in (32, 64, 128):
        g = fpstt.SphereGrid.uniform(n // 2, n)
        sol = fpstt.solve(model, g, gibbs.cell_averages(g), [t_end], scheme="tr-bdf2",
                          dt=g.dphi / 2.0)
        exact = fpstt.GibbsState(2.0, 1.2, 0.5 + 2.0 * t_end).cell_averages(g)
        errs.append(l1_distance(g, sol.p[-1], exact))
        hs.append(g.dphi)
    order = observed_order(hs, errs)
    print(f"pure precession: L1 {errs}, order {order:.2f}")
    assert order > 0.8 and errs[-1] < 0.1


@pytest.mark.parametrize("scheme, min_order", [("be", 0.9), ("tr-bdf2", 1.8), ("cn", 1.8),
                                                ("bdf2", 1.8)])
def test_free_rotational_diffusion_legendre_decay(scheme, min_order):
    """(b) <P_l(cos theta)> decays as exp(-l(l+1) D t) for l = 1, 2 (space and time refined)."""
    D, t_end = 0.5, 0.4
    model = fpstt.SpinTorqueModel(0j, 0j, thermal_D=D)
    gibbs = fpstt.GibbsState(6.0, 1.0, 0.3)
    g0 = fpstt.SphereGrid.uniform(400, 8)
    mean0, std0 = moments(g0, gibbs.cell_averages(g0))
    p1_0 = mean0[2]
    p2_0 = 1.5 * (std0[2] ** 2 + mean0[2] ** 2) - 0.5
    errs, hs = [], []
    for n in (20, 40, 80):
        g = fpstt.SphereGrid.uniform(n, 16)
        sol = fpstt.solve(model, g, gibbs.cell_averages(g), [t_end], scheme=scheme, dt=2.0 / n)
        mean, std = moments(g, sol.p[-1])
        p1 = mean[-1, 2] if mean.ndim > 1 else mean[2]
        s = std[-1, 2] if std.ndim > 1 else std[2]
        p2 = 1.5 * (s ** 2 + p1 ** 2) - 0.5
        errs.append(max(abs(p1 - p1_0 * math.exp(-2 * D * t_end)),
                        abs(p2 - p2_0 * math.exp(-6 * D * t_end))))
        hs.append(1.0 / n)
    order = observed_order(hs, errs)
    print(f"free diffusion {scheme}: errors {errs}, order {order:.2f}")
    assert order > min_order and errs[-1] < 1e-2


def test_off_grid_output_time_is_reached(table_i_model, table_i_gibbs):
    g = table_i_grid(table_i_model, 6, 256)
    sol = fpstt.solve(table_i_model, g, table_i_gibbs.cell_averages(g), [0.1234])
    assert sol.diagnostics["n_partial_steps"] == 1
    assert sol.mass[0] == pytest.approx(1.0, abs=1e-12)
    # the partial step uses the full operator, whose Eq. 17 mixed term is not exactly
    # monotone on this grid (see test_operator): small negativity is recorded, not hidden
    assert sol.diagnostics["min_p_ratio"] >= -1e-6


def test_bad_arguments(table_i_model):
    g = fpstt.SphereGrid.uniform(8, 8)
    p0 = np.full(g.shape, 1 / (2 * math.pi ** 2))
    with pytest.raises(ValueError, match=r"`scheme` must be one of \['adaptive-tr-bdf2', 'bdf2', 'be', 'cn', 'split-be'"):
        fpstt.solve(table_i_model, g, p0, [1.0], scheme="rk4")
    with pytest.raises(ValueError, match="`times` must be finite, ≥ 0 and strictly increasing"):
        fpstt.solve(table_i_model, g, p0, [1.0, 0.5])
    with pytest.raises(ValueError, match="split schemes need a grid from SphereGrid.mercator"):
        fpstt.solve(table_i_model, g, p0, [1.0], scheme="split-be")
    with pytest.raises(ValueError, match=r"`p0` must have shape \(8, 8\)"):
        fpstt.solve(table_i_model, g, p0[:4], [1.0], scheme="be")
    with pytest.raises(ValueError, match="`dt` must be finite and > 0"):
        fpstt.solve(table_i_model, g, p0, [1.0], scheme="be", dt=-1.0)


def test_reverse_flow_toward_the_far_pole_is_exact():
    """Im C1 < 0 (anti-damping): the mirrored shift follows Eq. 15 toward theta = pi."""
    model = fpstt.SpinTorqueModel(2.0 - 4.0j, 0j)
    gibbs = fpstt.GibbsState(200.0, 0.6, 0.3)
    grid = fpstt.SphereGrid.mercator(4.0 / 120, -4.0, 9.0, 128)
    sol = fpstt.solve(model, grid, gibbs.cell_averages(grid), [0.25, 0.5])
    for t, p in zip(sol.times, sol.p):
        ref = pushforward_cell_averages(gibbs, model.C1, grid, t)
        assert l1_distance(grid, p, ref) < 1e-10
    assert sol.mass[-1] == pytest.approx(1.0, abs=1e-12)


def test_unsplit_scheme_on_a_drift_dominated_model_says_so(table_i_model, table_i_gibbs):
    """Table I is drift-dominated (cell Péclet in the hundreds): the unsplit schemes upwind
    its drift and must say that their answer is not accurate."""
    g = table_i_grid(table_i_model, 6, 32)
    with pytest.warns(RuntimeWarning, match="upwinds the drift"):
        sol = fpstt.solve(table_i_model, g, table_i_gibbs.cell_averages(g), [0.1], scheme="be",
                          dt=0.02)
    assert sol.diagnostics["max_cell_peclet"] > 100
    split = fpstt.solve(table_i_model, g, table_i_gibbs.cell_averages(g), [0.1])
    assert split.diagnostics["max_cell_peclet"] is None


def test_peclet_leaves_out_the_geometric_drift_of_lab_noise():
    """Pure lab-smooth diffusion transports nothing: its drift D_t cot(theta) only carries the
    sin(theta) of the measure, so its cell Péclet number is 0, not ~2 on the pole rows; a
    real drift is still counted (Péclet = |mu| h / D)."""
    from fpstt.integration.guards import max_cell_peclet
    grid = fpstt.SphereGrid.uniform(90, 32)
    still = fpstt.SpinTorqueModel(0j, 0j, "stratonovich", "lab", thermal_D=0.5)
    assert max_cell_peclet(still, grid) < 1e-9
    drawn = fpstt.SpinTorqueModel(-3j, 0j, "stratonovich", "lab", thermal_D=0.5)
    assert max_cell_peclet(drawn, grid) == pytest.approx(3 * math.pi / 90 / 0.5, rel=1e-3)


def test_moments_of_a_narrow_state_are_not_widened_by_its_cells():
    """A vMF state about a tilted axis, two cells per std: its exact std of n (from
    <n n^T> = a mu mu^T + b (1 - mu mu^T), a = 1 - 2 A(kappa)/kappa) comes out within 0.2 %
    from the cell averages; the piecewise-constant density would widen it by ~2 %."""
    from fpstt.physics.initial import GibbsState, langevin_function
    state = GibbsState(2500.0, 1.0, 0.5)
    grid = fpstt.SphereGrid.uniform(int(math.pi / (0.5 / math.sqrt(2500.0))), 600)
    mean, std = moments(grid, state.cell_averages(grid))
    mu, a_mean = state.direction, langevin_function(2500.0)
    a = 1 - 2 * a_mean / 2500.0
    second = a * mu ** 2 + (1 - a) / 2 * (1 - mu ** 2)
    exact = np.sqrt(second - (a_mean * mu) ** 2)
    assert np.allclose(mean, a_mean * mu, atol=1e-6)
    assert np.max(np.abs(std / exact - 1)) < 2e-3


def test_pole_cap_warning_fires_where_the_cap_moves_the_std():
    """A field kept on with damping settles on its chart's pole (model-space seed 1 row 28,
    coarse cells): the default cap holds < 3e-3 of the mass, does not warn, and moves the std
    by < half that fraction against a cap pushed to u_min = -13; a cap at u_min = -7 holds
    ~0.1 of the mass, warns, and moves the std by more than the default's bound."""
    import warnings
    micro = fpstt.table_i(B=0.0436, B_theta=1.3735, B_phi=3.1343, alpha=0.3293, T=1.0,
                          n_e=1.0238e6)
    model = fpstt.SpinTorqueModel.from_microscopic(micro, field_on=True, torque_form="gilbert")
    gibbs = fpstt.GibbsState.from_microscopic(micro)
    runs = {}
    for u_min in (-7.0, None, -13.0):
        grid = fpstt.default_grid(model, [0.25, 0.5], initial=gibbs, u_min=u_min, du=0.05,
                                  n_phi=64)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sol = fpstt.solve(model, grid, gibbs.cell_averages(grid), [0.25, 0.5])
        pole_warned = any("pole cap" in str(w.message) for w in caught)
        runs[u_min] = (moments(grid, sol.p[-1])[1], sol.diagnostics["pole_rows_mass"],
                       pole_warned)
    reference = runs[-13.0][0]
    std, pole, warned = runs[None]
    assert 1e-4 < pole < 3e-3 and not warned
    assert np.max(np.abs(std / reference - 1)) < pole / 2
    std, pole, warned = runs[-7.0]
    assert pole > 3e-3 and warned
    assert np.max(np.abs(std / reference - 1)) > 1.5e-3


class _RowsBackend:
    """A backend stand-in for WindowedImplicit: windows are (lo, hi), row masses sums."""

    def window(self, lo, hi):
        return (lo, hi)

    def row_mass(self, x):
        return x.sum(axis=1)


class _ExactPiece:                                   # records its window; steps nothing
    def __init__(self, window, dt, scheme, inverse="direct"):
        self.window, self.inverse, self.n_factorizations = window, inverse, 1

    def step(self, x):
        return x


@pytest.mark.parametrize("travel", [None, 50])
def test_an_exact_inverse_window_reaches_as_far_as_the_run_travels(travel):
    """A window factorised for an exact inverse reaches ``travel`` rows (plus 24) ahead of
    the state, the grid's end when the run's travel is not known, and keeps the rows of the
    window before it: seed 1 row 22 factorised all 2300 rows twice (42 s) where 1 200 served
    its whole run; seed 2 row 19, whose tail rows come and go, refactorised 152 times with
    windows that could shrink."""
    from fpstt.integration.implicit import WindowedImplicit
    implicit = WindowedImplicit(_RowsBackend(), "be", 1, piece=_ExactPiece, travel=travel)
    x = np.zeros((1000, 4))
    x[500:511] = 1.0
    implicit.step(0.1, x)                            # the first window: 24 rows ahead
    x[:] = 0.0
    x[460:471] = 1.0                                 # the state moved past it
    implicit.step(0.1, x)
    lo, hi = implicit.pieces[-1].window
    # reaching travel + 24 rows below the state, and never shrinking: the first window's top
    assert lo == (0 if travel is None else 460 - 6 - travel - 24) and hi == 511 + 6


@pytest.mark.parametrize("n_steps, taken, shrinks", [(1000, 0, True), (None, 0, False),
                                                      (1000, 999, False)])
def test_an_exact_window_shrinks_once_the_state_settles_in_part_of_it(n_steps, taken, shrinks):
    """An exact inverse's window only grows while the state moves, but once the state has
    settled in at most 2/3 of it a smaller one is factorised, where the solves left in the
    run pay for it (never when the run's length is unknown, nor with one step left)."""
    from fpstt.integration.implicit import WindowedImplicit
    implicit = WindowedImplicit(_RowsBackend(), "be", 1, piece=_ExactPiece, steps=(0.1,),
                                n_steps=n_steps)
    x = np.zeros((1000, 4))
    x[500:511] = 1.0
    implicit.step(0.1, x)                            # lines first: 24 rows ahead
    x[:] = 0.0
    x[460:471] = 1.0
    implicit.step(0.1, x)                            # exact, to the grid's end ahead
    assert implicit.pieces[-1].window == (0, 517) and implicit.exact_rows == (0, 517)
    implicit.taken = taken
    x[:] = 0.0
    x[50:101] = 1.0                                  # settled in rows 50-100
    implicit.step(0.1, x)
    expected = (0, 107) if shrinks else (0, 517)
    assert implicit.pieces[-1].window == expected and implicit.exact_rows == expected
    assert len(implicit.pieces) == (3 if shrinks else 2)


def test_an_exact_window_that_a_tail_spreads_out_of_grows_by_an_eighth():
    """A tail spreading out of an exact inverse's window against the travel grows it by 1/8
    of its rows (8 for a line piece): seed 3 row 12 grew 757 -> 868 rows 8-11 at a time, a
    factorisation of every step length each (its first 0.5 t_n 88 -> 46 s)."""
    from fpstt.integration.implicit import WindowedImplicit
    implicit = WindowedImplicit(_RowsBackend(), "be", 1, piece=_ExactPiece, steps=(0.1,))
    x = np.zeros((1000, 4))
    x[500:511] = 1.0
    implicit.step(0.1, x)
    x[:] = 0.0
    x[460:471] = 1.0
    implicit.step(0.1, x)                            # exact, from row 0
    assert implicit.pieces[-1].window == (0, 517)
    x[471:530] = 1e-3                                # the tail spreads past row 517
    implicit.step(0.1, x)
    assert implicit.pieces[-1].window == (0, 530 + 6 + 517 // 8)


class _LinePiece(_ExactPiece):                     # an approximate inverse: cheap to build
    build_solves = 4

    def __init__(self, window, dt, scheme, inverse="averaged"):
        super().__init__(window, dt, scheme, inverse)


class _StallingPiece(_LinePiece):                # stalls (asks for its exact inverse)
    on_exact = None

    def step(self, x):
        if self.inverse != "direct" and self.stalls:
            self.inverse = "direct"
            self.on_exact(self)
        return x


def test_a_stalled_line_piece_is_stepped_again_on_the_exact_window_and_takes_the_others():
    """A line piece whose solve stalls does not factorise its own (lines-sized) window: its
    step is taken again by an exact piece on the exact window (to the grid's end ahead, and
    the rows left past its other end when fewer than 1/8 of it), and the piece of the other
    step length moves there at its next step (model-space seed 6 row 3 factorised 0..613,
    0..691 and 0..633 within six steps; seed 3 row 12 0..746, 0..809 and 0..896)."""
    from fpstt.integration.implicit import WindowedImplicit
    implicit = WindowedImplicit(_RowsBackend(), "be", 1, piece=_StallingPiece,
                                steps=(0.05, 0.1))
    _StallingPiece.stalls = False
    x = np.zeros((1000, 4))
    x[900:931] = 1.0
    implicit.step(0.05, x)                           # lines on both step lengths
    implicit.step(0.1, x)
    assert [p.window for p in implicit.pieces] == [(870, 937), (870, 937)]
    _StallingPiece.stalls = True
    implicit.step(0.1, x)
    exact = implicit.pieces[-1]
    assert exact.inverse == "direct" and exact.window == (0, 1000)   # 63 rows left: taken
    assert implicit.exact_rows == (0, 1000)
    implicit.step(0.05, x)                           # the other step length follows
    assert implicit.pieces[-1].inverse == "direct" and implicit.pieces[-1].window == (0, 1000)
    assert len(implicit.pieces) == 4


def test_wells_far_apart_are_stepped_apart_and_the_empty_rows_between_frozen():
    """A state in two wells far apart (the rows between holding < 1e-13 each, model-space
    seed 3 row 12: its bulk in rows 0-330 of 896, 3e-10 in rows 800-830) has each well
    stepped by its own exact piece once that pays, the empty rows between frozen but for 1/8
    of them at each end; a well whose tail reaches into the frozen rows has them stepped
    again. Line pieces (approximate inverses) are not set apart (seed 6 row 20: a far tail's
    own window stalled)."""
    from fpstt.integration.implicit import WindowedImplicit
    from fpstt.integration.wells import ApartPiece
    x = np.zeros((1000, 4))
    x[:300], x[800:830] = 1.0, 1e-10
    lines = WindowedImplicit(_RowsBackend(), "be", 0, piece=_LinePiece, steps=(0.1,),
                             n_steps=100)
    for _ in range(2):
        lines.step(0.1, x)
    assert lines.gaps == () and lines.pieces[-1].window == (0, 860)
    implicit = WindowedImplicit(_RowsBackend(), "be", 0, piece=_ExactPiece, steps=(0.1,),
                                n_steps=100)
    implicit.step(0.1, x)
    assert implicit.pieces[-1].window == (0, 860)       # one window over both wells
    implicit.step(0.1, x)
    lo, hi, piece = implicit.factors[0.1]
    gap = (306 + 488 // 8, 794 - 488 // 8)              # rows 306..793 empty, 1/8 kept
    assert isinstance(piece, ApartPiece) and piece.gaps == (gap,) and (lo, hi) == (0, 1000)
    assert [p.window for p in implicit.pieces[-2:]] == [(0, gap[0]), (gap[1], 1000)]
    x[300:700] = 1e-3                                   # the bulk's tail reaches the gap
    implicit.step(0.1, x)
    assert implicit.gaps == () and implicit.pieces[-1].window == (0, 1000)


@pytest.mark.parametrize("n_steps, shrinks", [(100, True), (None, False), (1, False)])
def test_a_line_window_shrinks_once_the_state_settles_in_part_of_it(n_steps, shrinks):
    """A piece with an approximate inverse is rebuilt on fewer rows once the state has
    settled in at most 2/3 of its window, where the solves left pay for building it (about
    4 solves): seed 1 row 0 stepped all 443 rows while its state settled in 137 (28 s; 18 s
    with the shrink)."""
    from fpstt.integration.implicit import WindowedImplicit
    implicit = WindowedImplicit(_RowsBackend(), "be", 0, piece=_LinePiece, steps=(0.1,),
                                n_steps=n_steps)
    x = np.zeros((1000, 4))
    x[:600] = 1.0
    implicit.step(0.1, x)
    assert implicit.pieces[-1].window == (0, 630)           # 24 rows ahead
    x[300:] = 0.0                                    # settled in rows 0-299
    implicit.step(0.1, x)
    assert implicit.pieces[-1].window == ((0, 330) if shrinks else (0, 630))
    assert implicit.exact_rows is None


def test_compiled_fourier_solves_are_lapacks_to_the_last_bit(table_i_model, table_i_gibbs,
                                                            monkeypatch):
    """A long Fourier-path run solves by the compiled gttrs (COMPILED_WORK): the same
    solution bit for bit as zgttrs; its product of the mode blocks is numba's, which differs
    from numpy's only by numpy's fused complex multiply (an ulp a term), so the whole run
    agrees to round-off.  Shown by lowering the threshold on a short Table I run."""
    import fpstt.integration.integrators as integrators
    from fpstt.numerics.operator import fokker_planck_matrix
    grid = fpstt.default_grid(table_i_model, [0, 0.1], initial=table_i_gibbs)
    p0 = table_i_gibbs.cell_averages(grid)
    backend = SpectralBackend(fokker_planck_matrix(table_i_model, grid), grid)
    x = backend.to_state(p0)
    lapack = backend.factor(1.0, 0.01).solve(x)
    lapack_product = backend.matvec(x)
    backend.compiled = True
    assert np.array_equal(backend.factor(1.0, 0.01).solve(x), lapack)
    terms = 3 * np.max(np.abs(backend.T)) * np.max(np.abs(x))   # the largest term's size
    assert np.max(np.abs(backend.matvec(x) - lapack_product)) <= 4e-16 * terms
    lapack_run = fpstt.solve(table_i_model, grid, p0, [0.05, 0.1])
    monkeypatch.setattr(integrators, "COMPILED_WORK", 0.0)
    compiled_run = fpstt.solve(table_i_model, grid, p0, [0.05, 0.1])
    assert not lapack_run.diagnostics["compiled_solves"]
    assert compiled_run.diagnostics["compiled_solves"]
    for p, q in zip(compiled_run.p, lapack_run.p):
        assert l1_distance(grid, p, q) <= 1e-13


def test_a_state_in_two_wells_is_stepped_in_both():
    """Model-space seed 5 row 19 at a tenth of its drive: an easy axis along z', Brown noise
    at 30 K, a Gibbs start in both wells. The split run's mass window stepped only the rows
    around the denser well, and the other collapsed under the remap (std of n_x 0.005
    against 0.0675); now both wells are stepped: within 1 % of TR-BDF2 on the whole
    operator (cell Péclet < 2 there) and of the run that steps every row."""
    from fpstt.analysis.observables import moments
    micro = fpstt.table_i(B=0.0, alpha=0.0774, B_k=0.4939, easy_theta=0.0, easy_phi=0.0,
                          T=30.0, n_e=72044.0)
    model = fpstt.SpinTorqueModel.from_microscopic(micro, thermal=True).with_drive(0.1)
    gibbs = fpstt.initial_state(micro)                  # exp(-E / k_B T): both wells
    grid = fpstt.default_grid(model, [1.0], initial=gibbs, n_phi=16)
    split = fpstt.solve(model, grid, gibbs.cell_averages(grid), [1.0])
    every = fpstt.solve(model, grid, gibbs.cell_averages(grid), [1.0], tails=True)
    whole = fpstt.solve(model, grid, gibbs.cell_averages(grid), [1.0], scheme="tr-bdf2",
                        dt=0.002)
    assert whole.diagnostics["max_cell_peclet"] < 2
    std = [moments(grid, s.p[-1])[1][0] for s in (split, every, whole)]
    assert abs(std[0] / std[1] - 1) < 1e-6 and abs(std[0] / std[2] - 1) < 0.01, std
