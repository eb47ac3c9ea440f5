"""The flux-form semi-Lagrangian remap of flows with no Möbius chart (fpstt.numerics.remap)."""

import math

import numpy as np
import pytest

import fpstt
from fpstt.flow.attractor import attractor_chart
from fpstt.sphere.chart import chart_for
from fpstt.sphere.grid import SphereGrid
from fpstt.analysis.observables import l1_distance
from fpstt.physics.pushforward import general_pushforward_cell_averages, gibbs_support
from fpstt.numerics.remap import FlowRemap, LineRemap, ModalRemap

from conftest import observed_order


def _rotation(axis, rate):
    """(theta', phi') of a rigid rotation about ``axis`` at ``rate`` rad per t_n."""
    a = np.asarray(axis, float) / np.linalg.norm(axis)

    def velocity(theta, phi):
        theta, phi = np.broadcast_arrays(theta, phi)
        s, c = np.sin(theta), np.cos(theta)
        n = np.array([s * np.cos(phi), s * np.sin(phi), c])
        v = rate * np.cross(a, n, axis=0)
        e_theta = np.array([c * np.cos(phi), c * np.sin(phi), -s])
        return (v * e_theta).sum(0), (-v[0] * np.sin(phi) + v[1] * np.cos(phi)) / s
    return velocity


def _von_mises_fisher(mu, kappa):
    """(theta, phi) density of a von Mises-Fisher law about ``mu`` (carries sin theta)."""
    mu = np.asarray(mu, float) / np.linalg.norm(mu)

    def density(theta, phi):
        theta, phi = np.broadcast_arrays(theta, phi)
        n = np.array([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)])
        dot = np.tensordot(mu, n, axes=1)
        return kappa / (2 * math.pi * -math.expm1(-2 * kappa)) * np.exp(kappa * (dot - 1)) \
            * np.sin(theta)
    return density


def _rotated(v, axis, angle):
    a = np.asarray(axis, float) / np.linalg.norm(axis)
    return v * math.cos(angle) + np.cross(a, v) * math.sin(angle) + a * (a @ v) * (1 - math.cos(angle))


def test_line_remap_by_whole_cells_is_a_permutation():
    rng = np.random.default_rng(1)
    mass = rng.random((3, 12))
    cells = np.arange(13)[None, :] - np.array([[0], [5], [-7]])      # shifts by 0, 5, -7 cells
    moved = LineRemap(cells, np.zeros(cells.shape), 12, periodic=True)(mass)
    for line, shift in enumerate((0, 5, -7)):
        assert np.array_equal(moved[line], np.roll(mass[line], shift))


def test_line_remap_of_a_step_profile_conserves_mass_and_stays_positive():
    mass = np.zeros((1, 40))
    mass[0, 10:16] = 1.0                                   # a top hat: the hard case for PPM
    for courant in (0.3, 0.5, 2.7, 11.25):
        s = np.arange(41)[None, :] - courant
        cell = np.floor(s).astype(np.int64)
        moved = LineRemap(cell, s - cell, 40, periodic=True)(mass)
        assert abs(moved.sum() - mass.sum()) < 1e-14 * mass.sum()
        assert moved.min() >= 0


def test_rotation_about_a_tilted_axis_converges_conserves_and_stays_positive():
    """A vMF state (kappa = 200) turned by 2 rad about a tilted axis in 40 remaps, against the
    exactly rotated law: mass to round-off, p ≥ 0, and high order in the cell width."""
    axis, mu0 = (1.0, 0.3, 0.2), np.array([math.sin(1.2) * math.cos(0.5),
                                          math.sin(1.2) * math.sin(0.5), math.cos(1.2)])
    exact_end = _rotated(mu0, axis, 2.0)
    errors, widths = [], []
    for du, n_phi in ((0.04, 192), (0.02, 384)):
        grid = SphereGrid.mercator(du, -6.0, 6.0, n_phi)
        p = grid.cell_average(_von_mises_fisher(mu0, 200.0))
        remap, mass0 = FlowRemap(grid, _rotation(axis, 2.0), 1 / 40), grid.integrate(p)
        for _ in range(40):
            p = remap(p)
        assert abs(grid.integrate(p) - mass0) < 1e-12
        assert p.min() >= -1e-14 * p.max()
        errors.append(l1_distance(grid, p, grid.cell_average(_von_mises_fisher(exact_end, 200.0))))
        widths.append(du)
    assert errors[-1] < 3e-3
    assert observed_order(widths, errors) > 2.0


