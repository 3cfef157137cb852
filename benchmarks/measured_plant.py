"""Training on a measured plant against training on the model it was measured from.

Writes ``ears.sofa`` (a grid of poses over the training zone) and ``farfield.sofa`` (a
5-degree ring at 3 m) from one driver model with the sphere head, trains once on those
files (``--plant``) and once on the same model directly (one unit, no tolerances: a
measured plant is one device), and judges both in that model on the held-out grid. The
goal: the file-trained bank within 2 dB of the model-trained one on every figure.

    python benchmarks/measured_plant.py [--array studio] [--model piston] [--steps N] \
        [--config my.toml]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from _cli import make_parser, run  # noqa: E402  (also puts the checkout on sys.path)

import numpy as np  # noqa: E402

from common.errors import InputError  # noqa: E402
from design import learn_design  # noqa: E402
from evaluation.heldout import evaluate_heldout  # noqa: E402
from models import load_array, place_listeners  # noqa: E402
from models.measured_plants import MeasuredPlant, split_poses  # noqa: E402
from models.plant_sofa import read_ears_sofa, read_farfield_sofa  # noqa: E402
from models.plant_sofa_write import write_ears_sofa, write_farfield_sofa  # noqa: E402
from optim.config import load_config  # noqa: E402

FIGURES = ("separation_nominal_db", "separation_zone_median_db", "separation_zone_worst_db",
           "beam_null_db", "beam_ripple_db", "tonal_deviation_C_db", "headroom_db")


def pose_grid(array):
    """Heads over the training zone: lateral -12..12 cm x 0.7..1.6 x distance x yaw
    -12/0/12 deg, facing the device (yawed)."""
    lateral, scale, yaw = np.meshgrid(np.linspace(-0.12, 0.12, 7), [0.7, 0.85, 1.0, 1.25, 1.6],
                                      [-12.0, 0.0, 12.0], indexing="ij")
    return place_listeners(array.listener, lateral.ravel(), scale.ravel(), 0.0, yaw.ravel())


def main(args) -> int:
    if args.steps is not None and args.steps < 0:
        raise InputError(f"--steps: expected a non-negative integer, got {args.steps}")
    array = load_array(args.array)
    overrides: dict = {"plant": {"driver_models": [args.model], "units": 1}}
    if args.steps is not None:
        overrides["optimizer"] = {"steps": args.steps}
    config = load_config(args.config, overrides, array=array.name)
    fs = config.design.sample_rate
    with tempfile.TemporaryDirectory() as tmp:
        heads = pose_grid(array)
        t0 = time.monotonic()
        write_ears_sofa(Path(tmp) / "ears.sofa", array, fs, heads.positions_m, heads.facing,
                        driver_model=args.model, comment="benchmarks/measured_plant.py")
        write_farfield_sofa(Path(tmp) / "farfield.sofa", array, fs, np.arange(-180.0, 180.0, 5.0),
                            3.0, driver_model=args.model)
        ears = read_ears_sofa(Path(tmp) / "ears.sofa", array)
        far = read_farfield_sofa(Path(tmp) / "farfield.sofa", array)
        print(f"wrote and read {len(heads)} poses and a 72-microphone ring in "
              f"{time.monotonic() - t0:.1f} s", file=sys.stderr)
        measured = MeasuredPlant(ears, split_poses(ears, array.listener.head_position_m), far)
        banks = {}
        for name, plant in (("model", None), ("measured", measured)):
            t0 = time.monotonic()
            design = learn_design(array, config, plant)
            banks[name] = evaluate_heldout(array, design.taps, design.ctc_taps, fs,
                                           driver_model=args.model)
            print(f"trained on the {name} plant in {time.monotonic() - t0:.0f} s",
                  file=sys.stderr)
    print(f"judged in {args.model} (held-out grid)       trained on model   on measured   "
          f"difference")
    for key in FIGURES:
        a, b = banks["model"][key], banks["measured"][key]
        print(f"{key:38s} {a:14.2f} {b:13.2f} {b - a:+12.2f}")
    return 0


def build_parser():
    p = make_parser(__doc__.splitlines()[0], prog="measured_plant.py")
    p.add_argument("--array", default="studio")
    p.add_argument("--model", default="piston", help="driver model the files are written from")
    p.add_argument("--steps", type=int, help="optimizer steps (default from the config)")
    p.add_argument("--config", type=Path, help="TOML overriding optim/defaults.toml")
    return p


if __name__ == "__main__":
    sys.exit(run(main, build_parser()))
