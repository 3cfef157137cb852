"""The headroom ladder: reading folders with and without ladder.json, every way a folder
can be wrong (an InputError naming the file and field), and the rung chosen at every
boundary of every input kind."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from ladder_fixtures import HEADROOMS, rung_bank, tracked_rung, write_ladder_folder
from models.errors import InputError
from renderer.export import headroom_db
from renderer.filterbank import write_filterbank
from renderer.ladder import (MARGIN_DB, choose_rung, read_filters, read_ladder, volume_ranges,
                             write_ladder)
from renderer.trackedbank import write_trackedbank
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


def _index(folder, **changes) -> None:
    path = folder / "ladder.json"
    data = json.loads(path.read_text())
    for key, value in changes.items():
        if key[4:5].isdigit():  # rung1_headroom_db=...: change one field of one rung
            rung, field = key[4:].split("_", 1)
            if value is None:
                del data["rungs"][int(rung)][field]
            else:
                data["rungs"][int(rung)][field] = value
        elif value is None:
            del data[key]
        else:
            data[key] = value
    path.write_text(json.dumps(data))


def _bad_folders(tmp_path) -> dict:
    """{case: (folder, words the message must hold)}: one fault each."""
    cases = {}

    def ladder(case: str, **kwargs):
        folder, _ = write_ladder_folder(tmp_path / case, n_taps=64, **kwargs)
        return folder

    cases["missing"] = (tmp_path / "absent", ["absent", "not found"])
    empty = tmp_path / "empty"
    empty.mkdir()
    cases["empty"] = (empty, ["empty", "ladder.json", "*.npz"])
    folder = ladder("not_json")
    (folder / "ladder.json").write_text("{rungs: [")
    cases["not_json"] = (folder, ["not_json/ladder.json", "not valid JSON"])
    folder = ladder("not_object")
    (folder / "ladder.json").write_text("[1, 2]")
    cases["not_object"] = (folder, ["ladder.json", "JSON object"])
    for case, change, words in (
            ("format", {"format": "acme.ladder"}, ["format", "soundstage.ladder", "acme.ladder"]),
            ("version", {"version": 2}, ["version", "expected 1", "got 2"]),
            ("unknown_key", {"colour": "red"}, ["unknown key", "colour"]),
            ("no_rungs", {"rungs": []}, ["rungs", "non-empty list"]),
            ("rung_not_object", {"rungs": ["fb.npz"]}, ["rungs[0]", "object"]),
            ("missing_file", {"rung1_file": "gone.npz"}, ["rungs[1].file", "gone.npz",
                                                         "not found"]),
            ("path_as_file", {"rung0_file": "../x.npz"}, ["rungs[0].file", "../x.npz"]),
            ("twice", {"rung1_file": "rung_6db.npz"}, ["rungs[1].file", "listed twice"]),
            ("no_headroom", {"rung2_headroom_db": None}, ["rungs[2].headroom_db", "finite"]),
            ("nan_headroom", {"rung2_headroom_db": "nan"}, ["rungs[2].headroom_db", "'nan'"]),
            ("bad_budget", {"rung0_budget_db": -3}, ["rungs[0].budget_db", ">= 0"]),
            ("rung_unknown_key", {"rung0_gain": 1}, ["rungs[0]", "unknown key", "gain"]),
            ("out_of_order", {"rung1_headroom_db": 20.0}, ["rungs[2].headroom_db",
                                                           "out of order", "ascending"]),
            ("disagrees", {"rung3_headroom_db": 24.2}, ["rungs[3].headroom_db", "24.2",
                                                        "rung_24db.npz", "0.05 dB"])):
        folder = ladder(case)
        _index(folder, **change)
        cases[case] = (folder, [case, *words])
    folder = ladder("not_a_bank", index=False)
    np.savez(folder / "weights.npz", w=np.zeros(3))
    cases["not_a_bank"] = (folder, ["not_a_bank/weights.npz", "missing array"])
    folder, built = write_ladder_folder(tmp_path / "same_headroom", (6.0, 12.0), n_taps=64)
    (folder / "ladder.json").unlink()
    again = rung_bank(12.0, seed=9, n_taps=64)
    same = {**again.manifest, "metrics": {"headroom_db": built.rungs[1].headroom_db}}
    write_filterbank(folder / "again.npz", dataclasses.replace(again, manifest=same))
    cases["same_headroom"] = (folder, ["same_headroom", "again.npz", "rung_12db.npz",
                                       "its own"])
    for case, manifest, words in (
            ("rate", {"sample_rate": 44100}, ["sample_rate", "44100", "48000"]),
            ("latency", {"latency_samples": 10}, ["latency_samples", "10"]),
            ("drivers", "rename", ["drivers", "woofer", "subwoofer"]),
            ("bad_metric", {"metrics": {"headroom_db": "loud"}}, ["metrics.headroom_db",
                                                                  "'loud'"])):
        folder = ladder(case)
        bank = rung_bank(18.0, seed=2, n_taps=64)
        if manifest == "rename":
            drivers = [dict(d) for d in bank.manifest["drivers"]]
            drivers[-1]["name"] = "subwoofer"
            manifest = {"drivers": drivers}
        write_filterbank(folder / "rung_18db.npz",
                         dataclasses.replace(bank, manifest={**bank.manifest, **manifest}))
        if case == "bad_metric":
            (folder / "ladder.json").unlink()
        cases[case] = (folder, [f"{case}/rung_18db.npz", *words])
    folder = ladder("channels")
    bank = rung_bank(18.0, seed=2, n_taps=64)
    short = dataclasses.replace(bank, taps=bank.taps[:, :4], ctc_taps=bank.ctc_taps[:, :4],
                                manifest={**bank.manifest,
                                          "drivers": bank.manifest["drivers"][:4]})
    write_filterbank(folder / "rung_18db.npz", short)
    cases["channels"] = (folder, ["channels/rung_18db.npz", "drivers"])
    cells = grid_cells(lateral_m=(-0.05, 0.05), distance_m=(2.0,))
    folder = ladder("mixed")
    write_trackedbank(folder / "rung_18db.npz", tracked_rung(18.0, cells, n_taps=64))
    cases["mixed"] = (folder, ["mixed/rung_18db.npz", "tracked", "plain", "do not mix"])
    folder = tmp_path / "cells"
    folder.mkdir()
    write_ladder(folder, [("a.npz", tracked_rung(6.0, cells, n_taps=64)),
                          ("b.npz", tracked_rung(12.0, cells + [0.0, 0.01, 0.0, 0.0],
                                                 n_taps=64))])
    cases["cells"] = (folder, ["cells/b.npz", "cells differ", "a.npz"])
    return cases


BAD_CASES = ["missing", "empty", "not_json", "not_object", "format", "version", "unknown_key",
             "no_rungs", "rung_not_object", "missing_file", "path_as_file", "twice",
             "no_headroom", "nan_headroom", "bad_budget", "rung_unknown_key", "out_of_order",
             "disagrees", "not_a_bank", "same_headroom", "rate", "latency", "drivers",
             "bad_metric", "channels", "mixed", "cells"]


@pytest.fixture(scope="module")
def bad_folders(tmp_path_factory):
    return _bad_folders(tmp_path_factory.mktemp("bad_ladders"))


def test_every_bad_case_is_built(bad_folders):
    assert sorted(bad_folders) == sorted(BAD_CASES)


@pytest.mark.parametrize("case", BAD_CASES)
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
