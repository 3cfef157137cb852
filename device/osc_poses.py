"""Live head poses over UDP: OSC messages ``/head/pose x y z yaw_deg`` (python-osc), and on
the same port ``/volume V`` (dB) for a :class:`renderer.volume.VolumeControl`.

A background thread keeps the latest pose; :meth:`OscPoseListener.pose` returns it while
it is fresh and None once it is older than the staleness timeout, so a
:class:`renderer.tracked.TrackedConvolver` falls back to its nominal cell when the
tracker stops sending::

    with OscPoseListener(9000) as poses:
        while playing:
            feeds = convolver.process(block, poses.pose())
"""

from __future__ import annotations

import math
import threading
import time
from typing import TYPE_CHECKING, Callable

import numpy as np
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import BlockingOSCUDPServer

from common.errors import InputError

from device.pose_source import LatestPose

if TYPE_CHECKING:  # only its set() is called: importing it would load the ladder code
    from renderer.volume import VolumeControl

ADDRESS = "/head/pose"
VOLUME_ADDRESS = "/volume"


class OscPoseListener:
    """Listen on UDP ``host:port`` (port 0: any free port, see :attr:`port`) for
    ``/head/pose x y z yaw_deg`` (metres in the device frame, degrees); a pose older than
    ``timeout_s`` seconds of ``clock`` is stale. Messages that are not four finite numbers
    are counted in :attr:`rejected` and otherwise ignored. With ``volume``, ``/volume V``
    sets it (one number, dB; see :meth:`VolumeControl.set`)."""

    def __init__(self, port: int, *, host: str = "127.0.0.1", timeout_s: float = 0.5,
                 clock: Callable[[], float] = time.monotonic,
                 volume: VolumeControl | None = None):
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise InputError(f"OSC port: expected an integer from 0 to 65535, got {port!r}")
        self.poses = LatestPose(timeout_s, clock=clock)
        self.timeout_s = self.poses.timeout_s
        dispatcher = Dispatcher()
        dispatcher.map(ADDRESS, self._on_pose)
        self._addresses = ADDRESS if volume is None else f"{ADDRESS} and {VOLUME_ADDRESS}"
        if volume is not None:
            dispatcher.map(VOLUME_ADDRESS,
                           lambda address, *args: volume.set(args[0] if len(args) == 1 else None))
        try:
            self._server = BlockingOSCUDPServer((host, port), dispatcher)
        except OSError as exc:
            raise InputError(f"OSC {host}:{port}: cannot listen for head poses "
                             f"({exc.strerror or exc})") from None
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True,
                                        name=f"osc-poses-{self.port}")

    @property
    def port(self) -> int:
        """The UDP port listened on."""
        return int(self._server.server_address[1])

    def start(self) -> OscPoseListener:
        """Start the background thread; returns self."""
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop the thread and release the port."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> OscPoseListener:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def received(self) -> int:
        """Poses received."""
        return self.poses.received

    @property
    def rejected(self) -> int:
        """Messages to ``/head/pose`` that were not four finite numbers."""
        return self.poses.dropped

    def pose(self) -> np.ndarray | None:
        """The latest pose (4,) x, y, z (m), yaw (deg), or None if none arrived within
        the last ``timeout_s`` seconds."""
        return self.poses.pose()

    def describe(self) -> str:
        host, port = self._server.server_address[:2]
        return f"OSC {self._addresses} on {host!s}:{port}"

    def capture_zero(self) -> str:
        """OSC poses are in the device frame already: nothing to zero."""
        return "OSC poses are device-frame poses: no zero to capture"

    def _on_pose(self, address: str, *args) -> None:
        if len(args) != 4 or not all(isinstance(a, (int, float)) and not isinstance(a, bool)
                                     and math.isfinite(a) for a in args):
            self.poses.drop()
            return
        self.poses.put(args)
