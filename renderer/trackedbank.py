"""The tracked filter-bank file (CONVENTIONS.md): one bank per head-pose cell, reading
with full validation, atomic writing, and the nearest cell to a head pose."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.atomic import atomic_output
from common.errors import InputError
from common.poses import nearest_cells, pose_distance
from renderer.filterbank import (FORMAT, TRACKED_FORMAT, FilterBank, ManifestFields,
                                 load_arrays, validate_filterbank, validate_manifest,
                                 validate_taps)


@dataclass(frozen=True)
class TrackedBank(ManifestFields):
    """taps: float32 (K, 3, D, N); ctc_taps: float32 (K, 2, D, N); cells: float64 (K, 4),
    each a head position x, y, z (m, device frame) and yaw (deg, 0 = facing the device);
    manifest: the JSON object of CONVENTIONS.md with format ``soundstage.trackedbank``."""

    taps: np.ndarray
    ctc_taps: np.ndarray
    cells: np.ndarray
    manifest: dict

    @property
    def nominal_pose(self) -> np.ndarray:
        """(4,) the manifest's nominal listener facing the device: [distance, 0, height, 0]."""
        listener = self.manifest["listener"]
        return np.array([listener["distance_m"], 0.0, listener["height_m"], 0.0])

    @property
    def nominal_cell(self) -> int:
        """Index of the cell nearest the nominal listener: the untracked fallback."""
        return int(nearest_cells(self.cells, self.nominal_pose))

    def cell_bank(self, k: int) -> FilterBank:
        """Cell ``k`` as a plain :class:`FilterBank` (the same manifest, plain format)."""
        manifest = {**self.manifest, "format": FORMAT}
        return FilterBank(taps=self.taps[k], ctc_taps=self.ctc_taps[k], manifest=manifest)

    def fallback(self) -> FilterBank:
        """The nominal cell as a plain bank, for playback without head tracking."""
        return self.cell_bank(self.nominal_cell)


def read_trackedbank(path: str | Path) -> TrackedBank:
    """Read and validate a tracked bank; anything off raises :class:`InputError` naming
    the file and the problem."""
    return _validate(load_arrays(path, "tracked filter bank"), str(path))


def read_bank(path: str | Path) -> FilterBank | TrackedBank:
    """Read a plain or a tracked bank, whichever its manifest's format says, with the
    checks of :func:`read_filterbank` or :func:`read_trackedbank`."""
    arrays = load_arrays(path, "filter bank")
    try:
        tracked = json.loads(str(arrays["manifest"])).get("format") == TRACKED_FORMAT
    except (KeyError, ValueError, AttributeError):
        tracked = False  # not a manifest object: the plain checks say what is wrong
    return (_validate if tracked else validate_filterbank)(arrays, str(path))


def _validate(arrays: dict, where: str) -> TrackedBank:
    manifest = validate_manifest(arrays, where, TRACKED_FORMAT)
    if "cells" not in arrays:
        raise InputError(f"{where}: missing array 'cells' (has {sorted(arrays)})")
    cells = arrays["cells"]
    if cells.dtype != np.float64 or cells.ndim != 2 or cells.shape[1] != 4 or not len(cells):
        raise InputError(f"{where}: cells must be a float64 (K, 4) array of head poses "
                         f"x, y, z (m), yaw (deg) with K >= 1, got dtype {cells.dtype} "
                         f"shape {cells.shape}")
    if not np.all(np.isfinite(cells)):
        raise InputError(f"{where}: cells contain NaN or infinite values")
    distance = pose_distance(cells, cells)
    np.fill_diagonal(distance, np.inf)
    if np.any(distance == 0.0):
        first, second = sorted(np.argwhere(distance == 0.0)[0])
        raise InputError(f"{where}: cells {first} and {second} are the same pose "
                         f"{cells[first].tolist()}; every cell must be distinct")
    validate_taps(arrays, where, len(manifest["drivers"]), lead=(len(cells),),
                  lead_names=f"K={len(cells)}, ")
    return TrackedBank(taps=arrays["taps"], ctc_taps=arrays["ctc_taps"], cells=cells,
                       manifest=manifest)


def write_trackedbank(path: str | Path, bank: TrackedBank) -> Path:
    """Validate ``bank`` and write it atomically as an uncompressed .npz; returns the path."""
    arrays = {"taps": np.asarray(bank.taps), "ctc_taps": np.asarray(bank.ctc_taps),
              "cells": np.asarray(bank.cells), "manifest": np.array(json.dumps(bank.manifest))}
    _validate(arrays, f"{path} (being written)")
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, allow_pickle=False, **arrays)
    return Path(path)
