#!/usr/bin/env python3
"""Track a head with a webcam: print or send its poses live, or turn a recording into
the poses.csv that render.py --poses reads.

    python scripts/track.py [--device 0] [--send osc|opentrack[:HOST]:PORT] [--seconds S]
    python scripts/track.py --input VIDEO_OR_FOLDER --out poses.csv [--fps 30]
    # both: [--camera CAMERA.toml] [--calibration CAL.toml] [--tracker-zero]
    #       [--filters BANK.npz | --seat X,Y,Z] [--no-smoothing]

Poses are head centres x, y, z (m, device frame) with yaw 0 (docs/tracking.md). Live,
each pose is printed, or sent as OSC /head/pose x y z yaw_deg or as opentrack datagrams
(for play.py --tracker osc or opentrack on this or another machine); press z while at the
nominal seat to calibrate. Offline, a video file or a folder of images (name order, at
--fps) becomes one poses.csv row per frame with a face (frames without one are left out;
render.py interpolates over them).
"""

from __future__ import annotations

import argparse
import csv
import socket
import sys
import threading
import time
from pathlib import Path

from _cli import make_parser, run  # first: puts the checkout on sys.path

import numpy as np

from device.camera_geometry import read_camera
from device.keys import KeyListener
from device.opentrack_axes import device_to_opentrack
from device.trackers import CalibrationFile
from common.errors import InputError
from common.atomic import atomic_output, check_output_dir
from renderer.poses import COLUMNS

SEAT = "2.0,0.0,0.25"  # the studio array's nominal listener


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(__doc__.splitlines()[0], prog="track.py")
    parser.add_argument("--device", default="0", help="camera index or device path (live)")
    parser.add_argument("--send", default=None, metavar="osc|opentrack[:HOST]:PORT",
                        help="live: send each pose over UDP (default host 127.0.0.1) "
                        "instead of printing it")
    parser.add_argument("--seconds", type=float, default=None,
                        help="live: stop after this many seconds (default: Ctrl-C)")
    parser.add_argument("--input", type=Path, default=None, metavar="VIDEO_OR_FOLDER",
                        help="track a recording instead of a camera")
    parser.add_argument("--out", type=Path, default=None, metavar="poses.csv",
                        help="with --input: the poses file to write")
    parser.add_argument("--fps", type=float, default=30.0,
                        help="with a folder of images: frames per second")
    parser.add_argument("--camera", type=Path, default=None, metavar="CAMERA.toml",
                        help="the camera's placement and field of view; without it, the "
                        "bundled device/camera.toml")
    parser.add_argument("--calibration", type=Path, default=None, metavar="CAL.toml",
                        help="read the webcam calibration from it; a calibration (z key, "
                        "--tracker-zero) is written to it")
    parser.add_argument("--tracker-zero", action="store_true",
                        help="calibrate on the first face: the listener starts at the seat")
    parser.add_argument("--filters", type=Path, default=None,
                        help="take the nominal seat from this (tracked) filter bank")
    parser.add_argument("--seat", default=SEAT, metavar="X,Y,Z",
                        help="the nominal seat, head centre in the device frame (m)")
    parser.add_argument("--no-smoothing", action="store_true",
                        help="raw poses, without the one-euro filter")
    return parser


def main(args: argparse.Namespace) -> int:
    offline = args.input is not None
    if offline != (args.out is not None):
        raise InputError("--input and --out go together: a recording in, a poses.csv out")
    if not np.isfinite(args.fps) or args.fps <= 0:
        raise InputError(f"--fps: expected a positive number of frames a second, got "
                         f"{args.fps}")
    if offline:
        check_output_dir(args.out)
    seat = _seat(args)
    camera = read_camera(args.camera)
    store = CalibrationFile(args.calibration)
    from device.webcam import HeadTracker  # OpenCV loads here, not for --help

    tracker = HeadTracker(camera, seat, store.value.face, smooth=not args.no_smoothing)
    zero = threading.Event()
    if args.tracker_zero:
        zero.set()

    def calibrate() -> None:
        face = tracker.calibrate()
        if face is not None:
            zero.clear()
            store.face(face)
            print(f"track.py: calibrated at the seat: face {face.width_m * 100:.1f} cm wide",
                  file=sys.stderr, flush=True)

    if offline:
        return _offline(args, tracker, zero, calibrate)
    return _live(args, tracker, seat, zero, calibrate)


