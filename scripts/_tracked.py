"""``train.py --tracked``: learn a head-tracked bank (optim/tracked.py), judge it in the
zone with ideal tracking and with tracking error beside the untracked design, and write
the tracked bank of CONVENTIONS.md."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

from common.errors import InputError
from models import Array
from optim.config import TrainConfig

GOALS = {  # (zone, mode, figure): goal; issue 11's, for the least favourable driver model
    ("zone", "ideal", "separation_zone_median_db"): 15.0,
    ("zone", "ideal", "separation_zone_worst_db"): 10.0,
    ("zone", "tracking_error", "separation_zone_median_db"): 12.0,
    ("zone", "tracking_error", "separation_zone_worst_db"): 8.0,
    ("couch", "ideal", "separation_zone_worst_db"): 8.0,
}


def main_tracked(args, array: Array, config: TrainConfig, out: Path) -> int:
    """Train, judge and write a tracked bank to ``out``; prints the zone table."""
    from tqdm import tqdm

    from design import judge_banks, learn_design
    from evaluation.metrics import least_favourable
    from evaluation.tracking import (TrackingError, least_favourable_tracking,
                                     tracking_models)
    from optim.loop import training_record
    from optim.problem import build_problem
    from optim.tracked import (build_cell_problem, export_cells, initial_cells,
                               make_trackedbank, train_cells)
    from renderer.trackedbank import nearest_cells, write_trackedbank

    for flag, value in (("--plant", args.plant), ("--resume", args.resume)):
        if value:
            raise InputError(f"{flag} does not work with --tracked yet: a tracked bank trains "
                             f"on the model ensemble, from the start")
    t0 = time.monotonic()
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr))
    tracking = config.tracking
    problem = build_problem(array, config)
    cells = build_cell_problem(array, config, problem)
    count = len(cells.grid.poses)
    say(f"train.py: {array.name}: {count} cells, {tracking.cell_pool} listeners each, "
        f"{len(problem.plant_labels)} plants; transfers in {time.monotonic() - t0:.1f} s")

    def progress(total: int, desc: str):
        bar = tqdm(total=total, disable=args.quiet, file=sys.stderr, desc=desc, unit="step")
        return bar, lambda step, terms: bar.update(1)

    bar, on_step = progress(config.optimizer.steps, "untracked")
    fixed = learn_design(array, config, problem=problem, on_step=on_step)
    bar.close()
    t1 = time.monotonic()
    bar, on_step = progress(tracking.steps, f"{count} cells")
    stacked, history = train_cells(config, problem, cells, initial_cells(config, problem, cells),
                                   on_step)
    bar.close()
    cell_seconds = time.monotonic() - t1
    taps, ctc_taps = export_cells(stacked, problem)
    poses = cells.grid.poses
    nominal = int(nearest_cells(poses, [*array.listener.head_position_m, 0.0]))
    say("train.py: zone figures in every driver model, ideal and with tracking error ...")
    error = TrackingError()
    per_model = tracking_models(array, poses, ctc_taps, fixed.ctc_taps, config.design.sample_rate,
                                head=config.design.head, error=error, seed=config.seed)
    zones = least_favourable_tracking(per_model)
    nominal_cell, fixed_bank = judge_banks(array, config, [(taps[nominal], ctc_taps[nominal]),
                                                           (fixed.taps, fixed.ctc_taps)])
    metrics = {"tracking": zones, "tracking_by_model": per_model,
               "tracking_error": dataclasses.asdict(error),
               "nominal_cell": least_favourable(nominal_cell),
               "fixed": least_favourable(fixed_bank)}
    training = {**training_record(config, history, problem), "cell_steps": tracking.steps,
                "tracking": dataclasses.asdict(tracking), "cell_seconds": round(cell_seconds, 1),
                "seconds": round(time.monotonic() - t0, 1)}
    write_trackedbank(out, make_trackedbank(array, config, poses, taps, ctc_taps, metrics,
                                            training, problem.virtual_source))
    print(format_tracking(zones, metrics["nominal_cell"], metrics["fixed"]))
    print(f"wrote {out}: {count} cells, nominal cell {nominal} "
          f"({cell_seconds:.1f} s for the cells, {time.monotonic() - t0:.1f} s in all)")
    return 0


def format_tracking(zones: dict, nominal_cell: dict, fixed: dict) -> str:
    """The zone table (least favourable driver model) with issue 11's goals, then the
    nominal cell's and the untracked design's nominal separation and beam null."""
    modes = ("ideal", "tracking_error", "nominal_cell", "fixed")
    rows = [f"{'separation (dB), least favourable model':40s}" +
            "".join(f"{m:>15s}" for m in modes) + "  goal"]
    for zone, figures in zones.items():
        for key, label in (("separation_zone_median_db", "median"),
                           ("separation_zone_worst_db", "worst")):
            goals = [f"{mode} >= {GOALS[(zone, mode, key)]:g} "
                     f"{'ok' if figures[mode][key] >= GOALS[(zone, mode, key)] else 'MISSED'}"
                     for mode in modes if (zone, mode, key) in GOALS]
            rows.append(f"{zone + ' ' + label:40s}" +
                        "".join(f"{figures[m][key]:15.2f}" for m in modes) + "  " +
                        ", ".join(goals))
    for key in ("separation_nominal_db", "beam_null_db", "headroom_db"):
        rows.append(f"{key:40s}{'':30s}{nominal_cell[key]:15.2f}{fixed[key]:15.2f}")
    return "\n".join(rows)
