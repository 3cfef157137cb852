"""Body driver models (cap_sphere, baffle_edge): closed forms, independent series, limits,
normalisation, continuity, symmetry, and where they must agree with the piston."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import driver_toml
from scipy.integrate import quad
from scipy.special import eval_legendre, j0, j1, spherical_jn, spherical_yn

from common.errors import InputError
from models import (bundled_arrays, ear_transfer, farfield_transfer, heldout_grid,
                    load_array)
from models._baffle_edge import baffle_step, shadow_weight
from models._cap_sphere import cap_directivity, cap_weights, inverse_derivatives
from models._head_sphere import SphereHead, series_length
from models.drivers import DRIVER_MODELS

C = 343.0
BODY_MODELS = ["cap_sphere", "baffle_edge"]


def one_driver(make_array, radius_m=0.0255, body_radius_m=0.0875, axis=(0.0, 1.0, 0.0),
               position_m=(0.0, 0.0875, 0.04)):
    """A single-driver array with an explicit body radius."""
    return make_array(driver_toml(radius_m=float(radius_m), axis=axis, position_m=position_m)
                      + f"body_radius_m = {float(body_radius_m)!r}\n")


def hankel(n, x, derivative=False):
    """Outgoing spherical Hankel function for exp(+j w t): h_n = j_n - j y_n."""
    return spherical_jn(n, x, derivative) - 1j * spherical_yn(n, x, derivative)


def direct_cap_pressure(f, body, alpha, r, cos_theta, n_terms):
    """Cap pressure term by term: U_n by quadrature of P_n over the cap, SciPy Hankels,
    normalised so that r exp(jkr) p -> 1 on axis far away (r re the sphere centre + body)."""
    k = 2 * np.pi * f / C
    ka = k * body
    n = np.arange(n_terms + 1)
    u = np.array([(2 * m + 1) / 2 * quad(lambda x: eval_legendre(m, x), np.cos(alpha), 1.0,
                                         epsabs=1e-14)[0] for m in n])
    deriv = hankel(n, ka, True)
    on_axis = np.sum(u * 1j**n / deriv)  # far-field F(0)
    series = np.sum(u * eval_legendre(n, cos_theta) * hankel(n, k * r) / deriv)
    return -1j * k * np.exp(1j * ka) / on_axis * series


def directivity(model, array, freqs, az_deg):
    """(F, A, D) far field with the phase re each driver's own position (D of the docs)."""
    g = farfield_transfer(array, freqs, az_deg, driver_model=model)
    t = np.radians(np.asarray(az_deg, float))
    u = np.stack([np.cos(t), np.sin(t), np.zeros_like(t)], axis=-1)
    k = 2 * np.pi * np.asarray(freqs, float) / C
    return g * np.exp(-1j * k[:, None, None] * (u @ array.positions_m.T)[None])


# --- cap_sphere -------------------------------------------------------------------------


@pytest.mark.parametrize("alpha_deg", [2.0, 17.0, 40.0, 53.0])
def test_cap_coefficients_are_the_legendre_integrals(alpha_deg):
    c = np.cos(np.radians(alpha_deg))
    weights = cap_weights(np.array([c]), 12)[:, 0]
    expected = [(2 * n + 1) / 2 * quad(lambda x: eval_legendre(n, x), c, 1.0, epsabs=1e-14)[0]
                for n in range(13)]
    np.testing.assert_allclose(weights, expected, atol=1e-13)


@pytest.mark.parametrize("f, r, theta_deg", [(50.0, 0.5, 30.0), (700.0, 2.0, 100.0),
                                             (3000.0, 0.3, 170.0), (9000.0, 1.7, 60.0),
                                             (20000.0, 2.5, 91.0)])
