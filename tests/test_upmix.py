"""The stereo -> L, R, C upmix: separation, power, mono, streaming = offline."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from common.errors import InputError
from renderer.upmix import DEFAULT_FRAME, LOW_LATENCY_FRAME, Upmixer, mid_side, upmix

RATE = 48000


def power_db(x: np.ndarray) -> float:
    return 10.0 * np.log10(np.mean(np.asarray(x, float) ** 2) + 1e-300)


@pytest.fixture(scope="module")
def noise() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((3, 3 * RATE))


@pytest.mark.parametrize("frame", [DEFAULT_FRAME, LOW_LATENCY_FRAME])
def test_centre_panned_noise_goes_to_c(noise, frame):
    x = np.stack([noise[0], noise[0]])
    y = upmix(x, RATE, frame=frame)
    assert power_db(y[0]) < power_db(y[2]) - 20 and power_db(y[1]) < power_db(y[2]) - 20


@pytest.mark.parametrize("frame", [DEFAULT_FRAME, LOW_LATENCY_FRAME])
def test_hard_left_noise_stays_left(noise, frame):
    y = upmix(np.stack([noise[0], np.zeros(noise.shape[1])]), RATE, frame=frame)
    assert power_db(y[1]) < power_db(y[0]) - 20 and power_db(y[2]) < power_db(y[0]) - 20


@pytest.mark.parametrize("frame", [DEFAULT_FRAME, LOW_LATENCY_FRAME])
def test_independent_noise_stays_out_of_c(noise, frame):
    y = upmix(noise[:2], RATE, frame=frame)
    assert power_db(y[2]) < min(power_db(y[0]), power_db(y[1])) - 15


@pytest.mark.parametrize("case", ["centre", "left", "independent", "mixture", "panned"])
def test_total_power_is_kept_within_1_db(noise, case):
    a, b, c = noise
    x = {"centre": np.stack([a, a]), "left": np.stack([a, 0 * a]), "independent": np.stack([a, b]),
         "mixture": np.stack([a + b, a + 0.3 * c]), "panned": np.stack([a, 0.5 * a])}[case]
    y = upmix(x, RATE)
    assert abs(10 * np.log10(np.sum(y ** 2) / np.sum(x ** 2))) < 1.0


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-9), (np.float32, 1e-5)])
@pytest.mark.parametrize("frame", [DEFAULT_FRAME, LOW_LATENCY_FRAME])
def test_mono_stays_mono_in_c_and_is_reconstructed_exactly(noise, dtype, tol, frame):
    """L = R: the gain is exactly 1, so the sqrt-Hann STFT must give back sqrt(2) x in C."""
    x = np.stack([noise[0], noise[0]])
    y = upmix(x, RATE, dtype=dtype, frame=frame)
    assert y.dtype == dtype
    assert np.max(np.abs(y[2] - np.sqrt(2.0) * noise[0])) < tol
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
    offline = upmix(x, RATE, frame=frame, dtype=np.float64)
    up = Upmixer(RATE, frame=frame, dtype=np.float64)
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


def tone_separation_db(frame: int, other_hz: float) -> tuple[float, float]:
    """A centre 440 Hz tone plus a hard-left ``other_hz`` tone: how far (dB) the centre
    tone lies below C in L, and the left tone below L in C, from 1.5 s of steady state."""
    t = np.arange(2 * RATE) / RATE
    centre, left = np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * other_hz * t)
    y = upmix(np.stack([centre + left, centre]), RATE, frame=frame)[:, RATE // 2:]
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.shape[1]), axis=1))
    freqs = np.fft.rfftfreq(y.shape[1], 1 / RATE)

    def level(channel, hz):
        k = int(np.argmin(np.abs(freqs - hz)))
        return 20 * np.log10(spectrum[channel, k - 3:k + 4].max())
    return level(2, 440) - level(0, 440), level(0, other_hz) - level(2, other_hz)


@pytest.mark.parametrize("frame, other_hz, floor_db", [(DEFAULT_FRAME, 520, 25),
                                                       (DEFAULT_FRAME, 1000, 60),
                                                       (LOW_LATENCY_FRAME, 700, 20),
                                                       (LOW_LATENCY_FRAME, 1000, 45)])
def test_tones_a_few_bins_apart_are_separated(frame, other_hz, floor_db):
    """The price of the low-latency frame is frequency resolution: 187.5 Hz bins instead
    of 46.9 Hz, so tones must lie further apart for the same separation (docs/renderer.md)."""
    assert min(tone_separation_db(frame, other_hz)) > floor_db


def test_low_latency_frame_adds_at_most_6_ms():
    assert Upmixer(RATE, frame=LOW_LATENCY_FRAME).latency / RATE <= 0.006


@pytest.mark.parametrize("frame, block", [(LOW_LATENCY_FRAME, 128), (DEFAULT_FRAME, 512),
                                          (4096, 2048)])
def test_blocks_into_out_allocate_no_array_memory(frame, block):
    """The real-time path: with ``out=`` and at most one frame per block, every array is
    preallocated. What tracemalloc sees is Python objects (views), a few KB whatever the
    sizes; at frame 4096 any array of the block's or the frame's data would exceed 16 KB."""
    up = Upmixer(RATE, frame=frame, dtype=np.float64)
    x = np.random.default_rng(5).standard_normal((2, 60 * block))
    out = np.empty((3, block))
    for i in range(10):
        up.process(x[:, i * block:(i + 1) * block], out=out)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for i in range(10, 60):
            up.process(x[:, i * block:(i + 1) * block], out=out)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024


def test_float32_blocks_into_out_equal_the_offline_float32_upmix():
    x = np.random.default_rng(6).standard_normal((2, 5000)).astype(np.float32)
    up = Upmixer(RATE)
    padded = np.concatenate([x, np.zeros((2, up.latency), np.float32)], axis=1)
    out = np.zeros((3, padded.shape[1]), np.float32)
    for i in range(0, padded.shape[1], 256):
        up.process(padded[:, i:i + 256], out=out[:, i:i + 256])
    assert np.max(np.abs(out[:, up.latency:] - upmix(x, RATE))) < 1e-5


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
    with pytest.raises(InputError, match="float32 or float64"):
        Upmixer(RATE, dtype="float16")
    with pytest.raises(InputError, match=r"float32 array of shape \(3, 100\)"):
        Upmixer(RATE).process(np.zeros((2, 100)), out=np.zeros((3, 100)))
