"""Acoustic models: arrays, drivers, heads, listeners and transfer matrices (NumPy only)."""

from common.errors import InputError
from models._array import Array, Driver, Listener
from models._array_file import bundled_arrays, load_array, parse_array
from models._listeners import (Listeners, Zone, get_zone, heldout_grid, parse_zone,
                               place_listeners, sample_listeners, zone_presets)
from models._transfer import ear_transfer, farfield_transfer, head_frames, head_relative_response
from models.drivers import DRIVER_MODELS, driver_model_names, resolve_driver_model
from models.heads import resolve_head

__all__ = [
    "DRIVER_MODELS", "Array", "Driver", "InputError", "Listener", "Listeners", "Zone",
    "bundled_arrays", "driver_model_names", "ear_transfer", "farfield_transfer", "get_zone",
    "head_frames", "head_relative_response", "heldout_grid", "load_array", "parse_array",
    "parse_zone", "place_listeners", "resolve_driver_model", "resolve_head",
    "sample_listeners", "zone_presets",
]

from models.room import Room, load_room  # noqa: E402
from models.room_images import room_impulse_response, room_transfer  # noqa: E402

__all__ += ["Room", "load_room", "room_impulse_response", "room_transfer"]
