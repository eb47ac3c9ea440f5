"""The implicit step on chart grids solved line by line (fpstt.numerics.lines), and the fractional
shift that reaches output times off the step lattice."""

import numpy as np
import pytest

import fpstt
from fpstt.sphere.chart import ChartModel
from fpstt.flow.flowgrid import longest_chart_step, rows_per_step
from fpstt.numerics.fourier import RealBackend
from fpstt.integration.implicit import ImplicitScheme
from fpstt.numerics.transport import Shift, mercator_du
from fpstt.numerics.lines import TOLERANCE, LineBackend, LineScheme
from fpstt.analysis.observables import l1_distance
from fpstt.numerics.operator import directional_operators, fokker_planck_matrix, is_monotone
from fpstt.physics.pushforward import pushforward_cell_averages


@pytest.fixture(scope="module")
def chart_problem(table_i_gibbs):
    """Table I with the field kept on, in its Möbius chart, on a coarse grid."""
    model = fpstt.SpinTorqueModel.from_microscopic(fpstt.table_i(), field_on=True)
    grid = fpstt.default_grid(model, [0, 0.3], initial=table_i_gibbs, du=0.04, n_phi=64)
    chart_model = ChartModel(model, grid.chart)
    offset = (lambda th: -chart_model.C1.imag * np.sin(th), chart_model.C1.real)
    parts = directional_operators(chart_model, grid, drift_offset=offset)
    whole = fokker_planck_matrix(chart_model, grid, drift_offset=offset)
    return grid, parts, whole, table_i_gibbs.cell_averages(grid)


def test_parts_sum_to_the_operator_and_each_conserves_mass(chart_problem):
    grid, parts, whole, _ = chart_problem
    scale = abs(whole).max()
    assert abs(sum(parts.values()) - whole).max() < 1e-13 * scale
    w = grid.cell_measure.ravel()
    for L in parts.values():
        assert np.max(np.abs(w @ L)) < 1e-13 * scale * w.max()
    assert all(is_monotone(L) for L in parts.values()) == is_monotone(whole)


def test_line_matvec_is_the_operator(chart_problem):
    """LineBackend.matvec (summed diagonal, shifted slices into a kept buffer) applies the
    assembled operator, on the whole grid and on a window, for a non-contiguous input too."""
    grid, parts, whole, p0 = chart_problem
    lines, real = LineBackend(parts, grid), RealBackend(whole, grid)
    x = np.random.default_rng(4).random((grid.n_theta, 2 * grid.n_phi))[:, ::2]
    scale = abs(whole).max() * np.abs(x).max()
    assert np.max(np.abs(lines.matvec(x) - real.matvec(x))) < 1e-13 * scale
    i0, i1 = 3, grid.n_theta - 5
    window, exact = lines.window(i0, i1), real.window(i0, i1)
    assert np.max(np.abs(window.matvec(x[i0:i1]) - exact.matvec(x[i0:i1]))) < 1e-13 * scale


@pytest.mark.parametrize("tau", [1e-4, 0.3])
def test_line_solves_on_the_grid_are_the_gathered_line_solves(chart_problem, tau):
    """Each part's compiled solve in the grid's layout (lines sheared through the rows) is
    LAPACK's solve of the gathered lines, on the grid and on a window whose diagonal lines
    start at row 7 (these lines symmetrise: LAPACK pttrf)."""
    grid, parts, _, _ = chart_problem
    backend = LineBackend(parts, grid)
    x = np.random.default_rng(5).random(grid.shape)
    for view in (backend, backend.window(7, grid.n_theta - 3)):
        r = x[:view.shape[0]]
        for part, lu, shift in LineScheme(view, tau, "tr-bdf2").factors:
            if part.cyclic:
                continue
            gathered = np.empty(r.size)
            gathered[part.index] = lu.solve(r.ravel()[part.index])
            on_grid = lu.solve_on_grid(np.ascontiguousarray(r), shift)
            assert np.max(np.abs(on_grid.ravel() - gathered)) <= 1e-14 * np.abs(gathered).max()


