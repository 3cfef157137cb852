"""Rigid-sphere head (Duda-Martens): SciPy series, classic ITD laws, bright spot, limits."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import eval_legendre, spherical_jn, spherical_yn

from common.errors import InputError
from models._head_sphere import SphereHead

A, C = 0.0875, 343.0
HEAD = SphereHead(radius_m=A)


def source(r: float, azimuth_deg: float) -> np.ndarray:
    """(1, 1, 3) head-frame source at range r, azimuth counter-clockwise from the nose."""
    t = np.radians(azimuth_deg)
    return np.array([[[r * np.cos(t), r * np.sin(t), 0.0]]])


def hankel(m, x, derivative=False):
    """Outgoing spherical Hankel function for exp(+j w t): h_m = j_m - j y_m."""
    return spherical_jn(m, x, derivative) - 1j * spherical_yn(m, x, derivative)


def scipy_point_source(f: float, r: float, cos_incidence: float) -> complex:
    """H = -(rho/mu) exp(j mu rho) sum (2m+1) P_m h_m(mu rho) / h'_m(mu), term by term."""
    mu, rho = 2 * np.pi * f * A / C, r / A
    total = 0j
    for m in range(400):
        denominator = hankel(m, mu, True)
        if abs(denominator) > 1e40:  # later terms are below 1e-25
            break
        total += (2 * m + 1) * eval_legendre(m, cos_incidence) * hankel(m, mu * rho) / denominator
    return -(rho / mu) * np.exp(1j * mu * rho) * total


def scipy_plane_wave(f: float, cos_incidence: float) -> complex:
    """Plane wave on a rigid sphere, over the incident wave at the centre:
    (-j / mu^2) sum (2m+1) j^m P_m / h'_m(mu)  (Wronskian of j_m and h_m)."""
    mu = 2 * np.pi * f * A / C
    total = 0j
    for m in range(400):
        denominator = hankel(m, mu, True)
        if abs(denominator) > 1e40:
            break
        total += (2 * m + 1) * 1j**m * eval_legendre(m, cos_incidence) / denominator
    return -1j / mu**2 * total


def ears(f, r, azimuth_deg, head=HEAD):
    """(F, 2) left and right ear response for one source."""
    return head.relative_response(np.atleast_1d(np.asarray(f, float)), source(r, azimuth_deg), C)[:, 0, :, 0]


@pytest.mark.parametrize("f, r, az", [(100, 2.0, 30), (1000, 0.3, 90), (5000, 1.0, 0),
                                      (15000, 2.0, 120), (20000, 0.15, 45), (24000, 100.0, -170)])
def test_matches_scipy_series(f, r, az):
    h = ears(f, r, az)[0]
    # Ears at +-90 deg: cos(incidence) = sin(az) for the left ear, -sin(az) for the right.
    s = np.sin(np.radians(az))
    expected = [scipy_point_source(f, r, s), scipy_point_source(f, r, -s)]
    np.testing.assert_allclose(h, expected, rtol=1e-8)


@pytest.mark.parametrize("f", [300.0, 3000.0, 12000.0])
def test_far_source_becomes_plane_wave(f):
    cos_inc = np.cos(np.radians([0.0, 60.0, 120.0, 180.0]))
    head = SphereHead(radius_m=A, ear_angle_deg=90.0)
    far = [ears(f, r, 90.0, head) for r in (1e3, 1e4)]  # left ear faces the source
    np.testing.assert_allclose(far[0], far[1], atol=2e-3)  # no longer depends on r
    # Every incidence: left ear of a source at azimuth 90 - t sees incidence t.
    got = np.array([ears(f, 1e5, 90.0 - np.degrees(np.arccos(x)))[0, 0] for x in cos_inc])
    np.testing.assert_allclose(got, [scipy_plane_wave(f, x) for x in cos_inc], atol=2e-4)


def test_bright_spot_is_plus_6_db():
    f = np.linspace(12000.0, 24000.0, 25)  # ka = 19 ... 38
    plane = 20 * np.log10(abs(ears(f, 1000.0, 90.0)[:, 0]))
    assert np.all(abs(plane - 20 * np.log10(2)) < 0.1)  # pressure doubling, within 0.1 dB
    # At 2 m the facing ear is also a - closer than the centre: + 20 log10(r / (r - a)).
    near = 20 * np.log10(abs(ears(f, 2.0, 90.0)[:, 0]))
    assert np.all(abs(near - 20 * np.log10(2 * 2.0 / (2.0 - A))) < 0.1)


def test_unity_at_low_frequency_far_away():
    # H -> 1 as f -> 0; the first-order departure is the phase lead 1.5 k a cos(incidence)
    # (the ka -> 0 limit behind Kuhn's 3 a / c interaural delay).
    f = np.array([0.0, 0.1, 1.0, 3.0])
    h = ears(f, 1e5, 60.0)
    k_a_cos = 2 * np.pi * f / C * A * np.sin(np.radians(60.0)) * np.array([[1.0, -1.0]]).T
    np.testing.assert_allclose(h, (1 + 1.5j * k_a_cos).T, atol=3e-5)  # O((ka)^2) left