def test_substeps_of_a_remap_are_consecutive_remaps_with_their_phi_halves_merged():
    """FlowRemap(tau, substeps=4) (a folded z' step of 1 rad in remaps of 0.25 rad,
    FlowPlan.remap_substeps) is four remaps over tau / 4 up to the merged half sweeps along
    phi; it conserves mass, keeps p ≥ 0, and is closer to the exact rotation than one remap
    over tau (the directional splitting's error grows with the turn of one remap)."""
    axis, mu0 = (1.0, 0.3, 0.2), np.array([math.sin(1.2) * math.cos(0.5),
                                          math.sin(1.2) * math.sin(0.5), math.cos(1.2)])
    grid = SphereGrid.mercator(0.02, -6.0, 6.0, 384)
    p0 = grid.cell_average(_von_mises_fisher(mu0, 200.0))
    exact = grid.cell_average(_von_mises_fisher(_rotated(mu0, axis, 1.0), 200.0))
    velocity = _rotation(axis, 1.0)
    merged = FlowRemap(grid, velocity, 1.0, substeps=4)(p0)
    quarter, p = FlowRemap(grid, velocity, 0.25), p0
    for _ in range(4):
        p = quarter(p)
    whole = FlowRemap(grid, velocity, 1.0)(p0)
    assert abs(grid.integrate(merged) - grid.integrate(p0)) < 1e-13
    assert merged.min() >= -1e-14 * merged.max()
    assert l1_distance(grid, merged, p) < 0.1 * l1_distance(grid, p, exact)
    assert l1_distance(grid, merged, exact) < 0.5 * l1_distance(grid, whole, exact)


@pytest.fixture(scope="module")
def anisotropy_model():
    """Table I with a tilted easy axis (B_k = 0.05 T at (0.5, 1.0)) and damping, noiseless:
    a flow with no Möbius chart."""
    micro = fpstt.table_i(B_k=0.05, easy_theta=0.5, easy_phi=1.0, alpha=0.02)
    return fpstt.SpinTorqueModel.from_microscopic(micro).with_options(C2=0)


def test_split_scheme_follows_a_flow_with_no_mobius_chart(anisotropy_model, table_i_gibbs):
    """Split TR-BDF2 (STT shifted, the rest remapped) on the z'-frame grid against the general
    pushforward at t_n / 6 (the upwinded unsplit scheme is O(1) off at t_n / 3)."""
    model, gibbs, t = anisotropy_model, table_i_gibbs, 1 / 6
    grid = fpstt.default_grid(model, [0, t], initial=gibbs, attractor=False)
    sol = fpstt.solve(model, grid, gibbs.cell_averages(grid), [0, t])
    rho = lambda n: gibbs.per_area(np.arccos(np.clip(n[2], -1, 1)),     # noqa: E731
                                   np.arctan2(n[1], n[0]))
    exact = general_pushforward_cell_averages(model, rho, grid, t, support=gibbs_support(gibbs))
    assert sol.diagnostics["max_mass_error"] < 1e-12
    assert sol.diagnostics["min_p_ratio"] > -1e-12
    assert l1_distance(grid, sol.p[-1], exact) < 3e-3          # measured 1.7e-3


