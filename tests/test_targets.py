"""Design targets: cancellation curve interpolation, beam patterns, and the parametric
virtual pair against the head model it was fitted to."""

from __future__ import annotations

import numpy as np
import pytest

from common.errors import InputError
from evaluation.metrics import interaural_differences
from evaluation.system import evaluation_freqs, real_source_ears
from models import load_array
from targets import (BeamTarget, CancellationTarget, cancellation_gain_db, contra_response,
                     desired_pattern, fit_virtual_source, harmonic_pattern, ipsi_response,
                     mask_pattern, virtual_ears)

# --- cancellation curve ------------------------------------------------------------------


def test_cancellation_gain_hits_every_knot():
    target = CancellationTarget()
    assert np.allclose(cancellation_gain_db(target, np.array(target.freqs_hz)), target.gain_db)


def test_cancellation_gain_is_linear_in_log_frequency_between_knots():
    target = CancellationTarget(freqs_hz=(100.0, 1000.0, 4000.0), gain_db=(0.0, 20.0, 10.0))
    # The geometric mean of two knots lies half-way in log f; a quarter of the way too.
    f = np.array([np.sqrt(100.0 * 1000.0), 100.0 * 10 ** 0.25, np.sqrt(1000.0 * 4000.0)])
    assert np.allclose(cancellation_gain_db(target, f), [10.0, 5.0, 15.0])
    # Not linear in f: the arithmetic mean of 100 and 1000 Hz is well above 10 dB.
    assert cancellation_gain_db(target, np.array([550.0]))[0] == pytest.approx(
        20.0 * np.log(5.5) / np.log(10.0))


def test_cancellation_gain_is_held_flat_beyond_the_end_knots():
    target = CancellationTarget(freqs_hz=(200.0, 2000.0), gain_db=(3.0, 18.0))
    gain = cancellation_gain_db(target, np.array([0.0, 50.0, 199.0, 2001.0, 24000.0]))
    assert np.allclose(gain, [3.0, 3.0, 3.0, 18.0, 18.0])


@pytest.mark.parametrize("freqs, gains", [
    ((100.0,), (0.0,)),  # a single knot
    ((100.0, 1000.0), (0.0,)),  # lengths differ
    ((1000.0, 100.0), (0.0, 10.0)),  # not increasing
    ((0.0, 100.0), (0.0, 10.0)),  # not positive
    ((100.0, 1000.0), (0.0, float("nan"))),
])
def test_cancellation_target_rejects_bad_knots(freqs, gains):
    with pytest.raises(InputError, match="targets.cancellation"):
        CancellationTarget(freqs_hz=freqs, gain_db=gains)


# --- beam patterns -------------------------------------------------------------------------


def test_mask_is_one_inside_flat_and_zero_beyond_null():
    target = BeamTarget(flat_deg=40.0, null_deg=100.0)
    az = np.arange(-180.0, 180.0, 1.0)
    mask = mask_pattern(target, az)
    assert np.all(mask[np.abs(az) <= 40.0] == 1.0)
    assert np.all(mask[np.abs(az) >= 100.0] == 0.0)
    # Raised cosine between: one half at the midpoint, monotonic, symmetric.
    assert mask_pattern(target, np.array([70.0, -70.0])) == pytest.approx([0.5, 0.5])
    fall = mask[(az >= 40.0) & (az <= 100.0)]
    assert np.all(np.diff(fall) <= 0.0)
    assert np.allclose(mask, mask_pattern(target, -az))


def test_mask_wraps_azimuth_modulo_360():
    target = BeamTarget()
    az = np.array([-10.0, 30.0, 60.0, 170.0])
    assert np.allclose(mask_pattern(target, az + 360.0), mask_pattern(target, az))
    assert np.allclose(mask_pattern(target, az - 720.0), mask_pattern(target, az))


def test_harmonic_pattern_is_the_normalised_cosine_series():
    az = np.arange(-180.0, 180.0, 5.0)
    a = np.deg2rad(az)
    # A cardioid (1 + cos)/2 and a second-order pattern with a rear lobe, written out.
    assert np.allclose(harmonic_pattern([0.5, 0.5], az), (1 + np.cos(a)) / 2)
    c = [0.2, 0.5, 0.3]
    expected = np.abs(0.2 + 0.5 * np.cos(a) + 0.3 * np.cos(2 * a))  # sum c = 1
    assert np.allclose(harmonic_pattern(c, az), expected)
    # Scaling the coefficients changes nothing (normalised to 1 on axis).
    assert np.allclose(harmonic_pattern(np.multiply(c, -4.0), az), expected)
    assert harmonic_pattern(c, np.array([0.0]))[0] == pytest.approx(1.0)


