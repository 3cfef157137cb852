"""System responses of a filter bank, the evaluation's frequency grid, the real reference
source, and the figures of a bank on a measured plant (NumPy only); the held-out
evaluation in the driver models is evaluation.heldout.

Filters ``W`` are (C, D, F) complex: input channel -> driver. Ear transfers ``H`` are
(P, F, 2, D) and far-field transfers ``G`` are (F, A, D) (CONVENTIONS.md shapes).
"""

from __future__ import annotations

import numpy as np

from evaluation import metrics
from models import Array
from models.heads import resolve_head
from models.measured_plants import (MeasuredPlant, ears_transfer, farfield_on_grid,
                                     farfield_response)

BEAM_AZIMUTHS_DEG = np.arange(-180.0, 180.0, 5.0)


def filter_responses(taps: np.ndarray, sample_rate: float, freqs_hz: np.ndarray) -> np.ndarray:
    """Complex (C, D, F) frequency responses of FIR ``taps`` (C, D, N) at ``freqs_hz``."""
    n = np.arange(taps.shape[-1])
    kernel = np.exp(-2j * np.pi * np.outer(n, freqs_hz) / sample_rate)  # (N, F)
    return np.asarray(taps, dtype=float) @ kernel


def ear_system(ear: np.ndarray, filters: np.ndarray) -> np.ndarray:
    """(P, F, 2, C) ear pressure for each input channel: ``sum_d H[p,f,e,d] W[c,d,f]``."""
    return np.einsum("pfed,cdf->pfec", ear, filters)


def beam_system(farfield: np.ndarray, filters: np.ndarray) -> np.ndarray:
    """(F, A, C) far-field response for each input channel."""
    return np.einsum("fad,cdf->fac", farfield, filters)


def real_source_ears(array: Array, freqs_hz: np.ndarray, azimuth_deg: float, head="sphere"
                     ) -> np.ndarray:
    """(F, 2) ear pressures at the nominal head for a point source at ``azimuth_deg``
    (counter-clockwise from the nose: +30 is the listener's left) at the nominal distance."""
    a = np.deg2rad(azimuth_deg)
    r = array.listener.distance_m
    source = np.array([[[r * np.cos(a), r * np.sin(a), 0.0]]])
    k = 2 * np.pi * freqs_hz / array.speed_of_sound_m_s
    rel = resolve_head(head).relative_response(freqs_hz, source, array.speed_of_sound_m_s)
    return rel[:, 0, :, 0] * (np.exp(-1j * k * r) / r)[:, None]


def evaluation_freqs(sample_rate: float) -> np.ndarray:
    """The frequency grid used for evaluation: 1/48-octave log grid 50 Hz-min(20k, fs/2)."""
    hi = min(20000.0, 0.49 * sample_rate)
    return np.geomspace(50.0, hi, int(np.ceil(48 * np.log2(hi / 50.0))) + 1)


def evaluate_measured(measured: MeasuredPlant, taps: np.ndarray, ctc_taps: np.ndarray,
                      sample_rate: float, speed_of_sound_m_s: float) -> dict:
    """Figures of FIR taps (3, D, N) and (2, D, N) on a measured plant: separation at the
    nominal pose and over the held-out poses (never trained on), and the beam figures of
    its measured far field when it has one. JSON-ready."""
    freqs = evaluation_freqs(sample_rate)
    ear = ears_transfer(measured.ears, freqs, sample_rate)  # (M, F, 2, D)
    sep = metrics.separation_db(ear_system(ear, filter_responses(ctc_taps, sample_rate, freqs)),
                                freqs).min(axis=-1)  # (M,)
    held = sep[measured.split.held_out]
    figures = {"separation_nominal_db": float(sep[measured.split.nominal]),
               "separation_held_out_median_db": float(np.median(held)),
               "separation_held_out_worst_db": float(held.min()),
               "poses": {"nominal": measured.split.nominal,
                         "train": measured.split.train.tolist(),
                         "held_out": measured.split.held_out.tolist()}}
    if measured.farfield is not None:
        response = farfield_response(measured.farfield, freqs, sample_rate, speed_of_sound_m_s)
        far = farfield_on_grid(measured.farfield, response, BEAM_AZIMUTHS_DEG)
        beam = beam_system(far, filter_responses(taps, sample_rate, freqs))[:, :, 2]
        figures.update({f"beam_{k}": v for k, v in
                        metrics.beam_metrics(beam, freqs, BEAM_AZIMUTHS_DEG).items()})
    return figures
