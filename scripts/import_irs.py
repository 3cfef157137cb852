#!/usr/bin/env python3
"""Import impulse responses measured with other tools (REW, ARTA) as a measured plant.

Mono WAV files and a CSV table naming each file's pose or azimuth, driver and ear:

    python scripts/import_irs.py IRS.csv --array studio --out ears.sofa [--sample-rate HZ]

The table's header says which file it becomes:
    file,driver,ear,x_m,y_m,z_m,yaw_deg     -> ears.sofa (driver to ears, one line per WAV)
    file,driver,azimuth_deg,radius_m        -> farfield.sofa (driver to far-field microphone)
WAV paths are relative to the table's folder. The file written is the AES69 GeneralFIR-E
plant of CONVENTIONS.md that train.py --plant reads. See docs/measuring.md, "Import".
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from _cli import make_parser, run  # first: puts the checkout on sys.path

from common.atomic import check_output_dir
from common.errors import InputError
from models import load_array
from models.plant_import import import_plant
from models.plant_sofa import MeasuredFarfield
from models.plant_sofa_write import save_ears, save_farfield


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(__doc__.splitlines()[0], prog="import_irs.py")
    parser.add_argument("table", type=Path, metavar="IRS.csv",
                        help="the table: a header, then one line per WAV file (columns in "
                        "docs/measuring.md, 'Import')")
    parser.add_argument("--array", required=True, help="bundled array name or .toml path: "
                        "its driver names and positions")
    parser.add_argument("--out", type=Path, required=True,
                        help="plant file to write (.sofa); it must not exist yet")
    parser.add_argument("--sample-rate", type=int, metavar="HZ",
                        help="rate of the plant file (default: the first file's); files at "
                        "other rates are resampled")
    return parser


def main(args: argparse.Namespace) -> int:
    array = load_array(args.array)
    check_output_dir(args.out)
    if args.out.exists():
        raise InputError(f"{args.out}: exists; choose another --out (an import never "
                         f"replaces a plant file)")
    if args.sample_rate is not None and not args.sample_rate > 0:
        raise InputError(f"--sample-rate: expected a positive number of Hz, got "
                         f"{args.sample_rate}")
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    plant, notes = import_plant(args.table, array, args.sample_rate)
    comment = (f"imported by soundstage scripts/import_irs.py from {args.table} on {stamp}; "
               + ("; ".join(notes) if notes else "no file resampled"))
    plant = dataclasses.replace(plant, comment=comment)
    if isinstance(plant, MeasuredFarfield):
        save_farfield(args.out, plant)
        count = f"{plant.ir.shape[0]} microphone(s)"
    else:
        save_ears(args.out, plant)
        count = f"{plant.ir.shape[0]} pose(s) x 2 ears"
    for note in notes:
        print(f"{args.table}: {note}", file=sys.stderr)
    print(f"wrote {args.out}: {count} x {len(array.drivers)} drivers, {plant.ir.shape[-2]} "
          f"samples at {plant.sample_rate_hz:g} Hz")
    return 0


if __name__ == "__main__":
    sys.exit(run(main, build_parser()))
