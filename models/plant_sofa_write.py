"""Measured-plant SOFA files written: what a measurement of a model would give, atomic
writing, and new poses or microphones appended to a file's plant (models/plant_sofa.py
has the layout and the reader).

Model-written IRs are band-limited like a converter's: a raised-cosine taper from
``BAND_EDGE`` times the Nyquist frequency to the Nyquist frequency, which keeps
fractional delays compact.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from common.atomic import atomic_output
from common.errors import InputError
from models._array import Array
from models._transfer import ear_transfer, head_frames
from models.drivers import DriverModel, resolve_driver_model
from models.heads import HeadModel, resolve_head
from models.plant_sofa import (CONVENTION, EAR_OFFSET_M, EMITTER_TOLERANCE_M, SAME_AZIMUTH_DEG,
                               SAME_FACING_DEG, SAME_POSITION_M, SAME_RADIUS_M, MeasuredEars,
                               MeasuredFarfield, default_receivers_m)

BAND_EDGE = 0.85  # model IRs are flat to this fraction of the Nyquist frequency
TAIL_S = 6e-3  # default IR length: the latest arrival plus this
FADE_S = 2e-3  # model IRs fade out over their last 2 ms


def model_ears(array: Array, sample_rate_hz: float, head_positions_m, facing=None, *,
               n_samples: int | None = None, head: "str | Path | HeadModel" = "sphere",
               driver_model: "str | DriverModel | None" = None,
               comment: str = "") -> MeasuredEars:
    """What a measurement of the model would give: IRs of ``ear_transfer`` at the poses
    (head_positions_m (M, 3), facing None or (M, 3)), band-limited, propagation delay
    kept, ``n_samples`` long (default: the latest arrival plus 6 ms)."""
    heads = np.asarray(head_positions_m, dtype=float)
    if heads.ndim != 2 or heads.shape[1] != 3:
        raise InputError(f"head_positions_m: expected (M, 3), got shape {heads.shape}")
    head_model = resolve_head(head)
    distance = np.linalg.norm(array.positions_m[None] - heads[:, None], axis=-1)
    n = _ir_length(n_samples, distance.max(), array.speed_of_sound_m_s, sample_rate_hz)
    ir = _impulse_responses(lambda f: ear_transfer(array, f, heads, facing, head_model,
                                                   driver_model), 1, n, sample_rate_hz)
    views = head_frames(heads, facing)[:, 0]
    ears = getattr(head_model, "ear_directions", None)
    receivers = (getattr(head_model, "radius_m", EAR_OFFSET_M) * ears() if ears else
                 default_receivers_m())
    return MeasuredEars(ir=np.moveaxis(ir, 1, 2), sample_rate_hz=float(sample_rate_hz),
                        listener_positions_m=heads, listener_views=views,
                        emitter_positions_m=array.positions_m, receiver_positions_m=receivers,
                        source=f"model of {array.name}", comment=comment)


def model_farfield(array: Array, sample_rate_hz: float, azimuths_deg, radius_m: float, *,
                   n_samples: int | None = None,
                   driver_model: "str | DriverModel | None" = None,
                   comment: str = "") -> MeasuredFarfield:
    """What microphones at ``radius_m`` and ``azimuths_deg`` (R,) in the horizontal plane
    would measure of the driver model (``pressure`` at those points), band-limited."""
    az = np.asarray(azimuths_deg, dtype=float).reshape(-1)
    if not (np.isfinite(radius_m) and radius_m > 0):
        raise InputError(f"radius_m: expected a positive radius, got {radius_m}")
    rad = np.deg2rad(az)
    points = radius_m * np.stack([np.cos(rad), np.sin(rad), np.zeros_like(rad)], axis=-1)
    distance = np.linalg.norm(array.positions_m[None] - points[:, None], axis=-1)
    n = _ir_length(n_samples, distance.max(), array.speed_of_sound_m_s, sample_rate_hz)
    model = resolve_driver_model(driver_model, array)
    ir = _impulse_responses(lambda f: model.pressure(array, f, points), 0, n, sample_rate_hz)
    return MeasuredFarfield(ir=np.moveaxis(ir, 0, 1), sample_rate_hz=float(sample_rate_hz),
                            azimuth_deg=az, elevation_deg=np.zeros_like(az),
                            radius_m=np.full(az.shape, float(radius_m)),
                            emitter_positions_m=array.positions_m,
                            source=f"model of {array.name}", comment=comment)


def write_ears_sofa(path: str | Path, array: Array, sample_rate_hz: float, head_positions_m,
                    facing=None, **kwargs) -> MeasuredEars:
    """Write the model's driver-to-ear IRs (see :func:`model_ears`) to ``path``."""
    plant = model_ears(array, sample_rate_hz, head_positions_m, facing, **kwargs)
    save_ears(path, plant)
    return plant


