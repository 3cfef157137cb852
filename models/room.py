"""Shoebox room: image-source model (Allen & Berkley 1979) with directional drivers.

Room frame: origin at a floor corner, the room spans ``[0, Lx] x [0, Ly] x [0, Lz]``,
``+z`` up. Walls are ordered ``x-, x+, y-, y+, z-, z+`` (``x = 0``, ``x = Lx``, ...; z- is
the floor). The device sits at ``device_position_m`` with its own ``+x`` (front) turned
``device_yaw_deg`` counter-clockwise from the room's ``+x`` seen from above.

Per axis an image of a point ``p`` is ``(1 - 2q) p + 2 n L`` for ``q`` in {0, 1} and
integer ``n``; it has met the lower wall ``|n - q|`` times and the upper wall ``|n|``
times, and is mirrored in that axis when ``q = 1``. Each wall has an energy absorption
coefficient ``alpha`` (frequency independent); a reflection scales pressure by
``sqrt(1 - alpha)``. The model keeps every image whose total reflection count is at most
``max_order``.

Each image of a driver radiates like the driver itself (``models/_piston.py``) about
the driver's axis mirrored by the same reflections, with ``exp(-jkr) / r``: unit input
makes ``D(theta) exp(-jkr) / r`` Pa per image, as in ``models/_transfer.py``, so order 0
is the free-field model. Receivers are omnidirectional points.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from common.errors import InputError
from models._array import Array
from models._piston import piston_directivity
from models._transfer import _check_freqs
from models.tomlfields import Fields, check_number, read_toml

ROOMS_FILE = Path(__file__).parent / "rooms.toml"
WALLS = ("x-", "x+", "y-", "y+", "z-", "z+")
MAX_ORDER_LIMIT = 40
_CHUNK = 2_000_000  # frequency x image x receiver elements per block
_FD_HALF = 32  # fractional-delay kernel: taps on each side
_KAISER_BETA = 8.0
_ANGLES = 181  # directivity angles tabulated from 0 to 180 deg (1-deg steps)
_DIR_TAPS = 128


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
        if not _inside(device, dims):
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


class Images(NamedTuple):
    """Image sources of one point: positions (I, 3) in the room frame, reflections (I, 6)
    per wall, mirror (I, 3) signs (-1 where the image is flipped in that axis) and
    amplitude (I,) = prod_w sqrt(1 - alpha_w) ** reflections_w. Row 0 is the point itself."""

    positions_m: np.ndarray
    reflections: np.ndarray
    mirror: np.ndarray
    amplitude: np.ndarray


def image_sources(point_m: np.ndarray, room: Room) -> Images:
    """All images of ``point_m`` (3,) (room frame, inside the room) up to ``room.max_order``."""
    point = np.asarray(point_m, dtype=float)
    order = room.max_order
    n = np.arange(-order, order + 1)
    axes = []
    for axis in range(3):  # per axis: (K,) coordinate, lower and upper counts, sign
        q = np.repeat([0, 1], n.size)
        nn = np.tile(n, 2)
        sign = 1 - 2 * q
        axes.append((sign * point[axis] + 2 * nn * room.dimensions_m[axis],
                     np.abs(nn - q), np.abs(nn), sign))
    kx, ky, kz = np.meshgrid(*(np.arange(a[0].size) for a in axes), indexing="ij")
    picks = [k.reshape(-1) for k in (kx, ky, kz)]
    counts = np.stack([c[p] for a, p in zip(axes, picks) for c in (a[1], a[2])], axis=1)
    keep = counts.sum(axis=1) <= order
    counts = counts[keep]
    positions = np.stack([a[0][p[keep]] for a, p in zip(axes, picks)], axis=1)
    mirror = np.stack([a[3][p[keep]] for a, p in zip(axes, picks)], axis=1).astype(float)
    first = np.argsort(counts.sum(axis=1), kind="stable")  # order 0 (the point) first
    counts, positions, mirror = counts[first], positions[first], mirror[first]
    amplitude = np.prod(np.sqrt(1.0 - room.absorption) ** counts, axis=1)
    return Images(positions, counts, mirror, amplitude)


def driver_positions(array: Array, room: Room) -> tuple[np.ndarray, np.ndarray]:
    """(D, 3) driver positions and (D, 3) unit axes in the room frame; a driver outside
    the room raises :class:`InputError`."""
    positions = room.device_to_room(array.positions_m)
    for driver, p in zip(array.drivers, positions):
        if not _inside(p, room.dimensions_m):
            raise InputError(f"room {room.name!r}: driver {driver.name!r} of array "
                             f"{array.name!r} lies outside the room at {np.round(p, 3).tolist()}")
    return positions, array.axes @ room.rotation.T


def room_transfer(array: Array, room: Room, freqs_hz, receivers_m, *,
                  directivity: bool = True) -> np.ndarray:
    """Pressure at omnidirectional receivers for unit input to each driver, in the room.

    freqs_hz: (F,) Hz; receivers_m: (R, 3) room-frame positions inside the room.
    ``directivity=False`` makes every driver a point source (``D = 1``). Returns
    complex (F, R, D).
    """
    freqs = _check_freqs(freqs_hz)
    receivers = _receivers(receivers_m, room)
    k = 2 * np.pi * freqs / room.speed_of_sound(array)
    out = np.zeros((freqs.size, receivers.shape[0], len(array.drivers)), dtype=complex)
    for d, (amplitude, distance, cos_theta) in enumerate(_paths(array, room, receivers)):
        radius = array.drivers[d].radius_m
        step = max(1, _CHUNK // distance.size)
        for lo in range(0, freqs.size, step):
            kk = k[lo:lo + step, None, None]
            gain = piston_directivity(kk * radius, cos_theta[None]) if directivity else 1.0
            out[lo:lo + step, :, d] = np.einsum(
                "i,fir->fr", amplitude, gain * np.exp(-1j * kk * distance[None]) / distance[None])
    return out


def room_impulse_response(array: Array, room: Room, receivers_m, sample_rate_hz: float, *,
                          directivity: bool = True) -> np.ndarray:
    """Real impulse responses (R, D, N) at ``sample_rate_hz`` from each driver to each
    receiver (room frame); time 0 is the instant the driver is fed and N runs to 5 ms past
    the latest arrival.

    Built in the time domain so that high orders stay cheap: each image adds its gain
    ``amplitude / r`` through a Kaiser-windowed sinc fractional delay (``_FD_HALF`` taps
    a side) into one of ``_ANGLES`` pulse trains by its angle from the mirrored axis
    (linear weights between neighbouring angles), and each train is convolved with the
    driver's zero-phase directivity FIR at that angle (``_DIR_TAPS`` taps, from
    ``piston_directivity`` on a DFT grid). Its spectrum agrees with ``room_transfer`` to
    better than -40 dB up to 0.8 x Nyquist; above, the fractional delay rolls off.
    """
    fs = check_number(sample_rate_hz, "sample_rate_hz", positive=True)
    receivers = _receivers(receivers_m, room)
    c = room.speed_of_sound(array)
    paths = list(_paths(array, room, receivers))
    n_taps = int(np.ceil((max(float(p[1].max()) for p in paths) / c + 5e-3) * fs))
    n_fft = 1 << int(np.ceil(np.log2(n_taps + 2 * _FD_HALF + _DIR_TAPS)))
    angles = np.linspace(0.0, np.pi, _ANGLES)
    out = np.zeros((receivers.shape[0], len(array.drivers), n_taps))
    offsets = np.arange(-_FD_HALF + 1, _FD_HALF + 1)  # (K,)
    for d, (amplitude, distance, cos_theta) in enumerate(paths):
        if directivity:
            fir = np.fft.rfft(_directivity_firs(array.drivers[d].radius_m, angles, fs, c), n_fft)
        for r in range(receivers.shape[0]):
            delay = distance[:, r] / c * fs  # (I,) samples
            whole = np.floor(delay).astype(int)
            x = offsets[None] - (delay - whole)[:, None]  # (I, K) kernel argument
            window = np.i0(_KAISER_BETA * np.sqrt(np.clip(1 - (x / _FD_HALF) ** 2, 0, 1)))
            kernel = np.sinc(x) * window / np.i0(_KAISER_BETA)
            taps = (amplitude / distance[:, r])[:, None] * kernel
            where = whole[:, None] + offsets[None] + _FD_HALF  # index into padded trains
            if not directivity:
                train = np.zeros(n_fft)
                np.add.at(train, where, taps)
                out[r, d] = train[_FD_HALF:_FD_HALF + n_taps]
                continue
            position = np.arccos(np.clip(cos_theta[:, r], -1, 1)) / np.pi * (_ANGLES - 1)
            low = np.minimum(position.astype(int), _ANGLES - 2)
            frac = (position - low)[:, None]
            trains = np.zeros((_ANGLES, n_fft))
            np.add.at(trains, (low[:, None], where), taps * (1 - frac))
            np.add.at(trains, (low[:, None] + 1, where), taps * frac)
            full = np.fft.irfft(np.sum(np.fft.rfft(trains, axis=1) * fir, axis=0), n_fft)
            start = _FD_HALF + _DIR_TAPS // 2
            out[r, d] = full[start:start + n_taps]
    return out


def _directivity_firs(radius_m: float, angles_rad: np.ndarray, fs: float, c: float) -> np.ndarray:
    """(A, _DIR_TAPS) zero-phase FIRs of the piston directivity at each angle from the
    axis, centred on tap ``_DIR_TAPS // 2``."""
    freqs = np.fft.rfftfreq(_DIR_TAPS, 1.0 / fs)
    ka = 2 * np.pi * freqs[None] / c * radius_m
    response = piston_directivity(ka, np.cos(angles_rad)[:, None])
    return np.fft.fftshift(np.fft.irfft(response, _DIR_TAPS, axis=1), axes=1)


