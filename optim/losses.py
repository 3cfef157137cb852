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

import math
from typing import Callable

import jax
import jax.numpy as jnp

_EPS = 1e-10


def db(power: jnp.ndarray) -> jnp.ndarray:
    """10 log10 of a power with a floor at -100 dB."""
    return 10.0 * jnp.log10(power + _EPS)


def hinge_db(excess_db: jnp.ndarray, softness_db: float = 1.0) -> jnp.ndarray:
    """Smooth one-sided penalty of an excess in dB: ~0 below zero, ~linear above."""
    return softness_db * jax.nn.softplus(excess_db / softness_db)


def weighted_mean_over_freq(values: jnp.ndarray, weight: jnp.ndarray) -> jnp.ndarray:
    """Average over the frequency axis (-1) with weights (F,) that sum to 1 where used."""
    return jnp.sum(values * weight, axis=-1) / jnp.maximum(jnp.sum(weight), _EPS)


def _separation_shortfall(s, t, key: str = "ctc_zone") -> jnp.ndarray:
    """(B,) per-listener mean shortfall (dB) of separation below the target curve."""
    power = jnp.abs(s[key]) ** 2  # (B, F, ear, input)
    ipsi = jnp.stack([power[..., 0, 0], power[..., 1, 1]], axis=1)  # (B, 2, F)
    contra = jnp.stack([power[..., 1, 0], power[..., 0, 1]], axis=1)
    short = hinge_db(t["cancellation_db"] - (db(ipsi) - db(contra)))
    weight = t["freq_weight"] * (t["cancellation_db"] > 0)
    return jnp.mean(weighted_mean_over_freq(short, weight), axis=1)


def cancellation(s, t) -> jnp.ndarray:
    """Mean shortfall of the ipsi/contra power ratio below the target curve (dB)."""
    return jnp.mean(_separation_shortfall(s, t))


def cancellation_nominal(s, t) -> jnp.ndarray:
    """The same shortfall at the nominal listener alone: the sweet spot comes first."""
    return _separation_shortfall({"ctc": s["ctc_nominal"][None]}, t, "ctc")[0]


def cancellation_worst(s, t, temperature_db: float = 1.0) -> jnp.ndarray:
    """Soft maximum over listeners of the same shortfall (dB)."""
    per = _separation_shortfall(s, t)
    return temperature_db * (jax.nn.logsumexp(per / temperature_db) - jnp.log(per.shape[0]))


def soft_min(values: jnp.ndarray, temperature: float) -> jnp.ndarray:
    """Smooth minimum of ``values`` (any shape), at most ``temperature ln(n)`` below the
    true one."""
    return -temperature * jax.nn.logsumexp(-values.reshape(-1) / temperature)


ZONE_SEPARATION_CAP_DB = 20.0  # a listener's separation counts up to here (no reward beyond)
ZONE_SEPARATION_TEMPERATURE_DB = 0.5


def zone_separation_db(s, t) -> jnp.ndarray:
    """(B,) each zone listener's separation as the figures see it: per frequency the
    ipsi/contra power ratio (dB) of both binaural inputs, softly capped at
    :data:`ZONE_SEPARATION_CAP_DB`, averaged over the figure band (equal weight per octave)
    and over the two inputs."""
    power = jnp.abs(s["ctc_zone"]) ** 2 + t["zone_error_variance"] * s["ctc_zone_spread"]
    # (B, F, ear, input), in expectation over independent per-driver errors
    sep = db(jnp.stack([power[..., 0, 0], power[..., 1, 1]], -1)) - \
        db(jnp.stack([power[..., 1, 0], power[..., 0, 1]], -1))  # (B, F, 2)
    cap = ZONE_SEPARATION_CAP_DB
    capped = cap - jax.nn.softplus(cap - sep)
    return jnp.mean(weighted_mean_over_freq(jnp.moveaxis(capped, 1, -1), t["separation_weight"]),
                    axis=-1)


def zone_floor(s, t) -> jnp.ndarray:
    """Zone first: shortfall (dB) of the soft-worst listener's separation
    (:func:`zone_separation_db`) below ``t["zone_floor_db"]``; zero once every listener of
    the batch is above the floor, so it protects the zone's edge before the sweet spot."""
    worst = soft_min(zone_separation_db(s, t), ZONE_SEPARATION_TEMPERATURE_DB)
    return hinge_db(t["zone_floor_db"] - worst)


def _complex_error(response, target, weight) -> jnp.ndarray:
    err = jnp.abs(response - target) ** 2  # (F, ...)
    err = err.reshape(err.shape[0], -1).mean(axis=1)
    return weighted_mean_over_freq(err, weight)


def ctc_fidelity(s, t) -> jnp.ndarray:
    """Nominal listener: binaural CTC system against a pure delay identity."""
    target = t["bulk"][:, None, None] * jnp.eye(2)
    return _complex_error(s["ctc_nominal"], target, t["freq_weight"])


