"""ear_transfer / farfield_transfer: point-source physics, symmetry, frames and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import driver_toml

from common.errors import InputError
from models import ear_transfer, farfield_transfer, head_frames, load_array
from models._head_free import FreeFieldHead
from models._piston import piston_directivity

C = 343.0
CENTRE = FreeFieldHead(radius_m=0.0)  # both "ears" at the head centre: the bare free field


def test_shapes(studio):
    heads = np.array([[2.0, 0.0, 0.25], [1.5, 0.3, 0.2], [3.0, -0.2, 0.3]])
    assert ear_transfer(studio, np.linspace(0, 20000, 7), heads).shape == (3, 7, 2, 5)
    assert farfield_transfer(studio, [100.0, 1000.0], np.arange(0, 360, 10)).shape == (2, 36, 5)


def test_inverse_distance_law_and_delay(make_array):
    array = make_array(driver_toml(radius_m=0.05))  # at the origin, facing +x
    f = np.array([100.0, 1000.0, 5000.0])
    r = np.array([0.5, 1.0, 2.0, 4.0])
    p = ear_transfer(array, f, np.stack([r, 0 * r, 0 * r], axis=1), head=CENTRE)[:, :, 0, 0]  # (P, F)
    level = 20 * np.log10(abs(p))
    np.testing.assert_allclose(np.diff(level, axis=0), -20 * np.log10(2.0), atol=1e-9)  # -6.02 dB
    np.testing.assert_allclose(abs(p) * r[:, None], 1.0, rtol=1e-12)  # 1 Pa at 1 m on axis
    np.testing.assert_allclose(p * r[:, None], np.exp(-2j * np.pi * f[None] * (r[:, None] / C)),
                               atol=1e-12)  # a pure delay r / c


def test_free_head_is_two_point_receivers(make_array):
    # Each ear hears D(theta at the head centre) exp(-j k r_ear) / r_ear; the ears sit
    # 0.0875 m to the left and right of the centre, the left ear on the facing's left.
    drivers = [driver_toml("a", (0.05, -0.1, 0.02), (1, -1, 0), 0.02),
               driver_toml("b", (0.0, 0.1, 0.0), (0, 1, 0.5), 0.03)]
    array = make_array(*drivers)
    heads = np.array([[2.0, 0.0, 0.3], [1.2, 0.5, -0.1], [0.3, -1.5, 0.0]])
    facing = np.array([[-1.0, 0.0, 0.0], [-1.0, -0.2, 0.4], [0.0, 1.0, 0.0]])
    f = np.array([0.0, 300.0, 4000.0, 15000.0])
    got = ear_transfer(array, f, heads, facing, head="free")
    forward = facing * [1, 1, 0] / np.linalg.norm(facing * [1, 1, 0], axis=1, keepdims=True)
    left = np.stack([-forward[:, 1], forward[:, 0], 0 * forward[:, 0]], axis=1)  # +90 deg ccw
    ear_pos = heads[:, None] + 0.0875 * np.stack([left, -left], axis=1)  # (P, 2, 3)
    k = 2 * np.pi * f / C
    for d, driver in enumerate(array.drivers):
        to_head = heads - driver.position_m
        cos_theta = to_head @ driver.axis / np.linalg.norm(to_head, axis=1)
        directivity = piston_directivity(k[None] * driver.radius_m, cos_theta[:, None])  # (P, F)
        r_ear = np.linalg.norm(ear_pos - driver.position_m, axis=-1)  # (P, 2)
        expected = directivity[:, :, None] * np.exp(-1j * k[None, :, None] * r_ear[:, None]) / r_ear[:, None]
        np.testing.assert_allclose(got[..., d], expected, rtol=1e-12, atol=1e-15)


def test_far_field_is_the_limit_of_the_near_field(studio):
    # farfield = lim r exp(jkr) p(r u): the same spreading and phase conventions.
    f = np.array([200.0, 2000.0, 8000.0])
    az = np.array([-150.0, -60.0, 0.0, 25.0, 90.0, 180.0])
    r = 2000.0
    u = np.stack([np.cos(np.radians(az)), np.sin(np.radians(az)), 0 * az], axis=1)
    p = ear_transfer(studio, f, r * u, head=CENTRE)[:, :, 0, :]  # (A, F, D)
    k = 2 * np.pi * f / C
    near = np.moveaxis(p * r * np.exp(1j * k[None, :, None] * r), 0, 1)  # (F, A, D)
    far = farfield_transfer(studio, f, az)
    np.testing.assert_allclose(near, far, atol=2e-3)  # error ~ k d^2 / r and d / r


MIRROR = np.array([1.0, -1.0, 1.0])


def _mirrored_drivers(array) -> list[int]:
    """Index of each driver's mirror image across the x-z plane (by geometry)."""
    order = []
    for d in array.drivers:
        match = [i for i, e in enumerate(array.drivers)
                 if np.allclose(e.position_m, d.position_m * MIRROR) and np.allclose(e.axis, d.axis * MIRROR)]
        assert len(match) == 1, d.name
        order.append(match[0])
    return order


