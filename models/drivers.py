"""Driver radiation models behind one interface, chosen by name.

A driver model gives, for unit input to each driver of an array, the free-field pressure
at points in space (near field included) and the far-field horizontal response. Every
model obeys the same normalisation so that models can be swapped and compared:

* ``pressure``: about ``D exp(-jkr) / r`` with ``r`` the distance from the driver's
  acoustic centre (its ``position_m``), ``D -> 1`` on the driver's axis in the far field
  (1 Pa at 1 m for unit input, zero phase re the acoustic centre);
* ``farfield``: the same with the ``1/r`` spreading removed and the phase referred to the
  device origin, i.e. ``D exp(+jk u.p)`` for direction ``u`` and driver position ``p``.

Models differ in the physics of the device body (docs/models.md compares them):

* ``piston``: a baffled piston in front with a heuristic roll-off behind
  (models/_piston.py);
* ``cap_sphere``: a vibrating cap of half-angle ``arcsin(radius_m / body_radius_m)`` on a
  rigid sphere of ``body_radius_m``, exact spherical-harmonic series, each driver equalised
  flat on its own axis (models/_cap_sphere.py);
* ``baffle_edge``: a piston on a flat circular baffle of ``body_radius_m`` whose rim
  re-radiates -1/2 (in front) or +1/2 (behind) of the grazing sound, which gives the baffle
  step and the rear radiation, equalised flat on axis (models/_baffle_edge.py).

Further models register in :data:`DRIVER_MODELS`.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from common.errors import InputError
from models._array import Array
from models._baffle_edge import BaffleEdgeModel
from models._cap_sphere import CapSphereModel
from models._piston import piston_directivity


class DriverModel(Protocol):
    """What every driver model provides (shapes: F freqs, P points, A directions, D drivers)."""

    def pressure(self, array: Array, freqs_hz: np.ndarray, points_m: np.ndarray) -> np.ndarray:
        """Complex (F, P, D) free-field pressure at ``points_m`` (P, 3), device frame, metres."""
        ...

    def farfield(self, array: Array, freqs_hz: np.ndarray, directions: np.ndarray) -> np.ndarray:
        """Complex (F, A, D) far-field response toward unit ``directions`` (A, 3), 1/r removed,
        phase referred to the device origin."""
        ...


class PistonModel:
    """Baffled circular piston in front, raised-cosine fade to ``1/sqrt(1+(ka)^2)`` behind."""

    def pressure(self, array: Array, freqs_hz: np.ndarray, points_m: np.ndarray) -> np.ndarray:
        offset = array.positions_m[None] - points_m[:, None]  # (P, D, 3) point -> driver
        distance = np.linalg.norm(offset, axis=-1)  # (P, D)
        cos_theta = -np.einsum("pdk,dk->pd", offset, array.axes) / distance
        k = 2 * np.pi * freqs_hz / array.speed_of_sound_m_s
        ka = k[:, None] * array.radii_m[None]  # (F, D)
        return piston_directivity(ka[:, None, :], cos_theta[None]) * \
            np.exp(-1j * k[:, None, None] * distance[None]) / distance[None]

    def farfield(self, array: Array, freqs_hz: np.ndarray, directions: np.ndarray) -> np.ndarray:
        k = 2 * np.pi * freqs_hz / array.speed_of_sound_m_s
        cos_theta = directions @ array.axes.T  # (A, D)
        ka = k[:, None] * array.radii_m[None]
        lead = directions @ array.positions_m.T  # (A, D) path shortening vs the origin, m
        return piston_directivity(ka[:, None, :], cos_theta[None]) * \
            np.exp(1j * k[:, None, None] * lead[None])


DRIVER_MODELS: dict[str, DriverModel] = {
    "piston": PistonModel(),
    "cap_sphere": CapSphereModel(),
    "baffle_edge": BaffleEdgeModel(),
}


def driver_model_names() -> list[str]:
    """Names accepted by ``driver_model=`` and an array file's ``driver_model`` field."""
    return sorted(DRIVER_MODELS)


def resolve_driver_model(model: "str | DriverModel | None", array: Array) -> DriverModel:
    """A model object from a name, a model, or ``None`` (the array file's own choice)."""
    if model is None:
        model = array.driver_model
    if hasattr(model, "pressure") and hasattr(model, "farfield"):
        return model
    if model not in DRIVER_MODELS:
        raise InputError(f"driver_model: unknown model {model!r}; expected one of "
                         f"{', '.join(driver_model_names())}")
    return DRIVER_MODELS[model]
