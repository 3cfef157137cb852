"""opentrack input: the axis map against poses built by hand for each axis, the
calibration file, and real UDP datagrams on the loopback interface (good, short, long,
NaN and infinite ones, a flood of 10,000 a second). Every wait is bounded."""

from __future__ import annotations

import math
import socket
import struct
import time

import numpy as np
import pytest

from device.calibration import Calibration, read_calibration, write_calibration
from device.camera_geometry import FaceCalibration
from device.opentrack import OpentrackListener
from device.opentrack_axes import device_to_opentrack, opentrack_to_device, wrap_deg
from device.pose_source import LatestPose
from device.trackers import parse_tracker
from common.errors import InputError

SEAT = np.array([2.0, 0.0, 0.25, 0.0])  # the studio's nominal listener
WAIT_S = 5.0


def packet(*values) -> bytes:
    return struct.pack("<6d", *values)


# ---------------------------------------------------------------- the axis map

@pytest.mark.parametrize("raw, moved", [
    # opentrack x: the user's right = the listener's right = device +y
    ((10.0, 0, 0, 0, 0, 0), (0.0, 0.10, 0.0, 0.0)),
    ((-4.0, 0, 0, 0, 0, 0), (0.0, -0.04, 0.0, 0.0)),
    # opentrack y: up = device +z
    ((0, 7.5, 0, 0, 0, 0), (0.0, 0.0, 0.075, 0.0)),
    # opentrack z: backward, away from the device = device +x (farther)
    ((0, 0, 25.0, 0, 0, 0), (0.25, 0.0, 0.0, 0.0)),
    ((0, 0, -30.0, 0, 0, 0), (-0.30, 0.0, 0.0, 0.0)),
    # yaw: the head turned to the user's left = counter-clockwise from above = device +yaw
    ((0, 0, 0, 12.0, 0, 0), (0.0, 0.0, 0.0, 12.0)),
    # pitch and roll: not used
    ((0, 0, 0, 0, 20.0, -15.0), (0.0, 0.0, 0.0, 0.0)),
], ids=["right", "left", "up", "back", "forward", "yaw_left", "pitch_roll"])
def test_every_axis_moves_the_head_the_documented_way(raw, moved):
    """A move along one opentrack axis, from a calibration zero taken elsewhere, moves the
    device pose along the documented axis by the same amount in metres (exact to 1e-9)."""
    zero = np.array([3.0, -2.0, 5.0, 20.0, 4.0, -1.0])
    got = opentrack_to_device(zero + np.array(raw, dtype=float), zero, SEAT)
    np.testing.assert_allclose(got, SEAT + np.array(moved), atol=1e-9, rtol=0)


def test_a_head_turned_left_faces_toward_the_listeners_left_in_the_device_frame():
    """Independent check of the yaw sign through the geometry of common.poses: the head
    at the seat turned to the user's left looks toward device -y (the listener's left)."""
    from common.poses import pose_yaw_deg

    yaw = opentrack_to_device([0, 0, 0, 30.0, 0, 0], np.zeros(6), SEAT)[3]
    look = np.pi + np.radians(30.0)  # nose azimuth: toward the device (-x), turned
    view = np.array([[np.cos(look), np.sin(look), 0.0]])
    assert view[0, 1] < 0  # turned toward -y, the listener's own left
    assert pose_yaw_deg(SEAT[None, :3], view)[0] == pytest.approx(yaw, abs=1e-9)


def test_without_a_zero_the_trackers_origin_is_the_seat_and_the_map_inverts():
    rng = np.random.default_rng(5)
    for _ in range(50):
        pose = SEAT + rng.uniform([-0.5, -0.3, -0.2, -60], [0.5, 0.3, 0.2, 60])
        raw = device_to_opentrack(pose, SEAT)
        np.testing.assert_allclose(opentrack_to_device(raw, np.zeros(6), SEAT), pose,
                                   atol=1e-9, rtol=0)


def test_yaw_wraps_the_short_way_round():
    got = opentrack_to_device([0, 0, 0, -170.0, 0, 0], [0, 0, 0, 15.0, 0, 0], SEAT)
    assert got[3] == pytest.approx(175.0, abs=1e-9)
    assert wrap_deg(180.0) == -180.0 and wrap_deg(-181.0) == pytest.approx(179.0)


