"""Room figures of one channel at the listener: DRR, C50 and critical distance.

Definitions (impulse responses ``h`` sampled at ``fs``, last axis samples):

- Direct arrival: the sample of the largest ``|h|``.
- Direct-to-reverberant ratio: energy within ``+-DIRECT_WINDOW_S`` (2.5 ms) of the direct
  arrival over the energy after that window, dB (energy before the window is ignored).
- C50 (ISO 3382-1): energy in the first 50 ms after the onset over the energy after it,
  dB; the onset is the first sample within 20 dB of the peak of ``|h|``.
- DRR and C50 are broadband, of the channel response high-passed at ``HIGHPASS_HZ``
  (20 Hz, 4th-order Butterworth run forward and backward: zero phase, as
  pyroomacoustics does at 10 Hz): the model's reflection factors are real and positive,
  so its late pulses add up coherently below the audio band and would otherwise rule
  the energies (by ~1.7 dB of DRR in a treated room).
- Directivity factor ``Q``: power toward the listener over the power averaged over the
  sphere (``10 ** (DI / 10)`` with ``evaluation.robustness.directivity_index_db``, whose
  on-axis direction is the device's +x), arithmetic mean over ``BAND_HZ`` (300-3000 Hz,
  the beam band of ``evaluation.metrics``).
- Critical distance (Sabine diffuse field): the distance where the direct intensity
  ``Q W / (4 pi r^2)`` equals the reverberant ``4 W / A``, ``r_c = sqrt(Q A / (16 pi))``,
  with ``A = sum_w S_w alpha_w`` the equivalent absorption area (m^2). With the room
  constant ``R = A / (1 - mean alpha)`` in place of ``A`` it is the Hopkins-Stryker form;
  the two agree for small absorption.

The channel's impulse response at the listener is ``sum_d rir[d] * taps[d]``
(convolution) with the room impulse responses of ``models.room_images``.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfiltfilt

from evaluation.baselines import no_processing_bank
from evaluation.robustness import directivity_index_db
from evaluation.system import filter_responses
from models import Array
from models.room import Room
from models.room_images import room_impulse_response
from renderer.filterbank import FilterBank

DIRECT_WINDOW_S = 2.5e-3
EARLY_S = 0.050
ONSET_DB = -20.0
BAND_HZ = (300.0, 3000.0)
HIGHPASS_HZ = 20.0


def direct_to_reverberant_db(ir: np.ndarray, sample_rate_hz: float,
                             window_s: float = DIRECT_WINDOW_S) -> np.ndarray:
    """DRR in dB of impulse responses (..., N); returns (...)."""
    energy = np.asarray(ir, dtype=float) ** 2
    t = np.arange(energy.shape[-1])
    peak = np.argmax(np.abs(ir), axis=-1)[..., None]
    half = int(round(window_s * sample_rate_hz))
    direct = np.sum(energy * (np.abs(t - peak) <= half), axis=-1)
    late = np.sum(energy * (t - peak > half), axis=-1)
    return 10 * np.log10(direct / late)


def clarity_db(ir: np.ndarray, sample_rate_hz: float, early_s: float = EARLY_S) -> np.ndarray:
    """C50 (``early_s`` = 0.05) in dB of impulse responses (..., N); returns (...)."""
    h = np.abs(np.asarray(ir, dtype=float))
    onset = np.argmax(h >= h.max(axis=-1, keepdims=True) * 10 ** (ONSET_DB / 20), axis=-1)
    t = np.arange(h.shape[-1]) - onset[..., None]
    split = int(round(early_s * sample_rate_hz))
    early = np.sum(h**2 * ((t >= 0) & (t < split)), axis=-1)
    late = np.sum(h**2 * (t >= split), axis=-1)
    return 10 * np.log10(early / late)


def critical_distance_m(directivity_factor, absorption_area_m2: float) -> np.ndarray:
    """``sqrt(Q A / (16 pi))``, metres, for directivity factor(s) Q and area A in m^2."""
    return np.sqrt(np.asarray(directivity_factor, float) * absorption_area_m2 / (16 * np.pi))


def audio_band(ir: np.ndarray, sample_rate_hz: float) -> np.ndarray:
    """Impulse responses (..., N) high-passed at ``HIGHPASS_HZ`` with zero phase."""
    sos = butter(4, HIGHPASS_HZ, btype="highpass", fs=sample_rate_hz, output="sos")
    return sosfiltfilt(sos, ir, axis=-1)


def channel_impulse_response(rir: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """(R, N + M - 1) response of one channel: ``sum_d rir[:, d] * taps[d]`` for room
    responses rir (R, D, N) and driver taps (D, M)."""
    n = rir.shape[-1] + taps.shape[-1] - 1
    spectrum = np.einsum("rdf,df->rf", np.fft.rfft(rir, n), np.fft.rfft(taps, n))
    return np.fft.irfft(spectrum, n)


def channel_room_metrics(array: Array, room: Room, taps: np.ndarray,
                         sample_rate_hz: float) -> dict[str, float]:
    """DRR, C50, Q and critical distance (module docstring) of one channel (taps (D, M))
    at the array's nominal listener in ``room``, plus the listener's distance."""
    listener = array.listener.head_position_m
    rir = room_impulse_response(array, room, room.device_to_room(listener)[None], sample_rate_hz)
    h = audio_band(channel_impulse_response(rir, np.asarray(taps, float))[0], sample_rate_hz)
    freqs = np.linspace(*BAND_HZ, 28)
    weights = filter_responses(np.asarray(taps, float)[None], sample_rate_hz, freqs)[0]
    q = float(np.mean(10 ** (directivity_index_db(array, weights, freqs) / 10)))
    return {"drr_db": float(direct_to_reverberant_db(h, sample_rate_hz)),
            "c50_db": float(clarity_db(h, sample_rate_hz)),
            "directivity_factor": q,
            "critical_distance_m": float(critical_distance_m(q, room.absorption_area_m2)),
            "listener_distance_m": float(np.linalg.norm(listener))}


def room_study(array: Array, room: Room, bank: FilterBank) -> dict[str, dict[str, float]]:
    """The C channel's room figures with the bank's filters (the beamformer) and without
    them: every driver fed the channel directly (``no_processing_bank``)."""
    plain = no_processing_bank(array, bank.sample_rate, 1)
    return {"C with beamformer": channel_room_metrics(array, room, bank.taps[2], bank.sample_rate),
            "C without beamformer": channel_room_metrics(array, room, plain.taps[2],
                                                         bank.sample_rate)}