@pytest.mark.parametrize("r, az", [(0.2, 80.0), (0.5, 20.0), (2.0, 150.0)])
def test_zero_hz_is_the_static_limit(r, az):
    # Potential flow round a rigid sphere (Laplace, Neumann): with t = a / r, x = cos,
    # R = sqrt(1 - 2 x t + t^2):  H0 = 2 / R - ln((t - x + R) / (1 - x)) / t.
    t = A / r
    x = np.array([np.sin(np.radians(az)), -np.sin(np.radians(az))])
    big_r = np.sqrt(1 - 2 * x * t + t**2)
    static = 2 / big_r - np.log((t - x + big_r) / (1 - x)) / t
    h = ears([0.0, 0.001, 0.01], r, az)
    np.testing.assert_allclose(h[0], static, rtol=1e-9)
    np.testing.assert_allclose(h[1:], np.broadcast_to(static, (2, 2)), atol=1e-4)  # continuous


@pytest.mark.parametrize("az", [15.0, 45.0, 90.0])
def test_low_frequency_itd_kuhn(az):
    # Kuhn (1977): for ka -> 0 the interaural phase delay is 3 (a / c) sin(az).
    f = np.array([50.0, 100.0, 200.0, 300.0])
    h = ears(f, 100.0, az)
    itd = -np.angle(h[:, 1] / h[:, 0]) / (2 * np.pi * f)  # right ear lags a source on the left
    kuhn = 3 * A / C * np.sin(np.radians(az))
    assert itd[0] == pytest.approx(kuhn, rel=0.005)  # ka = 0.08
    np.testing.assert_allclose(itd[1:], kuhn, rtol=0.06)  # ka up to 0.48: ITD rises a little
    assert np.all(np.diff(itd) > 0)


@pytest.mark.parametrize("az", [30.0, 60.0, 90.0])
def test_high_frequency_itd_woodworth(az):
    # Woodworth: the far ear is reached round the sphere, a / c (theta + sin theta) later.
    f = np.linspace(2000.0, 8000.0, 301)
    h = ears(f, 100.0, az)
    phase = np.unwrap(np.angle(h[:, 1] / h[:, 0]))
    group_delay = -np.polyfit(2 * np.pi * f, phase, 1)[0]
    t = np.radians(az)
    assert group_delay == pytest.approx(A / C * (t + np.sin(t)), rel=0.03)


def test_frequency_order_and_duplicates_do_not_matter():
    f = np.array([8000.0, 0.0, 250.0, 20000.0, 250.0, 3000.0])
    src = np.concatenate([source(1.2, 40.0), source(3.0, -100.0)], axis=1)  # (1, 2, 3)
    got = HEAD.relative_response(f, src, C)
    for i, fi in enumerate(f):
        np.testing.assert_array_equal(got[i], HEAD.relative_response(np.array([fi]), src, C)[0])


def test_ears_swap_for_mirrored_source():
    f = np.array([500.0, 4000.0, 16000.0])
    np.testing.assert_allclose(ears(f, 1.5, 70.0), ears(f, 1.5, -70.0)[:, ::-1], rtol=1e-12)


def test_source_inside_head_is_an_input_error():
    with pytest.raises(InputError, match="inside the head"):
        ears(1000.0, 0.05, 0.0)


def test_ears_below_the_axis_hear_a_level_source_as_level_ears_hear_a_raised_one():
    """Rotation invariance: only the angle between ear and source counts, so ears 10 deg
    below the horizontal plane (and 10 deg behind the axis) hear a source ahead exactly as
    the plain ears hear that source raised by 10 deg (and turned 10 deg toward the nose
    for each ear); both against the SciPy series."""
    f = np.array([300.0, 2500.0, 9000.0])
    low = SphereHead(radius_m=A, ear_angle_deg=100.0, ear_elevation_deg=-10.0)
    ahead = low.relative_response(f, source(1.2, 0.0), C)[:, 0, :, 0]  # (F, 2)
    left_ear = low.ear_directions()[0]
    cos_incidence = float(left_ear @ np.array([1.0, 0.0, 0.0]))
    expected = [scipy_point_source(x, 1.2, cos_incidence) for x in f]
    np.testing.assert_allclose(ahead[:, 0], expected, rtol=1e-9)
    np.testing.assert_allclose(ahead[:, 1], ahead[:, 0], rtol=1e-12)  # mirror ears, frontal
    assert cos_incidence == pytest.approx(np.cos(np.radians(100)) * np.cos(np.radians(10)))


@pytest.mark.parametrize("kwargs", [{"radius_m": 0.0}, {"radius_m": float("nan")},
                                    {"ear_angle_deg": 180.0}, {"ear_elevation_deg": 90.0}])
def test_bad_head_parameters(kwargs):
    with pytest.raises(InputError):
        SphereHead(**kwargs)
