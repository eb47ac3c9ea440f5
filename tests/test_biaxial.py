"""Issue 25, items 1-2: the biaxial (easy axis + hard axis) energy and the field-like ratio.

The references are written here: Gilbert's equation with the biaxial effective field, solved
for n' at every point (as tests/test_torque_form.py does), the Boltzmann state's gradient,
and the base commit's numbers for the defaults."""

import math

import numpy as np
import pytest

import fpstt
from fpstt.runs.config import load_config
from fpstt.physics.constants import BOLTZMANN, GYROMAGNETIC_RATIO
from fpstt.sphere.grid import SphereGrid, unit_vector
from fpstt.physics.initial import BoltzmannState, initial_state
from fpstt.physics.magnet import critical_drive, magnet_moment, thermal_stability
from fpstt.runs.montecarlo import simulate
from fpstt.numerics.operator import fokker_planck_matrix
from fpstt.physics.quantities import magnet_quantities

Z = np.array([0.0, 0.0, 1.0])
EASY = (1.1, 2.0)
HARD = (1.1 + math.pi / 2, 2.0)                     # in the plane of z' and e, ⊥ e
# tilted field kept on, tilted easy and hard axes, damping, Table I current: nothing is axial
BIAXIAL = fpstt.table_i(B=0.05, B_theta=0.8, B_phi=0.4, B_k=0.1, easy_theta=EASY[0],
                        easy_phi=EASY[1], B_d=0.8, hard_theta=HARD[0], hard_phi=HARD[1],
                        alpha=0.3, field_like_ratio=-0.4)


def _cross_matrix(n):
    return np.array([[0, -n[2], n[1]], [n[2], 0, -n[0]], [-n[1], n[0], 0]])


def _velocity(n, micro, torque_form):
    """n' of the noiseless magnet: the biaxial B_eff = B + B_k (n.e) e - B_d (n.h) h written
    here; Eq. (11)'s torque with C_F = beta C_D; Gilbert's equation n' = Omega x n + tau +
    alpha n x n' solved as a linear system ("gilbert"), or Gilbert's equation for the field
    alone plus tau ("rates")."""
    gamma_tn = GYROMAGNETIC_RATIO * micro.t_n
    e = np.array(unit_vector(micro.easy_theta, micro.easy_phi))
    h = np.array(unit_vector(micro.hard_theta, micro.hard_phi))
    field = micro.B * np.array(unit_vector(micro.B_theta, micro.B_phi))
    omega = gamma_tn * (field + micro.B_k * (n @ e) * e - micro.B_d * (n @ h) * h)
    c_d = fpstt.derived_coefficients(fpstt.table_i(n_e=micro.n_e)).C1.imag     # Eq. (14a)
    c_f = micro.field_like_ratio * c_d
    tau = c_f * np.cross(Z, n) + c_d * np.cross(n, np.cross(Z, n))
    gilbert = np.eye(3) - micro.alpha * _cross_matrix(n)
    if torque_form == "gilbert":
        return np.linalg.solve(gilbert, np.cross(omega, n) + tau)
    return np.linalg.solve(gilbert, np.cross(omega, n)) + tau


def _model_velocity(model, theta, phi):
    """n' from the model's (theta, phi) drift: theta' e_theta + sin(theta) phi' e_phi."""
    mu_t, mu_p = model.drift(theta, phi)
    e_t = np.array([math.cos(theta) * math.cos(phi), math.cos(theta) * math.sin(phi),
                    -math.sin(theta)])
    e_p = np.array([-math.sin(phi), math.cos(phi), 0.0])
    return float(mu_t) * e_t + math.sin(theta) * float(mu_p) * e_p


