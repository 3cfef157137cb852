"""Small training problems for the optim and loss tests: 8 kHz, 128 taps, a few listeners.

``small_config`` starts from ``optim/defaults.toml`` (so the tests follow the tuned
defaults) and overrides only what makes the problem tiny.
"""

from __future__ import annotations

from optim.config import TrainConfig, load_config
from optim.losses import LOSS_TERMS

SMALL_DESIGN = {"sample_rate": 8000, "taps": 128, "band_taps": 15, "latency_samples": 64,
                "zone": "sweet", "head": "free", "pool": 4, "batch": 2,
                "min_freq_hz": 60.0, "max_freq_hz": 3600.0}


def only(*terms: str) -> dict[str, float]:
    """Loss weights with every registered term off except ``terms`` (weight 1)."""
    return {name: float(name in terms) for name in LOSS_TERMS}


def small_config(array: str = "stereo_pair", *, seed: int = 0, design: dict | None = None,
                 optimizer: dict | None = None, weights: dict | None = None,
                 plant: dict | None = None) -> TrainConfig:
    """A tiny :class:`TrainConfig`; keyword tables override :data:`SMALL_DESIGN` and the
    defaults (``optimizer`` defaults here to 20 steps from a zero start, ``plant`` to the
    nominal unit alone)."""
    return load_config(None, {"design": {**SMALL_DESIGN, **(design or {})},
                              "optimizer": {"steps": 20, "init": "zeros", **(optimizer or {})},
                              "plant": {"units": 1, **(plant or {})},
                              "weights": weights or {}},
                       array=array, seed=seed)
