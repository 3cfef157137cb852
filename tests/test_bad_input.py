"""Every CLI on every kind of bad input: exit code 2, one paragraph on stderr naming the
file/field/argument and what was expected, no traceback, and no output file left behind.

The sweep runs each CLI in-process through the same ``_cli.run`` that ``sys.exit`` wraps
(a subprocess per case would cost seconds of imports each); ``test_subprocess_*`` prove
that the real command line behaves the same, and that ``--debug`` shows the traceback.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bad_inputs import (BAD_LADDERS, all_files, bad_arrays, bad_banks, bad_ladders, bad_sofas,
                        bad_wavs, readonly_dir, run_cli, run_cli_subprocess)
from common.errors import InputError
from ladder_fixtures import tracked_rung, write_ladder_folder
from renderer.filterbank import write_filterbank
from renderer.ladder import write_ladder
from renderer_fixtures import synthetic_bank
from tracked_fixtures import grid_cells

TRAIN_FAST = ["--steps", "5", "--taps", "256", "--quiet"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, tuple[Path, list[str]]]:
    """Every bad input file, plus a good bank and a good stereo WAV (module-scoped)."""
    directory = tmp_path_factory.mktemp("inputs")
    files = {**bad_arrays(directory), **bad_sofas(directory), **bad_banks(directory),
             **bad_wavs(directory)}
    good_bank = directory / "good_bank.npz"
    write_filterbank(good_bank, synthetic_bank(64))
    good_wav = directory / "good.wav"
    sf.write(good_wav, np.random.default_rng(1).standard_normal((2400, 2)) * 0.1, 48000)
    config = {
        "config_syntax": ("[optimizer\nsteps = 3\n", ["not valid TOML"]),
        "config_unknown": ("[optimizer]\nstepz = 3\n", ["optimizer.stepz", "unknown"]),
        "config_wrong_type": ('[design]\npool = "many"\n', ["design.pool", "integer"]),
        "config_nan": ("[optimizer]\nlearning_rate = nan\n", ["learning_rate", "finite"]),
        "config_negative": ("[optimizer]\nlearning_rate = -1.0\n", ["learning_rate", "positive"]),
        "config_band": ("[targets.beam]\nband_hz = [300.0, inf]\n", ["band_hz[1]", "finite"]),
        "config_weight": ("[weights]\neffort = -2.0\n", ["weights.effort", ">= 0"]),
        "config_symmetric": ("[design]\nsymmetric = 1\n", ["design.symmetric", "true or false"]),
        "config_heads": ("[listeners]\nheads = 0\n", ["listeners.heads", "integer >= 1"]),
        "config_ear_range": ("[listeners]\near_down_deg = [5.0, 2.0]\n",
                             ["listeners.ear_down_deg", "lo <= hi"]),
    }
    for case, (text, words) in config.items():
        path = directory / f"{case}.toml"
        path.write_text(text)
        files[case] = (path, [path.name, *words])
    files["good_bank"] = (good_bank, [])
    files["good_wav"] = (good_wav, [])
    files.update({f"ladder_{case}": value
                  for case, value in bad_ladders(directory / "ladders").items()})
    tracked = directory / "tracked_ladder"
    tracked.mkdir()
    cells = grid_cells(lateral_m=(-0.05, 0.05), distance_m=(2.0,))
    write_ladder(tracked, [(f"t{h}.npz", tracked_rung(h, cells, n_taps=64)) for h in (6, 12)])
    files["tracked_ladder"] = (tracked, ["tracked_ladder", "tracked banks"])
    files["good_ladder"] = (write_ladder_folder(directory / "good_ladder", n_taps=64)[0], [])
    return files


def _train(case: str, inputs, out: Path) -> tuple[list[str], list[str]]:
    target = ["--out", str(out / "filterbank.npz"), *TRAIN_FAST]
    if case.startswith("array_"):
        path, words = inputs[case.removeprefix("array_")]
        return ["--array", str(path), *target], words
    if case.startswith("config_"):
        path, words = inputs[case]
        return ["--config", str(path), *target], words
    if case.startswith("sofa_"):
        path, words = inputs[case]
        return ["--head", str(path), *target], words
    return {
        "unknown_array": (["--array", "nope", *target], ["unknown array 'nope'", "studio"]),
        "missing_config": (["--config", str(out.parent / "absent.toml"), *target],
                           ["absent.toml", "not found"]),
        "negative_steps": ([*target, "--steps", "-1"], ["--steps", "non-negative"]),
        "tiny_taps": ([*target, "--taps", "8"], ["taps", "integer >= 64"]),
        "unknown_zone": ([*target, "--zone", "balcony"], ["zone 'balcony'", "couch"]),
        "wide_virtual": ([*target, "--width-deg", "120"], ["width_deg", "<= 89"]),
        "out_missing_dir": (["--out", str(out / "no" / "such" / "fb.npz"), *TRAIN_FAST],
                            ["fb.npz", "does not exist"]),
        "ladder_tracked": (["--ladder", "6,12", "--tracked", "--out", str(out / "ladder"),
                            *TRAIN_FAST], ["--ladder", "--tracked"]),
    }[case]


TRAIN_CASES = (["unknown_array", "missing_config", "negative_steps", "tiny_taps", "unknown_zone",
                "wide_virtual", "out_missing_dir", "ladder_tracked"]
               + [f"array_{c}" for c in ("toml_syntax", "missing_field", "wrong_type", "nan_radius",
                                         "inf_position", "negative_radius", "zero_axis",
                                         "band_inverted", "band_equal", "no_drivers",
                                         "unknown_field")]
               + ["config_syntax", "config_unknown", "config_wrong_type", "config_nan",
                  "config_negative", "config_band", "config_weight", "config_symmetric",
                  "config_heads", "config_ear_range"]
               + ["sofa_missing", "sofa_malformed", "sofa_convention"])


def _robustness(case: str, inputs, out: Path) -> tuple[list[str], list[str]]:
    good = str(inputs["good_bank"][0])
    target = ["--out", str(out / "study"), "--grid", "3", "3"]
    if case.startswith("bank_"):
        path, words = inputs[case]
        return ["--filters", str(path), *target], words
    if case.startswith("sofa_"):
        path, words = inputs[case]
        return ["--filters", good, "--head", str(path), *target], words
    if case.startswith("array_"):
        path, words = inputs[case.removeprefix("array_")]
        return ["--filters", good, "--array", str(path), *target], words
    return {
        "compare_bad": (["--filters", good, "--compare", str(inputs["bank_nan_taps"][0]), *target],
                        inputs["bank_nan_taps"][1]),
        "unknown_array": (["--filters", good, "--array", "nope", *target], ["unknown array"]),
        "unknown_zone": (["--filters", good, "--zone", "balcony", *target], ["balcony"]),
        "grid": (["--filters", good, "--out", str(out / "study"), "--grid", "1", "5"],
                 ["--grid", "2 x 2"]),
        "width": (["--filters", good, "--width-deg", "95", *target], ["--width-deg", "(0, 90)"]),
        "out_missing_dir": (["--filters", good, "--out", str(out / "no" / "study")],
                            ["does not exist"]),
        "missing_filters_arg": ([*target], ["--filters"]),
    }[case]


BANK_CASES = ["bank_missing", "bank_truncated", "bank_not_npz", "bank_other_format",
              "bank_other_version", "bank_no_manifest_key", "bank_wrong_shape",
              "bank_wrong_drivers", "bank_nan_taps", "bank_inf_ctc_taps", "bank_float64"]
ROBUSTNESS_CASES = (BANK_CASES + ["sofa_malformed", "sofa_convention", "array_negative_radius",
                                  "array_band_inverted", "compare_bad", "unknown_array",
                                  "unknown_zone", "grid", "width", "out_missing_dir",
                                  "missing_filters_arg"])


def _render(case: str, inputs, out: Path) -> tuple[list[str], list[str]]:
    good_bank, good_wav = str(inputs["good_bank"][0]), str(inputs["good_wav"][0])
    target = str(out / "feeds.wav")
    if case.startswith("bank_"):
        path, words = inputs[case]
        return [good_wav, target, "--filters", str(path), "--quiet"], words
    if case.startswith("wav_"):
        path, words = inputs[case]
        return [str(path), target, "--filters", good_bank, "--quiet"], words
    if case.startswith("ladder_"):
        path, words = inputs[case]
        return [good_wav, target, "--filters", str(path), "--quiet"], words
    return {
        "lrc_from_stereo": ([good_wav, target, "--filters", good_bank, "--input", "lrc"],
                            ["good.wav", "lrc", "3 channel"]),
        "block": ([good_wav, target, "--filters", good_bank, "--block", "7"], ["block", "32"]),
        "gain_nan": ([good_wav, target, "--filters", good_bank, "--gain-db", "nan"],
                     ["--gain-db", "finite"]),
        "out_not_wav": ([good_wav, str(out / "feeds.mp3"), "--filters", good_bank],
                        ["feeds.mp3", ".wav"]),
        "out_missing_dir": ([good_wav, str(out / "no" / "feeds.wav"), "--filters", good_bank],
                            ["feeds.wav", "does not exist"]),
        "preview_position": ([good_wav, target, "--filters", good_bank, "--preview", "1,nan"],
                             ["--preview"]),
        "unknown_input_kind": ([good_wav, target, "--filters", good_bank, "--input", "5.1"],
                               ["--input", "stereo"]),
        "volume_over_full_scale": ([good_wav, target, "--filters", good_bank, "--volume-db",
                                    "2"], ["--volume-db", "-90 to 0 dB", "got 2.0"]),
        "volume_nan": ([good_wav, target, "--filters", good_bank, "--volume-db", "nan"],
                       ["--volume-db", "nan"]),
        "poses_with_plain_ladder": ([good_wav, target, "--filters",
                                     str(inputs["good_ladder"][0]),
                                     "--poses", good_wav], ["--poses", "plain filter banks"]),
    }[case]


RENDER_CASES = (["bank_missing", "bank_truncated", "bank_other_version", "bank_wrong_shape",
                 "bank_nan_taps", "wav_missing", "wav_unreadable", "wav_empty", "wav_channels",
                 "wav_rate", "wav_nan", "lrc_from_stereo", "block", "gain_nan", "out_not_wav",
                 "out_missing_dir", "preview_position", "unknown_input_kind",
                 "volume_over_full_scale", "volume_nan", "poses_with_plain_ladder"]
                + [f"ladder_{case}" for case in BAD_LADDERS])


def _sweep(case: str, inputs, out: Path) -> tuple[list[str], list[str]]:
    target = ["--out", str(out / "sweep"), "--steps", "5", "--taps", "256"]
    if case.startswith("array_"):
        path, words = inputs[case.removeprefix("array_")]
        return ["--arrays", str(path), *target], words
    return {
        "unknown_array": (["--arrays", "studio", "nope", *target], ["unknown array 'nope'"]),
        "unknown_zone": (["--zones", "balcony", *target], ["balcony"]),
        "negative_taps": (["--out", str(out / "sweep"), "--taps", "-256"], ["--taps"]),
        "zero_steps": (["--out", str(out / "sweep"), "--steps", "0"], ["--steps"]),
        "lateral_nan": (["--zone-lateral-m", "nan", *target], ["--zone-lateral-m"]),
        "bad_weights": (["--weights", "effort=lots", *target], ["effort=lots"]),
        "out_missing_dir": (["--out", str(out / "no" / "sweep")], ["does not exist"]),
    }[case]


SWEEP_CASES = ["unknown_array", "unknown_zone", "negative_taps", "zero_steps", "lateral_nan",
               "bad_weights", "out_missing_dir", "array_toml_syntax", "array_nan_radius",
               "array_zero_axis"]

def _export(case: str, inputs, out: Path) -> tuple[list[str], list[str]]:
    good_bank = str(inputs["good_bank"][0])
    if case.startswith(("bank_", "ladder_")) or case == "tracked_ladder":
        path, words = inputs[case]
        return [str(path), "--format", "wav", "--out", str(out)], words
    return {
        "out_missing_dir": ([good_bank, "--format", "brutefir", "--out",
                             str(out / "no" / "such")], ["parent directory", "does not exist"]),
        "out_is_file": ([good_bank, "--format", "wav", "--out", str(inputs["good_wav"][0])],
                        ["good.wav", "not a directory"]),
        "unknown_format": ([good_bank, "--format", "vst", "--out", str(out)],
                           ["--format", "camilladsp"]),
    }[case]


EXPORT_CASES = ["bank_missing", "bank_truncated", "bank_other_format", "bank_wrong_drivers",
                "bank_inf_ctc_taps", "bank_float64", "out_missing_dir", "out_is_file",
                "unknown_format", "tracked_ladder", "ladder_empty", "ladder_version",
                "ladder_out_of_order", "ladder_disagrees", "ladder_mixed", "ladder_rate"]

BUILDERS = {"train": _train, "robustness": _robustness, "render": _render, "sweep": _sweep,
            "export": _export}
CASES = ([("train", c) for c in TRAIN_CASES] + [("robustness", c) for c in ROBUSTNESS_CASES]
         + [("render", c) for c in RENDER_CASES] + [("sweep", c) for c in SWEEP_CASES]
         + [("export", c) for c in EXPORT_CASES])


def check_failure(code: int, err: str, words: list[str], out: Path, prog: str) -> None:
    """Exit 2, one paragraph naming ``words`` (whitespace-insensitive), no traceback, and
    nothing at all written below ``out``."""
    assert code == 2, f"exit code {code}, stderr:\n{err}"
    assert "Traceback" not in err, err
    text = " ".join(err.split())
    assert f"{prog}.py: error:" in text, err
    assert "\n\n" not in err.strip(), f"more than one paragraph:\n{err}"
    for word in words:
        assert " ".join(word.split()) in text, f"{word!r} not in the message:\n{err}"
    assert all_files(out) == [], f"output left behind: {all_files(out)}"


@pytest.mark.parametrize("cli,case", CASES, ids=[f"{a}-{b}" for a, b in CASES])
def test_bad_input(cli: str, case: str, inputs, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    argv, words = BUILDERS[cli](case, inputs, out)
    code, err = run_cli(cli, argv)
    check_failure(code, err, words, out, cli)


@pytest.mark.parametrize("cli", ["train", "robustness", "render", "sweep", "export"])
def test_readonly_output_dir(cli: str, inputs, tmp_path):
    locked = tmp_path / "locked"
    with readonly_dir(locked):
        argv = {"train": ["--out", str(locked / "fb.npz"), *TRAIN_FAST],
                "robustness": ["--filters", str(inputs["good_bank"][0]),
                               "--out", str(locked / "study")],
                "render": [str(inputs["good_wav"][0]), str(locked / "feeds.wav"),
                           "--filters", str(inputs["good_bank"][0]), "--quiet"],
                "sweep": ["--out", str(locked / "sweep"), "--steps", "5"],
                "export": [str(inputs["good_bank"][0]), "--format", "wav", "--out", str(locked)],
                }[cli]
        code, err = run_cli(cli, argv)
        check_failure(code, err, [str(locked), "writable"], locked, cli)


def test_existing_output_survives_a_bad_run(inputs, tmp_path):
    """A failed render leaves a previous good output byte-for-byte as it was."""
    target = tmp_path / "feeds.wav"
    target.write_bytes(b"previous good render")
    code, err = run_cli("render", [str(inputs["wav_rate"][0]), str(target),
                                   "--filters", str(inputs["good_bank"][0])])
    assert code == 2, err
    assert target.read_bytes() == b"previous good render"
    assert all_files(tmp_path) == ["feeds.wav"]


@pytest.mark.parametrize("cli,argv_of", [
    ("train", lambda i, o: ["--array", str(i["negative_radius"][0]), "--out", str(o / "fb.npz")]),
    ("robustness", lambda i, o: ["--filters", str(i["bank_truncated"][0]), "--out", str(o / "s")]),
    ("render", lambda i, o: [str(i["wav_channels"][0]), str(o / "f.wav"),
                             "--filters", str(i["good_bank"][0])]),
    ("sweep", lambda i, o: ["--arrays", "nope", "--out", str(o / "s")]),
    ("export", lambda i, o: [str(i["bank_other_version"][0]), "--format", "wav", "--out", str(o)]),
], ids=["train", "robustness", "render", "sweep", "export"])
def test_subprocess_exit_code_and_debug(cli, argv_of, inputs, tmp_path):
    """The real command line: exit 2 and a paragraph; ``--debug`` re-raises the InputError."""
    out = tmp_path / "out"
    out.mkdir()
    argv = argv_of(inputs, out)
    result = run_cli_subprocess(cli, argv)
    check_failure(result.returncode, result.stderr, [f"{cli}.py: error:"], out, cli)
    with pytest.raises(InputError):
        run_cli(cli, [*argv, "--debug"])
    assert all_files(out) == []
