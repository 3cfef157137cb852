"""Train and evaluate a grid of designs in parallel; resumable; one CSV table and a
Pareto plot.

    python scripts/sweep.py --out runs/sweep --arrays studio --taps 256 512 \\
        --zone-lateral-m 0 0.05 0.1 0.2 --weights default beam=2 --steps 2000 --jobs 2

Each design runs ``python scripts/train.py --array A --steps S --taps N --zone Z --seed K
--out OUT/<design>/filterbank.npz`` (plus ``--zone-lateral-m X`` and ``--config`` with a
``[weights]`` table when given), then the held-out evaluation. Designs that already have
a result are skipped. Writes OUT/results.csv and OUT/pareto.png; exits 1 if a design
failed (its OUT/<design>/error.txt says why; a rerun tries it again).
"""

from __future__ import annotations

import os
import shlex
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import _cli

import numpy as np

from common.atomic import check_output_folder
from common.errors import InputError
from evaluation import plots
from evaluation import sweep
from models import get_zone, load_array

TRAIN_CMD_ENV = "SOUNDSTAGE_TRAIN_CMD"


def build_parser():
    p = _cli.make_parser(__doc__.split("\n\n")[0], prog="sweep.py")
    p.add_argument("--out", required=True, help="sweep directory (created if its parent exists)")
    p.add_argument("--arrays", nargs="+", default=["studio"], help="array names or TOML paths")
    p.add_argument("--taps", type=int, nargs="+", default=[512], help="FIR lengths")
    p.add_argument("--zones", nargs="+", default=["couch"], help="zone presets")
    p.add_argument("--zone-lateral-m", type=float, nargs="+", default=None,
                   help="lateral zone spreads (m) overriding the preset's, e.g. 0 0.05 0.1 0.2")
    p.add_argument("--weights", nargs="+", default=["default"],
                   help="loss-weight sets, each 'default' or 'name=value,name=value'")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds")
    p.add_argument("--steps", type=int, default=2000, help="training steps per design")
    p.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2) // 2),
                   help="designs trained at once (local process pool)")
    p.add_argument("--ray", metavar="ADDRESS", help="run the designs as Ray tasks on this "
                   "cluster ('auto' for the local one) instead of the local pool")
    p.add_argument("--train-cmd", default=os.environ.get(TRAIN_CMD_ENV),
                   help=f"train command prefix (default: this Python with scripts/train.py; "
                   f"or ${TRAIN_CMD_ENV})")
    p.add_argument("--train-timeout-s", type=float, help="give up on a design's training after this")
    p.add_argument("--unit-draws", type=int, default=0,
                   help="simulated units (unit-to-unit tolerances) in each evaluation "
                   "(0: none)")
    return p


def check_args(args) -> list[sweep.Design]:
    """Validate the options and return the design grid."""
    for name in ("taps", "seeds"):
        if any(v < (1 if name == "taps" else 0) for v in getattr(args, name)):
            raise InputError(f"--{name}: expected {'positive' if name == 'taps' else 'non-negative'} "
                             f"integers, got {getattr(args, name)}")
    for name in ("steps", "jobs"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name}: expected a positive integer, got {getattr(args, name)}")
    if args.unit_draws < 0:
        raise InputError(f"--unit-draws: expected >= 0, got {args.unit_draws}")
    laterals = args.zone_lateral_m or [None]
    if any(v is not None and not (np.isfinite(v) and v >= 0) for v in laterals):
        raise InputError(f"--zone-lateral-m: expected spreads >= 0 m, got {laterals}")
    if args.train_timeout_s is not None and not args.train_timeout_s > 0:
        raise InputError(f"--train-timeout-s: expected a positive number, got {args.train_timeout_s}")
    for array in args.arrays:
        load_array(array)
    for zone in args.zones:
        get_zone(zone)
    check_output_folder(args.out)
    weight_sets = list(dict.fromkeys(sweep.parse_weights(w) for w in args.weights))
    return sweep.design_grid(args.arrays, args.taps, args.zones, laterals, weight_sets,
                             args.seeds, args.steps)


def train_command(args) -> list[str]:
    if args.train_cmd:
        cmd = shlex.split(args.train_cmd)
        if not cmd:
            raise InputError("--train-cmd: empty command")
        return cmd
    return [sys.executable, str(_cli.ROOT / "scripts" / "train.py")]


def run_local(tasks: list[dict], jobs: int):
    """Yield rows as the local process pool finishes them."""
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(sweep.run_design, **task) for task in tasks]
        for future in as_completed(futures):
            yield future.result()


def run_ray(tasks: list[dict], address: str):
    """Yield rows as Ray tasks on the cluster at ``address`` finish them (one CPU each)."""
    try:
        import ray
    except ModuleNotFoundError:
        raise InputError("--ray: Ray is not installed; install it with "
                         "`pip install 'soundstage[ray]'` or drop --ray to run locally") from None
    ray.init(address=address)  # workers need this checkout and --out at the same paths
    remote = ray.remote(num_cpus=1)(sweep.run_design)
    pending = [remote.remote(**task) for task in tasks]
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        yield ray.get(done[0])


def main(args) -> int:
    designs = check_args(args)
    cmd = train_command(args)
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    rows, tasks = [], []
    for design in designs:
        row = sweep.finished(design, out)
        if row is not None:
            rows.append(row)
        else:
            tasks.append({"design": design, "out_dir": str(out), "train_cmd": cmd,
                          "unit_draws": args.unit_draws,
                          "timeout_s": args.train_timeout_s})
    print(f"{len(designs)} designs: {len(rows)} finished before, {len(tasks)} to run", flush=True)
    runner = run_ray(tasks, args.ray) if args.ray else run_local(tasks, args.jobs)
    for row in runner:
        rows.append(row)
        note = row["error"] if row["status"] != "ok" else \
            f"sweet {row['separation_nominal_db']:.1f} dB, worst {row['separation_zone_worst_db']:.1f} dB"
        print(f"{row['design']}: {row['status']} ({note})", flush=True)
    rows = sweep.mark_front(sorted(rows, key=lambda r: r["design"]))
    sweep.write_table(out / "results.csv", rows)
    ok = [r for r in rows if r["status"] == "ok"]
    if ok:
        column = {c: np.array([r[c] for r in ok], float) for c, _ in sweep.OBJECTIVES}
        fig = plots.pareto(column["separation_nominal_db"], column["separation_zone_worst_db"],
                           column["effort_db"], np.array([r["pareto"] for r in ok]),
                           [r["design"] for r in ok])
        plots.save_png(fig, out / "pareto.png")
    failed = len(rows) - len(ok)
    print(f"results: {out / 'results.csv'} ({len(ok)} ok, {failed} failed)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(_cli.run(main, build_parser()))
