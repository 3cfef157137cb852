"""Leave one driver model out: train on the others, judge in the one left out.

For every registered driver model M, trains the array on the other models (the rest of
the config unchanged, the same seed), then prints the held-out figures in M beside the
figures in the training models, for the learned bank and the least-squares design fitted
over the same plants. This is the model-gap study behind the default choice of training
models: a figure that holds only in the models it was trained on is not a figure.

    python benchmarks/model_gap.py [--array studio] [--steps 1500] [--config my.toml] \
        [--json out.json]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from _cli import make_parser, run  # noqa: E402  (also puts the checkout on sys.path)

from common.atomic import atomic_output  # noqa: E402
from common.errors import InputError  # noqa: E402
from design import judge, learn_design  # noqa: E402
from evaluation.metrics import least_favourable  # noqa: E402
from models import driver_model_names, load_array  # noqa: E402
from optim.config import load_config  # noqa: E402

FIGURES = ("separation_nominal_db", "separation_zone_median_db", "separation_zone_worst_db",
           "separation_nominal_units_median_db", "beam_null_db", "beam_null_units_median_db",
           "beam_ripple_db", "tonal_deviation_C_db", "effort_peak_excess_db", "headroom_db")


def main(args) -> int:
    if args.steps is not None and args.steps < 0:
        raise InputError(f"--steps: expected a non-negative integer, got {args.steps}")
    array = load_array(args.array)
    models = driver_model_names()
    results = {}
    for held in models:
        trained = [m for m in models if m != held]
        config = load_config(args.config, {"plant": {"driver_models": trained},
                                           "optimizer": {} if args.steps is None else
                                           {"steps": args.steps}}, array=array.name)
        t0 = time.monotonic()
        design = learn_design(array, config)
        learned = judge(array, config, design.taps, design.ctc_taps)
        baseline = judge(array, config, design.ls_taps, design.ls_ctc_taps)
        results[held] = {"trained_on": trained, "seconds": round(time.monotonic() - t0, 1),
                         "learned": learned, "least_squares": baseline}
        print(f"held out {held} (trained on {', '.join(trained)}, "
              f"{time.monotonic() - t0:.0f} s)", file=sys.stderr)
    print(f"{'figure':38s} {'held-out model':>15s} {'learned':>8s} {'train worst':>11s} "
          f"{'least-sq':>8s}")
    for key in FIGURES:
        for held, r in results.items():
            train_worst = least_favourable({m: r["learned"][m] for m in r["trained_on"]})
            print(f"{key:38s} {held:>15s} {r['learned'][held][key]:8.2f} "
                  f"{train_worst[key]:11.2f} {r['least_squares'][held][key]:8.2f}")
    if args.json:
        with atomic_output(args.json) as tmp:
            tmp.write_text(json.dumps(results, indent=1))
    return 0


def build_parser():
    p = make_parser(__doc__.splitlines()[0], prog="model_gap.py")
    p.add_argument("--array", default="studio")
    p.add_argument("--steps", type=int, help="optimizer steps (default from the config)")
    p.add_argument("--config", type=Path, help="TOML overriding optim/defaults.toml")
    p.add_argument("--json", type=Path, help="write every figure to this JSON file")
    return p


if __name__ == "__main__":
    sys.exit(run(main, build_parser()))
