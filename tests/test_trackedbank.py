"""The tracked filter-bank file: round trip, the rejections CONVENTIONS.md asks for, the
plain and tracked readers refusing each other's files, and the pose distance."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from common.errors import InputError
from common.poses import pose_distance
from renderer.filterbank import read_filterbank, write_filterbank
from renderer.trackedbank import (TrackedBank, nearest_cells, read_bank, read_trackedbank,
                                  write_trackedbank)
from renderer_fixtures import synthetic_bank
from tracked_fixtures import grid_cells, synthetic_tracked_bank


@pytest.fixture(scope="module")
def tracked() -> TrackedBank:
    return synthetic_tracked_bank(n_taps=64)


def test_round_trip_keeps_every_array_and_the_manifest(tmp_path, tracked):
    path = write_trackedbank(tmp_path / "tb.npz", tracked)
    with np.load(path, allow_pickle=False) as npz:  # the file itself, as CONVENTIONS.md says
        assert sorted(npz.files) == ["cells", "ctc_taps", "manifest", "taps"]
        assert npz["taps"].dtype == np.float32 and npz["taps"].shape == (15, 3, 5, 64)
        assert npz["ctc_taps"].shape == (15, 2, 5, 64) and npz["cells"].dtype == np.float64
        assert json.loads(str(npz["manifest"]))["format"] == "soundstage.trackedbank"
    back = read_trackedbank(path)
    assert np.array_equal(back.taps, tracked.taps) and np.array_equal(back.ctc_taps,
                                                                      tracked.ctc_taps)
    assert np.array_equal(back.cells, tracked.cells) and back.manifest == tracked.manifest
    assert back.sample_rate == 48000 and len(back.driver_names) == 5
    assert read_bank(path).cells.shape == (15, 4)


def test_nominal_cell_is_the_one_at_the_manifest_listener_and_plays_as_a_plain_bank(
        tmp_path, tracked):
    # the studio listener sits at [2.0, 0, 0.25], facing the device: cell (2.0, 0.0) of the grid
    k = tracked.nominal_cell
    assert tracked.cells[k].tolist() == [2.0, 0.0, 0.25, 0.0]
    plain = tracked.fallback()
    assert np.array_equal(plain.taps, tracked.taps[k])
    assert np.array_equal(plain.ctc_taps, tracked.ctc_taps[k])
    back = read_filterbank(write_filterbank(tmp_path / "fallback.npz", plain))
    assert np.array_equal(back.taps, tracked.taps[k]) and back.manifest["listener"] == \
        tracked.manifest["listener"]
    assert read_bank(tmp_path / "fallback.npz").taps.shape == (3, 5, 64)


def test_plain_and_tracked_readers_refuse_each_others_files(tmp_path, tracked):
    tracked_path = write_trackedbank(tmp_path / "tb.npz", tracked)
    plain_path = write_filterbank(tmp_path / "fb.npz", synthetic_bank(64))
    with pytest.raises(InputError) as plain_err:
        read_filterbank(tracked_path)
    assert all(w in str(plain_err.value) for w in
               ("tb.npz", "is a tracked filter bank", "read_trackedbank", "--poses"))
    with pytest.raises(InputError) as tracked_err:
        read_trackedbank(plain_path)
    assert all(w in str(tracked_err.value) for w in
               ("fb.npz", "is a plain filter bank", "read_filterbank", "not a tracked"))


def _save(path, bank: TrackedBank, **replace):
    arrays = {"taps": bank.taps, "ctc_taps": bank.ctc_taps, "cells": bank.cells,
              "manifest": np.array(json.dumps(bank.manifest))}
    arrays.update(replace)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    with open(path, "wb") as fh:  # plain np.savez: these files are broken on purpose
        np.savez(fh, **arrays)
    return path


def _bad_cases(bank: TrackedBank) -> dict:
    nan_cells = bank.cells.copy()
    nan_cells[3, 1] = np.nan
    twin = bank.cells.copy()
    twin[7] = twin[2]
    nan_taps = bank.taps.copy()
    nan_taps[4, 1, 2, 3] = np.inf
    m = bank.manifest
    return {
        "no_cells": ({"cells": None}, ["missing array 'cells'"]),
        "cells_float32": ({"cells": bank.cells.astype(np.float32)}, ["cells", "float64"]),
        "cells_3_columns": ({"cells": bank.cells[:, :3]}, ["cells", "(K, 4)", "(15, 3)"]),
        "cells_nan": ({"cells": nan_cells}, ["cells", "NaN or infinite"]),
        "cells_twins": ({"cells": twin}, ["cells 2 and 7 are the same pose"]),
        "fewer_cells_than_taps": ({"cells": bank.cells[:14]}, ["taps", "(K=14, 3, 5, N)"]),
        "ctc_cells_mismatch": ({"ctc_taps": bank.ctc_taps[:3]}, ["ctc_taps", "(K=15, 2, 5, N)"]),
        "plain_shaped_taps": ({"taps": bank.taps[0]}, ["taps", "shape", "(3, 5, 64)"]),
        "nan_taps": ({"taps": nan_taps}, ["taps", "NaN or infinite"]),
        "float64_taps": ({"taps": bank.taps.astype(float)}, ["taps", "float32"]),
        "length_mismatch": ({"ctc_taps": bank.ctc_taps[..., :32]}, ["same length", "64", "32"]),
        "version_2": ({"manifest": np.array(json.dumps({**m, "version": 2}))},
                      ["soundstage.trackedbank", "version 2"]),
        "no_listener": ({"manifest": np.array(json.dumps(
            {k: v for k, v in m.items() if k != "listener"}))}, ["lacks", "listener"]),
    }


@pytest.mark.parametrize("case", sorted(_bad_cases(synthetic_tracked_bank(n_taps=64))))
def test_reader_rejects_a_broken_tracked_bank_naming_file_and_problem(tmp_path, tracked, case):
    replace, words = _bad_cases(tracked)[case]
    path = _save(tmp_path / f"{case}.npz", tracked, **replace)
    with pytest.raises(InputError) as err:
        read_trackedbank(path)
    for word in [f"{case}.npz", *words]:
        assert word in str(err.value)


def test_missing_and_truncated_files_are_input_errors(tmp_path, tracked):
    with pytest.raises(InputError, match="absent.npz: tracked filter bank not found"):
        read_trackedbank(tmp_path / "absent.npz")
    whole = write_trackedbank(tmp_path / "tb.npz", tracked).read_bytes()
    (tmp_path / "cut.npz").write_bytes(whole[:len(whole) // 2])
    with pytest.raises(InputError, match="cut.npz: not a readable tracked filter bank"):
        read_trackedbank(tmp_path / "cut.npz")


def test_writing_an_invalid_bank_leaves_nothing(tmp_path, tracked):
    bad = TrackedBank(taps=tracked.taps, ctc_taps=tracked.ctc_taps, cells=tracked.cells[:2],
                      manifest=tracked.manifest)
    with pytest.raises(InputError, match="being written"):
        write_trackedbank(tmp_path / "tb.npz", bad)
    assert list(tmp_path.iterdir()) == []


def _direct_distance(cell, pose) -> float:
    yaw = abs(cell[3] - pose[3]) % 360.0
    return math.dist(cell[:3], pose[:3]) + min(yaw, 360.0 - yaw) / 100.0


def test_nearest_cell_is_the_direct_minimum_of_metres_plus_yaw_over_100():
    rng = np.random.default_rng(5)
    cells = grid_cells(yaw_deg=(-20.0, 0.0, 20.0, 179.0))
    poses = np.column_stack([rng.uniform(1.6, 2.4, 400), rng.uniform(-0.2, 0.2, 400),
                             rng.uniform(0.1, 0.4, 400), rng.uniform(-200.0, 200.0, 400)])
    direct = np.array([[_direct_distance(c, p) for c in cells] for p in poses])
    assert np.allclose(pose_distance(cells, poses), direct, rtol=0, atol=1e-12)
    assert np.array_equal(nearest_cells(cells, poses), np.argmin(direct, axis=1))
    assert nearest_cells(cells, poses[7]) == np.argmin(direct[7])
    # 1 cm counts as much as 1 degree, and yaw is compared the shorter way round
    two = np.array([[2.0, 0.0, 0.25, 0.0], [2.0, 0.0, 0.25, 179.0]])
    assert nearest_cells(two, [2.0, 0.0, 0.25, -178.0]) == 1  # 3 deg from 179, not 357
    assert pose_distance(two, [2.0, 0.03, 0.25, 2.0])[0] == pytest.approx(0.05, abs=1e-12)
