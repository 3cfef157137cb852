"""Measured plants as AES69-2022 SOFA files (convention ``GeneralFIR-E``), read and written.

Layout (CONVENTIONS.md, "Measured plants"): the device is the source at the origin, its
drivers the emitters (in the array file's order), the global frame is the device frame.

* ``ears.sofa``: ``Data.IR`` (M, 2, N, E) for M listener poses, receivers left ear then
  right ear (``ReceiverPosition`` (2, 3) in the listener frame: x view, y left, z up),
  ``ListenerPosition`` (M, 3) head centres and ``ListenerView`` (M, 3) facing, cartesian.
* ``farfield.sofa``: one pose at the origin facing +x, R microphones as receivers,
  ``ReceiverPosition`` (R, 3) spherical (azimuth deg, elevation deg, radius m),
  ``Data.IR`` (1, R, N, E).

IRs keep their acoustic propagation delay (``Data.Delay`` zero). Model-written IRs are
band-limited like a converter's: a raised-cosine taper from ``BAND_EDGE`` times the
Nyquist frequency to the Nyquist frequency, which keeps fractional delays compact.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.errors import InputError
from models._array import Array
from models._head_sofa import _dtft, _float_array
from models._resample import integer_rate, resample_ir
from models._transfer import ear_transfer, head_frames
from models.drivers import DriverModel, resolve_driver_model
from models.heads import HeadModel, resolve_head

CONVENTION = "GeneralFIR-E"
BAND_EDGE = 0.85  # model IRs are flat to this fraction of the Nyquist frequency
EMITTER_TOLERANCE_M = 0.01  # emitters must lie this close to the array's drivers
MIN_EAR_POSES = 3
TAIL_S = 6e-3  # default IR length: the latest arrival plus this
FADE_S = 2e-3  # model IRs fade out over their last 2 ms
EAR_OFFSET_M = 0.0875  # receiver y of a head model without ear positions

Source = "str | Path"


@dataclass(frozen=True, eq=False)
class MeasuredEars:
    """Driver-to-ear impulse responses of M listener poses.

    ir: (M, 2, N, E) float, Pa per unit driver input, left ear first; sample_rate_hz;
    listener_positions_m: (M, 3) head centres, device frame; listener_views: (M, 3)
    facing directions; emitter_positions_m: (E, 3) driver positions; receiver_positions_m:
    (2, 3) ears in the listener frame (x view, y left, z up); source: where it came from.
    """

    ir: np.ndarray
    sample_rate_hz: float
    listener_positions_m: np.ndarray
    listener_views: np.ndarray
    emitter_positions_m: np.ndarray
    receiver_positions_m: np.ndarray
    source: str = "measurements"
    comment: str = ""

    def __post_init__(self):
        m = _check_ir(self.ir, self.sample_rate_hz, self.emitter_positions_m, self.source)
        if self.ir.shape[1] != 2:
            raise InputError(f"{self.source}: Data.IR: expected two receivers (left ear, "
                             f"right ear), got {self.ir.shape[1]}")
        for name, value in (("ListenerPosition", self.listener_positions_m),
                            ("ListenerView", self.listener_views)):
            _check_finite(value, (m, 3), name, self.source)
        if np.any(np.linalg.norm(self.listener_views[:, :2], axis=1) < 1e-9):
            raise InputError(f"{self.source}: ListenerView: every pose needs a horizontal "
                             f"facing direction")
        _check_finite(self.receiver_positions_m, (2, 3), "ReceiverPosition", self.source)
        left, right = self.receiver_positions_m[:, 1]
        if not left > 0 > right:
            raise InputError(f"{self.source}: ReceiverPosition: expected the left ear first "
                             f"(y > 0) and the right ear second (y < 0), got y = {left:g}, "
                             f"{right:g} m")


@dataclass(frozen=True, eq=False)
class MeasuredFarfield:
    """Driver responses at R microphones round the device (one pose at the origin).

    ir: (R, N, E) float, Pa per unit driver input; sample_rate_hz; azimuth_deg, elevation_deg,
    radius_m: (R,) microphone positions (azimuth counter-clockwise from +x);
    emitter_positions_m: (E, 3) driver positions, device frame.
    """

    ir: np.ndarray
    sample_rate_hz: float
    azimuth_deg: np.ndarray
    elevation_deg: np.ndarray
    radius_m: np.ndarray
    emitter_positions_m: np.ndarray
    source: str = "measurements"
    comment: str = ""

    def __post_init__(self):
        if np.ndim(self.ir) != 3:
            raise InputError(f"{self.source}: IRs: expected shape (R microphones, N samples, "
                             f"E drivers), got {np.shape(self.ir)}")
        _check_ir(self.ir[None], self.sample_rate_hz, self.emitter_positions_m, self.source)
        r = self.ir.shape[0]
        for name, value in (("azimuth", self.azimuth_deg), ("elevation", self.elevation_deg),
                            ("radius", self.radius_m)):
            _check_finite(value, (r,), f"ReceiverPosition {name}", self.source)
        if np.any(self.radius_m <= 0):
            raise InputError(f"{self.source}: ReceiverPosition: every radius must be positive")

    @property
    def receiver_positions_m(self) -> np.ndarray:
        """(R, 3) cartesian microphone positions, device frame, metres."""
        az, el = np.deg2rad(self.azimuth_deg), np.deg2rad(self.elevation_deg)
        return self.radius_m[:, None] * np.stack(
            [np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=-1)


# ---------------------------------------------------------------- transfer matrices


def resample_plant(measured: "MeasuredEars | MeasuredFarfield",
                   sample_rate_hz: float) -> "MeasuredEars | MeasuredFarfield":
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


# ---------------------------------------------------------------- writing


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
                 np.array([[0.0, EAR_OFFSET_M, 0.0], [0.0, -EAR_OFFSET_M, 0.0]]))
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


def write_ears_sofa(path: Source, array: Array, sample_rate_hz: float, head_positions_m,
                    facing=None, **kwargs) -> MeasuredEars:
    """Write the model's driver-to-ear IRs (see :func:`model_ears`) to ``path``."""
    plant = model_ears(array, sample_rate_hz, head_positions_m, facing, **kwargs)
    save_ears(path, plant)
    return plant


