"""Bad input files for the error-handling tests: each builder writes one broken file.

Valid banks come from ``renderer_fixtures.synthetic_bank``; everything here is a small,
deliberately wrong variant of a good file, plus helpers that run a CLI in-process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

from conftest import array_toml, driver_toml  # noqa: E402
from ladder_fixtures import rung_bank, tracked_rung, write_ladder_folder  # noqa: E402
from renderer.filterbank import write_filterbank  # noqa: E402
from renderer.ladder import write_ladder  # noqa: E402
from renderer.trackedbank import write_trackedbank  # noqa: E402
from renderer_fixtures import synthetic_bank  # noqa: E402
from tracked_fixtures import grid_cells  # noqa: E402

import _cli  # noqa: E402


# ---------------------------------------------------------------- running the CLIs

def load_script(name: str):
    """Import ``scripts/<name>.py`` as a module (its ``main`` and ``build_parser``)."""
    spec = importlib.util.spec_from_file_location(f"soundstage_cli_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_cli(name: str, argv: list[str]) -> tuple[int, str]:
    """Run a CLI in this process exactly as ``sys.exit(run(main, parser))`` does; returns
    (exit code, stderr)."""
    module = load_script(name)
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = _cli.run(module.main, module.build_parser(), argv)
        except SystemExit as exc:  # argparse usage errors
            code = exc.code
    return code, err.getvalue()


def run_cli_subprocess(name: str, argv: list[str],
                       timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPTS / f"{name}.py"), *argv], cwd=ROOT,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)  # no terminal: play.py reads no keys


def run_python(code: str) -> subprocess.CompletedProcess:
    """Run ``python -c code`` in a fresh interpreter at the checkout's root, the checkout on
    its path (what a fresh process imports, e.g. for import-time checks)."""
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def all_files(directory: Path) -> list[str]:
    """Every file (hidden temporaries included) below ``directory``; [] if it is absent."""
    if not directory.exists():
        return []
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


@contextlib.contextmanager
def readonly_dir(path: Path) -> Iterator[Path]:
    """A directory nothing can be written to: chmod for a normal user; root ignores
    permissions, so for root a read-only tmpfs is mounted (skip if that is not allowed)."""
    import pytest

    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        path.chmod(0o555)
        try:
            yield path
        finally:
            path.chmod(0o755)
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(path)],
                             capture_output=True).returncode == 0
    if not mounted:
        pytest.skip("running as root and cannot mount a read-only tmpfs")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


@contextlib.contextmanager
def tiny_filesystem(path: Path, size: str = "16k") -> Iterator[Path]:
    """A real full disk: a tmpfs of ``size`` mounted at ``path`` (skip if not allowed)."""
    import pytest

    path.mkdir(parents=True, exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


# ---------------------------------------------------------------- array TOML files

def bad_arrays(directory: Path) -> dict[str, tuple[Path, list[str]]]:
    """{case: (array .toml, words the error must contain)}: one broken field each."""
    good = driver_toml()
    cases = {
        "toml_syntax": ('name = "broken\n[listener]\n', ["not valid TOML"]),
        "missing_field": (array_toml(good.replace("radius_m = 0.05\n", "")),
                          ["drivers[0].radius_m", "missing"]),
        "wrong_type": (array_toml(good.replace("radius_m = 0.05", 'radius_m = "big"')),
                       ["drivers[0].radius_m", "expected a number"]),
        "nan_radius": (array_toml(good.replace("radius_m = 0.05", "radius_m = nan")),
                       ["drivers[0].radius_m", "finite"]),
        "inf_position": (array_toml(driver_toml(position_m=(0.0, 0.0, 0.0)).replace(
            "position_m = [0.0, 0.0, 0.0]", "position_m = [inf, 0.0, 0.0]")),
            ["drivers[0].position_m[0]", "finite"]),
        "negative_radius": (array_toml(driver_toml(radius_m=-0.01)),
                            ["drivers[0].radius_m", "positive"]),
        "zero_axis": (array_toml(driver_toml(axis=(0.0, 0.0, 0.0))),
                      ["drivers[0].axis", "non-zero"]),
        "band_inverted": (array_toml(driver_toml(band_hz=(5000.0, 100.0))),
                          ["drivers[0].band_hz", "lo < hi"]),
        "band_equal": (array_toml(driver_toml(band_hz=(1000.0, 1000.0))),
                       ["drivers[0].band_hz", "lo < hi"]),
        "no_drivers": (array_toml().split("[[drivers]]")[0], ["drivers", "missing"]),
        "unknown_field": (array_toml(good + "colour = 'red'\n"), ["colour", "unknown"]),
    }
    out = {}
    for case, (text, words) in cases.items():
        path = directory / f"array_{case}.toml"
        path.write_text(text)
        out[case] = (path, [path.name, *words])
    return out


# ---------------------------------------------------------------- SOFA files

def bad_sofas(directory: Path) -> dict[str, tuple[Path, list[str]]]:
    """{case: (.sofa path, words)}: missing, not netCDF, and another convention."""
    import sofar

    garbage = directory / "garbage.sofa"
    garbage.write_bytes(b"this is not a netCDF file\n" * 10)
    other = directory / "general_fir.sofa"
    sofa = sofar.Sofa("GeneralFIR")
    sofa.Data_IR = np.zeros((2, 2, 16))
    sofa.Data_IR[:, :, 0] = 1.0
    sofa.SourcePosition = [[0.0, 0.0, 1.0], [90.0, 0.0, 1.0]]
    sofa.Data_SamplingRate = 48000
    sofa.Data_Delay = np.zeros((1, 2))
    sofar.write_sofa(str(other), sofa)
    return {"sofa_missing": (directory / "absent.sofa", ["absent.sofa"]),
            "sofa_malformed": (garbage, ["garbage.sofa", "SOFA"]),
            "sofa_convention": (other, ["general_fir.sofa", "GeneralFIR", "SimpleFreeFieldHRIR"])}


# ---------------------------------------------------------------- filter banks

def _save(path: Path, taps, ctc_taps, manifest) -> Path:
    with open(path, "wb") as fh:  # plain np.savez: these files are broken on purpose
        np.savez(fh, taps=taps, ctc_taps=ctc_taps, manifest=np.array(json.dumps(manifest)))
    return path


def bad_banks(directory: Path) -> dict[str, tuple[Path, list[str]]]:
    """{case: (.npz path, words)}: every way CONVENTIONS.md says a reader must reject."""
    bank = synthetic_bank(64)
    t, c, m = bank.taps, bank.ctc_taps, bank.manifest
    whole = _save(directory / "good.npz", t, c, m).read_bytes()
    truncated = directory / "bank_truncated.npz"
    truncated.write_bytes(whole[: len(whole) // 2])
    text = directory / "bank_text.npz"
    text.write_text("taps = 1, 2, 3\n")
    nonfinite = t.copy()
    nonfinite[1, 2, 3] = np.nan
    infinite = c.copy()
    infinite[0, 0, 0] = np.inf
    cases = {
        "bank_missing": (directory / "absent.npz", ["absent.npz", "not found"]),
        "bank_truncated": (truncated, ["truncated"]),
        "bank_not_npz": (text, ["not a readable"]),
        "bank_other_format": (_save(directory / "bank_other_format.npz", t, c,
                                    {**m, "format": "acme.filters"}), ["format", "acme.filters"]),
        "bank_other_version": (_save(directory / "bank_other_version.npz", t, c,
                                     {**m, "version": 2}), ["version", "2"]),
        "bank_no_manifest_key": (_save(directory / "bank_no_manifest_key.npz", t, c,
                                       {k: v for k, v in m.items() if k != "sample_rate"}),
                                 ["sample_rate"]),
        "bank_wrong_shape": (_save(directory / "bank_wrong_shape.npz", t[:2], c, m),
                             ["taps", "shape"]),
        "bank_wrong_drivers": (_save(directory / "bank_wrong_drivers.npz", t[:, :3], c[:, :3], m),
                               ["taps", "5 drivers"]),
        "bank_nan_taps": (_save(directory / "bank_nan_taps.npz", nonfinite, c, m),
                          ["taps", "NaN or infinite"]),
        "bank_inf_ctc_taps": (_save(directory / "bank_inf_ctc_taps.npz", t, infinite, m),
                              ["ctc_taps", "NaN or infinite"]),
        "bank_float64": (_save(directory / "bank_float64.npz", t.astype(np.float64), c, m),
                         ["float32"]),
    }
    (directory / "good.npz").unlink()
    return {case: (path, [path.name, *words]) for case, (path, words) in cases.items()}


# ---------------------------------------------------------------- ladder folders

BAD_LADDERS = ["missing", "empty", "not_json", "not_object", "format", "version",
               "unknown_key", "no_rungs", "rung_not_object", "missing_file", "path_as_file",
               "twice", "no_headroom", "nan_headroom", "bad_budget", "rung_unknown_key",
               "out_of_order", "disagrees", "not_a_bank", "same_headroom", "rate", "latency",
               "drivers", "bad_metric", "channels", "mixed", "cells"]


def _edit_index(folder: Path, **changes) -> None:
    """Change fields of a ladder.json: ``rung1_file=...`` one rung's, ``format=...`` the
    top level's; None deletes."""
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


