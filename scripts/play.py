#!/usr/bin/env python3
"""Play a sound file, or live input, through a filter bank on a JACK server.

    python scripts/play.py IN.wav --filters FB.npz [--input stereo|lrc|binaural]
        [--block N] [--gain-db G] [--upmix MODE] [--low-latency] [--connect auto|P1,P2,...]
        [--server NAME] [--name CLIENT]
    python scripts/play.py --live --filters FB.npz [--capture auto|P1,P2] [...]
    python scripts/play.py IN.wav --filters TRACKED.npz --osc-port 9000 [...]

One output port per driver, named after it. A tracked bank follows the head poses sent as
OSC messages ``/head/pose x y z yaw_deg`` to ``--osc-port`` (UDP); with no recent pose
(``--pose-timeout``) it plays its nominal cell. Stops at the end of the file (after the
filter tail) or on Ctrl-C, then prints xruns, DSP load and latency.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _cli import make_parser, run  # first: puts the checkout on sys.path

from common.errors import InputError
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
    parser.add_argument("--osc-port", type=int, default=None,
                        help="with a tracked bank: UDP port for OSC /head/pose x y z yaw_deg")
    parser.add_argument("--osc-host", default="127.0.0.1",
                        help="address to listen on for OSC poses (0.0.0.0: every interface)")
    parser.add_argument("--pose-timeout", type=float, default=0.5,
                        help="seconds after which a pose is stale and the nominal cell plays")
    return parser


def _ports(text: str | None) -> list[str] | None:
    return None if text is None else [p.strip() for p in text.split(",") if p.strip()]


def main(args: argparse.Namespace) -> int:
    from device.jackplay import play
    from device.live import BankRenderer
    from device.osc_poses import OscPoseListener
    from device.readahead import FileSource
    from renderer.convolver import check_block_size
    from renderer.trackedbank import TrackedBank, read_bank

    if (args.input is None) == (not args.live):
        raise InputError("give a sound file to play or --live, not both or neither")
    if args.capture is not None and not args.live:
        raise InputError("--capture needs --live")
    bank = read_bank(args.filters)
    tracked = isinstance(bank, TrackedBank)
    if args.osc_port is not None and not tracked:
        raise InputError(f"--osc-port: {args.filters} is a plain filter bank; head poses need "
                         f"a tracked bank (train.py --tracked)")
    upmix = bank.manifest["upmix"]
    mode = args.upmix or (upmix.get("mode") if isinstance(upmix, dict)
                          and upmix.get("mode") in MODES else "frequency")
    frame = LOW_LATENCY_FRAME if args.low_latency else DEFAULT_FRAME

    poses = None
    if args.osc_port is not None:
        poses = OscPoseListener(args.osc_port, host=args.osc_host,
                                timeout_s=args.pose_timeout).start()
    elif tracked:
        print(f"{args.name}: tracked bank without --osc-port: playing its nominal cell",
              flush=True)

    def make_renderer(period: int) -> BankRenderer:
        renderer = BankRenderer(bank, period, input_kind=args.input_kind, upmix_mode=mode,
                                upmix_frame=frame, gain_db=args.gain_db,
                                pose=poses.pose if poses is not None else None)
        print(f"{args.name}: {len(renderer.outputs)} driver outputs "
              f"({', '.join(renderer.outputs)}), period {period} at {bank.sample_rate} Hz; "
              f"Ctrl-C stops", flush=True)
        return renderer

    if args.block is not None:
        check_block_size(args.block)
    source = None if args.live else \
        FileSource(args.input, len(INPUT_CHANNELS[args.input_kind]), bank.sample_rate)
    try:
        report = play(make_renderer, bank.sample_rate, source=source,
                      input_kind=args.input_kind, server=args.server, client_name=args.name,
                      connect=_ports(args.connect), capture=_ports(args.capture),
                      period=args.block)
    finally:
        if poses is not None:
            poses.close()
    if poses is not None:
        print(f"head poses: {poses.received} received, {poses.rejected} malformed")
    for line in report.lines():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(run(main, build_parser()))
