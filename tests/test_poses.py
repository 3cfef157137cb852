"""Pose tracks (poses.csv) and ``render.py --poses``: interpolation, the file errors with
line and column, and a tracked render against per-cell SciPy convolutions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from common.errors import InputError
from renderer.poses import read_poses
from renderer.trackedbank import nearest_cells, write_trackedbank
from renderer_fixtures import load_script, write_bank
from tracked_fixtures import grid_cells, per_cell, smooth_reference, synthetic_tracked_bank

RATE = 48000
N_TAPS = 100
render_cli = load_script("render")


def render(*argv) -> int:
    return render_cli.run(render_cli.main, render_cli.build_parser(), [str(a) for a in argv])


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_poses_interpolate_linearly_hold_at_the_ends_and_take_columns_in_any_order(tmp_path):
    path = write_csv(tmp_path / "p.csv", "yaw_deg, x ,y,z,time_s\n"
                     "10,2.0,-0.1,0.25,0.0\n\n30,2.2,0.1,0.25,0.5\n170,2.2,0.1,0.3,1.5\n"
                     "-170,2.0,0.0,0.3,2.0\n")
    track = read_poses(path)
    times = np.array([0.0, 0.5, 1.5, 2.0])
    assert np.array_equal(track.times_s, times)
    for t in (-1.0, 0.0, 0.1, 0.25, 0.9, 1.5, 3.0):
        want = [np.interp(t, times, column) for column in
                ([2.0, 2.2, 2.2, 2.0], [-0.1, 0.1, 0.1, 0.0], [0.25, 0.25, 0.3, 0.3])]
        assert np.allclose(track.at(t)[:3], want, rtol=0, atol=1e-12)
    assert track.at(0.25)[3] == pytest.approx(20.0)
    # 170 -> -170 degrees turns 20 degrees through 180, not 340 back through 0
    assert track.at(1.75)[3] % 360.0 == pytest.approx(180.0)


BAD_CSVS = {
    "empty": ("", ["empty", "header"]),
    "no_header": ("0,2,0,0.25,0\n1,2,0,0.25,0\n", ["line 1", "header must name", "time_s"]),
    "missing_column": ("time_s,x,y,z\n0,2,0,0.25\n", ["line 1", "yaw_deg"]),
    "repeated_column": ("time_s,x,y,z,x\n0,2,0,0.25,2\n", ["line 1", "once each"]),
    "header_only": ("time_s,x,y,z,yaw_deg\n", ["no poses"]),
    "short_line": ("time_s,x,y,z,yaw_deg\n0,2,0,0.25,0\n0.1,2,0,0.25\n",
                   ["line 3", "expected 5 values", "got 4"]),
    "not_a_number": ("time_s,x,y,z,yaw_deg\n0,2,0,0.25,0\n0.1,2,left,0.25,0\n",
                     ["line 3, column y", "'left' is not a number"]),
    "nan": ("time_s,x,y,z,yaw_deg\n0,2,0,0.25,nan\n", ["line 2, column yaw_deg", "finite"]),
    "time_backwards": ("x,time_s,y,z,yaw_deg\n2,0,0,0.25,0\n2,0.5,0,0.25,0\n2,0.5,0,0.25,0\n",
                       ["line 4, column time_s", "0.5 s is not after 0.5 s on line 3"]),
}


@pytest.mark.parametrize("case", sorted(BAD_CSVS))
def test_a_bad_poses_file_is_an_input_error_naming_line_and_column(tmp_path, case):
    text, words = BAD_CSVS[case]
    with pytest.raises(InputError) as err:
        read_poses(write_csv(tmp_path / f"{case}.csv", text))
    for word in [f"{case}.csv", *words]:
        assert word in str(err.value)


def test_missing_and_binary_poses_files_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="absent.csv: poses .csv file not found"):
        read_poses(tmp_path / "absent.csv")
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00time")
    with pytest.raises(InputError, match="bin.csv: not a readable poses .csv file"):
        read_poses(tmp_path / "bin.csv")


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    bank = synthetic_tracked_bank(grid_cells(distance_m=(2.0,)), n_taps=N_TAPS)  # 5 lateral
    return write_trackedbank(tmp_path_factory.mktemp("tb") / "tb.npz", bank), bank


def wav(path: Path, x: np.ndarray) -> Path:
    sf.write(path, x.T, RATE, subtype="FLOAT")
    return path


@pytest.mark.parametrize("block, kind", [(64, "lrc"), (77, "binaural")])
def test_render_with_poses_follows_the_head_across_cells(tmp_path, tracked, block, kind):
    """Block j plays the cell nearest the pose at its centre time, crossfading on a change;
    the flushed tail holds the last pose. Binaural input goes through the cells' ctc_taps."""
    path, bank = tracked
    taps = bank.taps if kind == "lrc" else bank.ctc_taps
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (len(taps[0]), 9600)).astype(np.float32)
    poses = write_csv(tmp_path / "p.csv", "time_s,x,y,z,yaw_deg\n0.0,2.0,-0.12,0.25,0\n"
                      "0.15,2.0,0.12,0.25,0\n0.2,2.0,0.0,0.25,0\n")
    assert render(wav(tmp_path / "in.wav", x), tmp_path / "out.wav", "--filters", path,
                  "--input", kind, "--block", block, "--poses", poses, "--quiet") == 0
    got = sf.read(tmp_path / "out.wav", always_2d=True)[0].T
    n_blocks = -(-(9600 + N_TAPS - 1) // block)
    centres = (np.arange(n_blocks) + 0.5) * block / RATE
    track = read_poses(poses)
    cells = nearest_cells(bank.cells, np.array([track.at(t) for t in centres])).tolist()
    assert len(set(cells)) == 5  # all five cells, there and back
    padded = np.zeros((len(x), n_blocks * block), np.float32)
    padded[:, :9600] = x
    want = smooth_reference(per_cell(padded, taps), cells, block)[:, :9600 + N_TAPS - 1]
    assert got.shape == want.shape
    assert np.max(np.abs(got - want)) < 1e-5


def test_a_tracked_bank_without_poses_plays_its_nominal_cell(tmp_path, tracked, capsys):
    path, bank = tracked
    x = np.random.default_rng(1).uniform(-0.5, 0.5, (3, 2000)).astype(np.float32)
    assert render(wav(tmp_path / "in.wav", x), tmp_path / "out.wav", "--filters", path,
                  "--input", "lrc", "--quiet") == 0
    got = sf.read(tmp_path / "out.wav", always_2d=True)[0].T
    assert np.max(np.abs(got - per_cell(x, bank.taps[[bank.nominal_cell]])[0])) < 1e-5
    assert f"nominal cell {bank.nominal_cell}" in capsys.readouterr().out


def test_poses_with_a_plain_bank_is_an_input_error(tmp_path, capsys):
    path, _ = write_bank(tmp_path / "fb.npz", n_taps=32)
    poses = write_csv(tmp_path / "p.csv", "time_s,x,y,z,yaw_deg\n0,2,0,0.25,0\n")
    assert render(wav(tmp_path / "in.wav", np.zeros((2, 100))), tmp_path / "out.wav",
                  "--filters", path, "--poses", poses) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "fb.npz: this is a plain filter bank, not a tracked filter bank" in err
    assert not (tmp_path / "out.wav").exists()


@pytest.mark.parametrize("case", ["no_header", "not_a_number", "time_backwards"])
def test_render_exits_2_on_a_bad_poses_file_and_writes_nothing(tmp_path, tracked, capsys, case):
    text, words = BAD_CSVS[case]
    poses = write_csv(tmp_path / f"{case}.csv", text)
    assert render(wav(tmp_path / "in.wav", np.zeros((2, 100))), tmp_path / "out.wav",
                  "--filters", tracked[0], "--poses", poses) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith("render.py: error:") and "Traceback" not in err
    assert all(word in err for word in [f"{case}.csv", *words])
    assert not (tmp_path / "out.wav").exists()