def write_farfield_sofa(path: str | Path, array: Array, sample_rate_hz: float, azimuths_deg,
                        radius_m: float, **kwargs) -> MeasuredFarfield:
    """Write the model's far-field IRs (see :func:`model_farfield`) to ``path``."""
    plant = model_farfield(array, sample_rate_hz, azimuths_deg, radius_m, **kwargs)
    save_farfield(path, plant)
    return plant


def save_ears(path: str | Path, plant: MeasuredEars) -> None:
    """Write ``plant`` as an ``ears.sofa`` file, atomically."""
    sofa = _new_sofa(plant.ir, plant.sample_rate_hz, plant.emitter_positions_m, plant.comment,
                     "soundstage measured plant: drivers to ears")
    sofa.ListenerPosition = plant.listener_positions_m
    sofa.add_variable("ListenerView", plant.listener_views, "double", "MC")
    sofa.add_attribute("ListenerView_Type", "cartesian")
    sofa.add_attribute("ListenerView_Units", "metre")
    sofa.add_variable("ListenerUp", [0.0, 0.0, 1.0], "double", "IC")
    sofa.ReceiverPosition = plant.receiver_positions_m
    _write(path, sofa)


def save_farfield(path: str | Path, plant: MeasuredFarfield) -> None:
    """Write ``plant`` as a ``farfield.sofa`` file, atomically."""
    sofa = _new_sofa(plant.ir[None], plant.sample_rate_hz, plant.emitter_positions_m,
                     plant.comment, "soundstage measured plant: drivers to far-field microphones")
    sofa.ListenerPosition = [0.0, 0.0, 0.0]
    sofa.add_variable("ListenerView", [1.0, 0.0, 0.0], "double", "IC")
    sofa.add_attribute("ListenerView_Type", "cartesian")
    sofa.add_attribute("ListenerView_Units", "metre")
    sofa.add_variable("ListenerUp", [0.0, 0.0, 1.0], "double", "IC")
    sofa.ReceiverPosition = np.column_stack([plant.azimuth_deg, plant.elevation_deg,
                                             plant.radius_m])
    sofa.ReceiverPosition_Type = "spherical"
    sofa.ReceiverPosition_Units = "degree, degree, metre"
    _write(path, sofa)


def _ir_length(n_samples: int | None, distance_m: float, c: float, fs: float) -> int:
    """Default: the latest arrival plus ``TAIL_S``, rounded up to a multiple of 256."""
    arrival = distance_m / c * fs
    if n_samples is None:
        return int(256 * np.ceil((arrival + TAIL_S * fs) / 256))
    if int(n_samples) != n_samples or n_samples < arrival + FADE_S * fs + 0.001 * fs:
        raise InputError(f"n_samples: expected a whole number of at least the latest arrival "
                         f"({arrival:.0f} samples) plus 3 ms, got {n_samples}")
    return int(n_samples)


