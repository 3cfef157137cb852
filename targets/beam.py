"""Centre-channel beam pattern targets.

The default is an azimuth mask: unity on axis, flat within +-``flat_deg``, nulls at
+-``null_deg`` at least ``null_db`` down, the rear (``|az| >= rear_deg``) at least
``rear_db`` down, over ``band_hz``. A pattern may instead be given as circular-harmonic
(cosine-series) coefficients, ``|B(az)| = sum_m c_m cos(m az)``, the 2-D form of the
spherical-harmonic beamformer designs the design cites.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.errors import InputError


@dataclass(frozen=True)
class BeamTarget:
    band_hz: tuple[float, float] = (300.0, 3000.0)
    flat_deg: float = 45.0
    null_deg: float = 90.0
    null_db: float = -25.0
    rear_deg: float = 120.0
    rear_db: float = -10.0
    harmonics: tuple[float, ...] = ()  # optional cosine-series magnitude pattern
    effort_db: float = 10.0  # bound of the C path's inverse white-noise gain re one driver
    directivity_db: float = 6.0  # directivity index (2-D) the C beam should reach

    def __post_init__(self):
        lo, hi = self.band_hz
        if not 0 < lo < hi:
            raise InputError(f"targets.beam.band_hz: expected [lo, hi] with 0 < lo < hi, got {list(self.band_hz)}")
        if not 0 < self.flat_deg < self.null_deg <= self.rear_deg <= 180:
            raise InputError("targets.beam: expected 0 < flat_deg < null_deg <= rear_deg <= 180")
        if self.null_db >= 0 or self.rear_db >= 0:
            raise InputError("targets.beam: null_db and rear_db must be negative (dB re on-axis)")


def harmonic_pattern(coeffs, azimuths_deg: np.ndarray) -> np.ndarray:
    """(A,) magnitude ``|sum_m c_m cos(m az)|`` normalised to 1 on axis."""
    c = np.asarray(coeffs, float)
    if c.ndim != 1 or c.size == 0 or not np.all(np.isfinite(c)) or abs(c.sum()) < 1e-12:
        raise InputError("targets.beam.harmonics: expected finite coefficients with a non-zero sum")
    az = np.deg2rad(np.asarray(azimuths_deg, float))
    pattern = np.cos(np.outer(az, np.arange(c.size))) @ c
    return np.abs(pattern) / abs(c.sum())


def mask_pattern(target: BeamTarget, azimuths_deg: np.ndarray) -> np.ndarray:
    """(A,) desired magnitude for the least-squares design: 1 within +-flat_deg, a
    raised-cosine fall to 0 at +-null_deg, 0 beyond."""
    az = np.abs((np.asarray(azimuths_deg, float) + 180.0) % 360.0 - 180.0)
    t = np.clip((az - target.flat_deg) / (target.null_deg - target.flat_deg), 0.0, 1.0)
    return 0.5 * (1.0 + np.cos(np.pi * t))


def desired_pattern(target: BeamTarget, azimuths_deg: np.ndarray) -> np.ndarray:
    """The magnitude pattern the design aims at: the harmonics if given, else the mask."""
    if target.harmonics:
        return harmonic_pattern(target.harmonics, azimuths_deg)
    return mask_pattern(target, azimuths_deg)
