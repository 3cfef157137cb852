"""Webcam frames of a real face photograph at known head positions, through a pinhole
camera written here independently of device/camera_geometry.py.

The photograph is scikit-image's ``astronaut()`` (Eileen Collins, NASA; public domain),
shipped inside the scikit-image package: no download. It is a flat picture facing the
camera (along device -x), printed at ``PHOTO_M_PER_PX`` metres per pixel; the head
centre lies ``HEAD_DEPTH_M`` behind the picture's point ``FACE_POINT_PX`` (between the
eyes and the mouth), ``FACE_OFFSET_M`` beside it. A frame is the picture seen by the
camera of ``device/camera.toml`` (60 deg, 640 x 480, at [0, 0, 0.12] looking along +x),
over a grey background, with a little sensor noise.
"""

from __future__ import annotations

import math

import numpy as np

PHOTO_M_PER_PX = 0.15 / 97.0  # the face box (97 px in the photo) is 15 cm wide
FACE_POINT_PX = (223.0, 114.0)  # photo pixel (u, v) that the head follows
HEAD_DEPTH_M = 0.09  # as device/camera.toml
FACE_OFFSET_M = (0.01, -0.03)  # the face point beside the head centre: y, z (m)
CAMERA_M = np.array([0.0, 0.0, 0.12])
IMAGE = (640, 480)
FOV_DEG = 60.0
SEAT = np.array([2.0, 0.0, 0.25, 0.0])  # the studio's nominal listener


def photo() -> np.ndarray:
    """The astronaut photograph as (512, 512) uint8 grey."""
    from skimage.data import astronaut

    rgb = astronaut().astype(float)
    return np.round(rgb @ [0.299, 0.587, 0.114]).astype(np.uint8)


def frame(picture: np.ndarray, head_m, rng: np.random.Generator | None = None) -> np.ndarray:
    """The (480, 640) uint8 frame of a head centred at ``head_m`` (x, y, z, device frame)."""
    import cv2

    width, height = IMAGE
    f = width / 2 / math.tan(math.radians(FOV_DEG) / 2)
    cu, cv = (width - 1) / 2, (height - 1) / 2
    x, y, z = np.asarray(head_m, float)[:3] - CAMERA_M
    depth = x - HEAD_DEPTH_M  # the picture's plane, in front of the lens
    lateral, vertical = y + FACE_OFFSET_M[0], z + FACE_OFFSET_M[1]  # the face point
    k = f * PHOTO_M_PER_PX / depth  # image pixels per photo pixel
    # photo right is device -y (image right); photo down is device -z (image down)
    warp = np.array([[k, 0.0, cu - f * lateral / depth - k * FACE_POINT_PX[0]],
                     [0.0, k, cv - f * vertical / depth - k * FACE_POINT_PX[1]]])
    out = cv2.warpAffine(picture, warp, (width, height), flags=cv2.INTER_AREA if k < 1
                         else cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=96)
    if rng is not None:
        out = np.clip(out + rng.normal(0.0, 2.0, out.shape), 0, 255).astype(np.uint8)
    return out


def path(n: int) -> np.ndarray:
    """(n, 4) head poses: 5 frames at the seat, then a Lissajous path over lateral
    -15..+15 cm and 0.75..1.5 x the nominal 2 m, corners included."""
    t = np.linspace(0.0, 1.0, n - 5)
    lateral = 0.15 * np.sin(2 * np.pi * 1.5 * t)
    distance = 2.0 * (1.125 - 0.375 * np.cos(2 * np.pi * t))
    moving = np.column_stack([distance, lateral, np.full_like(t, SEAT[2]), np.zeros_like(t)])
    return np.vstack([np.tile(SEAT, (5, 1)), moving])