def _impulse_responses(transfer, freq_axis: int, n: int, fs: float) -> np.ndarray:
    """IRs (n samples on ``freq_axis``) of ``transfer(freqs)``: computed on an 8 times
    longer grid (no time aliasing), band-limited, cut to n with a half-Hann fade-out over
    the last ``FADE_S`` (or n/16 samples if fewer)."""
    n_fft = 8 * n
    freqs = np.fft.rfftfreq(n_fft, 1.0 / fs)
    x = np.clip((freqs / (fs / 2) - BAND_EDGE) / (1 - BAND_EDGE), 0.0, 1.0)
    taper = 0.5 * (1 + np.cos(np.pi * x))
    spectra = np.moveaxis(transfer(freqs), freq_axis, 0)
    spectra = spectra * taper.reshape((-1,) + (1,) * (spectra.ndim - 1))
    ir = np.fft.irfft(spectra, n_fft, axis=0)[:n]
    fade = min(n // 16, int(FADE_S * fs))
    ir[n - fade:] *= np.cos(0.5 * np.pi * np.arange(1, fade + 1) / fade).reshape(
        (-1,) + (1,) * (ir.ndim - 1)) ** 2
    return np.moveaxis(ir, 0, freq_axis)


def _new_sofa(ir: np.ndarray, fs: float, emitters: np.ndarray, comment: str, title: str):
    import sofar

    sofa = sofar.Sofa(CONVENTION)
    sofa.Data_IR = ir
    sofa.Data_SamplingRate = float(fs)
    sofa.Data_Delay = np.zeros((1, ir.shape[1], ir.shape[3]))
    sofa.SourcePosition = [0.0, 0.0, 0.0]
    sofa.SourcePosition_Type = "cartesian"
    sofa.SourcePosition_Units = "metre"
    sofa.add_variable("SourceView", [1.0, 0.0, 0.0], "double", "IC")
    sofa.add_attribute("SourceView_Type", "cartesian")
    sofa.add_attribute("SourceView_Units", "metre")
    sofa.add_variable("SourceUp", [0.0, 0.0, 1.0], "double", "IC")
    sofa.EmitterPosition = emitters
    sofa.GLOBAL_Title = title
    sofa.GLOBAL_Comment = comment
    sofa.GLOBAL_ApplicationName = "soundstage"
    return sofa


def _write(path: str | Path, sofa) -> None:
    import sofar

    sofa.verify(issue_handling="raise")
    with atomic_output(path) as tmp:
        sofar.write_sofa(str(tmp), sofa)


def append_ears(existing: MeasuredEars, new: MeasuredEars) -> MeasuredEars:
    """``existing`` with the poses of ``new`` added; InputError (naming ``existing.source``)
    unless both have the same rate, length, emitters and ears, and no pose repeats (1 cm,
    1 degree)."""
    _check_same(existing, new)
    if not np.allclose(existing.receiver_positions_m, new.receiver_positions_m, atol=0.01):
        raise InputError(f"{existing.source}: ReceiverPosition: the file's ears "
                         f"{existing.receiver_positions_m.tolist()} differ from the new ones")
    check_new_poses(existing, new.listener_positions_m, new.listener_views)
    return dataclasses.replace(
        existing, ir=np.concatenate([existing.ir, new.ir]),
        listener_positions_m=np.concatenate([existing.listener_positions_m,
                                             new.listener_positions_m]),
        listener_views=np.concatenate([existing.listener_views, new.listener_views]),
        comment="\n".join(c for c in (existing.comment, new.comment) if c))


def check_new_poses(existing: MeasuredEars, positions_m: np.ndarray, views: np.ndarray) -> None:
    """InputError if a pose (positions (K, 3), views (K, 3)) is already in ``existing``
    (head within 1 cm, facing within 1 degree)."""
    for position, view in zip(positions_m, views):
        gap = np.linalg.norm(existing.listener_positions_m - position, axis=1)
        turn = np.abs((_azimuth(existing.listener_views) - _azimuth(view[None]) + np.pi)
                      % (2 * np.pi) - np.pi)
        same = np.flatnonzero((gap < SAME_POSITION_M) & (np.degrees(turn) < SAME_FACING_DEG))
        if same.size:
            raise InputError(f"{existing.source}: pose {np.round(position, 3).tolist()} "
                             f"facing azimuth {np.degrees(_azimuth(view[None])[0]):.1f} deg "
                             f"is already measured (pose {same[0]}); measure another pose")


def check_new_microphones(existing: MeasuredFarfield, azimuths_deg: np.ndarray,
                          radius_m: np.ndarray) -> None:
    """InputError unless microphones at ``azimuths_deg`` (K,), ``radius_m`` (K,) are new to
    ``existing`` (no azimuth within 0.5 degree) and on its circle (radius within 1 cm)."""
    if not np.allclose(radius_m, existing.radius_m[0], atol=SAME_RADIUS_M):
        raise InputError(f"{existing.source}: the file's measurement circle has radius "
                         f"{existing.radius_m[0]:g} m, the new microphone {radius_m[0]:g} m")
    for az in azimuths_deg:
        turn = np.abs((existing.azimuth_deg - az + 180) % 360 - 180)
        if np.any(turn < SAME_AZIMUTH_DEG):
            raise InputError(f"{existing.source}: azimuth {az:g} deg is already measured; "
                             f"measure another azimuth")


def append_farfield(existing: MeasuredFarfield, new: MeasuredFarfield) -> MeasuredFarfield:
    """``existing`` with the microphones of ``new`` added; InputError unless both have the
    same rate, length and emitters, the same radius (1 cm) and no azimuth repeats (0.5 deg)."""
    _check_same(existing, new)
    check_new_microphones(existing, new.azimuth_deg, new.radius_m)
    return dataclasses.replace(
        existing, ir=np.concatenate([existing.ir, new.ir]),
        azimuth_deg=np.concatenate([existing.azimuth_deg, new.azimuth_deg]),
        elevation_deg=np.concatenate([existing.elevation_deg, new.elevation_deg]),
        radius_m=np.concatenate([existing.radius_m, new.radius_m]),
        comment="\n".join(c for c in (existing.comment, new.comment) if c))


def _check_same(existing, new) -> None:
    """Rate, IR length and emitters of a measurement to append must match the file's."""
    where = existing.source
    if existing.sample_rate_hz != new.sample_rate_hz:
        raise InputError(f"{where}: measured at {existing.sample_rate_hz:g} Hz, but the new "
                         f"measurement is at {new.sample_rate_hz:g} Hz; run the server at the "
                         f"file's rate")
    if existing.ir.shape[-2] != new.ir.shape[-2]:
        raise InputError(f"{where}: its IRs are {existing.ir.shape[-2]} samples long, the new "
                         f"ones {new.ir.shape[-2]}; measure with the same IR length")
    if existing.emitter_positions_m.shape != new.emitter_positions_m.shape or not np.allclose(
            existing.emitter_positions_m, new.emitter_positions_m, atol=EMITTER_TOLERANCE_M):
        raise InputError(f"{where}: its emitters (drivers) differ from the array being "
                         f"measured; append only measurements of the same array")


def _azimuth(views: np.ndarray) -> np.ndarray:
    return np.arctan2(views[:, 1], views[:, 0])
