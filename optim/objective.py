"""Factories that turn a problem and a config into a jitted loss and training step."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from optim.config import TrainConfig
from optim.losses import LOSS_TERMS, PER_PLANT, plant_reduce
from optim.params import Params, frequency_responses
from optim.problem import Problem
from targets import ILD_BAND_HZ, ITD_BAND_HZ, SEPARATION_BAND_HZ


def static_targets(problem: Problem, config: TrainConfig) -> dict:
    """The loss terms' targets and masks as JAX arrays (float32 / complex64)."""
    az = problem.azimuths_deg
    on_axis = int(np.flatnonzero(az == 0.0)[0])
    null_idx = np.array([np.flatnonzero(np.isclose(az, a))[0] for a in
                         (-config.beam.null_deg, config.beam.null_deg)])
    fold = np.abs(az)
    as32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731

    def band_weight(band: tuple[float, float]) -> np.ndarray:
        f = problem.freqs_hz
        return problem.freq_weight * ((f >= band[0]) & (f <= band[1]))

    as64 = lambda x: jnp.asarray(x, jnp.complex64)  # noqa: E731
    return {
        "freq_weight": as32(problem.freq_weight), "bulk": as64(problem.bulk),
        "cancellation_db": as32(problem.cancellation_db), "virtual": as64(problem.virtual),
        "centre": as64(problem.centre),
        # Beam terms see only the bins of the beam band (beam_bins): the weight over those.
        "beam_weight": as32((problem.freq_weight * problem.beam_band)[problem.beam_band]),
        "pattern": as32(problem.pattern), "effort_ref": as32(problem.effort_ref),
        "compact_weight": as32(problem.compact_weight),
        "effort_excess_db": config.effort.excess_db, **bound_values(config),
        "zone_floor_db": config.cancellation.zone_floor_db,
        "zone_error_variance": 10 ** (config.cancellation.zone_error_db / 10),
        "separation_weight": as32(band_weight(SEPARATION_BAND_HZ)),
        "directivity_db": config.beam.directivity_db,
        "ild_weight": as32(band_weight(ILD_BAND_HZ)), "itd_weight": as32(band_weight(ITD_BAND_HZ)),
        "on_axis": on_axis, "null_idx": jnp.asarray(null_idx),
        "null_db": config.beam.null_db, "rear_db": config.beam.rear_db,
        "flat_mask": as32(fold <= config.beam.flat_deg + 1e-9),
        "rear_mask": as32(fold >= config.beam.rear_deg - 1e-9),
    }


# Responses with a leading plant axis (K) in system_responses.
PLANT_KEYS = ("ctc_nominal", "lr_nominal", "c_nominal", "beam", "ctc_nominal_spread",
              "beam_spread", "beam_best")


def system_responses(params: Params, ears: jnp.ndarray, nominal: jnp.ndarray,
                     farfield: jnp.ndarray, band: jnp.ndarray, beam_bins: jnp.ndarray,
                     on_axis: int, mirror: np.ndarray | None = None) -> dict:
    """Responses every loss term reads.

    ears: (B, F, 2, D) zone batch (listeners of several plants); nominal: (K, F, 2, D) of
    the K plants of the batch; farfield: (K, Fb, A, D) of the same plants at the Fb bins
    ``beam_bins`` (the beam band) only, ``on_axis`` the index of azimuth 0; band: (D, F);
    ``mirror``: the array's mirror permutation for a symmetric bank (optim.params), or None. The entries named in
    :data:`PLANT_KEYS` keep the K axis in front.
    """
    filters, ctc = frequency_responses(params, band, mirror)  # (3, D, F), (2, D, F)
    n_taps = band.shape[-1] - 1
    return {
        "filters": jnp.concatenate([filters, ctc], axis=0),
        "taps": jnp.fft.irfft(jnp.concatenate([filters, ctc], 0), 2 * n_taps, axis=-1)[..., :n_taps],
        "ctc_zone": jnp.einsum("bfed,idf->bfei", ears, ctc),
        "ctc_nominal": jnp.einsum("kfed,idf->kfei", nominal, ctc),
        "lr_zone": jnp.einsum("bfed,cdf->bfec", ears, filters[:2]),
        "lr_nominal": jnp.einsum("kfed,cdf->kfec", nominal, filters[:2]),
        "c_nominal": jnp.einsum("kfed,df->kfe", nominal, filters[2]),
        "beam": jnp.einsum("kfad,df->kfa", farfield, filters[2][:, beam_bins]),
        # Incoherent per-driver sums sum_d |H_d W_d|^2: the power that independent
        # driver gain/phase errors add, per unit error variance (robustness terms).
        "ctc_nominal_spread": jnp.einsum("kfed,idf->kfei", jnp.abs(nominal) ** 2,
                                         jnp.abs(ctc) ** 2),
        "ctc_zone_spread": jnp.einsum("bfed,idf->bfei", jnp.abs(ears) ** 2, jnp.abs(ctc) ** 2),
        "beam_spread": jnp.einsum("kfad,df->kfa", jnp.abs(farfield) ** 2,
                                  jnp.abs(filters[2][:, beam_bins]) ** 2),
        "c_power": jnp.sum(jnp.abs(filters[2][:, beam_bins]) ** 2, axis=0),  # (Fb,)
        # The best single driver's on-axis power (K, Fb): the beam-effort reference.
        "beam_best": jnp.max(jnp.abs(farfield[:, :, on_axis]) ** 2, axis=-1),
    }