def test_pressure_matches_a_direct_series_with_ten_more_terms(make_array, f, r, theta_deg):
    body, radius = 0.0875, 0.0255
    array = one_driver(make_array, radius, body, axis=(1.0, 0.0, 0.0), position_m=(body, 0, 0))
    t = np.radians(theta_deg)  # about the sphere centre (the origin here), from the axis
    point = np.array([[r * np.cos(t), r * np.sin(t), 0.0]])
    got = DRIVER_MODELS["cap_sphere"].pressure(array, np.array([f]), point)[0, 0, 0]
    n_terms = int(series_length(2 * np.pi * f / C * body, r / body)) + 10
    expected = direct_cap_pressure(f, body, np.arcsin(radius / body), r, np.cos(t), n_terms)
    assert abs(got - expected) <= 1e-9 * abs(expected)


def test_far_field_series_converged_at_its_term_count():
    ka = np.array([1e-3, 0.1, 1.0, 5.0, 20.0, 45.0])
    inverse, more_terms = inverse_derivatives(ka), inverse_derivatives(ka, extra_terms=10)
    n = np.arange(inverse.shape[1])
    used = inverse != 0
    with np.errstate(invalid="ignore", over="ignore"):  # unused orders overflow at small ka
        scipy = np.exp(-1j * ka[:, None]) / hankel(n[None], ka[:, None], True)
    np.testing.assert_allclose(inverse[used], np.broadcast_to(scipy, used.shape)[used], rtol=1e-10)
    cos_theta = np.cos(np.radians(np.linspace(0.0, 180.0, 19)))
    weights = cap_weights(np.cos(np.radians([17.0, 53.0])), 200)
    for g in range(2):
        base = cap_directivity(inverse, weights[:, g], cos_theta)
        more = cap_directivity(more_terms, weights[:, g], cos_theta)
        scale = np.abs(base).max(axis=1, keepdims=True)
        assert np.all(np.abs(more - base) <= 1e-10 * scale)


@pytest.mark.parametrize("model", BODY_MODELS)
def test_unity_on_axis_far_field(studio, model):
    freqs = np.concatenate([[0.0, 1.0], np.geomspace(10.0, 24000.0, 60)])
    g = DRIVER_MODELS[model].farfield(studio, freqs, studio.axes)  # (F, D, D)
    on_axis = g[:, np.arange(5), np.arange(5)]
    k = 2 * np.pi * freqs / C
    lead = np.sum(studio.axes * studio.positions_m, axis=1)
    np.testing.assert_allclose(on_axis, np.exp(1j * k[:, None] * lead[None]), atol=1e-12)


@pytest.mark.parametrize("alpha_deg", [5.0, 17.0, 40.0])
def test_low_frequency_monopole_with_its_first_correction(make_array, alpha_deg):
    # ka -> 0: omnidirectional; to first order D = 1 + j ka (1 - cos t)(1 - 3 (1 + cos a) / 4)
    # (the n = 1 term over the n = 0 term, h'_0 / h'_1 -> ka / 2, U_1 / U_0 = 3 (1 + cos a) / 2;
    # the low-frequency acoustic centre lies in front of the cap).
    body = 0.1
    radius = body * np.sin(np.radians(alpha_deg))
    array = one_driver(make_array, radius, body, axis=(1.0, 0.0, 0.0), position_m=(0, 0, 0))
    az = np.linspace(0.0, 180.0, 37)
    for ka in (1e-3, 1e-2):
        f = ka * C / (2 * np.pi * body)
        d = directivity("cap_sphere", array, [f], az)[0, :, 0]
        centre = 1 - 0.75 * (1 + np.cos(np.radians(alpha_deg)))
        first = 1 + 1j * ka * (1 - np.cos(np.radians(az))) * centre
        assert np.abs(np.abs(d) - 1).max() < 2 * ka**2
        assert np.abs(d - first).max() < 3 * ka**2


