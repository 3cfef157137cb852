"""Loudspeaker arrays as frozen data: the drivers, the nominal listener, the array.

``models/_array_file.py`` reads and validates them from TOML. This module imports nothing
else of the package, so every model (drivers, heads, room) can take an array without a
cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Driver:
    """One transducer. Positions in metres in the device frame; ``axis`` is a unit vector."""

    name: str
    position_m: np.ndarray  # (3,)
    axis: np.ndarray  # (3,) unit
    radius_m: float
    band_hz: tuple[float, float]
    body_radius_m: float  # radius of the device body round this driver (body models), m


@dataclass(frozen=True)
class Listener:
    """Nominal listening position: head centre at ``[distance_m, 0, height_m]``."""

    distance_m: float
    height_m: float

    @property
    def head_position_m(self) -> np.ndarray:
        return np.array([self.distance_m, 0.0, self.height_m])


@dataclass(frozen=True)
class Array:
    """A loudspeaker array: its drivers, the speed of sound and the nominal listener."""

    name: str
    description: str
    drivers: tuple[Driver, ...]
    speed_of_sound_m_s: float
    listener: Listener
    source: str  # the file it was read from
    driver_model: str = "piston"  # default radiation model (models/drivers.py)

    @property
    def positions_m(self) -> np.ndarray:
        """(D, 3) driver positions, metres."""
        return np.stack([d.position_m for d in self.drivers])

    @property
    def axes(self) -> np.ndarray:
        """(D, 3) unit driver axes."""
        return np.stack([d.axis for d in self.drivers])

    @property
    def radii_m(self) -> np.ndarray:
        """(D,) piston radii, metres."""
        return np.array([d.radius_m for d in self.drivers])

    @property
    def bands_hz(self) -> np.ndarray:
        """(D, 2) usable band ``(lo, hi)`` of each driver, Hz."""
        return np.array([d.band_hz for d in self.drivers])

    def to_manifest(self) -> list[dict]:
        """Drivers as the filter-bank manifest lists them (CONVENTIONS.md)."""
        return [{"name": d.name, "position_m": d.position_m.tolist(), "axis": d.axis.tolist(),
                 "radius_m": d.radius_m, "band_hz": list(d.band_hz)} for d in self.drivers]