def test_attractor_finder_agrees_with_the_mobius_closed_form(table_i_gibbs):
    """On a Möbius flow (the field kept on) the fixed points have a closed form
    (fpstt.sphere.chart.chart_for, roots of a quadratic): the numerical attractor, repeller and
    mean contraction rate must reproduce them."""
    model = fpstt.SpinTorqueModel.from_microscopic(fpstt.table_i(), field_on=True)
    exact, found = chart_for(model), attractor_chart(model, table_i_gibbs.direction)
    assert abs(found.zeta_s - exact.zeta_s) < 1e-8
    assert abs(found.zeta_u - exact.zeta_u) < 1e-6 * abs(exact.zeta_u)
    assert abs(found.lam.real - exact.lam.real) < 1e-6 * abs(exact.lam.real)


@pytest.mark.slow
def test_attractor_chart_resolves_the_collapse_the_z_frame_cannot(anisotropy_model,
                                                                   table_i_gibbs):
    """Noiseless, the density collapses onto the attractor ~0.33 rad from z': at t_n the
    z'-frame grid is O(1) off the general pushforward (0.71 measured), the attractor chart
    is not."""
    model, gibbs, t = anisotropy_model, table_i_gibbs, 1.0
    grid = fpstt.default_grid(model, [0, t], initial=gibbs)
    assert grid.chart is not None and not grid.chart.is_identity
    sol = fpstt.solve(model, grid, gibbs.cell_averages(grid), [0, t])
    rho = lambda n: gibbs.per_area(np.arccos(np.clip(n[2], -1, 1)),     # noqa: E731
                                   np.arctan2(n[1], n[0]))
    exact = general_pushforward_cell_averages(model, rho, grid, t, support=gibbs_support(gibbs))
    assert sol.diagnostics["max_mass_error"] < 1e-12
    assert l1_distance(grid, sol.p[-1], exact) < 0.05


def test_columns_of_a_grid_remap_as_the_same_lines_copied_out():
    """The U sweep remaps a grid's columns in place (blocks copied into lines): the same
    numbers, bit for bit, as remapping contiguous copies of them, for all columns, for a
    block of columns that does not fill the last block, and for a window of columns."""
    rng = np.random.default_rng(4)
    n, columns = 57, 77                                    # 77 = 2 blocks of 32 + 13
    mass = rng.random((n, columns)) * np.exp(-rng.random((n, columns)) * 30)
    s = np.sort(np.clip(np.arange(n + 1)[None, :] + rng.normal(0, 2.5, (columns, n + 1)),
                        0, n - 1e-9), axis=1)
    cell = np.floor(s).astype(np.int64)
    remap = LineRemap(cell, s - cell, n, periodic=False)
    for lines in (None, slice(30, 71)):
        view = mass.T if lines is None else mass.T[lines]
        assert view.strides[0] < view.strides[1]            # columns: the column path
        out = np.empty(view.shape[::-1]).T
        remap(view, lines, out=out)
        assert np.array_equal(out, remap(np.ascontiguousarray(view), lines))


def test_line_remap_keeps_the_mass_of_an_undershoot():
    """A cell of negative mass (an implicit step's undershoot) is carried flat, not clipped:
    the remap stays conservative."""
    mass = np.array([[0.0, 0.2, 1.0, -0.05, 0.4, 0.0, 0.0, 0.1]])
    s = np.arange(9)[None, :] - 0.37
    cell = np.floor(s).astype(np.int64)
    moved = LineRemap(cell, s - cell, 8, periodic=True)(mass)
    assert abs(moved.sum() - mass.sum()) < 1e-15


def test_boltzmann_state_on_an_attractor_chart_grid(anisotropy_model):
    micro = fpstt.table_i(B_k=0.05, easy_theta=0.5, easy_phi=1.0, alpha=0.02)
    state = fpstt.physics.initial.BoltzmannState.from_microscopic(micro)
    grid = fpstt.default_grid(anisotropy_model, [0, 0.1], initial=state, du=0.04, n_phi=96)
    assert grid.chart is not None
    assert abs(grid.integrate(state.cell_averages(grid)) - 1) < 1e-6


