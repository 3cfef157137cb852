"""Finding and following one face in grayscale frames, with OpenCV (``[camera]`` extra).

Two steps per frame:

1. **Follow**: the face's template (a patch of the frame where it was first found) is
   aligned to the new frame by ECC image alignment (``cv2.findTransformECC``, an affine
   warp, started from the last frame's warp and run on a region around it). That gives
   the face's position and scale to a fraction of a pixel, which a detector's box does
   not: the size of a Haar box moves in steps of its scale factor.
2. **Find** (only when following fails: the first frame, a lost or turned face): OpenCV's
   Haar cascade ``haarcascade_frontalface_alt2.xml`` (shipped in the wheels of
   ``opencv-python-headless`` 4.x) finds the face; its box starts a new alignment, and if
   that fails too the box itself is the answer (``correlation`` 0). Scales step by
   ``SCALE_STEP``: the alignment, not the box, gives the size, so a coarse step costs no
   accuracy, and it keeps a full search of a 640 x 480 frame at about 28 frames a second
   on one core (the ``default`` cascade at the usual 1.1 step: 16).

A face's ``width_px`` is on the template's scale: the detector box's width when the
template was taken, times the scale the alignment found since.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from common.errors import InputError

CASCADE = "haarcascade_frontalface_alt2.xml"
SCALE_STEP = 1.15  # the detector's scale factor between window sizes
MIN_NEIGHBOURS = 3  # overlapping detections a box needs
MIN_CORRELATION = 0.85  # ECC correlation below this: the template no longer fits
MIN_FACE_PX = 24  # the cascade's own window
_MARGIN = 0.5  # the alignment searches this many face widths around the last face


def load_cv2():
    """The ``cv2`` module, or an InputError saying how to install it. OpenCV's own
    warnings (a camera that does not open) are silenced: the caller says what failed."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    try:
        import cv2
    except ImportError as exc:
        raise InputError(f"the webcam tracker needs OpenCV ({exc}); install it with "
                         f"pip install -e '.[camera]' (opencv-python-headless 4.x)") from None
    return cv2


@dataclass(frozen=True)
class Face:
    """A face in a frame: ``centre_px`` (u, v) pixel-centre coordinates, ``width_px`` on
    the template's scale, ``correlation`` of the alignment (0: the detector's box)."""

    centre_px: tuple[float, float]
    width_px: float
    correlation: float


class FaceFinder:
    """Follows the largest-evidence face of grayscale uint8 frames (H, W); one OpenCV
    thread, so that it takes one core."""

    def __init__(self, *, min_correlation: float = MIN_CORRELATION):
        cv2 = self._cv2 = load_cv2()
        cv2.setNumThreads(1)
        self._cascade = cv2.CascadeClassifier(cv2.data.haarcascades + CASCADE)
        if self._cascade.empty():
            raise InputError(f"OpenCV {cv2.__version__} has no {CASCADE} in "
                             f"{cv2.data.haarcascades}; install opencv-python-headless 4.x "
                             f"(the 5.x wheels ship no Haar cascades)")
        self.min_correlation = float(min_correlation)
        self._criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-4)
        self._template: np.ndarray | None = None  # float32 (h, w) patch
        self._warp: np.ndarray | None = None  # float32 (2, 3): template -> frame pixels

    def reset(self) -> None:
        """Forget the template and the face (the next frame is searched afresh)."""
        self._template = self._warp = None

    def find(self, gray: np.ndarray) -> Face | None:
        """The face in ``gray`` (H, W) uint8, or None where there is none."""
        if self._warp is not None and self._template is not None:
            face = self._align(gray, self._template, self._warp)
            if face is not None:
                return face
        self._warp = None
        box = self._detect(gray)
        if box is None:
            return None
        x, y, w, h = box
        boxed = Face((x + (w - 1) / 2, y + (h - 1) / 2), float(w), 0.0)
        if self._template is None:
            self.retemplate(gray, boxed)
        if self._template is None:  # the box reaches out of the frame: no template yet
            return boxed
        scale = w / self._template.shape[1]
        face = self._align(gray, self._template,
                           np.array([[scale, 0, x], [0, scale, y]], np.float32))
        return face or boxed

    def retemplate(self, gray: np.ndarray, face: Face) -> None:
        """Take the template from ``gray`` at ``face`` (a square ``width_px`` wide): from
        now on widths are on this frame's scale."""
        half = face.width_px / 2
        x0 = int(round(face.centre_px[0] - half + 0.5))
        y0 = int(round(face.centre_px[1] - half + 0.5))
        size = int(round(face.width_px))
        height, width = gray.shape
        if x0 < 0 or y0 < 0 or x0 + size > width or y0 + size > height or size < MIN_FACE_PX:
            return  # not wholly inside the frame: keep the old template
        self._template = gray[y0:y0 + size, x0:x0 + size].astype(np.float32)
        self._warp = np.array([[1, 0, x0], [0, 1, y0]], np.float32)

    def _detect(self, gray: np.ndarray) -> tuple[int, int, int, int] | None:
        """The detector's box (x, y, w, h) with the most neighbours, or None."""
        boxes, neighbours = self._cascade.detectMultiScale2(
            gray, scaleFactor=SCALE_STEP, minNeighbors=MIN_NEIGHBOURS,
            minSize=(MIN_FACE_PX, MIN_FACE_PX))
        if len(boxes) == 0:
            return None
        x, y, w, h = (int(v) for v in boxes[int(np.argmax(neighbours))])
        return x, y, w, h

    def _align(self, gray: np.ndarray, template: np.ndarray, warp: np.ndarray) -> Face | None:
        """ECC alignment of ``template`` starting from ``warp``, on a region around it."""
        cv2 = self._cv2
        size = template.shape[1]
        corners = warp[:, :2] @ np.array([[0, size, 0, size], [0, 0, size, size]]) \
            + warp[:, 2:]
        span = corners.max(axis=1) - corners.min(axis=1)
        low = np.floor(corners.min(axis=1) - _MARGIN * span).astype(int)
        high = np.ceil(corners.max(axis=1) + _MARGIN * span).astype(int)
        x0, y0 = max(low[0], 0), max(low[1], 0)
        x1, y1 = min(high[0], gray.shape[1]), min(high[1], gray.shape[0])
        if x1 - x0 < MIN_FACE_PX or y1 - y0 < MIN_FACE_PX:
            return None
        local = warp.copy()
        local[:, 2] -= (x0, y0)
        try:
            correlation, local = cv2.findTransformECC(
                template, gray[y0:y1, x0:x1].astype(np.float32), local, cv2.MOTION_AFFINE,
                self._criteria, None, 1)
        except cv2.error:  # did not converge
            return None
        a = local[:, :2]
        det = float(np.linalg.det(a))
        sx, sy = np.hypot(*a.T)
        if correlation < self.min_correlation or det <= 0 or not 0.8 < sx / sy < 1.25:
            return None
        local[:, 2] += (x0, y0)
        self._warp = local
        centre = a @ np.full(2, (size - 1) / 2) + local[:, 2]
        return Face((float(centre[0]), float(centre[1])), size * det ** 0.5,
                    float(correlation))