def write_farfield_sofa(path: Source, array: Array, sample_rate_hz: float, azimuths_deg,
                        radius_m: float, **kwargs) -> MeasuredFarfield:
    """Write the model's far-field IRs (see :func:`model_farfield`) to ``path``."""
    plant = model_farfield(array, sample_rate_hz, azimuths_deg, radius_m, **kwargs)
    save_farfield(path, plant)
    return plant


def save_ears(path: Source, plant: MeasuredEars) -> None:
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


def save_farfield(path: Source, plant: MeasuredFarfield) -> None:
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


# ---------------------------------------------------------------- reading


def read_ears_sofa(path: Source, array: Array | None = None, *,
                   min_poses: int = MIN_EAR_POSES) -> MeasuredEars:
    """Read and validate an ``ears.sofa`` file; with ``array``, its emitters must be the
    array's drivers in order (within 1 cm). Fewer than ``min_poses`` poses is an error."""
    path = Path(path)
    sofa = _read(path)
    ir = _data_ir(sofa, path)
    if ir.shape[1] != 2:
        raise InputError(f"{path}: Data.IR: expected two receivers (left ear, right ear), "
                         f"got shape {ir.shape} (M poses, R receivers, N samples, E drivers)")
    m = ir.shape[0]
    if m < min_poses:
        raise InputError(f"{path}: too few listener poses: {m}; expected at least {min_poses}")
    listeners = _cartesian(sofa, "ListenerPosition", path, m)
    views = (_cartesian(sofa, "ListenerView", path, m) if hasattr(sofa, "ListenerView")
             else head_frames(listeners, None)[:, 0])
    receivers = _cartesian(sofa, "ReceiverPosition", path, 2, per_pose=False)
    plant = MeasuredEars(ir=ir, sample_rate_hz=_sample_rate(sofa, path),
                         listener_positions_m=listeners, listener_views=views,
                         emitter_positions_m=_emitters(sofa, path), receiver_positions_m=receivers,
                         source=str(path), comment=str(getattr(sofa, "GLOBAL_Comment", "")))
    if array is not None:
        check_emitters(plant.emitter_positions_m, array, str(path))
    return plant


