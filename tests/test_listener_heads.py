"""Listener variety (models.listener_heads): seeded draws within their ranges, heads worn
per listener, heights, and the held-out listeners of the evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from models import InputError, load_array, place_listeners
from models._transfer import head_relative_response
from models.listener_heads import STANDARD_HEAD, HeadVariety, draw_heads, head_mix, with_heights
from models.tolerances import EVALUATION_STREAM, TRAINING_STREAM


def test_draws_are_seeded_within_their_ranges_and_start_with_the_standard_head():
    variety = HeadVariety()
    draws = draw_heads(variety, 40, seed=3)
    assert draws[0].head == STANDARD_HEAD and draws[0].height_m == 0.0
    assert draw_heads(variety, 40, seed=3) == draws
    radii = np.array([d.head.radius_m for d in draws[1:]])
    back = np.array([d.head.ear_angle_deg - 90.0 for d in draws[1:]])
    down = np.array([-d.head.ear_elevation_deg for d in draws[1:]])
    heights = np.array([d.height_m for d in draws[1:]])
    assert radii.min() >= 0.075 and radii.max() <= 0.095 and np.ptp(radii) > 0.01
    assert back.min() >= 0.0 and back.max() <= 10.0 and np.ptp(back) > 5.0
    assert down.min() >= 0.0 and down.max() <= 10.0 and np.ptp(down) > 5.0
    assert np.abs(heights).max() <= 0.05 and heights.min() < 0 < heights.max()


def test_evaluation_listeners_are_never_the_trained_ones():
    train = draw_heads(HeadVariety(), 8, seed=0, stream=TRAINING_STREAM)
    held = draw_heads(HeadVariety(), 8, seed=0, stream=EVALUATION_STREAM)
    assert not {d.head.radius_m for d in train[1:]} & {d.head.radius_m for d in held[1:]}


def test_a_head_mix_gives_each_listener_its_own_head():
    """Listener p of a mix hears exactly what head p % H alone makes at that position."""
    array = load_array("studio")
    freqs = np.array([200.0, 1500.0, 7000.0])
    listeners = place_listeners(array.listener, np.linspace(-0.1, 0.1, 5), 1.0, 0.0, 0.0)
    draws = draw_heads(HeadVariety(), 3, seed=1)
    mixed = head_relative_response(array, freqs, listeners.positions_m, listeners.facing,
                                   head_mix(draws))
    for p in range(5):
        alone = head_relative_response(array, freqs, listeners.positions_m[p:p + 1],
                                       listeners.facing[p:p + 1], draws[p % 3].head)
        np.testing.assert_allclose(mixed[:, p], alone[:, 0], rtol=1e-12)
    assert not np.allclose(mixed[:, 1], head_relative_response(
        array, freqs, listeners.positions_m[1:2], listeners.facing[1:2], STANDARD_HEAD)[:, 0])


def test_heights_follow_the_head_each_listener_wears():
    listeners = place_listeners(load_array("studio").listener, np.zeros(4), 1.0, 0.0, 0.0)
    draws = draw_heads(HeadVariety(), 2, seed=5)
    raised = with_heights(listeners, draws)
    dz = raised.positions_m[:, 2] - listeners.positions_m[:, 2]
    np.testing.assert_allclose(dz, [0.0, draws[1].height_m, 0.0, draws[1].height_m])
    np.testing.assert_array_equal(raised.positions_m[:, :2], listeners.positions_m[:, :2])


@pytest.mark.parametrize("kwargs, field", [({"radius_m": (0.09, 0.08)}, "radius_m"),
                                           ({"radius_m": (0.0, 0.08)}, "radius_m"),
                                           ({"ear_back_deg": (0.0, 60.0)}, "ear_back_deg"),
                                           ({"height_m": -0.1}, "height_m")])
def test_bad_variety_is_an_input_error_naming_the_field(kwargs, field):
    with pytest.raises(InputError, match=f"listeners.{field}"):
        HeadVariety(**kwargs)


def test_a_config_with_a_bad_range_names_the_file(tmp_path):
    from optim.config import load_config

    path = tmp_path / "bad.toml"
    path.write_text("[listeners]\nradius_m = [0.1, 0.05]\n")
    with pytest.raises(InputError, match=r"bad\.toml.*listeners\.radius_m"):
        load_config(path)
