"""scripts/export.py: FIR files, BruteFIR run for real, CamillaDSP YAML replayed in NumPy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import oaconvolve

from ladder_fixtures import tracked_rung, write_ladder_folder
from renderer.export import headroom_db
from renderer.ladder import describe_range, volume_ranges, write_ladder
from renderer_fixtures import load_script, write_bank
from tracked_fixtures import grid_cells

export_cli = load_script("export")
DRIVERS = ["mid_left", "mid_right", "mid_up", "tweeter", "woofer"]


def export(*argv) -> int:
    return export_cli.run(export_cli.main, export_cli.build_parser(), [str(a) for a in argv])


def reference(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    return oaconvolve(x[:, None, :], taps.astype(float), axes=-1).sum(axis=0)


@pytest.fixture
def bank(tmp_path):
    return write_bank(tmp_path / "fb.npz", n_taps=700, seed=3)


def test_headroom_is_the_worst_case_sinusoid_gain():
    taps = np.zeros((3, 2, 8))
    taps[:, 0, 0] = [0.5, 0.5, 1.0]  # in-phase sum 2 -> 6.02 dB
    taps[0, 1, 3] = 0.25  # -12 dB, under full scale
    assert np.isclose(headroom_db(taps), 20 * np.log10(2.0))
    assert headroom_db(taps[:, 1:]) == 0.0


@pytest.mark.parametrize("inputs", ["lrc", "binaural"])
def test_wav_export_holds_every_path_exactly(tmp_path, bank, inputs):
    path, fb = bank
    out = tmp_path / "out"
    out.mkdir()
    assert export(path, "--format", "wav", "--out", out, "--input", inputs) == 0
    taps, names = (fb.taps, ["L", "R", "C"]) if inputs == "lrc" else \
        (fb.ctc_taps, ["left_ear", "right_ear"])
    listing = json.loads((out / "paths.json").read_text())
    assert len(listing["paths"]) == len(names) * 5
    for entry in listing["paths"]:
        data, rate = sf.read(out / entry["file"], dtype="float32")
        assert rate == 48000 and data.ndim == 1
        np.testing.assert_array_equal(
            data, taps[names.index(entry["input"]), DRIVERS.index(entry["output"])])


def test_out_folder_is_created_when_its_parent_exists(tmp_path, bank, capsys):
    path, _ = bank
    out = tmp_path / "new"
    assert export(path, "--format", "camilladsp", "--out", out) == 0
    assert (out / "camilladsp.yml").is_file() and len(list(out.glob("*.wav"))) == 15
    (tmp_path / "bad.npz").write_bytes(b"not a bank")
    assert export(tmp_path / "bad.npz", "--format", "wav", "--out", tmp_path / "never") == 2
    assert "bad.npz" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()  # a failed export leaves no folder behind


@pytest.mark.skipif(shutil.which("brutefir") is None,
                    reason="BruteFIR is not installed (Debian package 'brutefir'; "
                    ".ci/run installs it)")
def test_brutefir_runs_the_export_like_the_numpy_renderer(tmp_path, bank):
    path, fb = bank
    out = tmp_path / "bf"
    out.mkdir()
    export(path, "--format", "brutefir", "--out", out)
    x = np.random.default_rng(5).uniform(-0.5, 0.5, (3, 6000)).astype(np.float32)
    got = run_brutefir(out, x, fb.taps.shape[-1])
    ref = reference(x, fb.taps) * 10 ** (-headroom_db(fb.taps) / 20)
    assert got.shape == ref.shape
    assert np.max(np.abs(got - ref)) < 1e-5


def run_brutefir(folder, x: np.ndarray, n_taps: int) -> np.ndarray:
    """The real ``brutefir brutefir.conf`` in ``folder`` on x (3, n) plus room for the
    filter tail; the driver feeds (D, n + N - 1)."""
    padded = np.concatenate([x, np.zeros((3, n_taps - 1), np.float32)], axis=1)
    padded.T.astype("<f4").tofile(folder / "input.raw")
    proc = subprocess.run(["brutefir", "brutefir.conf"], cwd=folder, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "HOME": str(folder)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return np.fromfile(folder / "output.raw", "<f4").reshape(-1, 5).T


def test_a_ladder_exports_a_config_per_rung_at_0_db_and_the_volumes_each_covers(tmp_path,
                                                                               capsys):
    """Each rung's folder holds its own export with no headroom attenuation (the volume
    does it); ladder.txt gives each rung's volume range. BruteFIR, where installed, runs a
    rung's config and gives that rung's convolution at 0 dB. Exporting again replaces the
    rung folders."""
    folder, ladder = write_ladder_folder(tmp_path / "ladder", n_taps=200)
    out = tmp_path / "out"
    for _ in range(2):
        assert export(folder, "--format", "brutefir", "--out", out) == 0
    assert sorted(p.name for p in out.iterdir()) == ["ladder.txt", "rung_12db", "rung_18db",
                                                     "rung_24db", "rung_6db"]
    assert "4 rungs" in capsys.readouterr().out
    headrooms = ladder.headrooms("lrc")
    note = (out / "ladder.txt").read_text()
    for rung, headroom, span in zip(ladder.rungs, headrooms, volume_ranges(headrooms, 0.0)):
        stem = rung.name.removesuffix(".npz")
        assert (f"{stem}/  headroom {headroom:6.2f} dB  plays at {describe_range(span)}; fits "
                f"up to {-headroom:.2f} dB") in note
        conf = (out / stem / "brutefir.conf").read_text()
        assert conf.count("attenuation: 0.000000;") == 15 and "-0.0" not in conf
        raw = np.fromfile(out / stem / "C_to_woofer.raw", "<f4")
        np.testing.assert_array_equal(raw, rung.bank.taps[2, 4])
    assert "up to -24.00 dB" in note and "every volume above -12.00 dB" in note
    if shutil.which("brutefir") is not None:
        x = np.random.default_rng(7).uniform(-0.1, 0.1, (3, 3000)).astype(np.float32)
        got = run_brutefir(out / "rung_18db", x, 200)
        assert np.max(np.abs(got - reference(x, ladder.rungs[2].bank.taps))) < 1e-5


def test_a_ladder_of_tracked_banks_is_refused_and_nothing_is_written(tmp_path, capsys):
    cells = grid_cells(lateral_m=(-0.05, 0.0, 0.05), distance_m=(2.0,))
    folder = tmp_path / "tracked"
    folder.mkdir()
    write_ladder(folder, [(f"t{k}.npz", tracked_rung(h, cells, seed=k))
                          for k, h in enumerate((8.0, 20.0))])
    out = tmp_path / "out"
    assert export(folder, "--format", "brutefir", "--out", out) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"{folder}: a ladder of tracked banks; the engines take plain banks" in err
    assert not out.exists()


def test_camilladsp_config_replayed_in_numpy_equals_the_renderer(tmp_path, bank):
    """Interpret the YAML the way CamillaDSP does (gain, mixers, Conv per channel) and check
    the result against the direct convolution; needs PyYAML, else the text is checked."""
    path, fb = bank
    out = tmp_path / "cd"
    out.mkdir()
    export(path, "--format", "camilladsp", "--out", out)
    text = (out / "camilladsp.yml").read_text()
    _text_checks(text)
    yaml = pytest.importorskip("yaml", reason="PyYAML absent: only the text was checked")
    cfg = yaml.safe_load(text)
    assert cfg["devices"]["capture"] == {"type": "Stdin", "channels": 3, "format": "FLOAT32LE"}
    assert cfg["devices"]["playback"]["channels"] == 5
    x = np.random.default_rng(6).uniform(-0.5, 0.5, (3, 3000))
    signal = x
    for step in cfg["pipeline"]:
        if step["type"] == "Mixer":
            mixer = cfg["mixers"][step["name"]]
            mixed = np.zeros((mixer["channels"]["out"], signal.shape[1]))
            for m in mixer["mapping"]:
                for src in m["sources"]:
                    sign = -1.0 if src["inverted"] else 1.0
                    mixed[m["dest"]] += sign * 10 ** (src["gain"] / 20) * signal[src["channel"]]
            signal = mixed
        else:
            signal = signal.copy()
            for ch in step["channels"]:
                for name in step["names"]:
                    flt = cfg["filters"][name]
                    if flt["type"] == "Gain":
                        assert flt["parameters"]["scale"] == "dB"
                        signal[ch] *= 10 ** (flt["parameters"]["gain"] / 20)
                    else:
                        assert flt["type"] == "Conv" and flt["parameters"]["type"] == "Wav"
                        fir, rate = sf.read(out / flt["parameters"]["filename"])
                        assert rate == cfg["devices"]["samplerate"]
                        signal[ch] = np.convolve(signal[ch], fir)[:signal.shape[1]]
    ref = reference(x, fb.taps)[:, :3000] * 10 ** (-headroom_db(fb.taps) / 20)
    assert signal.shape == ref.shape
    assert np.max(np.abs(signal - ref)) < 1e-5


def _text_checks(text: str) -> None:
    """The structure that is visible without a YAML parser."""
    assert text.count("type: Conv") == 15 and "format: FLOAT32LE" in text
    assert "name: fanout" in text and "name: sum" in text and "type: Gain" in text


def test_bad_output_directory_and_bank_exit_2(tmp_path, bank, capsys):
    path, _ = bank
    assert export(path, "--format", "wav", "--out", tmp_path / "missing" / "deeper") == 2
    assert "parent directory" in capsys.readouterr().err
    assert export(tmp_path / "nope.npz", "--format", "wav", "--out", tmp_path) == 2
    assert "not found" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fb.npz"]
