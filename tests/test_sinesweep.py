"""Exponential sweeps and their deconvolution (renderer/sinesweep.py), and the driver-by-
driver measurement on a simulated audio path (device/measurement.py): known FIRs come
back, harmonic distortion lands where Farina's closed form puts it, and every way a
measurement goes wrong (clipping, silence, dropouts) is refused with a clear message."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import fftconvolve

from jack_plant import known_firs
from common.errors import InputError
from device.measurement import measure_drivers
from models import load_array
from renderer.sinesweep import (deconvolve, exponential_sweep, impulse_response,
                                loopback_residual_db, peak_latency)

FS = 48000
TAIL = 6000


def _error_db(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Error energy over reference energy along the last axis, dB."""
    return 10 * np.log10(np.sum((got - ref) ** 2, -1) / np.sum(ref ** 2, -1))


def _through(firs: np.ndarray, signal: np.ndarray, delay: int, length: int) -> np.ndarray:
    """(..., length) recording of ``signal`` through (..., N) FIRs after ``delay`` samples."""
    out = fftconvolve(signal.astype(float)[None], firs.reshape(-1, firs.shape[-1]), axes=-1)
    rec = np.zeros((out.shape[0], length))
    count = min(out.shape[1], length - delay)
    rec[:, delay:delay + count] = out[:, :count]
    return rec.reshape(firs.shape[:-1] + (length,))


@pytest.fixture(scope="module")
def firs():
    return known_firs(load_array("studio"), [1.0, 0.2, 0.1])  # (2, 5, 512)


def test_sweep_frequency_follows_the_exponential_law():
    """Zero crossings of sin(2 pi f1 L (exp(t/L) - 1)) come where the phase is k pi: the
    crossing count up to t is 2 f1 L (exp(t/L) - 1), independent of the implementation."""
    sweep = exponential_sweep(FS, 1.0, f_start_hz=50.0, f_stop_hz=5000.0, level_db=-6.0)
    x = sweep.signal.astype(float)
    crossings = np.flatnonzero(np.signbit(x[1:]) != np.signbit(x[:-1]))
    t = np.array([0.3, 0.6, 0.9])
    expected = 2 * 50.0 * sweep.rate_constant_s * np.expm1(t / sweep.rate_constant_s)
    counted = np.searchsorted(crossings, t * FS)
    np.testing.assert_allclose(counted, expected, atol=2)
    assert np.max(np.abs(x)) == pytest.approx(10 ** (-6 / 20), rel=1e-3)


def test_known_firs_come_back(firs):
    sweep = exponential_sweep(FS, 1.0)
    rec = _through(firs, sweep.signal, 300, sweep.signal.size + TAIL)
    irs = impulse_response(deconvolve(rec, sweep), 300, 1024, sweep)
    ref = np.zeros_like(irs)
    ref[..., :firs.shape[-1]] = firs
    assert np.max(_error_db(irs, ref)) < -55  # measured -61 to -67 dB


def test_harmonic_distortion_lands_before_the_response_and_is_windowed_out(firs):
    """A squaring term makes a 2nd-harmonic sweep, i.e. the sweep moved earlier by
    L ln 2 (Farina): its response peaks there, and the windowed IR does not see it."""
    sweep = exponential_sweep(FS, 1.0)
    x = sweep.signal.astype(float) / np.max(np.abs(sweep.signal))
    rec = np.concatenate([x ** 2 - np.mean(x ** 2), np.zeros(TAIL)])
    response = deconvolve(rec, sweep)
    lead = sweep.harmonic_lead_s(2) * FS
    peak = response.size - np.argmax(np.abs(response))
    assert peak == pytest.approx(lead, abs=3)

    # A Hammerstein system (Farina's model of a loudspeaker): the linear FIR plus a 2nd
    # harmonic sweep through another FIR at -20 dB. The window keeps the linear FIR only.
    t = np.arange(x.size) / FS
    second = np.sin(4 * np.pi * sweep.f_start_hz * sweep.rate_constant_s
                    * np.expm1(t / sweep.rate_constant_s)) * np.abs(sweep.signal)
    distorted = (_through(firs[0, 3], sweep.signal, 300, rec.size)
                 + 0.1 * _through(firs[1, 0], second, 300, rec.size))
    got = impulse_response(deconvolve(distorted, sweep), 300, 1024, sweep)
    ref = np.zeros(1024)
    ref[:firs.shape[-1]] = firs[0, 3]
    assert _error_db(got, ref) < -55


def test_window_overlapping_the_second_harmonic_is_refused():
    sweep = exponential_sweep(FS, 0.3)
    with pytest.raises(InputError, match="would overlap the 2nd harmonic distortion product"):
        impulse_response(np.zeros(30000), 0, 2000, sweep)
    sweep = exponential_sweep(FS, 1.0)
    with pytest.raises(InputError, match="ends after the recording's tail of 1000 samples"):
        impulse_response(np.zeros(FS + 1000), 500, 960, sweep)


