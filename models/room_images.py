"""Shoebox room acoustics by image sources (Allen & Berkley 1979), directional drivers.

Frame, walls and absorption: ``models/room.py``. Per axis an image of a point ``p`` is
``(1 - 2q) p + 2 n L`` for ``q`` in {0, 1} and integer ``n``; it has met the lower wall
``|n - q|`` times and the upper wall ``|n|`` times, and is mirrored in that axis when
``q = 1``. A reflection scales pressure by ``sqrt(1 - alpha)`` of its wall. The model
keeps every image whose total reflection count is at most ``max_order``.

Each image of a driver radiates like the driver itself (``models/_piston.py``) about
the driver's axis mirrored by the same reflections, with ``exp(-jkr) / r``: unit input
makes ``D(theta) exp(-jkr) / r`` Pa per image, as in ``models/_transfer.py``, so order 0
is the free-field model. Receivers are omnidirectional points.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from common.errors import InputError
from models._array import Array
from models._piston import piston_directivity
from models._transfer import _check_freqs
from models.room import Room, inside
from common.tomlfields import check_number

_CHUNK = 2_000_000  # frequency x image x receiver elements per block
_FD_HALF = 32  # fractional-delay kernel: taps on each side
_KAISER_BETA = 8.0
_ANGLES = 181  # directivity angles tabulated from 0 to 180 deg (1-deg steps)
_DIR_TAPS = 128


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
        if not inside(p, room.dimensions_m):
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
    outside = [r.tolist() for r in receivers if not inside(r, room.dimensions_m)]
    if outside:
        raise InputError(f"receivers_m: {outside[0]} is not inside room {room.name!r} "
                         f"of size {room.dimensions_m.tolist()} m")
    return receivers
