"""evaluation.metrics on synthetic systems whose figures are known in closed form."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation import metrics
from evaluation.system import ear_system

FREQS = np.geomspace(100.0, 16000.0, 200)


def test_ideal_inverse_gives_capped_separation():
    rng = np.random.default_rng(1)
    ear = rng.normal(size=(1, FREQS.size, 2, 2)) + 1j * rng.normal(size=(1, FREQS.size, 2, 2))
    inverse = np.linalg.inv(ear[0]).transpose(2, 1, 0)  # (C=2 ears, D=2, F): H W = I
    sep = metrics.separation_db(ear_system(ear, inverse), FREQS)
    assert np.all(np.isfinite(sep))
    # Crosstalk is ~1e-16 of the direct path: only rounding and the -300 dB floor limit it.
    assert np.all(sep > 250.0) and np.all(sep <= 300.0 + 1e-9)


def test_mono_pair_gives_zero_separation():
    rng = np.random.default_rng(2)
    column = rng.normal(size=(FREQS.size, 1, 2)) + 1j * rng.normal(size=(FREQS.size, 1, 2))
    both_ears_equal = np.repeat(column, 2, axis=1)  # (F, ear, input)
    assert np.allclose(metrics.separation_db(both_ears_equal, FREQS), 0.0, atol=1e-12)


def test_separation_of_known_crosstalk():
    a, b = 0.1 * np.exp(0.3j), 0.02j
    system = np.broadcast_to(np.array([[1.0, a], [b, 1.0]]), (FREQS.size, 2, 2))
    sep = metrics.separation_db(system, FREQS)
    assert sep == pytest.approx([-20 * np.log10(abs(b)), -20 * np.log10(abs(a))])


@pytest.mark.parametrize("ipsi_ear", [0, 1])
def test_ild_itd_of_a_delayed_attenuated_pair(ipsi_ear):
    gain_ipsi, gain_contra = 1.0, 0.4
    tau_ipsi, tau_contra = 1.0e-3, 1.0e-3 + 250e-6
    omega = 2 * np.pi * FREQS
    ears = np.empty((FREQS.size, 2), complex)
    ears[:, ipsi_ear] = gain_ipsi * np.exp(-1j * omega * tau_ipsi)
    ears[:, 1 - ipsi_ear] = gain_contra * np.exp(-1j * omega * tau_contra)
    ild, itd = metrics.interaural_differences(ears, FREQS, ipsi_ear)
    assert ild == pytest.approx(20 * np.log10(gain_ipsi / gain_contra))
    assert itd == pytest.approx(250.0, abs=1e-6)


def _pair(gain_contra: float, itd_s: float) -> np.ndarray:
    """(F, 2) ears of a source on the left: the right ear ``gain_contra`` and ``itd_s`` late."""
    late = gain_contra * np.exp(-2j * np.pi * FREQS * itd_s)
    return np.stack([np.ones(FREQS.size, complex), late], axis=-1)


def test_width_of_half_the_delay_and_a_known_level_error():
    """A virtual source with half the real interaural delay and its contralateral ear 2 dB
    too quiet: ITD fraction 0.5, ILD error 2 dB at every frequency."""
    real = _pair(0.5, 300e-6)
    virtual = _pair(0.5 * 10 ** (-2 / 20), 150e-6)
    fraction, ild_error = metrics.width_against(virtual, real, FREQS, ipsi_ear=0)
    assert fraction == pytest.approx(0.5, abs=1e-9)
    assert ild_error == pytest.approx(2.0, abs=1e-9)
    assert metrics.width_against(real, real, FREQS, ipsi_ear=0) == pytest.approx((1.0, 0.0))


AZ = np.arange(-180.0, 180.0, 5.0)


def test_directivity_and_side_level_of_a_cardioid():
    """2-D directivity index of a cardioid: 1 / mean of ((1 + cos)/2)^2 = 8/3 (4.26 dB);
    its side level is -6.02 dB at every frequency, so also in the worst tenth."""
    c = np.cos(np.deg2rad(AZ))
    beam = metrics.beam_metrics(_pattern(0.5 * (1 + c)), FREQS, AZ)
    assert beam["directivity_db"] == pytest.approx(10 * np.log10(8 / 3))
    assert beam["side_p90_db"] == pytest.approx(20 * np.log10(0.5))


def test_side_level_percentile_follows_the_worst_tenth_of_the_band():
    """A dipole whose +-90 deg lobe opens to the on-axis level at the top 15 % of the band:
    the 90th percentile of the side level is that 0 dB."""
    c = np.cos(np.deg2rad(AZ))
    beam = _pattern(c).copy()
    band = (FREQS >= 300) & (FREQS <= 3000)
    top = np.flatnonzero(band)[-int(0.15 * band.sum()):]
    beam[top] = 1.0
    assert metrics.beam_metrics(beam, FREQS, AZ)["side_p90_db"] == pytest.approx(0.0)


def test_beam_effort_of_one_driver_and_of_a_coherent_pair():
    """One driver alone: 0 dB; two equal drivers adding in phase on axis: 2 / 4 of the
    power per unit pressure, -3 dB; the same pair cancelling to a tenth on axis: +17 dB."""
    g = np.ones((FREQS.size, 2), complex)
    one = np.stack([np.ones(FREQS.size), np.zeros(FREQS.size)])
    assert metrics.beam_effort_db(g, one, FREQS) == pytest.approx(0.0)
    assert metrics.beam_effort_db(g, np.ones((2, FREQS.size)), FREQS) == pytest.approx(
        10 * np.log10(0.5))
    cancelling = np.stack([np.ones(FREQS.size), -0.9 * np.ones(FREQS.size)])
    assert metrics.beam_effort_db(g, cancelling, FREQS) == pytest.approx(
        10 * np.log10(1.81 / 0.01))


def _pattern(values: np.ndarray) -> np.ndarray:
    return np.broadcast_to(values, (FREQS.size, AZ.size)).astype(complex)


def test_beam_metrics_of_a_cardioid():
    c = np.cos(np.deg2rad(AZ))
    beam = metrics.beam_metrics(_pattern(0.5 * (1 + c)), FREQS, AZ)
    assert beam["null_db"] == pytest.approx(20 * np.log10(0.5))  # half amplitude at +-90
    assert beam["ripple_db"] == pytest.approx(-20 * np.log10(0.5 * (1 + np.sqrt(0.5))))
    rear = np.abs(AZ) >= 120
    assert beam["rear_db"] == pytest.approx(10 * np.log10(np.mean((0.5 * (1 + c[rear])) ** 2)))


def test_beam_metrics_of_a_dipole():
    c = np.cos(np.deg2rad(AZ))
    beam = metrics.beam_metrics(_pattern(c), FREQS, AZ)
    assert beam["null_db"] < -250.0  # an exact null, floored
    assert beam["ripple_db"] == pytest.approx(3.0103, abs=1e-3)  # cos(45 deg)^2 = 1/2
    # Front-back symmetric: the rear (|az| >= 120) mirrors the front |az| <= 60 exactly.
    assert beam["rear_db"] == pytest.approx(10 * np.log10(np.mean(c[np.abs(AZ) <= 60] ** 2)))


def test_tonal_deviation_of_a_known_ripple():
    amplitude_db, periods, n = 3.0, 4, 64
    u = np.arange(n) / n  # whole periods, uniformly sampled in log frequency
    freqs = 150.0 * (12000.0 / 150.0) ** u
    target = np.exp(-2j * np.pi * freqs * 1e-3)
    response = target * 10 ** (amplitude_db * np.sin(2 * np.pi * periods * u) / 20)
    assert metrics.tonal_deviation_db(response, target, freqs) == pytest.approx(
        amplitude_db / np.sqrt(2))


def test_effort_excess_of_a_known_peak():
    n_drivers, peak = 4, 5.0
    filters = np.ones((2, n_drivers, FREQS.size), complex)
    filters[1, 2, np.argmin(np.abs(FREQS - 300.0))] = peak  # channel 1: one driver peaks
    excess = metrics.effort_excess_db(filters, FREQS)
    assert excess[0] == pytest.approx(0.0)
    assert excess[1] == pytest.approx(10 * np.log10((n_drivers - 1 + peak**2) / n_drivers))


def test_least_favourable_takes_the_worse_side_of_each_figure():
    per_model = {"a": {"separation_nominal_db": 20.0, "beam_null_db": -30.0, "itd_L_us": 300.0},
                 "b": {"separation_nominal_db": 12.0, "beam_null_db": -10.0, "itd_L_us": 250.0},
                 "c": {"separation_nominal_db": 15.0, "beam_null_db": 5.0, "itd_L_us": 200.0}}
    worst = metrics.least_favourable(per_model)
    assert worst == {"separation_nominal_db": 12.0, "beam_null_db": 5.0, "itd_L_us": 300.0}
    gap = metrics.model_gap(per_model, training=["a", "b"])
    # training worst (12, -10) minus held-out c (15, 5)
    assert gap == {"separation_nominal_db": -3.0, "beam_null_db": -15.0}
    assert metrics.model_gap(per_model, training=["a", "b", "c"]) == {}


def test_band_without_frequencies_is_an_error():
    with pytest.raises(ValueError, match="band"):
        metrics.band_mask(np.array([100.0, 200.0]), (500.0, 6000.0))