def _paths(array: Array, room: Room, receivers: np.ndarray):
    """Per driver: image amplitudes (I,), distances (I, R) and the cosine (I, R) of the
    angle between each image's mirrored axis and the direction to each receiver."""
    positions, axes = driver_positions(array, room)
    for position, axis in zip(positions, axes):
        images = image_sources(position, room)
        offset = receivers[None] - images.positions_m[:, None]  # (I, R, 3)
        distance = np.linalg.norm(offset, axis=-1)
        if np.any(distance < 1e-6):
            raise InputError(f"room {room.name!r}: a receiver coincides with a driver")
        cos_theta = np.einsum("irk,ik->ir", offset, images.mirror * axis) / distance
        yield images.amplitude, distance, cos_theta


def _receivers(receivers_m, room: Room) -> np.ndarray:
    receivers = np.asarray(receivers_m, dtype=float)
    if receivers.ndim != 2 or receivers.shape[1] != 3 or not np.all(np.isfinite(receivers)):
        raise InputError(f"receivers_m: expected a finite (R, 3) array, "
                         f"got shape {receivers.shape}")
    outside = [r.tolist() for r in receivers if not _inside(r, room.dimensions_m)]
    if outside:
        raise InputError(f"receivers_m: {outside[0]} is not inside room {room.name!r} "
                         f"of size {room.dimensions_m.tolist()} m")
    return receivers


def _inside(point: np.ndarray, dims: np.ndarray) -> bool:
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
