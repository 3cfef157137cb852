"""One call from an array and a config to a learned design and its least-squares twin."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evaluation.system import evaluate_models
from models import Array
from models.measured_plants import MeasuredPlant
from optim.baseline import least_squares_taps
from optim.config import TrainConfig
from optim.loop import TrainResult, train
from optim.params import export_taps
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
                 problem: Problem | None = None, **train_options) -> Design:
    """Build the problem (unless given), train (``train_options`` go to optim.loop.train:
    checkpoint, resume, on_step) and export both designs."""
    problem = problem or build_problem(array, config, measured)
    run = train(config, problem, **train_options)
    taps, ctc_taps = export_taps(run.params, problem)
    ls_taps, ls_ctc_taps = least_squares_taps(problem, config.optimizer.regularization,
                                              config.design.taps)
    return Design(problem, run, taps, ctc_taps, ls_taps, ls_ctc_taps)


EVALUATION_UNITS = 20  # simulated units (never trained on) for the tolerance figures


def judge(array: Array, config: TrainConfig, taps: np.ndarray, ctc_taps: np.ndarray
          ) -> dict[str, dict]:
    """Held-out figures of taps (3, D, N) and ctc_taps (2, D, N) in every driver model, with
    the config's head, width and tolerances (evaluation.system.evaluate_models)."""
    return evaluate_models(array, taps, ctc_taps, config.design.sample_rate,
                           head=config.design.head, virtual_width_deg=config.design.width_deg,
                           unit_draws=EVALUATION_UNITS, tolerances=config.plant.tolerances,
                           seed=config.seed)
