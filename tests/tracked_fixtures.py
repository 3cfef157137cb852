"""Synthetic tracked filter banks for the head-tracking tests (no training needed)."""

from __future__ import annotations

import itertools

import numpy as np
from scipy.signal import oaconvolve

from renderer.filterbank import TRACKED_FORMAT
from renderer.trackedbank import TrackedBank
from renderer_fixtures import synthetic_bank


def grid_cells(lateral_m=(-0.1, -0.05, 0.0, 0.05, 0.1), distance_m=(1.8, 2.0, 2.2),
               yaw_deg=(0.0,), height_m: float = 0.25) -> np.ndarray:
    """(K, 4) cells on a grid around the studio's nominal seat [2, 0, 0.25]."""
    return np.array([[x, y, height_m, yaw] for x, y, yaw
                     in itertools.product(distance_m, lateral_m, yaw_deg)], dtype=float)


def synthetic_tracked_bank(cells: np.ndarray | None = None, n_taps: int = 128, *,
                           seed: int = 0, rate: int = 48000) -> TrackedBank:
    """A studio-shaped tracked bank (K x 3 x 5 drivers) with independent decaying random
    taps per cell: the harshest case for switching."""
    cells = grid_cells() if cells is None else np.asarray(cells, dtype=float)
    banks = [synthetic_bank(n_taps, rate=rate, seed=seed + k) for k in range(len(cells))]
    return TrackedBank(taps=np.stack([b.taps for b in banks]),
                       ctc_taps=np.stack([b.ctc_taps for b in banks]), cells=cells,
                       manifest={**banks[0].manifest, "format": TRACKED_FORMAT})


def per_cell(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """(K, O, n + N - 1): every cell's output, SciPy in float64."""
    return np.stack([oaconvolve(x[:, None, :].astype(float), t.astype(float), axes=-1).sum(0)
                     for t in taps])


def smooth_reference(outputs: np.ndarray, cells: list[int], block: int) -> np.ndarray:
    """The output of a filter that moves smoothly from cell to cell: within a block where
    the cell changes, weight ``r[n] = (1 - cos(pi n / (B + 1))) / 2``, n = 1..B, on the
    new cell's output and ``1 - r[n]`` on the old one's; elsewhere the block's own cell."""
    r = (1.0 - np.cos(np.pi * np.arange(1, block + 1) / (block + 1))) / 2.0
    out = np.zeros((outputs.shape[1], len(cells) * block))
    for j, cell in enumerate(cells):
        span = slice(j * block, (j + 1) * block)
        if j == 0 or cells[j - 1] == cell:
            out[:, span] = outputs[cell, :, span]
        else:
            out[:, span] = (1 - r) * outputs[cells[j - 1], :, span] + r * outputs[cell, :, span]
    return out