@pytest.mark.parametrize("r, theta_deg", [(0.15, 10.0), (0.3, 70.0), (2.0, 180.0), (0.16, 120.0)])
def test_zero_hz_is_potential_flow_from_a_point_on_the_sphere(make_array, r, theta_deg):
    # A vanishing cap is a point source on the sphere: at 0 Hz the potential-flow closed form
    # (1/r) sum (2m+1)/(m+1) P_m t^m = (2/R - ln((t - x + R)/(1 - x))/t) / r, t = a / r.
    body = 0.1
    array = one_driver(make_array, 1e-4 * body, body, axis=(1.0, 0.0, 0.0), position_m=(body, 0, 0))
    t_rad = np.radians(theta_deg)
    point = np.array([[r * np.cos(t_rad), r * np.sin(t_rad), 0.0]])
    got = DRIVER_MODELS["cap_sphere"].pressure(array, np.array([0.0]), point)[0, 0, 0]
    t, x = body / r, np.cos(t_rad)
    big_r = np.sqrt(1 - 2 * x * t + t**2)
    expected = (2 / big_r - np.log((t - x + big_r) / (1 - x)) / t) / r
    assert got.imag == 0 and got.real == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("f", [300.0, 2000.0, 8000.0, 18000.0])
def test_small_cap_is_the_point_source_on_a_rigid_sphere(make_array, f):
    # Reciprocity: a point source at a surface point makes at x what a source at x makes at
    # that surface point, i.e. the rigid-sphere head's series (ear at the cap).
    body = 0.0875
    array = one_driver(make_array, 2e-3 * body, body, axis=(1.0, 0.0, 0.0), position_m=(body, 0, 0))
    angles = np.radians([0.0, 40.0, 90.0, 135.0, 180.0])
    ranges = np.array([0.2, 1.0, 3.0])
    points = np.array([[r * np.cos(t), r * np.sin(t), 0.0] for r in ranges for t in angles])
    cap = DRIVER_MODELS["cap_sphere"].pressure(array, np.array([f]), points)[0, :, 0]
    # Head frame x forward, y left: turn the points so that the left ear (+y) is the cap (+x).
    head = SphereHead(radius_m=body, ear_angle_deg=90.0)
    sources = np.stack([-points[:, 1], points[:, 0], points[:, 2]], axis=-1)[None]
    h = head.relative_response(np.array([f]), sources, C)[0, 0, 0]  # left ear
    distance = np.linalg.norm(points, axis=1)
    point_source = h * np.exp(-2j * np.pi * f / C * distance) / distance
    ratio = cap / point_source
    np.testing.assert_allclose(ratio / ratio[0], 1.0, atol=2e-3)


@pytest.mark.parametrize("name", BODY_MODELS)
def test_near_field_tends_to_the_far_field(studio, name):
    freqs = np.array([0.0, 100.0, 1000.0, 5000.0, 16000.0])
    k = 2 * np.pi * freqs / C
    model = DRIVER_MODELS[name]
    u = np.array([[0.3, 0.8, 0.2], [-0.9, 0.1, -0.3], [0.0, -1.0, 0.0]])
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    lead = u @ studio.positions_m.T
    far = model.farfield(studio, freqs, u) * np.exp(-1j * k[:, None, None] * lead)
    errors = []
    for distance in (30.0, 300.0, 3000.0):
        points = u * distance
        r = np.linalg.norm(points[:, None] - studio.positions_m[None], axis=-1)  # (P, D)
        near = model.pressure(studio, freqs, points) * r * np.exp(1j * k[:, None, None] * r)
        errors.append(np.abs(near - far).max())
    assert errors[2] < 1e-3 and errors[0] / errors[2] > 50  # the 1/r approach


@pytest.mark.parametrize("model", BODY_MODELS)
def test_continuous_over_a_fine_angle_grid(studio, model):
    freqs = np.array([150.0, 1000.0, 4000.0, 12000.0, 24000.0])
    az = np.arange(-180.0, 180.0, 0.1)
    d = directivity(model, studio, freqs, az)
    step = np.radians(0.1)
    ka = 2 * np.pi * freqs / C * 0.103  # the largest body
    first = np.abs(np.diff(d, axis=1)).max(axis=(1, 2))
    second = np.abs(np.diff(d, 2, axis=1)).max(axis=(1, 2))
    assert np.all(first <= 0.5 * (ka + 1) * step)  # slope bounded by ~ka: no jumps
    assert np.all(second <= 0.3 * (ka + 1) ** 2 * step**2)


