"""Head-tracked convolution: a filter bank per head-pose cell, chosen per block from the
head pose, with a click-free crossfade when the cell changes.

One uniformly partitioned overlap-save convolver (:class:`renderer.convolver.BankSwitcher`)
holds the partition spectra of every cell and a single frequency-domain delay line of the
input, shared by all cells: a change of cell only changes which spectra are multiplied
with the delay line. In the block where the cell changes, the outputs of the old and the
new cell, both computed from the same input history, are mixed with a raised-cosine fade
over the block. That equals filtering with the per-sample interpolated filter
``(1 - w[n]) h_old + w[n] h_new``, so the output stays continuous.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from common.errors import InputError
from common.poses import YAW_M_PER_DEG, pose_distance
from renderer.convolver import BankSwitcher


class CellFinder:
    """The cell nearest a head pose among ``cells`` (K, 4) head poses (x, y, z m, yaw deg);
    ``nominal`` is the cell for an unknown pose (None)."""

    def __init__(self, cells, n_cells: int, *, nominal: int):
        cells = np.asarray(cells, dtype=float)
        if cells.shape != (n_cells, 4) or not np.all(np.isfinite(cells)):
            raise InputError(f"cells: expected finite ({n_cells}, 4) head poses for "
                             f"{n_cells} cells of taps, got shape {cells.shape}")
        if isinstance(nominal, bool) or not isinstance(nominal, (int, np.integer)) \
                or not 0 <= nominal < n_cells:
            raise InputError(f"nominal: expected a cell index from 0 to {n_cells - 1}, "
                             f"got {nominal!r}")
        self.cells, self.nominal = cells, int(nominal)
        self._anchor: tuple | None = None  # (x, y, z, yaw, cell, slack) of the last search

    def cell_for(self, pose) -> int:
        """The cell nearest a head pose (4,) (x, y, z m, yaw deg), the nominal one for None.

        The pose distance is a metric, so a pose closer to the pose of the last full search
        than half the gap between the nearest and second-nearest cell there has the same
        nearest cell (triangle inequality): a slowly moving head costs one distance per
        block, not a search of all cells."""
        if pose is None:
            return self.nominal
        try:
            values = np.asarray(pose, dtype=float)
        except (TypeError, ValueError):
            values = np.empty(0)  # not numbers
        if values.shape != (4,) or not all(map(math.isfinite, values.tolist())):
            raise InputError(f"pose: expected 4 finite numbers x, y, z (m), yaw (deg), got "
                             f"{pose!r}")
        x, y, z, yaw = values.tolist()
        if self._anchor is not None:
            ax, ay, az, ayaw, cell, slack = self._anchor
            moved = (math.hypot(x - ax, y - ay, z - az)
                     + YAW_M_PER_DEG * abs((yaw - ayaw + 180.0) % 360.0 - 180.0))
            if moved < slack:
                return cell
        distance = pose_distance(self.cells, values)
        cell = int(distance.argmin())
        nearest, distance[cell] = distance[cell], np.inf
        gap = distance.min() - nearest  # to the second nearest cell; inf for one cell
        self._anchor = (x, y, z, yaw, cell, 0.5 * float(gap) - 1e-12)
        return cell


class TrackedConvolver(BankSwitcher):
    """Partitioned convolver over ``taps`` (K, inputs, outputs, N), K cells centred at
    ``cells`` (K, 4) head poses (x, y, z m, yaw deg); ``nominal`` is the cell used when no
    pose is known. :meth:`process` takes one block and a pose and returns a block from the
    nearest cell (``dtype`` float32 or float64 arithmetic, no latency beyond the filters')."""

    def __init__(self, taps, cells, block_size: int, *, nominal: int, dtype=np.float32):
        taps = np.asarray(taps)
        if taps.ndim != 4:
            raise InputError(f"taps: expected a real (cells, inputs, outputs, N) array, got "
                             f"dtype {taps.dtype} shape {taps.shape}")
        self._finder = CellFinder(cells, len(taps), nominal=nominal)
        self.cells, self.nominal = self._finder.cells, self._finder.nominal
        self.cell_for = self._finder.cell_for
        super().__init__(taps, block_size, dtype=dtype)

    @property
    def cell(self) -> int | None:
        """The cell of the last block; None before the first (and after :meth:`reset`)."""
        return self.index

    def process(self, block, pose=None, out: np.ndarray | None = None) -> np.ndarray:
        """Filter one block ``(inputs, block_size)`` -> ``(outputs, block_size)`` with the
        cell nearest ``pose`` (4,) or the nominal cell when ``pose`` is None; a change of
        cell fades from the old cell's output to the new one's over this block. The result
        goes into ``out`` when given (as :meth:`BankSwitcher.switch`)."""
        return self.switch(block, self.cell_for(pose), 1.0, out)


class PoseFollower:
    """A :class:`TrackedConvolver` that asks ``pose_at(t)`` for the head pose (4,) or None
    at the centre time ``t`` (s) of each block, counting samples at ``rate`` Hz from the
    first block. It has the plain convolver's interface (``process(block)``, ``reset()``),
    so :class:`renderer.stream.Blocked` can drive it."""

    def __init__(self, convolver: TrackedConvolver, pose_at: Callable[[float], object],
                 rate: int):
        self.convolver, self.pose_at, self.rate = convolver, pose_at, rate
        self.inputs, self.outputs = convolver.inputs, convolver.outputs
        self.block_size = convolver.block_size
        self._blocks = 0

    def process(self, block) -> np.ndarray:
        t = (self._blocks + 0.5) * self.block_size / self.rate
        self._blocks += 1
        return self.convolver.process(block, self.pose_at(t))

    def reset(self) -> None:
        self.convolver.reset()
        self._blocks = 0
