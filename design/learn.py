"""One call from an array and a config to a learned design and its least-squares twin."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from evaluation.metrics import least_favourable, model_gap
from evaluation.heldout import evaluate_banks
from models import Array
from models.measured_plants import MeasuredPlant
from optim.baseline import normal_equations
from optim.config import TrainConfig
from optim.ladder import train_rung
from optim.loop import TrainResult
from optim.problem import Problem, build_problem


@dataclass(frozen=True)
class Design:
    """Learned taps (3, D, N) and ctc_taps (2, D, N), the least-squares design fitted over
    the same plants, the problem they were fitted on and the training run."""

    problem: Problem
    run: TrainResult
    taps: np.ndarray
    ctc_taps: np.ndarray
    ls_taps: np.ndarray
    ls_ctc_taps: np.ndarray


def learn_design(array: Array, config: TrainConfig, measured: MeasuredPlant | None = None,
                 problem: Problem | None = None, checkpoint: str | Path | None = None,
                 resume: bool = False, on_step: Callable[[int, dict], None] | None = None
                 ) -> Design:
    """Build the problem (unless given) and learn the rung of the config's own headroom
    budget (``targets.effort.headroom_db``; optim.ladder): trained from, and returned
    beside, the least-squares design at the same headroom. ``checkpoint``, ``resume`` and
    ``on_step`` go to optim.loop.train."""
    problem = problem or build_problem(array, config, measured)
    budget = config.effort.headroom_db
    rung = train_rung(config, problem, normal_equations(problem), budget, checkpoint, resume,
                      on_step)
    return Design(problem, rung.run, rung.taps, rung.ctc_taps, rung.least_squares.taps,
                  rung.least_squares.ctc_taps)


EVALUATION_UNITS = 20  # simulated units (never trained on) for the tolerance figures
EVALUATION_HEADS = 8  # listeners (never trained on) for the listener-variety figures


def judged_metrics(learned: dict[str, dict], baseline: dict[str, dict], trained_on: list[str]
                   ) -> dict:
    """The manifest's ``metrics`` from :func:`judge`'s figures of a learned bank and its
    least-squares twin: least favourable figures of each, the model gap and every model's
    figures, with the training and held-out models named."""
    return {"learned": least_favourable(learned), "least_squares": least_favourable(baseline),
            "training_models": trained_on,
            "held_out_models": [m for m in learned if m not in trained_on],
            "model_gap": model_gap(learned, trained_on),
            "by_model": {m: {"learned": learned[m], "least_squares": baseline[m]}
                         for m in learned}}


def judge_banks(array: Array, config: TrainConfig,
                banks: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[dict[str, dict]]:
    """Held-out figures of each bank ``(taps (3, D, N), ctc_taps (2, D, N))`` in every driver
    model, with the config's head, width, tolerances and listener variety
    (evaluation.heldout.evaluate_banks: the transfers once for all banks)."""
    return evaluate_banks(array, banks, config.design.sample_rate, head=config.design.head,
                          virtual_width_deg=config.design.width_deg,
                          unit_draws=EVALUATION_UNITS, tolerances=config.plant.tolerances,
                          seed=config.seed, head_draws=EVALUATION_HEADS,
                          variety=config.listeners.variety)


def judge(array: Array, config: TrainConfig, taps: np.ndarray, ctc_taps: np.ndarray
          ) -> dict[str, dict]:
    """:func:`judge_banks` of one bank."""
    return judge_banks(array, config, [(taps, ctc_taps)])[0]
