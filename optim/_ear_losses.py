"""Loss terms at the listeners' ears (optim.losses registers them): crosstalk
cancellation at the nominal seat and over the zone (zone first: the floor), fidelity to
the identity, the virtual pair and a real centre source, tonal balance and the virtual
pair's interaural cues."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from optim._loss_math import (_EPS, db, driver_error_variance, hinge_db, soft_min,
                              weighted_mean_over_freq)

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
