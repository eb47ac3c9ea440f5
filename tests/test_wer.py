"""Write-error rates: against an independent 1-D solver down to 1e-15, against Monte Carlo
where it can reach, and free of cancellation and of the output times."""

import math

import numpy as np
import pytest

import fpstt
from fpstt.sphere.grid import mercator_theta, mercator_u
from fpstt.runs.montecarlo import simulate
from fpstt.analysis.switching import split_rows, switching_probability, unswitched_probability
from fpstt.runs.wer import UnswitchedRows, switching_curve

from oracle_1d import wer_curve

MICRO = fpstt.table_i()
GIBBS = fpstt.GibbsState.from_microscopic(MICRO)
READINGS = {"eq17": "ito", "lab": "stratonovich"}


@pytest.fixture(scope="module")
def curves():
    return {r: switching_curve(fpstt.SpinTorqueModel.from_microscopic(
        MICRO, reading=r, interpretation=i), GIBBS, 1.0) for r, i in READINGS.items()}


@pytest.mark.parametrize("reading", READINGS)
def test_wer_matches_independent_1d_solver_down_to_1e15(curves, reading):
    """Table I, default settings: ≤ 1 % relative wherever WER ≥ 1e-15 (the oracle's own
    error at h = 0.01 is ~1e-3 relative, measured against h = 0.004)."""
    model = fpstt.SpinTorqueModel.from_microscopic(MICRO, reading=reading,
                                                   interpretation=READINGS[reading])
    times = np.round(np.arange(0.3, 0.8001, 0.025), 4)
    ref = wer_curve(model.C1, model.C2, GIBBS.kappa, GIBBS.theta_b, times, reading=reading,
                    interpretation=READINGS[reading], h=0.01, v_range=(-3.0, 9.0), rtol=1e-7)
    wer = curves[reading].at(times)
    assert ref.min() < 1e-16 and ref.max() > 0.5                 # the range is covered
    checked = ref >= 1e-15
    assert np.all(np.abs(wer[checked] / ref[checked] - 1) <= 0.01)


def test_wer_does_not_depend_on_requested_times(curves):
    curve = curves["eq17"]
    a = curve.at([0.2, 0.4, 0.6, 0.7])
    b = curve.at(np.linspace(0, 1, 101))[[20, 40, 60, 70]]
    assert np.allclose(a, b, rtol=1e-12, atol=0)
    assert curve.statistics()["mean"] == curves["eq17"].statistics()["mean"]


def test_switching_statistics_against_monte_carlo(curves):
    """P_sw at the times where WER ≥ 1e-4 and the mean switching time, within 4 s.e."""
    model = fpstt.SpinTorqueModel.from_microscopic(MICRO)
    times = [0.0, 0.3, 0.32, 0.34, 0.36, 0.38, 1.0]
    mc = simulate(model, GIBBS, times, 20_000, dt=0.005, seed=11)
    curve = curves["eq17"]
    wer = curve.at(times)
    se = np.sqrt(np.maximum(wer * (1 - wer), 0) / 20_000) + 1 / 20_000
    reach = wer >= 1e-4
    assert reach.sum() >= 4
    assert np.all(np.abs((1 - mc.p_switch) - wer)[reach] <= 4 * se[reach])
    stats = curve.statistics()
    assert stats["mean_complete"]
    assert abs(mc.switch_time_mean - stats["mean"]) <= 4 * mc.switch_time_stderr
    q = stats["quantiles"]
    assert q["0.5"] < q["0.9"] < q["0.99"] < q["0.999999"] < 1.0
    assert abs(curve.at([curve.time_to(1e-9)])[0] / 1e-9 - 1) < 0.05


def test_small_wer_is_not_a_difference():
    """A tail of 1e-17 beside a unit mass: 1 - P_sw rounds it away, the WER keeps it."""
    grid = fpstt.SphereGrid.mercator(0.02, -9.0, 9.0, 8)
    rows = np.zeros(grid.n_theta)
    rows[10] = 1.0
    rows[-40:] = 1e-19
    switched, unswitched = split_rows(grid, rows)
    assert 1.0 - switched == 0.0
    assert unswitched == pytest.approx(40e-19, rel=1e-12)


