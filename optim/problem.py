"""The design problem as arrays: frequency grid, transfer matrices and targets (NumPy).

Transfers are sampled for every plant of the ensemble (config ``[plant]``,
models/plants.py): K plants, plant-major, each over the same listener pool. A measured
plant (models/measured_plants.py) replaces the ear transfers with its measured poses (one
plant) and, when it has one, the far field with its measured one; a step's plant ``k``
then uses ear plant ``k mod K_ears`` and far-field plant ``k mod K_far``.
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
from models.listener_heads import draw_heads, head_mix, with_heights
from models.measured_plants import (MeasuredPlant, ears_transfer, farfield_on_grid,
                                     farfield_response, measured_pool)
from models.symmetry import mirror_permutation
from models.tolerances import TRAINING_STREAM
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
    plant_labels: tuple[str, ...]  # (K,) "model/unitN" or "measured"
    ear_pool: np.ndarray  # (K_ears, P, F, 2, D) normalised zone transfers, complex64
    ear_nominal: np.ndarray  # (K_ears, F, 2, D) normalised nominal transfer
    farfield: np.ndarray  # (K_far, F, A, D); K = max(K_ears, K_far), each 1 or K
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
    mirror: np.ndarray | None  # (D,) mirror image of each driver: the bank is symmetric


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


def normalise_ears(ear: np.ndarray, head_positions_m: np.ndarray, freqs_hz: np.ndarray,
                   speed_of_sound_m_s: float) -> np.ndarray:
    """Ear transfers (..., P, F, 2, D) times ``r exp(jkr)`` of each head (module doc),
    in place when ``ear`` is complex64 (the pools are large)."""
    r = np.linalg.norm(head_positions_m, axis=-1)  # (P,)
    k = 2 * np.pi * freqs_hz / speed_of_sound_m_s
    ear *= (r[:, None] * np.exp(1j * np.outer(r, k)))[:, :, None, None].astype(ear.dtype)
    return ear


def normalised_ears(plants: PlantSet, freqs_hz: np.ndarray, listeners: Listeners, head
                    ) -> np.ndarray:
    """(K, P, F, 2, D) complex64 normalised ear transfers of every plant."""
    ear = plant_ear_transfer(plants, freqs_hz, listeners.positions_m, listeners.facing, head)
    return normalise_ears(ear, listeners.positions_m, freqs_hz, plants.array.speed_of_sound_m_s)


def pool_heads(config: TrainConfig, listeners: Listeners, head) -> tuple[Listeners, object]:
    """The training pool's listeners and head model with the config's listener variety
    (models.listener_heads): listener p wears drawn head ``p % heads`` at its height; the
    pool as it is with a head other than the sphere or a single head."""
    settings = config.listeners
    if config.design.head != "sphere" or settings.heads < 2:
        return listeners, head
    draws = draw_heads(settings.variety, settings.heads, config.seed, TRAINING_STREAM)
    return with_heights(listeners, draws), head_mix(draws)


def training_plants(array: Array, config: TrainConfig) -> PlantSet:
    """The plant ensemble of ``config`` (its tolerance draws follow the seed)."""
    p = config.plant
    return plant_set(array, p.driver_models, p.tolerances, p.units, config.seed)


def measured_transfers(array: Array, config: TrainConfig, measured: MeasuredPlant,
                       freqs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Normalised (1, P, F, 2, D) pool and (1, F, 2, D) nominal ears of a measured plant
    (the pool drawn from its training poses), and its (1, F, A, D) far field or None."""
    d = config.design
    c = array.speed_of_sound_m_s
    every = ears_transfer(measured.ears, freqs, d.sample_rate)  # (M, F, 2, D)
    pool, heads = measured_pool(measured.ears, every, freqs, measured.split.train, d.pool,
                                config.seed)
    pool = normalise_ears(pool.astype(np.complex64), heads, freqs, c)
    nominal = measured.split.nominal
    ear_nominal = normalise_ears(every[nominal:nominal + 1],
                                 measured.ears.listener_positions_m[nominal:nominal + 1], freqs, c)
    far = None
    if measured.farfield is not None:
        response = farfield_response(measured.farfield, freqs, d.sample_rate, c)
        far = farfield_on_grid(measured.farfield, response, BEAM_AZIMUTHS_DEG)[None]
    return pool[None], ear_nominal, far


def build_problem(array: Array, config: TrainConfig, measured: MeasuredPlant | None = None
                  ) -> Problem:
    """Sample transfers and targets for ``config`` (seconds of NumPy work); with
    ``measured``, its ears (and far field, if it has one) replace the model's."""
    d = config.design
    head = resolve_head(d.head, d.sample_rate)
    freqs = frequency_grid(config)
    live = (freqs >= d.min_freq_hz) & (freqs <= d.max_freq_hz)
    weight = np.where(live, 1.0 / np.maximum(freqs, 1.0), 0.0)
    weight /= weight.sum()
    zone = get_zone(d.zone)
    if d.zone_lateral_m >= 0:
        zone = replace(zone, lateral_m=d.zone_lateral_m)
    plants = training_plants(array, config)
    if measured is None:
        pool = sample_listeners(zone, array.listener, d.pool, config.seed)
        nominal = place_listeners(array.listener, 0.0, 1.0, 0.0, 0.0)
        ear_pool = normalised_ears(plants, freqs, *pool_heads(config, pool, head))
        ear_nominal = normalised_ears(plants, freqs, nominal, head)[:, 0].astype(complex)
        far, labels = None, plants.labels
    else:
        ear_pool, ear_nominal, far = measured_transfers(array, config, measured, freqs)
        labels = ["measured"] if far is not None else \
            [f"measured ears, far field {label}" for label in plants.labels]
    if far is None:
        far = plant_farfield_transfer(plants, freqs, BEAM_AZIMUTHS_DEG)
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
        plant_labels=tuple(labels), ear_pool=ear_pool, ear_nominal=ear_nominal, farfield=far,
        azimuths_deg=BEAM_AZIMUTHS_DEG,
        band_firs=firs, band_response=np.fft.rfft(firs, 2 * d.taps, axis=-1),
        cancellation_db=cancellation_gain_db(config.cancellation, freqs),
        virtual=virtual_ears(virtual, freqs), centre=front[:, 0, :, 0],
        beam_band=(freqs >= config.beam.band_hz[0]) & (freqs <= config.beam.band_hz[1]),
        pattern=desired_pattern(config.beam, BEAM_AZIMUTHS_DEG),
        effort_ref=(freqs >= EFFORT_REF_BAND_HZ[0]) & (freqs <= EFFORT_REF_BAND_HZ[1]),
        compact_weight=compact**2,
        virtual_source=virtual.to_dict(),
        mirror=mirror_permutation(array) if d.symmetric else None,
    )