def test_agrees_with_the_piston_where_it_must(studio):
    # On axis both are 1; at low ka both are omnidirectional (front and back); in front the
    # body only matters toward its equator: within 1 dB up to 45 deg and within 1.5 dB up to
    # 60 deg while the driver is small (ka_driver <= 2.8, f <= 6 kHz); toward 90 deg the
    # sphere rolls off (0.3 to 5 dB below the infinite baffle, which keeps the 2-pi level).
    freqs = np.array([100.0, 500.0, 1000.0, 2000.0, 4000.0, 6000.0])
    az = 90.0 - np.array([0.0, 15.0, 30.0, 45.0, 60.0, 90.0])  # mid_right fires toward +y
    level = {m: 20 * np.log10(np.abs(farfield_transfer(studio, freqs, az, driver_model=m)[:, :, 1]))
             for m in ("piston", "cap_sphere")}
    diff = level["cap_sphere"] - level["piston"]
    assert np.abs(diff[:, :4]).max() < 1.0 and np.abs(diff[:, 4]).max() < 1.5
    assert np.all(diff[1:, 5] < -0.3) and np.all(diff[:, 5] > -5.0)


@pytest.mark.parametrize("model", BODY_MODELS)
def test_omnidirectional_at_low_frequency(studio, model):
    # The deviation is second order in k times the body radius (0.5 dB at kb = 0.25).
    low = farfield_transfer(studio, [20.0], np.arange(0.0, 360.0, 15.0), driver_model=model)
    assert np.abs(20 * np.log10(np.abs(low))).max() < 0.02


@pytest.mark.parametrize("model", BODY_MODELS)
def test_studio_mirror_symmetry(studio, model):
    freqs = np.array([0.0, 400.0, 3000.0, 11000.0])
    az = np.linspace(-180.0, 180.0, 73)
    g = farfield_transfer(studio, freqs, az, driver_model=model)
    mirror = farfield_transfer(studio, freqs, -az, driver_model=model)[:, :, [1, 0, 2, 3, 4]]
    np.testing.assert_allclose(g, mirror, atol=1e-12)
    heads = np.array([[2.0, 0.3, 0.25], [1.5, -0.2, 0.1]])
    h = ear_transfer(studio, freqs, heads, driver_model=model)
    flipped = ear_transfer(studio, freqs, heads * [1, -1, 1], driver_model=model)
    np.testing.assert_allclose(h, flipped[:, :, ::-1][:, :, :, [1, 0, 2, 3, 4]], atol=1e-12)


def test_point_inside_the_body_is_an_input_error(studio):
    with pytest.raises(InputError, match=r"cap_sphere: a point lies inside the device body"):
        ear_transfer(studio, [1000.0], np.array([[0.02, 0.0, 0.0]]), head="free",
                     driver_model="cap_sphere")


# --- baffle_edge ------------------------------------------------------------------------


def brute_force_baffle(f, radius, body, point, rim_points=4000):
    """Unequalised baffle_edge field at ``point`` (3,) for a driver at the origin firing
    along +x: the direct half-space piston and an explicit ring of ``rim_points`` secondary
    sources re-radiating (1/2 - T) of the grazing incident pressure from where they sit."""
    k = 2 * np.pi * f / C
    r = np.linalg.norm(point)
    cos_t = point[0] / r
    weight = shadow_weight(cos_t, k * body)
    jinc = lambda x: 1.0 if x == 0 else 2 * j1(x) / x  # noqa: E731
    direct = 2 * jinc(k * radius * np.sqrt(1 - cos_t**2)) * weight * np.exp(-1j * k * r) / r
    phi = 2 * np.pi * np.arange(rim_points) / rim_points
    rim = body * np.stack([np.zeros_like(phi), np.cos(phi), np.sin(phi)], axis=-1)
    incident = 2 * jinc(k * radius) * np.exp(-1j * k * body) / body  # at the rim
    d = np.linalg.norm(point - rim, axis=-1)
    edge = (0.5 - weight) * incident * body * np.mean(np.exp(-1j * k * d) / d)
    return direct + edge