def read_farfield_sofa(path: Source, array: Array | None = None) -> MeasuredFarfield:
    """Read and validate a ``farfield.sofa`` file (see :func:`read_ears_sofa`)."""
    path = Path(path)
    sofa = _read(path)
    ir = _data_ir(sofa, path)
    if ir.shape[0] != 1:
        raise InputError(f"{path}: Data.IR: expected one listener pose (the device centre) "
                         f"and the microphones as receivers, got {ir.shape[0]} poses")
    listener = _cartesian(sofa, "ListenerPosition", path, 1)
    if np.linalg.norm(listener) > EMITTER_TOLERANCE_M:
        raise InputError(f"{path}: ListenerPosition: expected [0, 0, 0] (the microphones are "
                         f"placed round the device centre), got {listener[0].tolist()}")
    r = ir.shape[1]
    kind = str(getattr(sofa, "ReceiverPosition_Type", "")).lower()
    if kind != "spherical":
        raise InputError(f"{path}: ReceiverPosition_Type: expected 'spherical' (azimuth deg, "
                         f"elevation deg, radius m), got {kind!r}")
    receivers = _float_array(sofa.ReceiverPosition)
    if receivers.shape not in ((r, 3), (r, 3, 1)):
        raise InputError(f"{path}: ReceiverPosition: expected shape ({r}, 3), one per "
                         f"microphone, got {receivers.shape}")
    receivers = receivers.reshape(r, 3)
    plant = MeasuredFarfield(ir=ir[0], sample_rate_hz=_sample_rate(sofa, path),
                             azimuth_deg=receivers[:, 0], elevation_deg=receivers[:, 1],
                             radius_m=receivers[:, 2], emitter_positions_m=_emitters(sofa, path),
                             source=str(path), comment=str(getattr(sofa, "GLOBAL_Comment", "")))
    if array is not None:
        check_emitters(plant.emitter_positions_m, array, str(path))
    return plant


def check_emitters(emitters_m: np.ndarray, array: Array, source: str) -> None:
    """Raise InputError unless the (E, 3) emitters are ``array``'s drivers, in order, each
    within 1 cm."""
    drivers = array.positions_m
    if emitters_m.shape != drivers.shape:
        raise InputError(f"{source}: EmitterPosition: {emitters_m.shape[0]} emitters, but array "
                         f"{array.name!r} has {drivers.shape[0]} drivers "
                         f"({', '.join(d.name for d in array.drivers)})")
    gap = np.linalg.norm(emitters_m[:, None] - drivers[None], axis=-1)  # (E, D)
    for e, driver in enumerate(array.drivers):
        if gap[e, e] <= EMITTER_TOLERANCE_M:
            continue
        nearest = int(np.argmin(gap[e]))
        where = (f"it lies at driver {nearest} {array.drivers[nearest].name!r} instead (the "
                 f"emitters are in another order than the array's drivers)"
                 if gap[e, nearest] <= EMITTER_TOLERANCE_M else
                 f"it lies {gap[e, e] * 100:.1f} cm away, at {np.round(emitters_m[e], 4).tolist()}")
        raise InputError(f"{source}: EmitterPosition: emitter {e} should be driver {e} "
                         f"{driver.name!r} of array {array.name!r} at "
                         f"{driver.position_m.tolist()} (within 1 cm), but {where}")


# ---------------------------------------------------------------- helpers


def _check_ir(ir: np.ndarray, fs: float, emitters: np.ndarray, source: str) -> int:
    """Validate (M, R, N, E) IRs, their rate and (E, 3) emitters; return M."""
    if not isinstance(ir, np.ndarray) or ir.ndim != 4 or min(ir.shape) < 1 or ir.shape[2] < 2:
        raise InputError(f"{source}: Data.IR: expected shape (M poses, R receivers, N >= 2 "
                         f"samples, E drivers), got {np.shape(ir)}")
    if not np.all(np.isfinite(ir)):
        m, r, n, e = np.argwhere(~np.isfinite(ir))[0]
        raise InputError(f"{source}: Data.IR holds non-finite values (NaN, inf or missing), "
                         f"first at pose {m}, receiver {r}, sample {n}, emitter {e}")
    if not (np.isfinite(fs) and fs > 0):
        raise InputError(f"{source}: Data.SamplingRate: expected a positive rate, got {fs}")
    _check_finite(emitters, (ir.shape[3], 3), "EmitterPosition", source)
    return ir.shape[0]


def _check_finite(value: np.ndarray, shape: tuple, name: str, source: str) -> None:
    if np.shape(value) != shape or not np.all(np.isfinite(value)):
        raise InputError(f"{source}: {name}: expected finite values of shape {shape}, got "
                         f"shape {np.shape(value)}")


def _check_freqs(freqs_hz, fs: float) -> np.ndarray:
    freqs = np.asarray(freqs_hz, dtype=float)
    if freqs.ndim != 1 or not np.all(np.isfinite(freqs)) or np.any(freqs < 0) \
            or np.any(freqs > fs / 2):
        raise InputError(f"freqs_hz: expected a 1-D array of frequencies from 0 to the "
                         f"Nyquist frequency {fs / 2:g} Hz")
    return freqs


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


def _write(path: Source, sofa) -> None:
    import sofar

    from common.atomic import atomic_output

    sofa.verify(issue_handling="raise")
    with atomic_output(path) as tmp:
        sofar.write_sofa(str(tmp), sofa)


