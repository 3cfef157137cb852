"""Live head poses over OSC: real UDP packets on the loopback interface (python-osc's own
client), the staleness timeout, and the fallback to the nominal cell. Every wait is
bounded; the clock of the staleness timeout is a fake one the test moves."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest
from pythonosc.udp_client import SimpleUDPClient

from common.errors import InputError
from device.osc_poses import OscPoseListener
from renderer.tracked import TrackedConvolver
from tracked_fixtures import grid_cells, synthetic_tracked_bank

WAIT_S = 5.0


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def wait_for(condition) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "no OSC message arrived in time"
        time.sleep(0.002)


@pytest.fixture
def listener():
    clock = FakeClock()
    with OscPoseListener(0, timeout_s=0.25, clock=clock) as osc:
        yield osc, SimpleUDPClient("127.0.0.1", osc.port), clock


def test_a_pose_sent_over_udp_is_held_until_it_goes_stale(listener):
    osc, client, clock = listener
    assert osc.pose() is None  # nothing received yet
    client.send_message("/head/pose", [2.1, -0.05, 0.25, 7.5])
    wait_for(lambda: osc.received == 1)
    assert np.allclose(osc.pose(), [2.1, -0.05, 0.25, 7.5], rtol=1e-6)  # OSC sends float32
    clock.now += 0.24
    assert osc.pose() is not None
    clock.now += 0.02  # 0.26 s after the message: stale
    assert osc.pose() is None
    client.send_message("/head/pose", [1.9, 0.05, 0.25, -3])  # an int yaw is fine
    wait_for(lambda: osc.received == 2)
    assert np.allclose(osc.pose(), [1.9, 0.05, 0.25, -3.0], rtol=1e-6)


def test_malformed_messages_are_counted_and_ignored(listener):
    osc, client, _ = listener
    client.send_message("/head/pose", [2.0, 0.0, 0.25, 0.0])
    for bad in ([2.0, 0.0, 0.25], [2.0, "left", 0.25, 0.0], [2.0, float("nan"), 0.25, 0.0],
                [2.0, 0.0, 0.25, 0.0, 1.0], [True, 0.0, 0.25, 0.0]):
        client.send_message("/head/pose", bad)
    client.send_message("/head/other", [1.0, 1.0, 1.0, 1.0])  # another address: not ours
    wait_for(lambda: osc.rejected == 5)
    assert osc.received == 1 and np.allclose(osc.pose(), [2.0, 0.0, 0.25, 0.0])


def test_a_silent_tracker_falls_back_to_the_nominal_cell(listener):
    osc, client, clock = listener
    bank = synthetic_tracked_bank(grid_cells(distance_m=(2.0,)), n_taps=16)
    conv = TrackedConvolver(bank.taps, bank.cells, 32, nominal=bank.nominal_cell)
    block = np.zeros((3, 32), np.float32)
    conv.process(block, osc.pose())
    assert conv.cell == bank.nominal_cell  # no pose yet
    client.send_message("/head/pose", [2.0, 0.1, 0.25, 0.0])
    wait_for(lambda: osc.received == 1)
    conv.process(block, osc.pose())
    assert bank.cells[conv.cell].tolist() == [2.0, 0.1, 0.25, 0.0]
    clock.now += 1.0
    conv.process(block, osc.pose())
    assert conv.cell == bank.nominal_cell


def test_bad_ports_and_timeouts_are_input_errors():
    with pytest.raises(InputError, match="OSC port: expected an integer from 0 to 65535"):
        OscPoseListener(70000)
    with pytest.raises(InputError, match="staleness timeout"):
        OscPoseListener(0, timeout_s=0.0)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with pytest.raises(InputError, match=f"OSC 127.0.0.1:{port}: cannot listen"):
            OscPoseListener(port)
