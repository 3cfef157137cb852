"""Head-pose tracks for offline head-tracked rendering: a poses.csv file, interpolated.

The file has a header naming the columns ``time_s, x, y, z, yaw_deg`` (in any order)
and one pose per line: time in seconds, strictly increasing; head centre x, y, z in
metres in the device frame; yaw in degrees (0 = facing the device).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.csvrows import read_csv_rows
from common.errors import InputError

COLUMNS = ("time_s", "x", "y", "z", "yaw_deg")


@dataclass(frozen=True)
class PoseTrack:
    """times_s (T,) strictly increasing; poses (T, 4): x, y, z (m) and yaw (deg), the yaw
    unwrapped so that it moves the shorter way round between samples."""

    times_s: np.ndarray
    poses: np.ndarray

    def at(self, t: float) -> np.ndarray:
        """The pose (4,) at time ``t`` (s): linear interpolation between the samples, the
        first or last pose held before or after them."""
        return np.array([np.interp(t, self.times_s, column) for column in self.poses.T])


def read_poses(path: str | Path) -> PoseTrack:
    """Read a poses.csv file; a bad file raises :class:`InputError` naming the file, the
    line and the column."""
    path = Path(path)
    rows = read_csv_rows(path, "poses .csv file")
    if not rows:
        raise InputError(f"{path}: empty; expected a header {','.join(COLUMNS)} and one pose "
                         f"per line")
    line, header = rows[0]
    names = [name.strip() for name in header]
    if sorted(names) != sorted(COLUMNS):
        raise InputError(f"{path}: line {line}: the header must name the columns "
                         f"{', '.join(COLUMNS)} once each (any order), got {', '.join(names)}")
    order = [names.index(name) for name in COLUMNS]
    values = np.array([_numbers(path, line, row, names) for line, row in rows[1:]])
    if len(values) == 0:
        raise InputError(f"{path}: has a header but no poses")
    values = values[:, order]
    steps = np.diff(values[:, 0])
    if np.any(steps <= 0.0):
        i = int(np.argmax(steps <= 0.0)) + 1
        raise InputError(f"{path}: line {rows[i + 1][0]}, column time_s: {values[i, 0]:g} s "
                         f"is not after {values[i - 1, 0]:g} s on line {rows[i][0]}; times "
                         f"must increase")
    poses = values[:, 1:].copy()
    poses[:, 3] = np.unwrap(poses[:, 3], period=360.0)
    return PoseTrack(times_s=values[:, 0], poses=poses)


def _numbers(path: Path, line: int, row: list[str], names: list[str]) -> list[float]:
    if len(row) != len(names):
        raise InputError(f"{path}: line {line}: expected {len(names)} values "
                         f"({', '.join(names)}), got {len(row)}")
    numbers = []
    for name, cell in zip(names, row):
        try:
            value = float(cell)
        except ValueError:
            raise InputError(f"{path}: line {line}, column {name}: {cell.strip()!r} is not a "
                             f"number") from None
        if not math.isfinite(value):
            raise InputError(f"{path}: line {line}, column {name}: {cell.strip()!r} is not a "
                             f"finite number")
        numbers.append(value)
    return numbers