def _axial_flow(turn):
    """A phi-independent velocity: theta' = g(theta), phi' = turn(theta)."""
    def velocity(theta, phi):
        theta, phi = np.broadcast_arrays(theta, phi)
        return 0.8 * np.sin(theta) * np.cos(theta) + 0.3 * np.sin(theta), turn(theta) + 0 * phi
    return velocity


def test_modal_remap_of_a_phi_independent_flow_is_the_real_space_remap():
    """Mode 0 (the theta-marginal) of ModalRemap equals FlowRemap of a phi-independent
    density to round-off.  Modes m != 0 (remapped linearly, turned by an exact phase): equal
    to round-off when each row turns by whole cells (the real-space PPM sweep along phi is then
    exact too) and the limiter does not act; else they differ by the real-space sweep's
    error along phi, third order in dphi."""
    grid = SphereGrid.mercator(0.02, -4.0, 4.0, 64)
    tau, theta, phi = 0.3, grid.theta[:, None], grid.phi[None, :]
    marginal = np.exp(40 * np.cos(theta - 1.1)) * np.sin(theta)
    smooth = _axial_flow(lambda t: 1.3 + 0.7 * np.cos(t))
    p = np.repeat(marginal, grid.n_phi, axis=1)
    real, modal = FlowRemap(grid, smooth, tau)(p), ModalRemap(grid, smooth, tau)(np.fft.rfft(p))
    scale = np.abs(modal[:, 0]).max()
    assert np.abs(np.fft.rfft(real)[:, 0] - modal[:, 0]).max() <= 1e-14 * scale
    assert np.abs(modal[:, 1:]).max() <= 1e-14 * scale             # no mode is created
    assert np.sum(modal[:, 0].real * grid.dtheta) == pytest.approx(
        np.sum(np.fft.rfft(p)[:, 0].real * grid.dtheta), rel=1e-14)  # mass
    # modes 2 and 3, turned by whole cells per row (0 to 3 cells per half step)
    wavy = marginal * (1 + 0.5 * np.cos(2 * phi) + 0.3 * np.sin(3 * phi))
    whole = _axial_flow(lambda t: np.round(3 * np.sin(t)) * grid.dphi / (tau / 2))
    real = np.fft.rfft(FlowRemap(grid, whole, tau)(wavy))
    modal = ModalRemap(grid, whole, tau)(np.fft.rfft(wavy))
    assert np.abs(real - modal).max() <= 1e-13 * scale
    # ... and by a smooth turn: the difference is the real-space error along phi
    errors = []
    for n_phi in (32, 64):
        grid = SphereGrid.mercator(0.02, -4.0, 4.0, n_phi)
        wavy = marginal * (1 + 0.5 * np.cos(2 * grid.phi[None, :]))
        real = np.fft.rfft(FlowRemap(grid, smooth, tau)(wavy))
        modal = ModalRemap(grid, smooth, tau)(np.fft.rfft(wavy))
        errors.append(np.abs(real[:, 2] - modal[:, 2]).max() * 32 / n_phi / scale)
    assert errors[1] < 1e-5 and errors[0] / errors[1] > 2 ** 2.5


def test_modal_remap_conserves_each_mode_and_refuses_a_phi_dependent_flow():
    grid = SphereGrid.mercator(0.02, -4.0, 4.0, 32)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(grid.n_theta, 5)) + 1j * rng.normal(size=(grid.n_theta, 5))
    x[[0, -1], 1:] = 0.0                                   # a cap holds mode 0 alone
    x[:, 0] = np.abs(x[:, 0])
    remap = ModalRemap(grid, _axial_flow(lambda t: np.zeros_like(t)), 0.4)
    y = remap(x.copy())
    w = grid.dtheta
    assert np.allclose(w @ y, w @ x, rtol=0, atol=1e-12 * np.abs(w @ x).max())
    assert y[:, 0].real.min() >= 0 and np.all(y[:, 0].imag == 0)
    with pytest.raises(ValueError, match="phi-independent"):
        ModalRemap(grid, _rotation((1.0, 0.0, 0.0), 1.0), 0.1)


