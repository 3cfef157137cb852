"""Time scripts/measure.py for one pose on a JACK dummy server and report how well it
recovers a known plant (issue 13 goals: under 40 s for 5 drivers, 3 s sweeps, 2 repeats;
every recovered IR within -40 dB).

A ``jackd -d dummy`` server (period 256, 48 kHz) and a plant client with known FIRs (the
studio model at one head, tests/jack_plant.py) stand in for the sound card and the room.
Prints the wall time of the whole command (Python start-up included), the time the
sweeps themselves take (drivers x repeats x (sweep + tail)) as the baseline, the sweeps
played again after dropouts, and the recovery error of every driver at each ear.

    python benchmarks/measure.py [--sweep-seconds 3] [--repeats 2] [--period 256]
"""

from __future__ import annotations

import re
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
import pytest  # noqa: E402

import jack_server  # noqa: E402
from jack_plant import JackPlant, known_firs  # noqa: E402
from common.errors import InputError  # noqa: E402
from models import load_array  # noqa: E402
from models.plant_sofa import read_ears_sofa  # noqa: E402

HEAD = [1.0, 0.2, 0.1]
TAIL_MS = 250.0  # measure.py's default --tail-ms


def main(args) -> int:
    array = load_array("studio")
    firs = known_firs(array, HEAD)
    try:
        server, process = jack_server._start(args.period, 48000)
    except pytest.skip.Exception as exc:
        raise InputError(f"cannot start jackd: {exc}") from None
    try:
        plant = JackPlant(firs, server)
        drives, ears, loop = plant.port_names()
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "ears.sofa"
            command = [sys.executable, str(ROOT / "scripts" / "measure.py"), "--array", "studio",
                       "--pose", ",".join(map(str, HEAD)) + ",0", "--out", str(out),
                       "--outputs", ",".join(drives), "--inputs", ",".join(ears),
                       "--loopback", ",".join(loop), "--server", server,
                       "--sweep-seconds", str(args.sweep_seconds), "--repeats",
                       str(args.repeats)]
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True)
            wall = time.perf_counter() - start
            plant.close()
            if done.returncode != 0:
                raise InputError(f"measure.py failed: {done.stderr.strip()}")
            measured = read_ears_sofa(out, array, min_poses=1)
    finally:
        jack_server._stop(process)
    sweeps = len(array.drivers) * args.repeats
    audio = sweeps * (args.sweep_seconds + TAIL_MS / 1000)
    found = re.search(r"(\d+) sweep\(s\) were played again", done.stderr)
    replayed = int(found.group(1)) if found else 0
    again = replayed * (args.sweep_seconds + TAIL_MS / 1000)
    print(f"one pose, {len(array.drivers)} drivers, {args.sweep_seconds:g} s sweeps, "
          f"{args.repeats} repeats, JACK dummy period {args.period}")
    print(f"wall time {wall:.1f} s (goal < 40 s); sweeps alone {audio:.1f} s "
          f"(ratio {wall / audio:.2f}); {replayed} sweep(s) played again after dropouts "
          f"({again:.1f} s): {wall - again:.1f} s without them")
    ref = np.zeros((2, len(array.drivers), measured.ir.shape[2]))
    ref[..., :firs.shape[-1]] = firs
    got = measured.ir[0].transpose(0, 2, 1)
    error = 10 * np.log10(np.sum((got - ref) ** 2, -1) / np.sum(ref ** 2, -1))
    print("recovery error, dB (error energy / FIR energy; goal <= -40):")
    for d, driver in enumerate(array.drivers):
        print(f"  {driver.name:<10s} left {error[0, d]:6.1f}   right {error[1, d]:6.1f}")
    return 0


def build_parser():
    parser = make_parser(__doc__.splitlines()[0], prog="measure.py benchmark")
    parser.add_argument("--sweep-seconds", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--period", type=int, default=256)
    return parser


if __name__ == "__main__":
    sys.exit(run(main, build_parser()))
