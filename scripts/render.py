#!/usr/bin/env python3
"""Render a sound file through a trained filter bank into the D driver feeds.

    python scripts/render.py IN.wav OUT.wav --filters FB.npz|LADDER_DIR
        [--input stereo|lrc|binaural] [--block N] [--gain-db G] [--volume-db V]
        [--no-limiter] [--resample] [--preview x,y[,z] [--preview-out P.wav]]
        [--poses POSES.csv]  (with a tracked bank: follow the head poses of the file)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _cli import make_parser, run  # first: puts the checkout on sys.path

from common.errors import InputError
from renderer.filterbank import INPUT_CHANNELS
from renderer.headroom import MIN_VOLUME_DB
from renderer.upmix import MODES
from renderer.wavio import SUBTYPES


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(__doc__.splitlines()[0], prog="render.py")
    parser.add_argument("input", type=Path, help="input sound file")
    parser.add_argument("output", type=Path, help="output WAV: one channel per driver, "
                        "in the order of the bank's manifest")
    parser.add_argument("--filters", type=Path, required=True,
                        help="filter bank .npz, or a ladder folder of banks (one per headroom; "
                        "the rung that fits --volume-db plays); a tracked bank plays its "
                        "nominal cell unless --poses is given")
    parser.add_argument("--input", dest="input_kind", choices=list(INPUT_CHANNELS), default="stereo",
                        help="stereo: upmix to L, R, C then taps; lrc: a 3-channel L, R, C "
                        "file to taps; binaural: a left-ear, right-ear file to ctc_taps")
    parser.add_argument("--block", type=int, default=1024, help="block size, 32 to 8192 samples")
    parser.add_argument("--gain-db", type=float, default=0.0, help="gain before the filters, dB")
    parser.add_argument("--volume-db", type=float, default=0.0,
                        help=f"listening volume, {MIN_VOLUME_DB:g} to 0 dB (0 = full scale): a "
                        "gain that also picks the ladder's rung (with --gain-db)")
    parser.add_argument("--no-limiter", action="store_true",
                        help="no safety limiter: driver peaks over full scale are kept "
                        "(float) and reported")
    parser.add_argument("--resample", action="store_true",
                        help="resample an input whose rate differs from the bank's (polyphase)")
    parser.add_argument("--upmix", choices=MODES, default=None,
                        help="stereo upmix mode (default: the manifest's upmix.mode, else "
                        "frequency)")
    parser.add_argument("--subtype", choices=SUBTYPES, default="FLOAT", help="output sample format")
    parser.add_argument("--preview", metavar="X,Y[,Z]", default=None,
                        help="also write a binaural preview for a listener at this position "
                        "(metres, device frame; Z defaults to the nominal listener height)")
    parser.add_argument("--preview-out", type=Path, default=None,
                        help="preview WAV path (default: OUTPUT with .preview.wav)")
    parser.add_argument("--poses", type=Path, default=None,
                        help="head-pose track (CSV: time_s, x, y, z, yaw_deg; linear "
                        "interpolation) for a tracked --filters bank: each block plays the "
                        "cell nearest the head")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(args: argparse.Namespace) -> int:
    from renderer.headroom import MARGIN_DB
    from renderer.ladder import Ladder, read_filters
    from renderer.poses import read_poses
    from renderer.render import render_file
    from renderer.trackedbank import TrackedBank, read_trackedbank

    poses = None
    bank = read_filters(args.filters)
    tracked = bank.tracked if isinstance(bank, Ladder) else isinstance(bank, TrackedBank)
    if args.poses is not None:
        if not tracked and not isinstance(bank, Ladder):
            read_trackedbank(args.filters)  # a plain bank: its error names the reader
        elif not tracked:
            raise InputError(f"--poses: {args.filters} is a ladder of plain filter banks; "
                             f"head poses need tracked banks (train.py --tracked)")
        poses = read_poses(args.poses)
    elif tracked:
        ladder = isinstance(bank, Ladder)
        nominal = (bank.first if ladder else bank).nominal_cell
        print(f"{args.filters} is {'a ladder of tracked banks' if ladder else 'a tracked bank'} "
              f"and no --poses was given: playing its nominal cell {nominal}")
        bank = bank.fallback()
    upmix = bank.manifest["upmix"]
    mode = args.upmix or (upmix.get("mode") if isinstance(upmix, dict)
                          and upmix.get("mode") in MODES else "frequency")
    position = preview_path = None
    if args.preview is not None:
        from renderer.preview import parse_position

        position = parse_position(args.preview, float(bank.manifest["listener"]["height_m"]))
        preview_path = args.preview_out or args.output.with_suffix(".preview.wav")
    report = render_file(args.input, args.output, bank, input_kind=args.input_kind,
                         block=args.block, gain_db=args.gain_db, volume_db=args.volume_db,
                         limiter=not args.no_limiter, resample=args.resample, upmix_mode=mode,
                         subtype=args.subtype, preview_m=position, preview_path=preview_path,
                         progress=not args.quiet, poses=poses)
    print(f"wrote {args.output}: {len(bank.driver_names)} driver feeds "
          f"({', '.join(bank.driver_names)}), {report.frames} frames at {bank.sample_rate} Hz")
    if isinstance(bank, Ladder):
        heights = bank.headrooms(args.input_kind)
        print(f"ladder {args.filters}: {len(heights)} rungs; at level "
              f"{args.gain_db + args.volume_db:g} dB (volume plus gain) played rung "
              f"{report.rung} {bank.rungs[report.rung].name} ({heights[report.rung]:.1f} dB "
              f"of headroom, margin {MARGIN_DB[args.input_kind]:.2f} dB)")
    if report.peak > 1.0:
        print(f"warning: driver feeds peak {-report.headroom_db:.1f} dB over full scale "
              f"(not clipped in the float file); to play them safely render with --gain-db "
              f"{args.gain_db + report.headroom_db:.1f} or lower", file=sys.stderr)
    else:
        print(f"peak {-report.headroom_db:.1f} dBFS, headroom {report.headroom_db:.1f} dB")
    if report.limiter is not None:
        print(report.limiter.summary())
    if report.preview_peak is not None:
        print(f"wrote {preview_path}: binaural preview at {position.tolist()} m")
    return 0


if __name__ == "__main__":
    sys.exit(run(main, build_parser()))
