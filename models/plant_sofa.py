"""Measured plants as AES69-2022 SOFA files (convention ``GeneralFIR-E``): the data, read
and validated.

Layout (CONVENTIONS.md, "Measured plants"): the device is the source at the origin, its
drivers the emitters (in the array file's order), the global frame is the device frame.

* ``ears.sofa``: ``Data.IR`` (M, 2, N, E) for M listener poses, receivers left ear then
  right ear (``ReceiverPosition`` (2, 3) in the listener frame: x view, y left, z up),
  ``ListenerPosition`` (M, 3) head centres and ``ListenerView`` (M, 3) facing, cartesian.
* ``farfield.sofa``: one pose at the origin facing +x, R microphones as receivers,
  ``ReceiverPosition`` (R, 3) spherical (azimuth deg, elevation deg, radius m),
  ``Data.IR`` (1, R, N, E).

IRs keep their acoustic propagation delay (``Data.Delay`` zero). Writing files (of a
model, or of measurements) and appending to them: ``models/plant_sofa_write.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.errors import InputError
from models._array import Array
from models._head_sofa import _float_array
from models._transfer import head_frames

CONVENTION = "GeneralFIR-E"
EMITTER_TOLERANCE_M = 0.01  # emitters must lie this close to the array's drivers
EAR_OFFSET_M = 0.0875  # receiver y of a head without ear positions (a measurement's ears)
# Where a measurement may be taken, and what counts as the same place (measure.py,
# measure.py --verify and the IR importer alike).
MIN_HEAD_AXIS_M = 0.2  # a head at least this far from the device's vertical axis
MIN_RADIUS_M = 0.3  # far-field microphones on a circle of more than this radius
SAME_POSITION_M, SAME_FACING_DEG = 0.01, 1.0  # one pose: head and facing this close
SAME_AZIMUTH_DEG, SAME_RADIUS_M = 0.5, 0.01  # one microphone; one measurement circle


def default_receivers_m() -> np.ndarray:
    """(2, 3) ear positions (m, head frame: left ear first) where none are known."""
    return np.array([[0.0, EAR_OFFSET_M, 0.0], [0.0, -EAR_OFFSET_M, 0.0]])
MIN_EAR_POSES = 3


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


def read_ears_sofa(path: str | Path, array: Array | None = None, *,
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


def read_farfield_sofa(path: str | Path, array: Array | None = None) -> MeasuredFarfield:
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