@pytest.mark.parametrize("f, r, theta_deg", [(60.0, 0.5, 20.0), (900.0, 2.0, 89.0),
                                             (3000.0, 0.3, 150.0), (9000.0, 1.5, 60.0),
                                             (20000.0, 2.5, 100.0), (5000.0, 0.25, 180.0)])
def test_baffle_matches_an_explicit_ring_of_secondary_sources(make_array, f, r, theta_deg):
    radius, body = 0.0255, 0.0875
    array = one_driver(make_array, radius, body, axis=(1.0, 0.0, 0.0), position_m=(0, 0, 0))
    t = np.radians(theta_deg)
    point = np.array([r * np.cos(t), r * np.sin(t) * 0.6, r * np.sin(t) * 0.8])
    got = DRIVER_MODELS["baffle_edge"].pressure(array, np.array([f]), point[None])[0, 0, 0]
    k = 2 * np.pi * f / C
    expected = brute_force_baffle(f, radius, body, point) / baffle_step(k * radius, k * body)
    assert abs(got - expected) <= 1e-8 * abs(expected)


def test_baffle_step_is_six_db():
    # Unequalised on axis: 1 (4-pi, the sound wraps round) at low frequency, 2 (+6 dB, the
    # half-space) once the piston beams, with the rim ripple between (at most 3, +9.5 dB).
    radius, body = 0.0255, 0.0875
    freqs = np.geomspace(10.0, 40000.0, 2000)
    k = 2 * np.pi * freqs / C
    level = 20 * np.log10(np.abs(baffle_step(k * radius, k * body)))
    kb = k * body
    low = kb < 0.1  # |2 - exp(-jx)| = sqrt(5 - 4 cos x): 20 log10 -> 8.7 x^2 dB (+ ka terms)
    assert np.all(level[low] <= 10.0 * kb[low] ** 2) and np.all(level[low] >= 8.0 * kb[low] ** 2)
    assert level.min() > -1e-9 and level.max() < 20 * np.log10(3.0)
    high = level[k * radius > 8.0]  # the piston's grazing output is below -25 dB
    assert abs(np.mean(high) - 20 * np.log10(2.0)) < 0.2 and np.ptp(high) < 1.0
    far = brute_force_baffle(3000.0, radius, body, np.array([1e5, 0.0, 0.0]))
    step = baffle_step(2 * np.pi * 3000.0 / C * radius, 2 * np.pi * 3000.0 / C * body)
    assert abs(far * 1e5 * np.exp(2j * np.pi * 3000.0 / C * 1e5) - step) < 1e-4


@pytest.mark.parametrize("f", [50.0, 700.0, 2500.0, 7000.0])
def test_baffle_rear_level_and_axial_symmetry(make_array, f):
    # Straight behind only the rim is heard, +1/2 of the grazing sound, coherent from all
    # of the rim: D(180) = 2 J1(ka)/ka exp(-jkb) / (2 - 2 J1(ka)/ka exp(-jkb)); -> 1 at low f.
    radius, body = 0.0255, 0.0875
    array = one_driver(make_array, radius, body, axis=(0.0, 1.0, 0.0), position_m=(0, 0, 0))
    k = 2 * np.pi * f / C
    behind = directivity("baffle_edge", array, [f], [-90.0])[0, 0, 0]
    grazing = 2 * j1(k * radius) / (k * radius) * np.exp(-1j * k * body)
    assert behind == pytest.approx(grazing / (2 - grazing), rel=1e-12)
    # The same angle from the axis in any plane through it gives the same response.
    model = DRIVER_MODELS["baffle_edge"]
    t = np.radians(np.linspace(0.0, 180.0, 13))
    roll = np.radians(np.array([0.0, 70.0, 180.0, 250.0]))
    u = np.stack([np.sin(t)[:, None] * np.cos(roll), np.cos(t)[:, None] + 0 * roll,
                  np.sin(t)[:, None] * np.sin(roll)], axis=-1).reshape(-1, 3)
    g = model.farfield(array, np.array([f]), u)[0, :, 0].reshape(t.size, roll.size)
    assert np.abs(g - g[:, :1]).max() < 1e-12
    if f < 100.0:  # as loud as in front, 2 b / c later
        assert abs(abs(behind) - 1) < 0.01


