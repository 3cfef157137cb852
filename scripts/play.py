#!/usr/bin/env python3
"""Play a sound file, or live input, through a filter bank on a JACK server.

    python scripts/play.py IN.wav --filters FB.npz|LADDER_DIR [--input stereo|lrc|binaural]
        [--block N] [--gain-db G] [--volume-db V] [--no-limiter] [--upmix MODE]
        [--low-latency] [--connect auto|P1,P2,...] [--server NAME] [--name CLIENT]
    python scripts/play.py --live --filters FB.npz [--capture auto|P1,P2] [...]
    python scripts/play.py IN.wav --filters TRACKED.npz --osc-port 9000 [...]

One output port per driver, named after it. The volume starts at ``--volume-db`` and
follows OSC messages ``/volume V`` (dB) sent to ``--osc-port`` and the up/down arrow keys
of the terminal (1 dB a key); a ladder folder plays the rung that fits the volume. A
tracked bank follows the head poses sent as ``/head/pose x y z yaw_deg`` to the same port;
with no recent pose (``--pose-timeout``) it plays its nominal cell. A look-ahead limiter
keeps every driver sample within full scale. Stops at the end of the file (after the
filter tail) or on Ctrl-C, then prints xruns, DSP load, latency, the volume and what the
limiter did.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _cli import make_parser, run  # first: puts the checkout on sys.path

from models.errors import InputError
from renderer.convolver import check_block_size
from renderer.jackplay import play
from renderer.ladder import (MARGIN_DB, Ladder, as_ladder, describe_range, read_filters,
                             volume_ranges)
from renderer.live import INPUT_CHANNELS, BankRenderer
from renderer.osc_poses import OscPoseListener
from renderer.readahead import FileSource
from renderer.upmix import DEFAULT_FRAME, LOW_LATENCY_FRAME, MODES
from renderer.volume import MIN_VOLUME_DB, VolumeControl, check_volume
from renderer.volume_keys import VolumeKeys, foreground_terminal


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
                        "OSC /volume V and the up/down arrow keys change it while playing")
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
    parser.add_argument("--osc-port", type=int, default=None,
                        help="UDP port for OSC /volume V (dB) and, with a tracked bank, "
                        "/head/pose x y z yaw_deg")
    parser.add_argument("--osc-host", default="127.0.0.1",
                        help="address to listen on for OSC (0.0.0.0: every interface)")
    parser.add_argument("--pose-timeout", type=float, default=0.5,
                        help="seconds after which a pose is stale and the nominal cell plays")
    return parser


def _ports(text: str | None) -> list[str] | None:
    return None if text is None else [p.strip() for p in text.split(",") if p.strip()]


def main(args: argparse.Namespace) -> int:
    if (args.input is None) == (not args.live):
        raise InputError("give a sound file to play or --live, not both or neither")
    if args.capture is not None and not args.live:
        raise InputError("--capture needs --live")
    filters = read_filters(args.filters)
    ladder = as_ladder(filters, str(args.filters))
    volume = VolumeControl(check_volume(args.volume_db))
    upmix = ladder.manifest["upmix"]
    mode = args.upmix or (upmix.get("mode") if isinstance(upmix, dict)
                          and upmix.get("mode") in MODES else "frequency")
    frame = LOW_LATENCY_FRAME if args.low_latency else DEFAULT_FRAME
    if isinstance(filters, Ladder):
        print(_rungs(ladder, args.input_kind, args.gain_db), flush=True)

    osc = keys = None
    if args.osc_port is not None:
        osc = OscPoseListener(args.osc_port, host=args.osc_host, timeout_s=args.pose_timeout,
                              volume=volume).start()
    if ladder.tracked and osc is None:
        print(f"{args.name}: tracked bank without --osc-port: playing its nominal cell",
              flush=True)
    made: list[BankRenderer] = []

    def make_renderer(period: int) -> BankRenderer:
        renderer = BankRenderer(ladder, period, input_kind=args.input_kind, upmix_mode=mode,
                                upmix_frame=frame, gain_db=args.gain_db,
                                pose=osc.pose if osc is not None and ladder.tracked else None,
                                volume=lambda: volume.db, limiter=not args.no_limiter)
        made.append(renderer)
        print(f"{args.name}: {len(renderer.outputs)} driver outputs "
              f"({', '.join(renderer.outputs)}), period {period} at {ladder.sample_rate} Hz; "
              f"volume {volume.db:g} dB (up/down arrow keys: 1 dB); Ctrl-C stops", flush=True)
        return renderer

    if args.block is not None:
        check_block_size(args.block)
    source = None if args.live else \
        FileSource(args.input, len(INPUT_CHANNELS[args.input_kind]), ladder.sample_rate)
    terminal = foreground_terminal(sys.stdin)
    if terminal is not None:
        keys = VolumeKeys(volume, terminal, on_change=lambda db: print(
            f"volume {db:g} dB, rung {ladder.rung_for(args.gain_db + db, args.input_kind)}",
            flush=True)).start()
    try:
        report = play(make_renderer, ladder.sample_rate, source=source,
                      input_kind=args.input_kind, server=args.server, client_name=args.name,
                      connect=_ports(args.connect), capture=_ports(args.capture),
                      period=args.block)
    finally:
        for listener in (keys, osc):
            if listener is not None:
                listener.close()
    if osc is not None:
        print(f"head poses: {osc.received} received, {osc.rejected} malformed"
              + ("" if ladder.tracked else " (not used: a plain bank)"))
    for line in report.lines():
        print(line)
    renderer = made[0]
    print(f"volume: {volume.db:g} dB at the end, {volume.changes} changes ({volume.rejected} "
          f"malformed /volume messages); rung {renderer.convolver.rung} of {len(ladder.rungs)} "
          f"at the end, {renderer.convolver.rung_changes} rung changes")
    if renderer.limiter is not None:
        look = renderer.limiter.latency
        print(f"{renderer.limiter.stats.summary()}; look-ahead {look} samples "
              f"({look * 1e3 / ladder.sample_rate:.1f} ms, in the renderer latency)")
    return 0


def _rungs(ladder: Ladder, input_kind: str, gain_db: float) -> str:
    """The ladder's rungs with the volumes (dB) each plays at, for the banner."""
    margin = MARGIN_DB[input_kind]
    lines = [f"ladder {ladder.where}: {len(ladder.rungs)} rungs, margin {margin:.2f} dB "
             f"({input_kind} input), gain {gain_db:g} dB"]
    headrooms = ladder.headrooms(input_kind)
    for k, (headroom, span) in enumerate(zip(headrooms, volume_ranges(headrooms, margin))):
        lines.append(f"  rung {k} {ladder.rungs[k].name}: headroom {headroom:.2f} dB, plays at "
                     f"{describe_range(span, gain_db)}; fits up to "
                     f"{-(headroom + margin) - gain_db:.2f} dB")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(run(main, build_parser()))
