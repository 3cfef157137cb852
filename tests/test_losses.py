"""Loss terms: each is ~zero for its ideal system, equals a closed-form value for a known
bad one (computed here in NumPy), and has finite gradients at both."""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models import load_array
from optim.losses import LOSS_TERMS
from optim.objective import make_loss, static_targets
from optim.loop import initial_params
from optim.problem import build_problem
from optim_fixtures import small_config

B = 3  # zone listeners in a batch
RNG = np.random.default_rng(7)


@pytest.fixture(scope="module")
def targets() -> dict:
    config = small_config()
    return static_targets(build_problem(load_array(config.array), config), config)


def softplus(x):
    return np.logaddexp(0.0, x)


def db(power):
    return 10.0 * np.log10(power + 1e-10)


def wmean(values, weight):
    """Weighted mean over the last (frequency) axis."""
    return np.sum(values * weight, axis=-1) / np.sum(weight)


def unit_phases(*shape) -> np.ndarray:
    return np.exp(2j * np.pi * RNG.random(shape))


def np_(t: dict, key: str) -> np.ndarray:
    return np.asarray(t[key], dtype=np.complex128 if np.iscomplexobj(t[key]) else float)


# Each case builds (ideal s, bad s, expected value of the term for the bad s) from the targets.

def _cancellation_case(key: str, batch: int):
    def case(t):
        bulk, gain = np_(t, "bulk"), np_(t, "cancellation_db")
        ideal = bulk[None, :, None, None] * np.eye(2) * unit_phases(batch, bulk.size, 1, 1)
        bad = np.ones((batch, bulk.size, 2, 2), complex)  # both ears equal: 0 dB separation
        expected = wmean(softplus(gain), np_(t, "freq_weight") * (gain > 0))
        return {key: ideal}, {key: bad}, expected
    return case


def _ctc_fidelity(t):
    bulk = np_(t, "bulk")
    no_latency = np.broadcast_to(np.eye(2, dtype=complex), (bulk.size, 2, 2))
    expected = wmean(2 * np.abs(1 - bulk) ** 2 / 4, np_(t, "freq_weight"))
    return {"ctc_nominal": bulk[:, None, None] * np.eye(2)}, {"ctc_nominal": no_latency}, expected


def _virtual_fidelity(t):
    ideal = np_(t, "bulk")[:, None, None] * np_(t, "virtual")
    swapped = ideal[:, :, ::-1]  # L and R exchanged
    expected = wmean(np.mean(np.abs(ideal - swapped) ** 2, axis=(1, 2)), np_(t, "freq_weight"))
    return {"lr_nominal": ideal}, {"lr_nominal": swapped}, expected


def _centre_fidelity(t):
    ideal = np_(t, "bulk")[:, None] * np_(t, "centre")
    expected = wmean(np.mean(np.abs(ideal) ** 2, axis=1), np_(t, "freq_weight"))
    return {"c_nominal": ideal}, {"c_nominal": np.zeros_like(ideal)}, expected


def _ctc_tonal(t):
    n = np_(t, "bulk").size
    ideal = np.eye(2) * unit_phases(B, n, 2, 1)  # unit ipsi level, any phase
    expected = (db(4.0) - db(1.0)) ** 2  # 6 dB too loud everywhere
    return {"ctc_zone": ideal}, {"ctc_zone": 2 * ideal}, expected


def _lr_tonal(t):
    ideal = np.broadcast_to(np_(t, "virtual") * unit_phases(1, 1, 1, 1), (B,) + t["virtual"].shape)
    ipsi = np.abs(np_(t, "virtual")[:, 0, 0]) ** 2
    expected = wmean((db(ipsi / 4) - db(ipsi)) ** 2, np_(t, "freq_weight"))
    return {"lr_zone": ideal}, {"lr_zone": ideal / 2}, expected