def test_sheared_solves_of_lines_that_do_not_symmetrise():
    """Lines whose couplings differ in sign (LAPACK gttrf, with pivoting) solved in the grid's
    layout through sheared lines: the gathered LAPACK solve, to round-off."""
    from fpstt.numerics.lines import _Tridiagonal
    rng = np.random.default_rng(6)
    rows, n = 23, 16
    lo, up = rng.normal(size=(2, n, rows))
    diag = rng.normal(size=(n, rows)) + 0.3
    lo[:, 0], up[:, -1] = 0.0, 0.0
    lu = _Tridiagonal(diag, lo, up, cyclic=False)
    assert lu.band.pt is None and lu.by_position[-1].any()     # gttrf, rows interchanged
    shift = 5 + np.arange(rows)                                  # line l at (i, l + 5 + i)
    index = np.arange(rows)[None, :] * n + (np.arange(n)[:, None] + shift[None, :]) % n
    r = rng.normal(size=(rows, n))
    gathered = np.empty(r.size)
    gathered[index] = lu.solve(r.ravel()[index])
    on_grid = lu.solve_on_grid(r, shift)
    assert np.max(np.abs(on_grid.ravel() - gathered)) <= 1e-12 * np.abs(gathered).max()


@pytest.mark.parametrize("scheme", ["tr-bdf2", "be"])
def test_line_scheme_is_the_2d_step(chart_problem, scheme):
    """The line-by-line solves reproduce the unsplit 2-D step (sparse LU) on a window, on the
    eq17 reading whose split is not monotone, and conserve mass exactly."""
    grid, parts, whole, p0 = chart_problem
    lines, real = LineBackend(parts, grid), RealBackend(whole, grid)
    rows = np.flatnonzero(real.row_mass(p0) > 1e-13)
    i0, i1 = max(rows[0] - 6, 0), min(rows[-1] + 7, grid.n_theta)
    x = p0[i0:i1]
    piece = LineScheme(lines.window(i0, i1), 0.01, scheme)
    ours = piece.step(x.copy())
    exact = ImplicitScheme(real.window(i0, i1), 0.01, scheme).step(x.copy())
    assert np.max(np.abs(ours - exact)) < 1e-11 * np.max(np.abs(exact))
    assert piece.worst_residual <= TOLERANCE and max(piece.iterations) < 10
    measure = grid.cell_measure[i0:i1]
    assert np.sum(ours * measure) == pytest.approx(np.sum(x * measure), rel=1e-14)


def test_approximate_inverse_keeps_mass_and_is_dominant_where_the_split_is_not(chart_problem):
    """Each factor's I - b M is diagonally dominant by weighted columns with margin ≥ 1/2
    (the negative couplings of this non-monotone split kept only where that holds) and
    keeps the mass; short steps keep every coupling, long ones none (an M-matrix)."""
    grid, parts, whole, _ = chart_problem
    assert not is_monotone(whole)                        # eq17 on this grid
    backend = LineBackend(parts, grid)
    largest = max(max(np.abs(p.lo).max(), np.abs(p.up).max()) for p in backend.lines.values())
    short = 0.1 / largest
    for b in (short, 0.05, 1e12):
        for part in backend.lines.values():
            m = part.limited(b, backend.row_measure)
            w = (np.ones(m.d.shape[1]) if m.cyclic else backend.row_measure)[None, :]
            def column(lo, up):                      # each column's outflow, weighted
                return (np.roll(w * up, 1, 1) + np.roll(w * lo, -1, 1)) / w
            margin = 1 - b * m.d - b * column(np.abs(m.lo), np.abs(m.up))
            assert margin.min() >= 0.5 - 1e-12 * (1 + b * np.abs(part.d).max())   # rounding
            assert np.max(np.abs(m.d + column(m.lo, m.up))) <= 1e-12 * np.max(np.abs(part.d))
            if b == short:
                assert np.array_equal(m.lo, part.lo) and np.array_equal(m.up, part.up)
            if b == 1e12:
                assert m.lo.min() >= 0 and m.up.min() >= 0
    x = np.random.default_rng(3).random(grid.shape) ** 8
    for tau in (0.05, 100.0):
        y = LineScheme(backend.window(0, grid.n_theta), tau, "be")._approximate_inverse(x)
        assert np.sum(y * grid.cell_measure) == pytest.approx(np.sum(x * grid.cell_measure),
                                                              rel=1e-12)


def test_step_length_comes_from_the_noise_not_the_cell(table_i_model, table_i_gibbs):
    field_on = fpstt.SpinTorqueModel.from_microscopic(fpstt.table_i(), field_on=True)
    longest = longest_chart_step(field_on)
    assert longest == pytest.approx(0.0153, abs=1e-4)          # D dt = 2.1e-6 rad^2
    # the state's width at the pole scales with the noise, and the step does not
    assert longest_chart_step(field_on.with_options(C2=field_on.C2 / 10)) == longest
    assert longest_chart_step(field_on.with_options(C2=0)) == 0.1    # nothing to diffuse
    slow = field_on.with_options(C1=field_on.C1 / 100)            # contracts 100x slower
    assert longest_chart_step(slow) == 0.1                         # capped
    grid = fpstt.default_grid(field_on, [0, 1], initial=table_i_gibbs)
    rows = rows_per_step(grid.chart, mercator_du(grid), field_on)
    row_dt = mercator_du(grid) / abs(grid.chart.shift_rate)
    assert rows >= 4                                        # many rows: dt from the noise
    assert rows * row_dt <= longest < (rows + 1) * row_dt   # as many as fit
    plain = fpstt.default_grid(table_i_model, [0, 1])
    assert rows_per_step(plain.chart, mercator_du(plain), table_i_model) == 1