@pytest.mark.parametrize("torque_form", ["gilbert", "rates"])
def test_drift_is_gilberts_equation_with_the_biaxial_field(torque_form):
    """The model's drift against the Gilbert reference at 60 points: ≤ 1e-12 relative."""
    assert abs(np.dot(unit_vector(*EASY), unit_vector(*HARD))) < 1e-15
    model = fpstt.SpinTorqueModel.from_microscopic(BIAXIAL, field_on=True,
                                                   torque_form=torque_form).with_options(C2=0j)
    assert not model.phi_independent
    rng = np.random.default_rng(1)
    worst = 0.0
    for theta, phi in zip(rng.uniform(0.05, math.pi - 0.05, 60), rng.uniform(0, 2 * math.pi, 60)):
        n = np.array(unit_vector(theta, phi))
        reference = _velocity(n, BIAXIAL, torque_form)
        worst = max(worst, np.abs(_model_velocity(model, theta, phi) - reference).max()
                    / np.abs(reference).max())
    assert worst <= 1e-12
    # the hard axis is felt: without it the drift differs by O(1)
    plain = fpstt.SpinTorqueModel.from_microscopic(
        fpstt.table_i(**{**BIAXIAL.to_dict(), "B_d": 0.0}), field_on=True,
        torque_form=torque_form).with_options(C2=0j)
    assert abs(_model_velocity(plain, 1.0, 0.5)
               - _model_velocity(model, 1.0, 0.5)).max() > 1.0


def test_hard_axis_along_z_is_axial_and_off_z_is_not():
    """phi_independent: an easy-plane magnet about z' (B_k = 0, h = z') keeps the symmetry;
    a hard axis off z' breaks it, and so does the default (x') with the easy axis z'."""
    base = dict(B=0.0, alpha=0.1)
    axial = fpstt.table_i(B_d=1.0, hard_theta=0.0, easy_theta=math.pi / 2, **base)
    assert fpstt.SpinTorqueModel.from_microscopic(axial).phi_independent
    in_plane = fpstt.table_i(B_k=0.05, B_d=1.0, **base)               # e = z', h = x'
    assert not fpstt.SpinTorqueModel.from_microscopic(in_plane).phi_independent


def _stationary_magnet(B_d=0.8):
    """No current; tilted field, tilted easy and hard axes, damping, Brown noise (t_n = 1 ns;
    Delta = 2.2, the hard axis 18 k_B T)."""
    return fpstt.table_i(n_e=0.0, B=0.05, B_theta=0.6, B_phi=0.3, B_k=0.1, easy_theta=EASY[0],
                         easy_phi=EASY[1], B_d=B_d, hard_theta=HARD[0], hard_phi=HARD[1],
                         alpha=0.5, T=300.0)


def test_boltzmann_state_balances_precession_and_damping():
    """Precession runs along the energy contours (grad log P . v = 0) and the damping is
    Brown's D times grad log P (fluctuation-dissipation), so exp(-E/k_B T) is stationary:
    both to 1e-7 of the drift (central differences of the state's own exponent)."""
    micro = _stationary_magnet()
    state = BoltzmannState.from_microscopic(micro)
    assert state.hard == pytest.approx(magnet_moment(micro) * 0.8 / (2 * BOLTZMANN * 300.0))
    damped = fpstt.SpinTorqueModel.from_microscopic(micro, field_on=True, thermal=True)
    D, scale = damped.thermal_D, 1 / (1 + micro.alpha ** 2)
    precession = damped.with_options(alpha=0.0, thermal_D=0.0)     # Omega x n
    th, ph = np.meshgrid(np.linspace(0.2, 2.9, 7), np.linspace(0.1, 6.1, 9), indexing="ij")
    eps = 1e-6
    log_p = lambda t, f: np.log(state.per_area(t, f))                      # noqa: E731
    g_t = (log_p(th + eps, ph) - log_p(th - eps, ph)) / (2 * eps)
    g_p = (log_p(th, ph + eps) - log_p(th, ph - eps)) / (2 * eps)
    mu_t, mu_p = (scale * v for v in precession.drift(th, ph))
    size = np.hypot(mu_t, np.sin(th) * mu_p).max()
    assert np.abs(g_t * mu_t + g_p * mu_p).max() <= 1e-7 * size * np.hypot(g_t, g_p).max()
    # damping part of the drift = D grad_S log P (metric: theta, sin(theta) phi)
    full_t, full_p = damped.with_options(thermal_D=0.0).drift(th, ph)
    d_t, d_p = full_t - mu_t, full_p - mu_p
    assert np.abs(d_t - D * g_t).max() <= 1e-7 * size
    assert np.abs(d_p - D * g_p / np.sin(th) ** 2).max() <= 1e-7 * size


