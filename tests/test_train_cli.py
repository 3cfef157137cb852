"""scripts/train.py end to end: a short real run, a resume, and bad input."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models import bundled_arrays
from renderer.filterbank import read_filterbank

ROOT = Path(__file__).resolve().parent.parent
SHORT_RUN = ["--array", "studio", "--steps", "30", "--taps", "256", "--quiet"]


def train_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "train.py"), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("train") / "fb.npz"
    return out, train_cli(*SHORT_RUN, "--out", str(out))


def test_short_run_writes_a_readable_bank_with_both_evaluations(first_run):
    out, proc = first_run
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {out}" in proc.stdout
    bank = read_filterbank(out)
    assert bank.taps.shape == (3, 5, 256) and bank.ctc_taps.shape == (2, 5, 256)
    m = bank.manifest
    assert m["array"] == "studio" and m["latency_samples"] == 128
    assert m["training"]["steps"] == 30 and m["training"]["seed"] == 0
    for which in ("learned", "least_squares"):
        figures = m["metrics"][which]
        assert np.isfinite(figures["separation_nominal_db"])
        assert np.isfinite(figures["beam_null_db"]) and len(figures["effort_excess_db"]) == 3
    # The table on stdout shows the same numbers as the manifest.
    line = next(r for r in proc.stdout.splitlines() if r.startswith("separation_nominal_db"))
    learned, least_squares = (float(v) for v in line.split()[1:3])
    assert learned == pytest.approx(m["metrics"]["learned"]["separation_nominal_db"], abs=0.006)
    assert least_squares == pytest.approx(m["metrics"]["least_squares"]["separation_nominal_db"],
                                          abs=0.006)
    assert out.with_name("fb.ckpt.npz").is_file()


def test_resume_of_a_finished_run_reproduces_its_filters(first_run):
    out, proc = first_run
    assert proc.returncode == 0, proc.stderr
    before = read_filterbank(out)
    loud = [a for a in SHORT_RUN if a != "--quiet"]  # the resume note goes to stderr
    again = train_cli(*loud, "--out", str(out), "--resume")
    assert again.returncode == 0, again.stderr
    assert "already holds all 30 steps" in " ".join(again.stderr.split())
    after = read_filterbank(out)
    assert np.array_equal(after.taps, before.taps)
    assert np.array_equal(after.ctc_taps, before.ctc_taps)
    assert after.manifest["metrics"] == before.manifest["metrics"]


def test_resume_with_other_settings_is_refused_cleanly(first_run):
    out, proc = first_run
    assert proc.returncode == 0, proc.stderr
    before = out.read_bytes()
    changed = train_cli(*SHORT_RUN, "--out", str(out), "--resume", "--seed", "1")
    assert changed.returncode == 2
    message = " ".join(changed.stderr.split())  # the message is wrapped at 100 columns
    assert "another configuration" in message and "Traceback" not in message
    assert out.read_bytes() == before  # the bank is left as it was


def test_unknown_array_exits_2_listing_the_bundled_arrays(tmp_path):
    out = tmp_path / "fb.npz"
    proc = train_cli("--array", "nope", "--steps", "1", "--taps", "256", "--out", str(out))
    assert proc.returncode == 2
    message = " ".join(proc.stderr.split())
    assert message.startswith("train.py: error:") and "Traceback" not in message
    assert "nope" in message and all(name in message for name in bundled_arrays())
    assert not out.exists() and list(tmp_path.iterdir()) == []


# --- measured plants ---------------------------------------------------------------------

PLANT_HEADS = np.array([[2.0, 0.0, 0.25], [2.0, 0.08, 0.25], [2.0, -0.08, 0.25], [1.6, 0.0, 0.25],
                        [2.6, 0.0, 0.25], [1.8, 0.05, 0.25]])


@pytest.fixture(scope="module")
def plant_files(tmp_path_factory):
    """ears.sofa and farfield.sofa written from the studio's piston model at 48 kHz."""
    from models import load_array
    from models.plant_sofa_write import write_ears_sofa, write_farfield_sofa

    folder = tmp_path_factory.mktemp("plant")
    studio = load_array("studio")
    facing = -PLANT_HEADS * [1, 1, 0]
    write_ears_sofa(folder / "ears.sofa", studio, 48000, PLANT_HEADS, facing)
    write_farfield_sofa(folder / "farfield.sofa", studio, 48000, np.arange(-180.0, 180.0, 5.0), 3.0)
    reordered = dataclasses.replace(studio, drivers=studio.drivers[::-1])
    write_ears_sofa(folder / "reordered.sofa", reordered, 48000, PLANT_HEADS, facing)
    return folder