# ---------------------------------------------------------------- the calibration file

def test_the_calibration_file_round_trips_exactly(tmp_path):
    path = tmp_path / "cal.toml"
    assert read_calibration(path) == Calibration()  # not written yet: empty
    cal = Calibration().with_opentrack_zero([1.5, -2.0, 1 / 3, 4.0, 0.1, -0.2])
    write_calibration(path, cal.with_face(FaceCalibration(0.1523, (0.004, -1 / 7))))
    back = read_calibration(path)
    assert back.opentrack_zero == cal.opentrack_zero
    assert back.face == FaceCalibration(0.1523, (0.004, -1 / 7))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cal.toml"]  # no temporaries


@pytest.mark.parametrize("text, words", [
    ("[opentrack\nzero = 1", ["not valid TOML"]),
    ("[opentrack]\nzero = [1, 2, 3]\n", ["opentrack.zero", "6 numbers"]),
    ("[opentrack]\nzero = [1, 2, 3, 4, 5, nan]\n", ["opentrack.zero[5]", "finite"]),
    ("[opentrack]\nzeros = [1, 2, 3, 4, 5, 6]\n", ["opentrack", "zeros", "unknown"]),
    ("[webcam]\nface_width_m = -0.1\n", ["webcam.face_width_m", "positive"]),
    ("[tracker]\n", ["tracker", "unknown"]),
], ids=["syntax", "short_zero", "nan_zero", "unknown_key", "negative_width", "unknown_table"])
def test_a_bad_calibration_file_names_the_file_and_field(tmp_path, text, words):
    path = tmp_path / "bad_cal.toml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_calibration(path)
    for word in ["bad_cal.toml", *words]:
        assert word in str(err.value)


# ---------------------------------------------------------------- tracker specs

@pytest.mark.parametrize("text, kind, port, device", [
    ("opentrack", "opentrack", 4242, None), ("opentrack:5005", "opentrack", 5005, None),
    ("osc", "osc", 9000, None), ("osc:0", "osc", 0, None),
    ("webcam", "webcam", None, 0), ("webcam:2", "webcam", None, 2),
    ("webcam:/dev/video4", "webcam", None, "/dev/video4")])
def test_tracker_specs(text, kind, port, device):
    spec = parse_tracker(text)
    assert (spec.kind, spec.port, spec.device) == (kind, port, device)


@pytest.mark.parametrize("text, words", [("kinect", ["unknown tracker 'kinect'", "opentrack"]),
                                         ("opentrack:99999", ["port", "65535"]),
                                         ("osc:abc", ["port", "'abc'"])])
def test_bad_tracker_specs(text, words):
    with pytest.raises(InputError) as err:
        parse_tracker(text)
    assert "--tracker" in str(err.value) and all(w in str(err.value) for w in words)


# ---------------------------------------------------------------- real UDP datagrams

class FakeClock:
    def __init__(self):
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def wait_for(condition) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "the listener did not see the datagrams in time"
        time.sleep(0.002)


@pytest.fixture
def sender():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        yield sock


def test_datagrams_become_device_poses_and_go_stale(sender):
    clock = FakeClock()
    with OpentrackListener(0, seat=SEAT, zero=[1, 1, 1, 1, 0, 0], timeout_s=0.3,
                           clock=clock) as listener:
        assert listener.poses.pose() is None
        sender.sendto(packet(11.0, 1.0, -19.0, 6.0, 3.0, 2.0), ("127.0.0.1", listener.port))
        wait_for(lambda: listener.poses.received == 1)
        np.testing.assert_allclose(listener.poses.pose(), [1.8, 0.10, 0.25, 5.0], atol=1e-9)
        clock.now += 0.31
        assert listener.poses.pose() is None
        stats = listener.poses.stats()
        assert stats.stale_periods == 2 and stats.latency_count == 1
        assert stats.last_pose == pytest.approx((1.8, 0.10, 0.25, 5.0))


