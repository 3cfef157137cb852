"""Export a filter bank for other convolution engines: mono FIR files plus a config.

``wav``: one float32 WAV per (input, driver) path and ``paths.json``; ``brutefir``: raw
float32 little-endian coefficients and ``brutefir.conf`` (a ``from_inputs`` /
``to_outputs`` filter per path, raw-file I/O); ``camilladsp``: WAV coefficients and
``camilladsp.yml`` for CamillaDSP v3 (a fan-out mixer, one ``Conv`` filter per path, a
summing mixer). Both configs apply the bank's headroom gain (:func:`headroom_db`).

A ladder (renderer.ladder) exports as one such folder per rung, each config at 0 dB (the
engine's volume control does the attenuation), and ``ladder.txt``, which says at which
volumes each rung fits, for engines that switch configurations with the volume.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from common.errors import InputError
from renderer.filterbank import CHANNELS, CTC_CHANNELS, FilterBank
# headroom_db is still importable from here (renderer.export was its home until the ladder)
from renderer.headroom import MARGIN_DB, describe_range, headroom_db, volume_ranges
from renderer.wavio import write_wav

if TYPE_CHECKING:  # only a type here: the ladder's reading stays out of a bank export
    from renderer.ladder import Ladder

FORMATS = ("wav", "brutefir", "camilladsp")
INPUTS = {"lrc": CHANNELS, "binaural": CTC_CHANNELS}
BRUTEFIR_PARTITION = 1024  # samples per BruteFIR partition (its block size)


def export_bank(bank: FilterBank, out_dir: str | Path, fmt: str, *,
                inputs: str = "lrc", gain_db: float | None = None) -> list[Path]:
    """Write the export of ``bank``'s ``taps`` (``inputs="lrc"``) or ``ctc_taps``
    (``"binaural"``) into the existing directory ``out_dir``; returns the files written.
    The configs apply ``gain_db`` (default: minus the headroom, so nothing clips).

    All files appear together at the end, or none (on any error)."""
    _check(fmt, inputs, out_dir)
    staging = _Staging(out_dir)
    with staging as folder:
        _write_bank(bank, folder, fmt, inputs, gain_db)
    return staging.written


def export_ladder(ladder: Ladder, out_dir: str | Path, fmt: str, *,
                  inputs: str = "lrc") -> list[Path]:
    """Write one export of each rung of ``ladder`` (plain banks) into a folder named after
    its file, every config at 0 dB, and ``ladder.txt``: the volumes at which each rung fits
    (renderer.headroom.volume_ranges with the margin of ``inputs``). Returns the top-level
    entries written; all appear together, or none."""
    _check(fmt, inputs, out_dir)
    banks = [rung.bank for rung in ladder.rungs]
    plain = [bank for bank in banks if isinstance(bank, FilterBank)]
    if len(plain) != len(banks):
        raise InputError(f"{ladder.where}: a ladder of tracked banks; the engines take plain "
                         f"banks (export a rung's nominal cell instead)")
    headrooms = ladder.headrooms(inputs)
    margin = MARGIN_DB[inputs]
    note = [f"soundstage ladder {ladder.where}: {len(ladder.rungs)} rungs for {fmt}, "
            f"{inputs} input, every config at 0 dB.",
            "Set the engine's volume V (dB, 0 = full scale) before the filters and load the",
            "config of the rung whose range holds V: the most headroom that fits, V + headroom",
            f"<= {-margin + 0.0:.2f} dB (the margin for this input). Where no rung fits, the "
            "least headroom",
            "plays and full-scale input can clip: these engines have no limiter.", ""]
    staging = _Staging(out_dir)
    with staging as top:
        for rung, bank, headroom, span in zip(ladder.rungs, plain, headrooms,
                                              volume_ranges(headrooms, margin)):
            folder = top / Path(rung.name).stem
            folder.mkdir()
            _write_bank(bank, folder, fmt, inputs, 0.0)
            note.append(f"{folder.name}/  headroom {headroom:6.2f} dB  plays at "
                        f"{describe_range(span)}; fits up to {-(headroom + margin):.2f} dB")
        (top / "ladder.txt").write_text("\n".join(note) + "\n")
    return staging.written


class _Staging:
    """A hidden folder in ``out_dir`` whose entries all move into ``out_dir`` at the end of
    the ``with`` block (replacing entries of the same name), or are removed on any error;
    :attr:`written` lists what moved."""

    def __init__(self, out_dir: str | Path):
        self.out_dir = Path(out_dir)
        self.written: list[Path] = []

    def __enter__(self) -> Path:
        self.path = Path(tempfile.mkdtemp(prefix=".export.", dir=self.out_dir))
        return self.path

    def __exit__(self, kind, value, traceback) -> None:
        try:
            if kind is None:
                for item in sorted(self.path.iterdir()):
                    target = self.out_dir / item.name
                    if target.is_dir() and item.is_dir():
                        shutil.rmtree(target)  # a rung folder of an earlier export
                    os.replace(item, target)
                    self.written.append(target)
        finally:
            shutil.rmtree(self.path, ignore_errors=True)


def _write_bank(bank: FilterBank, folder: Path, fmt: str, inputs: str,
                gain_db: float | None) -> None:
    """The files of one bank's export (see :func:`export_bank`) into ``folder``."""
    taps = bank.taps if inputs == "lrc" else bank.ctc_taps
    names = INPUTS[inputs]
    paths = {(i, d): f"{names[i]}_to_{driver}" for i in range(len(names))
             for d, driver in enumerate(bank.driver_names)}
    gain = -headroom_db(taps) if gain_db is None else gain_db
    if fmt == "brutefir":
        for (i, d), stem in paths.items():
            taps[i, d].astype("<f4").tofile(folder / f"{stem}.raw")
        (folder / "brutefir.conf").write_text(brutefir_config(bank, taps, names, paths, gain))
    else:
        for (i, d), stem in paths.items():
            write_wav(folder / f"{stem}.wav", taps[i, d][None], bank.sample_rate)
        if fmt == "camilladsp":
            text = camilladsp_config(bank, taps, names, paths, gain)
            (folder / "camilladsp.yml").write_text(text)
        else:
            (folder / "paths.json").write_text(json.dumps(_listing(bank, taps, names, paths),
                                                          indent=2) + "\n")