def virtual_fidelity(s, t) -> jnp.ndarray:
    """Nominal listener: L and R ear responses against the virtual +-width pair."""
    return _complex_error(s["lr_nominal"], t["bulk"][:, None, None] * t["virtual"], t["freq_weight"])


def centre_fidelity(s, t) -> jnp.ndarray:
    """Nominal listener: C ear responses against a real frontal source (tonal balance)."""
    return _complex_error(s["c_nominal"], t["bulk"][:, None] * t["centre"], t["freq_weight"])


def _zone_level_db(response: jnp.ndarray, reference: jnp.ndarray, weight) -> jnp.ndarray:
    """Mean squared dB level of zone ipsi responses (B, F, 2) over |reference| (F, 2)."""
    level = db(jnp.abs(response) ** 2) - db(jnp.abs(reference) ** 2)
    return jnp.mean(weighted_mean_over_freq(jnp.moveaxis(level, 1, -1) ** 2, weight))


def ctc_tonal(s, t) -> jnp.ndarray:
    """Zone: squared dB deviation of the CTC ipsilateral level from unity."""
    ipsi = jnp.stack([s["ctc_zone"][..., 0, 0], s["ctc_zone"][..., 1, 1]], -1)
    return _zone_level_db(ipsi, jnp.ones_like(ipsi[0]), t["freq_weight"])


def lr_tonal(s, t) -> jnp.ndarray:
    """Zone: squared dB deviation of the L/R ipsilateral level from the virtual ipsi."""
    ipsi = jnp.stack([s["lr_zone"][..., 0, 0], s["lr_zone"][..., 1, 1]], -1)
    reference = jnp.stack([t["virtual"][:, 0, 0], t["virtual"][:, 1, 1]], -1)
    return _zone_level_db(ipsi, reference, t["freq_weight"])


def interaural(s, t) -> jnp.ndarray:
    """Zone: error of the L/R interaural transfer (contra/ipsi) against the virtual one,
    relative to the ipsilateral power; independent of level and distance."""
    lr = s["lr_zone"]  # (B, F, ear, channel)
    itf = t["virtual"][:, 1, 0] / t["virtual"][:, 0, 0]  # (F,) contra/ipsi of L (= R's)
    ipsi = jnp.stack([lr[..., 0, 0], lr[..., 1, 1]], -1)
    contra = jnp.stack([lr[..., 1, 0], lr[..., 0, 1]], -1)
    err = jnp.abs(contra - itf[None, :, None] * ipsi) ** 2 / (jnp.abs(ipsi) ** 2 + _EPS)
    return jnp.mean(weighted_mean_over_freq(jnp.moveaxis(err, 1, -1), t["freq_weight"]))


def _lr_interaural(s, t) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Interaural transfers (contra over ipsi) of the nominal listener's L and R channels
    (F, 2), and those of the virtual pair (F,) (L's; R's is the same by symmetry)."""
    lr = s["lr_nominal"]  # (F, ear, channel)
    ipsi = jnp.stack([lr[:, 0, 0], lr[:, 1, 1]], -1)
    contra = jnp.stack([lr[:, 1, 0], lr[:, 0, 1]], -1)
    return contra / (ipsi + _EPS), t["virtual"][:, 1, 0] / t["virtual"][:, 0, 0]


def width_ild(s, t) -> jnp.ndarray:
    """Nominal listener: mean |ILD(f) - ILD_virtual(f)| (dB, smooth) of the L and R channels
    over the ILD band (equal weight per octave): the level cue a listener hears."""
    itf, target = _lr_interaural(s, t)
    error = db(jnp.abs(itf) ** 2) - db(jnp.abs(target) ** 2)[:, None]  # (F, 2)
    return jnp.mean(weighted_mean_over_freq(jnp.sqrt(error.T**2 + 1.0) - 1.0, t["ild_weight"]))


def width_itd(s, t) -> jnp.ndarray:
    """Nominal listener: mean squared phase error (rad^2) of the L and R channels'
    interaural transfer against the virtual pair's over the ITD band: the time cue."""
    itf, target = _lr_interaural(s, t)
    phase = jnp.angle(itf * jnp.conj(target)[:, None])  # (F, 2), wrapped
    return jnp.mean(weighted_mean_over_freq(phase.T**2, t["itd_weight"]))


def beam_directivity(s, t) -> jnp.ndarray:
    """Shortfall (dB) of the C beam's directivity index (on-axis power over the mean over
    the azimuth grid) below ``t["directivity_db"]``, over the beam band."""
    power = jnp.abs(s["beam"]) ** 2  # (Fb, A)
    index = db(power[:, t["on_axis"]]) - db(jnp.mean(power, axis=1))
    return weighted_mean_over_freq(hinge_db(t["directivity_db"] - index), t["beam_weight"])


