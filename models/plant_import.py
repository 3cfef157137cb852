"""Impulse responses measured with other tools (REW, ARTA, a scanner) brought in as a
measured plant: mono WAV files and a CSV table naming each file's place.

The table (UTF-8, comma-separated; blank lines and lines starting with ``#`` are
skipped) starts with a header naming its columns, in any order:

- ears (``ears.sofa``): ``file, driver, ear, x_m, y_m, z_m, yaw_deg``;
- far field (``farfield.sofa``): ``file, driver, azimuth_deg, radius_m``.

``file`` is a WAV path relative to the table's folder; ``driver`` a driver name of the
array; ``ear`` ``left`` or ``right``; ``x_m, y_m, z_m, yaw_deg`` the head pose as
``measure.py --pose`` takes it (device frame, yaw 0 facing the device centre);
``azimuth_deg`` counter-clockwise from +x and ``radius_m`` the microphone's place (one
circle). Every pose needs both ears for every driver, every azimuth every driver.

Each file holds one mono impulse response (float or PCM), time zero being the moment the
driver's signal left the sound card, the same for every file: onsets are kept. Files at
another rate are resampled (``models._resample.resample_ir``); all are padded with zeros
to the longest. A bad table or file raises InputError naming the table's line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.csvrows import read_csv_rows
from common.errors import InputError
from common.poses import pose_views
from models._array import Array
from models._resample import resample_ir
from models.plant_sofa import (MIN_HEAD_AXIS_M, MIN_RADIUS_M, SAME_AZIMUTH_DEG, SAME_FACING_DEG,
                               SAME_POSITION_M, SAME_RADIUS_M, MeasuredEars, MeasuredFarfield,
                               default_receivers_m)

EAR_COLUMNS = ("file", "driver", "ear", "x_m", "y_m", "z_m", "yaw_deg")
FARFIELD_COLUMNS = ("file", "driver", "azimuth_deg", "radius_m")
EARS = ("left", "right")


@dataclass(frozen=True)
class _Row:
    """One line of the table: its number, WAV file, driver index, receiver (ear index,
    0 in the far field) and place (x, y, z, yaw) or (azimuth, radius)."""

    line: int
    path: Path
    driver: int
    receiver: int
    place: tuple[float, ...]


def import_plant(table: str | Path, array: Array, sample_rate_hz: int | None = None
                 ) -> tuple[MeasuredEars | MeasuredFarfield, list[str]]:
    """The plant of ``table`` for ``array`` at ``sample_rate_hz`` (default: the rate of
    the first file), and notes on what was resampled."""
    path = Path(table)
    header, lines = _read_table(path)
    far = _kind(path, header)
    rows = [_row(path, line, dict(zip(header, cells)), far, array) for line, cells in lines]
    places = _places(path, rows, far)
    slots = _slots(path, rows, places, far, array)
    irs, rate, notes = _load(path, rows, sample_rate_hz)
    ir = np.zeros((len(places), 1 if far else 2, irs.shape[-1], len(array.drivers)))
    for (m, receiver, driver), k in slots.items():
        ir[m, receiver, :, driver] = irs[k]
    values = np.array(places)
    if far:
        return MeasuredFarfield(ir=ir[:, 0], sample_rate_hz=float(rate),
                                azimuth_deg=values[:, 0], elevation_deg=np.zeros(len(values)),
                                radius_m=values[:, 1], emitter_positions_m=array.positions_m,
                                source=str(path)), notes
    return MeasuredEars(ir=ir, sample_rate_hz=float(rate), listener_positions_m=values[:, :3],
                        listener_views=pose_views(values[:, :3], values[:, 3]),
                        emitter_positions_m=array.positions_m,
                        receiver_positions_m=default_receivers_m(),
                        source=str(path)), notes


def _read_table(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header's column names and the (line number, cells) of every other line."""
    rows = read_csv_rows(path, "table of impulse-response files (.csv)")
    lines = [(n, [c.strip() for c in row]) for n, row in rows
             if not row[0].lstrip().startswith("#")]
    if not lines:
        raise InputError(f"{path}: empty; expected a header ({', '.join(EAR_COLUMNS)} for "
                         f"ears or {', '.join(FARFIELD_COLUMNS)} for the far field) and a "
                         f"line per WAV file")
    (_, header), rest = lines[0], lines[1:]
    if not rest:
        raise InputError(f"{path}: has a header but no line naming a WAV file")
    for line, cells in rest:
        if len(cells) != len(header):
            raise InputError(f"{path}: line {line}: expected {len(header)} values "
                             f"({', '.join(header)}), got {len(cells)}")
    return [name.lower() for name in header], rest


