"""The arithmetic every loss term shares: levels in dB, one-sided hinges, frequency
means, a soft minimum and the variance of per-driver errors (JAX)."""

from __future__ import annotations

import math

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


def soft_min(values: jnp.ndarray, temperature: float) -> jnp.ndarray:
    """Smooth minimum of ``values`` (any shape), at most ``temperature ln(n)`` below the
    true one."""
    return -temperature * jax.nn.logsumexp(-values.reshape(-1) / temperature)


def driver_error_variance(gain_db: float = 0.5, phase_deg: float = 5.0) -> float:
    """E|e - 1|^2 of a per-driver factor ``e`` with Gaussian gain (dB) and phase (deg)
    errors of these standard deviations (small-error limit): the evaluation's 0.5 dB / 5 deg
    give about 0.011, i.e. -19.6 dB."""
    gain = gain_db * math.log(10.0) / 20.0
    return gain**2 + math.radians(phase_deg) ** 2