def test_fokker_planck_residual_of_boltzmann_falls_with_refinement():
    """L p_B on cell averages of exp(-E/k_B T): small against the size of its terms and
    falling at least 3x per halving of the cells (second order would be 4x)."""
    micro = _stationary_magnet()
    model = fpstt.SpinTorqueModel.from_microscopic(micro, field_on=True, thermal=True)
    state = BoltzmannState.from_microscopic(micro)
    ratios = []
    for n in (48, 96, 192):
        grid = SphereGrid.uniform(n, 2 * n)
        p = state.cell_averages(grid).ravel()
        L = fokker_planck_matrix(model, grid)
        ratios.append(np.abs(L @ p).sum() / (abs(L) @ np.abs(p)).sum())
    assert ratios[-1] <= 1e-3
    assert ratios[0] / ratios[1] >= 3 and ratios[1] / ratios[2] >= 3


def test_defaults_are_todays_model_bit_for_bit():
    """B_d = 0 (any hard axis) and no field_like_ratio: C1, C2, drift, diffusion, the Gibbs
    state equal, bit for bit, the numbers of the base commit 4342d32 (computed there with
    this script's inputs), and a Monte Carlo mean to 1e-13."""
    base = {"gilbert": ((1.523164371344184 + 5.964638860583192j),
                        (0.003932793495835013 + 0.015400631315453531j),
                        [[-1.65927490781573, -5.633634663980597, -3.4803330266347543,
                          -0.9223665061301374],
                         [1.5439123939419426, 1.5786079745216268, 1.5651537344580833,
                          2.2799746850795137]],
                        [0.010935584035387266, 0.010929541404615535, 0.010933489537978647,
                         0.010936105402792792]),
            "rates": ((3.312556029519142 + 5.507689549179938j),
                      (0.008552982890471073 + 0.014220793266703027j),
                      [[-1.5242371528760836, -5.207740045446955, -3.2068615924924226,
                        -0.8578818156219592],
                       [3.3333040521169006, 3.367999632696585, 3.3545453926330415,
                        4.0693663432544716]],
                      [0.010944434168434738, 0.010915854382038185, 0.010934527839418824,
                       0.010946900076024817])}
    th, ph = np.array([0.3, 1.2, 2.5, 3.0]), np.array([0.1, 2.0, 4.0, 5.5])
    for hard in ({}, {"hard_theta": 0.3, "hard_phi": 1.0}):
        micro = fpstt.table_i(B=0.05, B_theta=0.8, B_phi=0.4, B_k=0.1, easy_theta=1.1,
                              easy_phi=2.0, alpha=0.3, T=300.0, t_n=1e-11, **hard)
        for form, (c1, c2, drift, d_tt) in base.items():
            m = fpstt.SpinTorqueModel.from_microscopic(micro, field_on=True, thermal=True,
                                                       torque_form=form)
            assert (m.C1, m.C2) == (c1, c2)
            assert [v.tolist() for v in m.drift(th, ph)] == drift
            assert m.diffusion(th, ph)[0].tolist() == d_tt
        state = initial_state(micro)
        assert state.per_area(th, ph).tolist() == [0.1517136741043578, 0.25597268072511176,
                                                   0.004315451831325357, 0.007905199939724944]
        m = fpstt.SpinTorqueModel.from_microscopic(micro, field_on=True, thermal=True)
        mc = simulate(m, state, [0.2], 200, dt=0.01, seed=3)
        # the same random numbers and steps: equal but for the last bits of numpy's
        # vectorised transcendentals (numpy 2.4 moved n_y by 3e-17)
        assert mc.mean[0] == pytest.approx([0.12075235646849769, 0.09071754079885073,
                                            0.8783283307996567], rel=1e-13, abs=0)
    assert fpstt.table_i().field_like_ratio is None and fpstt.table_i().B_d == 0.0


