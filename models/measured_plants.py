"""Measured plants in the design: their transfer matrices at the design rate, which poses
train and which judge, the zone pool drawn from measured poses, and a measured far field
on the beam's azimuth grid.

Poses are compared with the tracked-bank metric of CONVENTIONS.md: distance in metres
plus ``|yaw difference| / 100`` (1 cm per degree), yaw 0 facing the device centre.
A zone pool holds every training pose and, for the rest, blends of a training pose with
one of its two nearest training neighbours: each ear/driver response is blended with its
onset removed and the blended onset put back (no comb filtering between two arrivals).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from common.errors import InputError
from common.poses import nearest_cells, pose_distance, pose_yaw_deg
from models._head_sofa import _dtft, onset_times
from models._resample import integer_rate, resample_ir
from models.plant_sofa import MeasuredEars, MeasuredFarfield

MAX_AZIMUTH_GAP_DEG = 15.0

Plant = TypeVar("Plant", MeasuredEars, MeasuredFarfield)


def resample_plant(measured: Plant, sample_rate_hz: float) -> Plant:
    """The same plant at another (integer) rate (models._resample.resample_ir)."""
    rate = integer_rate(sample_rate_hz)
    if integer_rate(measured.sample_rate_hz) == rate:
        return measured
    ir = resample_ir(measured.ir, measured.sample_rate_hz, rate, axis=-2)
    return dataclasses.replace(measured, ir=ir, sample_rate_hz=float(rate))


def ears_transfer(measured: MeasuredEars, freqs_hz, sample_rate_hz: float) -> np.ndarray:
    """Complex (M, F, 2, E) ear pressures at ``freqs_hz`` (F,) Hz, the ``ear_transfer``
    layout, from the IRs resampled to ``sample_rate_hz`` (the design rate)."""
    plant = resample_plant(measured, sample_rate_hz)
    freqs = _check_freqs(freqs_hz, plant.sample_rate_hz)
    spectra = _dtft(np.moveaxis(plant.ir, 2, -1), freqs, plant.sample_rate_hz)  # (M, 2, E, F)
    return spectra.transpose(0, 3, 1, 2)


def farfield_response(measured: MeasuredFarfield, freqs_hz, sample_rate_hz: float,
                      speed_of_sound_m_s: float) -> np.ndarray:
    """Complex (F, R, E) microphone responses in the ``farfield_transfer`` normalisation:
    the spreading ``1/r`` and the delay ``r/c`` of each microphone's radius removed."""
    plant = resample_plant(measured, sample_rate_hz)
    freqs = _check_freqs(freqs_hz, plant.sample_rate_hz)
    spectra = _dtft(np.moveaxis(plant.ir, 1, -1), freqs, plant.sample_rate_hz)  # (R, E, F)
    delay = np.exp(2j * np.pi * freqs[:, None] * plant.radius_m / speed_of_sound_m_s)  # (F, R)
    return spectra.transpose(2, 0, 1) * (plant.radius_m * delay)[..., None]


@dataclass(frozen=True)
class PoseSplit:
    """Indices into the measured poses: the nominal pose (trains, and judges the sweet
    spot), the training poses (nominal included) and the held-out poses."""

    nominal: int
    train: np.ndarray
    held_out: np.ndarray


def split_poses(ears: MeasuredEars, nominal_position_m: np.ndarray,
                held_out_fraction: float = 0.25, seed: int = 0) -> PoseSplit:
    """The pose nearest the nominal listener (yaw 0) trains and judges the sweet spot; a
    seeded ``held_out_fraction`` of the others (at least one) is held out, the rest train."""
    yaw = pose_yaw_deg(ears.listener_positions_m, ears.listener_views)
    poses = np.column_stack([ears.listener_positions_m, yaw])
    nominal = int(nearest_cells(poses, np.append(nominal_position_m, 0.0)))
    others = np.random.default_rng([seed, 104729]).permutation(
        np.setdiff1d(np.arange(len(yaw)), [nominal]))
    count = max(1, int(round(held_out_fraction * others.size)))
    if others.size - count < 1:
        raise InputError(f"{ears.source}: {len(yaw)} poses are too few to train on some and "
                         f"judge on others; measure at least 3")
    return PoseSplit(nominal, np.sort(np.concatenate([[nominal], others[count:]])),
                     np.sort(others[:count]))