def test_malformed_datagrams_are_counted_and_dropped(sender):
    bad = [b"", b"\x00" * 47, packet(0, 0, 0, 0, 0, 0) + b"\x00", b"\x00" * 96,
           packet(math.nan, 0, 0, 0, 0, 0), packet(0, 0, 0, math.inf, 0, 0),
           packet(0, 0, 0, 0, 0, -math.inf), b"hello opentrack"]
    with OpentrackListener(0, seat=SEAT) as listener:
        target = ("127.0.0.1", listener.port)
        sender.sendto(packet(5.0, 0, 0, 0, 0, 0), target)
        for data in bad:
            sender.sendto(data, target)
        wait_for(lambda: listener.poses.dropped == len(bad))
        assert listener.poses.received == 1
        np.testing.assert_allclose(listener.poses.latest(), [2.0, 0.05, 0.25, 0.0], atol=1e-9)
        assert listener._thread.is_alive()


def test_the_zero_is_captured_from_the_first_pose_or_on_demand(sender, tmp_path):
    zeros = []
    with OpentrackListener(0, seat=SEAT, zero_on_first=True, on_zero=zeros.append) as ot:
        target = ("127.0.0.1", ot.port)
        sender.sendto(packet(4.0, -3.0, 10.0, 8.0, 1.0, 1.0), target)
        wait_for(lambda: ot.poses.received == 1)
        np.testing.assert_allclose(ot.poses.latest(), SEAT, atol=1e-9)  # at the seat now
        sender.sendto(packet(6.0, -3.0, 10.0, 8.0, 1.0, 1.0), target)  # 2 cm to the right
        wait_for(lambda: ot.poses.received == 2)
        np.testing.assert_allclose(ot.poses.latest(), SEAT + [0, 0.02, 0, 0], atol=1e-9)
        assert "zero captured at x 6.0 cm" in ot.capture_zero()
        assert zeros == [(4.0, -3.0, 10.0, 8.0, 1.0, 1.0), (6.0, -3.0, 10.0, 8.0, 1.0, 1.0)]
    with OpentrackListener(0, seat=SEAT) as fresh:
        assert "no pose received yet" in fresh.capture_zero()


def test_a_flood_of_ten_thousand_malformed_datagrams_a_second_is_survived(sender):
    """One second at 10,000 datagrams a second, 9 in 10 malformed (short, NaN, long), a
    good one every tenth: the thread keeps up, counts what it dropped (UDP may lose some
    of them in the kernel, never more than were sent) and ends on the last good pose."""
    kinds = [b"\x00" * 20, packet(math.nan, 0, 0, 0, 0, 0), b"\x01" * 64]
    sent_bad = sent_good = 0
    with OpentrackListener(0, seat=SEAT) as listener:
        target = ("127.0.0.1", listener.port)
        start = time.monotonic()
        for burst in range(100):  # 100 bursts of 100 datagrams, one every 10 ms
            for i in range(100):
                if i % 10 == 0:
                    sender.sendto(packet(float(burst % 7), 0, 0, 0, 0, 0), target)
                    sent_good += 1
                else:
                    sender.sendto(kinds[i % 3], target)
                    sent_bad += 1
            delay = start + (burst + 1) * 0.01 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        sender.sendto(packet(-9.0, 0, 0, 0, 0, 0), target)
        wait_for(lambda: listener.poses.latest() is not None
                 and listener.poses.latest()[1] == pytest.approx(-0.09))
        stats = listener.poses.stats()
        assert listener._thread.is_alive()
        assert 0.9 * sent_bad <= stats.dropped <= sent_bad
        assert 0.9 * (sent_good + 1) <= stats.received <= sent_good + 1


def test_a_port_in_use_is_an_input_error():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with pytest.raises(InputError, match=f"opentrack 127.0.0.1:{port}: cannot listen"):
            OpentrackListener(port, seat=SEAT)


def test_latency_is_measured_from_arrival_to_first_use():
    clock = FakeClock()
    poses = LatestPose(1.0, clock=clock)
    poses.put([2, 0, 0.25, 0])
    clock.now += 0.004
    poses.pose()
    clock.now += 0.003
    poses.pose()  # the same pose again: not a new latency
    poses.put([2, 0.1, 0.25, 0])
    poses.put([2, 0.2, 0.25, 0])  # replaced before any period used the one before
    clock.now += 0.001
    assert poses.pose()[1] == 0.2
    stats = poses.stats()
    assert stats.latency_count == 2
    assert stats.latency_max_s == pytest.approx(0.004)
    assert stats.latency_mean_s == pytest.approx(0.0025)
    poses.restart()
    assert poses.stats().latency_count == 0 and poses.stats().stale_periods == 0