def bad_ladders(tmp_path: Path) -> dict[str, tuple[Path, list[str]]]:
    """{case: (ladder folder, words the message must hold)}: one fault each, every way
    renderer.ladder.read_ladder must refuse."""
    tmp_path.mkdir(parents=True, exist_ok=True)
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
        _edit_index(folder, **change)
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


# ---------------------------------------------------------------- WAV files

def bad_wavs(directory: Path, rate: int = 48000) -> dict[str, tuple[Path, list[str]]]:
    """{case: (.wav path, words)} for a stereo render at ``rate``."""
    noise = np.random.default_rng(0).standard_normal((2400, 2)) * 0.1
    garbage = directory / "wav_garbage.wav"
    garbage.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    empty = directory / "wav_empty.wav"
    sf.write(empty, np.zeros((0, 2)), rate)
    four = directory / "wav_four_channels.wav"
    sf.write(four, np.zeros((480, 4)), rate)
    slow = directory / "wav_44k1.wav"
    sf.write(slow, noise, 44100)
    nan = directory / "wav_nan.wav"
    bad = noise.copy()
    bad[100, 0] = np.nan
    sf.write(nan, bad, rate, subtype="FLOAT")
    return {"wav_missing": (directory / "absent.wav", ["absent.wav", "not found"]),
            "wav_unreadable": (garbage, ["wav_garbage.wav", "not a readable"]),
            "wav_empty": (empty, ["wav_empty.wav", "no samples"]),
            "wav_channels": (four, ["wav_four_channels.wav", "channel", "4"]),
            "wav_rate": (slow, ["wav_44k1.wav", "44100", "48000"]),
            "wav_nan": (nan, ["wav_nan.wav", "NaN"])}
