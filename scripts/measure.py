#!/usr/bin/env python3
"""Measure a real device through the JACK server: one listener pose (or one far-field
microphone) per run, appended to an AES69 GeneralFIR-E plant file.

    python scripts/measure.py --array studio --pose X,Y,Z,YAW --out ears.sofa \\
        --outputs PORT_1,...,PORT_D --inputs LEFT_EAR_PORT,RIGHT_EAR_PORT \\
        [--loopback OUT_PORT,IN_PORT] [--sweep-seconds 3] [--level-db -20] [--repeats 2] \\
        [--append]
    python scripts/measure.py --array studio --far-field --azimuth DEG --radius M \\
        --out farfield.sofa --outputs ... --inputs MIC_PORT [--append]

Each driver in turn plays an exponential sine sweep on its port; the microphones are
recorded, deconvolved and cut after the round-trip latency (measured through the
loopback cable on every sweep, or as the server reports it), which the file's comment
states. See docs/measuring.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from _cli import make_parser, run  # first: puts the checkout on sys.path

import numpy as np

from common.atomic import check_output_dir
from common.errors import InputError
from device.measurement import measure_drivers
from device.playrec import PlayRecord
from models import head_frames, load_array
from models.plant_sofa import MeasuredEars, MeasuredFarfield, read_ears_sofa, read_farfield_sofa
from models.plant_sofa_write import (append_ears, append_farfield, check_new_microphones,
                                     check_new_poses, save_ears, save_farfield)
from renderer.sinesweep import exponential_sweep

EAR_Y_M = 0.0875  # receiver positions written for the ears (listener frame)


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(__doc__.splitlines()[0], prog="measure.py")
    parser.add_argument("--array", required=True, help="bundled array name or .toml path")
    parser.add_argument("--out", type=Path, required=True, help="plant file (.sofa) to write")
    parser.add_argument("--outputs", required=True, metavar="PORT_1,...,PORT_D",
                        help="JACK ports feeding the drivers, in the array file's order")
    parser.add_argument("--inputs", required=True, metavar="LEFT,RIGHT",
                        help="JACK ports of the left and right ear microphones (far field: "
                        "the one microphone)")
    parser.add_argument("--pose", metavar="X,Y,Z,YAW",
                        help="head centre in metres (device frame) and yaw in degrees (0 faces "
                        "the device centre, positive turns counter-clockwise seen from above)")
    parser.add_argument("--far-field", action="store_true",
                        help="measure one far-field microphone instead of a listener's ears")
    parser.add_argument("--azimuth", type=float, help="far field: microphone azimuth, degrees "
                        "counter-clockwise from +x")
    parser.add_argument("--radius", type=float, help="far field: microphone distance from the "
                        "device centre, metres")
    parser.add_argument("--loopback", metavar="OUT_PORT,IN_PORT",
                        help="a cable from this output to this input: every sweep also plays "
                        "there and its delay is the latency removed (recommended); without it "
                        "the latency the server reports is removed")
    parser.add_argument("--sweep-seconds", type=float, default=3.0, help="sweep duration, s")
    parser.add_argument("--level-db", type=float, default=-20.0,
                        help="sweep peak level, dB re full scale")
    parser.add_argument("--repeats", type=int, default=2, help="sweeps averaged per driver")
    parser.add_argument("--f-start", type=float, default=20.0,
                        help="sweep start frequency, Hz (responses are valid from twice this)")
    parser.add_argument("--ir-ms", type=float, default=40.0,
                        help="impulse response length kept, ms after the sweep left the port")
    parser.add_argument("--tail-ms", type=float, default=250.0,
                        help="recording time after each sweep, ms (latency + decay + noise)")
    parser.add_argument("--append", action="store_true",
                        help="add this pose (or microphone) to an existing --out file")
    parser.add_argument("--server", default=None, help="JACK server name (default: the default "
                        "server, or $JACK_DEFAULT_SERVER)")
    return parser


def main(args: argparse.Namespace) -> int:
    array = load_array(args.array)
    outputs, inputs = _ports(args.outputs, "--outputs"), _ports(args.inputs, "--inputs")
    loopback = tuple(_ports(args.loopback, "--loopback")) if args.loopback else None
    if loopback is not None and len(loopback) != 2:
        raise InputError(f"--loopback: expected OUT_PORT,IN_PORT, got {args.loopback!r}")
    if len(outputs) != len(array.drivers):
        raise InputError(f"--outputs: array {array.name!r} has {len(array.drivers)} drivers "
                         f"({', '.join(d.name for d in array.drivers)}), got {len(outputs)} ports")
    wanted = 1 if args.far_field else 2
    if len(inputs) != wanted:
        raise InputError(f"--inputs: expected {wanted} port(s) "
                         f"({'the microphone' if args.far_field else 'left ear, right ear'}), "
                         f"got {len(inputs)}")
    for name, value, low in (("--repeats", args.repeats, 1), ("--ir-ms", args.ir_ms, 1.0),
                             ("--tail-ms", args.tail_ms, 1.0), ("--f-start", args.f_start, 1.0)):
        if not value >= low:
            raise InputError(f"{name}: expected at least {low:g}, got {value}")
    if args.tail_ms < args.ir_ms + 10:
        raise InputError(f"--tail-ms: expected at least --ir-ms + 10 ms ({args.ir_ms + 10:g}; the "
                         f"tail holds the latency, the response and the noise after it), got "
                         f"{args.tail_ms:g}")
    place = _far_field_place(args) if args.far_field else _pose(args.pose)
    check_output_dir(args.out)
    existing = _existing(args, array)
    if existing is not None and args.far_field:  # refuse before measuring, not after
        check_new_microphones(existing, np.array([place[0]]), np.array([place[1]]))
    elif existing is not None:
        check_new_poses(existing, place[0][None], place[1][None])

    started = time.monotonic()
    with PlayRecord(outputs + ([loopback[0]] if loopback else []),
                    inputs + ([loopback[1]] if loopback else []), server=args.server) as audio:
        fs = audio.sample_rate_hz
        if existing is not None and existing.sample_rate_hz != fs:
            raise InputError(f"{args.out}: measured at {existing.sample_rate_hz:g} Hz, but the "
                             f"JACK server runs at {fs} Hz; run it at the file's rate")
        sweep = exponential_sweep(fs, args.sweep_seconds, f_start_hz=args.f_start,
                                  level_db=args.level_db)
        n_samples = int(round(args.ir_ms * 1e-3 * fs))
        if existing is not None and existing.ir.shape[-2] != n_samples:
            raise InputError(f"{args.out}: its responses are {existing.ir.shape[-2]} samples "
                             f"long, --ir-ms {args.ir_ms:g} gives {n_samples}; use --ir-ms "
                             f"{existing.ir.shape[-2] / fs * 1e3:g}")
        latency, how = _latency(audio, loopback, len(outputs), len(inputs))

        print(f"measuring {len(outputs)} drivers x {args.repeats} sweep(s) of "
              f"{args.sweep_seconds:g} s at {fs} Hz", file=sys.stderr)
        result = measure_drivers(
            audio.play_record, sweep, driver_names=[d.name for d in array.drivers],
            input_names=inputs, n_samples=n_samples, repeats=args.repeats,
            tail_samples=int(round(args.tail_ms * 1e-3 * fs)), latency=latency,
            loopback=loopback, progress=lambda line: print(line, file=sys.stderr))
    if args.repeats > 1:
        print("repeats differ by at most " + ", ".join(
            f"{v:.0f}" for v in result.repeat_spread_db.max(axis=0)) + " dB (per input)",
            file=sys.stderr)
    if result.replayed:
        print(f"{result.replayed} sweep(s) were played again after xruns or dropouts",
              file=sys.stderr)
    if result.xrun_sweeps:
        guard = ("their loopback responses were clean" if loopback else
                 "their repeats agree" if args.repeats > 1 else
                 "nothing checks them without --loopback or --repeats 2")
        print(f"warning: the server reported xruns during {result.xrun_sweeps} sweep(s) "
              f"(kept: {guard})", file=sys.stderr)
    removed = np.unique(result.latency)
    comment = (f"{_label(args)}: measured by soundstage scripts/measure.py on "
               f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}; exponential sweep "
               f"{args.f_start:g} Hz to {fs / 2:g} Hz, {args.sweep_seconds:g} s, "
               f"{args.level_db:g} dBFS, {args.repeats} repeat(s) averaged per driver; "
               f"round-trip latency removed: {', '.join(str(v) for v in removed)} samples, "
               f"{how}; valid from {2 * args.f_start:g} Hz; sweeps kept despite xruns: "
               f"{result.xrun_sweeps}, played again: {result.replayed}")
    plant = _plant(args, array, result.ir, fs, place, comment)
    if args.far_field:
        plant = append_farfield(existing, plant) if existing is not None else plant
        save_farfield(args.out, plant)
        count = f"{plant.ir.shape[0]} microphone(s)"
    else:
        plant = append_ears(existing, plant) if existing is not None else plant
        save_ears(args.out, plant)
        count = f"{plant.ir.shape[0]} pose(s)"
    print(f"wrote {args.out}: {count}, {n_samples} samples at {fs} Hz; latency removed "
          f"{', '.join(str(v) for v in removed)} samples; took {time.monotonic() - started:.1f} s")
    return 0


def _latency(audio: PlayRecord, loopback, n_outputs: int,
             n_inputs: int) -> tuple[np.ndarray | None, str]:
    """(drivers, inputs) latency the server reports, or None to measure it on the loopback;
    and how the latency is found, for the file's comment."""
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


