#!/usr/bin/env python3
"""Export a filter bank as mono FIR files plus a ready BruteFIR or CamillaDSP config.

    python scripts/export.py FB.npz --format wav|brutefir|camilladsp --out DIR
        [--input lrc|binaural]
    python scripts/export.py LADDER_DIR --format ... --out DIR   # one config per rung

A ladder folder (banks by headroom) exports each rung into its own folder, every config at
0 dB, plus ladder.txt: the volumes at which each rung fits.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _cli import make_parser, run  # first: puts the checkout on sys.path

from common.atomic import check_output_folder
from renderer.export import FORMATS, INPUTS, export_bank, export_ladder, headroom_db
from renderer.filterbank import read_filterbank
from renderer.ladder import read_ladder


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(__doc__.splitlines()[0], prog="export.py")
    parser.add_argument("filters", type=Path,
                        help="filter bank .npz, or a ladder folder of plain banks")
    parser.add_argument("--format", dest="fmt", choices=FORMATS, required=True,
                        help="wav: WAV files and paths.json; brutefir: raw float32 files and "
                        "brutefir.conf; camilladsp: WAV files and camilladsp.yml (v3)")
    parser.add_argument("--out", type=Path, required=True,
                        help="output directory; created when its parent exists")
    parser.add_argument("--input", dest="inputs", choices=list(INPUTS), default="lrc",
                        help="lrc: the L, R, C taps; binaural: the crosstalk-only ctc_taps")
    return parser


def main(args: argparse.Namespace) -> int:
    ladder = read_ladder(args.filters) if args.filters.is_dir() else None
    bank = None if ladder is not None else read_filterbank(args.filters)
    out = check_output_folder(args.out)
    created = not out.exists()
    out.mkdir(exist_ok=True)
    try:
        if ladder is not None:
            written = export_ladder(ladder, out, args.fmt, inputs=args.inputs)
        else:
            written = export_bank(bank, out, args.fmt, inputs=args.inputs)
    except BaseException:
        if created:
            out.rmdir()  # the exports leave nothing in it on failure
        raise
    if ladder is not None:
        print(f"wrote {len(ladder.rungs)} rungs to {args.out} ({args.fmt}), one folder each at "
              f"0 dB; {args.out / 'ladder.txt'} says which volumes each covers")
    else:
        taps = bank.taps if args.inputs == "lrc" else bank.ctc_taps
        print(f"wrote {len(written)} files to {args.out} ({args.fmt}); headroom gain "
              f"{-headroom_db(taps):.2f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(run(main, build_parser()))