def test_studio_mirror_symmetry_at_the_ears(studio):
    perm = _mirrored_drivers(studio)
    assert [studio.drivers[i].name for i in perm] == ["mid_right", "mid_left", "mid_up", "tweeter", "woofer"]
    rng = np.random.default_rng(3)
    heads = np.column_stack([rng.uniform(1, 3, 6), rng.uniform(-0.5, 0.5, 6), rng.uniform(0, 0.4, 6)])
    facing = np.column_stack([-np.ones(6), rng.uniform(-0.3, 0.3, 6), np.zeros(6)])
    f = np.array([0.0, 150.0, 1200.0, 6000.0, 17000.0])
    for head, look in (("sphere", facing), ("free", facing), ("sphere", None)):
        h = ear_transfer(studio, f, heads, look, head=head)
        m = ear_transfer(studio, f, heads * MIRROR, None if look is None else look * MIRROR, head=head)
        np.testing.assert_allclose(m, h[:, :, ::-1][..., perm], rtol=1e-10, atol=1e-14)


def test_studio_mirror_symmetry_far_field(studio):
    perm = _mirrored_drivers(studio)
    f = np.array([100.0, 3000.0, 12000.0])
    az = np.linspace(-180.0, 180.0, 37)
    np.testing.assert_allclose(farfield_transfer(studio, f, -az), farfield_transfer(studio, f, az)[..., perm],
                               rtol=1e-12, atol=1e-14)


def test_left_ear_is_on_the_listeners_left():
    # Facing the device from +x, the listener's left is -y.
    frame = head_frames(np.array([[2.0, 0.0, 0.25]]), None)[0]
    np.testing.assert_allclose(frame, [[-1, 0, 0], [0, -1, 0], [0, 0, 1]], atol=1e-12)
    pair = load_array("stereo_pair")  # "left" speaker at -y, 30 deg to the listener's left
    h = ear_transfer(pair, [6000.0], pair.listener.head_position_m[None])[0, 0]  # (2, D)
    left, right = 0, 1
    assert abs(h[left, 0]) > 2 * abs(h[right, 0])  # head shadow: > 6 dB louder at the left ear
    assert abs(h[right, 1]) > 2 * abs(h[left, 1])


def test_default_facing_looks_at_the_device(studio):
    heads = np.array([[2.0, 0.3, 0.25], [1.0, -0.8, 0.0]])
    f = np.array([500.0, 5000.0])
    np.testing.assert_allclose(ear_transfer(studio, f, heads), ear_transfer(studio, f, heads, -heads * 3.0),
                               rtol=1e-13)


def test_turning_head_equals_turning_the_world(make_array):
    # Rotating the array about the head by -yaw is the same as yawing the head by +yaw.
    yaw = np.radians(25.0)
    rot = np.array([[np.cos(-yaw), -np.sin(-yaw), 0], [np.sin(-yaw), np.cos(-yaw), 0], [0, 0, 1]])
    head = np.array([1.5, 0.0, 0.2])
    pos, axis = np.array([0.0, -0.2, 0.1]), np.array([1.0, -1.0, 0.0]) / np.sqrt(2)
    a = make_array(driver_toml(position_m=pos, axis=axis, radius_m=0.03))
    b = make_array(driver_toml(position_m=head + rot @ (pos - head), axis=rot @ axis, radius_m=0.03))
    f = np.array([250.0, 2500.0, 9000.0])
    turned = np.array([[-np.cos(yaw), -np.sin(yaw), 0.0]])  # nose rotated counter-clockwise
    np.testing.assert_allclose(ear_transfer(a, f, head[None], turned), ear_transfer(b, f, head[None]),
                               rtol=1e-9)


@pytest.mark.parametrize("kwargs, match", [
    ({"freqs_hz": [-1.0, 100.0]}, "freqs_hz"),
    ({"freqs_hz": [[100.0]]}, "freqs_hz"),
    ({"freqs_hz": [np.nan]}, "freqs_hz"),
    ({"head_positions_m": [2.0, 0.0, 0.0]}, "head_positions_m"),
    ({"head_positions_m": [[2.0, np.inf, 0.0]]}, "head_positions_m"),
    ({"facing": [[1.0, 0.0]]}, "facing"),
    ({"facing": [[0.0, 0.0, 1.0]]}, "facing"),
    ({"head": "cardboard"}, "'sphere', 'free' or a path"),
])
def test_bad_arguments(studio, kwargs, match):
    args = {"freqs_hz": [100.0], "head_positions_m": [[2.0, 0.0, 0.25]], **kwargs}
    with pytest.raises(InputError, match=match):
        ear_transfer(studio, **args)


def test_bad_azimuths(studio):
    with pytest.raises(InputError, match="azimuths_deg"):
        farfield_transfer(studio, [100.0], [0.0, np.nan])
