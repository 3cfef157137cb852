"""A face in the image to a head position in the device frame, through a pinhole camera.

The camera (:class:`CameraGeometry`, from a TOML ``[camera]`` table such as
``device/camera.toml``) sits at ``position_m`` on the device looking along ``+x``; image
``u`` (pixels, rightward) is device ``-y``, image ``v`` (downward) is device ``-z``; the
focal length is ``f = (width / 2) / tan(horizontal_fov / 2)`` pixels and the principal
point the image centre ``((width - 1) / 2, (height - 1) / 2)`` (pixel-centre coordinates).

A face of width ``W`` metres, facing the device, whose tracked point is at depth ``X``
in front of the lens appears ``w = f W / X`` pixels wide at ``(u, v)``; so

    X = f W / w,   Y = -(u - cu) X / f - dy,   Z = -(v - cv) X / f - dz,
    head = position_m + (X + head_depth_m, Y, Z)

where ``(dy, dz)`` is where the tracked point of the face lies beside the head centre
(the face box centre is not the head centre). One capture at the nominal seat
(:func:`calibrate`) measures ``W`` and ``(dy, dz)``: a :class:`FaceCalibration`.
All pure functions, no camera and no OpenCV.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.errors import InputError
from common.tomlfields import Fields, read_toml

DEFAULT_CAMERA = Path(__file__).resolve().parent / "camera.toml"


@dataclass(frozen=True)
class CameraGeometry:
    """position_m (3,) of the lens in the device frame; horizontal_fov_deg; image_size
    (width, height) px; face_width_m assumed before calibration; head_depth_m behind the
    face."""

    position_m: tuple[float, float, float]
    horizontal_fov_deg: float
    image_size: tuple[int, int]
    face_width_m: float
    head_depth_m: float

    @property
    def focal_px(self) -> float:
        """Focal length in pixels."""
        return self.image_size[0] / 2.0 / math.tan(math.radians(self.horizontal_fov_deg) / 2.0)

    @property
    def centre_px(self) -> tuple[float, float]:
        """The principal point (u, v), pixel-centre coordinates."""
        return (self.image_size[0] - 1) / 2.0, (self.image_size[1] - 1) / 2.0


@dataclass(frozen=True)
class FaceCalibration:
    """What one capture at the nominal seat measures: the face's width in metres and
    where its tracked point lies beside the head centre, (dy, dz) metres."""

    width_m: float
    offset_m: tuple[float, float] = (0.0, 0.0)


def _triple(values) -> tuple[float, float, float]:
    x, y, z = (float(v) for v in values)
    return x, y, z


def read_camera(path: str | Path | None = None) -> CameraGeometry:
    """The ``[camera]`` table of ``path`` (default ``device/camera.toml``); a bad file is
    an InputError naming the file and the field."""
    path = DEFAULT_CAMERA if path is None else Path(path)
    top = Fields(read_toml(path), str(path))
    top.reject_unknown({"camera"})
    fields = top.table("camera")
    fields.reject_unknown({"position_m", "horizontal_fov_deg", "image_size", "face_width_m",
                           "head_depth_m"})
    size = fields.vector("image_size", 2)
    if any(v != int(v) or v < 32 for v in size):
        raise InputError(f"{path}: camera.image_size: expected two whole numbers of pixels "
                         f">= 32, got {size.tolist()}")
    return CameraGeometry(
        position_m=_triple(fields.vector("position_m", 3)),
        horizontal_fov_deg=fields.number("horizontal_fov_deg", minimum=1.0, maximum=170.0),
        image_size=(int(size[0]), int(size[1])),
        face_width_m=fields.number("face_width_m", positive=True, maximum=1.0),
        head_depth_m=fields.number("head_depth_m", minimum=0.0, maximum=0.5))


def face_to_head(centre_px, width_px: float, camera: CameraGeometry,
                 face: FaceCalibration) -> np.ndarray:
    """Head centre (3,) x, y, z (m, device frame) of a face seen at ``centre_px`` (u, v)
    and ``width_px`` wide."""
    f = camera.focal_px
    cu, cv = camera.centre_px
    depth = f * face.width_m / width_px
    lateral = -(centre_px[0] - cu) * depth / f - face.offset_m[0]
    vertical = -(centre_px[1] - cv) * depth / f - face.offset_m[1]
    return np.asarray(camera.position_m) + [depth + camera.head_depth_m, lateral, vertical]


def head_to_face(head_m, camera: CameraGeometry, face: FaceCalibration
                 ) -> tuple[tuple[float, float], float]:
    """The image position (u, v) and width (px) of the face of a head at ``head_m`` (3,):
    the inverse of :func:`face_to_head`."""
    f = camera.focal_px
    cu, cv = camera.centre_px
    x, y, z = np.asarray(head_m, dtype=float) - camera.position_m
    depth = x - camera.head_depth_m
    if depth <= 0:
        raise InputError(f"head at {list(head_m)}: its face is not in front of the camera")
    u = cu - f * (y + face.offset_m[0]) / depth
    v = cv - f * (z + face.offset_m[1]) / depth
    return (u, v), f * face.width_m / depth


def calibrate(centre_px, width_px: float, camera: CameraGeometry, seat) -> FaceCalibration:
    """The face calibration that puts a face seen at ``centre_px``, ``width_px`` wide, at
    the nominal seat ``seat`` (3 or 4 values, device frame; yaw ignored)."""
    f = camera.focal_px
    cu, cv = camera.centre_px
    x, y, z = np.asarray(seat, dtype=float)[:3] - camera.position_m
    depth = x - camera.head_depth_m
    if depth <= 0:
        raise InputError(f"seat {list(seat)}: in front of the camera at "
                         f"{list(camera.position_m)} by less than head_depth_m")
    return FaceCalibration(width_m=float(width_px * depth / f),
                           offset_m=(float(-(centre_px[0] - cu) * depth / f - y),
                                     float(-(centre_px[1] - cv) * depth / f - z)))