def _read(path: Path):
    import netCDF4
    import sofar

    if not path.is_file():
        raise InputError(f"{path}: SOFA file not found")
    try:  # the convention first: sofar refuses data that do not fit the one named
        with netCDF4.Dataset(path) as data:
            convention = getattr(data, "SOFAConventions", None)
        if convention == CONVENTION:
            sofa = sofar.read_sofa(str(path), verify=False, verbose=False)
    except Exception as exc:  # sofar/netCDF raise many types for a damaged file
        raise InputError(f"{path}: not a readable SOFA (netCDF-4) file: {exc}") from None
    if convention != CONVENTION:
        raise InputError(f"{path}: SOFA convention {convention!r} is not supported for a "
                         f"measured plant; expected {CONVENTION!r}")
    return sofa


def _data_ir(sofa, path: Path) -> np.ndarray:
    ir = _float_array(sofa.Data_IR)
    if ir.ndim != 4:
        raise InputError(f"{path}: Data.IR: expected 4 dimensions (M poses, R receivers, "
                         f"N samples, E drivers), got shape {ir.shape}")
    delay = _float_array(getattr(sofa, "Data_Delay", 0.0))
    if np.any(delay != 0):
        raise InputError(f"{path}: Data.Delay: expected zeros (measured plants keep the "
                         f"propagation delay in Data.IR), got values up to "
                         f"{np.nanmax(np.abs(delay)):g} samples")
    source = _float_array(sofa.SourcePosition).reshape(-1)
    kind = str(getattr(sofa, "SourcePosition_Type", "")).lower()
    if source.size != 3 or (kind == "cartesian" and np.linalg.norm(source) > EMITTER_TOLERANCE_M) \
            or (kind == "spherical" and abs(source[2]) > EMITTER_TOLERANCE_M) \
            or kind not in ("cartesian", "spherical"):
        raise InputError(f"{path}: SourcePosition: expected the device at the origin, "
                         f"[0, 0, 0] cartesian, got {source.tolist()} {kind}")
    return ir


def _sample_rate(sofa, path: Path) -> float:
    fs = _float_array(sofa.Data_SamplingRate).reshape(-1)
    if fs.size != 1 or not np.isfinite(fs[0]) or fs[0] <= 0:
        raise InputError(f"{path}: Data.SamplingRate: expected one positive rate in Hz, "
                         f"got {fs.tolist()}")
    return float(fs[0])


def _emitters(sofa, path: Path) -> np.ndarray:
    kind = str(getattr(sofa, "EmitterPosition_Type", "")).lower()
    if kind != "cartesian":
        raise InputError(f"{path}: EmitterPosition_Type: expected 'cartesian' (driver "
                         f"positions in metres), got {kind!r}")
    emitters = _float_array(sofa.EmitterPosition)
    return emitters[..., 0] if emitters.ndim == 3 and emitters.shape[-1] == 1 else emitters


def _cartesian(sofa, name: str, path: Path, count: int, per_pose: bool = True) -> np.ndarray:
    """(count, 3) cartesian positions of variable ``name`` (a single row is repeated for
    per-pose variables)."""
    kind = str(getattr(sofa, f"{name}_Type", "")).lower()
    if kind != "cartesian":
        raise InputError(f"{path}: {name}_Type: expected 'cartesian', got {kind!r}")
    value = _float_array(getattr(sofa, name))
    if value.ndim == 3 and value.shape[-1] == 1:
        value = value[..., 0]
    if per_pose and value.shape == (1, 3):
        value = np.repeat(value, count, axis=0)
    if value.shape != (count, 3):
        raise InputError(f"{path}: {name}: expected shape ({count}, 3), got {value.shape}")
    return value


# ---------------------------------------------------------------- appending measurements


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
        same = np.flatnonzero((gap < 0.01) & (np.degrees(turn) < 1.0))
        if same.size:
            raise InputError(f"{existing.source}: pose {np.round(position, 3).tolist()} "
                             f"facing azimuth {np.degrees(_azimuth(view[None])[0]):.1f} deg "
                             f"is already measured (pose {same[0]}); measure another pose")


def check_new_microphones(existing: MeasuredFarfield, azimuths_deg: np.ndarray,
                          radius_m: np.ndarray) -> None:
    """InputError unless microphones at ``azimuths_deg`` (K,), ``radius_m`` (K,) are new to
    ``existing`` (no azimuth within 0.5 degree) and on its circle (radius within 1 cm)."""
    if not np.allclose(radius_m, existing.radius_m[0], atol=0.01):
        raise InputError(f"{existing.source}: the file's measurement circle has radius "
                         f"{existing.radius_m[0]:g} m, the new microphone {radius_m[0]:g} m")
    for az in azimuths_deg:
        turn = np.abs((existing.azimuth_deg - az + 180) % 360 - 180)
        if np.any(turn < 0.5):
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
