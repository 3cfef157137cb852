"""Exponential sine sweeps (Farina 2000) and their deconvolution into impulse responses.

The sweep ``x(t) = A sin(2 pi f1 L (exp(t / L) - 1))``, ``L = T / ln(f2 / f1)``, runs from
``f1`` to ``f2`` in ``T`` seconds, fading in over its first half octave and out over its
top 2 % of frequency (half-Hann). A recording ``y`` of it through a system is deconvolved
by the inverse sweep in the frequency domain, ``h = IFFT(Y conj(X) / (|X|^2 + eps) W)``,
where ``W`` is 1 over the swept band and falls to 0 (raised cosine) over the octave
``f1 ... 2 f1`` and over the top 2 %, so nothing outside the band the sweep excited is
claimed. With an FFT at least as long as the recording, the response is linear (not
wrapped) for positive times, and the k-th harmonic distortion product lands ``L ln k``
seconds *before* it: at the end of the circular result, outside a window ``[0, n)`` as
long as ``n < L ln 2`` (the 2nd harmonic arrives earliest). :func:`impulse_response` cuts
that window.

NumPy and SciPy only (no JACK, no JAX).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.fft import irfft, next_fast_len, rfft, rfftfreq

from common.errors import InputError

FADE_IN_RATIO = 2 ** 0.5  # the sweep fades in over its first half octave
FADE_OUT_RATIO = 1 / 0.98  # and out over its top 2 % of frequency
REGULARISATION = 1e-8  # eps over the peak of |X|^2


@dataclass(frozen=True)
class Sweep:
    """An exponential sine sweep: ``signal`` (T * fs,) float32 at ``sample_rate_hz``."""

    signal: np.ndarray
    sample_rate_hz: int
    f_start_hz: float
    f_stop_hz: float

    @property
    def rate_constant_s(self) -> float:
        """``L``: the sweep's frequency grows by a factor e every L seconds."""
        return self.signal.size / self.sample_rate_hz / np.log(self.f_stop_hz / self.f_start_hz)

    def harmonic_lead_s(self, order: int) -> float:
        """How long before the linear response the ``order``-th harmonic appears, s."""
        return self.rate_constant_s * np.log(order)

    @property
    def max_response_samples(self) -> int:
        """The first response length (samples) that would reach the 2nd harmonic's
        distortion product: an impulse response must be shorter."""
        return int(self.harmonic_lead_s(2) * self.sample_rate_hz)


def exponential_sweep(sample_rate_hz: int, duration_s: float, *, f_start_hz: float = 10.0,
                      f_stop_hz: float | None = None, level_db: float = -20.0) -> Sweep:
    """A sweep from ``f_start_hz`` to ``f_stop_hz`` (default: the Nyquist frequency) with
    peak ``level_db`` dB re full scale (1.0)."""
    fs = int(sample_rate_hz)
    f_stop = fs / 2 if f_stop_hz is None else float(f_stop_hz)
    if not 0 < f_start_hz < f_stop <= fs / 2:
        raise InputError(f"sweep: expected 0 < start {f_start_hz:g} Hz < stop {f_stop:g} Hz "
                         f"<= the Nyquist frequency {fs / 2:g} Hz")
    if not (np.isfinite(duration_s) and duration_s >= 0.1):
        raise InputError(f"sweep: expected a duration of at least 0.1 s, got {duration_s}")
    if not (np.isfinite(level_db) and level_db <= 0):
        raise InputError(f"sweep level: expected at most 0 dB re full scale, got {level_db}")
    n = int(round(duration_s * fs))
    t = np.arange(n) / fs
    rate = n / fs / np.log(f_stop / f_start_hz)
    x = np.sin(2 * np.pi * f_start_hz * rate * np.expm1(t / rate))
    fade_in, fade_out = (int(rate * np.log(ratio) * fs) for ratio in (FADE_IN_RATIO,
                                                                       FADE_OUT_RATIO))
    x[:fade_in] *= np.sin(0.5 * np.pi * np.arange(fade_in) / fade_in) ** 2
    x[n - fade_out:] *= np.cos(0.5 * np.pi * np.arange(1, fade_out + 1) / fade_out) ** 2
    amplitude = 10 ** (level_db / 20)
    return Sweep((amplitude * x).astype(np.float32), fs, float(f_start_hz), f_stop)


def deconvolve(recordings: np.ndarray, sweep: Sweep) -> np.ndarray:
    """The response (..., L) to ``sweep`` (started at sample 0) of recordings (..., L),
    L > the sweep's length, in circular order: positive times at ``[0, L - len(sweep))``
    (the tail after the sweep: linear response, then noise), negative times, with the
    harmonic distortion products, in the last ``len(sweep)`` samples."""
    y = np.asarray(recordings, dtype=float)
    length, n_sweep = y.shape[-1], sweep.signal.size
    if length <= n_sweep:
        raise InputError(f"recording: expected more than the sweep's {n_sweep} samples, "
                         f"got {length}")
    n_fft = next_fast_len(length, real=True)
    x = rfft(sweep.signal.astype(float), n_fft)
    power = np.abs(x) ** 2
    inverse = np.conj(x) / (power + REGULARISATION * power.max()) * _band(sweep, n_fft)
    full = irfft(rfft(y, n_fft, axis=-1) * inverse, n_fft, axis=-1)
    return np.concatenate([full[..., :length - n_sweep], full[..., n_fft - n_sweep:]], axis=-1)