def _ports(text: str, option: str) -> list[str]:
    ports = [p.strip() for p in text.split(",")]
    if any(not p for p in ports):
        raise InputError(f"{option}: expected comma-separated JACK port names, got {text!r}")
    return ports


def _pose(text: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Head centre (3,) and facing (3,) from ``X,Y,Z,YAW``."""
    if text is None:
        raise InputError("--pose: required for ear measurements (X,Y,Z,YAW: head centre in "
                         "metres, yaw in degrees); use --far-field for a far-field microphone")
    try:
        x, y, z, yaw = (float(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"--pose: expected X,Y,Z,YAW (four numbers), got {text!r}") from None
    head = np.array([x, y, z])
    if not np.all(np.isfinite([x, y, z, yaw])) or np.hypot(x, y) < 0.2:
        raise InputError(f"--pose: expected finite numbers with the head at least 0.2 m from "
                         f"the device's vertical axis, got {text!r}")
    toward = head_frames(head[None], None)[0, 0]  # facing the device centre, levelled
    turn = np.deg2rad(yaw)
    facing = np.array([toward[0] * np.cos(turn) - toward[1] * np.sin(turn),
                       toward[0] * np.sin(turn) + toward[1] * np.cos(turn), 0.0])
    return head, facing


def _far_field_place(args: argparse.Namespace) -> tuple[float, float]:
    if args.azimuth is None or args.radius is None:
        raise InputError("--far-field: needs --azimuth DEG and --radius M (the microphone's "
                         "place on the measurement circle)")
    if not (np.isfinite(args.azimuth) and np.isfinite(args.radius) and args.radius > 0.3):
        raise InputError(f"--azimuth/--radius: expected a finite azimuth and a radius above "
                         f"0.3 m, got {args.azimuth}, {args.radius}")
    return float(args.azimuth), float(args.radius)


def _existing(args: argparse.Namespace, array) -> MeasuredEars | MeasuredFarfield | None:
    """The file to append to (checked against the array), or None for a new file."""
    if not args.append:
        if args.out.exists():
            raise InputError(f"{args.out}: exists; add --append to add this measurement to "
                             f"it, or choose another --out")
        return None
    if not args.out.exists():
        return None
    if args.far_field:
        return read_farfield_sofa(args.out, array)
    return read_ears_sofa(args.out, array, min_poses=1)


def _label(args: argparse.Namespace) -> str:
    return (f"microphone at azimuth {args.azimuth:g} deg, radius {args.radius:g} m"
            if args.far_field else f"pose {args.pose}")


def _plant(args, array, ir: np.ndarray, fs: int, place, comment: str):
    """One pose (ears) or one microphone (far field) of (inputs, N, D) responses."""
    if args.far_field:
        azimuth, radius = place
        return MeasuredFarfield(ir=ir, sample_rate_hz=float(fs), azimuth_deg=np.array([azimuth]),
                                elevation_deg=np.zeros(1), radius_m=np.array([radius]),
                                emitter_positions_m=array.positions_m, source=str(args.out),
                                comment=comment)
    head, facing = place
    return MeasuredEars(ir=ir[None], sample_rate_hz=float(fs), listener_positions_m=head[None],
                        listener_views=facing[None], emitter_positions_m=array.positions_m,
                        receiver_positions_m=np.array([[0.0, EAR_Y_M, 0.0],
                                                       [0.0, -EAR_Y_M, 0.0]]),
                        source=str(args.out), comment=comment)


if __name__ == "__main__":
    sys.exit(run(main, build_parser()))
