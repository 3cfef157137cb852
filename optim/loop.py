"""The training loop: fresh listener batches every step, time-based atomic checkpoints,
exact resume, and a clean stop (keeping the last good checkpoint) if a loss diverges."""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from common.errors import InputError
from optim.baseline import least_squares_filters, responses_to_taps
from optim.checkpoint import load_checkpoint, save_checkpoint
from optim.config import TrainConfig
from optim.objective import batch_indices, bounds_of, make_loss, make_optimizer, make_step
from optim.params import Params, params_from_taps, raw_length
from optim.problem import Problem


class TrainingDiverged(InputError):
    """A loss term became NaN or infinite; the message names it."""


@dataclass
class TrainResult:
    params: Params
    history: list[dict]  # one entry per logged step: step, total, each term
    steps_run: int  # steps run by this call (0 when a finished run was resumed)


def fingerprint(config: TrainConfig) -> str:
    """A hash of everything that determines the trajectory (all but the checkpoint interval;
    the step count is in, since the learning-rate schedule depends on it)."""
    data = config.to_dict()
    data["optimizer"] = {k: v for k, v in data["optimizer"].items() if k != "checkpoint_seconds"}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def training_record(config: TrainConfig, history: list[dict], problem: Problem) -> dict:
    """The manifest's ``training`` entries every trained bank has: steps, seed, the config's
    :func:`fingerprint`, the last logged loss terms and the plants trained on."""
    return {"steps": config.optimizer.steps, "seed": config.seed,
            "fingerprint": fingerprint(config), "final_loss": history[-1] if history else {},
            "plants": list(problem.plant_labels)}


def initial_params(config: TrainConfig, problem: Problem) -> Params:
    """Least-squares design cut into the parametrisation, or small seeded noise."""
    d = config.design
    if config.optimizer.init == "least_squares":
        filters, ctc = least_squares_filters(problem, config.optimizer.regularization)
        return params_from_taps(problem, responses_to_taps(filters, d.taps),
                                responses_to_taps(ctc, d.taps))
    rng = np.random.default_rng(config.seed)
    shape = (problem.band_firs.shape[0], raw_length(problem))
    return {"taps": jnp.asarray(1e-3 * rng.standard_normal((3,) + shape), jnp.float32),
            "ctc": jnp.asarray(1e-3 * rng.standard_normal((2,) + shape), jnp.float32)}


def train(config: TrainConfig, problem: Problem, checkpoint: str | Path | None = None,
          resume: bool = False, on_step: Callable[[int, dict], None] | None = None,
          log_every: int = 10, init: Params | None = None,
          step_fn: Callable | None = None) -> TrainResult:
    """Run ``config.optimizer.steps`` steps (or what remains after a resume), from ``init``
    (default :func:`initial_params`), with ``step_fn`` (default: made from this config;
    a ladder passes one step for all its rungs, which differ only in their bounds).

    ``on_step(step, terms)`` is called after every step with the float loss terms.
    """
    optimizer = make_optimizer(config)
    step_fn = step_fn or make_step(make_loss(config, problem), optimizer)
    bounds = bounds_of(config)
    params = initial_params(config, problem) if init is None else init
    opt_state = optimizer.init(params)
    key = fingerprint(config)
    start, history = 0, []
    if resume and checkpoint is not None and Path(checkpoint).exists():
        start, params, opt_state, history = load_checkpoint(checkpoint, params, opt_state, key)
    d = config.design
    last_save = time.monotonic()
    good = (start, params, opt_state)  # the last state whose losses were all finite
    for step in range(start, config.optimizer.steps):
        index = tuple(jnp.asarray(i) for i in batch_indices(
            config.seed, step, len(problem.plant_labels), d.pool, d.batch,
            config.plant.batch_plants))
        new_params, new_state, total, terms = step_fn(params, opt_state, index, bounds)
        values = {name: float(v) for name, v in terms.items()}
        bad = [name for name, v in values.items() if not math.isfinite(v)]
        if bad or not math.isfinite(float(total)):
            if checkpoint is not None:
                save_checkpoint(checkpoint, good[0], good[1], good[2], key,
                                [h for h in history if h["step"] < good[0]])
            raise TrainingDiverged(
                f"training diverged at step {step}: loss term(s) {', '.join(bad) or 'total'} became "
                f"non-finite; the last good state (step {good[0]}) is kept"
                f"{f' in {checkpoint}' if checkpoint else ''}. Lower optimizer.learning_rate "
                f"or the weight of that term.")
        good = (step, params, opt_state)  # evaluated finite; new_params are not yet
        params, opt_state = new_params, new_state
        if step % log_every == 0 or step == config.optimizer.steps - 1:
            history.append({"step": step, "total": float(total), **values})
        if on_step is not None:
            on_step(step, {"total": float(total), **values})
        if checkpoint is not None and time.monotonic() - last_save > config.optimizer.checkpoint_seconds:
            save_checkpoint(checkpoint, step + 1, params, opt_state, key, history)
            last_save = time.monotonic()
    if checkpoint is not None:
        save_checkpoint(checkpoint, config.optimizer.steps, params, opt_state, key, history)
    return TrainResult(params=jax.device_get(params), history=history,
                       steps_run=config.optimizer.steps - start)
