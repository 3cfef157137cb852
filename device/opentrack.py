"""Head poses from opentrack's "UDP over network" output (``play.py --tracker opentrack``).

A thread reads datagrams of six little-endian doubles (x, y, z cm; yaw, pitch, roll deg;
48 bytes), maps each through the axis map and calibration of
:mod:`device.opentrack_axes` into a device-frame pose and puts it into a
:class:`device.pose_source.LatestPose`. A datagram of another length or with a value
that is not finite is counted as dropped and otherwise ignored; nothing a sender does can
stop the thread. "Received" is when the thread read the datagram from the socket.
"""

from __future__ import annotations

import math
import socket
import struct
import time
from typing import Callable

import numpy as np

from common.errors import InputError

from device.opentrack_axes import PACKET_BYTES, PACKET_DOUBLES, opentrack_to_device
from device.pose_source import LatestPose
from device.worker import Worker

DEFAULT_PORT = 4242  # opentrack's default for "UDP over network"
_PACKET = struct.Struct(f"<{PACKET_DOUBLES}d")
_POLL_S = 0.1  # how often the thread checks whether to stop


def check_port(port: int, what: str) -> int:
    """``port`` if it is an integer UDP port (0: any free port), else an InputError."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise InputError(f"{what}: expected a UDP port from 0 to 65535, got {port!r}")
    return port


def bind_udp(host: str, port: int, what: str) -> socket.socket:
    """A UDP socket bound to ``host:port``; InputError naming ``what`` if it cannot be."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((host, check_port(port, what)))
    except (OSError, OverflowError) as exc:
        sock.close()
        reason = getattr(exc, "strerror", None) or exc
        raise InputError(f"{what} {host}:{port}: cannot listen ({reason})") from None
    return sock


class OpentrackListener(Worker):
    """Listen on UDP ``host:port`` (0: any free port, see :attr:`port`) for opentrack
    datagrams; poses go to :attr:`poses` (stale after ``timeout_s``). ``seat``: the
    nominal seat (4,) in the device frame; ``zero``: the raw pose (6,) read there (None:
    opentrack's origin is the seat). ``zero_on_first``: take the first datagram as the
    zero. ``on_zero(zero)`` is called (on the listener's thread or the caller's) each
    time a zero is captured, e.g. to write the calibration file."""

    def __init__(self, port: int = DEFAULT_PORT, *, seat, host: str = "127.0.0.1",
                 zero=None, zero_on_first: bool = False, timeout_s: float = 0.5,
                 clock: Callable[[], float] = time.monotonic,
                 on_zero: Callable[[tuple[float, ...]], None] | None = None):
        self.poses = LatestPose(timeout_s, clock=clock)
        self.seat = np.asarray(seat, dtype=float)
        self.zero = tuple(float(v) for v in (zero if zero is not None else [0.0] * 6))
        self._zero_on_first, self._on_zero = zero_on_first, on_zero
        self._raw: tuple[float, ...] | None = None  # the last good datagram
        self._sock = bind_udp(host, port, "opentrack")
        self._sock.settimeout(_POLL_S)
        self._address = self._sock.getsockname()[:2]
        super().__init__(f"opentrack-{self.port}")

    @property
    def port(self) -> int:
        """The UDP port listened on."""
        return int(self._address[1])

    def describe(self) -> str:
        return f"opentrack UDP on {self._address[0]}:{self.port}"

    def _release(self) -> None:
        self._sock.close()

    def capture_zero(self) -> str:
        """Take the last datagram as the zero (the user is at the nominal seat now)."""
        raw = self._raw
        if raw is None:
            return "opentrack: no pose received yet; the zero is unchanged"
        self._set_zero(raw)
        return (f"opentrack: zero captured at x {raw[0]:.1f} cm, y {raw[1]:.1f} cm, "
                f"z {raw[2]:.1f} cm, yaw {raw[3]:.1f} deg")

    def _set_zero(self, raw: tuple[float, ...]) -> None:
        self.zero = raw
        if self._on_zero is not None:
            self._on_zero(raw)

    def _run(self) -> None:
        sock, poses = self._sock, self.poses
        while not self._stop.is_set():
            try:
                data = sock.recv(PACKET_BYTES + 1)  # one byte more: longer ones are seen
            except TimeoutError:
                continue
            except OSError:  # the socket was closed under us
                return
            if len(data) != PACKET_BYTES:
                poses.drop()
                continue
            raw = _PACKET.unpack(data)
            if not all(map(math.isfinite, raw)):
                poses.drop()
                continue
            self._raw = raw
            if self._zero_on_first:
                self._zero_on_first = False
                self._set_zero(raw)
            poses.put(opentrack_to_device(raw, self.zero, self.seat))
