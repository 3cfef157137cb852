"""``train.py --ladder 6,12,18,24 --out DIR``: one plain bank per headroom budget
(optim/ladder.py), each judged beside least squares at the same headroom, written with the
folder's index (``ladder.json``) and the Pareto table and plot (evaluation/pareto.py)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from common.errors import InputError
from models import Array
from optim.config import TrainConfig


def parse_budgets(text: str) -> list[float]:
    """Budgets (dB) from ``--ladder`` text such as ``6,12,18,24``: positive, distinct."""
    try:
        budgets = [float(v) for v in text.split(",")]
    except ValueError:
        raise InputError(f"--ladder: expected comma-separated headroom budgets in dB such as "
                         f"6,12,18,24, got {text!r}") from None
    if not budgets or any(not (0 < b <= 60) for b in budgets) or len(set(budgets)) != len(budgets):
        raise InputError(f"--ladder: expected distinct budgets in (0, 60] dB, got {text!r}")
    return sorted(budgets)


def main_ladder(args, array: Array, config: TrainConfig, out: Path, measured,
                budgets: list[float]) -> int:
    """Train, judge and write the ladder of headroom ``budgets`` (dB, parse_budgets of
    ``args.ladder``) into the folder ``out``."""
    from tqdm import tqdm

    from design import judge_banks, judged_metrics
    from evaluation.pareto import RungFigures, pareto_table, write_pareto
    from optim.export import make_filterbank
    from optim.ladder import rung_checkpoint, rung_name, train_ladder
    from optim.loop import training_record
    from optim.problem import build_problem
    from renderer.export import headroom_db
    from renderer.ladder import write_ladder

    t0 = time.monotonic()
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr))
    problem = build_problem(array, config, measured)
    say(f"train.py: {array.name}: ladder of {len(budgets)} rungs "
        f"({', '.join(f'{b:g}' for b in budgets)} dB), {config.optimizer.steps} steps each; "
        f"transfers in {time.monotonic() - t0:.1f} s")
    checkpoints = out / ".checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=len(budgets) * config.optimizer.steps, disable=args.quiet,
               file=sys.stderr, desc="ladder", unit="step")
    rungs = train_ladder(config, problem, budgets, checkpoints, args.resume,
                         on_rung=lambda i, b: bar.set_description(f"rung {b:g} dB"),
                         on_step=lambda step, terms: bar.update(1))
    bar.close()
    say(f"train.py: held-out evaluation of {len(rungs)} learned and least-squares rungs ...")
    judged = judge_banks(array, config, [bank for rung in rungs for bank in (
        (rung.taps, rung.ctc_taps), (rung.least_squares.taps, rung.least_squares.ctc_taps))])
    figures, banks = [], []
    for rung, learned, baseline in zip(rungs, judged[::2], judged[1::2]):
        metrics = judged_metrics(learned, baseline, list(config.plant.driver_models))
        metrics.update(budget_db=rung.budget_db, headroom_db=headroom_db(rung.taps),
                       ctc_headroom_db=headroom_db(rung.ctc_taps),
                       least_squares_regularization=[rung.least_squares.regularization,
                                                     rung.least_squares.ctc_regularization])
        training = {**training_record(rung.config, rung.run.history, problem),
                    "ladder_budgets_db": budgets}
        banks.append((f"{rung_name(rung.budget_db)}.npz", make_filterbank(
            array, rung.config, rung.taps, rung.ctc_taps, metrics, training,
            problem.virtual_source)))
        figures.append(RungFigures(rung.budget_db, metrics["learned"],
                                   metrics["least_squares"]))
    write_ladder(out, banks, [rung.budget_db for rung in rungs])
    write_pareto(out, figures)
    for rung in rungs:  # the ladder is complete: its checkpoints are spent
        rung_checkpoint(checkpoints, rung.budget_db).unlink(missing_ok=True)
    if not any(checkpoints.iterdir()):  # another run's checkpoints stay where they are
        checkpoints.rmdir()
    print(pareto_table(figures))
    print(f"wrote {out}: {len(rungs)} rungs, ladder.json, pareto.md/.csv/.png "
          f"({time.monotonic() - t0:.1f} s)")
    return 0