@pytest.mark.parametrize("f", [300.0, 1500.0, 5000.0, 12000.0])
def test_baffle_far_field_closed_form_away_from_the_baffle_plane(make_array, f):
    # Outside the transition 90 +- sqrt(2/kb) rad the far field is, with the grazing sound
    # g = 2 J1(ka)/ka exp(-jkb) and the rim average J0(kb sin t), x = ka sin t:
    #   in front (2 J1(x)/x - g J0) / (2 - g),   behind g J0 / (2 - g).
    radius, body = 0.0255, 0.0875
    array = one_driver(make_array, radius, body, axis=(1.0, 0.0, 0.0), position_m=(0, 0, 0))
    k = 2 * np.pi * f / C
    width = np.degrees(min(np.pi / 2, np.sqrt(2 / (k * body))))
    theta = np.concatenate([np.linspace(0.0, 90.0 - width, 7), np.linspace(90.0 + width, 180.0, 7)])
    d = directivity("baffle_edge", array, [f], theta)[0, :, 0]
    t = np.radians(theta)
    jinc = lambda x: np.where(x == 0, 1.0, 2 * j1(x) / np.where(x == 0, 1.0, x))  # noqa: E731
    g = jinc(k * radius) * np.exp(-1j * k * body)
    rim = g * j0(k * body * np.sin(t))
    front = theta <= 90.0 - width
    expected = np.where(front, 2 * jinc(k * radius * np.sin(t)) - rim, rim) / (2 - g)
    np.testing.assert_allclose(d, expected, atol=1e-12)


def test_baffle_agrees_with_the_piston_in_front_once_the_piston_beams(studio):
    # Once ka >~ 2.5 the grazing sound that feeds the rim is down by 15-30 dB: the rim
    # ripple is then within 2 dB of the infinite-baffle piston up to 60 deg off axis.
    freqs = np.array([5000.0, 6000.0, 7000.0, 8000.0])
    az = 90.0 - np.array([0.0, 15.0, 30.0, 45.0, 60.0])
    level = {m: 20 * np.log10(np.abs(farfield_transfer(studio, freqs, az, driver_model=m)[:, :, 1]))
             for m in ("piston", "baffle_edge")}
    assert np.abs(level["baffle_edge"] - level["piston"]).max() < 2.0


@pytest.mark.parametrize("model", BODY_MODELS)
@pytest.mark.parametrize("name", bundled_arrays())
def test_every_bundled_array_is_flat_on_axis_and_finite_at_the_listener(name, model):
    array = load_array(name)
    freqs = np.concatenate([[0.0], np.geomspace(20.0, 24000.0, 15)])
    k = 2 * np.pi * freqs / array.speed_of_sound_m_s
    g = DRIVER_MODELS[model].farfield(array, freqs, array.axes)
    count = len(array.drivers)
    lead = np.sum(array.axes * array.positions_m, axis=1)
    on_axis = g[:, np.arange(count), np.arange(count)] * np.exp(-1j * k[:, None] * lead)
    assert np.abs(on_axis - 1).max() < 1e-11
    heads = heldout_grid(array.listener)[0]
    h = ear_transfer(array, freqs, heads.positions_m, heads.facing, driver_model=model)
    assert np.all(np.isfinite(h)) and np.all(np.abs(h) > 0)