def _kind(path: Path, header: list[str]) -> bool:
    """True for a far-field table, False for ears; InputError for any other header."""
    for columns in (EAR_COLUMNS, FARFIELD_COLUMNS):
        if sorted(header) == sorted(columns):
            return columns is FARFIELD_COLUMNS
    raise InputError(f"{path}: line 1: the header must name the columns "
                     f"{', '.join(EAR_COLUMNS)} (ears) or {', '.join(FARFIELD_COLUMNS)} (far "
                     f"field), once each in any order; got {', '.join(header)}")


def _row(path: Path, line: int, cells: dict[str, str], far: bool, array: Array) -> _Row:
    where = f"{path}: line {line}"
    drivers = [d.name for d in array.drivers]
    if cells["driver"] not in drivers:
        raise InputError(f"{where}, column driver: {cells['driver']!r} is not a driver of "
                         f"array {array.name!r} ({', '.join(drivers)})")
    receiver = 0
    if not far:
        if cells["ear"].lower() not in EARS:
            raise InputError(f"{where}, column ear: {cells['ear']!r} is not 'left' or 'right'")
        receiver = EARS.index(cells["ear"].lower())
    numbers = FARFIELD_COLUMNS[2:] if far else EAR_COLUMNS[3:]
    place = tuple(_number(where, name, cells[name]) for name in numbers)
    if far and not place[1] > MIN_RADIUS_M:
        raise InputError(f"{where}, column radius_m: expected a radius above {MIN_RADIUS_M:g} "
                         f"m, got {cells['radius_m']!r}")
    if not far and math.hypot(place[0], place[1]) < MIN_HEAD_AXIS_M:
        raise InputError(f"{where}: the head at x_m {place[0]:g}, y_m {place[1]:g} must be at "
                         f"least {MIN_HEAD_AXIS_M:g} m from the device's vertical axis")
    file = Path(cells["file"])
    return _Row(line, file if file.is_absolute() else path.parent / file,
                drivers.index(cells["driver"]), receiver, place)


