"""Which head tracker a live player follows: ``--tracker osc[:PORT]``,
``opentrack[:PORT]`` or ``webcam[:DEVICE]``, opened as a running pose source
(:class:`device.pose_source.PoseSource`) whose poses the live renderer polls.

The webcam's modules (and OpenCV) load only when a webcam is asked for, so a player
that follows OSC or opentrack starts as fast as one that follows nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from common.errors import InputError

from device.calibration import Calibration, read_calibration, write_calibration
from device.camera_geometry import FaceCalibration
from device.opentrack import DEFAULT_PORT as OPENTRACK_PORT
from device.pose_source import PoseSource

if TYPE_CHECKING:  # only handed to the OSC listener
    from renderer.volume import VolumeControl

OSC_PORT = 9000
KINDS = ("osc", "opentrack", "webcam")
SPEC_HELP = ("osc[:PORT] (OSC /head/pose x y z yaw_deg, default port 9000), "
             "opentrack[:PORT] (opentrack's UDP output, default port 4242) or "
             "webcam[:DEVICE] (a camera index or a /dev/video path, default 0)")


@dataclass(frozen=True)
class TrackerSpec:
    """``kind`` one of :data:`KINDS`; ``port`` for osc and opentrack; ``device`` for
    webcam (a camera index or a device path)."""

    kind: str
    port: int | None = None
    device: int | str | None = None


def parse_tracker(text: str, option: str = "--tracker") -> TrackerSpec:
    """Parse ``osc[:PORT]``, ``opentrack[:PORT]`` or ``webcam[:DEVICE]``; anything else is
    an InputError naming ``option`` and listing the forms."""
    kind, _, arg = text.strip().partition(":")
    if kind not in KINDS:
        raise InputError(f"{option} {text!r}: unknown tracker {kind!r}; expected {SPEC_HELP}")
    if kind == "webcam":
        device: int | str = 0
        if arg:
            device = int(arg) if arg.isdigit() else arg
        return TrackerSpec("webcam", device=device)
    port = OSC_PORT if kind == "osc" else OPENTRACK_PORT
    if arg:
        if not arg.isdigit() or not 0 <= int(arg) <= 65535:
            raise InputError(f"{option} {text!r}: the port must be an integer from 0 to "
                             f"65535, got {arg!r}")
        port = int(arg)
    return TrackerSpec(kind, port=port)


class CalibrationFile:
    """The calibration read from ``path`` (None: kept in memory only); each capture
    updates it and, with a path, rewrites the file atomically."""

    def __init__(self, path: str | Path | None):
        self.path = None if path is None else Path(path)
        self.value: Calibration = read_calibration(self.path)

    def opentrack_zero(self, zero) -> None:
        self._save(self.value.with_opentrack_zero(zero))

    def face(self, face: FaceCalibration) -> None:
        self._save(self.value.with_face(face))

    def _save(self, value: Calibration) -> None:
        self.value = value
        if self.path is not None:
            write_calibration(self.path, value)


def open_tracker(spec: TrackerSpec, *, seat, host: str = "127.0.0.1",
                 timeout_s: float = 0.5, calibration: str | Path | None = None,
                 zero_on_first: bool = False, camera: str | Path | None = None,
                 volume: VolumeControl | None = None) -> PoseSource:
    """Start the tracker ``spec`` for a listener whose nominal seat is ``seat`` (4,)
    (x, y, z m, yaw deg, device frame). ``host``: address the UDP trackers listen on;
    ``timeout_s``: seconds after which a pose is stale; ``calibration``: the calibration
    TOML to read and to write captures to; ``zero_on_first``: the first pose is taken at
    the nominal seat; ``camera``: the webcam's geometry TOML (default: the bundled one);
    ``volume``: set by OSC ``/volume V`` messages on the osc tracker's port (the other
    trackers carry no volume)."""
    if spec.kind == "osc":
        if zero_on_first:
            raise InputError("--tracker-zero: OSC poses are in the device frame already; "
                             "there is no zero to capture")
        from device.osc_poses import OscPoseListener

        assert spec.port is not None  # parse_tracker gives osc and opentrack a port
        return OscPoseListener(spec.port, host=host, timeout_s=timeout_s,
                               volume=volume).start()
    store = CalibrationFile(calibration)
    if spec.kind == "opentrack":
        from device.opentrack import OpentrackListener

        assert spec.port is not None
        return OpentrackListener(spec.port, seat=seat, host=host,
                                 zero=store.value.opentrack_zero, zero_on_first=zero_on_first,
                                 timeout_s=timeout_s, on_zero=store.opentrack_zero).start()
    from device.webcam import WebcamTracker

    assert spec.device is not None  # ... and a webcam a device
    return WebcamTracker(spec.device, seat=seat, camera=camera, face=store.value.face,
                         zero_on_first=zero_on_first, timeout_s=timeout_s,
                         on_zero=store.face).start()
