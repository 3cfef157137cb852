"""Plant ensembles: one design, many physically different devices it must work on.

A plant is (driver model, simulated unit, head): the driver model is a name of
``models.drivers.DRIVER_MODELS`` (how the body diffracts each driver), the unit is a
:class:`models.tolerances.UnitDraw` (where the drivers really are and how they really
sound), the head is shared by all plants of a set. Plants are ordered model-major:
plant ``k`` is model ``k // units``, unit ``k % units``.

Ear transfers of an ensemble reuse one head-relative response, computed for the nominal
geometry, for every unit: a unit's drivers move by millimetres, which turns their
direction seen from a head 2 m away by hundredths of a degree, while the direct path
(computed exactly per unit and model) carries the delay and level changes that matter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models._array import Array
from models._transfer import _check_freqs, head_relative_response
from models.drivers import resolve_driver_model
from models.tolerances import (TRAINING_STREAM, Tolerances, UnitDraw, draw_units, unit_array,
                               unit_response)


@dataclass(frozen=True)
class PlantSet:
    """``driver_models`` x ``units`` plants of one array (model-major order)."""

    array: Array
    driver_models: tuple[str, ...]
    units: tuple[UnitDraw, ...]

    def __len__(self) -> int:
        return len(self.driver_models) * len(self.units)

    @property
    def labels(self) -> list[str]:
        """``model/unitN`` for each plant, in order."""
        return [f"{m}/unit{u}" for m in self.driver_models for u in range(len(self.units))]

    @property
    def model_of_plant(self) -> np.ndarray:
        """(K,) index into ``driver_models`` of each plant."""
        return np.repeat(np.arange(len(self.driver_models)), len(self.units))


def plant_set(array: Array, driver_models, tolerances: Tolerances, units: int, seed: int,
              stream: int = TRAINING_STREAM) -> PlantSet:
    """Plants of ``array`` for each named driver model and ``units`` simulated units
    (unit 0 nominal) drawn from ``seed`` and ``stream`` (models.tolerances.draw_units);
    unknown model names raise InputError."""
    names = tuple(driver_models)
    for name in names:
        resolve_driver_model(name, array)
    return PlantSet(array, names, tuple(draw_units(array, tolerances, units, seed, stream)))


def plant_ear_transfer(plants: PlantSet, freqs_hz, head_positions_m, facing=None,
                       head="sphere") -> np.ndarray:
    """Complex64 (K, P, F, 2, D) ear transfers of every plant (ear_transfer's layout)."""
    freqs = _check_freqs(freqs_hz)
    heads = np.asarray(head_positions_m, float)
    relative = np.moveaxis(head_relative_response(plants.array, freqs, heads, facing, head),
                           0, 1).astype(np.complex64)  # (P, F, 2, D)
    out = np.empty((len(plants),) + relative.shape, np.complex64)
    k = 0
    for name in plants.driver_models:
        model = resolve_driver_model(name, plants.array)
        for unit in plants.units:
            direct = model.pressure(unit_array(plants.array, unit), freqs, heads)  # (F, P, D)
            direct = direct * unit_response(unit, freqs)[:, None, :]
            out[k] = relative * np.moveaxis(direct, 0, 1)[:, :, None, :]
            k += 1
    return out


def plant_farfield_transfer(plants: PlantSet, freqs_hz, azimuths_deg) -> np.ndarray:
    """Complex (K, F, A, D) far-field transfers of every plant (farfield_transfer's layout)."""
    from models._transfer import farfield_transfer

    freqs = _check_freqs(freqs_hz)
    out = []
    for name in plants.driver_models:
        for unit in plants.units:
            far = farfield_transfer(unit_array(plants.array, unit), freqs, azimuths_deg, name)
            out.append(far * unit_response(unit, freqs)[:, None, :])
    return np.stack(out)
