"""Listener zones: seeded sampling, presets, the held-out grid and head yaw."""

from __future__ import annotations

import numpy as np
import pytest

from common.errors import InputError
from models import (Zone, get_zone, heldout_grid, parse_zone, place_listeners,
                    sample_listeners, zone_presets)
from models._array import Listener

NOMINAL = Listener(distance_m=2.0, height_m=0.25)


def yaw_of(facing: np.ndarray) -> np.ndarray:
    """Yaw in degrees of facing vectors, counter-clockwise from -x (looking at the device)."""
    return np.degrees(np.angle(-(facing[:, 0] + 1j * facing[:, 1])))


def test_presets():
    presets = zone_presets()
    assert {"sweet", "couch", "room"} <= set(presets)
    sizes = [presets[n].lateral_m for n in ("sweet", "couch", "room")]
    assert sizes == sorted(sizes)  # nested, smallest to largest
    with pytest.raises(InputError) as info:
        get_zone("sofa")
    assert all(name in str(info.value) for name in presets)


def test_same_seed_same_heads_other_seed_differs():
    zone = get_zone("couch")
    a, b = (sample_listeners(zone, NOMINAL, 64, seed=7) for _ in range(2))
    np.testing.assert_array_equal(a.positions_m, b.positions_m)
    np.testing.assert_array_equal(a.facing, b.facing)
    c = sample_listeners(zone, NOMINAL, 64, seed=8)
    assert not np.any(np.all(np.isclose(a.positions_m, c.positions_m), axis=1))


@pytest.mark.parametrize("name", ["sweet", "couch", "room"])
def test_samples_fill_the_zone(name):
    zone = get_zone(name)
    heads = sample_listeners(zone, NOMINAL, 2000, seed=1)
    x, y, z = heads.positions_m.T
    yaw = yaw_of(heads.facing)
    lo, hi = zone.distance_scale
    assert np.all((x >= lo * 2.0) & (x <= hi * 2.0))
    assert np.all(abs(y) <= zone.lateral_m) and np.all(abs(z - 0.25) <= zone.height_m)
    assert np.all(abs(yaw) <= zone.yaw_deg + 1e-9)
    np.testing.assert_allclose(np.linalg.norm(heads.facing, axis=1), 1.0)
    np.testing.assert_array_equal(heads.facing[:, 2], 0.0)
    # Uniform: each half of each range holds about half the heads.
    for values, mid in ((x, (lo + hi)), (y, 0.0), (yaw, 0.0)):
        assert 0.45 < np.mean(values < mid) < 0.55


def test_heldout_grid():
    heads, coords = heldout_grid(NOMINAL)
    assert len(heads) == 45
    assert sorted(set(coords["lateral_m"])) == [-0.10, -0.05, 0.0, 0.05, 0.10]
    assert sorted(set(coords["distance_scale"])) == [0.75, 1.0, 1.5]
    assert sorted(set(coords["yaw_deg"])) == [-10.0, 0.0, 10.0]
    assert len({tuple(p) + tuple(f) for p, f in zip(heads.positions_m, heads.facing)}) == 45
    np.testing.assert_allclose(heads.positions_m[:, 0], 2.0 * coords["distance_scale"])
    np.testing.assert_allclose(heads.positions_m[:, 1], coords["lateral_m"])
    np.testing.assert_allclose(yaw_of(heads.facing), coords["yaw_deg"], atol=1e-12)
    train = sample_listeners(get_zone("couch"), NOMINAL, 5000, seed=0)
    same = np.all(np.isclose(train.positions_m[:, None], heads.positions_m[None], atol=1e-6), axis=-1)
    assert not same.any()


def test_yaw_turns_counter_clockwise_toward_minus_y():
    heads = place_listeners(NOMINAL, 0.0, 1.0, 0.0, [0.0, 30.0, -30.0])
    np.testing.assert_allclose(heads.facing[0], [-1.0, 0.0, 0.0], atol=1e-15)
    c, s = np.cos(np.radians(30.0)), np.sin(np.radians(30.0))
    np.testing.assert_allclose(heads.facing[1], [-c, -s, 0.0], atol=1e-15)  # toward the listener's left
    np.testing.assert_allclose(heads.facing[2], [-c, s, 0.0], atol=1e-15)
    assert np.cross(heads.facing[0], heads.facing[1])[2] > 0  # counter-clockwise from above


def test_place_listeners_broadcasts():
    heads = place_listeners(NOMINAL, [[-0.1], [0.1]], [0.8, 1.0, 1.2], 0.05, 0.0)
    assert heads.positions_m.shape == heads.facing.shape == (6, 3)
    np.testing.assert_allclose(heads.positions_m[:, 2], 0.30)


@pytest.mark.parametrize("table, field", [
    ({"lateral_m": -0.1}, "lateral_m"),
    ({"distance_scale": [1.2, 0.8]}, "distance_scale"),
    ({"distance_scale": [0.0, 1.0]}, "distance_scale"),
    ({"yaw_deg": 95.0}, "yaw_deg"),
    ({"height_m": "high"}, "height_m"),
    ({"width_m": 1.0}, "width_m"),
])
def test_bad_zone_table(table, field):
    with pytest.raises(InputError) as info:
        parse_zone(table, "zones.toml:mine")
    assert "zones.toml:mine" in str(info.value) and field in str(info.value)


def test_bad_count():
    with pytest.raises(InputError, match="count"):
        sample_listeners(Zone(), NOMINAL, 0, seed=0)