def test_field_like_ratio_sets_re_c1_and_maps_like_gilbert():
    """beta sets Re C1 = beta Im C1 of Eq. (11) (Im C1 and C2 are Eq. 14's); in the Gilbert
    form the Landau-Lifshitz rates are Im C1 (beta - alpha, 1 + alpha beta) / (1 + alpha^2);
    params prints beta (Eq. 14a's own, 0.601, by default) and omega_d."""
    table = fpstt.derived_coefficients(fpstt.table_i())
    assert magnet_quantities(fpstt.table_i())["field_like_ratio"] == pytest.approx(0.601442,
                                                                                 abs=1e-6)
    for beta in (0.0, 0.3, -1.5):
        d = fpstt.derived_coefficients(fpstt.table_i(field_like_ratio=beta))
        assert (d.C1, d.C2) == (complex(beta * table.C1.imag, table.C1.imag), table.C2)
        micro = fpstt.table_i(field_like_ratio=beta, alpha=0.2, B_d=1.0)
        q = magnet_quantities(micro)
        a, c_d = 0.2, table.C1.imag
        assert q["field_like_rate"] == pytest.approx(c_d * (beta - a) / (1 + a * a), rel=1e-13)
        assert q["damping_like_rate"] == pytest.approx(c_d * (1 + a * beta) / (1 + a * a),
                                                       rel=1e-13)
        assert q["field_like_ratio"] == pytest.approx(beta, abs=1e-15)
        assert q["omega_d"] == pytest.approx(GYROMAGNETIC_RATIO * 1.0 * 1e-9)


def test_barrier_and_critical_drive_of_an_in_plane_magnet():
    """Delta = M B_k / 2 k_B T is still the zero-field barrier with a hard axis (the saddle
    e x h; here by minimising E on the great circle through it), and the critical drive
    alpha gamma (B_k + B_d / 2) t_n / (1 + alpha^2) is where the trace of the linearised
    drift at -z' changes sign (Gilbert reference, e = z', h = x')."""
    alpha = 0.02
    micro = fpstt.table_i(B=0.0, B_k=0.05, B_d=1.0, alpha=alpha, T=300.0, n_e=0.0)
    e, h = Z, np.array([1.0, 0.0, 0.0])
    psi = np.linspace(0, 2 * np.pi, 20001)[:, None]

    def barrier(through):         # E(max) - E(min) on the great circle through e and `through`
        n = np.cos(psi) * e + np.sin(psi) * through
        energy = -0.5 * micro.B_k * (n @ e) ** 2 + 0.5 * micro.B_d * (n @ h) ** 2
        return magnet_moment(micro) * (energy.max() - energy.min()) / (BOLTZMANN * micro.T)

    delta = thermal_stability(micro)
    assert barrier(np.cross(e, h)) == pytest.approx(delta, rel=1e-12)          # 4.5 k_B T
    assert barrier(h) == pytest.approx(delta * (1 + micro.B_d / micro.B_k), rel=1e-12)
    critical = critical_drive(micro)
    assert critical == pytest.approx(alpha * GYROMAGNETIC_RATIO * 0.55e-9 / (1 + alpha ** 2),
                                     rel=1e-14)
    per_electron = fpstt.derived_coefficients(fpstt.table_i(n_e=1.0)).C1.imag

    def trace(rate):
        """Trace of the linearised Gilbert velocity at -z' (tangent coordinates x, y) at the
        Landau-Lifshitz damping-like rate ``rate`` (beta = 0: C_D = rate (1 + alpha^2))."""
        m = fpstt.table_i(**{**micro.to_dict(), "field_like_ratio": 0.0,
                             "n_e": rate * (1 + alpha ** 2) / per_electron})
        eps, total = 1e-6, 0.0
        for k in range(2):
            step = eps * np.eye(3)[k]
            ends = [np.array([*(sign * step[:2]), -math.sqrt(1 - eps ** 2)]) for sign in (1, -1)]
            total += (_velocity(ends[0], m, "gilbert")[k]
                      - _velocity(ends[1], m, "gilbert")[k]) / (2 * eps)
        return total

    assert trace(0.98 * critical) < 0 < trace(1.02 * critical)


