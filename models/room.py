"""Shoebox room: its size, wall absorption and where the device sits, read from TOML.

Room frame: origin at a floor corner, the room spans ``[0, Lx] x [0, Ly] x [0, Lz]``,
``+z`` up. Walls are ordered ``x-, x+, y-, y+, z-, z+`` (``x = 0``, ``x = Lx``, ...; z- is
the floor). The device sits at ``device_position_m`` with its own ``+x`` (front) turned
``device_yaw_deg`` counter-clockwise from the room's ``+x`` seen from above. Each wall has
an energy absorption coefficient ``alpha`` (frequency independent). The sound field in
the room (image sources) is ``models/room_images.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.errors import InputError
from models._array import Array
from common.tomlfields import Fields, check_number, read_toml

ROOMS_FILE = Path(__file__).parent / "rooms.toml"
WALLS = ("x-", "x+", "y-", "y+", "z-", "z+")
MAX_ORDER_LIMIT = 40


@dataclass(frozen=True, eq=False)
class Room:
    """A shoebox room and where the device sits in it (see the module docstring).

    dimensions_m: (3,) Lx, Ly, Lz; absorption: (6,) energy coefficients in [0, 1],
    walls ``x-, x+, y-, y+, z-, z+``; max_order: highest reflection order kept;
    device_position_m: (3,) device origin in the room; device_yaw_deg: device front
    counter-clockwise from room +x; speed_of_sound_m_s: None uses the array's.
    """

    dimensions_m: np.ndarray
    absorption: np.ndarray
    max_order: int
    device_position_m: np.ndarray
    device_yaw_deg: float = 0.0
    speed_of_sound_m_s: float | None = None
    name: str = "room"

    def __post_init__(self):
        where = f"room {self.name!r}"
        dims = _vector(self.dimensions_m, 3, f"{where}: dimensions_m")
        if np.any(dims <= 0):
            raise InputError(f"{where}: dimensions_m: expected three positive lengths, "
                             f"got {dims.tolist()}")
        alpha = np.full(6, float(self.absorption)) if np.ndim(self.absorption) == 0 \
            else _vector(self.absorption, 6, f"{where}: absorption")
        if not np.all((alpha >= 0) & (alpha <= 1)) or not np.all(np.isfinite(alpha)):
            raise InputError(f"{where}: absorption: expected energy coefficients in [0, 1] for "
                             f"walls {', '.join(WALLS)}, got {alpha.tolist()}")
        if isinstance(self.max_order, bool) or int(self.max_order) != self.max_order \
                or not 0 <= self.max_order <= MAX_ORDER_LIMIT:
            raise InputError(f"{where}: max_order: expected an integer from 0 to "
                             f"{MAX_ORDER_LIMIT}, got {self.max_order!r}")
        device = _vector(self.device_position_m, 3, f"{where}: device_position_m")
        if not inside(device, dims):
            raise InputError(f"{where}: device_position_m {device.tolist()} is not inside the "
                             f"room [0, {dims[0]}] x [0, {dims[1]}] x [0, {dims[2]}]")
        check_number(self.device_yaw_deg, f"{where}: device_yaw_deg")
        if self.speed_of_sound_m_s is not None:
            check_number(self.speed_of_sound_m_s, f"{where}: speed_of_sound_m_s",
                         minimum=100.0, maximum=2000.0)
        for name, value in (("dimensions_m", dims), ("absorption", alpha),
                            ("device_position_m", device)):
            value.flags.writeable = False
            object.__setattr__(self, name, value)
        object.__setattr__(self, "max_order", int(self.max_order))
        object.__setattr__(self, "device_yaw_deg", float(self.device_yaw_deg))

    @property
    def rotation(self) -> np.ndarray:
        """(3, 3) device frame -> room frame rotation (about +z by ``device_yaw_deg``)."""
        t = np.deg2rad(self.device_yaw_deg)
        return np.array([[np.cos(t), -np.sin(t), 0.0], [np.sin(t), np.cos(t), 0.0],
                         [0.0, 0.0, 1.0]])

    def device_to_room(self, points_m: np.ndarray) -> np.ndarray:
        """(..., 3) device-frame points -> room-frame points, metres."""
        return np.asarray(points_m, float) @ self.rotation.T + self.device_position_m

    @property
    def wall_areas_m2(self) -> np.ndarray:
        """(6,) area of each wall, order ``x-, x+, y-, y+, z-, z+``."""
        lx, ly, lz = self.dimensions_m
        return np.repeat([ly * lz, lx * lz, lx * ly], 2)

    @property
    def absorption_area_m2(self) -> float:
        """Sabine equivalent absorption area ``A = sum_w S_w alpha_w``, m^2."""
        return float(self.wall_areas_m2 @ self.absorption)

    @property
    def volume_m3(self) -> float:
        return float(np.prod(self.dimensions_m))

    def speed_of_sound(self, array: Array) -> float:
        """The room's speed of sound, or the array's when the room has none."""
        return array.speed_of_sound_m_s if self.speed_of_sound_m_s is None \
            else float(self.speed_of_sound_m_s)


def inside(point: np.ndarray, dims: np.ndarray) -> bool:
    """Whether ``point`` (3,) lies strictly inside the box ``[0, dims]`` (3,), metres."""
    return bool(np.all(point > 0) and np.all(point < dims))


def _vector(value, length: int, where: str) -> np.ndarray:
    vec = np.array(value, dtype=float).reshape(-1) if np.ndim(value) else np.array([np.nan])
    if vec.shape != (length,) or not np.all(np.isfinite(vec)):
        raise InputError(f"{where}: expected {length} finite numbers, got {value!r}")
    return vec


# ---- TOML -----------------------------------------------------------------------------

def parse_room(table: dict, where: str, name: str = "room") -> Room:
    """A room from a TOML table; errors name ``where`` and the field. ``absorption`` is
    one number for every wall or a list of six (``x-, x+, y-, y+, z-, z+``)."""
    f = Fields(table, where)
    f.reject_unknown({"dimensions_m", "absorption", "max_order", "device_position_m",
                      "device_yaw_deg", "speed_of_sound_m_s", "description"})
    raw = f.data.get("absorption")
    if raw is None:
        raise InputError(f"{where}.absorption: missing required field")
    if isinstance(raw, list):
        alpha = f.vector("absorption", 6)
    else:
        alpha = np.full(6, f.number("absorption"))
    for w, a in zip(WALLS, alpha):
        check_number(a, f"{where}.absorption[{w}]", minimum=0.0, maximum=1.0)
    order = f.number("max_order", minimum=0, maximum=MAX_ORDER_LIMIT)
    if isinstance(f.data["max_order"], float):
        raise InputError(f"{where}.max_order: expected an integer, got {f.data['max_order']!r}")
    speed = f.data.get("speed_of_sound_m_s")
    return Room(
        dimensions_m=f.vector("dimensions_m", 3), absorption=alpha, max_order=int(order),
        device_position_m=f.vector("device_position_m", 3),
        device_yaw_deg=f.number("device_yaw_deg", 0.0),
        speed_of_sound_m_s=None if speed is None else f.number("speed_of_sound_m_s",
                                                               minimum=100.0, maximum=2000.0),
        name=name)


def room_presets() -> dict[str, Room]:
    """The named rooms of ``models/rooms.toml``."""
    data = read_toml(ROOMS_FILE)
    return {name: parse_room(table, f"{ROOMS_FILE}:{name}", name) for name, table in data.items()}


def load_room(name_or_path: str | Path) -> Room:
    """A preset room by name (``"living_room"``) or a TOML file holding one room table."""
    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text or "\\" in text:
        return parse_room(read_toml(text), text, Path(text).stem)
    presets = room_presets()
    if text not in presets:
        raise InputError(f"unknown room {text!r}: presets are {', '.join(sorted(presets))}, "
                         f"or give a path to a .toml file")
    return presets[text]