def test_a_short_run_on_a_measured_plant_reports_held_out_poses(plant_files, tmp_path):
    out = tmp_path / "fb.npz"
    proc = train_cli(*SHORT_RUN, "--out", str(out), "--plant", str(plant_files / "ears.sofa"),
                     "--plant-farfield", str(plant_files / "farfield.sofa"))
    assert proc.returncode == 0, proc.stderr
    m = read_filterbank(out).manifest
    measured = m["metrics"]["measured"]["learned"]
    poses = measured["poses"]
    assert poses["nominal"] == 0 and len(poses["held_out"]) == 1 and len(poses["train"]) == 5
    assert not set(poses["held_out"]) & set(poses["train"])
    assert np.isfinite(measured["separation_held_out_worst_db"])
    assert np.isfinite(measured["beam_null_db"])
    assert m["training"]["plants"] == ["measured"]
    assert "measured plant (1 held-out poses of 6)" in proc.stdout


@pytest.mark.parametrize("args, expected", [
    (["--plant-farfield", "{folder}/farfield.sofa"], "--plant-farfield needs --plant"),
    (["--plant", "{folder}/reordered.sofa"], "mid_left"),
    (["--plant", "{folder}/absent.sofa"], "absent.sofa"),
], ids=["farfield-alone", "emitters-reordered", "missing-file"])
def test_bad_measured_plants_exit_2_writing_nothing(plant_files, tmp_path, args, expected):
    out = tmp_path / "fb.npz"
    proc = train_cli(*SHORT_RUN, "--out", str(out),
                     *[a.format(folder=plant_files) for a in args])
    assert proc.returncode == 2
    message = " ".join(proc.stderr.split())
    assert message.startswith("train.py: error:") and "Traceback" not in message
    assert expected in message, message
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def ladder_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ladder") / "ladder"
    return out, train_cli("--array", "studio", "--steps", "20", "--taps", "256", "--quiet",
                          "--ladder", "12,6", "--out", str(out))


def test_ladder_writes_plain_rungs_in_headroom_order_with_index_and_pareto(ladder_run):
    """Each rung is a complete plain bank whose manifest states the headroom its taps need
    (recomputed here) within its budget; the index lists them in ascending headroom and the
    renderer reads the folder as that ladder; the Pareto table on stdout and in pareto.md
    holds every rung beside least squares."""
    import json

    from renderer.export import headroom_db

    out, proc = ladder_run
    assert proc.returncode == 0, proc.stderr
    index = json.loads((out / "ladder.json").read_text())
    assert index["format"] == "soundstage.ladder" and index["version"] == 1
    assert [r["budget_db"] for r in index["rungs"]] == [6.0, 12.0]
    assert [r["file"] for r in index["rungs"]] == ["rung_06db.npz", "rung_12db.npz"]
    for entry in index["rungs"]:
        bank = read_filterbank(out / entry["file"])
        need = headroom_db(bank.taps)
        assert bank.manifest["metrics"]["headroom_db"] == pytest.approx(need, abs=1e-6)
        assert entry["headroom_db"] == pytest.approx(need, abs=1e-6)
        assert need <= entry["budget_db"] + 0.5  # 20 steps from the least squares at budget
        assert headroom_db(bank.ctc_taps) <= entry["budget_db"] + 0.5
        assert bank.manifest["metrics"]["budget_db"] == entry["budget_db"]
    assert sorted(p.name for p in out.iterdir()) == ["ladder.json", "pareto.csv", "pareto.md",
                                                     "pareto.png", "rung_06db.npz",
                                                     "rung_12db.npz"]
    from renderer.ladder import read_ladder

    ladder = read_ladder(out)
    assert [r.headroom_db for r in ladder.rungs] == pytest.approx(
        [r["headroom_db"] for r in index["rungs"]])
    table = (out / "pareto.md").read_text()
    assert table.strip().split("\n\n")[0] in proc.stdout
    assert "6 dB rung" in table and "12 dB rung" in table


@pytest.mark.parametrize("text", ["6,x", "6,6", "0,12", "-3"])
def test_a_bad_ladder_is_refused_before_any_work(text, tmp_path):
    proc = train_cli("--array", "studio", "--ladder", text, "--out", str(tmp_path / "l"))
    assert proc.returncode == 2
    assert "--ladder" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "l").exists()


def test_a_tracked_ladder_is_refused_before_any_work(tmp_path):
    proc = train_cli("--array", "studio", "--ladder", "6,12", "--tracked",
                     "--out", str(tmp_path / "l"))
    assert proc.returncode == 2
    assert "--ladder does not work with --tracked yet" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "l").exists()
