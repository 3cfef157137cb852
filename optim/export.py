"""Turn trained parameters into a filter bank (CONVENTIONS.md) with its manifest."""

from __future__ import annotations

import inspect
from datetime import datetime, timezone

import numpy as np

from models import Array
from optim.config import TrainConfig
from renderer.filterbank import CHANNELS, CTC_CHANNELS, FORMAT, VERSION, FilterBank
from renderer.upmix import Upmixer


def upmix_defaults() -> dict:
    """The renderer's default upmix settings (what stereo input will be played with)."""
    params = inspect.signature(Upmixer).parameters
    return {name: p.default for name, p in params.items() if p.default is not inspect.Parameter.empty}


def make_filterbank(array: Array, config: TrainConfig, taps: np.ndarray, ctc_taps: np.ndarray,
                    metrics: dict, training: dict, virtual_source: dict) -> FilterBank:
    """A bank from float taps (3, D, N) and (2, D, N); ``metrics`` and ``training`` go
    into the manifest as they are (JSON-ready)."""
    d = config.design
    manifest = {
        "format": FORMAT, "version": VERSION, "sample_rate": d.sample_rate,
        "channels": CHANNELS, "ctc_channels": CTC_CHANNELS,
        "drivers": array.to_manifest(),
        "listener": {"distance_m": array.listener.distance_m, "height_m": array.listener.height_m},
        "latency_samples": d.latency_samples,
        "upmix": upmix_defaults(),
        "array": array.name, "metrics": metrics,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "training": {**training, "head": d.head, "zone": d.zone, "width_deg": d.width_deg,
                     "virtual_source": virtual_source, "weights": config.weights},
    }
    return FilterBank(taps=np.asarray(taps, np.float32), ctc_taps=np.asarray(ctc_taps, np.float32),
                      manifest=manifest)
