"""The stereo -> L, R, C upmix: separation, power, mono, streaming = offline."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from models.errors import InputError
from renderer.upmix import Upmixer, mid_side, upmix

RATE = 48000


def power_db(x: np.ndarray) -> float:
    return 10.0 * np.log10(np.mean(x ** 2) + 1e-300)


@pytest.fixture(scope="module")
def noise() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((3, 3 * RATE))


def test_centre_panned_noise_goes_to_c(noise):
    x = np.stack([noise[0], noise[0]])
    y = upmix(x, RATE)
    assert power_db(y[0]) < power_db(y[2]) - 20 and power_db(y[1]) < power_db(y[2]) - 20


def test_hard_left_noise_stays_left(noise):
    y = upmix(np.stack([noise[0], np.zeros(noise.shape[1])]), RATE)
    assert power_db(y[1]) < power_db(y[0]) - 20 and power_db(y[2]) < power_db(y[0]) - 20


def test_independent_noise_stays_out_of_c(noise):
    y = upmix(noise[:2], RATE)
    assert power_db(y[2]) < min(power_db(y[0]), power_db(y[1])) - 10


@pytest.mark.parametrize("case", ["centre", "left", "independent", "mixture", "panned"])
def test_total_power_is_kept_within_1_db(noise, case):
    a, b, c = noise
    x = {"centre": np.stack([a, a]), "left": np.stack([a, 0 * a]), "independent": np.stack([a, b]),
         "mixture": np.stack([a + b, a + 0.3 * c]), "panned": np.stack([a, 0.5 * a])}[case]
    y = upmix(x, RATE)
    assert abs(10 * np.log10(np.sum(y ** 2) / np.sum(x ** 2))) < 1.0


def test_mono_stays_mono_in_c_and_is_reconstructed_exactly(noise):
    """L = R: the gain is exactly 1, so the sqrt-Hann STFT must give back sqrt(2) x in C."""
    x = np.stack([noise[0], noise[0]])
    y = upmix(x, RATE)
    assert np.max(np.abs(y[2] - np.sqrt(2.0) * noise[0])) < 1e-9
    assert np.max(np.abs(y[:2])) < 1e-6  # sqrt(1 - g^2) magnifies rounding of g = 1


def test_c_follows_the_common_source_and_not_l_minus_r(noise):
    """A centre source plus a hard-left one: C is the centre source, nearly free of L - R."""
    centre, left = noise[0], noise[1]
    x = np.stack([centre + left, centre])
    y = upmix(x, RATE)

    def corr(p, q):
        return np.dot(p, q) / np.sqrt(np.dot(p, p) * np.dot(q, q))
    assert corr(y[2], centre) > 0.95
    assert abs(corr(y[2], x[0] - x[1])) < 0.25
    assert corr(y[0], left) > 0.9


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), frame=st.sampled_from([256, 1024]))
def test_streaming_equals_offline_delayed_by_the_latency(seed, frame):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 9000))
    x[1] = 0.6 * x[0] + 0.4 * x[1]
    offline = upmix(x, RATE, frame=frame)
    up = Upmixer(RATE, frame=frame)
    assert up.latency == frame - 1
    padded = np.concatenate([x, np.zeros((2, up.latency))], axis=1)
    out, i = [], 0
    while i < padded.shape[1]:
        n = int(rng.integers(1, 2000))
        out.append(up.process(padded[:, i:i + n]))
        i += n
    streamed = np.concatenate(out, axis=1)
    assert streamed.shape == (3, padded.shape[1])
    assert np.max(np.abs(streamed[:, :up.latency])) == 0.0
    assert np.max(np.abs(streamed[:, up.latency:] - offline)) < 1e-9


def test_mid_side_matrix_is_the_closed_form_and_keeps_power():
    x = np.random.default_rng(4).standard_normal((2, 1000))
    y = mid_side(x)
    assert np.allclose(y[0], (x[0] - x[1]) / 2) and np.allclose(y[1], (x[1] - x[0]) / 2)
    assert np.allclose(y[2], (x[0] + x[1]) / np.sqrt(2))
    assert np.isclose(np.sum(y ** 2), np.sum(x ** 2))
    up = Upmixer(RATE, mode="mid_side")
    assert up.latency == 0 and np.allclose(up.process(x), y)


def test_bad_settings_and_shapes_are_input_errors():
    with pytest.raises(InputError, match="mode"):
        Upmixer(RATE, mode="pca")
    with pytest.raises(InputError, match="frame"):
        Upmixer(RATE, frame=30)
    with pytest.raises(InputError, match=r"\(2, n\)"):
        upmix(np.zeros((3, 100)), RATE)
