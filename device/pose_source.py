"""The newest head pose of a tracker, handed from its thread to the audio callback.

Every live tracker (OSC, opentrack, webcam) runs on a thread of its own and puts each
pose it reads into a :class:`LatestPose`; the live renderer polls :meth:`LatestPose.pose`
once per period. The holder counts what a live report needs: poses received, inputs
dropped (malformed packets, frames without a face), periods played without a fresh pose,
and the latency from a pose's arrival to the first period that uses it::

    poses = LatestPose(timeout_s=0.5)
    poses.put([2.0, 0.05, 0.25, 0.0])      # tracker thread: x, y, z (m), yaw (deg)
    pose = poses.pose()                    # audio thread: the pose, or None when stale
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from common.errors import InputError


def check_timeout(timeout_s: float, what: str) -> float:
    """``timeout_s`` as a float if it is a positive finite number of seconds, else an
    InputError naming ``what``."""
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) \
            or not math.isfinite(timeout_s) or timeout_s <= 0:
        raise InputError(f"{what}: expected a positive number of seconds, got {timeout_s!r}")
    return float(timeout_s)


@dataclass(frozen=True)
class PoseStats:
    """What a tracker delivered during a run. ``stale_periods``: periods played with no
    fresh pose (none yet, or the newest older than the timeout: the nominal cell played);
    latencies: seconds from a pose's arrival to the start of the first period that used
    it, over ``latency_count`` poses (poses replaced before any period used them are not
    counted)."""

    received: int
    dropped: int
    stale_periods: int
    last_pose: tuple[float, float, float, float] | None
    latency_count: int
    latency_mean_s: float
    latency_max_s: float

    def as_dict(self) -> dict:
        """The report's tracker keys (``poses_received``, ``poses_dropped``, ...)."""
        return {"poses_received": self.received, "poses_dropped": self.dropped,
                "poses_stale": self.stale_periods,
                "last_pose": None if self.last_pose is None else
                {"x_m": self.last_pose[0], "y_m": self.last_pose[1],
                 "z_m": self.last_pose[2], "yaw_deg": self.last_pose[3]},
                "pose_latency_ms": {"count": self.latency_count,
                                    "mean": round(self.latency_mean_s * 1e3, 3),
                                    "max": round(self.latency_max_s * 1e3, 3)}}


class LatestPose:
    """Thread-safe holder of the newest pose (4,) x, y, z (m, device frame), yaw (deg).

    ``timeout_s``: a pose older than this (seconds of ``clock``) is stale and
    :meth:`pose` returns None. The tracker thread calls :meth:`put` and :meth:`drop`; the
    audio thread calls :meth:`pose`, which takes a lock held only for a few assignments
    and allocates no array."""

    def __init__(self, timeout_s: float = 0.5, *, clock: Callable[[], float] = time.monotonic):
        self.timeout_s = check_timeout(timeout_s, "pose staleness timeout")
        self.clock = clock
        self._lock = threading.Lock()
        self._latest: np.ndarray | None = None
        self._arrived = -math.inf
        self._used = True  # whether a period has used the latest pose yet
        self.received = self.dropped = self.stale_periods = 0
        self._latency_count, self._latency_sum, self._latency_max = 0, 0.0, 0.0

    def put(self, pose, arrived: float | None = None) -> None:
        """Store a new pose (4 finite numbers; checked by the caller) that arrived at
        ``arrived`` seconds of the clock (default: now)."""
        value = np.array(pose, dtype=float)
        when = self.clock() if arrived is None else float(arrived)
        with self._lock:
            self._latest, self._arrived, self._used = value, when, False
            self.received += 1

    def drop(self) -> None:
        """Count one input that carried no usable pose."""
        with self._lock:
            self.dropped += 1

    def pose(self) -> np.ndarray | None:
        """The newest pose (4,) while fresh, else None (counted as a stale period). The
        first call that returns a new pose records its latency."""
        with self._lock:
            now = self.clock()
            if now - self._arrived > self.timeout_s:
                self.stale_periods += 1
                return None
            if not self._used:
                self._used = True
                latency = now - self._arrived
                self._latency_count += 1
                self._latency_sum += latency
                self._latency_max = max(self._latency_max, latency)
            return self._latest

    def restart(self) -> None:
        """Start the period-side counts afresh (stale periods, latencies), e.g. when
        playback starts after warm-up calls; the pose held now counts as used."""
        with self._lock:
            self.stale_periods = 0
            self._used = True
            self._latency_count, self._latency_sum, self._latency_max = 0, 0.0, 0.0

    def latest(self) -> np.ndarray | None:
        """The newest pose however old (None before the first), for display and reports."""
        with self._lock:
            return None if self._latest is None else self._latest.copy()

    def stats(self) -> PoseStats:
        """The counts and latencies so far."""
        with self._lock:
            last = None if self._latest is None else \
                (float(self._latest[0]), float(self._latest[1]), float(self._latest[2]),
                 float(self._latest[3]))
            count = self._latency_count
            return PoseStats(self.received, self.dropped, self.stale_periods, last, count,
                             self._latency_sum / count if count else 0.0, self._latency_max)


class PoseSource(Protocol):
    """A running tracker: ``poses`` holds what it read; ``describe()`` says what it
    listens to; ``capture_zero()`` takes the current head as the nominal seat (returns
    a line to print); ``close()`` stops its thread. The live renderer polls
    ``poses.pose``."""

    poses: LatestPose

    def describe(self) -> str: ...

    def capture_zero(self) -> str: ...

    def close(self) -> None: ...
