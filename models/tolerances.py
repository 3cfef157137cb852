"""Unit-to-unit tolerances: every built device differs a little from the drawing.

A :class:`Tolerances` holds the standard deviations of what varies between units of one
product; :func:`draw_units` turns a seed into concrete :class:`UnitDraw` values, one per
simulated unit, and :func:`unit_array` / :func:`unit_response` apply a draw:

* position: each driver's acoustic centre moves by Gaussian ``position_mm`` per axis;
* axis: each driver's axis tilts by a Gaussian angle ``axis_deg`` in a uniformly random
  direction;
* gain and phase: a constant Gaussian ``gain_db`` and ``phase_deg`` per driver;
* response: a smooth Gaussian deviation of the level (``response_db`` standard deviation,
  correlated over ``response_octaves``): values at knots spaced ``response_octaves``
  apart from 20 Hz to 20 kHz, joined by a cubic spline in log frequency.

Unit 0 of every draw is the nominal unit (no deviation), so an ensemble always contains
the drawing itself.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline

from common.errors import InputError
from models._array import Array

KNOT_RANGE_HZ = (20.0, 20000.0)


@dataclass(frozen=True)
class Tolerances:
    """Standard deviations of unit-to-unit variation (units in the names). The defaults
    are those of optim/defaults.toml ``[plant]`` (a test keeps them equal): +-2 mm, +-3 deg
    and +-1 dB read as 2-sigma limits, gain and phase 0.5 dB and 5 deg at 1 sigma."""

    position_mm: float = 1.0
    axis_deg: float = 1.5
    gain_db: float = 0.5
    phase_deg: float = 5.0
    response_db: float = 0.5
    response_octaves: float = 1.0

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not np.isfinite(value) or value < 0:
                raise InputError(f"tolerances.{f.name}: expected a finite number >= 0, got {value}")
        if self.response_octaves <= 0:
            raise InputError(f"tolerances.response_octaves: expected a positive number, got "
                             f"{self.response_octaves}")


@dataclass(frozen=True)
class UnitDraw:
    """One simulated unit's deviations for D drivers."""

    position_m: np.ndarray  # (D, 3) offsets, metres
    tilt_rad: np.ndarray  # (D,) axis tilt angle
    tilt_direction: np.ndarray  # (D, 3) unit vectors perpendicular to each axis
    gain: np.ndarray  # (D,) complex constant factor (gain and phase)
    knots_db: np.ndarray  # (D, K) response deviation at the knots, dB
    knots_octaves: np.ndarray  # (K,) log2(f / 20 Hz) of the knots


TRAINING_STREAM, EVALUATION_STREAM = 0, 1


def draw_units(array: Array, tolerances: Tolerances, count: int, seed: int,
               stream: int = TRAINING_STREAM) -> list[UnitDraw]:
    """``count`` units (unit 0 nominal), a function of ``seed`` and ``stream`` only:
    evaluation draws from :data:`EVALUATION_STREAM`, so it never sees a trained unit."""
    if count < 1:
        raise InputError(f"units: expected at least 1, got {count}")
    rng = np.random.default_rng([seed, 7919, stream])
    d = len(array.drivers)
    span = np.log2(KNOT_RANGE_HZ[1] / KNOT_RANGE_HZ[0])
    knots = np.arange(0.0, span + tolerances.response_octaves, tolerances.response_octaves)
    units = []
    for i in range(count):
        scale = 0.0 if i == 0 else 1.0
        random = rng.standard_normal((d, 3))
        perpendicular = random - np.sum(random * array.axes, -1, keepdims=True) * array.axes
        perpendicular /= np.maximum(np.linalg.norm(perpendicular, axis=-1, keepdims=True), 1e-12)
        gain_db = rng.normal(0.0, tolerances.gain_db, d)
        phase = np.deg2rad(rng.normal(0.0, tolerances.phase_deg, d))
        units.append(UnitDraw(
            position_m=scale * 1e-3 * tolerances.position_mm * rng.standard_normal((d, 3)),
            tilt_rad=scale * np.deg2rad(tolerances.axis_deg) * np.abs(rng.standard_normal(d)),
            tilt_direction=perpendicular,
            gain=10 ** (scale * gain_db / 20) * np.exp(1j * scale * phase),
            knots_db=scale * tolerances.response_db * rng.standard_normal((d, knots.size)),
            knots_octaves=knots))
    return units


def unit_array(array: Array, unit: UnitDraw) -> Array:
    """The array with this unit's moved and tilted drivers."""
    drivers = []
    for d, driver in enumerate(array.drivers):
        tilt = unit.tilt_rad[d]
        axis = np.cos(tilt) * driver.axis + np.sin(tilt) * unit.tilt_direction[d]
        drivers.append(dataclasses.replace(driver, axis=axis / np.linalg.norm(axis),
                                           position_m=driver.position_m + unit.position_m[d]))
    return dataclasses.replace(array, drivers=tuple(drivers))


def unit_response(unit: UnitDraw, freqs_hz: np.ndarray) -> np.ndarray:
    """Complex (F, D) factor of each driver's response: gain, phase and smooth deviation."""
    octaves = np.log2(np.clip(np.asarray(freqs_hz, float), *KNOT_RANGE_HZ) / KNOT_RANGE_HZ[0])
    if unit.knots_octaves.size > 1:
        level_db = CubicSpline(unit.knots_octaves, unit.knots_db, axis=1,
                               bc_type="natural")(octaves)  # (D, F)
    else:
        level_db = np.repeat(unit.knots_db, octaves.size, axis=1)
    return (10 ** (level_db / 20) * unit.gain[:, None]).T
