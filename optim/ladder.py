"""A headroom ladder: one bank per headroom budget, for volume-aware playback.

At full volume a bank may need little headroom (it must not clip); at a normal listening
level the volume control already attenuates by 15-30 dB, and that headroom is free to
spend on width, zone and beam. A ladder trains one bank per budget ``b`` (dB, the
worst-case sinusoid figure of renderer.export.headroom_db):

- rung ``b`` bounds the L/R/C bank and the binaural CTC bank to ``b`` (the ``headroom``
  term), lets the array effort reach ``b + EFFORT_CEILING_OVER_BUDGET_DB`` above one driver
  and the C path's inverse white-noise gain reach :func:`beam_effort_budget_db` (a beam
  bounded by the rung's budget, so its nulls survive models it was not fitted to);
- it starts from the least-squares design regularised to need the same headroom
  (optim.baseline.least_squares_at_headroom), which is also the baseline it is judged
  against: learning starts where the closed form stops, at equal loudness.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from optim.baseline import (LeastSquaresDesign, NormalEquations, least_squares_at_headroom,
                            normal_equations)
from optim.config import TrainConfig
from optim.loop import TrainResult, train
from optim.objective import make_loss, make_optimizer, make_step
from optim.params import export_taps, params_from_taps
from optim.problem import Problem

EFFORT_CEILING_OVER_BUDGET_DB = 3.0


def beam_effort_budget_db(config: TrainConfig, budget_db: float) -> float:
    """The C path's white-noise-gain bound on rung ``budget_db``: the config's bound scaled
    with the rung's budget re the config's own headroom (the 12 dB default rung keeps
    ``targets.beam.effort_db``)."""
    return config.beam.effort_db * budget_db / config.effort.headroom_db


def rung_config(config: TrainConfig, budget_db: float) -> TrainConfig:
    """``config`` with the effort and beam bounds of rung ``budget_db`` (module doc)."""
    if not np.isfinite(budget_db) or budget_db <= 0:
        raise ValueError(f"headroom budget: expected a positive number of dB, got {budget_db}")
    effort = replace(config.effort, headroom_db=float(budget_db),
                     ceiling_db=max(config.effort.ceiling_db,
                                    budget_db + EFFORT_CEILING_OVER_BUDGET_DB))
    beam = replace(config.beam, effort_db=beam_effort_budget_db(config, budget_db))
    return replace(config, effort=effort, beam=beam)


@dataclass(frozen=True)
class Rung:
    """One rung: its budget (dB), its config, the learned taps (3, D, N) and ctc_taps
    (2, D, N), the training run, and the least-squares design at the same headroom."""

    budget_db: float
    config: TrainConfig
    taps: np.ndarray
    ctc_taps: np.ndarray
    run: TrainResult
    least_squares: LeastSquaresDesign


def train_ladder(config: TrainConfig, problem: Problem, budgets_db: list[float],
                 checkpoint_dir: Path | None = None, resume: bool = False,
                 on_rung: Callable[[int, float], None] | None = None,
                 on_step: Callable[[int, dict], None] | None = None) -> list[Rung]:
    """Train one rung per budget (ascending), each from the least-squares design at its
    own headroom; ``on_rung(index, budget)`` is called before each rung, ``on_step`` as
    in optim.loop.train. Checkpoints go to ``checkpoint_dir/rung_<b>db.ckpt.npz``."""
    equations = normal_equations(problem)
    step_fn = make_step(make_loss(config, problem), make_optimizer(config))  # every rung's
    rungs = []
    for index, budget in enumerate(sorted(budgets_db)):
        if on_rung is not None:
            on_rung(index, budget)
        checkpoint = None if checkpoint_dir is None else rung_checkpoint(checkpoint_dir, budget)
        rungs.append(train_rung(config, problem, equations, budget, checkpoint, resume,
                                on_step, step_fn))
    return rungs


def train_rung(config: TrainConfig, problem: Problem, equations: NormalEquations,
               budget_db: float, checkpoint: str | Path | None = None, resume: bool = False,
               on_step: Callable[[int, dict], None] | None = None,
               step_fn: Callable | None = None) -> Rung:
    """The rung of ``budget_db``: :func:`rung_config`, trained (optim.loop.train, with
    ``step_fn`` when given) from the least-squares design of ``equations`` at the same
    headroom."""
    rung = rung_config(config, budget_db)
    start = least_squares_at_headroom(equations, config.design.taps, budget_db, problem.mirror)
    run = train(rung, problem, checkpoint=checkpoint, resume=resume, on_step=on_step,
                init=params_from_taps(problem, start.taps, start.ctc_taps), step_fn=step_fn)
    taps, ctc_taps = export_taps(run.params, problem)
    return Rung(budget_db, rung, taps, ctc_taps, run, start)


def rung_name(budget_db: float) -> str:
    """File stem of the rung of ``budget_db``: ``rung_06db``, ``rung_12.5db``."""
    text = f"{budget_db:g}"
    return f"rung_{text.zfill(2) if '.' not in text else text}db"


def rung_checkpoint(checkpoint_dir: Path, budget_db: float) -> Path:
    """The checkpoint of the rung of ``budget_db`` in ``checkpoint_dir``."""
    return checkpoint_dir / f"{rung_name(budget_db)}.ckpt.npz"
