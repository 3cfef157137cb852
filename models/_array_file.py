"""Array files: load a bundled or user array TOML and validate it into an :class:`Array`.

The ``driver_model`` field must name a model of ``models/drivers.py``, so this module sits
above the driver models, which only read the frozen array data of ``models/_array.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.errors import InputError
from models._array import Array, Driver, Listener
from models.drivers import driver_model_names
from common.tomlfields import Fields, read_toml

ARRAYS_DIR = Path(__file__).parent / "arrays"


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
    top.reject_unknown({"name", "description", "speed_of_sound_m_s", "listener", "drivers",
                        "driver_model"})
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
        driver_model=_driver_model_name(top),
    )


def _driver_model_name(top: Fields) -> str:
    name = top.string("driver_model", "piston")
    if name not in driver_model_names():
        raise InputError(f"{top.where}.driver_model: expected one of "
                         f"{', '.join(driver_model_names())}, got {name!r}")
    return name


def _parse_driver(f: Fields) -> Driver:
    """One ``[[drivers]]`` table. ``body_radius_m`` defaults to the distance of the driver's
    plane from the device centre along its axis, at least 1.25 driver radii (a cap of at
    most 53 deg)."""
    f.reject_unknown({"name", "position_m", "axis", "radius_m", "band_hz", "body_radius_m"})
    axis = f.vector("axis", 3)
    norm = float(np.linalg.norm(axis))
    if norm < 1e-9:
        raise InputError(f"{f.where}.axis: expected a non-zero direction vector, got {axis.tolist()}")
    band = f.vector("band_hz", 2)
    if not 0 < band[0] < band[1]:
        raise InputError(f"{f.where}.band_hz: expected [lo, hi] with 0 < lo < hi, got {band.tolist()}")
    position = f.vector("position_m", 3)
    radius = f.number("radius_m", positive=True)
    body_default = max(float(position @ (axis / norm)), 1.25 * radius)
    body = f.number("body_radius_m", body_default, positive=True)
    if body <= radius:
        raise InputError(f"{f.where}.body_radius_m: expected more than radius_m ({radius}), "
                         f"got {body}")
    return Driver(name=f.string("name"), position_m=position, axis=axis / norm, radius_m=radius,
                  band_hz=(float(band[0]), float(band[1])), body_radius_m=body)
