"""The filter-bank file (CONVENTIONS.md): reading with full validation, atomic writing."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.atomic import atomic_output
from common.errors import InputError

FORMAT = "soundstage.filterbank"
VERSION = 1
CHANNELS = ["L", "R", "C"]
CTC_CHANNELS = ["left_ear", "right_ear"]
# What a renderer takes in: stereo is upmixed to L, R, C for taps, lrc plays through taps,
# binaural (left ear, right ear) through ctc_taps.
INPUT_CHANNELS = {"stereo": ("L", "R"), "lrc": tuple(CHANNELS), "binaural": tuple(CTC_CHANNELS)}
TRACKED_FORMAT = "soundstage.trackedbank"
READERS = {  # format: (what it is, how to read it)
    FORMAT: ("a plain filter bank", "read it with renderer.filterbank.read_filterbank; "
             "render.py plays it without --poses"),
    TRACKED_FORMAT: ("a tracked filter bank (one bank per head-pose cell)",
                     "read it with renderer.trackedbank.read_trackedbank; render.py plays it "
                     "with --poses"),
}
REQUIRED_KEYS = ("format", "version", "sample_rate", "channels", "ctc_channels", "drivers",
                 "listener", "latency_samples", "upmix", "array", "metrics", "created_utc")


class ManifestFields:
    """What plain and tracked banks read from their ``manifest`` alike."""

    manifest: dict

    @property
    def sample_rate(self) -> int:
        return int(self.manifest["sample_rate"])

    @property
    def driver_names(self) -> list[str]:
        return [d["name"] for d in self.manifest["drivers"]]


@dataclass(frozen=True)
class FilterBank(ManifestFields):
    """taps: float32 (3, D, N) from L, R, C; ctc_taps: float32 (2, D, N) from the two ears;
    manifest: the JSON object of CONVENTIONS.md."""

    taps: np.ndarray
    ctc_taps: np.ndarray
    manifest: dict


def read_filterbank(path: str | Path) -> FilterBank:
    """Read and validate a filter bank; anything off raises :class:`InputError` naming
    the file and the problem."""
    return validate_filterbank(load_arrays(path, "filter bank"), str(path))


def load_arrays(path: str | Path, what: str) -> dict[str, np.ndarray]:
    """All arrays of the .npz file ``path`` (no pickles); ``what`` names the kind of file
    in error messages."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except FileNotFoundError:
        raise InputError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected a {what} .npz file") from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise InputError(f"{path}: not a readable {what} .npz file "
                         f"(truncated or another format): {exc}") from None


def validate_manifest(arrays: dict, where: str, expected_format: str = FORMAT) -> dict:
    """The manifest JSON object of ``arrays`` after checking the keys of CONVENTIONS.md and
    that it is ``expected_format`` version 1; a bank of the other kind (plain or tracked)
    gets a message naming the reader to use."""
    for key in ("taps", "ctc_taps", "manifest"):
        if key not in arrays:
            raise InputError(f"{where}: missing array {key!r} (has {sorted(arrays)})")
    manifest_arr = arrays["manifest"]
    if manifest_arr.shape != () or manifest_arr.dtype.kind != "U":
        raise InputError(f"{where}: 'manifest' must be a 0-d unicode string, got "
                         f"dtype {manifest_arr.dtype} shape {manifest_arr.shape}")
    try:
        manifest = json.loads(str(manifest_arr))
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: manifest is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise InputError(f"{where}: manifest must be a JSON object")
    found = manifest.get("format")
    if found in READERS and found != expected_format:
        what, how = READERS[found]
        raise InputError(f"{where}: this is {what}, not {READERS[expected_format][0]}: {how}")
    missing = [k for k in REQUIRED_KEYS if k not in manifest]
    if missing:
        raise InputError(f"{where}: manifest lacks required key(s) {', '.join(missing)}")
    if manifest["format"] != expected_format or manifest["version"] != VERSION:
        raise InputError(f"{where}: unsupported format {manifest['format']!r} version "
                         f"{manifest['version']!r}; expected {expected_format!r} "
                         f"version {VERSION}")
    rate = manifest["sample_rate"]
    if isinstance(rate, bool) or not isinstance(rate, int) or rate <= 0:
        raise InputError(f"{where}: manifest sample_rate must be a positive integer, got {rate!r}")
    if manifest["channels"] != CHANNELS or manifest["ctc_channels"] != CTC_CHANNELS:
        raise InputError(f"{where}: manifest channels must be {CHANNELS} and ctc_channels "
                         f"{CTC_CHANNELS}")
    drivers = manifest["drivers"]
    if not isinstance(drivers, list) or not drivers or not all(
            isinstance(d, dict) and isinstance(d.get("name"), str) for d in drivers):
        raise InputError(f"{where}: manifest drivers must be a non-empty list of objects "
                         f"with a name")
    latency = manifest["latency_samples"]
    if isinstance(latency, bool) or not isinstance(latency, int) or latency < 0:
        raise InputError(f"{where}: manifest latency_samples must be an integer >= 0, "
                         f"got {latency!r}")
    return manifest


def validate_taps(arrays: dict, where: str, n_drivers: int, lead: tuple[int, ...] = (),
                  lead_names: str = "") -> None:
    """Check ``taps`` (*lead, 3, D, N) and ``ctc_taps`` (*lead, 2, D, N): float32, finite,
    one length N >= 1; ``lead_names`` spells the leading axes in messages (e.g. ``"K, "``)."""
    taps, ctc = arrays["taps"], arrays["ctc_taps"]
    for name, arr, rows in (("taps", taps, 3), ("ctc_taps", ctc, 2)):
        if arr.dtype != np.float32:
            raise InputError(f"{where}: {name} must be float32, got {arr.dtype}")
        if (arr.ndim != len(lead) + 3 or arr.shape[:-1] != (*lead, rows, n_drivers)
                or arr.shape[-1] < 1):
            raise InputError(f"{where}: {name} must have shape ({lead_names}{rows}, {n_drivers}, "
                             f"N) for {n_drivers} drivers, got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise InputError(f"{where}: {name} contains NaN or infinite taps")
    if taps.shape[-1] != ctc.shape[-1]:
        raise InputError(f"{where}: taps and ctc_taps must have the same length, got "
                         f"{taps.shape[-1]} and {ctc.shape[-1]}")


def validate_filterbank(arrays: dict, where: str) -> FilterBank:
    """A :class:`FilterBank` of the arrays of a file after all the checks; ``where`` names
    the file in messages."""
    manifest = validate_manifest(arrays, where)
    validate_taps(arrays, where, len(manifest["drivers"]))
    return FilterBank(taps=arrays["taps"], ctc_taps=arrays["ctc_taps"], manifest=manifest)


def write_filterbank(path: str | Path, bank: FilterBank) -> Path:
    """Validate ``bank`` and write it atomically as an uncompressed .npz; returns the path."""
    arrays = {"taps": np.asarray(bank.taps), "ctc_taps": np.asarray(bank.ctc_taps),
              "manifest": np.array(json.dumps(bank.manifest))}
    validate_filterbank(arrays, f"{path} (being written)")
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, allow_pickle=False, **arrays)
    return Path(path)
