"""Figures of a bank verified on the device, per third-octave band: what it delivered
(responses measured through bank and device) beside what a plant predicts (the bank's
filters through measured or modelled driver responses).

Bands: the 11 third-octave bands centred at ``1000 * 2^(k/3)`` Hz, k = -3..7 (500 Hz to
5 kHz), edges at ``centre * 2^(+-1/6)``. A band's power is the sum of ``|X(f)|^2`` over
the bins of an FFT grid at most 1 Hz apart that lie in ``[lo, hi)``.

- CTC separation of binaural input i in a band: the band power at the ipsilateral ear
  (left for ``left_ear``) over that at the other ear, dB; the bands' figure is the mean
  of the two inputs' dB, and the summary the median of that over the bands.
- C level at azimuth A in a band: the band power at A over the band power on-axis, dB.

Responses are (receivers, inputs, N) impulse responses: ears x binaural inputs, or
microphone places x the C input. Predictions are computed in the frequency domain on
the same grid as the delivered responses' spectra.
"""

from __future__ import annotations

import numpy as np

from common.poses import nearest_cells, pose_distance, pose_views, poses_of
from evaluation.metrics import db_power
from models import Array
from models.measured_plants import resample_plant
from models.plant_sofa import MeasuredEars, MeasuredFarfield
from models.plant_sofa_write import model_ears, model_farfield

BAND_CENTRES_HZ = 1000.0 * 2.0 ** (np.arange(-3, 8) / 3.0)
BAND_EDGES_HZ = BAND_CENTRES_HZ[:, None] * 2.0 ** (np.array([-1.0, 1.0]) / 6.0)  # (B, 2)


def fft_size(sample_rate_hz: float, length: int) -> int:
    """The FFT length for band powers: a power of two, at least ``length`` (no wrap) and
    at least the sample rate (bins at most 1 Hz apart)."""
    return 1 << int(np.ceil(np.log2(max(length, sample_rate_hz))))


def band_powers(spectra: np.ndarray, sample_rate_hz: float, n_fft: int) -> np.ndarray:
    """(..., B) band powers of rfft spectra (..., n_fft // 2 + 1)."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate_hz)
    inside = (freqs >= BAND_EDGES_HZ[:, :1]) & (freqs < BAND_EDGES_HZ[:, 1:])  # (B, K)
    return np.abs(spectra) ** 2 @ inside.T.astype(float)


def delivered_spectra(responses: np.ndarray, n_fft: int) -> np.ndarray:
    """(R, I, K) spectra of measured responses (R, I, N)."""
    return np.fft.rfft(responses, n_fft, axis=-1)


def predicted_spectra(plant_ir: np.ndarray, filters: np.ndarray, n_fft: int) -> np.ndarray:
    """(R, I, K) spectra of the bank's FIRs ``filters`` (I, D, M) through the plant's
    driver responses ``plant_ir`` (R, N, D): ``sum_d H[r, d] W[i, d]``."""
    plant = np.fft.rfft(plant_ir, n_fft, axis=1)  # (R, K, D)
    bank = np.fft.rfft(filters, n_fft, axis=-1)  # (I, D, K)
    return np.einsum("rkd,idk->rik", plant, bank)


def separation_bands_db(spectra: np.ndarray, sample_rate_hz: float, n_fft: int) -> np.ndarray:
    """(B, 3) separation per band of binaural spectra (2 ears, 2 inputs, K): the
    ``left_ear`` input, the ``right_ear`` input and their mean, dB."""
    power = band_powers(spectra, sample_rate_hz, n_fft)  # (2, 2, B)
    left = db_power(power[0, 0]) - db_power(power[1, 0])
    right = db_power(power[1, 1]) - db_power(power[0, 1])
    return np.column_stack([left, right, 0.5 * (left + right)])


def levels_re_on_axis_db(spectra: np.ndarray, sample_rate_hz: float, n_fft: int) -> np.ndarray:
    """(P - 1, B) level per band at microphone places 1.. over place 0 (on-axis), dB, of
    spectra (P places, 1 input, K)."""
    power = band_powers(spectra[:, 0], sample_rate_hz, n_fft)  # (P, B)
    return db_power(power[1:]) - db_power(power[:1])


def predicted_ears(array: Array, sample_rate_hz: int, pose: np.ndarray,
                   plant: MeasuredEars | None) -> tuple[np.ndarray, dict]:
    """Driver-to-ear responses (2, N, D) that predict the delivered system at ``pose``
    (4,) (x, y, z in m, yaw in deg) and where they come from (JSON-ready): the measured
    pose of ``plant`` nearest to it (CONVENTIONS.md pose distance), or without a plant the
    model: ``array`` with its own driver model and the rigid-sphere head."""
    if plant is None:
        head = np.asarray(pose[:3], dtype=float)[None]
        model = model_ears(array, sample_rate_hz, head, pose_views(head, pose[3:4]))
        return model.ir[0], {"model": array.name, "head": "sphere",
                             "driver_model": array.driver_model}
    plant = resample_plant(plant, sample_rate_hz)
    poses = poses_of(plant.listener_positions_m, plant.listener_views)
    k = int(nearest_cells(poses, pose))
    return plant.ir[k], {"plant": plant.source, "pose_index": k,
                         "pose": np.round(poses[k], 4).tolist(),
                         "pose_distance": float(pose_distance(poses[k:k + 1], pose)[0])}


def predicted_microphones(array: Array, sample_rate_hz: int, azimuths_deg: np.ndarray,
                          radius_m: float | None, plant: MeasuredFarfield | None
                          ) -> tuple[np.ndarray, dict]:
    """Driver responses (P, N, D) at microphone places ``azimuths_deg`` (P,) that predict
    the delivered beam, and where they come from: the measured microphone of ``plant``
    nearest each azimuth, or the array's driver model at ``radius_m``."""
    azimuths = np.asarray(azimuths_deg, dtype=float)
    if plant is None:
        if radius_m is None:
            raise ValueError("radius_m: the model's prediction needs the microphones' radius")
        model = model_farfield(array, sample_rate_hz, azimuths, radius_m)
        return model.ir, {"model": array.name, "radius_m": radius_m,
                          "driver_model": array.driver_model}
    plant = resample_plant(plant, sample_rate_hz)
    gap = np.abs((plant.azimuth_deg[None] - azimuths[:, None] + 180.0) % 360.0 - 180.0)
    nearest = np.argmin(gap, axis=1)
    return plant.ir[nearest], {"plant": plant.source,
                               "azimuths_deg": plant.azimuth_deg[nearest].tolist(),
                               "radius_m": plant.radius_m[nearest].tolist()}
