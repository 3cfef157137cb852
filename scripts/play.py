#!/usr/bin/env python3
"""Play a sound file, or live input, through a filter bank on a JACK server.

    python scripts/play.py IN.wav --filters FB.npz [--input stereo|lrc|binaural]
        [--block N] [--gain-db G] [--upmix MODE] [--low-latency] [--connect auto|P1,P2,...]
        [--server NAME] [--name CLIENT]
    python scripts/play.py --live --filters FB.npz [--capture auto|P1,P2] [...]
    python scripts/play.py IN.wav --filters TRACKED.npz --tracker opentrack[:PORT] \
        [--calibration CAL.toml] [--tracker-zero] [--report RUN.json] [...]
    python scripts/play.py IN.wav --filters TRACKED.npz --tracker webcam[:DEVICE] \
        [--camera CAMERA.toml] [--calibration CAL.toml] [...]
    python scripts/play.py IN.wav --filters TRACKED.npz --tracker osc[:PORT] [...]

One output port per driver, named after it. A tracked bank follows the head poses of a
tracker (docs/tracking.md): OSC messages ``/head/pose x y z yaw_deg`` (``--osc-port N`` is
``--tracker osc:N``), opentrack's "UDP over network" output, or a webcam; with no recent
pose (``--pose-timeout``) it plays its nominal cell. Press ``z`` while sitting at the
nominal seat to capture the tracker's zero (written to ``--calibration``). Stops at the
end of the file (after the filter tail) or on Ctrl-C, then prints xruns, DSP load and
latency, and with ``--report`` writes them and the tracker's figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from _cli import make_parser, run  # first: puts the checkout on sys.path

from common.errors import InputError
from device.trackers import SPEC_HELP, parse_tracker
from renderer.filterbank import INPUT_CHANNELS
from renderer.upmix import DEFAULT_FRAME, LOW_LATENCY_FRAME, MODES


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(__doc__.splitlines()[0], prog="play.py")
    parser.add_argument("input", type=Path, nargs="?", default=None,
                        help="sound file to play (or --live)")
    parser.add_argument("--live", action="store_true",
                        help="render live input: one JACK input port per input channel")
    parser.add_argument("--filters", type=Path, required=True, help="filter bank .npz")
    parser.add_argument("--input", dest="input_kind", choices=list(INPUT_CHANNELS),
                        default="stereo", help="stereo: upmix to L, R, C then taps; lrc: "
                        "3 channels to taps; binaural: left ear, right ear to ctc_taps")
    parser.add_argument("--block", type=int, default=None,
                        help="the server's period, samples (default: keep the server's; "
                        "otherwise the server is asked to change it)")
    parser.add_argument("--gain-db", type=float, default=0.0, help="gain before the filters, dB")
    parser.add_argument("--upmix", choices=MODES, default=None,
                        help="stereo upmix mode (default: the manifest's, else frequency)")
    parser.add_argument("--low-latency", action="store_true",
                        help=f"upmix frame {LOW_LATENCY_FRAME} instead of {DEFAULT_FRAME}: "
                        f"{LOW_LATENCY_FRAME - 1} samples of upmix latency instead of "
                        f"{DEFAULT_FRAME - 1}, coarser frequency resolution")
    parser.add_argument("--connect", default=None, metavar="auto|PORT,...",
                        help="connect the driver outputs, in manifest order, to these "
                        "playback ports (auto: the physical ones)")
    parser.add_argument("--capture", default=None, metavar="auto|PORT,...",
                        help="with --live: connect these ports to the inputs")
    parser.add_argument("--server", default=None, help="JACK server name (default: default)")
    parser.add_argument("--name", default="soundstage", help="JACK client name")
    parser.add_argument("--tracker", default=None, metavar="KIND[:ARG]",
                        help=f"with a tracked bank: follow the head poses of {SPEC_HELP}")
    parser.add_argument("--osc-port", type=int, default=None,
                        help="the same as --tracker osc:PORT (kept for old command lines)")
    parser.add_argument("--tracker-host", "--osc-host", dest="tracker_host",
                        default="127.0.0.1", help="address the osc and opentrack trackers "
                        "listen on (0.0.0.0: every interface)")
    parser.add_argument("--pose-timeout", type=float, default=0.5,
                        help="seconds after which a pose is stale and the nominal cell plays")
    parser.add_argument("--calibration", type=Path, default=None, metavar="CAL.toml",
                        help="tracker calibration: read if it exists; the zero key (z) and "
                        "--tracker-zero write what they capture to it")
    parser.add_argument("--tracker-zero", action="store_true",
                        help="take the tracker's first pose as the nominal seat (sit there "
                        "when starting); otherwise press z there while playing")
    parser.add_argument("--camera", type=Path, default=None, metavar="CAMERA.toml",
                        help="with --tracker webcam: the camera's placement and field of "
                        "view; without it, the bundled device/camera.toml")
    parser.add_argument("--report", type=Path, default=None, metavar="RUN.json",
                        help="on stop, write the run's figures (xruns, DSP load, latency, "
                        "tracker counts, seconds per cell) to this JSON file")
    return parser


def _ports(text: str | None) -> list[str] | None:
    return None if text is None else [p.strip() for p in text.split(",") if p.strip()]


def main(args: argparse.Namespace) -> int:
    from common.atomic import atomic_output, check_output_dir
    from device.jackplay import play
    from device.keys import KeyListener
    from device.live import BankRenderer
    from device.readahead import FileSource
    from device.trackers import open_tracker
    from renderer.convolver import check_block_size
    from renderer.trackedbank import TrackedBank, read_bank

    if (args.input is None) == (not args.live):
        raise InputError("give a sound file to play or --live, not both or neither")
    if args.capture is not None and not args.live:
        raise InputError("--capture needs --live")
    tracker = _tracker_spec(args)
    if args.report is not None:
        if args.report.is_dir():
            raise InputError(f"--report {args.report}: is a directory, expected a .json file")
        check_output_dir(args.report)
    if args.block is not None:
        check_block_size(args.block)
    bank = read_bank(args.filters)
    tracked = isinstance(bank, TrackedBank)
    if tracker is not None and not tracked:
        raise InputError(f"{_tracker_option(args)}: {args.filters} is a plain filter bank; "
                         f"head poses need a tracked bank (train.py --tracked)")
    upmix = bank.manifest["upmix"]
    mode = args.upmix or (upmix.get("mode") if isinstance(upmix, dict)
                          and upmix.get("mode") in MODES else "frequency")
    frame = LOW_LATENCY_FRAME if args.low_latency else DEFAULT_FRAME

    source = keys = None  # from here on, the finally below closes what is open
    if tracker is not None:
        source = open_tracker(tracker, seat=bank.nominal_pose, host=args.tracker_host,
                              timeout_s=args.pose_timeout, calibration=args.calibration,
                              zero_on_first=args.tracker_zero, camera=args.camera)
        keys = KeyListener({"z": lambda: print(f"{args.name}: {source.capture_zero()}",
                                               flush=True)}).start()
        print(f"{args.name}: following {source.describe()}; press z at the nominal seat "
              f"to capture the zero", flush=True)
    elif tracked:
        print(f"{args.name}: tracked bank without --tracker: playing its nominal cell",
              flush=True)
    renderers: list = []

    def make_renderer(period: int) -> BankRenderer:
        renderer = BankRenderer(bank, period, input_kind=args.input_kind, upmix_mode=mode,
                                upmix_frame=frame, gain_db=args.gain_db,
                                pose=source.poses.pose if source is not None else None)
        renderers.append(renderer)
        print(f"{args.name}: {len(renderer.outputs)} driver outputs "
              f"({', '.join(renderer.outputs)}), period {period} at {bank.sample_rate} Hz; "
              f"Ctrl-C stops", flush=True)
        return renderer

    try:
        file_source = None if args.live else \
            FileSource(args.input, len(INPUT_CHANNELS[args.input_kind]), bank.sample_rate)
        report = play(make_renderer, bank.sample_rate, source=file_source,
                      input_kind=args.input_kind, server=args.server, client_name=args.name,
                      connect=_ports(args.connect), capture=_ports(args.capture),
                      period=args.block,
                      on_start=source.poses.restart if source is not None else None)
    finally:
        if keys is not None:
            keys.close()
        if source is not None:
            source.close()
    figures = report.as_dict()
    if source is not None:
        stats = source.poses.stats()
        figures.update(tracker=source.describe(), **stats.as_dict())
        print(f"head poses: {stats.received} received, {stats.dropped} malformed or "
              f"unusable, {stats.stale_periods} periods without a fresh pose; pose to cell "
              f"latency mean {stats.latency_mean_s * 1e3:.1f} ms, max "
              f"{stats.latency_max_s * 1e3:.1f} ms over {stats.latency_count} poses")
    if renderers and renderers[-1].cell_blocks is not None:
        seconds = renderers[-1].cell_blocks * report.period / report.rate
        figures["cell_seconds"] = [round(float(v), 4) for v in seconds]
    for line in report.lines():
        print(line)
    if args.report is not None:
        with atomic_output(args.report) as tmp:
            tmp.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


def _tracker_spec(args: argparse.Namespace):
    """The tracker asked for with --tracker or the older --osc-port, or None."""
    if args.osc_port is not None and args.tracker is not None:
        raise InputError("--osc-port is --tracker osc:PORT; give one of them, not both")
    if args.osc_port is not None:
        return parse_tracker(f"osc:{args.osc_port}", "--osc-port")
    if args.tracker is None:
        for flag, value in (("--tracker-zero", args.tracker_zero),
                            ("--calibration", args.calibration), ("--camera", args.camera)):
            if value:
                raise InputError(f"{flag} needs --tracker")
        return None
    spec = parse_tracker(args.tracker)
    if args.camera is not None and spec.kind != "webcam":
        raise InputError(f"--camera describes a webcam; --tracker {args.tracker} is not one")
    return spec


def _tracker_option(args: argparse.Namespace) -> str:
    return "--osc-port" if args.osc_port is not None else "--tracker"


if __name__ == "__main__":
    sys.exit(run(main, build_parser()))
