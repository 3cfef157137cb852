"""The look-ahead limiter: equal to a per-sample reference of its definition, never over
the threshold whatever the input, bit-exact while idle, linked across channels, no
allocation per block; and the issue's goal: no driver sample over full scale for a 0 dBFS
in-phase sweep and loud music-like noise through every rung at every volume."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ladder_fixtures import in_phase_sweep, music_noise, synthetic_ladder
from common.errors import InputError
from renderer.ladder import Ladder
from renderer.limiter import RELEASE_END_DB, ROUNDING_ROOM, Limiter
from device.live import BankRenderer

RATE = 48000


def reference(x: np.ndarray, rate: int, lookahead_ms: float, release_ms: float,
              threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """The limiter's definition sample by sample in float64 (module docstring of
    renderer.limiter, the gain aiming at ``threshold * ROUNDING_ROOM``): (output, gain) for
    x (D, n) plus ``L`` samples of silence, both delayed by the look-ahead ``L``."""
    lag = max(1, round(lookahead_ms * rate / 1000))
    beta = math.exp(-1000.0 / (release_ms * rate))
    end = RELEASE_END_DB * math.log(10) / 20
    padded = np.concatenate([x.astype(np.float64), np.zeros((len(x), lag))], axis=1)
    total = padded.shape[1]
    aim = threshold * ROUNDING_ROOM
    required = [min(1.0, aim / max(float(np.max(np.abs(padded[:, m]))), 1e-300))
                for m in range(total)]
    released, attenuation = [], 0.0
    for q in range(total):
        hold = min(required[max(0, q - lag):q + 1])
        attenuation = max(-math.log(hold), beta * attenuation)
        attenuation = 0.0 if attenuation < end else attenuation
        released.append(min(math.exp(-attenuation), hold))
    gain = np.ones(total)
    for p in range(-lag, total - lag):  # before the stream: silence, r = g_req = 1
        window = [1.0] * max(0, -p) + released[max(0, p):p + lag + 1]
        gain[p + lag] = min(sum(window) / (lag + 1), required[p] if p >= 0 else 1.0)
    delayed = np.concatenate([np.zeros((len(x), lag)), padded[:, :total - lag]], axis=1)
    return delayed * gain, gain


def stream(limiter: Limiter, x: np.ndarray, blocks) -> np.ndarray:
    """x (D, n) plus ``latency`` zeros through the limiter in blocks of the given sizes
    (cycled); the output (D, n + latency)."""
    x = np.concatenate([x, np.zeros((len(x), limiter.latency), x.dtype)], axis=1)
    out, start, k = [], 0, 0
    while start < x.shape[1]:
        size = blocks[k % len(blocks)]
        out.append(limiter.process(x[:, start:start + size]))
        start, k = start + size, k + 1
    return np.concatenate(out, axis=1)


def bursts(rng, channels: int, n: int, peak_db: float) -> np.ndarray:
    """float32 noise at -20 dBFS with short bursts up to ``peak_db`` dBFS on random
    channels, single-sample spikes among them."""
    x = rng.standard_normal((channels, n)) * 0.1
    for _ in range(max(1, n // 400)):
        start, width = int(rng.integers(n)), int(rng.integers(1, 60))
        x[rng.integers(channels), start:start + width] *= 10 ** (rng.uniform(0, peak_db) / 20)
    return x.astype(np.float32)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), channels=st.integers(1, 4),
       lookahead_ms=st.sampled_from([0.1, 0.5, 2.0]), release_ms=st.sampled_from([10.0, 50.0]),
       threshold_db=st.sampled_from([0.0, -6.0]),
       blocks=st.lists(st.integers(1, 300), min_size=1, max_size=4))
def test_the_limiter_equals_its_definition_sample_by_sample(seed, channels, lookahead_ms,
                                                           release_ms, threshold_db, blocks):
    """Blocks of any size (also shorter than the look-ahead) give the per-sample reference
    to float32 rounding, gain counts included."""
    rng = np.random.default_rng(seed)
    x = bursts(rng, channels, 1200, 30.0)
    rate = 16000  # a short look-ahead in samples keeps the reference quick
    limiter = Limiter(channels, rate, lookahead_ms=lookahead_ms, release_ms=release_ms,
                      threshold_db=threshold_db, max_block=256)
    got = stream(limiter, x, blocks)
    want, gain = reference(x, rate, lookahead_ms, release_ms, 10 ** (threshold_db / 20))
    assert np.max(np.abs(got - want)) <= 1.2e-7 * max(1.0, np.max(np.abs(x)))
    assert limiter.stats.limited == np.count_nonzero(gain < 1.0)
    assert limiter.stats.min_gain == pytest.approx(gain.min(), rel=1e-9)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), peak_db=st.floats(0.0, 80.0),
       block=st.integers(1, 1024), threshold_db=st.sampled_from([0.0, -0.1, -3.0]))
def test_no_output_sample_ever_exceeds_the_threshold(seed, peak_db, block, threshold_db):
    """By construction: nothing in the limiter clips."""
    rng = np.random.default_rng(seed)
    x = bursts(rng, 5, 3000, peak_db)
    x[int(rng.integers(5)), int(rng.integers(3000))] = 10 ** (peak_db / 20)  # a lone spike
    limiter = Limiter(5, RATE, threshold_db=threshold_db, max_block=1024)
    got = stream(limiter, x, [block])
    assert np.max(np.abs(got)) <= np.float32(10 ** (threshold_db / 20))


def test_while_no_peak_reaches_the_threshold_the_output_is_the_input_delayed_bit_for_bit():
    """Also once a loud burst has passed: when its release has ended the limiter is at rest
    again and passes samples through untouched."""
    rng = np.random.default_rng(1)
    x = (rng.uniform(-1.0, 1.0, (5, 48000))).astype(np.float32)  # up to exactly full scale
    x[2, 100] = 1.0
    limiter = Limiter(5, RATE)
    got = stream(limiter, x, [256, 77, 1024])
    lag = limiter.latency
    assert np.array_equal(got[:, lag:], x) and not got[:, :lag].any()
    assert limiter.stats.limited == limiter.stats.events == 0
    loud = x.copy()
    loud[:, 1000:1100] *= 4.0  # 12 dB over: the release takes ~13 time constants to end
    limiter = Limiter(5, RATE)
    got = stream(limiter, loud, [256])
    assert limiter.stats.events == 1 and limiter.stats.min_gain < 0.3
    after = 1100 + lag + 30000  # 12 time constants later (50 ms release): at rest again
    assert np.array_equal(got[:, after + lag:], loud[:, after:])


def test_one_gain_for_every_channel_keeps_their_balance():
    rng = np.random.default_rng(2)
    x = rng.uniform(0.5, 1.0, (4, 4000)).astype(np.float32)
    x[0, 1000:1200] *= 8.0  # only channel 0 is over
    limiter = Limiter(4, RATE)
    got = stream(limiter, x, [256])[:, limiter.latency:]
    ratio = got / x
    assert ratio.min() < 0.2
    assert np.allclose(ratio, ratio[0], rtol=1e-6, atol=0)


def test_a_peak_is_anticipated_by_the_look_ahead_and_released_smoothly():
    """A step to +12 dBFS: the gain falls over the L samples before it, never lets it
    through, and climbs back over about 12 release time constants afterwards (to the
    release's end at RELEASE_END_DB: ln(12 / 1e-4) = 11.7)."""
    x = np.full((1, 40000), 0.5, np.float32)
    x[0, 5000:6000] = 4.0
    limiter = Limiter(1, RATE, release_ms=50.0)
    lag = limiter.latency
    gain = stream(limiter, x, [256])[0, lag:] / x[0]
    assert np.all(gain[:5000 - lag] == 1.0) and np.all(gain[5000:6000] <= 0.25 + 1e-7)
    assert np.all(np.diff(gain[5000 - lag:5000]) < 0)  # a ramp down, all before the step
    recovery = gain[6000:]
    assert np.all(np.diff(recovery) >= 0) and recovery[-1] == 1.0
    tau = 0.050 * RATE  # after one time constant the attenuation in dB is down to 1/e
    assert -20 * np.log10(recovery[int(tau)]) == pytest.approx(20 * np.log10(4) / math.e,
                                                               rel=0.05)


@pytest.mark.parametrize("loud", [False, True])
def test_the_limiter_allocates_no_array_memory_per_block(loud):
    limiter = Limiter(5, RATE, max_block=256)
    x = np.random.default_rng(3).uniform(-1, 1, (5, 256)).astype(np.float32) * (4 if loud else 1)
    out = np.empty_like(x)
    for _ in range(4):
        limiter.process(x, out=out)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(20):
            limiter.process(x, out=out)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024  # one (5, 256) float64 block alone is 10 KB
    assert limiter.stats.events == (1 if loud else 0)


@pytest.mark.parametrize("kwargs, words", [
    ({"channels": 0}, "limiter channels"), ({"lookahead_ms": 0.0}, "look-ahead"),
    ({"release_ms": math.nan}, "release"), ({"threshold_db": 1.0}, "threshold"),
    ({"max_block": 16}, "block size"), ({"dtype": np.int16}, "dtype"),
])
def test_bad_settings_are_input_errors(kwargs, words):
    with pytest.raises(InputError, match=words):
        Limiter(**{"channels": 2, "rate": RATE, **kwargs})


def test_a_block_of_the_wrong_shape_is_an_input_error():
    limiter = Limiter(2, RATE)
    with pytest.raises(InputError, match=r"expected shape \(2, n\)"):
        limiter.process(np.zeros((3, 10)))
    with pytest.raises(InputError, match="out: expected"):
        limiter.process(np.zeros((2, 10)), out=np.zeros((2, 10)))


VOLUMES = np.arange(-40.0, 1.0)  # dB, 1 dB steps


@pytest.fixture(scope="module")
def ladder() -> Ladder:
    return synthetic_ladder(n_taps=256)


@pytest.fixture(scope="module")
def signals() -> dict[str, np.ndarray]:
    return {"sweep": in_phase_sweep(RATE, 1.0), "music": music_noise(RATE, 1.0)}


def _feeds(rung: Ladder, x: np.ndarray, block: int) -> np.ndarray:
    """The stereo chain's driver feeds of one rung at 0 dB, without the limiter."""
    plain = BankRenderer(rung, block, limiter=False)
    return np.concatenate([plain.process(x[:, i:i + block]).copy()
                           for i in range(0, x.shape[1] - block + 1, block)], axis=1)


@pytest.mark.parametrize("name", ["sweep", "music"])
def test_no_driver_sample_exceeds_full_scale_through_every_rung_at_every_volume(ladder,
                                                                               signals, name):
    """The issue's goal: a 0 dBFS in-phase sweep and loud music-like noise (stereo, through
    the upmix) through each rung forced in turn, at every volume from -40 to 0 dB in 1 dB
    steps. The renderer is linear before the limiter, so the feeds at volume V are those at
    0 dB times 10^(V / 20); the limiter runs on those at every volume (block 1024)."""
    block = 1024
    worst_raw, worst = 0.0, 0.0
    for rung in ladder.rungs:
        feeds = _feeds(Ladder((rung,), rung.name), signals[name], block)
        limiter = Limiter(feeds.shape[0], RATE, max_block=block)
        for volume in VOLUMES:
            limiter.reset()
            scaled = (feeds * np.float32(10 ** (volume / 20))).astype(np.float32)
            got = stream(limiter, scaled, [block])
            worst = max(worst, float(np.max(np.abs(got))))
            worst_raw = max(worst_raw, float(np.max(np.abs(scaled))))
    assert worst <= 1.0
    assert worst_raw > 2.0  # the limiter had work to do: the top rungs at 0 dB are far over


def test_through_the_ladder_a_live_volume_sweep_never_exceeds_full_scale(ladder, signals):
    """The whole live chain (upmix, rung choice, crossfades, limiter) with the volume
    stepping from -40 to 0 dB, 1 dB per block, so every rung plays and changes."""
    volume = [-40.0]
    live = BankRenderer(ladder, 256, volume=lambda: volume[0])
    x = np.concatenate([signals["sweep"], signals["music"]], axis=1)
    peak, rungs = 0.0, set()
    for j, start in enumerate(range(0, x.shape[1] - 255, 256)):
        volume[0] = float(VOLUMES[j % len(VOLUMES)])
        peak = max(peak, float(np.max(np.abs(live.process(x[:, start:start + 256])))))
        rungs.add(live.convolver.rung)
    assert peak <= 1.0 and rungs == {0, 1, 2, 3}
    assert live.limiter.stats.limited > 0
