"""Loudspeaker arrays as validated, frozen data loaded from TOML files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.errors import InputError
from models.tomlfields import Fields, read_toml

ARRAYS_DIR = Path(__file__).parent / "arrays"


@dataclass(frozen=True)
class Driver:
    """One transducer. Positions in metres in the device frame; ``axis`` is a unit vector."""

    name: str
    position_m: np.ndarray  # (3,)
    axis: np.ndarray  # (3,) unit
    radius_m: float
    band_hz: tuple[float, float]


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


def bundled_arrays() -> list[str]:
    """Names of the arrays shipped in ``models/arrays``."""
    return sorted(p.stem for p in ARRAYS_DIR.glob("*.toml"))


def load_array(name_or_path: str | Path) -> Array:
    """Load a bundled array by name (``"studio"``) or any array TOML file by path."""
    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text or "\\" in text:
        path = Path(text)
    else:
        path = ARRAYS_DIR / f"{text}.toml"
        if not path.is_file():
            raise InputError(f"unknown array {text!r}: bundled arrays are "
                             f"{', '.join(bundled_arrays())}, or give a path to a .toml file")
    return parse_array(read_toml(path), str(path))


def parse_array(data: dict, source: str) -> Array:
    """Validate a parsed array table; errors name ``source`` and the field."""
    top = Fields(data, source)
    top.reject_unknown({"name", "description", "speed_of_sound_m_s", "listener", "drivers"})
    listener = top.table("listener")
    listener.reject_unknown({"distance_m", "height_m"})
    drivers = tuple(_parse_driver(f) for f in top.tables("drivers"))
    names = [d.name for d in drivers]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise InputError(f"{source}: driver names must be unique, repeated: {', '.join(dup)}")
    return Array(
        name=top.string("name"),
        description=top.string("description", "-"),
        drivers=drivers,
        speed_of_sound_m_s=top.number("speed_of_sound_m_s", 343.0, minimum=100.0, maximum=2000.0),
        listener=Listener(distance_m=listener.number("distance_m", positive=True),
                          height_m=listener.number("height_m", 0.0)),
        source=source,
    )


def _parse_driver(f: Fields) -> Driver:
    f.reject_unknown({"name", "position_m", "axis", "radius_m", "band_hz"})
    axis = f.vector("axis", 3)
    norm = float(np.linalg.norm(axis))
    if norm < 1e-9:
        raise InputError(f"{f.where}.axis: expected a non-zero direction vector, got {axis.tolist()}")
    band = f.vector("band_hz", 2)
    if not 0 < band[0] < band[1]:
        raise InputError(f"{f.where}.band_hz: expected [lo, hi] with 0 < lo < hi, got {band.tolist()}")
    return Driver(name=f.string("name"), position_m=f.vector("position_m", 3), axis=axis / norm,
                  radius_m=f.number("radius_m", positive=True),
                  band_hz=(float(band[0]), float(band[1])))
