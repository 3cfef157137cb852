"""Turn trained parameters into a filter bank (CONVENTIONS.md) with its manifest."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from models import Array
from optim.config import TrainConfig
from renderer.filterbank import CHANNELS, CTC_CHANNELS, FORMAT, VERSION, FilterBank


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
        "upmix": {"mode": "similarity", "note": "L/R/C from stereo with renderer.upmix defaults"},
        "array": array.name, "metrics": metrics,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "training": {**training, "head": d.head, "zone": d.zone, "width_deg": d.width_deg,
                     "virtual_source": virtual_source, "weights": config.weights},
    }
    return FilterBank(taps=np.asarray(taps, np.float32), ctc_taps=np.asarray(ctc_taps, np.float32),
                      manifest=manifest)