def test_threshold_row_is_exact_for_an_exponential_tail():
    du, s = 0.02, -23.0                            # density in u ∝ exp(s u), steep tail
    grid = fpstt.SphereGrid.mercator(du, -9.0 + 0.0071, 9.0, 4)
    u = np.concatenate([[-np.inf], mercator_u(grid.theta_edges[1:-1]), [np.inf]])
    rows = np.expm1(s * np.diff(u[1:-1])) / s * np.exp(s * u[1:-2])     # exact cell masses
    rows = np.concatenate([[0.0], rows, [0.0]])
    exact = math.exp(s * 0.0) / -s - math.exp(s * u[-2]) / -s          # mass at u in [0, u_max]
    assert split_rows(grid, rows)[1] == pytest.approx(exact, rel=1e-10)
    theta_c = float(mercator_theta(0.0))
    assert 0 < theta_c - grid.theta_edges[np.searchsorted(grid.theta_edges, theta_c) - 1]


def test_density_wer_and_p_switch_add_up(table_i_model, table_i_gibbs):
    times = [0, 0.4]
    grid = fpstt.default_grid(table_i_model, times, initial=table_i_gibbs)
    sol = fpstt.solve(table_i_model, grid, table_i_gibbs.cell_averages(grid), times)
    total = switching_probability(grid, sol.p) + unswitched_probability(grid, sol.p)
    assert np.allclose(total, sol.mass, rtol=0, atol=1e-14)


def test_floor_and_bad_input(curves):
    curve = curves["eq17"]
    assert 0 < curve.floor < 1e-18
    assert curve.at([1.0])[0] == 0.0 or curve.at([1.0])[0] >= curve.floor
    assert math.isnan(curve.time_to(curve.floor / 10))
    with pytest.raises(ValueError, match="horizon"):
        curve.at([1.5])
    with pytest.raises(ValueError, match="horizon"):
        switching_curve(fpstt.SpinTorqueModel.from_microscopic(MICRO), GIBBS, -1.0)
    field = fpstt.SpinTorqueModel.from_microscopic(MICRO, field_on=True)
    chart_grid = fpstt.default_grid(field, [1.0], initial=GIBBS)        # its Möbius chart
    assert chart_grid.chart is not None
    with pytest.raises(ValueError, match="z'-frame grid"):
        UnswitchedRows(chart_grid)


def test_switching_command(tmp_path, capsys):
    import json
    from fpstt.cli import main
    assert main(["switching", "--json", "--quiet", "--times", "0.3,0.5,0.7"]) == 0
    a = json.loads(capsys.readouterr().out)
    assert main(["switching", "--json", "--quiet", "--times", "0.1,0.5,0.9"]) == 0
    b = json.loads(capsys.readouterr().out)
    assert a["wer"][1] == b["wer"][1] and a["mean"] == b["mean"]      # times only select
    assert 1e-16 < a["wer"][2] < 1e-14 and a["wer_floor"] < 1e-18
    out, plot = tmp_path / "wer.json", tmp_path / "wer.png"
    assert main(["switching", "--quiet", "--out", str(out), "--plot", str(plot)]) == 0
    text = capsys.readouterr().out
    assert "time to WER 1e-9" in text and "q0.5" in text
    assert len(json.loads(out.read_text())["curve"]["wer"]) > 100 and plot.stat().st_size > 0
    assert main(["switching", "--quiet", "--method", "montecarlo", "--n-samples", "2000",
                 "--times", "0.3,0.35"]) == 0
    assert "s.e." in capsys.readouterr().out


def test_switching_command_bad_input(tmp_path, capsys):
    from fpstt.cli import main
    for argv, message in [(["--threshold", "1.5"], "threshold"),
                          (["--times", "0.5,2"], "horizon")]:
        try:
            code = main(["switching", "--quiet", *argv])
        except SystemExit as exc:                 # argparse refuses a bad --threshold
            code = exc.code
        assert code == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
