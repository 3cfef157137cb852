"""The design problem as arrays: frequency grid, transfer matrices and targets (NumPy).

Transfers are sampled for every plant of the ensemble (config ``[plant]``,
models/plants.py): K plants, plant-major, each over the same listener pool.
Ear transfers are *normalised*: each listener's are multiplied by ``r exp(+jkr)``, ``r``
the distance from the device origin to the head centre, which removes spreading and the
bulk propagation delay. A driver with a unit filter then gives about unit pressure, and
every target is simply ``exp(-j w T)`` (T = the bank's latency) times a relative response.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.signal import firwin2

from models import Array, Listeners, get_zone, place_listeners, sample_listeners
from models.heads import resolve_head
from models.plants import PlantSet, plant_ear_transfer, plant_farfield_transfer, plant_set
from optim.config import TrainConfig
from targets import (EFFORT_REF_BAND_HZ, cancellation_gain_db, desired_pattern,
                     fit_virtual_source, virtual_ears)

BEAM_AZIMUTHS_DEG = np.arange(-180.0, 180.0, 5.0)


@dataclass(frozen=True)
class Problem:
    """Everything the losses need, sampled on the rfft grid of ``2 * taps`` points.

    Shapes: K plants, F bins, P pool listeners, D drivers, A azimuths, N taps.
    """

    freqs_hz: np.ndarray  # (F,)
    freq_weight: np.ndarray  # (F,) equal weight per octave inside [min, max], else 0
    bulk: np.ndarray  # (F,) exp(-j w T)
    plant_labels: tuple[str, ...]  # (K,) "model/unitN"
    ear_pool: np.ndarray  # (K, P, F, 2, D) normalised zone transfers, complex64
    ear_nominal: np.ndarray  # (K, F, 2, D) normalised nominal transfer
    farfield: np.ndarray  # (K, F, A, D)
    azimuths_deg: np.ndarray  # (A,)
    band_firs: np.ndarray  # (D, band_taps) real
    band_response: np.ndarray  # (D, F)
    cancellation_db: np.ndarray  # (F,)
    virtual: np.ndarray  # (F, 2, 2) L/R ear targets [f, ear, channel], relative
    centre: np.ndarray  # (F, 2) C ear target (a real frontal source), relative
    beam_band: np.ndarray  # (F,) bool
    pattern: np.ndarray  # (A,) desired C magnitude
    effort_ref: np.ndarray  # (F,) bool, 1-4 kHz
    compact_weight: np.ndarray  # (N,) time-domain penalty weight of the taps
    virtual_source: dict  # fitted parametric HRTF parameters


def frequency_grid(config: TrainConfig) -> np.ndarray:
    """(taps + 1,) rfft bin frequencies of a ``2 * taps`` transform, Hz."""
    return np.fft.rfftfreq(2 * config.design.taps, 1.0 / config.design.sample_rate)


def design_band_firs(array: Array, sample_rate: int, band_taps: int) -> np.ndarray:
    """(D, band_taps) linear-phase band-split FIRs: unity in each driver's band, asked to
    be zero an octave (at least 150 Hz) outside it; a short FIR only approximates the low
    edge (255 taps at 48 kHz are about -9 dB at 125 Hz for a 250 Hz edge). Bands reaching
    below 100 Hz get no high-pass."""
    nyquist = sample_rate / 2
    firs = []
    for lo, hi in array.bands_hz:
        points, gains = [0.0], [0.0 if lo >= 100.0 else 1.0]
        if lo >= 100.0:
            points += [max(lo - max(lo / 2, 150.0), 1.0), lo]
            gains += [0.0, 1.0]
        top = hi + max(hi, 150.0)
        if top < nyquist:
            points += [hi, top]
            gains += [1.0, 0.0]
        points.append(nyquist)
        gains.append(gains[-1])
        firs.append(firwin2(band_taps, points, gains, fs=sample_rate, window="hann"))
    return np.array(firs)


def normalised_ears(plants: PlantSet, freqs_hz: np.ndarray, listeners: Listeners, head
                    ) -> np.ndarray:
    """(K, P, F, 2, D) complex64 ear transfers times ``r exp(jkr)`` of each head (module doc)."""
    ear = plant_ear_transfer(plants, freqs_hz, listeners.positions_m, listeners.facing, head)
    r = np.linalg.norm(listeners.positions_m, axis=-1)  # (P,)
    k = 2 * np.pi * freqs_hz / plants.array.speed_of_sound_m_s
    ear *= (r[:, None] * np.exp(1j * np.outer(r, k)))[None, :, :, None, None].astype(np.complex64)
    return ear


def training_plants(array: Array, config: TrainConfig) -> PlantSet:
    """The plant ensemble of ``config`` (its tolerance draws follow the seed)."""
    p = config.plant
    return plant_set(array, p.driver_models, p.tolerances, p.units, config.seed)


def build_problem(array: Array, config: TrainConfig) -> Problem:
    """Sample transfers and targets for ``config`` (seconds of NumPy work)."""
    d = config.design
    head = resolve_head(d.head)
    freqs = frequency_grid(config)
    live = (freqs >= d.min_freq_hz) & (freqs <= d.max_freq_hz)
    weight = np.where(live, 1.0 / np.maximum(freqs, 1.0), 0.0)
    weight /= weight.sum()
    zone = get_zone(d.zone)
    if d.zone_lateral_m >= 0:
        zone = replace(zone, lateral_m=d.zone_lateral_m)
    pool = sample_listeners(zone, array.listener, d.pool, config.seed)
    nominal = place_listeners(array.listener, 0.0, 1.0, 0.0, 0.0)
    plants = training_plants(array, config)
    virtual = fit_virtual_source(array, d.width_deg, head)
    r = array.listener.distance_m
    front = head.relative_response(freqs, np.array([[[r, 0.0, 0.0]]]), array.speed_of_sound_m_s)
    firs = design_band_firs(array, d.sample_rate, d.band_taps)
    n = np.arange(d.taps)
    edge = d.taps // 16
    # No penalty in the bulk of the window; quadratic ramps over the first and last 1/16.
    compact = np.maximum(np.maximum(edge - n, n - (d.taps - 1 - edge)), 0) / edge
    return Problem(
        freqs_hz=freqs, freq_weight=weight,
        bulk=np.exp(-2j * np.pi * freqs * d.latency_samples / d.sample_rate),
        plant_labels=tuple(plants.labels),
        ear_pool=normalised_ears(plants, freqs, pool, head),
        ear_nominal=normalised_ears(plants, freqs, nominal, head)[:, 0].astype(complex),
        farfield=plant_farfield_transfer(plants, freqs, BEAM_AZIMUTHS_DEG),
        azimuths_deg=BEAM_AZIMUTHS_DEG,
        band_firs=firs, band_response=np.fft.rfft(firs, 2 * d.taps, axis=-1),
        cancellation_db=cancellation_gain_db(config.cancellation, freqs),
        virtual=virtual_ears(virtual, freqs), centre=front[:, 0, :, 0],
        beam_band=(freqs >= config.beam.band_hz[0]) & (freqs <= config.beam.band_hz[1]),
        pattern=desired_pattern(config.beam, BEAM_AZIMUTHS_DEG),
        effort_ref=(freqs >= EFFORT_REF_BAND_HZ[0]) & (freqs <= EFFORT_REF_BAND_HZ[1]),
        compact_weight=compact**2,
        virtual_source=virtual.to_dict(),
    )
