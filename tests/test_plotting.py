"""Figures: identical densities look identical, round-off draws as zero, phi wraps, and
every figure names its model."""

import numpy as np
import pytest

import fpstt
from fpstt.analysis.plotting import add_note, mass_window, plot_density


@pytest.fixture()
def ax():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def _state(kappa):
    gibbs = fpstt.GibbsState(kappa, 2.0, 0.2)
    grid = fpstt.SphereGrid.uniform(90, 96)
    return grid, gibbs.cell_averages(grid)


def test_reference_lines_sit_on_the_filled_levels(ax):
    grid, p = _state(300.0)
    filled, lines = plot_density(grid, p, reference=p.copy(), ax=ax)
    assert set(np.round(lines.levels, 12)) <= set(np.round(filled.levels, 12))
    assert filled.levels[-1] == pytest.approx(p.max(), rel=0.05)


def test_round_off_below_zero_is_drawn_as_zero(ax):
    grid, p = _state(300.0)
    p = p - 1e-12
    filled, _ = plot_density(grid, p, ax=ax)
    assert filled.levels[0] == 0 and filled.zmin >= 0


def test_a_broad_state_shows_phi_once():
    grid, p = _state(2.0)
    _, _, lo, hi = mass_window(grid, p)
    assert (lo, hi) == (0.0, 2 * np.pi)


def test_model_note_goes_under_the_title(ax):
    fig = ax.figure
    fig.suptitle("Fig. 4")
    add_note(fig, "model: interpretation ito")
    add_note(fig, "model: interpretation ito")
    assert fig._suptitle.get_text() == "Fig. 4\nmodel: interpretation ito"


def test_cli_figures_name_the_model(tmp_path, monkeypatch):
    from fpstt.cli import commands as cli
    monkeypatch.chdir(tmp_path)
    titles = []
    monkeypatch.setattr(cli, "overwriting", lambda path: None)
    original = cli._save_figure

    def spy(fig, args, note=""):
        code = original(fig, args, note)
        titles.append(fig._suptitle.get_text())
        return code
    monkeypatch.setattr(cli, "_save_figure", spy)
    quick = ["--steps-per-unit", "45", "--n-phi", "64", "--quiet", "--no-error-estimate",
             "--reading", "lab"]
    assert cli.main(["fig4", *quick]) == 0
    assert cli.main(["fig5", *quick, "--n-samples", "200"]) == 0
    assert cli.main(["fig3", "--n-samples", "200", "--quiet"]) == 0
    assert all("model: " in t for t in titles) and len(titles) == 3
    assert "stratonovich, lab reading" in titles[0]


def test_fig5_shows_std_and_residual_panels():
    from types import SimpleNamespace
    import matplotlib.pyplot as plt
    from fpstt.analysis.plotting import plot_fig5
    t = np.linspace(0, 1, 5)
    mean, std = np.ones((5, 3)), np.full((5, 3), 0.1)
    mc = SimpleNamespace(mean=mean + 1e-3, std=std, stderr=np.full((5, 3), 1e-3))
    fig = plot_fig5(t, (mean, std), mc, noiseless_std=std / 2, n_samples=100)
    axes = np.array(fig.axes).reshape(3, 3)
    assert [a.get_ylabel() for a in axes[:, 0]] == ["mean $n_x$", "std $n_x$",
                                                    "(FP - MC) / s.e."]
    residual = axes[2, 0].lines[0].get_ydata()
    np.testing.assert_allclose(residual, -1.0)
    assert any("noiseless" in line.get_label() for line in axes[1, 0].lines)
    plt.close(fig)
