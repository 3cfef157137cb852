"""Volume-aware convolution: every rung of a ladder (and every cell of tracked rungs) on one
input delay line; per block the rung that fits the level, at the level's gain, crossfading
over the block when the rung, the cell or the gain changes; and the volume that other
threads (OSC, the keyboard) set while it plays."""

from __future__ import annotations

import math
import threading

import numpy as np

from common.errors import InputError
from renderer.convolver import BankSwitcher
from renderer.filterbank import FilterBank
# MIN_VOLUME_DB and check_volume live in renderer.headroom (light enough for a parser)
from renderer.headroom import MARGIN_DB, MIN_VOLUME_DB, check_volume, choose_rung
from renderer.ladder import Ladder, as_ladder
from renderer.tracked import CellFinder
from renderer.trackedbank import TrackedBank

__all__ = ["MIN_VOLUME_DB", "LadderConvolver", "VolumeControl", "check_volume"]


class LadderConvolver(BankSwitcher):
    """A ladder (or one bank) as a :class:`BankSwitcher`: per block, the rung that fits the
    level (:meth:`renderer.ladder.Ladder.rung_for`, the margin of ``input_kind``) and, for
    tracked rungs, the cell nearest the pose, at gain ``10^(level / 20)``. ``stereo`` and
    ``lrc`` input play ``taps``, ``binaural`` input ``ctc_taps``."""

    def __init__(self, bank: FilterBank | TrackedBank | Ladder, block_size: int, *,
                 input_kind: str = "lrc", dtype=np.float32):
        if input_kind not in MARGIN_DB:
            raise InputError(f"--input: expected one of {', '.join(MARGIN_DB)}, "
                             f"got {input_kind!r}")
        ladder = as_ladder(bank)
        self.ladder, self.input_kind = ladder, input_kind
        self.headroom_db = ladder.headrooms(input_kind)
        self.margin_db = MARGIN_DB[input_kind]
        self._cells = None
        self._per_rung = 1
        self.n_cells: int | None = None  # cells per rung of a tracked ladder
        first = ladder.first
        if isinstance(first, TrackedBank):  # every rung then (read_ladder checks)
            self._cells = CellFinder(first.cells, len(first.cells), nominal=first.nominal_cell)
            self._per_rung = self.n_cells = len(first.cells)
        super().__init__(ladder.stacked_taps(input_kind), block_size, dtype=dtype)
        self._level = math.nan
        self._rung, self._gain = 0, 1.0
        self.rung_changes = 0  # blocks whose rung differs from the block before

    @property
    def rung(self) -> int | None:
        """The rung of the last block; None before the first."""
        return None if self.index is None else self.index // self._per_rung

    @property
    def cell(self) -> int | None:
        """The cell (within its rung) of the last block; None before the first."""
        return None if self.index is None else self.index % self._per_rung

    def process(self, block, level_db: float, pose=None,
                out: np.ndarray | None = None) -> np.ndarray:
        """Filter one block ``(inputs, block_size)`` -> ``(outputs, block_size)`` at
        ``level_db`` (the volume plus any gain, dB) with the rung that fits it and, for a
        tracked ladder, the cell nearest ``pose`` (4,) (None: the nominal cell; ignored by
        plain rungs). Into ``out`` when given, as :meth:`BankSwitcher.switch`."""
        if level_db != self._level:
            if not (isinstance(level_db, (int, float)) and math.isfinite(level_db)):
                raise InputError(f"level: expected a finite number of dB, got {level_db!r}")
            self._level = level_db
            self._rung = choose_rung(self.headroom_db, level_db, self.margin_db)
            self._gain = 10.0 ** (level_db / 20.0)
        cell = 0 if self._cells is None else self._cells.cell_for(pose)
        if self.index is not None and self.index // self._per_rung != self._rung:
            self.rung_changes += 1
        return self.switch(block, self._rung * self._per_rung + cell, self._gain, out)


class VolumeControl:
    """The listening volume (dB, 0 = full scale) that other threads set and a renderer
    reads once per block (:attr:`db`, a float: reading it needs no lock). Numbers outside
    MIN_VOLUME_DB..0 are clamped; anything else is rejected and counted."""

    def __init__(self, db: float = 0.0):
        self.db = check_volume(db)
        self.changes = self.rejected = 0
        self._lock = threading.Lock()

    def set(self, value) -> bool:
        """Set the volume to ``value`` dB (clamped); False (and counted) if it is not a
        finite number."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            with self._lock:
                self.rejected += 1
            return False
        with self._lock:
            self._store(float(value))
        return True

    def step(self, delta_db: float) -> float:
        """Move the volume by ``delta_db`` (clamped); returns the new volume."""
        with self._lock:
            self._store(self.db + delta_db)
            return self.db

    def _store(self, value: float) -> None:
        value = min(0.0, max(MIN_VOLUME_DB, value))
        if value != self.db:
            self.db = value
            self.changes += 1
