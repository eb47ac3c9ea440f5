"""The attractor search (fpstt.flow.attractor): fixed points of the noiseless flow, found fast."""

import numpy as np
import pytest

import fpstt.flow.attractor as attractor_module
from fpstt.flow.attractor import _fast_velocity, attractor_chart, settle
from fpstt.runs.config import RunConfig
from fpstt.physics.microscopic import table_i

# model-space seed 2 (validation/results/model_space_seed2.json): row 4, an undamped tilted
# easy axis with a weak drive (contraction 0.115 per t_n against precession at 82 rad per
# t_n: 42 s in the old search); row 10, a damped one with Brown noise whose backward run
# never settles (> 130 s)
ROW_4 = {"microscopic": dict(B=0.09647618088753547, B_theta=2.1492715403217915,
                             B_phi=4.3292851843798985, alpha=0.0, B_k=0.46358346770079556,
                             easy_theta=2.9145565225941628, easy_phi=1.8637581962595666,
                             T=3.0, n_e=3215.0966727099026),
         "model": {"field_on": False, "thermal": False, "reading": "lab",
                   "interpretation": "stratonovich", "torque_form": "gilbert"},
         "initial": {"kind": "vmf", "theta": 1.679269164531947, "phi": 2.000522213625733,
                     "kappa": 13.259693149236803}}
ROW_10 = {"microscopic": dict(B=0.0013991021028433527, B_theta=0.9538988544487786,
                              B_phi=4.573098292697877, alpha=0.7147771833165857,
                              B_k=0.03801660002238333, easy_theta=2.727729408317972,
                              easy_phi=4.395681651896174, T=3.0, n_e=8059.626127027042),
          "model": {"field_on": False, "thermal": True, "reading": "eq17",
                    "interpretation": "stratonovich", "torque_form": "gilbert"},
          "initial": {"kind": "gibbs"}}


def _built(config):
    cfg = RunConfig(micro=table_i(**config["microscopic"]))
    cfg.model.update(config["model"])
    cfg.initial.update(config["initial"])
    return cfg.build_model(), cfg.build_gibbs()


def _easy_axis(config):
    m = config["microscopic"]
    t, f = m["easy_theta"], m["easy_phi"]
    return np.array([np.sin(t) * np.cos(f), np.sin(t) * np.sin(f), np.cos(t)])


@pytest.mark.parametrize("config", [ROW_4, ROW_10], ids=["row4-undamped", "row10-brown"])
def test_attractor_chart_of_a_weakly_driven_easy_axis_is_found_quickly(config, monkeypatch):
    """The search is counted in RK4 steps, not timed: the old one took 100 000 steps (42 s)
    on row 4 and more than 130 s on row 10; now under 30 000 (about 4 s)."""
    model, start = _built(config)
    steps, rk4 = [], attractor_module._rk4
    monkeypatch.setattr(attractor_module, "_rk4", lambda velocity, x, h, k: steps.append(
        k * (x.shape[1] if x.ndim == 2 else 1)) or rk4(velocity, x, h, k))
    chart = attractor_chart(model, start.direction)
    assert sum(steps) < 30_000
    point, took = settle(model, start.direction, abs(model.C1))
    velocity = _fast_velocity(model.noiseless())
    assert np.linalg.norm(velocity(point)) < 1e-10 * np.linalg.norm(velocity(start.direction))
    # a weak drive moves the attractor only slightly off the easy axis (here -e)
    assert np.degrees(np.arccos(abs(point @ _easy_axis(config)))) < 15
    assert chart.lam.real < 0 and took > 0


@pytest.mark.parametrize("config", [ROW_4, ROW_10], ids=["row4-undamped", "row10-brown"])
def test_fast_velocity_is_the_models_own(config):
    model, _ = _built(config)
    flow = model.noiseless()
    n = np.random.default_rng(3).normal(size=(3, 50))
    n /= np.linalg.norm(n, axis=0)
    fast = np.array([_fast_velocity(flow)(v) for v in n.T]).T
    assert np.max(np.abs(fast - flow.noiseless_velocity(n))) < 1e-11


def test_compiled_search_steps_match_numpy_rk4():
    """The compiled RK4 of a cubic velocity (the search's steps) against the same RK4 in
    numpy: to round-off over 500 steps, for one start and for several."""
    model, _ = _built(ROW_4)
    velocity = _fast_velocity(model.noiseless())
    assert isinstance(velocity, attractor_module._Cubic)
    rng = np.random.default_rng(2)
    starts = rng.normal(size=(3, 5))
    starts /= np.linalg.norm(starts, axis=0)
    by_numpy = starts.copy()
    for _ in range(500):
        a = velocity(by_numpy)
        b = velocity(attractor_module._unit(by_numpy + 0.5e-3 * a))
        c = velocity(attractor_module._unit(by_numpy + 0.5e-3 * b))
        d = velocity(attractor_module._unit(by_numpy + 1e-3 * c))
        by_numpy = attractor_module._unit(by_numpy + 1e-3 / 6 * (a + 2 * b + 2 * c + d))
    compiled = attractor_module._rk4(velocity, starts, 1e-3, 500)
    assert np.max(np.abs(compiled - by_numpy)) < 1e-12
    assert np.allclose(attractor_module._rk4(velocity, starts[:, 0], 1e-3, 500), compiled[:, 0],
                       rtol=0, atol=1e-15)
