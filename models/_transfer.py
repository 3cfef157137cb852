"""Driver-to-ear and driver-to-far-field transfer matrices (CONVENTIONS.md shapes).

Unit input to a driver makes a free-field pressure ``D exp(-jkr) / r`` at distance ``r``:
1 Pa at 1 m on axis, ``D`` the directivity of the driver model (models/drivers.py; the
array file's ``driver_model`` unless a call names another). At the ears the head model
multiplies this by its response relative to the free field at the head centre.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.errors import InputError
from models._array import Array
from models.drivers import DriverModel, resolve_driver_model
from models.heads import HeadModel, resolve_head


def head_frames(head_positions_m: np.ndarray, facing: np.ndarray | None) -> np.ndarray:
    """(P, 3, 3) rotation rows ``[forward, left, up]`` of each listener's head frame.

    ``facing`` (P, 3) is where each head looks; ``None`` faces the device centre. The
    frame is levelled: ``up`` stays +z and ``forward`` is the horizontal part of facing.
    """
    forward = -head_positions_m if facing is None else np.asarray(facing, float)
    forward = forward * np.array([1.0, 1.0, 0.0])
    norm = np.linalg.norm(forward, axis=-1, keepdims=True)
    if np.any(norm < 1e-9):
        raise InputError("facing: each listener needs a horizontal facing direction "
                         "(a head straight above or below the device has none)")
    forward = forward / norm
    up = np.broadcast_to([0.0, 0.0, 1.0], forward.shape)
    left = np.cross(up, forward)
    return np.stack([forward, left, up], axis=1)


def ear_transfer(array: Array, freqs_hz, head_positions_m, facing=None,
                 head: "str | Path | HeadModel" = "sphere",
                 driver_model: "str | DriverModel | None" = None) -> np.ndarray:
    """Pressure at both ears of P listeners for unit input to each driver.

    freqs_hz: (F,) Hz; head_positions_m: (P, 3) head centres in the device frame, metres;
    facing: None (face the device) or (P, 3) look directions; driver_model: a name of
    models.drivers.DRIVER_MODELS, a model, or None for the array's own. Returns complex
    (P, F, 2, D), ears ordered left, right.
    """
    freqs, heads, facing = _check_listeners(freqs_hz, head_positions_m, facing)
    direct = resolve_driver_model(driver_model, array).pressure(array, freqs, heads)  # (F, P, D)
    relative = head_relative_response(array, freqs, heads, facing, head)  # (F, P, 2, D)
    return np.moveaxis(direct[:, :, None, :] * relative, 0, 1)


def head_relative_response(array: Array, freqs_hz, head_positions_m, facing=None,
                           head: "str | Path | HeadModel" = "sphere") -> np.ndarray:
    """(F, P, 2, D) ear pressure over the free-field pressure at the head centre, for each
    driver of ``array`` as a point source at its position (arguments as ear_transfer)."""
    freqs, heads, facing = _check_listeners(freqs_hz, head_positions_m, facing)
    offset = array.positions_m[None] - heads[:, None]  # (P, D, 3) head centre -> driver
    sources_head = np.einsum("pij,pdj->pdi", head_frames(heads, facing), offset)
    return resolve_head(head).relative_response(freqs, sources_head, array.speed_of_sound_m_s)


def _check_listeners(freqs_hz, head_positions_m, facing):
    freqs = _check_freqs(freqs_hz)
    heads = np.asarray(head_positions_m, dtype=float)
    if heads.ndim != 2 or heads.shape[1] != 3 or not np.all(np.isfinite(heads)):
        raise InputError(f"head_positions_m: expected a finite (P, 3) array, got shape {heads.shape}")
    if facing is not None:
        facing = np.asarray(facing, dtype=float)
        if facing.shape != heads.shape or not np.all(np.isfinite(facing)):
            raise InputError(f"facing: expected None or a finite {heads.shape} array, "
                             f"got shape {facing.shape}")
    return freqs, heads, facing


def farfield_transfer(array: Array, freqs_hz, azimuths_deg,
                      driver_model: "str | DriverModel | None" = None) -> np.ndarray:
    """Far-field horizontal-plane response for unit input to each driver, 1/r removed.

    Phase is referred to the device origin. freqs_hz: (F,); azimuths_deg: (A,) counter-
    clockwise from +x; driver_model as in :func:`ear_transfer`. Returns complex (F, A, D).
    """
    freqs = _check_freqs(freqs_hz)
    az = np.deg2rad(np.asarray(azimuths_deg, dtype=float).reshape(-1))
    if not np.all(np.isfinite(az)):
        raise InputError("azimuths_deg: expected finite angles in degrees")
    u = np.stack([np.cos(az), np.sin(az), np.zeros_like(az)], axis=-1)  # (A, 3)
    return resolve_driver_model(driver_model, array).farfield(array, freqs, u)


def _check_freqs(freqs_hz) -> np.ndarray:
    freqs = np.asarray(freqs_hz, dtype=float)
    if freqs.ndim != 1 or freqs.size == 0 or not np.all(np.isfinite(freqs)) or np.any(freqs < 0):
        raise InputError(f"freqs_hz: expected a non-empty 1-D array of finite frequencies "
                         f">= 0 Hz, got shape {freqs.shape}")
    return freqs
