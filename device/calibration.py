"""The tracker calibration file: a small TOML file that the zero key writes.

::

    # soundstage tracker calibration: what the trackers read at the nominal seat
    [opentrack]
    zero = [1.5, -2.0, 3.25, 4.0, 0.0, 0.0]   # raw x, y, z (cm), yaw, pitch, roll (deg)

    [webcam]
    face_width_m = 0.152                      # the tracked face's width (m)
    face_offset_m = [0.004, -0.021]           # its point beside the head centre: y, z (m)

Both tables are optional; a file that does not exist yet is an empty calibration (it is
written on the first capture). A file that exists but cannot be used is an
:class:`InputError` naming the file and the field.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from common.tomlfields import Fields, read_toml
from common.atomic import atomic_output, check_output_dir

from device.camera_geometry import FaceCalibration
from device.opentrack_axes import PACKET_DOUBLES


@dataclass(frozen=True)
class Calibration:
    """``opentrack_zero``: the raw opentrack pose (6,) at the nominal seat, or None (the
    tracker's origin is the seat); ``face``: the webcam's face measured at the seat, or
    None (the camera file's assumed width, no offset)."""

    opentrack_zero: tuple[float, ...] | None = None
    face: FaceCalibration | None = None

    def with_opentrack_zero(self, zero) -> Calibration:
        return replace(self, opentrack_zero=tuple(float(v) for v in zero))

    def with_face(self, face: FaceCalibration) -> Calibration:
        return replace(self, face=face)


def _pair(values) -> tuple[float, float]:
    a, b = (float(v) for v in values)
    return a, b


def read_calibration(path: str | Path | None) -> Calibration:
    """The calibration in ``path``; an empty one for None or a file not written yet."""
    if path is None:
        return Calibration()
    if not Path(path).exists():
        check_output_dir(path)  # a capture must be able to write it later
        return Calibration()
    fields = Fields(read_toml(path), str(path))
    fields.reject_unknown({"opentrack", "webcam"})
    zero = face = None
    if "opentrack" in fields.data:
        table = fields.table("opentrack")
        table.reject_unknown({"zero"})
        zero = tuple(float(v) for v in table.vector("zero", PACKET_DOUBLES))
    if "webcam" in fields.data:
        table = fields.table("webcam")
        table.reject_unknown({"face_width_m", "face_offset_m"})
        face = FaceCalibration(
            width_m=table.number("face_width_m", positive=True, maximum=1.0),
            offset_m=_pair(table.vector("face_offset_m", 2, [0.0, 0.0])))
    return Calibration(opentrack_zero=zero, face=face)


def write_calibration(path: str | Path, calibration: Calibration) -> Path:
    """Write ``calibration`` to ``path`` atomically (a reader never sees half a file)."""
    lines = ["# soundstage tracker calibration (play.py --calibration): what the trackers",
             "# read while the listener sat at the nominal seat"]
    if calibration.opentrack_zero is not None:
        values = ", ".join(repr(float(v)) for v in calibration.opentrack_zero)
        lines += ["", "[opentrack]",
                  f"zero = [{values}]  # raw x, y, z (cm), yaw, pitch, roll (deg)"]
    if calibration.face is not None:
        dy, dz = (float(v) for v in calibration.face.offset_m)
        lines += ["", "[webcam]", f"face_width_m = {float(calibration.face.width_m)!r}",
                  f"face_offset_m = [{dy!r}, {dz!r}]  # y, z (m)"]
    path = Path(path)
    with atomic_output(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path