def _interaural(t):
    virtual = np_(t, "virtual")
    # Any per-listener, per-frequency complex gain keeps the interaural transfer.
    gain = (0.2 + RNG.random((B, virtual.shape[0], 1, 1))) * unit_phases(B, virtual.shape[0], 1, 1)
    ideal = gain * virtual
    bad = ideal * np.eye(2)  # the contralateral ear silent
    itf = virtual[:, 1, 0] / virtual[:, 0, 0]
    return {"lr_zone": ideal}, {"lr_zone": bad}, wmean(np.abs(itf) ** 2, np_(t, "freq_weight"))


def _beam_patterns(t):
    """Ideal: the desired (mask) pattern with an arbitrary complex gain per frequency;
    bad: an omnidirectional C channel (0 dB everywhere)."""
    n = np_(t, "beam_weight").size  # beam terms see the beam-band bins only
    ideal = np_(t, "pattern")[None, :] * unit_phases(n, 1) * (0.5 + RNG.random((n, 1)))
    return ideal, np.ones_like(ideal)


def _beam_null(t):
    ideal, omni = _beam_patterns(t)
    return {"beam": ideal}, {"beam": omni}, softplus(-t["null_db"])


def _beam_rear(t):
    ideal, omni = _beam_patterns(t)
    return {"beam": ideal}, {"beam": omni}, softplus(-t["rear_db"])


def _beam_flat(t):
    ideal, omni = _beam_patterns(t)
    flat = np_(t, "flat_mask")
    bad = omni.copy()
    bad[:, (flat > 0) & (np.arange(flat.size) != t["on_axis"])] = 0.5  # -6 dB off axis
    count = flat.sum()
    expected = (count - 1) * (db(0.25) - db(1.0)) ** 2 / count
    return {"beam": omni}, {"beam": bad}, expected


def _beam_pattern(t):
    ideal, omni = _beam_patterns(t)
    expected = np.mean((1 - np_(t, "pattern")) ** 2)
    return {"beam": ideal}, {"beam": omni}, expected


def _effort(t):
    n = np_(t, "bulk").size
    unit = np.zeros((5, 2, n), complex)
    unit[:, 0, :] = unit_phases(5, n)  # each input: one driver at unit gain
    loud = 10 ** (30 / 20) * unit  # 30 dB above one driver at unit gain, flat
    expected = softplus(-12.0) + softplus(30.0 - 15.0)
    return {"filters": unit}, {"filters": loud}, expected


def _one_plant(case: Callable, key: str) -> Callable:
    """A batch-of-one case as one plant's responses (the batch axis dropped)."""
    def one(t):
        ideal, bad, expected = case(t)
        return {key: ideal[key][0]}, {key: bad[key][0]}, expected
    return one


def _headroom(t):
    """Every driver at -20 dB (ideal) or 24 dB summed over L, R, C: the soft maximum over
    D x F equal values is the value plus T ln(D F) dB (T the temperature)."""
    from optim.losses import HEADROOM_TEMPERATURE_DB

    n_freqs = np_(t, "bulk").size
    quiet = np.full((5, 5, n_freqs), 0.1 / 3)
    loud = np.full((5, 5, n_freqs), 10 ** (24 / 20) / 3)
    peak = 24.0 + HEADROOM_TEMPERATURE_DB * np.log(5 * n_freqs)
    excess = (peak - t["headroom_db"]) / HEADROOM_TEMPERATURE_DB  # the hinge is as sharp
    return {"filters": quiet}, {"filters": loud}, HEADROOM_TEMPERATURE_DB * softplus(excess)


