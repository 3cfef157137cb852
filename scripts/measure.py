#!/usr/bin/env python3
"""Measure a real device through the JACK server: one listener pose (or one far-field
microphone) per run, appended to an AES69 GeneralFIR-E plant file; or verify a filter bank
on it (--verify).

    python scripts/measure.py --array studio --pose X,Y,Z,YAW --out ears.sofa \\
        --outputs PORT_1,...,PORT_D --inputs LEFT_EAR_PORT,RIGHT_EAR_PORT \\
        [--loopback OUT_PORT,IN_PORT] [--sweep-seconds 3] [--level-db -20] [--repeats 2] \\
        [--append]
    python scripts/measure.py --array studio --far-field --azimuth DEG --radius M \\
        --out farfield.sofa --outputs ... --inputs MIC_PORT [--append]
    python scripts/measure.py --verify BANK.npz --pose X,Y,Z,YAW --outputs ... \\
        --inputs LEFT,RIGHT [--plant ears.sofa] [--report VERIFY.json] [--plot VERIFY.png]
    python scripts/measure.py --verify BANK.npz --far-field --azimuth 90,-90 --radius M \\
        --outputs ... --inputs MIC_PORT [--plant farfield.sofa] [--report ...]

Each driver in turn plays an exponential sine sweep on its port; the microphones are
recorded, deconvolved and cut after the round-trip latency (measured through the
loopback cable on every sweep, or as the server reports it), which the file's comment
states. With --verify the sweep plays through the bank's filters on all drivers at once
and the delivered separation (or C beam) is compared with the prediction of a measured
plant or of the bank's own model. See docs/measuring.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from _cli import make_parser, run  # first: puts the checkout on sys.path

import numpy as np

from _measure_options import (check_sweep_options, far_field_place, head_and_facing,
                              loopback_ports, parse_pose, ports, round_trip)

from common.atomic import check_output_dir
from common.errors import InputError
from device.measurement import measure_drivers
from device.playrec import PlayRecord
from models import load_array
from models.plant_sofa import (MeasuredEars, MeasuredFarfield, default_receivers_m,
                               read_ears_sofa, read_farfield_sofa)
from models.plant_sofa_write import (append_ears, append_farfield,
                                     check_new_microphones, check_new_poses, save_ears,
                                     save_farfield)
from renderer.sinesweep import exponential_sweep


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(__doc__.splitlines()[0], prog="measure.py")
    parser.add_argument("--array", help="bundled array name or .toml path (required to "
                        "measure; with --verify the bank's array by default)")
    parser.add_argument("--out", type=Path, help="plant file (.sofa) to write (required to "
                        "measure)")
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
    parser.add_argument("--azimuth", metavar="DEG", help="far field: microphone azimuth, "
                        "degrees counter-clockwise from +x (with --verify: DEG[,DEG...], each "
                        "compared with on-axis, which is measured first)")
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
    verify = parser.add_argument_group("verifying a bank on the device (docs/measuring.md)")
    verify.add_argument("--verify", type=Path, metavar="BANK.npz",
                        help="play a sweep per bank input (left_ear, right_ear; far field: C) "
                        "through this bank on all drivers, and compare the separation (or the "
                        "C level re on-axis) per third-octave band with the prediction; a "
                        "tracked bank plays the cell nearest --pose")
    verify.add_argument("--plant", type=Path, metavar="SOFA",
                        help="the measured plant that predicts: ears.sofa (the pose nearest "
                        "--pose) or, with --far-field, farfield.sofa; without it the bank's "
                        "own model predicts (its array, the sphere head, the array's driver "
                        "model)")
    verify.add_argument("--report", type=Path, metavar="FILE.json",
                        help="write every figure, delivered and predicted, as JSON")
    verify.add_argument("--plot", type=Path, metavar="FILE.png",
                        help="plot delivered vs predicted per band")
    return parser


def main(args: argparse.Namespace) -> int:
    if args.verify is not None:
        from _verify import verify
        return verify(args)
    for option, value in (("--plant", args.plant), ("--report", args.report),
                          ("--plot", args.plot)):
        if value is not None:
            raise InputError(f"{option}: only with --verify BANK.npz")
    for option, value in (("--array", args.array), ("--out", args.out)):
        if value is None:
            raise InputError(f"{option}: required to measure a plant (or --verify BANK.npz "
                             f"to verify a bank)")
    array = load_array(args.array)
    outputs, inputs = ports(args.outputs, "--outputs"), ports(args.inputs, "--inputs")
    loopback = loopback_ports(args.loopback)
    if len(outputs) != len(array.drivers):
        raise InputError(f"--outputs: array {array.name!r} has {len(array.drivers)} drivers "
                         f"({', '.join(d.name for d in array.drivers)}), got {len(outputs)} ports")
    wanted = 1 if args.far_field else 2
    if len(inputs) != wanted:
        raise InputError(f"--inputs: expected {wanted} port(s) "
                         f"({'the microphone' if args.far_field else 'left ear, right ear'}), "
                         f"got {len(inputs)}")
    check_sweep_options(args)
    place = _far_field_place(args) if args.far_field else head_and_facing(parse_pose(args.pose))
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
        latency, how = round_trip(audio, loopback, len(outputs), len(inputs))

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


def _far_field_place(args: argparse.Namespace) -> tuple[float, float]:
    azimuths, _ = far_field_place(args.azimuth, args.radius)  # both checked there
    return azimuths[0], float(args.radius)


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
    return (f"microphone at azimuth {float(args.azimuth):g} deg, radius {args.radius:g} m"
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
                        receiver_positions_m=default_receivers_m(),
                        source=str(args.out), comment=comment)


if __name__ == "__main__":
    sys.exit(run(main, build_parser()))