def test_stiff_lines_are_traced_from_transit_times_to_second_order():
    """A line needing more than 16 RK4 steps (phi' = c (1 + sin(phi) / 2), c tau = 40 rad,
    five turns a step) is traced from transit times, in the same call as a mild one (c tau
    = 0.1 rad, RK4): against a fine RK4 reference, the stiff line is within 1/50 of a cell
    on 64 cells and second order (error ≥ 3x smaller on 128), the mild one within one RK4
    step's error, (c tau)^5 / 120."""
    from fpstt.numerics.remap import _rk4_back
    speeds, tau = np.array([40.0, 0.1]), 1.0

    def exact(start, c, steps=20000):
        x, h = start.copy(), -tau / steps
        f = lambda v: c * (1 + 0.5 * np.sin(v))            # noqa: E731
        for _ in range(steps):
            a = f(x); b = f(x + h * a / 2); d = f(x + h * b / 2); e = f(x + h * d)   # noqa: E702
            x = x + h / 6 * (a + 2 * b + 2 * d + e)
        return x

    errors = []
    for cells in (64, 128):
        y = np.tile(np.linspace(0.0, 2 * math.pi, cells + 1)[:-1], (2, 1))
        out = _rk4_back(lambda x, lines: speeds[lines, None] * (1 + 0.5 * np.sin(x)), y, tau)
        errors.append([np.max(np.abs(out[k] - exact(y[k], speeds[k]))) for k in (0, 1)])
    (stiff64, mild64), (stiff128, _) = errors
    assert stiff64 < 2 * math.pi / 64 / 50 and stiff64 / stiff128 > 3
    assert mild64 < 0.1 ** 5 / 120


def test_a_new_cell_over_many_tiny_old_ones_gets_their_sum_not_a_difference():
    """Tails: a new cell covering 30 old cells of mass 1e-20 beside cells of mass 1 gets
    their sum to round-off of itself (a difference of cumulative sums would leave ~1e-16)."""
    n = 64
    mass = np.full((1, n), 1e-20)
    mass[0, :8] = 1.0
    s = np.arange(n + 1, dtype=float)[None, :]
    s[0, 20:] = np.minimum(s[0, 20:] + 30, n - 1e-9)   # new cell 19 covers old 19 .. 49
    s[0, -1] = n
    cell = np.minimum(np.floor(s), n - 1).astype(np.int64)
    frac = s - cell
    moved = LineRemap(cell, frac, n, periodic=True, limit=True)(mass)
    assert abs(moved[0, 19] - 31e-20) < 1e-12 * 31e-20


def _shift_by_one_cell(mass):
    """The threaded line remap moving periodic lines by one whole cell."""
    cells = np.arange(mass.shape[1] + 1)[None, :] - 1
    return LineRemap(np.repeat(cells, mass.shape[0], 0), np.zeros((mass.shape[0], cells.size)),
                     mass.shape[1], periodic=True)(mass)


def _remap_in_child(queue):
    queue.put(_shift_by_one_cell(np.arange(6.0).reshape(2, 3)).tolist())


def test_a_process_forked_after_the_threaded_kernels_ran_can_run_them():
    """The compiled kernels share lines among numba's threads; under GNU OpenMP (numba's
    default without TBB) a process forked after they ran aborts ("fork() called from a
    process already using GNU OpenMP"), which hung the model-space check's forked solves.
    fpstt sets numba's fork-safe layer (TBB): the child runs them and answers."""
    import multiprocessing
    import numba
    from fpstt.numerics.compiled import _tbb_installed
    if not _tbb_installed():
        pytest.skip("no TBB wheel on this platform: numba's default layer")
    _shift_by_one_cell(np.ones((64, 64)))               # the threads start in this process
    assert numba.threading_layer() == "tbb"
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_remap_in_child, args=(queue,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert queue.get(timeout=5) == [[2.0, 0.0, 1.0], [5.0, 3.0, 4.0]]
