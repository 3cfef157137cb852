"""Webcam tracker speed on one core at 640 x 480, and the smoothing's lag.

Frames are the astronaut photograph of the tests (tests/face_frames.py) moving over
lateral +-15 cm and 0.75-1.5 x the nominal 2 m, rendered before timing. Prints frames a
second (goal >= 20) for the usual case, following the face by template alignment, and
for the worst case, a full Haar search in every frame (a face lost every frame); the
error against the known head positions; and the one-euro filter's lag behind a head
moving steadily at 0.1, 0.3 and 1 m/s at 30 frames a second, and how much it quiets
3 mm of jitter at rest.

    python benchmarks/webcam.py [--frames 300] [--repeats 3]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core: set before NumPy loads a BLAS

import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from _cli import make_parser, run  # noqa: E402  (also puts the checkout on sys.path)

import numpy as np  # noqa: E402

from device.camera_geometry import read_camera  # noqa: E402
from device.pose_smoothing import OneEuroFilter  # noqa: E402
from face_frames import SEAT, frame, path, photo  # noqa: E402

FPS = 30.0


def track_all(frames: list, truth: np.ndarray, search_every_frame: bool) -> tuple[float, dict]:
    """Seconds per frame (best run is taken by the caller) and the errors."""
    from device.webcam import HeadTracker

    tracker = HeadTracker(read_camera(), SEAT, smooth=False)
    tracker.update(0.0, frames[0])
    tracker.calibrate()
    errors = []
    start = time.perf_counter()
    for i, (image, pose) in enumerate(zip(frames[1:], truth[1:])):
        if search_every_frame:
            tracker.finder._warp = None  # forget where the face was: search the frame
        estimate = tracker.update((i + 1) / FPS, image)
        errors.append((np.nan, np.nan) if estimate is None else
                      (estimate[1] - pose[1], estimate[0] / pose[0] - 1))
    seconds = (time.perf_counter() - start) / (len(frames) - 1)
    errors = np.abs(np.array(errors))
    return seconds, {"lateral_max_cm": np.nanmax(errors[:, 0]) * 100,
                     "distance_max_percent": np.nanmax(errors[:, 1]) * 100,
                     "misses": int(np.isnan(errors[:, 0]).sum())}


def smoothing_lag(speed: float, seconds: float = 10.0) -> float:
    """Steady lag (s) of the one-euro filter behind a ramp at ``speed`` m/s at FPS."""
    smoother = OneEuroFilter()
    t = np.arange(int(seconds * FPS)) / FPS
    out = [smoother(ti, [speed * ti])[0] for ti in t]
    return (speed * t[-1] - out[-1]) / speed


def main(args) -> int:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    import cv2

    picture = photo()
    truth = np.vstack([SEAT, path(args.frames)[5:]])
    frames = [cv2.cvtColor(frame(picture, pose), cv2.COLOR_GRAY2BGR) for pose in truth]
    print(f"OpenCV {cv2.__version__}, {cv2.getNumThreads()} thread(s), one core; "
          f"{len(frames)} frames of 640 x 480 (BGR, converted to grey in the timing)")
    for label, search in (("following (template alignment)", False),
                          ("searching every frame (Haar, worst case)", True)):
        runs = [track_all(frames, truth, search) for _ in range(args.repeats)]
        seconds, errors = min(runs, key=lambda r: r[0])
        print(f"{label}: {1 / seconds:.1f} frames/s ({seconds * 1e3:.1f} ms a frame; goal "
              f">= 20 frames/s); lateral error max {errors['lateral_max_cm']:.3f} cm, "
              f"distance error max {errors['distance_max_percent']:.2f} %, "
              f"frames without a face {errors['misses']}")
    for speed in (0.1, 0.3, 1.0):
        print(f"one-euro smoothing at {FPS:g} frames/s: lag {smoothing_lag(speed) * 1e3:.1f} ms"
              f" behind a head moving {speed:g} m/s")
    rng = np.random.default_rng(0)
    noise = rng.normal(0.0, 0.003, 3000)
    smoother = OneEuroFilter()
    quiet = np.array([smoother(i / FPS, [x])[0] for i, x in enumerate(noise)])
    print(f"one-euro smoothing at rest: 3.0 mm of jitter -> {np.std(quiet[300:]) * 1e3:.2f} mm")
    return 0


def build_parser():
    parser = make_parser(__doc__.splitlines()[0], prog="webcam.py")
    parser.add_argument("--frames", type=int, default=300, help="frames in the path")
    parser.add_argument("--repeats", type=int, default=3, help="runs; the best is printed")
    return parser


if __name__ == "__main__":
    sys.exit(run(main, build_parser()))
