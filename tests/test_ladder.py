"""The headroom ladder: reading folders with and without ladder.json, every way a folder
can be wrong (an InputError naming the file and field), and the rung chosen at every
boundary of every input kind."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from bad_inputs import BAD_LADDERS, bad_ladders
from ladder_fixtures import HEADROOMS, rung_bank, tracked_rung, write_ladder_folder
from common.errors import InputError
from renderer.export import headroom_db
from renderer.filterbank import write_filterbank
from renderer.ladder import (MARGIN_DB, choose_rung, read_filters, read_ladder, volume_ranges,
                             write_ladder)
from tracked_fixtures import grid_cells


def test_a_folder_with_an_index_reads_its_rungs_in_order_with_their_budgets(tmp_path):
    folder, ladder = write_ladder_folder(tmp_path / "ladder")
    got = read_ladder(folder)
    assert [r.name for r in got.rungs] == [r.name for r in ladder.rungs]
    assert np.allclose([r.headroom_db for r in got.rungs], HEADROOMS, atol=1e-5)
    assert [r.budget_db for r in got.rungs] == list(HEADROOMS)
    for mine, theirs in zip(got.rungs, ladder.rungs):
        np.testing.assert_array_equal(mine.bank.taps, theirs.bank.taps)
    assert read_filters(folder).where == str(folder)  # a folder reads as a ladder
    assert got.sample_rate == 48000 and len(got.driver_names) == 5 and not got.tracked


def test_a_folder_without_an_index_is_its_banks_ordered_by_headroom(tmp_path):
    """Every *.npz, sorted by the headroom each manifest gives, or that headroom_db computes
    where the manifest has none; other files are no rungs."""
    folder = tmp_path / "ladder"
    folder.mkdir()
    for name, headroom, in_manifest in (("a.npz", 18.0, True), ("b.npz", 6.0, False),
                                        ("c.npz", 12.0, True)):
        write_filterbank(folder / name, rung_bank(headroom, seed=int(headroom),
                                                  manifest_headroom=in_manifest))
    (folder / "README.txt").write_text("notes\n")
    got = read_ladder(folder)
    assert [r.name for r in got.rungs] == ["b.npz", "c.npz", "a.npz"]
    computed = got.rungs[0]
    assert "headroom_db" not in computed.bank.manifest["metrics"]
    assert computed.headroom_db == headroom_db(computed.bank.taps)
    assert [r.budget_db for r in got.rungs] == [None] * 3


def test_the_headroom_in_the_manifest_is_trusted(tmp_path):
    """A manifest's metrics.headroom_db is the rung's headroom even where the taps would
    compute otherwise (what train.py measured is what it promised)."""
    bank = rung_bank(12.0)
    bank = dataclasses.replace(bank, manifest={**bank.manifest, "metrics": {"headroom_db": 13.0}})
    folder = tmp_path / "ladder"
    folder.mkdir()
    write_ladder(folder, [("fb.npz", bank)])
    assert read_ladder(folder).rungs[0].headroom_db == 13.0


def test_binaural_input_ranks_rungs_by_the_headroom_of_their_ctc_taps(tmp_path):
    folder, ladder = write_ladder_folder(tmp_path / "ladder")
    got = read_ladder(folder)
    assert got.headrooms("binaural") == tuple(headroom_db(r.bank.ctc_taps) for r in ladder.rungs)
    assert got.headrooms("stereo") == got.headrooms("lrc") == \
        tuple(r.headroom_db for r in got.rungs)


def test_a_ladder_of_tracked_banks_stacks_rung_by_cell(tmp_path):
    cells = grid_cells(lateral_m=(-0.05, 0.05), distance_m=(2.0,))
    folder = tmp_path / "tracked"
    folder.mkdir()
    banks = [tracked_rung(h, cells, seed=k) for k, h in enumerate((10.0, 20.0))]
    write_ladder(folder, [(f"t{k}.npz", b) for k, b in enumerate(banks)])
    got = read_ladder(folder)
    assert got.tracked and np.allclose([r.headroom_db for r in got.rungs], (10.0, 20.0))
    stacked = got.stacked_taps("lrc")
    assert stacked.shape == (4, 3, 5, 96)
    np.testing.assert_array_equal(stacked[3], banks[1].taps[1])  # rung 1, cell 1


@pytest.fixture(scope="module")
def bad_folders(tmp_path_factory):
    return bad_ladders(tmp_path_factory.mktemp("bad_ladders"))


def test_every_bad_case_is_built(bad_folders):
    assert sorted(bad_folders) == sorted(BAD_LADDERS)


@pytest.mark.parametrize("case", BAD_LADDERS)
def test_a_bad_ladder_is_an_input_error_naming_file_and_field(bad_folders, case):
    folder, words = bad_folders[case]
    with pytest.raises(InputError) as err:
        read_ladder(folder)
    message = str(err.value)
    for word in words:
        assert word in message, f"{word!r} not in: {message}"


def _direct_choice(headrooms, level: float, margin: float) -> int:
    """The rule of CONVENTIONS.md spelled out: sort the rungs by headroom (ties: later rung
    first) and take the first from the top that fits, else the bottom one."""
    order = sorted(range(len(headrooms)), key=lambda k: (headrooms[k], k), reverse=True)
    for k in order:
        if level + margin + headrooms[k] <= 1e-12 * (1 + abs(level)):  # float slack
            return k
    return order[-1]


@pytest.mark.parametrize("kind", ["stereo", "lrc", "binaural"])
def test_the_rung_chosen_at_every_boundary_is_the_most_headroom_that_fits(kind):
    """At each rung's top volume -(H + margin) that rung plays; one step (the next float)
    louder the next rung down plays, and above the least headroom's top that one stays."""
    margin = MARGIN_DB[kind]
    assert margin == (20 * math.log10(math.sqrt(2)) if kind == "stereo" else 0.0)
    for k, h in enumerate(HEADROOMS):
        top = -(h + margin)
        assert choose_rung(HEADROOMS, top, margin) == k
        assert choose_rung(HEADROOMS, np.nextafter(top, math.inf), margin) == max(k - 1, 0)
        assert choose_rung(HEADROOMS, np.nextafter(top, -math.inf), margin) == k
    assert choose_rung(HEADROOMS, -200.0, margin) == 3 and choose_rung(HEADROOMS, 0.0, margin) == 0
    for level in np.arange(-40.0, 0.001, 0.01):
        assert choose_rung(HEADROOMS, level, margin) == _direct_choice(HEADROOMS, level, margin)