def tail_length(response: np.ndarray, sweep: Sweep) -> int:
    """Samples of positive time in a :func:`deconvolve` result."""
    return response.shape[-1] - sweep.signal.size


def check_response_length(n_samples: int, sweep: Sweep) -> None:
    """InputError unless an impulse response of ``n_samples`` ends before ``sweep``'s 2nd
    harmonic distortion product (:attr:`Sweep.max_response_samples`)."""
    lead = sweep.max_response_samples
    if n_samples >= lead:
        raise InputError(f"impulse response length {n_samples} samples would overlap the 2nd "
                         f"harmonic distortion product {lead} samples before it: use a longer "
                         f"sweep (--sweep-seconds) or a shorter response (--ir-ms)")


def impulse_response(response: np.ndarray, latency: int, n_samples: int,
                     sweep: Sweep) -> np.ndarray:
    """Samples ``[latency, latency + n_samples)`` of a :func:`deconvolve` result (..., L):
    the response from the moment the sweep left the output, free of harmonic distortion,
    with a half-Hann fade over its last eighth."""
    check_response_length(n_samples, sweep)
    tail = tail_length(response, sweep)
    if latency < 0 or latency + n_samples > tail:
        raise InputError(f"the response window (latency {latency} + {n_samples} samples) ends "
                         f"after the recording's tail of {tail} samples: record a longer tail "
                         f"(--tail-ms)")
    ir = response[..., latency:latency + n_samples].copy()
    fade = n_samples // 8
    ir[..., n_samples - fade:] *= np.cos(0.5 * np.pi * np.arange(1, fade + 1) / fade) ** 2
    return ir


def peak_latency(response: np.ndarray, sweep: Sweep) -> int:
    """Where the magnitude of a loopback response (L,) peaks in its positive times: the
    round-trip latency in samples, for a loopback cable whose own delay is negligible."""
    return int(np.argmax(np.abs(response[:tail_length(response, sweep)])))


def peak_to_noise_db(response: np.ndarray, latency: int, n_samples: int,
                     sweep: Sweep) -> np.ndarray:
    """(...,) peak of the window ``[latency, latency + n_samples)`` over the RMS of what
    follows it in the tail (noise: harmonics lie at negative times), dB."""
    start, stop = latency + n_samples, tail_length(response, sweep)
    if stop - start < int(1e-3 * sweep.sample_rate_hz):
        raise InputError(f"the recording's tail ({stop} samples) leaves no room for the noise "
                         f"after the response window (latency {latency} + {n_samples} "
                         f"samples): record a longer tail (--tail-ms)")
    peak = np.max(np.abs(response[..., latency:start]), axis=-1)
    noise = np.sqrt(np.mean(response[..., start:stop] ** 2, axis=-1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return 20 * np.log10(peak / noise)


def loopback_residual_db(response: np.ndarray, lag: int, sweep: Sweep) -> float:
    """How far a loopback response (L,) with its peak at ``lag`` is from a clean impulse:
    after a smooth band-pass (100 Hz to 0.6 Nyquist, so the band edges' ringing stays
    short), the energy 20-100 ms either side of the peak over the energy within 20 ms of
    it, dB. Where the tail holds 50 ms more, their noise energy is subtracted (at most
    10 dB of it), so a noisy loop is not taken for a dropout.

    A clean loop (a cable, converters, a fractional delay) gives about -57 dB; a dropout,
    a skipped or a repeated period during the sweep gives -47 to -30 dB.
    """
    fs = sweep.sample_rate_hz
    f = rfftfreq(response.size, 1.0 / fs)
    low = np.clip(np.log2(np.maximum(f, 1e-9) / 50.0), 0.0, 1.0)
    high = np.clip((0.75 - f / (fs / 2)) / 0.15, 0.0, 1.0)
    smooth = np.sin(0.5 * np.pi * low) ** 2 * np.sin(0.5 * np.pi * high) ** 2
    filtered = irfft(rfft(response) * smooth, response.size)
    tail = tail_length(response, sweep)
    near, far = int(0.02 * fs), int(0.1 * fs)
    before = min(far, int(0.5 * sweep.harmonic_lead_s(2) * fs))  # harmonics stay out
    after = min(lag + far, tail)
    main = np.sum(np.take(filtered, np.arange(lag - near, lag + near + 1), mode="wrap") ** 2)
    side = np.concatenate([np.take(filtered, np.arange(lag - before, lag - near), mode="wrap"),
                           filtered[lag + near + 1:after]])
    rest = np.sum(side ** 2)
    if tail - after >= int(0.05 * fs):
        noise = np.mean(filtered[after:tail] ** 2) * side.size
        rest = max(rest - noise, 0.1 * rest)
    return float(10 * np.log10(max(rest, 1e-300 * main) / main))


def _band(sweep: Sweep, n_fft: int) -> np.ndarray:
    """(n_fft // 2 + 1,) band window: 0 below f1, raised cosine to 1 at 2 f1, 1 up to the
    frequency where the sweep's fade-out starts, raised cosine to 0 at f2."""
    f = rfftfreq(n_fft, 1.0 / sweep.sample_rate_hz)
    f1, f2 = sweep.f_start_hz, sweep.f_stop_hz
    top = f2 / FADE_OUT_RATIO  # where the fade-out begins
    low = np.clip(np.log2(np.maximum(f, 1e-9) / f1), 0.0, 1.0)
    high = np.clip((f2 - f) / max(f2 - top, 1e-9), 0.0, 1.0)
    return np.sin(0.5 * np.pi * low) ** 2 * np.sin(0.5 * np.pi * high) ** 2