def test_loopback_detector_passes_clean_loops_and_catches_dropouts():
    sweep = exponential_sweep(FS, 1.0)
    x = sweep.signal.astype(float)
    clean = np.concatenate([np.zeros(256), x, np.zeros(TAIL)])
    k = x.size // 2
    dropout = clean.copy()
    dropout[256 + k:256 + k + 256] = 0.0  # one lost period
    jump = np.concatenate([np.zeros(256), x[:k], np.zeros(256), x[k:], np.zeros(TAIL - 256)])
    results = {}
    for name, rec in (("clean", clean), ("dropout", dropout), ("jump", jump)):
        response = deconvolve(rec, sweep)
        results[name] = loopback_residual_db(response, peak_latency(response, sweep), sweep)
    assert results["clean"] < -55
    assert results["dropout"] > -45 and results["jump"] > -45


# ---------------------------------------------------------------- measurement, simulated


class FakePath:
    """The audio path of a measurement: drivers -> ears through FIRs after ``delay``
    samples, loopback output -> loopback input; per call: ``xruns`` reported and whether
    to ``damage`` the recording (``lost`` samples zeroed from the middle on)."""

    def __init__(self, firs, delay=256, gain=1.0, xruns=(), damage=(), lost=256):
        self.firs, self.delay, self.gain, self.lost = firs, delay, gain, lost
        self.xruns, self.damage, self.calls = list(xruns), list(damage), 0

    def __call__(self, signals):
        n = signals.shape[1]
        ears = sum(_through(self.firs[:, d], signals[d], self.delay, n)
                   for d in range(self.firs.shape[1]))
        if signals.shape[0] > self.firs.shape[1]:  # the loopback output is the last
            ears = np.concatenate([ears, _through(np.ones((1, 1)), signals[-1], self.delay, n)])
        rec = ears * self.gain
        call, self.calls = self.calls, self.calls + 1
        if call < len(self.damage) and self.damage[call]:
            rec[:, n // 2:n // 2 + self.lost] = 0.0
        return rec.astype(np.float32), self.xruns[call] if call < len(self.xruns) else 0


def _measure(path, sweep, **kwargs):
    options = dict(driver_names=[f"d{i}" for i in range(5)], input_names=["left", "right"],
                   n_samples=1024, repeats=1, tail_samples=TAIL, loopback=("lo", "li"))
    options.update(kwargs)
    return measure_drivers(path, sweep, **options)


def test_simulated_measurement_recovers_firs_and_replays_dropouts(firs):
    sweep = exponential_sweep(FS, 1.0)
    path = FakePath(firs, damage=[False, True, True, False])
    result = _measure(path, sweep, repeats=2)
    assert path.calls == 12 and result.replayed == 2  # two damaged sweeps played again
    assert np.all(result.latency == 256)
    ref = np.zeros_like(result.ir)
    ref[:, :firs.shape[-1]] = firs.transpose(0, 2, 1)
    assert np.max(_error_db(result.ir.transpose(0, 2, 1), ref.transpose(0, 2, 1))) < -55
    assert np.all(result.repeat_spread_db < -100)


def test_reported_latency_is_removed(firs):
    sweep = exponential_sweep(FS, 0.5)
    path = FakePath(firs, delay=700, xruns=[1, 0, 0, 1, 1])
    result = _measure(path, sweep, loopback=None, latency=np.full((5, 2), 700))
    # d0: an xrun, then clean; d1: clean; d2: xruns twice (kept after MAX_TRIES tries)
    assert path.calls == 7 and result.replayed == 2 and result.xrun_sweeps == 1
    assert np.argmax(np.abs(result.ir[0, :, 3])) == np.argmax(np.abs(firs[0, 3]))


def test_clipping_silence_and_a_dead_loopback_are_refused(firs):
    sweep = exponential_sweep(FS, 0.5)
    with pytest.raises(InputError, match=r"recording of 'left' clipped \(peak [-0-9.]+ dBFS\) "
                                         r"while driver 'd0' played: lower --level-db"):
        _measure(FakePath(firs, gain=40.0), sweep)
    silent = firs.copy()
    silent[1, 2] = 0.0
    with pytest.raises(InputError, match=r"no signal at 'right' while driver 'd2' played "
                                         r"\(peak-to-noise nan dB"):
        _measure(FakePath(silent), sweep)
    dead = FakePath(firs)

    def dead_loop(signals):
        recording = dead(signals)[0]
        recording[-1] = 0.0  # the loopback input hears nothing
        return recording, 0

    with pytest.raises(InputError, match=r"--loopback: no signal from 'lo' at 'li' while "
                                         r"driver 'd0' played: check the loopback cable"):
        _measure(dead_loop, sweep)


def test_damaged_sweeps_and_repeats_that_disagree_are_refused(firs):
    sweep = exponential_sweep(FS, 0.5)
    path = FakePath(firs, damage=[False] + [True] * 8)  # 2nd repeat of d0 damaged 8 times
    with pytest.raises(InputError, match=r"in every one of 8 sweeps of driver 'd0' the "
                                         r"loopback response 'lo' -> 'li' was not a clean "
                                         r"impulse \(the last: -[0-9]+ dB"):
        _measure(path, sweep, repeats=2)
    # Without a loopback a dropout shows only as repeats that differ: the first repeat's
    # second try (kept after two xruns) loses a quarter of the sweep, the second is clean.
    path = FakePath(firs, delay=300, xruns=[1, 1], damage=[False, True], lost=6000)
    with pytest.raises(InputError, match=r"the repeated sweeps of driver 'd0' at 'left' "
                                         r"differ by -[0-9]+ dB"):
        _measure(path, sweep, repeats=2, loopback=None, latency=np.full((5, 2), 300))
