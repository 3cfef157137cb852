"""Loss terms: small pure functions of system responses, registered by name.

Every term takes ``(s, t)``: ``s`` the system responses of one step (a dict of JAX arrays,
built by :func:`optim.objective.system_responses`) and ``t`` the static targets (a dict
built from :class:`optim.problem.Problem`), and returns a scalar. The terms named in
:data:`PER_PLANT` read the nominal listener and the beam of one plant; the objective
evaluates them for every plant of a batch and combines them with :func:`plant_reduce`.
The total is the weighted sum of the terms from the config; each term is logged on its own.

Levels are in dB where the goal is a level (cancellation, nulls, flatness, effort), with
smooth one-sided hinges (``softplus``) so that a term is zero once its goal is met and
never rewards overshoot; fidelity terms are complex errors relative to unit targets.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from optim._beam_losses import (beam_directivity, beam_effort, beam_flat, beam_null,
                                beam_null_robust, beam_pattern, beam_rear)
from optim._ear_losses import (cancellation, cancellation_nominal, cancellation_robust,
                               cancellation_worst, centre_fidelity, ctc_fidelity, ctc_tonal,
                               interaural, lr_tonal, virtual_fidelity, width_ild, width_itd,
                               zone_floor)
from optim._loss_math import _EPS, db, hinge_db, weighted_mean_over_freq


def effort(s, t) -> jnp.ndarray:
    """Array effort of every input: dB above its 1-4 kHz mean beyond ``t["effort_excess_db"]``,
    and above ``t["effort_ceiling_db"]`` re one driver at unit gain."""
    level = db(jnp.sum(jnp.abs(s["filters"]) ** 2, axis=1))  # (C, F)
    ref = jnp.sum(level * t["effort_ref"], axis=1, keepdims=True) / jnp.sum(t["effort_ref"])
    penalty = hinge_db(level - ref - t["effort_excess_db"]) + \
        hinge_db(level - t["effort_ceiling_db"])
    return jnp.mean(weighted_mean_over_freq(penalty, t["freq_weight"]))


HEADROOM_TEMPERATURE_DB = 0.1  # soft maximum over D x F values: at most 0.1 ln(D F) dB high


def headroom(s, t) -> jnp.ndarray:
    """Excess (dB) of the bank's headroom over ``t["headroom_db"]``: the soft maximum over
    drivers and frequencies of ``20 log10 sum_c |W_cd(f)|`` (L, R, C together), the
    attenuation the renderer needs (renderer.export.headroom_db). A sharp soft maximum:
    every dB it over-estimates the peak by is loudness or width given away for nothing
    (low-frequency interaural delay needs effort)."""
    gain = jnp.stack([jnp.sum(jnp.abs(s["filters"][:3]), axis=0),
                      jnp.sum(jnp.abs(s["filters"][3:]), axis=0)])  # (2, D, F)
    temperature = HEADROOM_TEMPERATURE_DB
    peak = temperature * jax.nn.logsumexp(2.0 * db(gain) / temperature)
    return hinge_db(peak - t["headroom_db"], softness_db=HEADROOM_TEMPERATURE_DB)


def compactness(s, t) -> jnp.ndarray:
    """Share of each path's energy near the ends of the FIR window (pre-ringing, tail)."""
    energy = s["taps"] ** 2  # (C, D, N)
    return jnp.mean(jnp.sum(energy * t["compact_weight"], -1) / (jnp.sum(energy, -1) + _EPS))


def plant_reduce(values: jnp.ndarray, worst_weight: float, worst_power: float) -> jnp.ndarray:
    """Combine a term's (K,) non-negative values over plants: ``(1 - w)`` times the mean
    (expectation) plus ``w`` times the power mean of order ``worst_power`` (a soft worst
    case that is scale-free, so it suits terms in dB and squared errors alike)."""
    power_mean = jnp.mean((values + _EPS) ** worst_power) ** (1.0 / worst_power)
    return (1.0 - worst_weight) * jnp.mean(values) + worst_weight * power_mean


LOSS_TERMS: dict[str, Callable] = {
    "cancellation": cancellation,
    "cancellation_nominal": cancellation_nominal,
    "cancellation_worst": cancellation_worst,
    "cancellation_robust": cancellation_robust,
    "ctc_fidelity": ctc_fidelity,
    "ctc_tonal": ctc_tonal,
    "virtual_fidelity": virtual_fidelity,
    "interaural": interaural,
    "lr_tonal": lr_tonal,
    "centre_fidelity": centre_fidelity,
    "beam_null": beam_null,
    "beam_null_robust": beam_null_robust,
    "beam_flat": beam_flat,
    "beam_rear": beam_rear,
    "beam_pattern": beam_pattern,
    "effort": effort,
    "headroom": headroom,
    "compactness": compactness,
    "zone_floor": zone_floor,
    "beam_effort": beam_effort,
    "beam_directivity": beam_directivity,
    "width_ild": width_ild,
    "width_itd": width_itd,
}


# Terms that read one plant's nominal listener or beam (evaluated per plant, then reduced).


PER_PLANT = frozenset({"cancellation_nominal", "cancellation_robust", "ctc_fidelity",
                       "virtual_fidelity", "centre_fidelity", "beam_null", "beam_null_robust",
                       "beam_flat", "beam_rear", "beam_pattern", "beam_effort",
                       "beam_directivity", "width_ild", "width_itd"})
