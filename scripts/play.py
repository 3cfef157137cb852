#!/usr/bin/env python3
"""Play a sound file, or live input, through a filter bank on a JACK server.

    python scripts/play.py IN.wav --filters FB.npz|LADDER_DIR [--input stereo|lrc|binaural]
        [--block N] [--gain-db G] [--volume-db V] [--no-limiter] [--upmix MODE]
        [--low-latency] [--connect auto|P1,P2,...] [--server NAME] [--name CLIENT]
    python scripts/play.py --live --filters FB.npz [--capture auto|P1,P2] [...]
    python scripts/play.py IN.wav --filters TRACKED.npz --tracker opentrack[:PORT] \
        [--calibration CAL.toml] [--tracker-zero] [--report RUN.json] [...]
    python scripts/play.py IN.wav --filters TRACKED.npz --tracker webcam[:DEVICE] \
        [--camera CAMERA.toml] [--calibration CAL.toml] [...]
    python scripts/play.py IN.wav --filters TRACKED.npz|LADDER_DIR --tracker osc[:PORT] [...]

One output port per driver, named after it. The volume starts at ``--volume-db`` and
follows the up/down arrow keys of the terminal (1 dB a key) and, with ``--tracker osc``
(``--osc-port N`` is ``--tracker osc:N``), OSC messages ``/volume V`` (dB) with any bank;
a ladder folder plays the rung that fits the volume. A tracked bank follows the head poses
of a tracker (docs/tracking.md): OSC messages ``/head/pose x y z yaw_deg`` on that port,
opentrack's "UDP over network" output, or a webcam; with no recent pose
(``--pose-timeout``) it plays its nominal cell. Press ``z`` while sitting at the nominal
seat to capture the tracker's zero (written to ``--calibration``). A look-ahead limiter
keeps every driver sample within full scale. Stops at the end of the file (after the
filter tail) or on Ctrl-C, then prints xruns, DSP load, latency, the volume and what the
limiter did, and with ``--report`` writes them and the tracker's figures as JSON.
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
from renderer.headroom import MIN_VOLUME_DB
from renderer.upmix import DEFAULT_FRAME, LOW_LATENCY_FRAME, MODES

VOLUME_STEP_DB = 1.0  # per arrow key


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(__doc__.splitlines()[0], prog="play.py")
    parser.add_argument("input", type=Path, nargs="?", default=None,
                        help="sound file to play (or --live)")
    parser.add_argument("--live", action="store_true",
                        help="render live input: one JACK input port per input channel")
    parser.add_argument("--filters", type=Path, required=True,
                        help="filter bank .npz, or a ladder folder of banks (one per headroom; "
                        "the rung that fits the volume plays)")
    parser.add_argument("--input", dest="input_kind", choices=list(INPUT_CHANNELS),
                        default="stereo", help="stereo: upmix to L, R, C then taps; lrc: "
                        "3 channels to taps; binaural: left ear, right ear to ctc_taps")
    parser.add_argument("--block", type=int, default=None,
                        help="the server's period, samples (default: keep the server's; "
                        "otherwise the server is asked to change it)")
    parser.add_argument("--gain-db", type=float, default=0.0, help="gain before the filters, dB")
    parser.add_argument("--volume-db", type=float, default=0.0,
                        help=f"starting volume, {MIN_VOLUME_DB:g} to 0 dB (0 = full scale); "
                        "the up/down arrow keys and OSC /volume V (--tracker osc) change it "
                        "while playing")
    parser.add_argument("--no-limiter", action="store_true",
                        help="no safety limiter (and no look-ahead latency): driver samples "
                        "may exceed full scale")
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
                        help=f"with a tracked bank: follow the head poses of {SPEC_HELP}; "
                        "osc also takes /volume V (dB) on its port, with any bank")
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
                        "tracker counts, seconds per cell, volume, rung changes, limiter) to "
                        "this JSON file")
    return parser


def _ports(text: str | None) -> list[str] | None:
    return None if text is None else [p.strip() for p in text.split(",") if p.strip()]


def main(args: argparse.Namespace) -> int:
    from common.atomic import atomic_output, check_output_dir
    from device.jackplay import play
    from device.keys import KeyListener, volume_keys
    from device.live import BankRenderer
    from device.readahead import FileSource
    from device.trackers import open_tracker
    from renderer.convolver import check_block_size
    from renderer.ladder import Ladder, as_ladder, read_filters
    from renderer.volume import VolumeControl

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
    filters = read_filters(args.filters)
    ladder = as_ladder(filters, str(args.filters))
    volume = VolumeControl(args.volume_db)  # checked there, named --volume-db
    if tracker is not None and tracker.kind != "osc" and not ladder.tracked:
        what = "a ladder of plain filter banks" if isinstance(filters, Ladder) else \
            "a plain filter bank"
        raise InputError(f"{_tracker_option(args)}: {args.filters} is {what}; head poses "
                         f"need a tracked bank (train.py --tracked)")
    upmix = ladder.manifest["upmix"]
    mode = args.upmix or (upmix.get("mode") if isinstance(upmix, dict)
                          and upmix.get("mode") in MODES else "frequency")
    frame = LOW_LATENCY_FRAME if args.low_latency else DEFAULT_FRAME
    if isinstance(filters, Ladder):
        print(_rungs(ladder, args.input_kind, args.gain_db), flush=True)

    source = keys = None  # from here on, the finally below closes what is open
    try:
        if tracker is not None:
            source = open_tracker(tracker, host=args.tracker_host,
                                  seat=ladder.first.nominal_pose if ladder.tracked else None,
                                  timeout_s=args.pose_timeout, calibration=args.calibration,
                                  zero_on_first=args.tracker_zero, camera=args.camera,
                                  volume=volume)
        actions = volume_keys(volume, step_db=VOLUME_STEP_DB, on_change=lambda db: print(
            f"volume {db:g} dB, rung {ladder.rung_for(args.gain_db + db, args.input_kind)}",
            flush=True))
        if source is not None:
            actions["z"] = lambda: print(f"{args.name}: {source.capture_zero()}", flush=True)
        keys = KeyListener(actions).start()
        if source is not None and ladder.tracked:
            print(f"{args.name}: following {source.describe()}; press z at the nominal seat "
                  f"to capture the zero", flush=True)
        elif source is not None:
            print(f"{args.name}: listening to {source.describe()}: /volume sets the volume; "
                  f"head poses are not used (a plain bank)", flush=True)
        elif ladder.tracked:
            print(f"{args.name}: tracked bank without --tracker: playing its nominal cell",
                  flush=True)
        renderers: list[BankRenderer] = []
        follow = source is not None and ladder.tracked

        def make_renderer(period: int) -> BankRenderer:
            renderer = BankRenderer(ladder, period, input_kind=args.input_kind,
                                    upmix_mode=mode, upmix_frame=frame, gain_db=args.gain_db,
                                    pose=source.poses.pose if follow else None,
                                    volume=lambda: volume.db, limiter=not args.no_limiter)
            renderers.append(renderer)
            hint = f" (up/down arrow keys: {VOLUME_STEP_DB:g} dB)" \
                if keys is not None and keys.source == "terminal" else ""
            print(f"{args.name}: {len(renderer.outputs)} driver outputs "
                  f"({', '.join(renderer.outputs)}), period {period} at {ladder.sample_rate} "
                  f"Hz; volume {volume.db:g} dB{hint}; Ctrl-C stops", flush=True)
            return renderer

        file_source = None if args.live else \
            FileSource(args.input, len(INPUT_CHANNELS[args.input_kind]), ladder.sample_rate)
        report = play(make_renderer, ladder.sample_rate, source=file_source,
                      input_kind=args.input_kind, server=args.server, client_name=args.name,
                      connect=_ports(args.connect), capture=_ports(args.capture),
                      period=args.block,
                      on_start=source.poses.restart if follow else None)
    finally:
        for listener in (keys, source):
            if listener is not None:
                listener.close()
    figures = report.as_dict()
    if source is not None:
        stats = source.poses.stats()
        figures.update(tracker=source.describe(), **stats.as_dict())
        print(f"head poses: {stats.received} received, {stats.dropped} malformed or "
              f"unusable, {stats.stale_periods} periods without a fresh pose; pose to cell "
              f"latency mean {stats.latency_mean_s * 1e3:.1f} ms, max "
              f"{stats.latency_max_s * 1e3:.1f} ms over {stats.latency_count} poses"
              + ("" if ladder.tracked else " (not used: a plain bank)"))
    renderer = renderers[-1]  # play() returns only once it has made one
    if renderer.cell_blocks is not None:
        seconds = renderer.cell_blocks * report.period / report.rate
        figures["cell_seconds"] = [round(float(v), 4) for v in seconds]
    for line in report.lines():
        print(line)
    figures.update(_volume_figures(volume, renderer, ladder))
    conv = renderer.convolver
    print(f"volume: {volume.db:g} dB at the end, {volume.changes} changes ({volume.rejected} "
          f"malformed /volume messages); rung {conv.rung} of {len(ladder.rungs)} at the "
          f"end, {conv.rung_changes} rung changes")
    if renderer.limiter is not None:
        look = renderer.limiter.latency
        print(f"{renderer.limiter.stats.summary()}; look-ahead {look} samples "
              f"({look * 1e3 / ladder.sample_rate:.1f} ms, in the renderer latency)")
    if args.report is not None:
        with atomic_output(args.report) as tmp:
            tmp.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


def _volume_figures(volume, renderer, ladder) -> dict:
    """The report's volume, rung and limiter keys."""
    conv, limiter = renderer.convolver, renderer.limiter
    rungs = [{"file": r.name, "headroom_db": round(h, 3)}
             for r, h in zip(ladder.rungs, conv.headroom_db)]
    figures = {"volume": {"final_db": volume.db, "changes": volume.changes,
                          "rejected": volume.rejected},
               "rung": {"final": conv.rung, "changes": conv.rung_changes, "rungs": rungs,
                        "margin_db": round(conv.margin_db, 3)},
               "limiter": None}
    if limiter is not None:
        figures["limiter"] = {**limiter.stats.as_dict(),
                              "lookahead_samples": limiter.latency,
                              "lookahead_ms": round(limiter.latency * 1e3 / limiter.rate, 3)}
    return figures


def _rungs(ladder, input_kind: str, gain_db: float) -> str:
    """The ladder's rungs with the volumes (dB) each plays at, for the banner."""
    from renderer.headroom import MARGIN_DB, rung_lines

    margin = MARGIN_DB[input_kind]
    lines = rung_lines([r.name for r in ladder.rungs], ladder.headrooms(input_kind), margin,
                       gain_db)
    return "\n  ".join([f"ladder {ladder.where}: {len(ladder.rungs)} rungs, margin {margin:.2f} "
                        f"dB ({input_kind} input), gain {gain_db:g} dB", *lines])


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
