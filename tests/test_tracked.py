"""The head-tracked convolver: a constant pose equals the static convolver and SciPy, a
pose sweep across many cells equals a smooth time-varying reference (no click above
-60 dB), and the cell choice equals the nearest cell of CONVENTIONS.md."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from common.errors import InputError
from common.poses import pose_distance
import renderer.tracked as tracked_module
from renderer.convolver import Convolver
from renderer.tracked import TrackedConvolver
from renderer.trackedbank import nearest_cells
from tracked_fixtures import grid_cells, per_cell, smooth_reference, synthetic_tracked_bank

N_TAPS = 200


@pytest.fixture(scope="module")
def bank():
    """30 cells: 5 lateral x 3 distances x yaw -10, +10 degrees; independent random taps."""
    return synthetic_tracked_bank(grid_cells(yaw_deg=(-10.0, 10.0)), n_taps=N_TAPS)


def convolver(bank, block: int, **kwargs) -> TrackedConvolver:
    return TrackedConvolver(bank.taps, bank.cells, block, nominal=bank.nominal_cell, **kwargs)


def stream(conv, x: np.ndarray, poses) -> np.ndarray:
    """Block-by-block output, ``poses[j]`` for block j (a plain Convolver when poses is an
    int: that many blocks); x is padded to whole blocks."""
    b = conv.block_size
    n_blocks = poses if isinstance(poses, int) else len(poses)
    padded = np.zeros((x.shape[0], n_blocks * b), x.dtype)
    padded[:, :x.shape[1]] = x
    blocks = [padded[:, j * b:(j + 1) * b] for j in range(n_blocks)]
    if isinstance(poses, int):
        return np.concatenate([conv.process(block) for block in blocks], axis=1)
    return np.concatenate([conv.process(block, pose) for block, pose in zip(blocks, poses)],
                          axis=1)


@pytest.mark.parametrize("block", [33, 256])
def test_a_constant_pose_equals_the_static_convolver_and_scipy(bank, block):
    x = np.random.default_rng(1).uniform(-1, 1, (3, 3000)).astype(np.float32)
    k = 22
    pose = bank.cells[k] + [0.01, -0.01, 0.02, 3.0]  # near cell 22, not on it
    n_blocks = -(-(3000 + N_TAPS - 1) // block)
    got = stream(convolver(bank, block), x, [pose] * n_blocks)[:, :3000 + N_TAPS - 1]
    static = stream(Convolver(bank.taps[k], block), x, n_blocks)[:, :got.shape[1]]
    assert k != bank.nominal_cell
    assert np.max(np.abs(got - static)) < 1e-6
    assert np.max(np.abs(got - per_cell(x, bank.taps[k:k + 1])[0])) < 1e-5


@settings(max_examples=25, deadline=None)
@given(block=st.integers(32, 300), n=st.integers(1, 1500), n_taps=st.integers(1, 700),
       n_cells=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_each_cell_alone_equals_scipy_for_any_block_and_filter_length(block, n, n_taps,
                                                                       n_cells, seed):
    rng = np.random.default_rng(seed)
    taps = (rng.standard_normal((n_cells, 2, 3, n_taps)) / np.sqrt(n_taps)).astype(np.float32)
    cells = np.column_stack([np.arange(n_cells) * 0.1, np.zeros((n_cells, 3))])
    x = rng.uniform(-1, 1, (2, n)).astype(np.float32)
    k = int(rng.integers(n_cells))
    conv = TrackedConvolver(taps, cells, block, nominal=0)
    got = stream(conv, x, [cells[k]] * -(-(n + n_taps - 1) // block))[:, :n + n_taps - 1]
    assert np.max(np.abs(got - per_cell(x, taps[k:k + 1])[0])) < 1e-5


def test_no_pose_plays_the_nominal_cell_and_reset_starts_in_the_new_cell(bank):
    x = np.random.default_rng(2).uniform(-1, 1, (3, 1000)).astype(np.float32)
    conv = convolver(bank, 64)
    ref = per_cell(x, bank.taps[[bank.nominal_cell, 3]])[:, :, :1024]
    assert np.max(np.abs(stream(conv, x, [None] * 16) - ref[0])) < 1e-5
    conv.reset()  # forgets the nominal cell too: no fade from it in the first block
    assert np.max(np.abs(stream(conv, x, [bank.cells[3]] * 16) - ref[1])) < 1e-5


def sweep(n_blocks: int) -> np.ndarray:
    """(n_blocks, 4) poses through the whole grid: lateral and distance back and forth at
    different rates, yaw swinging, then the last quarter jumping to a new cell each block."""
    s = np.linspace(0.0, 1.0, n_blocks)
    poses = np.column_stack([2.0 + 0.25 * np.sin(3 * np.pi * s), 0.12 * np.sin(8 * np.pi * s),
                             np.full(n_blocks, 0.25), 15.0 * np.sin(6 * np.pi * s)])
    jumps = np.random.default_rng(3).uniform([1.75, -0.12, 0.25, -15], [2.25, 0.12, 0.25, 15],
                                             (n_blocks // 4, 4))
    poses[-len(jumps):] = jumps
    return poses


@pytest.mark.parametrize("block", [77, 256])
def test_a_pose_sweep_across_many_cells_has_no_click_above_minus_60_db(bank, block):
    n_blocks = 120
    x = np.random.default_rng(4).uniform(-1, 1, (3, n_blocks * block)).astype(np.float32)
    poses = sweep(n_blocks)
    distance = (np.linalg.norm(poses[:, None, :3] - bank.cells[None, :, :3], axis=-1)
                + np.abs(poses[:, None, 3] - bank.cells[None, :, 3]) / 100.0)
    cells = np.argmin(distance, axis=1).tolist()  # yaw stays within +-15: no wrap needed
    switches = sum(a != b for a, b in zip(cells, cells[1:]))
    assert len(set(cells)) >= 25 and switches >= 40  # the sweep does cross many cells

    outputs = per_cell(x, bank.taps)
    reference = smooth_reference(outputs, cells, block)
    got = stream(convolver(bank, block), x, poses)
    level = np.sqrt(np.mean(reference ** 2))
    transient_db = 20 * np.log10(np.max(np.abs(got - reference)) / level)
    assert transient_db < -60.0, transient_db
    # the measure does see clicks: switching without the fade leaves transients far above
    hard = np.stack([outputs[c, :, j * block:(j + 1) * block] for j, c in enumerate(cells)],
                    axis=1).reshape(outputs.shape[1], -1)
    assert 20 * np.log10(np.max(np.abs(hard - reference)) / level) > -20.0


def test_the_cell_chosen_per_block_is_the_nearest_cell(monkeypatch):
    """The shortcut that skips the search while the head stays near the last searched pose
    agrees with the full search, on a noisy path through 42 of 45 cells with yaw wrapping
    through +-180; both the shortcut and the search are taken often."""
    cells = grid_cells(yaw_deg=(-175.0, 0.0, 175.0))
    bank = synthetic_tracked_bank(cells, n_taps=8)
    conv = convolver(bank, 32)
    s = np.linspace(0.0, 1.0, 3000)
    path = np.column_stack([2.0 + 0.3 * np.sin(4 * np.pi * s), 0.15 * np.sin(10 * np.pi * s),
                            0.25 + 0.02 * np.sin(6 * np.pi * s), 90 + 120 * np.sin(3 * np.pi * s)])
    path += np.random.default_rng(6).normal(0.0, [0.001, 0.001, 0.001, 0.3], path.shape)
    searches = []
    monkeypatch.setattr(tracked_module, "pose_distance",
                        lambda *a: searches.append(1) or pose_distance(*a))
    block = np.zeros((3, 32), np.float32)
    chosen = []
    for pose in path:
        conv.process(block, pose)
        chosen.append(conv.cell)
    assert np.array_equal(chosen, nearest_cells(cells, path))
    assert len(set(chosen)) >= 40 and 300 < len(searches) < 2700


@pytest.mark.parametrize("kwargs, words", [
    ({"taps": np.zeros((3, 5, 16), np.float32)}, "(cells, inputs, outputs, N)"),
    ({"cells": np.zeros((4, 4))}, "cells: expected finite (30, 4)"),
    ({"nominal": 30}, "nominal: expected a cell index from 0 to 29"),
    ({"nominal": True}, "nominal"),
    ({"block_size": 31}, "block size"),
])
def test_bad_construction_is_an_input_error(bank, kwargs, words):
    args = {"taps": bank.taps, "cells": bank.cells, "block_size": 64, "nominal": 0, **kwargs}
    with pytest.raises(InputError) as err:
        TrackedConvolver(args["taps"], args["cells"], args["block_size"],
                         nominal=args["nominal"])
    assert words in str(err.value)


def test_bad_poses_and_blocks_are_input_errors(bank):
    conv = convolver(bank, 64)
    block = np.zeros((3, 64), np.float32)
    for pose in ([2.0, 0.0, 0.25], [2.0, np.nan, 0.25, 0.0], [[2.0, 0.0, 0.25, 0.0]],
                 [2.0, "left", 0.25, 0.0]):
        with pytest.raises(InputError, match="pose: expected 4 finite numbers"):
            conv.process(block, pose)
    with pytest.raises(InputError, match=r"expected shape \(3, 64\)"):
        conv.process(block[:, :63], bank.cells[0])
