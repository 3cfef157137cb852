"""Unit tolerances and plant ensembles: drawn spreads, the nominal unit, exact direct paths,
and the shared head response against exact per-unit ear transfers."""

from __future__ import annotations

import numpy as np
import pytest

from common.errors import InputError
from models import ear_transfer, farfield_transfer, place_listeners
from models.plants import plant_ear_transfer, plant_farfield_transfer, plant_set
from models.tolerances import (EVALUATION_STREAM, Tolerances, draw_units, unit_array,
                               unit_response)

FREQS = np.geomspace(100.0, 16000.0, 60)


def test_unit_zero_is_the_drawing(studio):
    unit = draw_units(studio, Tolerances(), 3, seed=1)[0]
    assert np.array_equal(unit_array(studio, unit).positions_m, studio.positions_m)
    np.testing.assert_allclose(unit_array(studio, unit).axes, studio.axes, atol=1e-15)
    assert np.all(unit_response(unit, FREQS) == 1.0)


def test_draws_have_the_stated_spreads(studio):
    tol = Tolerances(position_mm=2.0, axis_deg=3.0, gain_db=0.5, phase_deg=5.0, response_db=1.0)
    units = draw_units(studio, tol, 801, seed=3)[1:]
    offsets = np.concatenate([u.position_m for u in units])
    assert np.std(offsets) * 1e3 == pytest.approx(2.0, rel=0.05)
    tilts = []
    for u in units:
        moved = unit_array(studio, u)
        tilts.append(np.degrees(np.arccos(np.clip(np.sum(moved.axes * studio.axes, -1), -1, 1))))
        # axes stay unit vectors; the tilt is perpendicular to the drawn axis
        np.testing.assert_allclose(np.linalg.norm(moved.axes, axis=-1), 1.0, atol=1e-12)
    # |N(0, 3 deg)| has RMS 3 deg
    assert np.sqrt(np.mean(np.square(tilts))) == pytest.approx(3.0, rel=0.05)
    gains = np.array([u.gain for u in units])
    assert np.std(20 * np.log10(np.abs(gains))) == pytest.approx(0.5, rel=0.05)
    assert np.std(np.degrees(np.angle(gains))) == pytest.approx(5.0, rel=0.05)
    # the smooth deviation passes through its knots (1 dB sigma) and is smooth between them
    u = units[0]
    knot_freqs = 20.0 * 2.0 ** u.knots_octaves[:10]
    level = 20 * np.log10(np.abs(unit_response(u, knot_freqs) / u.gain))
    np.testing.assert_allclose(level, u.knots_db[:, :10].T, atol=1e-9)
    fine = np.geomspace(100, 10000, 2000)
    step = np.abs(np.diff(20 * np.log10(np.abs(unit_response(u, fine))), axis=0))
    assert step.max() < 0.05  # dB between neighbouring 1/300-octave points


def test_draws_depend_on_seed_and_stream_only(studio):
    a = draw_units(studio, Tolerances(), 3, seed=5)
    b = draw_units(studio, Tolerances(), 3, seed=5)
    c = draw_units(studio, Tolerances(), 3, seed=5, stream=EVALUATION_STREAM)
    assert np.array_equal(a[2].position_m, b[2].position_m)
    assert not np.allclose(a[2].position_m, c[2].position_m)


def test_bad_tolerances_and_counts(studio):
    with pytest.raises(InputError, match="axis_deg"):
        Tolerances(axis_deg=-1.0)
    with pytest.raises(InputError, match="units"):
        draw_units(studio, Tolerances(), 0, seed=0)
    with pytest.raises(InputError, match="horn"):
        plant_set(studio, ["piston", "horn"], Tolerances(), 2, 0)


def test_plant_transfers_equal_the_exact_model_per_unit(studio):
    """Direct paths exact, head response shared: the shared head costs less than -35 dB of
    error energy at a 2 m listener; the far field is exact."""
    plants = plant_set(studio, ["piston"], Tolerances(), 3, seed=2)
    heads = place_listeners(studio.listener, np.array([0.0, 0.1]), np.array([1.0, 0.8]), 0.0,
                            np.array([0.0, 10.0]))
    ears = plant_ear_transfer(plants, FREQS, heads.positions_m, heads.facing)
    far = plant_farfield_transfer(plants, FREQS, np.arange(-180, 180, 15.0))
    assert ears.shape == (3, 2, FREQS.size, 2, 5) and ears.dtype == np.complex64
    for k, unit in enumerate(plants.units):
        moved = unit_array(studio, unit)
        factor = unit_response(unit, FREQS)
        exact = ear_transfer(moved, FREQS, heads.positions_m, heads.facing) * factor[None, :, None]
        err = np.sum(np.abs(ears[k] - exact) ** 2) / np.sum(np.abs(exact) ** 2)
        assert 10 * np.log10(err + 1e-30) < (-100 if k == 0 else -35), (k, err)
        exact_far = farfield_transfer(moved, FREQS, np.arange(-180, 180, 15.0)) * factor[:, None]
        np.testing.assert_allclose(far[k], exact_far, rtol=1e-12)
    assert plants.labels == ["piston/unit0", "piston/unit1", "piston/unit2"]


def test_default_tolerances_are_the_training_defaults():
    from optim.config import load_config

    assert load_config().plant.tolerances == Tolerances()