def _number(where: str, name: str, cell: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise InputError(f"{where}, column {name}: {cell!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(f"{where}, column {name}: {cell!r} is not a finite number")
    return value


def _places(path: Path, rows: list[_Row], far: bool) -> list[tuple[float, ...]]:
    """The distinct places in order of appearance; InputError where two differ by less
    than measure.py tells apart (models.plant_sofa's SAME_* limits) or radii differ."""
    places: list[tuple[float, ...]] = []
    first: dict[tuple[float, ...], int] = {}
    for row in rows:
        if row.place in first:
            continue
        for other in places:
            if far:
                close = abs((row.place[0] - other[0] + 180.0) % 360.0 - 180.0) \
                    < SAME_AZIMUTH_DEG
                if abs(row.place[1] - other[1]) > SAME_RADIUS_M:
                    raise InputError(f"{path}: line {row.line}, column radius_m: "
                                     f"{row.place[1]:g} m, but {other[1]:g} m on line "
                                     f"{first[other]}: the microphones must lie on one circle")
            else:
                close = (math.dist(row.place[:3], other[:3]) < SAME_POSITION_M
                         and abs((row.place[3] - other[3] + 180.0) % 360.0 - 180.0)
                         < SAME_FACING_DEG)
            if close:
                raise InputError(f"{path}: line {row.line}: {_place(row.place, far)} is almost "
                                 f"{_place(other, far)} of line {first[other]} but not the "
                                 f"same; write the same numbers for one place")
        first[row.place] = row.line
        places.append(row.place)
    return places


def _slots(path: Path, rows: list[_Row], places: list[tuple[float, ...]], far: bool,
           array: Array) -> dict[tuple[int, int, int], int]:
    """{(place, receiver, driver): row index}; InputError for a slot named twice or one
    without a file."""
    index = {place: m for m, place in enumerate(places)}
    slots: dict[tuple[int, int, int], int] = {}
    for k, row in enumerate(rows):
        slot = (index[row.place], row.receiver, row.driver)
        if slot in slots:
            raise InputError(f"{path}: line {row.line}: a second file for "
                             f"{_slot(row, far, array)} (the first is on line "
                             f"{rows[slots[slot]].line})")
        slots[slot] = k
    for m, place in enumerate(places):
        lines = [row.line for row in rows if row.place == place]
        receivers = range(1 if far else 2)
        missing_ears = [EARS[r] for r in receivers
                        if not any((m, r, d) in slots for d in range(len(array.drivers)))]
        if missing_ears:
            raise InputError(f"{path}: line {lines[0]}: {_place(place, far)} has no file for "
                             f"the {missing_ears[0]} ear (lines {_span(lines)} name only the "
                             f"{EARS[1 - EARS.index(missing_ears[0])]}); every pose needs "
                             f"both ears")
        for r in receivers:
            for d, driver in enumerate(array.drivers):
                if (m, r, d) not in slots:
                    ear = "" if far else f" at the {EARS[r]} ear"
                    raise InputError(f"{path}: line {lines[0]}: {_place(place, far)} (lines "
                                     f"{_span(lines)}) has no file for driver "
                                     f"{driver.name!r}{ear}; every driver needs one")
    return slots


def _load(path: Path, rows: list[_Row], rate: int | None
          ) -> tuple[np.ndarray, int, list[str]]:
    """(files, N) responses at one rate (``rate``, or the first file's), zero-padded to
    the longest, the rate, and notes on resampling."""
    import soundfile as sf

    irs, rates = [], []
    for row in rows:
        where = f"{path}: line {row.line}: {row.path}"
        if not row.path.is_file():
            raise InputError(f"{where}: WAV file not found")
        try:
            data, fs = sf.read(str(row.path), dtype="float64", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, ValueError, OSError) as exc:
            raise InputError(f"{where}: not a readable sound file (or its sample rate cannot "
                             f"be read): {exc}") from None
        if data.shape[1] != 1:
            raise InputError(f"{where}: {data.shape[1]} channels; expected one mono impulse "
                             f"response per file (export each driver and microphone alone)")
        if data.shape[0] < 2 or not np.all(np.isfinite(data)):
            raise InputError(f"{where}: expected at least 2 finite samples, got "
                             f"{data.shape[0]} samples" + ("" if np.all(np.isfinite(data))
                                                           else " with NaN or infinity"))
        irs.append(data[:, 0])
        rates.append(int(fs))
    target = rates[0] if rate is None else rate
    notes = []
    for k, fs in enumerate(rates):
        if fs != target:
            irs[k] = resample_ir(irs[k], fs, target)
            notes.append(f"line {rows[k].line}: resampled from {fs} Hz to {target} Hz")
    out = np.zeros((len(irs), max(ir.size for ir in irs)))
    for k, ir in enumerate(irs):
        out[k, :ir.size] = ir
    return out, target, notes


def _place(place: tuple[float, ...], far: bool) -> str:
    if far:
        return f"the microphone at azimuth {place[0]:g} deg"
    return "the pose x_m, y_m, z_m, yaw_deg " + ", ".join(f"{v + 0.0:g}" for v in place)


def _slot(row: _Row, far: bool, array: Array) -> str:
    where = _place(row.place, far)
    ear = "" if far else f", {EARS[row.receiver]} ear"
    return f"{where}, driver {array.drivers[row.driver].name!r}{ear}"


def _span(lines: list[int]) -> str:
    return ", ".join(str(n) for n in lines[:6]) + (", ..." if len(lines) > 6 else "")