def test_fractional_shift_conserves_and_stays_positive():
    grid = fpstt.SphereGrid.mercator(0.05, -6.0, 3.5, 8)
    x = np.random.default_rng(5).random(grid.shape) ** 12       # spiky, positive
    mass = grid.integrate(x)
    for f in (0.1, 0.5, 0.9):
        y = Shift(grid, 1).fraction(x.copy(), f)
        assert y.min() >= 0
        assert grid.integrate(y) == pytest.approx(mass, rel=1e-13)


def test_fractional_shift_is_exact_for_a_linear_mass_profile():
    """Cell masses linear in the row index translate exactly (second order)."""
    grid = fpstt.SphereGrid.mercator(0.05, -3.0, 3.0, 4)
    rows = np.arange(grid.n_theta, dtype=float)
    x = ((10.0 + rows)[:, None] / grid.dtheta[:, None]) * np.ones(grid.shape)
    f = 0.3
    y = Shift(grid, 1).fraction(x.copy(), f)
    moved = y * grid.dtheta[:, None]
    np.testing.assert_allclose(moved[3:-3, 0], (10.0 + rows + f)[3:-3], rtol=1e-12)


@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.75])
def test_output_off_the_step_lattice_is_second_order(table_i_model, table_i_gibbs, fraction):
    """Noiseless Table I at a time between two steps against the closed form (Eq. 16).
    Before the fractional shift, one backward-Euler step: L1 4e-3, 9e-3, 1.6e-2."""
    model = table_i_model.with_options(C2=0)
    grid = fpstt.default_grid(model, [0, 1], initial=table_i_gibbs, n_phi=128)
    dt = fpstt.integration.stepping.mercator_step(grid, model)
    t = (100 + fraction) * dt
    sol = fpstt.solve(model, grid, table_i_gibbs.cell_averages(grid), [t])
    ref = pushforward_cell_averages(table_i_gibbs, model.C1, grid, t)
    assert l1_distance(grid, sol.p[0], ref) < 2e-4


def test_a_solve_that_does_not_converge_is_reported(table_i_gibbs, monkeypatch):
    """No silent answer: solves held to an unreachable tolerance are kept, and the run
    warns with the residual reached."""
    from fpstt.numerics import lines
    monkeypatch.setattr(lines, "TOLERANCE", 1e-30)
    monkeypatch.setattr(lines, "_MAX_ITERATIONS", 1)   # no correction at all
    model = fpstt.SpinTorqueModel.from_microscopic(fpstt.table_i(), field_on=True)
    times = [0, 0.03]
    grid = fpstt.default_grid(model, times, initial=table_i_gibbs, du=0.05, n_phi=32)
    with pytest.warns(RuntimeWarning, match="implicit solves stopped at a residual"):
        sol = fpstt.solve(model, grid, table_i_gibbs.cell_averages(grid), times)
    assert sol.diagnostics["line_residual"] > 0
    assert sol.diagnostics["max_mass_error"] < 1e-12


@pytest.mark.parametrize("direction", [1, -1])
def test_a_shift_of_several_rows_is_that_many_shifts_of_one(direction):
    """A split step of k rows translates in one pass: the masses of k one-row translations
    (the far cap releasing its share at each), to rounding, for cell averages and modes."""
    grid = fpstt.SphereGrid.mercator(0.05, -4.0, 3.0, 16)
    rng = np.random.default_rng(7)
    x = rng.random(grid.shape) + 1j * rng.random(grid.shape)
    x[-1] += 5.0                                     # a far cap that holds mass
    for k in (2, 5, 8):
        one, expected = Shift(grid, direction, 1), x.copy()
        for _ in range(k):
            expected = one(expected)
        got = Shift(grid, direction, k)(x.copy())
        assert np.allclose(got, expected, rtol=1e-13, atol=1e-15 * np.abs(x).max())
        mass = grid.cell_measure
        assert abs((got * mass).sum() - (x * mass).sum()) < 1e-13 * abs((x * mass).sum())