def test_bad_inputs_are_refused_in_one_line(tmp_path):
    cases = [(dict(B_d=-0.1), "`B_d` must be finite and ≥ 0"),
             (dict(B_d=math.nan), "`B_d` must be finite and ≥ 0"),
             (dict(B_d=1.0, hard_theta=0.2), "must be perpendicular to the easy axis"),
             (dict(hard_phi=math.inf), "`hard_phi` must be finite"),
             (dict(field_like_ratio=math.inf), "`field_like_ratio` must be finite")]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message) as info:
            fpstt.table_i(**kwargs)
        assert "\n" not in str(info.value)
    fpstt.table_i(hard_theta=0.2)                         # B_d = 0: any hard axis is fine
    for kwargs, message in [(dict(hard_anisotropy=-1.0), "`hard_anisotropy` must be finite"),
                            (dict(hard_axis=(0, 0, 0)), "`hard_axis` must be a non-zero")]:
        with pytest.raises(ValueError, match=message):
            fpstt.SpinTorqueModel(1j, 0j, **kwargs)
    for body, message in [("B_d = 1.0\nhard_theta = 0.1", "perpendicular to the easy axis"),
                          ("field_like_ratio = \"big\"", "`field_like_ratio` has the wrong type"),
                          ("B_d = true", "`B_d` has the wrong type"),
                          ("hard_axis = 1.0", "unknown key `hard_axis`")]:
        path = tmp_path / "bad.toml"
        path.write_text(f"[microscopic]\n{body}\n")
        with pytest.raises(ValueError, match=message) as info:
            load_config(path)
        assert "\n" not in str(info.value)
    path.write_text("[microscopic]\nn_e = 0.0\nB_d = 1.0\nfield_like_ratio = 0.2\n")
    cfg = load_config(path)
    assert (cfg.micro.B_d, cfg.micro.field_like_ratio) == (1.0, 0.2)
    assert cfg.build_model().hard_anisotropy == pytest.approx(GYROMAGNETIC_RATIO * 1e-9)


def _relaxing_magnet():
    """The stationary test's magnet with a softer hard axis (B_d = 0.2 T, 4.5 k_B T)."""
    return _stationary_magnet(B_d=0.2)


def test_monte_carlo_relaxes_to_boltzmann():
    """Monte Carlo (Brown noise, no current) from a vMF state at the far side reaches
    exp(-E/k_B T): <n> within 4 standard errors at 6 t_n (about 10 escape times)."""
    micro = _relaxing_magnet()
    model = fpstt.SpinTorqueModel.from_microscopic(micro, field_on=True, thermal=True)
    exact = BoltzmannState.from_microscopic(micro)
    start = fpstt.GibbsState(50.0, 2.5, 4.0)
    mc = simulate(model, start, [0.0, 6.0], 6000, dt=2e-3, seed=5)
    assert np.abs(mc.mean[0] - exact.mean_direction).max() > 0.5
    z = np.abs(mc.mean[-1] - exact.mean_direction) / mc.stderr[-1]
    assert z.max() <= 4


def test_an_attractor_at_the_pole_gets_its_chart():
    """A driven biaxial magnet with its easy axis along z' flows to the pole, where the
    (theta, phi) drift is 0/0: the attractor search follows the Cartesian velocity, which
    equals the drift elsewhere and is regular there."""
    micro = fpstt.table_i(B_d=1.0, B_k=0.1, alpha=0.1)
    model = fpstt.SpinTorqueModel.from_microscopic(micro, field_on=True).with_options(C2=0)
    rng = np.random.default_rng(1)
    theta, phi = rng.uniform(0.1, 3.0, 50), rng.uniform(0, 2 * np.pi, 50)
    s, c = np.sin(theta), np.cos(theta)
    mu_t, mu_p = model.drift(theta, phi)
    e_t = np.array([c * np.cos(phi), c * np.sin(phi), -s])
    e_p = np.array([-np.sin(phi), np.cos(phi), 0 * phi])
    n = np.array([s * np.cos(phi), s * np.sin(phi), c])
    assert np.allclose(model.noiseless_velocity(n), mu_t * e_t + s * mu_p * e_p,
                       rtol=0, atol=1e-12)
    driven = fpstt.SpinTorqueModel.from_microscopic(fpstt.table_i(B_d=1.0))
    with np.errstate(divide="raise", invalid="raise"):
        grid = fpstt.default_grid(driven, [0, 1],
                                  initial=fpstt.GibbsState.from_microscopic(fpstt.table_i()))
    assert grid.plan.kind == "attractor"
    assert abs(grid.chart.zeta_s) < 1e-9                 # its pole is z' itself
