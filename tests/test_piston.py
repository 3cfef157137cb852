"""Driver directivity: baffled piston in front, documented roll-off behind, far-field phase."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import driver_toml
from scipy.integrate import quad
from scipy.special import j0, jn_zeros

from models import farfield_transfer
from models._piston import piston_directivity

C = 343.0


def rayleigh_disc(ka: float, theta_deg: float) -> float:
    """Far field of a baffled disc by direct integration of ring sources, 1 on axis:
    (2 / a^2) int_0^a J0(k r sin theta) r dr (an independent route to 2 J1(x) / x)."""
    s = np.sin(np.radians(theta_deg))
    return 2.0 * quad(lambda u: j0(ka * s * u) * u, 0.0, 1.0, epsabs=1e-13)[0]


@pytest.mark.parametrize("ka", [0.3, 2.0, 5.0, 12.0])
def test_front_matches_ring_integration(ka):
    thetas = np.array([0.0, 10.0, 35.0, 60.0, 89.0])
    expected = [rayleigh_disc(ka, t) for t in thetas]
    np.testing.assert_allclose(piston_directivity(ka, np.cos(np.radians(thetas))), expected, atol=1e-10)


def test_first_null_of_one_driver_array(make_array):
    radius, freq = 0.05, 5000.0
    array = make_array(driver_toml(radius_m=radius, axis=(1.0, 0.0, 0.0)))
    ka = 2 * np.pi * freq / C * radius
    null_deg = np.degrees(np.arcsin(jn_zeros(1, 1)[0] / ka))  # k a sin(theta) = 3.8317
    az = np.array([null_deg - 3.0, null_deg, null_deg + 3.0, -null_deg])
    h = farfield_transfer(array, [freq], az)[0, :, 0]
    assert abs(h[1]) < 1e-9 and abs(h[3]) < 1e-9
    assert h[0].real > 0 > h[2].real  # the first side lobe has the opposite sign
    assert farfield_transfer(array, [freq], [0.0])[0, 0, 0] == pytest.approx(1.0)


def test_continuous_at_baffle_plane():
    ka = np.array([0.1, 1.0, 3.0, 3.8317, 6.0, 15.0])
    eps = 1e-7
    before = piston_directivity(ka, np.cos(np.pi / 2 - eps))
    after = piston_directivity(ka, np.cos(np.pi / 2 + eps))
    np.testing.assert_allclose(after, before, atol=1e-6)


def test_rear_level_straight_behind():
    ka = np.array([0.01, 0.5, 1.0, 2.0, 3.8317, 5.0, 10.0, 30.0])
    np.testing.assert_allclose(piston_directivity(ka, -1.0), 1.0 / np.sqrt(1.0 + ka**2), rtol=1e-12)
    # Well above ka = 1 the rear is shadowed by -20 log10(ka) dB.
    assert 20 * np.log10(piston_directivity(30.0, -1.0)) == pytest.approx(-20 * np.log10(30.0), abs=0.01)


def test_rear_fade_lies_between_side_and_rear_levels():
    thetas = np.radians(np.linspace(90.0, 180.0, 46))
    for ka in (0.5, 2.0, 5.0):
        side, rear = piston_directivity(ka, 0.0), 1.0 / np.sqrt(1 + ka**2)
        d = piston_directivity(ka, np.cos(thetas))
        assert np.all(np.diff(d) * np.sign(rear - side) >= -1e-15)  # monotone from side to rear
        assert d[0] == pytest.approx(side) and d[-1] == pytest.approx(rear)


def test_small_piston_is_omnidirectional():
    cos_theta = np.cos(np.radians(np.linspace(0, 180, 37)))
    np.testing.assert_allclose(piston_directivity(1e-3, cos_theta), 1.0, atol=1e-6)


@pytest.mark.parametrize("toward_deg", [0.0, 40.0, 90.0, -135.0])
def test_farfield_phase_of_displaced_driver(make_array, toward_deg):
    # A driver moved d toward azimuth az0 is closer to far-field points near az0: it leads
    # by k d cos(az - az0), i.e. exp(+j k u.p) with the delay sign exp(-j w tau).
    d, freqs = 0.12, np.array([200.0, 1000.0, 3000.0])
    t = np.radians(toward_deg)
    array = make_array(driver_toml(position_m=(d * np.cos(t), d * np.sin(t), 0.0), radius_m=0.001))
    az = np.linspace(-180.0, 180.0, 25)
    h = farfield_transfer(array, freqs, az)[:, :, 0]
    k = 2 * np.pi * freqs / C
    lead = d * np.cos(np.radians(az) - t)
    np.testing.assert_allclose(h / abs(h), np.exp(1j * k[:, None] * lead[None]), atol=1e-12)
    # In time: the group delay across frequency is -lead / c (arrives early toward az0).
    phase = np.unwrap(np.angle(h), axis=0)
    delay = -np.diff(phase, axis=0)[0] / (2 * np.pi * np.diff(freqs)[0])
    np.testing.assert_allclose(delay, -lead / C, atol=1e-12)