def test_rungs_in_any_order_and_with_equal_headrooms():
    """Binaural figures need not be ascending or distinct: the choice is by headroom, and
    of equal ones the later rung plays."""
    headrooms = (9.0, 3.0, 9.0, 0.0)
    for level in np.arange(-15.0, 2.0, 0.25):
        assert choose_rung(headrooms, level, 0.0) == _direct_choice(headrooms, level, 0.0)
    assert choose_rung(headrooms, -9.0, 0.0) == 2 and choose_rung(headrooms, 1.0, 0.0) == 3


@pytest.mark.parametrize("headrooms", [HEADROOMS, (9.0, 3.0, 9.0, 0.0), (12.0,)])
def test_volume_ranges_say_where_choose_rung_plays_each_rung(headrooms):
    margin = MARGIN_DB["stereo"]
    ranges = volume_ranges(headrooms, margin)
    for level in np.arange(-45.0, 5.0, 0.05):
        k = choose_rung(headrooms, level, margin)
        low, high = ranges[k]
        assert low < level <= high
        assert sum(r is not None and r[0] < level <= r[1] for r in ranges) == 1
    if headrooms == HEADROOMS:
        tops = [-(h + margin) for h in HEADROOMS]
        assert ranges == [(tops[1], math.inf), (tops[2], tops[1]), (tops[3], tops[2]),
                          (-math.inf, tops[3])]