def test_desired_pattern_uses_harmonics_only_when_given():
    az = np.arange(-180.0, 180.0, 15.0)
    plain = BeamTarget()
    shaped = BeamTarget(harmonics=(0.5, 0.5))
    assert np.array_equal(desired_pattern(plain, az), mask_pattern(plain, az))
    assert np.allclose(desired_pattern(shaped, az), (1 + np.cos(np.deg2rad(az))) / 2)


@pytest.mark.parametrize("coeffs", [[], [1.0, -1.0], [1.0, float("inf")], [[1.0, 0.0]]])
def test_harmonic_pattern_rejects_bad_coefficients(coeffs):
    with pytest.raises(InputError, match="harmonics"):
        harmonic_pattern(coeffs, np.array([0.0, 90.0]))


@pytest.mark.parametrize("fields, field", [
    ({"band_hz": (3000.0, 300.0)}, "band_hz"),
    ({"flat_deg": 95.0}, "flat_deg"),
    ({"rear_deg": 60.0}, "rear_deg"),
    ({"null_db": 3.0}, "null_db"),
])
def test_beam_target_rejects_inconsistent_fields(fields, field):
    with pytest.raises(InputError, match=field):
        BeamTarget(**fields)


# --- virtual source pair --------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted_30():
    array = load_array("studio")
    return array, fit_virtual_source(array, 30.0, "sphere")


def test_virtual_pair_reproduces_the_real_source_ild_and_itd(fitted_30):
    array, source = fitted_30
    freqs = evaluation_freqs(48000)
    virtual_left = virtual_ears(source, freqs)[:, :, 0]  # (F, ear) for channel L
    real_left = real_source_ears(array, freqs, 30.0, "sphere")
    ild_v, itd_v = interaural_differences(virtual_left, freqs, ipsi_ear=0)
    ild_r, itd_r = interaural_differences(real_left, freqs, ipsi_ear=0)
    assert abs(ild_v - ild_r) < 2.0
    assert abs(itd_v - itd_r) < 60.0
    # The real source is itself plausible for an 8.75 cm sphere at 30 degrees: between
    # Woodworth's high-frequency a/c (theta + sin theta) = 261 us and Kuhn's low-frequency
    # 3 a/c sin(theta) = 383 us (the ITD band is 200-1200 Hz).
    assert 261.0 < itd_r < 383.0 and ild_r > 2.0


def test_virtual_pair_is_mirror_symmetric_and_unit_on_the_ipsilateral_side(fitted_30):
    _, source = fitted_30
    freqs = np.geomspace(50.0, 20000.0, 64)
    ears = virtual_ears(source, freqs)  # (F, ear, channel)
    assert np.allclose(ears[:, 0, 0], ears[:, 1, 1]) and np.allclose(ears[:, 1, 0], ears[:, 0, 1])
    assert np.allclose(np.abs(ipsi_response(source, freqs)), 1.0)  # an all-pass
    contra = np.abs(contra_response(source, freqs))
    # The shelf: unity far below the corner, shelf_db far above it.
    assert 20 * np.log10(contra[0]) == pytest.approx(0.0, abs=0.5)
    assert 20 * np.log10(contra[-1]) == pytest.approx(source.shelf_db, abs=0.5)
    assert source.shelf_db < -3.0 and 0.0 < source.itd_s < 1e-3


def test_wider_virtual_sources_have_larger_interaural_delay():
    array = load_array("studio")
    itds = [fit_virtual_source(array, w).itd_s for w in (10.0, 30.0, 60.0)]
    assert itds[0] < itds[1] < itds[2]


@pytest.mark.parametrize("width", [0.0, 90.0, -30.0])
def test_virtual_width_out_of_range_is_rejected(width):
    with pytest.raises(InputError, match="width_deg"):
        fit_virtual_source(load_array("studio"), width)
