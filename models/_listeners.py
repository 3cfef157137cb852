"""Listener positions: seeded zone sampling, named presets and the held-out grid."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.errors import InputError
from models._array import Listener
from common.tomlfields import Fields, check_number, read_toml

ZONES_FILE = Path(__file__).parent / "zones.toml"


@dataclass(frozen=True)
class Zone:
    """Spreads of the listening zone around the nominal listener (metres, degrees)."""

    lateral_m: float = 0.0
    distance_scale: tuple[float, float] = (1.0, 1.0)
    height_m: float = 0.0
    yaw_deg: float = 0.0

    def __post_init__(self):
        for name in ("lateral_m", "height_m", "yaw_deg"):
            check_number(getattr(self, name), f"zone.{name}", minimum=0.0)
        lo, hi = (check_number(v, "zone.distance_scale", positive=True) for v in self.distance_scale)
        if lo > hi:
            raise InputError(f"zone.distance_scale: expected [lo, hi] with lo <= hi, got {[lo, hi]}")
        if self.yaw_deg >= 90:
            raise InputError(f"zone.yaw_deg: expected less than 90 degrees, got {self.yaw_deg}")


@dataclass(frozen=True)
class Listeners:
    """P listener heads: centres (P, 3) in metres and facing directions (P, 3)."""

    positions_m: np.ndarray
    facing: np.ndarray

    def __len__(self) -> int:
        return self.positions_m.shape[0]


def zone_presets() -> dict[str, Zone]:
    """The named zones of ``models/zones.toml``."""
    data = read_toml(ZONES_FILE)
    return {name: parse_zone(table, f"{ZONES_FILE}:{name}") for name, table in data.items()}


def parse_zone(table: dict, where: str) -> Zone:
    """A zone from a TOML table; errors name ``where`` and the field."""
    f = Fields(table, where)
    f.reject_unknown({"lateral_m", "distance_scale", "height_m", "yaw_deg"})
    scale = f.vector("distance_scale", 2, [1.0, 1.0])
    values = dict(lateral_m=f.number("lateral_m", 0.0, minimum=0.0),
                  height_m=f.number("height_m", 0.0, minimum=0.0),
                  yaw_deg=f.number("yaw_deg", 0.0, minimum=0.0, maximum=89.0))
    try:  # Zone checks the scale's sign and order; its message lacks the file
        return Zone(distance_scale=(float(scale[0]), float(scale[1])), **values)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


def get_zone(name: str) -> Zone:
    """A preset zone by name; an unknown name lists the presets."""
    presets = zone_presets()
    if name not in presets:
        raise InputError(f"unknown zone {name!r}: presets are {', '.join(sorted(presets))}")
    return presets[name]


def place_listeners(nominal: Listener, lateral_m, distance_scale, height_m, yaw_deg) -> Listeners:
    """Heads offset from the nominal listener; all arguments broadcast to (P,).

    Heads face forward (-x, toward the device's front plane), turned by ``yaw_deg``
    (positive turns the nose counter-clockwise seen from above, i.e. toward -y, the
    listener's own left).
    """
    lateral, scale, height, yaw = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (lateral_m, distance_scale, height_m, yaw_deg)))
    positions = np.stack([nominal.distance_m * scale, lateral, nominal.height_m + height], axis=-1)
    look = np.pi + np.deg2rad(yaw)  # azimuth of the nose: -x turned by yaw
    facing = np.stack([np.cos(look), np.sin(look), np.zeros_like(look)], axis=-1)
    return Listeners(positions.reshape(-1, 3), facing.reshape(-1, 3))


def sample_listeners(zone: Zone, nominal: Listener, count: int, seed: int) -> Listeners:
    """``count`` heads drawn uniformly from ``zone``; the same seed gives the same heads."""
    if count < 1:
        raise InputError(f"count: expected at least 1 listener, got {count}")
    rng = np.random.default_rng(seed)
    return place_listeners(
        nominal,
        rng.uniform(-zone.lateral_m, zone.lateral_m, count),
        rng.uniform(*zone.distance_scale, count),
        rng.uniform(-zone.height_m, zone.height_m, count),
        rng.uniform(-zone.yaw_deg, zone.yaw_deg, count),
    )


HELDOUT_LATERAL_M = (-0.10, -0.05, 0.0, 0.05, 0.10)
HELDOUT_DISTANCE_SCALE = (0.75, 1.0, 1.5)
HELDOUT_YAW_DEG = (-10.0, 0.0, 10.0)


def heldout_grid(nominal: Listener, lateral_m=HELDOUT_LATERAL_M,
                 distance_scale=HELDOUT_DISTANCE_SCALE, height_m=(0.0,),
                 yaw_deg=HELDOUT_YAW_DEG) -> tuple[Listeners, dict[str, np.ndarray]]:
    """The fixed evaluation grid (a full product of the given offsets), never sampled in
    training. Returns the heads and the grid coordinates of each head, by name."""
    grids = np.meshgrid(*(np.asarray(v, float) for v in (lateral_m, distance_scale, height_m, yaw_deg)),
                        indexing="ij")
    flat = [g.reshape(-1) for g in grids]
    coords = dict(zip(("lateral_m", "distance_scale", "height_m", "yaw_deg"), flat))
    return place_listeners(nominal, *flat), coords
