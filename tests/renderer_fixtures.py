"""Synthetic filter banks for the renderer tests (no trained bank needed)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

from models import load_array
from renderer.filterbank import FilterBank, write_filterbank

ROOT = Path(__file__).resolve().parent.parent


def synthetic_bank(n_taps: int = 256, *, rate: int = 48000, seed: int = 0,
                   taps: np.ndarray | None = None,
                   ctc_taps: np.ndarray | None = None) -> FilterBank:
    """A studio-shaped bank (3 x 5 drivers) of decaying random taps, peak gain well below 1,
    unless ``taps`` / ``ctc_taps`` are given."""
    array = load_array("studio")
    rng = np.random.default_rng(seed)
    decay = np.exp(-np.arange(n_taps) / (n_taps / 6.0))
    d = len(array.drivers)
    if taps is None:
        taps = rng.standard_normal((3, d, n_taps)) * decay * 0.05
    if ctc_taps is None:
        ctc_taps = rng.standard_normal((2, d, n_taps)) * decay * 0.05
    manifest = {
        "format": "soundstage.filterbank", "version": 1, "sample_rate": rate,
        "channels": ["L", "R", "C"], "ctc_channels": ["left_ear", "right_ear"],
        "drivers": array.to_manifest(),
        "listener": {"distance_m": array.listener.distance_m, "height_m": array.listener.height_m},
        "latency_samples": 0, "upmix": {"mode": "frequency"}, "array": array.name,
        "metrics": {}, "created_utc": "2024-01-01T00:00:00Z",
    }
    return FilterBank(taps=np.asarray(taps, np.float32), ctc_taps=np.asarray(ctc_taps, np.float32),
                      manifest=manifest)


def write_bank(path: Path, **kwargs) -> tuple[Path, FilterBank]:
    bank = synthetic_bank(**kwargs)
    write_filterbank(path, bank)
    return path, bank


def load_script(name: str):
    """Import scripts/<name>.py as a module (its ``_cli`` import needs scripts/ on the path)."""
    if str(ROOT / "scripts") not in sys.path:
        sys.path.insert(0, str(ROOT / "scripts"))
    spec = importlib.util.spec_from_file_location(f"{name}_script", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
