"""Time scripts/measure.py --verify and report how closely what a bank delivers on a
simulated device matches its prediction (issue 20 goals: separation band median within
0.5 dB and every third-octave band within 1.5 dB; the C level at +-90 deg within 1 dB;
one run, one pose, L and R, 3 s sweeps, under 20 s).

A ``jackd -d dummy`` server (period 256, 48 kHz) and a plant client with known FIRs (the
studio model at the nominal seat, tests/jack_plant.py) stand in for the sound card, the
device and the room; the bank is the bundled checkpoints/studio/filterbank.npz. Each run
is the whole command as a process (Python start-up included). Besides the goals it shows
what a gap looks like: the head 10 cm to the side of the measured pose, a side wall's
reflection (the image of the device in a wall 1.5 m to the listener's right: the model's
responses at the mirrored head, ears swapped, times 0.7) and microphone noise. The wall
time includes the sweeps played again after dropouts (column "again").

    python benchmarks/verify.py [--sweep-seconds 3] [--repeats 2] [--noise-dbfs -70]
"""

from __future__ import annotations

import json
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
from jack_plant import (JackPlant, dc_free, known_farfield_firs, known_firs,  # noqa: E402
                        write_known_plants)
from common.errors import InputError  # noqa: E402
from models import load_array  # noqa: E402
from models.plant_sofa_write import model_ears  # noqa: E402

BANK = ROOT / "checkpoints" / "studio" / "filterbank.npz"
HEAD = np.array([2.0, 0.0, 0.25])
PLACES = [0.0, 90.0, -90.0]


def main(args) -> int:
    array = load_array("studio")
    firs = known_firs(array, HEAD)
    far = known_farfield_firs(array, PLACES, 2.0)
    try:
        server, process = jack_server._start(args.period, 48000, False, False)
    except pytest.skip.Exception as exc:
        raise InputError(f"cannot start jackd: {exc}") from None
    common = ["--sweep-seconds", str(args.sweep_seconds), "--repeats", str(args.repeats),
              "--server", server]
    try:
        with tempfile.TemporaryDirectory() as folder:
            ears, farfield = (str(path) for path in write_known_plants(
                Path(folder), array, HEAD, firs, PLACES, far))
            print(f"bank {BANK.relative_to(ROOT)}, {args.sweep_seconds:g} s sweeps, "
                  f"{args.repeats} repeat(s), JACK dummy period {args.period}")
            print(f"{'case':52s} {'wall s':>6s} {'again':>5s} {'delivered':>9s} "
                  f"{'predicted':>9s} {'median gap':>10s} {'worst band gap':>14s}")
            wall_y = 1.5  # a side wall 1.5 m to the listener's right, reflecting 0.7
            image = dc_free(model_ears(array, 48000, [[HEAD[0], 2 * wall_y, HEAD[2]]],
                                       [[-1.0, 0.0, 0.0]]).ir[0].transpose(0, 2, 1))[::-1]
            reflection = np.zeros((2, firs.shape[1], image.shape[-1]))
            reflection[..., :firs.shape[-1]] = firs
            reflection += 0.7 * image
            cases = [("ears, predicted from the known plant", firs, ["--plant", ears], None),
                     ("ears, predicted from the model", firs, [], None),
                     ("ears, head 10 cm to the side (wrong plant)",
                      known_firs(array, HEAD + [0.0, 0.1, 0.0]), ["--plant", ears], None),
                     ("ears, a side wall 1.5 m away (reflection 0.7)", reflection,
                      ["--plant", ears], None),
                     (f"ears, microphone noise {args.noise_dbfs:g} dBFS RMS", firs,
                      ["--plant", ears], args.noise_dbfs)]
            for name, plant_firs, extra, noise in cases:
                report, wall = _verify(Path(folder), server, plant_firs, noise,
                                       ["--pose", "2,0,0.25,0", *extra, *common])
                sep = report["separation_db"]
                gap = np.subtract(sep["delivered"]["mean"], sep["predicted"]["mean"])
                got, want = report["delivered_separation_db"], report["predicted_separation_db"]
                print(f"{name:52s} {wall:6.1f} {report['measurement']['replayed']:5d} "
                      f"{got:9.2f} {want:9.2f} {got - want:+10.2f} "
                      f"{gap[np.argmax(np.abs(gap))]:+14.2f}")
            for name, extra in (("far field, from the known plant", ["--plant", farfield]),
                                ("far field, from the model at 2 m", ["--radius", "2"])):
                report, wall = _verify(Path(folder), server, far, None,
                                       ["--far-field", "--azimuth", "90,-90", *extra, *common])
                for angle in ("90", "-90"):
                    gap = np.asarray(report["level_re_on_axis_db"]["gap"][angle])
                    got, want = (report["delivered_level_db"][angle],
                                 report["predicted_level_db"][angle])
                    print(f"{name + ', C at ' + angle + ' deg':52s} {wall:6.1f} "
                          f"{report['measurement']['replayed']:5d} {got:9.2f} "
                          f"{want:9.2f} {got - want:+10.2f} "
                          f"{gap[np.argmax(np.abs(gap))]:+14.2f}")
    finally:
        jack_server._stop(process)
    print("goals: separation median gap within 0.5 dB and every band within 1.5 dB; C level "
          "at +-90 deg within 1 dB; the first case's wall time under 20 s")
    return 0


def _verify(folder: Path, server: str, firs: np.ndarray, noise: float | None,
            argv: list[str]) -> tuple[dict, float]:
    """measure.py --verify as a process against a plant client of ``firs``: its report
    and wall time."""
    plant = JackPlant(firs, server, noise_dbfs=noise)
    try:
        drives, ears, loop = plant.port_names()
        report = folder / "verify.json"
        command = [sys.executable, str(ROOT / "scripts" / "measure.py"), "--verify", str(BANK),
                   "--outputs", ",".join(drives), "--inputs", ",".join(ears),
                   "--loopback", ",".join(loop), "--report", str(report), *argv]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        wall = time.perf_counter() - start
    finally:
        plant.close()
    if done.returncode != 0:
        raise InputError(f"measure.py --verify failed: {done.stderr.strip()}")
    return json.loads(report.read_text()), wall


def build_parser():
    parser = make_parser(__doc__.splitlines()[0], prog="verify.py benchmark")
    parser.add_argument("--sweep-seconds", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--period", type=int, default=256)
    parser.add_argument("--noise-dbfs", type=float, default=-70.0,
                        help="RMS level of the microphone noise of the noisy case")
    return parser


if __name__ == "__main__":
    sys.exit(run(main, build_parser()))
