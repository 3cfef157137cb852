"""What measuring a plant and verifying a bank (``measure.py``, ``measure.py --verify``)
read from the command line alike: port lists, a head pose, azimuths, the sweep's numbers,
and the round-trip latency when there is no loopback cable."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from common.errors import InputError
from common.poses import pose_views
from models.plant_sofa import MIN_HEAD_AXIS_M, MIN_RADIUS_M


def ports(text: str, option: str) -> list[str]:
    """Comma-separated JACK port names of ``option``."""
    names = [p.strip() for p in text.split(",")]
    if any(not p for p in names):
        raise InputError(f"{option}: expected comma-separated JACK port names, got {text!r}")
    return names


def loopback_ports(text: str | None) -> tuple[str, str] | None:
    """The ``--loopback OUT_PORT,IN_PORT`` pair, or None without one."""
    if text is None:
        return None
    pair = ports(text, "--loopback")
    if len(pair) != 2:
        raise InputError(f"--loopback: expected OUT_PORT,IN_PORT, got {text!r}")
    return pair[0], pair[1]


def parse_pose(text: str | None) -> np.ndarray:
    """(4,) head centre x, y, z (m) and yaw (deg) from ``--pose X,Y,Z,YAW``."""
    if text is None:
        raise InputError("--pose: required for ear measurements (X,Y,Z,YAW: head centre in "
                         "metres, yaw in degrees); use --far-field for a far-field microphone")
    try:
        pose = np.array([float(v) for v in text.split(",")])
    except ValueError:
        raise InputError(f"--pose: expected X,Y,Z,YAW (four numbers), got {text!r}") from None
    if pose.size != 4:
        raise InputError(f"--pose: expected X,Y,Z,YAW (four numbers), got {text!r}")
    if not np.all(np.isfinite(pose)) or np.hypot(pose[0], pose[1]) < MIN_HEAD_AXIS_M:
        raise InputError(f"--pose: expected finite numbers with the head at least "
                         f"{MIN_HEAD_AXIS_M:g} m from the device's vertical axis, got {text!r}")
    return pose


def head_and_facing(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Head centre (3,) and levelled facing direction (3,) of a pose (4,)."""
    return pose[:3].copy(), pose_views(pose[None, :3], pose[3:4])[0]


def far_field_place(azimuth: str | None, radius: float | None, *, many: bool = False,
                    radius_needed: bool = True) -> tuple[list[float], float | None]:
    """Azimuths (deg) and radius (m) of ``--azimuth DEG`` (``DEG,DEG,...`` where ``many``)
    and ``--radius M``; the radius may be None unless ``radius_needed``."""
    if azimuth is None or (radius is None and radius_needed):
        raise InputError("--far-field: needs --azimuth DEG and --radius M (the microphone's "
                         "place on the measurement circle)")
    try:
        azimuths = [float(v) for v in azimuth.split(",")]
    except ValueError:
        raise InputError(f"--azimuth: expected {'DEG[,DEG...]' if many else 'DEG'} in degrees, "
                         f"got {azimuth!r}") from None
    if len(azimuths) != 1 and not many:
        raise InputError(f"--azimuth: one microphone place per run, got {azimuth!r}")
    if not np.all(np.isfinite(azimuths)) or not (radius is None or (np.isfinite(radius)
                                                                    and radius > MIN_RADIUS_M)):
        raise InputError(f"--azimuth/--radius: expected a finite azimuth and a radius above "
                         f"{MIN_RADIUS_M:g} m, got {azimuth}, {radius}")
    return azimuths, radius


def check_sweep_options(args: argparse.Namespace) -> None:
    """--repeats, --ir-ms, --tail-ms and --f-start in their ranges."""
    for name, value, low in (("--repeats", args.repeats, 1), ("--ir-ms", args.ir_ms, 1.0),
                             ("--tail-ms", args.tail_ms, 1.0), ("--f-start", args.f_start, 1.0)):
        if not value >= low:
            raise InputError(f"{name}: expected at least {low:g}, got {value}")
    if args.tail_ms < args.ir_ms + 10:
        raise InputError(f"--tail-ms: expected at least --ir-ms + 10 ms ({args.ir_ms + 10:g}; the "
                         f"tail holds the latency, the response and the noise after it), got "
                         f"{args.tail_ms:g}")


def round_trip(audio, loopback: tuple[str, str] | None, n_outputs: int,
               n_inputs: int) -> tuple[np.ndarray | None, str]:
    """(outputs, inputs) latency the server reports, or None to measure it on the loopback;
    and how the latency is found, for the file's comment or the report."""
    if loopback is not None:
        return None, (f"the latency measured on every sweep through the loopback "
                      f"{loopback[0]} -> {loopback[1]}")
    playback, capture = audio.reported_latency()
    latency = playback[:n_outputs, None] + capture[None, :n_inputs]
    low, high = int(latency.min()), int(latency.max())
    print(f"round-trip latency reported by the JACK server: {low} to {high} samples (without "
          f"--loopback this is removed; converter delays it does not know stay in the "
          f"responses)", file=sys.stderr)
    return latency, (f"the latency the JACK server reports ({low} to {high} samples: "
                     f"playback + capture latency of the ports)")
