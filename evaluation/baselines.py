"""Baseline filter banks that every comparison shows beside a learned one.

- ``no_processing_bank``: plain stereo on the drivers, chosen from the driver geometry
  alone (never from names), so it works for any array. A driver's side score is
  ``axis_y + y / max|y|`` in the device frame, where ``-y`` is the listener's left: a
  score below ``-SIDE_TOLERANCE`` makes a left driver, above ``+SIDE_TOLERANCE`` a right
  one. L feeds every left driver, R every right driver, C every driver, each with a unit
  impulse (no crossover, no delay). Binaural CTC is the identity on the two side drivers
  (the left-most and the right-most score). An array with no left or no right driver
  plays L, R and both ears on all drivers (mono).
- ``least_squares_bank``: the closed-form regularised least-squares design of
  ``optim.baseline``.
"""

from __future__ import annotations

import datetime

import numpy as np

from models import Array
from renderer.filterbank import CHANNELS, CTC_CHANNELS, FORMAT, VERSION, FilterBank

SIDE_TOLERANCE = 0.05


def side_scores(array: Array) -> np.ndarray:
    """(D,) side score of each driver: negative = listener's left (see module doc)."""
    y = array.positions_m[:, 1]
    span = np.abs(y).max()
    return array.axes[:, 1] + (y / span if span > 0 else 0.0)


def no_processing_bank(array: Array, sample_rate: int, n_taps: int) -> FilterBank:
    """Plain stereo drivers as a filter bank of ``n_taps`` taps (see module doc)."""
    score = side_scores(array)
    left, right = score < -SIDE_TOLERANCE, score > SIDE_TOLERANCE
    ctc_left = np.arange(score.size) == np.argmin(score)
    ctc_right = np.arange(score.size) == np.argmax(score)
    if not (left.any() and right.any()):
        left = right = ctc_left = ctc_right = np.ones(score.size, bool)
    taps = np.zeros((3, score.size, n_taps), np.float32)
    ctc = np.zeros((2, score.size, n_taps), np.float32)
    for row, mask in enumerate((left, right, np.ones(score.size, bool))):
        taps[row, mask, 0] = 1.0
    for row, mask in enumerate((ctc_left, ctc_right)):
        ctc[row, mask, 0] = 1.0
    return FilterBank(taps=taps, ctc_taps=ctc,
                      manifest=baseline_manifest(array, sample_rate, "no_processing"))


def baseline_manifest(array: Array, sample_rate: int, kind: str) -> dict:
    """A complete filter-bank manifest (CONVENTIONS.md) for a baseline of ``array``."""
    return {
        "format": FORMAT, "version": VERSION, "sample_rate": int(sample_rate),
        "channels": list(CHANNELS), "ctc_channels": list(CTC_CHANNELS),
        "drivers": array.to_manifest(),
        "listener": {"distance_m": array.listener.distance_m,
                     "height_m": array.listener.height_m},
        "latency_samples": 0, "upmix": {}, "array": array.name, "metrics": {},
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "baseline": kind,
    }


def least_squares_bank(array: Array, config=None) -> FilterBank:
    """The closed-form least-squares design (``optim.baseline``; imports JAX)."""
    from optim.baseline import least_squares_bank as build
    return build(array, config)
