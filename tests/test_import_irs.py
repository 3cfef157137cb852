"""scripts/import_irs.py: a plant written out as mono WAV files and a CSV table (as REW or
ARTA export them) comes back as the same measured-plant file: exactly from 64-bit float
WAVs, to the format's rounding from 32-bit float and 24-bit PCM, with files at another
rate resampled with their onsets kept; every bad table or file stops with exit code 2
naming the table's line, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bad_inputs import all_files, run_cli, run_cli_subprocess
from ir_tables import write_ir_table
from models import load_array
from models.plant_sofa import read_ears_sofa, read_farfield_sofa
from models.plant_sofa_write import model_ears, model_farfield

POSES = [[2.0, 0.0, 0.25], [2.0, 0.1, 0.25], [1.5, -0.1, 0.25]]
FACING = [[-1.0, 0.0, 0.0], [-1.0, -0.1, 0.0], [-1.0, 0.2, 0.0]]  # yaw 0, -2.9, +22.2 deg


@pytest.fixture(scope="module")
def studio():
    return load_array("studio")


@pytest.fixture(scope="module")
def ears(studio):
    return model_ears(studio, 48000, np.array(POSES), np.array(FACING))


def _import(table: Path, out: Path, *extra) -> tuple[int, str]:
    code, err = run_cli("import_irs", [str(table), "--array", "studio", "--out", str(out),
                                       *extra])
    return code, " ".join(err.split())


@pytest.mark.parametrize("subtype", ["DOUBLE", "FLOAT", "PCM_24"])
def test_ears_come_back_as_written(tmp_path, studio, ears, subtype):
    """64-bit float exactly, 32-bit float as rounded to float32, 24-bit PCM within one step
    of 2^-23 (full scale 1; libsndfile does not round to the nearest step)."""
    table = write_ir_table(tmp_path / "rew", ears, studio, subtype=subtype)
    code, err = _import(table, tmp_path / "ears.sofa")
    assert code == 0, err
    got = read_ears_sofa(tmp_path / "ears.sofa", studio)
    assert got.ir.shape == ears.ir.shape and got.sample_rate_hz == 48000
    if subtype == "PCM_24":
        assert np.abs(got.ir - ears.ir).max() <= 2.0 ** -23
    else:
        dtype = np.float64 if subtype == "DOUBLE" else np.float32
        np.testing.assert_array_equal(got.ir, ears.ir.astype(dtype))
    np.testing.assert_allclose(got.listener_positions_m, ears.listener_positions_m, atol=1e-15)
    np.testing.assert_allclose(got.listener_views, ears.listener_views, atol=1e-12)
    assert "imported by soundstage scripts/import_irs.py from" in got.comment


def test_far_field_comes_back_as_written(tmp_path, studio):
    far = model_farfield(studio, 48000, [0.0, 90.0, -90.0, 180.0], 2.0)
    table = write_ir_table(tmp_path, far, studio, subtype="DOUBLE")
    code, err = _import(table, tmp_path / "farfield.sofa")
    assert code == 0, err
    got = read_farfield_sofa(tmp_path / "farfield.sofa", studio)
    np.testing.assert_array_equal(got.ir, far.ir)
    np.testing.assert_array_equal(got.azimuth_deg, [0.0, 90.0, -90.0, 180.0])
    np.testing.assert_array_equal(got.radius_m, np.full(4, 2.0))


def test_other_rates_are_resampled_and_onsets_kept(tmp_path, studio, ears):
    """Lines 2 and 8 are written at 44.1 and 96 kHz (scipy.signal.resample_poly): they come
    back at 48 kHz within the resamplers' error below 0.9 x 22.05 kHz, with the onset in
    the same place; a longer file pads the others with zeros."""
    table = write_ir_table(tmp_path, ears, studio, subtype="DOUBLE", rates={0: 44100, 6: 96000})
    code, err = _import(table, tmp_path / "ears.sofa", "--sample-rate", "48000")
    assert code == 0, err
    assert "line 2: resampled from 44100 Hz to 48000 Hz" in err
    assert "line 8: resampled from 96000 Hz to 48000 Hz" in err
    got = read_ears_sofa(tmp_path / "ears.sofa", studio)
    n = ears.ir.shape[2]
    assert got.ir.shape[2] >= n and not np.any(got.ir[..., n + 8:, :])
    for (m, e, d) in ((0, 0, 0), (0, 1, 1)):  # the lines written at 44.1 and 96 kHz
        want, have = ears.ir[m, e, :, d], got.ir[m, e, :n, d]
        assert np.argmax(np.abs(have)) == np.argmax(np.abs(want))
        freqs = np.fft.rfftfreq(8 * n, 1 / 48000)
        band = freqs < 0.9 * 22050
        error = np.abs(np.fft.rfft(have, 8 * n) - np.fft.rfft(want, 8 * n))[band]
        relative = error.max() / np.abs(np.fft.rfft(want, 8 * n))[band].max()
        print(f"resampled line: error {20 * np.log10(relative):.0f} dB re the peak in band")
        assert relative <= 0.01


# ---------------------------------------------------------------- bad tables and files


def _lines(table: Path) -> list[str]:
    return table.read_text().splitlines()


def _bad(folder: Path, studio, ears) -> dict[str, tuple[Path, list[str]]]:
    """{case: (table, words the message must hold)}: one fault each in a good table."""
    good = write_ir_table(folder / "good", ears, studio)
    lines = _lines(good)  # header, then pose 0: 5 left, 5 right, pose 1: ...

    def table(name: str, rows: list[str]) -> Path:
        path = folder / "good" / f"{name}.csv"
        path.write_text("\n".join(rows) + "\n")
        return path

    stereo = folder / "good" / "ir" / "stereo.wav"
    sf.write(stereo, np.zeros((64, 2)), 48000)
    (folder / "good" / "ir" / "garbage.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 4)
    nan = folder / "good" / "ir" / "nan.wav"
    sf.write(nan, np.array([0.0, np.nan, 1.0]), 48000, subtype="FLOAT")
    pose = lines[1].split(",", 3)[3]

    def swap(i: int, column: int, value: str) -> list[str]:
        rows = list(lines)
        cells = rows[i].split(",")
        cells[column] = value
        rows[i] = ",".join(cells)
        return rows

    cases = {
        "missing_driver": (lines[:5] + lines[6:], ["line 2", "has no file for driver "
                                                   "'woofer' at the left ear"]),
        "one_ear": (lines[:6] + lines[11:], ["line 2", "has no file for the right ear",
                                             "name only the left"]),
        "two_files_one_slot": (lines + [lines[3]], [f"line {len(lines) + 1}",
                                                    "a second file for", "'mid_up', left ear",
                                                    "the first is on line 4"]),
        "unknown_driver": (swap(4, 1, "subwoofer"), ["line 5, column driver", "'subwoofer'",
                                                     "mid_left, mid_right"]),
        "unknown_ear": (swap(2, 2, "middle"), ["line 3, column ear", "'middle'"]),
        "bad_number": (swap(3, 4, "0.1m"), ["line 4, column y_m", "'0.1m' is not a number"]),
        "nan_number": (swap(3, 6, "nan"), ["line 4, column yaw_deg", "not a finite number"]),
        "head_on_axis": ([lines[0]] + [r.replace(pose, "0.1,0.0,0.25,0.0") for r in lines[1:]],
                         ["line 2", "at least 0.2 m from the device's vertical axis"]),
        "near_pose": (lines + ["ir/p0_mid_left_left.wav,mid_left,left,2.005,0.0,0.25,0.0"],
                      [f"line {len(lines) + 1}", "is almost the pose x_m, y_m, z_m, yaw_deg "
                       "2, 0, 0.25, 0 of line 2"]),
        "missing_file": (swap(5, 0, "ir/absent.wav"), ["line 6", "absent.wav",
                                                       "WAV file not found"]),
        "unreadable_file": (swap(5, 0, "ir/garbage.wav"), ["line 6", "garbage.wav",
                                                           "not a readable sound file"]),
        "stereo_file": (swap(5, 0, "ir/stereo.wav"), ["line 6", "2 channels",
                                                      "one mono impulse response per file"]),
        "nan_file": (swap(5, 0, "ir/nan.wav"), ["line 6", "nan.wav", "NaN or infinity"]),
        "bad_header": ([lines[0].replace("yaw_deg", "yaw")] + lines[1:],
                       ["line 1", "the header must name the columns", "got file, driver, ear, "
                        "x_m, y_m, z_m, yaw"]),
        "short_line": (lines[:3] + [lines[3].rsplit(",", 1)[0]] + lines[4:],
                       ["line 4", "expected 7 values"]),
        "header_only": (lines[:1], ["has a header but no line naming a WAV file"]),
        "empty": (["# nothing here", ""], ["empty; expected a header"]),
    }
    out = {name: (table(name, rows), words) for name, (rows, words) in cases.items()}
    far = model_farfield(studio, 48000, [0.0, 90.0], 2.0)
    far_lines = _lines(write_ir_table(folder / "far", far, studio))
    far_lines[-1] = far_lines[-1].replace(",2.0", ",2.5")
    radius = folder / "far" / "radius.csv"
    radius.write_text("\n".join(far_lines) + "\n")
    out["radius_differs"] = (radius, [f"line {len(far_lines)}, column radius_m",
                                      "2.5 m, but 2 m on line 2", "on one circle"])
    out["table_missing"] = (folder / "absent.csv", ["absent.csv: table of impulse-response files (.csv) not found"])
    return out


@pytest.fixture(scope="module")
def bad_tables(tmp_path_factory, studio, ears):
    return _bad(tmp_path_factory.mktemp("tables"), studio, ears)


CASES = ["missing_driver", "one_ear", "two_files_one_slot", "unknown_driver", "unknown_ear",
         "bad_number", "nan_number", "head_on_axis", "near_pose", "missing_file",
         "unreadable_file", "stereo_file", "nan_file", "bad_header", "short_line",
         "header_only", "empty", "radius_differs", "table_missing"]


@pytest.mark.parametrize("case", CASES)
def test_bad_table(tmp_path, bad_tables, case):
    table, words = bad_tables[case]
    code, err = _import(table, tmp_path / "ears.sofa")
    assert code == 2 and "Traceback" not in err, err
    assert f"import_irs.py: error: {table}" in err
    for word in words:
        assert word in err, f"{word!r} not in: {err}"
    assert all_files(tmp_path) == []


def test_bad_arguments_and_an_existing_output(tmp_path, bad_tables):
    table = bad_tables["missing_driver"][0].with_name("irs.csv")
    existing = tmp_path / "ears.sofa"
    existing.write_bytes(b"an earlier plant")
    code, err = _import(table, existing)
    assert code == 2 and "ears.sofa: exists; choose another --out" in err
    assert existing.read_bytes() == b"an earlier plant"
    code, err = _import(table, tmp_path / "new.sofa", "--sample-rate", "0")
    assert code == 2 and "--sample-rate: expected a positive number of Hz, got 0" in err
    code, err = _import(table, tmp_path / "no" / "new.sofa")
    assert code == 2 and "new.sofa: output directory" in err
    assert all_files(tmp_path) == ["ears.sofa"]
    run = run_cli_subprocess("import_irs", [str(bad_tables["one_ear"][0]), "--array",
                                            "studio", "--out", str(tmp_path / "x.sofa")])
    assert run.returncode == 2 and "Traceback" not in run.stderr
