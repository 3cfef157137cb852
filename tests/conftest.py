"""Shared fixtures: bundled arrays and small array TOML files written into ``tmp_path``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # plain `pytest` from a checkout without installing
    sys.path.insert(0, str(ROOT))

from models import Array, load_array  # noqa: E402
# The JACK servers are session fixtures of the whole run, defined here once: imported
# into each test module they would start one server per module and setting, and jackd
# refuses more than 8 servers on a machine ("Too many servers already active").
from jack_server import jack_server, jack_server_factory  # noqa: E402,F401


@pytest.fixture(scope="session")
def studio() -> Array:
    """The bundled Echo-Studio-like array (5 drivers)."""
    return load_array("studio")


def driver_toml(name: str = "d0", position_m=(0.0, 0.0, 0.0), axis=(1.0, 0.0, 0.0),
                radius_m: float = 0.05, band_hz=(100.0, 10000.0)) -> str:
    """One ``[[drivers]]`` table as TOML text."""
    def vec(v):
        return "[" + ", ".join(repr(float(x)) for x in v) + "]"
    return (f'[[drivers]]\nname = "{name}"\nposition_m = {vec(position_m)}\naxis = {vec(axis)}\n'
            f"radius_m = {radius_m!r}\nband_hz = {vec(band_hz)}\n")


def array_toml(*drivers: str, name: str = "test", distance_m: float = 2.0,
               speed_of_sound_m_s: float = 343.0) -> str:
    """A whole array file from ``driver_toml`` tables (one default driver if none)."""
    body = "\n".join(drivers or (driver_toml(),))
    return (f'name = "{name}"\nspeed_of_sound_m_s = {speed_of_sound_m_s!r}\n\n'
            f"[listener]\ndistance_m = {distance_m!r}\nheight_m = 0.0\n\n{body}")


@pytest.fixture
def write_toml(tmp_path) -> Callable[..., Path]:
    """``write_toml(text, name="array.toml") -> Path`` of a file in ``tmp_path``."""
    def write(text: str, name: str = "array.toml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path
    return write


@pytest.fixture
def make_array(write_toml) -> Callable[..., Array]:
    """``make_array(*driver_tomls, **array_fields) -> Array`` loaded from a tmp file."""
    def make(*drivers: str, **fields) -> Array:
        return load_array(write_toml(array_toml(*drivers, **fields)))
    return make