def bound_values(config: TrainConfig) -> dict[str, float]:
    """The config's effort bounds (dB), the targets that differ between the rungs of a
    ladder."""
    return {"headroom_db": config.effort.headroom_db,
            "effort_ceiling_db": config.effort.ceiling_db,
            "beam_effort_db": config.beam.effort_db}


def bounds_of(config: TrainConfig) -> dict[str, jnp.ndarray]:
    """:func:`bound_values` as float32 scalars, passed to the loss as arguments so that one
    compiled step serves every rung."""
    return {key: jnp.asarray(value, jnp.float32) for key, value in bound_values(config).items()}


def make_loss(config: TrainConfig, problem: Problem) -> Callable:
    """``loss(params, batch, bounds=None) -> (total, terms)``; ``batch`` is
    :func:`batch_indices`'s (plants (Kb,), pair_plant (B,), pair_listener (B,)), ``bounds``
    :func:`bounds_of` a config (None: this config's, as constants). Per-plant terms are
    combined over the batch's plants by :func:`optim.losses.plant_reduce`."""
    targets = static_targets(problem, config)
    pool = jnp.asarray(problem.ear_pool, jnp.complex64)
    nominal = jnp.asarray(problem.ear_nominal, jnp.complex64)
    beam_bins = jnp.asarray(np.flatnonzero(problem.beam_band))
    farfield = jnp.asarray(problem.farfield[:, problem.beam_band], jnp.complex64)
    band = jnp.asarray(problem.band_response, jnp.complex64)
    active = {name: w for name, w in config.weights.items() if w > 0}
    per_plant = [name for name in active if name in PER_PLANT]
    shared = [name for name in active if name not in PER_PLANT]
    p = config.plant

    def loss(params: Params, batch: tuple, bounds: dict | None = None):
        t = targets if bounds is None else {**targets, **bounds}

        def plant_terms(s_plant: dict, s: dict) -> dict:
            one = {**s, **s_plant}
            return {name: LOSS_TERMS[name](one, t) for name in per_plant}

        plants, pair_plant, pair_listener = batch
        s = system_responses(params, pool[pair_plant % pool.shape[0], pair_listener],
                             nominal[plants % nominal.shape[0]],
                             farfield[plants % farfield.shape[0]], band, beam_bins,
                             targets["on_axis"], problem.mirror)
        terms = {name: LOSS_TERMS[name](s, t) for name in shared}
        s_rest = {k: v for k, v in s.items() if k not in PLANT_KEYS}
        values = jax.vmap(plant_terms, in_axes=(0, None))(
            {k: s[k] for k in PLANT_KEYS}, s_rest)
        terms.update({name: plant_reduce(v, p.worst_weight, p.worst_power)
                      for name, v in values.items()})
        total = sum(active[name] * value for name, value in terms.items())
        return total, terms

    return loss


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """Adam on a warm-up + cosine-decay schedule, with global-norm gradient clipping."""
    o = config.optimizer
    schedule = optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=o.learning_rate, warmup_steps=max(o.warmup_steps, 1),
        decay_steps=max(o.steps, o.warmup_steps + 1), end_value=o.learning_rate * 0.05)
    return optax.chain(optax.clip_by_global_norm(1.0), optax.adam(schedule))


def make_step(loss: Callable, optimizer: optax.GradientTransformation) -> Callable:
    """Jitted ``step(params, opt_state, batch_index, bounds) -> (params, opt_state, total,
    terms)``; ``bounds`` as :func:`bounds_of` (arguments, so no recompiling per rung)."""

    @jax.jit
    def step(params, opt_state, batch_index, bounds):
        (total, terms), grads = jax.value_and_grad(loss, has_aux=True)(params, batch_index,
                                                                       bounds)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, total, terms

    return step


def batch_indices(seed: int, step: int, n_plants: int, pool: int, batch: int,
                  batch_plants: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One step's draw: ``batch_plants`` distinct plants (all if fewer), and ``batch`` zone
    listeners spread evenly over them. A function of (seed, step) only, so a resumed run
    draws exactly what an uninterrupted one would. Returns (plants, pair_plant,
    pair_listener)."""
    rng = np.random.default_rng([seed, step])
    plants = rng.choice(n_plants, size=min(batch_plants, n_plants), replace=False)
    pair_plant = plants[np.arange(batch) % plants.size]
    return plants, pair_plant, rng.choice(pool, size=batch, replace=False)