def _check(fmt: str, inputs: str, out_dir: str | Path) -> None:
    if fmt not in FORMATS:
        raise InputError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if inputs not in INPUTS:
        raise InputError(f"--input: expected one of {', '.join(INPUTS)}, got {inputs!r}")
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise InputError(f"{out_dir}: output directory does not exist (or is not a directory)")
    if not os.access(out_dir, os.W_OK):
        raise InputError(f"{out_dir}: output directory is not writable")


def _listing(bank: FilterBank, taps, names, paths) -> dict:
    return {"sample_rate": bank.sample_rate, "taps": int(taps.shape[-1]),
            "inputs": list(names), "outputs": bank.driver_names,
            "headroom_db": headroom_db(taps),
            "paths": [{"input": names[i], "output": bank.driver_names[d], "file": f"{stem}.wav"}
                      for (i, d), stem in paths.items()]}


def brutefir_config(bank: FilterBank, taps, names, paths, gain_db: float) -> str:
    """BruteFIR config text: raw FLOAT_LE coefficients at ``gain_db``, input.raw ->
    output.raw file I/O."""
    n_taps = taps.shape[-1]
    parts = -(-n_taps // BRUTEFIR_PARTITION)
    drivers = bank.driver_names
    quote = ", ".join
    lines = [
        f"# soundstage filter bank ({bank.manifest['array']}): {len(names)} inputs x "
        f"{len(drivers)} drivers x {n_taps} taps at {bank.sample_rate} Hz.",
        "# Run from this directory: brutefir brutefir.conf. Interleaved float32 input.raw",
        f"# ({quote(names)}) becomes output.raw ({quote(drivers)}) of the same length;",
        f"# append {n_taps - 1} zeros to the input to get the filter tail.",
        "# For live audio replace the two \"file\" devices, e.g. with \"alsa\".",
        f"sampling_rate: {bank.sample_rate};",
        f"filter_length: {BRUTEFIR_PARTITION},{parts};",
        "float_bits: 32;",
        "overflow_warnings: true;",
        "show_progress: false;",
        "monitor_rate: false;",
        "powersave: false;",
        "lock_memory: false;",
        "",
    ]
    attenuation = -gain_db + 0.0  # + 0.0: no "-0.000000"
    for stem in paths.values():
        lines.append(f'coeff "{stem}" {{ filename: "{stem}.raw"; format: "FLOAT_LE"; '
                     f"attenuation: {attenuation:.6f}; }};")
    in_names = ", ".join(f'"{n}"' for n in names)
    out_names = ", ".join(f'"{d}"' for d in drivers)
    lines += ["", f"input {in_names} {{",
              '    device: "file" { path: "input.raw"; };',
              f'    sample: "FLOAT_LE"; channels: {len(names)};', "};",
              f"output {out_names} {{",
              '    device: "file" { path: "output.raw"; };',
              f'    sample: "FLOAT_LE"; channels: {len(drivers)};', "};", ""]
    for (i, d), stem in paths.items():
        lines.append(f'filter "{stem}" {{ from_inputs: "{names[i]}"; '
                     f'to_outputs: "{drivers[d]}"; coeff: "{stem}"; }};')
    return "\n".join(lines) + "\n"


def camilladsp_config(bank: FilterBank, taps, names, paths, gain_db: float) -> str:
    """CamillaDSP v3 YAML: a ``headroom`` gain of ``gain_db``, fan-out mixer, a Conv per
    path, summing mixer.

    Stdin/Stdout raw FLOAT32LE devices; replace them with the real capture and playback."""
    drivers = bank.driver_names
    n_in, n_d = len(names), len(drivers)
    order = list(paths.items())  # channel k of the fanned-out stream is path order[k]
    out = [
        f"# soundstage filter bank ({bank.manifest['array']}) for CamillaDSP v3: inputs "
        f"{', '.join(names)}; outputs {', '.join(drivers)}.",
        "# Run: camilladsp camilladsp.yml < input.raw > output.raw (interleaved float32).",
        "title: \"soundstage filter bank\"",
        "devices:",
        f"  samplerate: {bank.sample_rate}",
        f"  chunksize: {max(1024, 1 << int(np.ceil(np.log2(taps.shape[-1]))))}",
        "  capture:",
        "    type: Stdin",
        f"    channels: {n_in}",
        "    format: FLOAT32LE",
        "  playback:",
        "    type: Stdout",
        f"    channels: {n_d}",
        "    format: FLOAT32LE",
        "filters:",
        "  headroom:",
        "    type: Gain",
        "    parameters:",
        f"      gain: {gain_db + 0.0:.6f}",
        "      scale: dB",
    ]
    for (_, stem) in order:
        out += [f"  {stem}:", "    type: Conv", "    parameters:", "      type: Wav",
                f"      filename: {stem}.wav", "      channel: 0"]
    out += ["mixers:", "  fanout:", "    channels:", f"      in: {n_in}",
            f"      out: {len(order)}", "    mapping:"]
    for k, ((i, _), _) in enumerate(order):
        out += [f"      - dest: {k}", "        sources:", f"          - channel: {i}",
                "            gain: 0", "            inverted: false"]
    out += ["  sum:", "    channels:", f"      in: {len(order)}", f"      out: {n_d}",
            "    mapping:"]
    for d in range(n_d):
        out += [f"      - dest: {d}", "        sources:"]
        for k, ((_, dd), _) in enumerate(order):
            if dd == d:
                out += [f"          - channel: {k}", "            gain: 0",
                        "            inverted: false"]
    out += ["pipeline:", "  - type: Filter", f"    channels: {list(range(n_in))}",
            "    names: [headroom]", "  - type: Mixer", "    name: fanout"]
    for k, (_, stem) in enumerate(order):
        out += ["  - type: Filter", f"    channels: [{k}]", f"    names: [{stem}]"]
    out += ["  - type: Mixer", "    name: sum"]
    return "\n".join(out) + "\n"
