"""Train on an imported WAV set and on the plant file it came from, and compare the banks
(issue 20 goal: train.py --plant trains the same bank from both, within 1e-6).

A model-written ears.sofa (the studio model at 5 poses round the seat) is written out as
one mono WAV per driver and ear with its CSV table (tests/ir_tables.py, as REW or ARTA
export them), imported with scripts/import_irs.py, and both files train a short
``train.py --plant`` run. Prints the largest difference of the plant data and of the
banks' taps, for 32-bit float WAVs (what REW writes) and 64-bit float WAVs.

    python benchmarks/import_irs.py [--steps 20] [--taps 256]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))
from _cli import make_parser, run  # noqa: E402  (also puts the checkout on sys.path)

import numpy as np  # noqa: E402

from ir_tables import write_ir_table  # noqa: E402
from common.errors import InputError  # noqa: E402
from models import load_array  # noqa: E402
from models.plant_sofa import read_ears_sofa  # noqa: E402
from models.plant_sofa_write import write_ears_sofa  # noqa: E402
from renderer.filterbank import read_filterbank  # noqa: E402

POSES = [[2.0, 0.0, 0.25], [2.0, 0.1, 0.25], [2.0, -0.1, 0.25], [1.5, 0.0, 0.25],
         [3.0, 0.0, 0.25]]


def main(args) -> int:
    array = load_array("studio")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        original = folder / "ears.sofa"
        write_ears_sofa(original, array, 48000, POSES)
        reference = _train(original, folder / "original.npz", args)
        print(f"train.py --plant {original.name}: {reference[2]:.1f} s "
              f"(--steps {args.steps} --taps {args.taps})")
        plant = read_ears_sofa(original, array)
        for subtype in ("FLOAT", "DOUBLE"):
            table = write_ir_table(folder / subtype, plant, array, subtype=subtype)
            imported = folder / f"imported_{subtype}.sofa"
            start = time.perf_counter()
            _run([str(ROOT / "scripts" / "import_irs.py"), str(table), "--array", "studio",
                  "--out", str(imported)])
            seconds = time.perf_counter() - start
            data = np.abs(read_ears_sofa(imported, array).ir - plant.ir).max()
            taps, ctc, _ = _train(imported, folder / f"{subtype}.npz", args)
            print(f"{subtype:6s} WAVs ({len(table.read_text().splitlines()) - 1} files): "
                  f"import {seconds:.1f} s, plant data differ by at most {data:.2e} "
                  f"({data / np.abs(plant.ir).max():.1e} of the peak); bank taps by "
                  f"{np.abs(taps - reference[0]).max():.2e}, ctc_taps by "
                  f"{np.abs(ctc - reference[1]).max():.2e} (goal: within 1e-6)")
    return 0


def _train(plant: Path, out: Path, args) -> tuple[np.ndarray, np.ndarray, float]:
    start = time.perf_counter()
    _run([str(ROOT / "scripts" / "train.py"), "--array", "studio", "--plant", str(plant),
          "--steps", str(args.steps), "--taps", str(args.taps), "--quiet", "--out", str(out)])
    bank = read_filterbank(out)
    return bank.taps, bank.ctc_taps, time.perf_counter() - start


def _run(command: list[str]) -> None:
    done = subprocess.run([sys.executable, *command], capture_output=True, text=True)
    if done.returncode != 0:
        raise InputError(f"{Path(command[0]).name} failed: {done.stderr.strip()}")


def build_parser():
    parser = make_parser(__doc__.splitlines()[0], prog="import_irs.py benchmark")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--taps", type=int, default=256)
    return parser


if __name__ == "__main__":
    sys.exit(run(main, build_parser()))
