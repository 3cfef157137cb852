"""Array TOML loading: the bundled arrays' geometry and clear errors for bad files."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest
from conftest import array_toml, driver_toml

from common.errors import InputError
from models import bundled_arrays, load_array
from models._array_file import ARRAYS_DIR


def test_bundled_names():
    assert set(bundled_arrays()) >= {"studio", "soundbar", "stereo_pair"}


@pytest.mark.parametrize("name", bundled_arrays())
def test_every_bundled_array_loads_as_written(name):
    array = load_array(name)
    with (ARRAYS_DIR / f"{name}.toml").open("rb") as fh:
        raw = tomllib.load(fh)
    assert array.name == raw["name"]
    assert [d.name for d in array.drivers] == [d["name"] for d in raw["drivers"]]
    for driver, table in zip(array.drivers, raw["drivers"]):
        np.testing.assert_array_equal(driver.position_m, table["position_m"])
        np.testing.assert_allclose(np.linalg.norm(driver.axis), 1.0, atol=1e-12)
        assert driver.band_hz[0] < driver.band_hz[1] and driver.radius_m > 0
    assert array.positions_m.shape == array.axes.shape == (len(raw["drivers"]), 3)


def test_studio(studio):
    assert [d.name for d in studio.drivers] == ["mid_left", "mid_right", "mid_up", "tweeter", "woofer"]
    assert studio.speed_of_sound_m_s == 343.0
    # "left" drivers use the listener's left: -y in the device frame, firing outward.
    left, right = studio.drivers[0], studio.drivers[1]
    assert left.position_m[1] < 0 and left.axis[1] == -1.0
    np.testing.assert_array_equal(right.position_m * [1, -1, 1], left.position_m)
    np.testing.assert_array_equal(studio.drivers[3].axis, [1.0, 0.0, 0.0])  # tweeter faces listener


def test_load_by_path_equals_by_name(studio):
    by_path = load_array(ARRAYS_DIR / "studio.toml")
    np.testing.assert_array_equal(by_path.positions_m, studio.positions_m)
    assert by_path.listener == studio.listener


def test_stereo_pair_geometry():
    pair = load_array("stereo_pair")
    head = pair.listener.head_position_m
    np.testing.assert_array_equal(head, [2.0, 0.0, 0.0])
    facing = -head / np.linalg.norm(head)
    for driver, side in zip(pair.drivers, (-1.0, 1.0)):  # left speaker at the listener's left (-y)
        to_speaker = driver.position_m - head
        assert np.linalg.norm(to_speaker) == pytest.approx(2.0, abs=1e-7)
        angle = np.degrees(np.arctan2(np.cross(facing, to_speaker)[2], facing @ to_speaker))
        assert angle == pytest.approx(-30.0 * side, abs=1e-6)  # counter-clockwise = listener's left
        assert np.sign(driver.position_m[1]) == side
        np.testing.assert_allclose(driver.axis, -to_speaker / 2.0, atol=1e-7)  # aimed at the head


def test_soundbar_is_mirror_symmetric():
    bar = load_array("soundbar")
    assert len(bar.drivers) == 8
    names = [d.name for d in bar.drivers]
    for d in bar.drivers:
        twin = d.name.replace("left", "@").replace("right", "left").replace("@", "right")
        other = bar.drivers[names.index(twin)]
        np.testing.assert_array_equal(other.position_m, d.position_m * [1, -1, 1])
        np.testing.assert_array_equal(other.axis, d.axis * [1, -1, 1])


def test_driver_outside_enclosure_loads(make_array):
    array = make_array(driver_toml(position_m=(5.0, -3.0, 2.0)))
    np.testing.assert_array_equal(array.drivers[0].position_m, [5.0, -3.0, 2.0])


def test_axis_is_normalised(make_array):
    array = make_array(driver_toml(axis=(3.0, 4.0, 0.0)))
    np.testing.assert_allclose(array.drivers[0].axis, [0.6, 0.8, 0.0])


def _error(write_toml, text: str) -> tuple[str, str]:
    path = write_toml(text)
    with pytest.raises(InputError) as info:
        load_array(path)
    return str(info.value), str(path)


GOOD = driver_toml()


@pytest.mark.parametrize("text, field, expected", [
    (array_toml(GOOD.replace("radius_m = 0.05\n", "")), "drivers[0].radius_m", "missing"),
    (array_toml(GOOD).replace('name = "test"\n', ""), ".name", "missing"),
    (array_toml(GOOD).replace("distance_m = 2.0", 'distance_m = "far"'), "listener.distance_m",
     "expected a number"),
    (array_toml(GOOD.replace("radius_m = 0.05", 'radius_m = "5 cm"')), "drivers[0].radius_m",
     "expected a number"),
    (array_toml(GOOD.replace("radius_m = 0.05", "radius_m = true")), "drivers[0].radius_m",
     "expected a number"),
    (array_toml(GOOD.replace("position_m = [0.0, 0.0, 0.0]", "position_m = [0.0, 0.0]")),
     "drivers[0].position_m", "3 numbers"),
    (array_toml(GOOD.replace("position_m = [0.0, 0.0, 0.0]", "position_m = [0.0, nan, 0.0]")),
     "drivers[0].position_m[1]", "finite"),
    (array_toml(GOOD.replace("radius_m = 0.05", "radius_m = -0.01")), "drivers[0].radius_m",
     "positive"),
    (array_toml(GOOD.replace("axis = [1.0, 0.0, 0.0]", "axis = [0.0, 0.0, 0.0]")), "drivers[0].axis",
     "non-zero"),
    (array_toml(GOOD.replace("band_hz = [100.0, 10000.0]", "band_hz = [500.0, 500.0]")),
     "drivers[0].band_hz", "lo < hi"),
    (array_toml(GOOD.replace("band_hz = [100.0, 10000.0]", "band_hz = [8000.0, 100.0]")),
     "drivers[0].band_hz", "lo < hi"),
    (array_toml(GOOD.replace("radius_m", "colour = 'red'\nradius_m")), "drivers[0]", "colour"),
    (array_toml(GOOD).replace("[listener]", "room = 1\n[listener]"), "room", "unknown field"),
    (array_toml(GOOD).replace("speed_of_sound_m_s = 343.0", "speed_of_sound_m_s = 3.0"),
     "speed_of_sound_m_s", ">= 100"),
    (array_toml(GOOD).split("[[drivers]]")[0].replace("[listener]", "drivers = 3\n[listener]"),
     "drivers", "array of tables"),
    (array_toml(GOOD).replace("[listener]", "driver_model = 'horn'\n[listener]"), ".driver_model",
     "piston"),
    (array_toml(GOOD.replace("radius_m = 0.05", "radius_m = 0.05\nbody_radius_m = 0.04")),
     "drivers[0].body_radius_m", "more than radius_m"),
], ids=["missing-driver-field", "missing-name", "listener-string", "radius-string", "radius-bool",
        "short-vector", "nan-position", "negative-radius", "zero-axis", "band-equal",
        "band-inverted", "unknown-driver-field", "unknown-top-field", "speed-too-low",
        "drivers-not-tables", "unknown-driver-model", "body-inside-driver"])
def test_bad_field_names_file_and_field(write_toml, text, field, expected):
    message, path = _error(write_toml, text)
    assert path in message and field in message and expected in message, message


def test_duplicate_driver_names(write_toml):
    message, path = _error(write_toml, array_toml(driver_toml("a"), driver_toml("b"), driver_toml("a")))
    assert path in message and "driver names" in message and "a" in message.split("repeated")[-1]


def test_toml_syntax_error(write_toml):
    message, path = _error(write_toml, array_toml(GOOD).replace("radius_m = 0.05", "radius_m = 0.05 m"))
    assert path in message and "not valid TOML" in message and "line" in message


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load_array(tmp_path / "absent.toml")


def test_unknown_bundled_name_lists_names():
    with pytest.raises(InputError) as info:
        load_array("studoi")
    message = str(info.value)
    assert "studoi" in message and all(name in message for name in bundled_arrays())


def test_body_radius_defaults_to_the_driver_plane(studio):
    """Side mids sit 8.75 cm out along their axes, the up/down drivers 10.3 cm."""
    assert [d.body_radius_m for d in studio.drivers] == pytest.approx(
        [0.0875, 0.0875, 0.103, 0.0875, 0.103])
    assert studio.driver_model == "piston"
