"""Head-tracked convolution: a filter bank per head-pose cell, chosen per block from the
head pose, with a click-free crossfade when the cell changes.

One uniformly partitioned overlap-save convolver (as :class:`renderer.convolver.Convolver`)
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
import scipy.fft as sfft

from common.errors import InputError
from common.poses import YAW_M_PER_DEG, pose_distance
from renderer.convolver import check_block_size, check_dtype, check_taps, partition_spectra


def crossfade_ramp(block_size: int) -> np.ndarray:
    """(block_size,) raised-cosine weight of the new cell, rising from just above 0 to just
    below 1 (0 before the block, 1 after it)."""
    n = np.arange(1, block_size + 1)
    return 0.5 - 0.5 * np.cos(np.pi * n / (block_size + 1))


class TrackedConvolver:
    """Partitioned convolver over ``taps`` (K, inputs, outputs, N), K cells centred at
    ``cells`` (K, 4) head poses (x, y, z m, yaw deg); ``nominal`` is the cell used when no
    pose is known. :meth:`process` takes one block and a pose and returns a block from the
    nearest cell (``dtype`` float32 or float64 arithmetic, no latency beyond the filters')."""

    def __init__(self, taps, cells, block_size: int, *, nominal: int, dtype=np.float32):
        taps = np.asarray(taps)
        if taps.ndim != 4:
            raise InputError(f"taps: expected a real (cells, inputs, outputs, N) array, got "
                             f"dtype {taps.dtype} shape {taps.shape}")
        check_taps(taps.reshape(-1, *taps.shape[2:]))
        n_cells, self.inputs, self.outputs, n_taps = taps.shape
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
        self.block_size = b = check_block_size(block_size)
        self.dtype = check_dtype(dtype)
        self.partitions = k = -(-n_taps // b)
        self._spectra = partition_spectra(taps, b, self.dtype)  # (cells, K I, O, F)
        complex_dtype = self._spectra.dtype
        self._ramp = crossfade_ramp(b).astype(self.dtype)
        self._frame = np.zeros((self.inputs, 2 * b), self.dtype)
        # The delay line is stored twice over so the last K spectra are one contiguous slice.
        self._delay_line = np.zeros((2 * k, self.inputs, b + 1), complex_dtype)
        self._products = np.empty((k * self.inputs, self.outputs, b + 1), complex_dtype)
        self._sums = np.empty((2, self.outputs, b + 1), complex_dtype)
        self._pos = 0
        self.cell: int | None = None  # the cell of the last block; None before the first

    def reset(self) -> None:
        """Forget all past input; the next block starts in its own cell without a fade."""
        self._frame[:] = 0.0
        self._delay_line[:] = 0.0
        self._pos = 0
        self.cell = None

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

    def process(self, block, pose=None) -> np.ndarray:
        """Filter one block ``(inputs, block_size)`` -> ``(outputs, block_size)`` with the
        cell nearest ``pose`` (4,) or the nominal cell when ``pose`` is None; a change of
        cell fades from the old cell's output to the new one's over this block."""
        block = np.asarray(block)
        if block.shape != (self.inputs, self.block_size):
            raise InputError(f"block: expected shape ({self.inputs}, {self.block_size}), "
                             f"got {block.shape}")
        cell = self.cell_for(pose)
        b, k = self.block_size, self.partitions
        frame = self._frame
        frame[:, :b] = frame[:, b:]
        frame[:, b:] = block
        spectrum = sfft.rfft(frame, axis=-1)
        pos = self._pos
        self._delay_line[pos] = spectrum
        self._delay_line[pos + k] = spectrum
        self._pos = (pos + 1) % k
        recent = self._delay_line[pos + 1:pos + 1 + k].reshape(k * self.inputs, 1, b + 1)
        old, self.cell = self.cell, cell
        if old is None or old == cell:
            return sfft.irfft(self._filter(recent, cell, 0), n=2 * b, axis=-1)[:, b:]
        self._filter(recent, old, 0)
        self._filter(recent, cell, 1)
        before, after = sfft.irfft(self._sums, n=2 * b, axis=-1)[:, :, b:]
        after -= before  # in place: before + ramp * (after - before)
        after *= self._ramp
        after += before
        return after

    def _filter(self, recent: np.ndarray, cell: int, slot: int) -> np.ndarray:
        """Output spectra (O, F) of ``cell`` for the delay line ``recent``, into a slot."""
        np.multiply(recent, self._spectra[cell], out=self._products)
        return np.add.reduce(self._products, axis=0, out=self._sums[slot])


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