def _seat(args: argparse.Namespace) -> np.ndarray:
    if args.filters is not None:
        from renderer.trackedbank import TrackedBank, read_bank

        bank = read_bank(args.filters)
        if not isinstance(bank, TrackedBank):
            raise InputError(f"--filters {args.filters}: a plain filter bank; the seat comes "
                             f"from a tracked bank (or give --seat)")
        return bank.nominal_pose
    try:
        values = [float(v) for v in args.seat.split(",")]
    except ValueError:
        values = []
    if len(values) != 3 or not all(np.isfinite(values)):
        raise InputError(f"--seat: expected three numbers X,Y,Z in metres, got {args.seat!r}")
    return np.array([*values, 0.0])


def _offline(args, tracker, zero: threading.Event, calibrate) -> int:
    from device.webcam import recorded_frames

    rows, frames = [], 0
    for t, frame in recorded_frames(args.input, args.fps):
        frames += 1
        pose = tracker.update(t, frame)
        if pose is not None and zero.is_set():
            calibrate()
            pose = tracker.update(t, frame)  # this frame again, calibrated
        if pose is not None:
            rows.append([t, *pose])
    if not rows:
        raise InputError(f"--input {args.input}: no face found in any of its {frames} "
                         f"frames; nothing written")
    with atomic_output(args.out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        writer.writerows([f"{v:.6f}" for v in row] for row in rows)
    print(f"track.py: wrote {args.out}: {len(rows)} poses from {frames} frames "
          f"({frames - len(rows)} without a face)")
    return 0


def _sender(spec: str | None, seat: np.ndarray):
    """``send(pose)`` for --send (None: print), and a description."""
    if spec is None:
        return (lambda t, pose: print(f"{t:.3f} s: x {pose[0]:.3f} y {pose[1]:.3f} "
                                      f"z {pose[2]:.3f} m", flush=True)), "printing poses"
    kind, _, rest = spec.partition(":")
    host, _, port = rest.rpartition(":")
    host = host or "127.0.0.1"
    if kind not in ("osc", "opentrack") or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--send {spec!r}: expected osc:[HOST:]PORT or "
                         f"opentrack:[HOST:]PORT")
    if kind == "osc":
        from pythonosc.udp_client import SimpleUDPClient

        client = SimpleUDPClient(host, int(port))
        return (lambda t, pose: client.send_message("/head/pose", [float(v) for v in pose]),
                f"sending OSC /head/pose to {host}:{port}")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    return (lambda t, pose: sock.sendto(
        np.asarray(device_to_opentrack(pose, seat), "<f8").tobytes(), (host, int(port))),
        f"sending opentrack datagrams to {host}:{port}")


def _live(args, tracker, seat: np.ndarray, zero: threading.Event, calibrate) -> int:
    from device.webcam import camera_frames, open_camera

    send, what = _sender(args.send, seat)
    device = int(args.device) if args.device.isdigit() else args.device
    capture = open_camera(device, tracker.camera)
    stop = threading.Event()
    keys = KeyListener({"z": zero.set}).start()
    print(f"track.py: camera {device}, {what}; press z at the nominal seat to calibrate, "
          f"Ctrl-C stops", file=sys.stderr, flush=True)
    end = None if args.seconds is None else time.monotonic() + args.seconds
    count = 0
    try:
        for t, frame in camera_frames(capture, stop):
            pose = tracker.update(t, frame)
            if pose is not None and zero.is_set():
                calibrate()
                continue
            if pose is not None:
                send(t, pose)
                count += 1
            if end is not None and time.monotonic() >= end:
                break
    except KeyboardInterrupt:
        pass
    finally:
        keys.close()
        capture.release()
    print(f"track.py: {count} poses", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(run(main, build_parser()))
