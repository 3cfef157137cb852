"""Head poses from a webcam (``play.py --tracker webcam``, ``scripts/track.py``).

:class:`HeadTracker` turns frames into device-frame poses: the face
(:mod:`device.face_finder`), the camera model (:mod:`device.camera_geometry`) and the
one-euro filter (:mod:`device.pose_smoothing`). Frames come from a camera
(:func:`camera_frames`) or from a video file or a folder of images
(:func:`recorded_frames`). :class:`WebcamTracker` runs a camera on a thread of its own
and hands its poses to the live renderer through a :class:`LatestPose`; "received" is
the time the frame was read, so the latency it reports includes the face search.
Haar cascades give no head yaw: every webcam pose has yaw 0 (facing the device).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from common.errors import InputError

from device.camera_geometry import (CameraGeometry, FaceCalibration, calibrate, face_to_head,
                                    read_camera)
from device.face_finder import Face, FaceFinder, load_cv2
from device.pose_smoothing import OneEuroFilter
from device.pose_source import LatestPose
from device.worker import Worker

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


class HeadTracker:
    """Frames -> poses (4,) x, y, z (m, device frame), yaw 0, for a listener whose nominal
    seat is ``seat`` (3 or 4 values). ``face``: the calibration from the seat (None: the
    camera file's face width, no offset); ``smooth``: the one-euro filter on or off."""

    def __init__(self, camera: CameraGeometry, seat, face: FaceCalibration | None = None,
                 *, smooth: bool = True):
        self.camera, self.seat = camera, np.asarray(seat, dtype=float)
        self.face = face or FaceCalibration(camera.face_width_m)
        self._cv2 = load_cv2()
        self.finder = FaceFinder()
        self.smoother = OneEuroFilter() if smooth else None
        self._last: tuple[np.ndarray, Face] | None = None  # gray and face of the last face

    def update(self, t_s: float, frame: np.ndarray) -> np.ndarray | None:
        """The pose at ``t_s`` seconds from ``frame`` (H, W) gray or (H, W, 3) BGR, or None
        where no face is found."""
        gray = self._gray(frame)
        face = self.finder.find(gray)
        if face is None:
            self._last = None
            if self.smoother is not None:
                self.smoother.reset()
            return None
        self._last = (gray, face)
        head = face_to_head(face.centre_px, face.width_px, self.camera, self.face)
        if self.smoother is not None:
            head = self.smoother(t_s, head)
        return np.array([*head, 0.0])

    def calibrate(self) -> FaceCalibration | None:
        """Take the face of the last frame as the listener at the nominal seat: retake the
        template there and measure the face's width and offset. None without a face."""
        if self._last is None:
            return None
        gray, face = self._last
        self.finder.retemplate(gray, face)
        self.face = calibrate(face.centre_px, face.width_px, self.camera, self.seat)
        if self.smoother is not None:
            self.smoother.reset()
        return self.face

    def _gray(self, frame: np.ndarray) -> np.ndarray:
        frame = np.asarray(frame)
        if frame.ndim == 3:
            frame = self._cv2.cvtColor(frame, self._cv2.COLOR_BGR2GRAY)
        if frame.ndim != 2 or frame.dtype != np.uint8:
            raise InputError(f"frame: expected (H, W) or (H, W, 3) uint8 pixels, got "
                             f"{frame.dtype} {frame.shape}")
        height, width = frame.shape
        if (width, height) != self.camera.image_size:  # same field of view, other pixels
            self.camera = dataclasses.replace(self.camera, image_size=(width, height))
        return frame


def track(frames: Iterable[tuple[float, np.ndarray]], tracker: HeadTracker
          ) -> Iterator[tuple[float, np.ndarray | None]]:
    """(time s, pose (4,) or None) for each (time s, frame) of ``frames``."""
    for t, frame in frames:
        yield t, tracker.update(t, frame)


def recorded_frames(path: str | Path, fps: float = 30.0) -> Iterator[tuple[float, np.ndarray]]:
    """(time s, BGR frame) of a video file, or of the images of a folder in name order at
    ``fps`` frames a second. An unreadable video or image is an InputError naming it."""
    cv2 = load_cv2()
    path = Path(path)
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise InputError(f"--input {path}: a folder without images "
                             f"({', '.join(IMAGE_SUFFIXES)})")
        for i, image in enumerate(images):
            frame = cv2.imread(str(image), cv2.IMREAD_COLOR)
            if frame is None:
                raise InputError(f"{image}: not a readable image")
            yield i / fps, frame
        return
    if not path.exists():
        raise InputError(f"--input {path}: no such video file or folder")
    capture = cv2.VideoCapture(str(path))
    try:
        ok, frame = capture.read()
        if not capture.isOpened() or not ok:
            raise InputError(f"{path}: not a readable video (OpenCV {cv2.__version__} could "
                             f"not decode a frame)")
        rate = capture.get(cv2.CAP_PROP_FPS) or fps
        i = 0
        while ok:
            yield i / rate, frame
            i += 1
            ok, frame = capture.read()
    finally:
        capture.release()


def open_camera(device: int | str, camera: CameraGeometry):
    """An opened ``cv2.VideoCapture`` of ``device`` (index or path) asked for the camera
    file's image size; InputError when there is no such camera."""
    cv2 = load_cv2()
    capture = cv2.VideoCapture(device)
    if not capture.isOpened():
        capture.release()
        raise InputError(f"--tracker webcam:{device}: cannot open the camera {device!r} "
                         f"(no such device, or in use by another program)")
    capture.set(cv2.CAP_PROP_FRAME_WIDTH, camera.image_size[0])
    capture.set(cv2.CAP_PROP_FRAME_HEIGHT, camera.image_size[1])
    return capture


def camera_frames(capture, stop: threading.Event) -> Iterator[tuple[float, np.ndarray]]:
    """(time s of ``time.monotonic``, frame) read from an opened camera until ``stop``."""
    failures = 0
    while not stop.is_set():
        ok, frame = capture.read()
        if not ok:
            failures += 1
            if failures > 50:
                return  # the camera went away
            time.sleep(0.02)
            continue
        failures = 0
        yield time.monotonic(), frame


class WebcamTracker(Worker):
    """A camera followed on a thread of its own; poses go to :attr:`poses`. ``device``:
    camera index or path; ``camera``: the geometry TOML (None: the bundled one); ``face``:
    the calibration from the seat; ``zero_on_first``: calibrate on the first face;
    ``on_zero(face)`` is called on the tracker's thread after each calibration;
    ``smooth``: the one-euro filter (off: raw poses)."""

    def __init__(self, device: int | str, *, seat, camera: str | Path | None = None,
                 face: FaceCalibration | None = None, zero_on_first: bool = False,
                 timeout_s: float = 0.5,
                 on_zero: Callable[[FaceCalibration], None] | None = None,
                 smooth: bool = True):
        self.poses = LatestPose(timeout_s)
        self.device = device
        geometry = read_camera(camera)
        self.tracker = HeadTracker(geometry, seat, face, smooth=smooth)
        self._on_zero = on_zero
        self._zero = threading.Event()
        if zero_on_first:
            self._zero.set()
        self._capture = open_camera(device, geometry)
        super().__init__("webcam")

    def describe(self) -> str:
        width, height = self.tracker.camera.image_size
        return f"webcam {self.device} ({width} x {height})"

    def _release(self) -> None:
        self._capture.release()

    def capture_zero(self) -> str:
        """Calibrate on the next frame with a face (the listener is at the seat now)."""
        self._zero.set()
        return "webcam: calibrating at the nominal seat on the next frame with a face"

    def _run(self) -> None:
        for t, pose in track(camera_frames(self._capture, self._stop), self.tracker):
            if pose is None:
                self.poses.drop()
                continue
            if self._zero.is_set():
                face = self.tracker.calibrate()
                self._zero.clear()
                if self._on_zero is not None and face is not None:
                    self._on_zero(face)
                continue  # the next frame is measured with the new calibration
            self.poses.put(pose, arrived=t)
