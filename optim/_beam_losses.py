"""Loss terms of the C channel's far-field beam (optim.losses registers them): the
+-90 deg nulls, flatness to +-45 deg, rear level, pattern, directivity and the bounded
white-noise gain. ``s["beam"]`` is (Fb, A): the beam-band bins only."""

from __future__ import annotations

import jax.numpy as jnp

from optim._loss_math import (_EPS, db, driver_error_variance, hinge_db,
                              weighted_mean_over_freq)

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


def beam_directivity(s, t) -> jnp.ndarray:
    """Shortfall (dB) of the C beam's directivity index (on-axis power over the mean over
    the azimuth grid) below ``t["directivity_db"]``, over the beam band."""
    power = jnp.abs(s["beam"]) ** 2  # (Fb, A)
    index = db(power[:, t["on_axis"]]) - db(jnp.mean(power, axis=1))
    return weighted_mean_over_freq(hinge_db(t["directivity_db"] - index), t["beam_weight"])