def _beam_relative_db(s, t) -> jnp.ndarray:
    """(F, A) C-channel far-field power re on-axis, dB."""
    power = jnp.abs(s["beam"]) ** 2
    return db(power) - db(power[:, t["on_axis"]][:, None])


def beam_null(s, t) -> jnp.ndarray:
    """Excess of the +-90 deg power over the null goal, over the beam band (dB)."""
    rel = _beam_relative_db(s, t)[:, t["null_idx"]]  # (F, 2)
    return weighted_mean_over_freq(jnp.mean(hinge_db(rel - t["null_db"]), axis=1).T,
                                   t["beam_weight"])


def beam_flat(s, t) -> jnp.ndarray:
    """Squared dB deviation from on-axis within +-flat_deg, over the beam band."""
    rel = _beam_relative_db(s, t)
    sq = jnp.sum(rel**2 * t["flat_mask"], axis=1) / jnp.sum(t["flat_mask"])
    return weighted_mean_over_freq(sq, t["beam_weight"])


def beam_rear(s, t) -> jnp.ndarray:
    """Excess of the rear power (|az| >= rear_deg) over its goal, over the beam band (dB)."""
    rel = _beam_relative_db(s, t)
    excess = jnp.sum(hinge_db(rel - t["rear_db"]) * t["rear_mask"], axis=1) / jnp.sum(t["rear_mask"])
    return weighted_mean_over_freq(excess, t["beam_weight"])


def beam_pattern(s, t) -> jnp.ndarray:
    """Squared error of the normalised C magnitude pattern against the desired one."""
    mag = jnp.abs(s["beam"]) / (jnp.abs(s["beam"][:, t["on_axis"]])[:, None] + _EPS)
    return weighted_mean_over_freq(jnp.mean((mag - t["pattern"]) ** 2, axis=1),
                                   t["beam_weight"])


def driver_error_variance(gain_db: float = 0.5, phase_deg: float = 5.0) -> float:
    """E|e - 1|^2 of a per-driver factor ``e`` with Gaussian gain (dB) and phase (deg)
    errors of these standard deviations (small-error limit): the evaluation's 0.5 dB / 5 deg
    give about 0.011, i.e. -19.6 dB."""
    gain = gain_db * math.log(10.0) / 20.0
    return gain**2 + math.radians(phase_deg) ** 2


def cancellation_robust(s, t, variance: float | None = None) -> jnp.ndarray:
    """Nominal-listener separation shortfall (dB) in expectation over independent per-driver
    errors: each ear's power gains ``variance * sum_d |H_d W_d|^2`` (the incoherent sum),
    which fills the contralateral null of a superdirective, high-effort design."""
    var = driver_error_variance() if variance is None else variance
    power = jnp.abs(s["ctc_nominal"]) ** 2 + var * s["ctc_nominal_spread"]  # (F, ear, input)
    ipsi = jnp.stack([power[:, 0, 0], power[:, 1, 1]], axis=0)  # (2, F)
    contra = jnp.stack([power[:, 1, 0], power[:, 0, 1]], axis=0)
    short = hinge_db(t["cancellation_db"] - (db(ipsi) - db(contra)))
    weight = t["freq_weight"] * (t["cancellation_db"] > 0)
    return jnp.mean(weighted_mean_over_freq(short, weight))


def beam_null_robust(s, t, variance: float | None = None) -> jnp.ndarray:
    """``beam_null`` in expectation over per-driver errors: the +-90 deg power gains
    ``variance * sum_d |G_d W_d|^2`` before it is compared with the on-axis power."""
    var = driver_error_variance() if variance is None else variance
    power = jnp.abs(s["beam"]) ** 2 + var * s["beam_spread"]  # (Fb, A)
    rel = db(power[:, t["null_idx"]]) - db(power[:, t["on_axis"]][:, None])  # (F, 2)
    return weighted_mean_over_freq(jnp.mean(hinge_db(rel - t["null_db"]), axis=1).T,
                                   t["beam_weight"])


def beam_effort(s, t) -> jnp.ndarray:
    """Bounded white-noise gain of the C path: excess (dB) over ``t["beam_effort_db"]`` of
    its inverse white-noise gain re the best single driver, ``max_d |G_d|^2 sum_d |w_d|^2 /
    |sum_d G_d w_d|^2`` (G on axis), per beam-band bin. A beam whose nulls rest on large
    driver contributions that cancel only in the model it was fitted to spends effort; the
    bound keeps it to what survives another model."""
    on_axis = jnp.abs(s["beam"][:, t["on_axis"]]) ** 2  # (Fb,)
    effort_db = db(s["beam_best"] * s["c_power"]) - db(on_axis)
    return weighted_mean_over_freq(hinge_db(effort_db - t["beam_effort_db"]), t["beam_weight"])


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