def _compactness(t):
    n = t["compact_weight"].shape[0]
    middle, start = np.zeros((5, 2, n)), np.zeros((5, 2, n))
    middle[..., n // 2] = 1.0
    start[..., 0] = 1.0  # all energy in the first tap: the full end weight
    return {"taps": middle}, {"taps": start}, float(t["compact_weight"][0])


# Per-driver gain/phase errors of 0.5 dB / 5 deg (1 sigma, the gain and phase part of models.tolerances.Tolerances)
# add E|e - 1|^2 of the incoherent per-driver power to every response (small-error limit).
DRIVER_ERROR_VARIANCE = (0.5 * np.log(10) / 20) ** 2 + np.deg2rad(5.0) ** 2


def _cancellation_robust(t):
    bulk, gain = np_(t, "bulk"), np_(t, "cancellation_db")
    perfect = bulk[:, None, None] * np.eye(2)
    ideal = {"ctc_nominal": perfect, "ctc_nominal_spread": np.zeros((bulk.size, 2, 2))}
    bad = {"ctc_nominal": perfect, "ctc_nominal_spread": np.ones((bulk.size, 2, 2))}
    v = DRIVER_ERROR_VARIANCE
    separation = db(1 + v) - db(v)  # the error power fills the contralateral null
    return ideal, bad, wmean(softplus(gain - separation), np_(t, "freq_weight") * (gain > 0))


def _beam_null_robust(t):
    pattern = np_(t, "pattern")[None, :] * np.ones((np_(t, "beam_weight").size, 1))
    ideal = {"beam": pattern, "beam_spread": np.zeros(pattern.shape)}
    bad = {"beam": pattern, "beam_spread": np.ones(pattern.shape)}
    v = DRIVER_ERROR_VARIANCE
    return ideal, bad, softplus(db(v) - db(1 + v) - t["null_db"])


def _zone_floor(t):
    """Perfect separation (capped at the cap) against none at all: the soft minimum of B
    equal listeners lies T ln(B) below them."""
    from optim._ear_losses import ZONE_SEPARATION_TEMPERATURE_DB

    ideal, bad, _ = _cancellation_case("ctc_zone", B)(t)
    spread = np.zeros((B, np_(t, "bulk").size, 2, 2))
    worst = -ZONE_SEPARATION_TEMPERATURE_DB * np.log(B)
    return ({"ctc_zone": ideal["ctc_zone"], "ctc_zone_spread": spread},
            {"ctc_zone": bad["ctc_zone"], "ctc_zone_spread": spread},
            softplus(t["zone_floor_db"] - worst))


def _beam_effort(t):
    """One driver at unit gain on axis (0 dB effort) against driver power 20 dB above it."""
    n = np_(t, "beam_weight").size
    beam = np.ones((n, np_(t, "pattern").size), complex)
    ideal = {"beam": beam, "beam_best": np.ones(n), "c_power": np.ones(n)}
    bad = {"beam": beam, "beam_best": np.ones(n), "c_power": np.full(n, 100.0)}
    return ideal, bad, softplus(20.0 - t["beam_effort_db"])


def _beam_directivity(t):
    """All power on axis (directivity index 10 log10 A) against an omnidirectional C."""
    ideal, omni = _beam_patterns(t)
    spot = np.zeros_like(omni)
    spot[:, t["on_axis"]] = 1.0
    return {"beam": spot}, {"beam": omni}, softplus(t["directivity_db"])


def _width_ild(t):
    """The virtual pair itself against its contralateral ears 6 dB low: an ILD error of
    20 log10 2 dB at every frequency, counted as sqrt(e^2 + 1) - 1."""
    ideal = np_(t, "bulk")[:, None, None] * np_(t, "virtual")
    bad = ideal * np.array([[1.0, 0.5], [0.5, 1.0]])
    error = 20 * np.log10(2.0)
    return {"lr_nominal": ideal}, {"lr_nominal": bad}, np.sqrt(error**2 + 1) - 1


def _width_itd(t):
    """The virtual pair against its contralateral ears 100 us late: a phase error of
    2 pi f 100 us (under pi in the ITD band)."""
    f = np.fft.rfftfreq(2 * (np_(t, "bulk").size - 1), 1 / 8000)  # small_config's grid
    ideal = np_(t, "bulk")[:, None, None] * np_(t, "virtual")
    late = np.exp(-2j * np.pi * f * 100e-6)[:, None, None]
    bad = ideal * np.where(np.eye(2, dtype=bool), 1.0, late)
    return ({"lr_nominal": ideal}, {"lr_nominal": bad},
            wmean((2 * np.pi * f * 100e-6) ** 2, np_(t, "itd_weight")))


CASES: dict[str, Callable] = {
    "cancellation": _cancellation_case("ctc_zone", B),
    "cancellation_nominal": _one_plant(_cancellation_case("ctc_nominal", 1), "ctc_nominal"),
    "cancellation_worst": _cancellation_case("ctc_zone", B),
    "ctc_fidelity": _ctc_fidelity,
    "ctc_tonal": _ctc_tonal,
    "virtual_fidelity": _virtual_fidelity,
    "interaural": _interaural,
    "lr_tonal": _lr_tonal,
    "centre_fidelity": _centre_fidelity,
    "beam_null": _beam_null,
    "cancellation_robust": _cancellation_robust,
    "beam_null_robust": _beam_null_robust,
    "beam_flat": _beam_flat,
    "beam_rear": _beam_rear,
    "beam_pattern": _beam_pattern,
    "effort": _effort,
    "headroom": _headroom,
    "compactness": _compactness,
    "zone_floor": _zone_floor,
    "beam_effort": _beam_effort,
    "beam_directivity": _beam_directivity,
    "width_ild": _width_ild,
    "width_itd": _width_itd,
}


def _as_jax(s: dict) -> dict:
    return {k: jnp.asarray(v, jnp.complex64 if np.iscomplexobj(v) else jnp.float32)
            for k, v in s.items()}


@pytest.fixture(scope="module")
def value_and_grad(targets) -> Callable:
    """``value_and_grad(name)``: the term's jitted value and gradient w.r.t. ``s``
    (compiled once per term: the ideal and bad inputs share shapes)."""
    cache = {}

    def get(name: str) -> Callable:
        if name not in CASES:
            pytest.fail(f"loss term {name!r} has no ideal/bad case in CASES (test_losses.py)")
        if name not in cache:
            term = LOSS_TERMS[name]
            cache[name] = jax.jit(jax.value_and_grad(lambda s: term(s, targets)))
        return cache[name]

    return get


@pytest.mark.parametrize("name", sorted(LOSS_TERMS))
def test_term_is_zero_for_ideal_and_known_for_bad_input(name, targets, value_and_grad):
    f = value_and_grad(name)
    ideal, bad, expected = CASES[name](targets)
    ideal_value, bad_value = float(f(_as_jax(ideal))[0]), float(f(_as_jax(bad))[0])
    assert abs(ideal_value) < 1e-4, ideal_value
    assert bad_value == pytest.approx(float(expected), rel=1e-4)
    assert bad_value > 1e-2


@pytest.mark.parametrize("name", sorted(LOSS_TERMS))
def test_term_gradients_are_finite(name, targets, value_and_grad):
    f = value_and_grad(name)
    for s in CASES[name](targets)[:2]:
        # Away from the exact ideal too: a small perturbation of every response.
        for jitter in (0.0, 1e-3):
            x = _as_jax({k: v + jitter * (RNG.standard_normal(np.shape(v)) if np.iscomplexobj(v)
                                          else np.abs(RNG.standard_normal(np.shape(v))))
                         for k, v in s.items()})  # real entries are powers: kept >= 0
            for key, g in f(x)[1].items():
                assert np.all(np.isfinite(np.asarray(g))), (name, key, jitter)


def test_worst_case_is_a_soft_maximum_over_listeners(targets, value_and_grad):
    ideal, bad, per_bad = CASES["cancellation"](targets)
    mixed = np.concatenate([ideal["ctc_zone"][:2], bad["ctc_zone"][:1]])  # one bad of three
    s = _as_jax({"ctc_zone": mixed})
    mean = float(value_and_grad("cancellation")(s)[0])
    worst = float(value_and_grad("cancellation_worst")(s)[0])
    assert mean == pytest.approx(per_bad / 3, rel=1e-4)
    # logsumexp - log B lies between the mean and the maximum (the bad listener).
    assert mean < worst < per_bad
    assert worst == pytest.approx(np.logaddexp.reduce([0.0, 0.0, per_bad]) - np.log(3), rel=1e-4)


def test_cancellation_saturates_once_the_target_is_met(targets, value_and_grad):
    """Beyond the target the shortfall is ~0 whatever the margin (60 dB as 100 dB);
    below it, it is the softplus of the dB missed."""
    f = value_and_grad("cancellation")
    z = CASES["cancellation"](targets)[0]["ctc_zone"]
    crosstalk = np.ones((2, 2)) - np.eye(2)
    values = {sep: float(f(_as_jax({"ctc_zone": z + 10 ** (-sep / 20) * crosstalk}))[0])
              for sep in (100.0, 60.0, 6.0, 3.0)}
    assert values[100.0] < 1e-4 and values[60.0] < 1e-4
    gain, weight = np_(targets, "cancellation_db"), np_(targets, "freq_weight")
    for sep in (6.0, 3.0):
        expected = wmean(softplus(gain - sep), weight * (gain > 0))
        assert values[sep] == pytest.approx(expected, rel=1e-3)


def test_full_loss_gradients_are_finite_at_both_starts():
    config = small_config("studio")
    problem = build_problem(load_array("studio"), config)
    value_and_grad = jax.jit(jax.value_and_grad(make_loss(config, problem), has_aux=True))
    for init in ("least_squares", "zeros"):
        params = initial_params(small_config("studio", optimizer={"init": init}), problem)
        batch = (jnp.arange(1), jnp.zeros(2, int), jnp.arange(2))  # one plant, two listeners
        (total, terms), grads = value_and_grad(params, batch)
        assert np.isfinite(float(total)) and all(np.isfinite(float(v)) for v in terms.values())
        assert all(np.all(np.isfinite(np.asarray(g))) for g in grads.values()), init


def test_plant_reduce_lies_between_the_mean_and_the_maximum():
    from optim.losses import plant_reduce

    values = jnp.asarray([1.0, 2.0, 9.0])
    mean, power4 = 4.0, float(np.mean(np.array([1.0, 2.0, 9.0]) ** 4) ** 0.25)
    assert float(plant_reduce(values, 0.0, 4.0)) == pytest.approx(mean, rel=1e-5)
    assert float(plant_reduce(values, 1.0, 4.0)) == pytest.approx(power4, rel=1e-5)
    assert float(plant_reduce(values, 0.5, 4.0)) == pytest.approx(0.5 * (mean + power4), rel=1e-5)
    assert mean < power4 < 9.0
    # scale-free: terms in dB and squared errors are treated alike
    assert float(plant_reduce(1e-3 * values, 0.5, 4.0)) == pytest.approx(
        1e-3 * float(plant_reduce(values, 0.5, 4.0)), rel=1e-4)


def test_a_batch_of_identical_plants_gives_the_one_plant_loss():
    """Per-plant terms vmapped over K copies of one plant reduce to that plant's value
    (mean = power mean), and zone terms see the same listeners whichever copy they use."""
    config = small_config("studio", plant={"units": 2, "batch_plants": 2})
    problem = build_problem(load_array("studio"), config)
    twin = dataclasses.replace(problem, ear_pool=problem.ear_pool[:1].repeat(2, 0),
                               ear_nominal=problem.ear_nominal[:1].repeat(2, 0),
                               farfield=problem.farfield[:1].repeat(2, 0))
    one = dataclasses.replace(problem, ear_pool=problem.ear_pool[:1],
                              ear_nominal=problem.ear_nominal[:1], farfield=problem.farfield[:1],
                              plant_labels=problem.plant_labels[:1])
    params = initial_params(config, problem)
    listeners = jnp.arange(2)
    _, twin_terms = make_loss(config, twin)(params, (jnp.arange(2), jnp.array([0, 1]), listeners))
    _, one_terms = make_loss(config, one)(params, (jnp.arange(1), jnp.zeros(2, int), listeners))
    for name, value in one_terms.items():
        assert float(twin_terms[name]) == pytest.approx(float(value), rel=2e-4, abs=1e-7), name
    # a different second plant changes the per-plant terms
    _, mixed = make_loss(config, problem)(params, (jnp.arange(2), jnp.array([0, 1]), listeners))
    assert any(abs(float(mixed[n]) - float(one_terms[n])) > 1e-6 for n in one_terms)
