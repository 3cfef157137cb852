"""Target cancellation gain: the ipsi/contra ear power ratio (dB) the CTC should reach.

Given as knots ``(freq_hz, gain_db)`` interpolated linearly over log-frequency and held
flat beyond the end knots. Little or no cancellation where the array cannot cancel
without huge effort (low frequencies), strong through the mid band, relaxed at high
frequencies where small head movements decorrelate the ear signals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.errors import InputError


SEPARATION_BAND_HZ = (500.0, 6000.0)  # the band in which separation figures are judged


@dataclass(frozen=True)
class CancellationTarget:
    """The target curve (knots), and ``zone_floor_db``: the separation every listener of
    the zone should keep, averaged over :data:`SEPARATION_BAND_HZ` (zone first)."""

    freqs_hz: tuple[float, ...] = (120.0, 400.0, 700.0, 5000.0, 9000.0, 16000.0)
    gain_db: tuple[float, ...] = (0.0, 12.0, 24.0, 24.0, 12.0, 6.0)
    zone_floor_db: float = 8.0
    zone_error_db: float = -100.0

    def __post_init__(self):
        f = np.asarray(self.freqs_hz, float)
        g = np.asarray(self.gain_db, float)
        if f.ndim != 1 or f.size < 2 or f.shape != g.shape:
            raise InputError(f"targets.cancellation: freqs_hz and gain_db must be lists of the "
                             f"same length >= 2, got {f.size} and {g.size}")
        if not (np.all(np.isfinite(f)) and np.all(np.isfinite(g)) and np.all(f > 0)
                and np.all(np.diff(f) > 0)):
            raise InputError("targets.cancellation: freqs_hz must be positive and increasing, "
                             "gains finite")


def cancellation_gain_db(target: CancellationTarget, freqs_hz: np.ndarray) -> np.ndarray:
    """(F,) target ipsi/contra power ratio in dB at ``freqs_hz`` (0 Hz takes the first knot)."""
    logf = np.log(np.maximum(np.asarray(freqs_hz, float), 1e-3))
    return np.interp(logf, np.log(target.freqs_hz), target.gain_db)