def measured_pool(ears: MeasuredEars, transfers: np.ndarray, freqs_hz: np.ndarray,
                  train: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A zone pool of ``count`` listeners from the training poses.

    transfers: (M, F, 2, E) of every pose at ``freqs_hz``. Returns the pool's transfers
    (count, F, 2, E) and head positions (count, 3): the training poses first (cycled if
    ``count`` is smaller), then onset-aligned blends of a training pose with one of its
    two nearest training neighbours, with a uniform blend weight.
    """
    positions = ears.listener_positions_m
    plain = train[np.arange(count if train.size == 1 else min(count, train.size)) % train.size]
    blends = count - plain.size
    if blends == 0:
        return transfers[plain], positions[plain]
    rng = np.random.default_rng([seed, 15485863])
    onsets = onset_times(np.moveaxis(ears.ir, 2, -1), ears.sample_rate_hz, ears.source)
    yaw = pose_yaw_deg(positions, ears.listener_views)
    poses = np.column_stack([positions, yaw])[train]
    d = pose_distance(poses, poses)
    np.fill_diagonal(d, np.inf)
    neighbours = np.argsort(d, axis=1)[:, :2]  # (T, 2) into train
    a = rng.integers(0, train.size, blends)
    b = neighbours[a, rng.integers(0, min(2, train.size - 1), blends)]
    w = rng.random(blends)
    ia, ib = train[a], train[b]
    omega = 2j * np.pi * freqs_hz[None, :, None, None]
    ta, tb = onsets[ia][:, None], onsets[ib][:, None]  # (blends, 1, 2, E) seconds
    t = (1 - w)[:, None, None, None] * ta + w[:, None, None, None] * tb
    aligned = (1 - w)[:, None, None, None] * transfers[ia] * np.exp(omega * ta) + \
        w[:, None, None, None] * transfers[ib] * np.exp(omega * tb)
    blended = aligned * np.exp(-omega * t)
    heads = (1 - w)[:, None] * positions[ia] + w[:, None] * positions[ib]
    return (np.concatenate([transfers[plain], blended]),
            np.concatenate([positions[plain], heads]))


def farfield_on_grid(far: MeasuredFarfield, response: np.ndarray, azimuths_deg: np.ndarray
                     ) -> np.ndarray:
    """Complex (F, A, E) horizontal far field at ``azimuths_deg`` from the microphones at
    elevation 0 of ``response`` (F, R, E): linear interpolation round the circle, which
    needs 0 and +-90 deg measured (within 1 deg) and no gap over 15 deg."""
    level = np.abs(far.elevation_deg) < 1.0
    az = np.mod(np.asarray(far.azimuth_deg, float)[level] + 180.0, 360.0) - 180.0
    if az.size == 0:
        raise InputError(f"{far.source}: no microphone at elevation 0 deg: the beam is "
                         f"judged in the horizontal plane")
    for angle in (0.0, 90.0, -90.0):
        if np.min(np.abs(np.mod(az - angle + 180.0, 360.0) - 180.0)) > 1.0:
            raise InputError(f"{far.source}: no microphone within 1 deg of azimuth {angle:g} "
                             f"deg (the beam's on-axis and null directions must be measured)")
    order = np.argsort(az)
    az, values = az[order], response[:, level][:, order]
    gaps = np.diff(np.concatenate([az, [az[0] + 360.0]]))
    if gaps.max() > MAX_AZIMUTH_GAP_DEG:
        raise InputError(f"{far.source}: microphones leave a {gaps.max():.0f} deg gap in "
                         f"azimuth; measure at least every {MAX_AZIMUTH_GAP_DEG:g} deg")
    ring = np.concatenate([az - 360.0, az, az + 360.0])
    stacked = np.concatenate([values] * 3, axis=1)  # (F, 3R, E)
    target = np.mod(np.asarray(azimuths_deg, float) + 180.0, 360.0) - 180.0
    upper = np.clip(np.searchsorted(ring, target), 1, ring.size - 1)
    lower = upper - 1
    w = ((target - ring[lower]) / (ring[upper] - ring[lower]))[None, :, None]
    return (1 - w) * stacked[:, lower] + w * stacked[:, upper]


@dataclass(frozen=True)
class MeasuredPlant:
    """A measured device to train on: its ears (with the pose split) and, optionally, its
    far field (without it the beam is trained on the model ensemble)."""

    ears: MeasuredEars
    split: PoseSplit
    farfield: MeasuredFarfield | None = None


def _check_freqs(freqs_hz, fs: float) -> np.ndarray:
    freqs = np.asarray(freqs_hz, dtype=float)
    if freqs.ndim != 1 or not np.all(np.isfinite(freqs)) or np.any(freqs < 0) \
            or np.any(freqs > fs / 2):
        raise InputError(f"freqs_hz: expected a 1-D array of frequencies from 0 to the "
                         f"Nyquist frequency {fs / 2:g} Hz")
    return freqs
