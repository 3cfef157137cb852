"""Shoebox image-source model: geometry closed forms, pyroomacoustics as the independent
reference for the omnidirectional case, and room metrics on responses with known answers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyroomacoustics as pra
import pytest
from scipy.signal import fftconvolve

from common.errors import InputError
from evaluation.room_metrics import (channel_impulse_response, channel_room_metrics,
                                     clarity_db, critical_distance_m,
                                     direct_to_reverberant_db)
from models import load_array
from models._array import Array, Driver, Listener
from models._piston import piston_directivity
from models.room import Room, load_room, parse_room, room_presets
from models.room_images import image_sources, room_impulse_response, room_transfer

C = 343.0
DIMS = np.array([5.0, 4.0, 3.0])
ALPHA = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
SOURCE = np.array([1.0, 1.5, 1.2])
MIC = np.array([3.5, 2.5, 1.6])
PRA_WALLS = ("west", "east", "south", "north", "floor", "ceiling")  # x-, x+, y-, y+, z-, z+


def _one_driver(axis=(1.0, 0.0, 0.0), radius=0.01) -> Array:
    """A single piston at the device origin."""
    driver = Driver("d", np.zeros(3), np.asarray(axis, float) / np.linalg.norm(axis), radius,
                    (20.0, 20000.0), 1.25 * radius)
    return Array("one", "-", (driver,), C, Listener(2.0, 0.0), "test")


def _room(order: int, alpha=ALPHA, device=SOURCE, dims=DIMS, yaw=0.0) -> Room:
    return Room(dimensions_m=dims, absorption=alpha, max_order=order,
                device_position_m=device, device_yaw_deg=yaw)


def _pra_room(order: int, fs: int) -> pra.ShoeBox:
    room = pra.ShoeBox(DIMS, fs=fs, max_order=order, air_absorption=False,
                       materials={w: pra.Material(float(a)) for w, a in zip(PRA_WALLS, ALPHA)})
    room.add_source(SOURCE)
    room.add_microphone(MIC)
    return room


# ---- image sources ---------------------------------------------------------------------

def test_image_count_and_first_order_mirrors():
    for order in range(5):  # 4 n^2 + 2 images of each order n >= 1
        assert len(image_sources(SOURCE, _room(order)).amplitude) == \
            1 + sum(4 * n * n + 2 for n in range(1, order + 1))
    images = image_sources(SOURCE, _room(1))
    for wall in range(6):
        row = np.flatnonzero(images.reflections[:, wall] == 1)
        assert row.size == 1
        axis, upper = divmod(wall, 2)
        expected = SOURCE.copy()
        expected[axis] = 2 * DIMS[axis] * upper - SOURCE[axis]  # mirror in that wall
        np.testing.assert_allclose(images.positions_m[row[0]], expected)
        assert images.mirror[row[0], axis] == -1 and images.mirror[row[0]].sum() == 1
        assert images.amplitude[row[0]] == pytest.approx(np.sqrt(1 - ALPHA[wall]))


def test_images_match_pyroomacoustics():
    room = _pra_room(order=5, fs=16000)
    room.image_source_model()
    theirs = room.sources[0]
    ours = image_sources(SOURCE, _room(5))
    assert theirs.images.shape[1] == len(ours.amplitude)
    distance = np.linalg.norm(ours.positions_m[:, None] - theirs.images.T[None], axis=-1)
    match = np.argmin(distance, axis=1)
    assert np.unique(match).size == len(ours.amplitude)
    assert distance[np.arange(match.size), match].max() < 1e-5  # pyroomacoustics: float32
    np.testing.assert_allclose(ours.amplitude, theirs.damping[0, match], rtol=1e-5)
    np.testing.assert_array_equal(ours.reflections.sum(axis=1), theirs.orders[match])


def test_omnidirectional_response_matches_pyroomacoustics():
    """Same images, absorption and order: pyroomacoustics' RIR (windowed-sinc fractional
    delays, 40-sample lead-in; its 10 Hz high-pass switched off) has the frequency
    response of ours to -40 dB relative error up to 0.8 x Nyquist, above which its
    81-tap interpolator rolls off."""
    fs, order = 16000, 4
    pra.constants.set("rir_hpf_enable", False)
    try:
        room = _pra_room(order, fs)
        room.compute_rir()
        rir = np.asarray(room.rir[0][0], float)
    finally:
        pra.constants.set("rir_hpf_enable", True)
    n = 8192
    freqs = np.fft.rfftfreq(n, 1 / fs)
    band = (freqs >= 20) & (freqs <= 0.8 * fs / 2)
    theirs = np.fft.rfft(rir, n) * np.exp(2j * np.pi * freqs * 40 / fs)
    ours = room_transfer(_one_driver(), _room(order), freqs, MIC[None], directivity=False)[:, 0, 0]
    error = np.sum(np.abs(theirs - ours)[band] ** 2) / np.sum(np.abs(ours[band]) ** 2)
    assert 10 * np.log10(error) < -40


def test_first_reflection_delay_and_level_from_geometry():
    """Floor reflection (the first one here): delay = image path / c, level =
    sqrt(1 - alpha_floor) / path, read off the band-limited impulse response."""
    fs = 48000
    dims, device, mic = np.array([8.0, 6.0, 3.0]), np.array([1.0, 3.0, 1.2]), np.array([4.0, 3.0, 1.5])
    room = _room(2, alpha=ALPHA, device=device, dims=dims)
    h = room_impulse_response(_one_driver(), room, mic[None], fs, directivity=False)[0, 0]
    floor_image = device * [1, 1, -1]
    path = np.linalg.norm(mic - floor_image)
    others = [np.linalg.norm(mic - p) for p in image_sources(device, room).positions_m[1:]]
    assert path == pytest.approx(min(others))  # the floor reflection is the first
    t = path / C * fs
    k = int(np.argmax(np.abs(h[int(t) - 20:int(t) + 20]))) + int(t) - 20
    y0, y1, y2 = h[k - 1:k + 2]  # parabolic peak: sub-sample arrival time
    peak = k + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)
    assert peak == pytest.approx(t, abs=0.1)  # 2 us
    # The energy of a band-limited unit impulse is 1 whatever its fractional delay: the
    # level is the root energy within +-0.5 ms (the next arrival is 1.2 ms later).
    window = h[int(t) - 24:int(t) + 25]
    assert np.sqrt(np.sum(window**2)) == pytest.approx(np.sqrt(1 - ALPHA[4]) / path, rel=0.01)
    direct = np.linalg.norm(mic - device)
    assert np.argmax(np.abs(h)) == round(direct / C * fs)


def test_reflected_path_carries_the_mirrored_directivity():
    """One reflecting wall (y+, alpha 0.36), order 1: the room response is the direct
    path plus 0.8 D(theta_r) exp(-jkL)/L, theta_r measured at the driver between its axis
    and the ray to the specular point on the wall."""
    dims, device, mic = np.array([6.0, 4.0, 3.0]), np.array([1.0, 2.5, 1.5]), np.array([4.0, 3.0, 1.2])
    alpha = np.array([1.0, 1.0, 1.0, 0.36, 1.0, 1.0])
    array = _one_driver(axis=(1.0, 1.0, 0.3), radius=0.03)
    freqs = np.array([500.0, 2000.0, 5000.0, 9000.0])
    got = room_transfer(array, _room(1, alpha=alpha, device=device, dims=dims), freqs, mic[None])[:, 0, 0]
    k = 2 * np.pi * freqs / C
    axis = array.axes[0]

    def ray(start, end, length):
        cos = (end - start) @ axis / np.linalg.norm(end - start)
        return piston_directivity(k * 0.03, cos) * np.exp(-1j * k * length) / length

    image_mic = mic * [1, 1, 1] + [0, 2 * (dims[1] - mic[1]), 0]  # mirror the receiver
    s = (dims[1] - device[1]) / (image_mic[1] - device[1])
    specular = device + s * (image_mic - device)  # where the ray meets the y+ wall
    path = np.linalg.norm(image_mic - device)
    expected = ray(device, mic, np.linalg.norm(mic - device)) + 0.8 * ray(device, specular, path)
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_device_pose_and_bounds():
    room = _room(0, device=np.array([2.0, 2.0, 1.0]), yaw=90.0)
    np.testing.assert_allclose(room.device_to_room([[1.0, 0.0, 0.5]]), [[2.0, 3.0, 1.5]], atol=1e-12)
    wide = load_array("soundbar")  # 90 cm wide: turned 90 deg against a wall it pokes out
    with pytest.raises(InputError, match="side_left.*outside the room"):
        room_transfer(wide, _room(0, device=np.array([2.0, 0.2, 1.0]), yaw=0.0), [1000.0],
                      [[3.0, 2.0, 1.0]])
    with pytest.raises(InputError, match="receivers_m.*not inside"):
        room_transfer(_one_driver(), room, [1000.0], [[9.0, 1.0, 1.0]])


# ---- room data -------------------------------------------------------------------------

GOOD = {"dimensions_m": [5.0, 4.0, 2.5], "absorption": 0.2, "max_order": 3,
        "device_position_m": [0.5, 2.0, 1.0]}


@pytest.mark.parametrize("change, match", [
    ({"absorption": [0.1, 0.2]}, "absorption: expected a list of 6"),
    ({"absorption": [0.1, 0.2, 0.3, 0.4, 1.5, 0.1]}, r"absorption\[z-\].*<= 1"),
    ({"max_order": 2.5}, "max_order: expected an integer"),
    ({"max_order": 99}, "max_order.*<= 40"),
    ({"device_position_m": [6.0, 2.0, 1.0]}, "device_position_m.*not inside"),
    ({"dimensions_m": [5.0, -4.0, 2.5]}, "dimensions_m: expected three positive"),
    ({"colour": "red"}, "unknown field.*colour"),
])
def test_bad_room_tables(change, match):
    with pytest.raises(InputError, match=match):
        parse_room({**GOOD, **change}, "rooms.toml:test")


def test_room_presets_and_files(tmp_path):
    presets = room_presets()
    assert {"living_room", "treated_room", "open_plan"} <= set(presets)
    path = tmp_path / "mine.toml"
    path.write_text('dimensions_m = [5.0, 4.0, 2.5]\nabsorption = 0.2\nmax_order = 3\n'
                    'device_position_m = [0.5, 2.0, 1.0]\n')
    room = load_room(str(path))
    assert room.max_order == 3 and np.all(room.absorption == 0.2)
    assert room.absorption_area_m2 == pytest.approx(0.2 * 2 * (5 * 4 + 5 * 2.5 + 4 * 2.5))
    with pytest.raises(InputError, match="unknown room 'attic'.*living_room"):
        load_room("attic")
    with pytest.raises(InputError, match="nothere.toml: file not found"):
        load_room(str(tmp_path / "nothere.toml"))


# ---- room metrics ----------------------------------------------------------------------

def test_drr_and_c50_of_discrete_arrivals():
    fs = 10000
    h = np.zeros(2000)
    h[100], h[110], h[200], h[900] = 1.0, 0.5, 0.4, 0.3  # 110: within 2.5 ms of the direct
    assert direct_to_reverberant_db(h, fs) == pytest.approx(10 * np.log10(1.25 / (0.16 + 0.09)))
    assert clarity_db(h, fs) == pytest.approx(10 * np.log10(1.41 / 0.09))  # 900 is 80 ms late


def test_c50_of_exponential_decay_matches_reverberation_time():
    """For an energy decay of T60, C50 = 10 log10(exp(13.82 * 0.05 / T60) - 1)."""
    fs, t60 = 8000, 0.4
    t = np.arange(int(3 * t60 * fs)) / fs
    h = np.concatenate([np.zeros(40), 10 ** (-3 * t / t60)])  # -60 dB of energy at T60
    expected = 10 * np.log10(np.exp(6 * np.log(10) * 0.05 / t60) - 1)
    assert clarity_db(h, fs) == pytest.approx(expected, abs=0.01)
    assert clarity_db(np.stack([h, 2 * h]), fs) == pytest.approx([expected] * 2, abs=0.01)


def test_critical_distance_balances_direct_and_diffuse_energy():
    area = 25.0
    for q in (1.0, 2.0, 6.0):
        r = critical_distance_m(q, area)
        assert q / (4 * np.pi * r**2) == pytest.approx(4 / area)  # direct = reverberant
    assert critical_distance_m(1.0, 16 * np.pi) == pytest.approx(1.0)


def test_channel_impulse_response_is_the_sum_of_convolutions():
    rng = np.random.default_rng(0)
    rir, taps = rng.standard_normal((2, 3, 50)), rng.standard_normal((3, 7))
    expected = sum(fftconvolve(rir[:, d], taps[d][None], axes=-1) for d in range(3))
    np.testing.assert_allclose(channel_impulse_response(rir, taps), expected, atol=1e-12)


def test_aiming_a_directional_driver_at_the_listener_raises_every_figure():
    """One 5 cm piston (directional above ~1 kHz) mid-room: turning it from the back wall
    to the listener keeps its radiated power, so the reverberant field stays and the
    direct sound grows: Q, critical distance, DRR and C50 all rise."""
    room = dataclasses.replace(load_room("treated_room"), max_order=12,
                               device_position_m=np.array([1.2, 1.8, 1.25]))
    figures = {}
    for name, axis in (("toward", (1.0, 0.0, 0.0)), ("away", (-1.0, 0.0, 0.0))):
        figures[name] = channel_room_metrics(_one_driver(axis, radius=0.05), room,
                                             np.ones((1, 1)), 16000.0)
    for key in ("directivity_factor", "critical_distance_m"):
        assert figures["toward"][key] > 1.5 * figures["away"][key], key
    assert figures["toward"]["drr_db"] > figures["away"]["drr_db"] + 3.0
    assert figures["toward"]["c50_db"] > figures["away"]["c50_db"]
    toward = figures["toward"]
    assert toward["critical_distance_m"] == pytest.approx(
        critical_distance_m(toward["directivity_factor"], room.absorption_area_m2))


def test_impulse_response_spectrum_matches_room_transfer():
    """The time-domain synthesis (fractional delays, tabulated directivity FIRs) against
    the exact frequency-domain sum, directional driver: -40 dB up to 0.8 x Nyquist."""
    fs = 16000
    array = _one_driver((1.0, 0.3, 0.2), radius=0.05)
    h = room_impulse_response(array, _room(5), MIC[None], fs)[0, 0]
    n = 4096
    freqs = np.fft.rfftfreq(n, 1 / fs)
    band = freqs <= 0.8 * fs / 2
    exact = room_transfer(array, _room(5), freqs[band], MIC[None])[:, 0, 0]
    error = np.sum(np.abs(np.fft.rfft(h, n)[band] - exact) ** 2) / np.sum(np.abs(exact) ** 2)
    assert 10 * np.log10(error) < -40
