"""The standard held-out evaluation of filter banks in one driver model (NumPy only).

The transfers of the evaluation (the held-out grid's ears, the far field, the real
reference source, simulated units and held-out listeners) do not depend on the bank:
:func:`heldout_plant` computes them once and :func:`bank_figures` judges any number of
banks on them, so a design judged beside its least-squares twin, or a ladder's eight
banks, pay for the transfers once per driver model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from evaluation import metrics
from evaluation.system import (BEAM_AZIMUTHS_DEG, beam_system, ear_system, evaluation_freqs,
                               filter_responses, real_source_ears)
from models import Array, driver_model_names, ear_transfer, farfield_transfer, heldout_grid
from models.listener_heads import HeadVariety, draw_heads, with_heights
from models.plants import plant_ear_transfer, plant_farfield_transfer, plant_set
from models.tolerances import EVALUATION_STREAM, Tolerances
from renderer.export import headroom_db


@dataclass(frozen=True)
class HeldoutPlant:
    """Transfers of the held-out evaluation in one driver model, on ``freqs_hz`` (F,):
    the grid's ears (P, F, 2, D) and its ``nominal`` head, the far field (F, A, D) on
    :data:`BEAM_AZIMUTHS_DEG`, the real source at +width (F, 2); optional simulated
    units' nominal ears (U, F, 2, D) and far fields (U, F, A, D), and held-out listeners'
    grid ears (H, P, F, 2, D)."""

    sample_rate: float
    freqs_hz: np.ndarray
    ears: np.ndarray
    nominal: int
    farfield: np.ndarray
    reference: np.ndarray
    unit_ears: np.ndarray | None
    unit_farfields: np.ndarray | None
    head_ears: np.ndarray | None


def heldout_plant(array: Array, sample_rate: float, head="sphere",
                  virtual_width_deg: float = 30.0, driver_model: str | None = None,
                  unit_draws: int = 0, tolerances: Tolerances | None = None, seed: int = 0,
                  head_draws: int = 0, variety: HeadVariety | None = None) -> HeldoutPlant:
    """The transfers of :func:`evaluate_heldout` (its arguments) in one driver model."""
    freqs = evaluation_freqs(sample_rate)
    grid, coords = heldout_grid(array.listener)
    nominal = int(np.flatnonzero((coords["lateral_m"] == 0) & (coords["distance_scale"] == 1)
                                 & (coords["yaw_deg"] == 0))[0])
    ears = ear_transfer(array, freqs, grid.positions_m, grid.facing, head=head,
                        driver_model=driver_model)
    unit_ears = unit_far = head_ears = None
    if unit_draws:
        plants = plant_set(array, [driver_model or array.driver_model],
                           tolerances or Tolerances(), unit_draws + 1, seed, EVALUATION_STREAM)
        unit_ears = plant_ear_transfer(plants, freqs, grid.positions_m[nominal:nominal + 1],
                                       grid.facing[nominal:nominal + 1], head)[1:, 0]
        unit_far = plant_farfield_transfer(plants, freqs, BEAM_AZIMUTHS_DEG)[1:]
    if head_draws and head == "sphere":
        draws = draw_heads(variety or HeadVariety(), head_draws + 1, seed, EVALUATION_STREAM)[1:]
        head_ears = np.stack([
            ear_transfer(array, freqs, raised.positions_m, raised.facing, head=draw.head,
                         driver_model=driver_model)
            for draw in draws for raised in (with_heights(grid, (draw,)),)])
    return HeldoutPlant(sample_rate=sample_rate, freqs_hz=freqs, ears=ears, nominal=nominal,
                        farfield=farfield_transfer(array, freqs, BEAM_AZIMUTHS_DEG,
                                                   driver_model),
                        reference=real_source_ears(array, freqs, virtual_width_deg, head),
                        unit_ears=unit_ears, unit_farfields=unit_far, head_ears=head_ears)


def bank_figures(plant: HeldoutPlant, taps: np.ndarray, ctc_taps: np.ndarray) -> dict:
    """The held-out figures (docs/metrics.md) of FIR taps (3, D, N) and ctc_taps (2, D, N)
    on ``plant``, JSON-ready."""
    freqs, nominal = plant.freqs_hz, plant.nominal
    filters = filter_responses(taps, plant.sample_rate, freqs)
    ctc_filters = filter_responses(ctc_taps, plant.sample_rate, freqs)
    sep = metrics.separation_db(ear_system(plant.ears, ctc_filters), freqs)  # (P, 2)
    per_listener, mean_of_inputs = sep.min(axis=1), sep.mean(axis=1)
    channels = ear_system(plant.ears[nominal:nominal + 1], filters)[0]  # (F, 2, 3)
    ild_l, itd_l = metrics.interaural_differences(channels[:, :, 0], freqs, ipsi_ear=0)
    ild_r, itd_r = metrics.interaural_differences(channels[:, :, 1], freqs, ipsi_ear=1)
    ref_ild, ref_itd = metrics.interaural_differences(plant.reference, freqs, ipsi_ear=0)
    itd_fraction, ild_spectrum_error = metrics.width_against(channels[:, :, 0],
                                                             plant.reference, freqs, ipsi_ear=0)
    beam = beam_system(plant.farfield, filters)
    beam_c = metrics.beam_metrics(beam[:, :, 2], freqs, BEAM_AZIMUTHS_DEG)
    on_axis = BEAM_AZIMUTHS_DEG == 0.0
    effort = [float(v) for v in metrics.effort_excess_db(filters, freqs)]
    figures = {
        "separation_nominal_db": float(sep[nominal].min()),
        "separation_zone_median_db": float(np.median(per_listener)),
        "separation_zone_worst_db": float(per_listener.min()),
        "separation_nominal_mean_db": float(mean_of_inputs[nominal]),
        "separation_zone_median_mean_db": float(np.median(mean_of_inputs)),
        "separation_zone_worst_mean_db": float(mean_of_inputs.min()),
        "ild_L_db": float(ild_l), "itd_L_us": float(itd_l),
        "ild_R_db": float(ild_r), "itd_R_us": float(itd_r),
        "ild_reference_db": float(ref_ild), "itd_reference_us": float(ref_itd),
        "ild_error_L_db": float(abs(ild_l - ref_ild)),
        "itd_error_L_us": float(abs(itd_l - ref_itd)),
        "beam_null_db": beam_c["null_db"], "beam_ripple_db": beam_c["ripple_db"],
        "beam_rear_db": beam_c["rear_db"], "beam_side_p90_db": beam_c["side_p90_db"],
        "beam_directivity_db": beam_c["directivity_db"],
        "beam_effort_db": metrics.beam_effort_db(plant.farfield[:, on_axis][:, 0], filters[2],
                                                 freqs),
        "itd_fraction_L": itd_fraction, "ild_spectrum_error_L_db": ild_spectrum_error,
        # C: far-field on-axis vs flat; L: nominal left ear vs a real source at +width.
        "tonal_deviation_C_db": float(metrics.tonal_deviation_db(
            beam[:, on_axis, 2][:, 0], np.ones_like(freqs), freqs)),
        "tonal_deviation_L_db": float(metrics.tonal_deviation_db(
            channels[:, 0, 0], plant.reference[:, 0], freqs)),
        "effort_excess_db": effort, "effort_peak_excess_db": max(effort),
        "ctc_effort_excess_db": [float(v) for v in metrics.effort_excess_db(ctc_filters, freqs)],
        "headroom_db": headroom_db(np.asarray(taps)),
    }
    if plant.unit_ears is not None and plant.unit_farfields is not None:
        seps = metrics.separation_db(np.einsum("ufed,idf->ufei", plant.unit_ears, ctc_filters),
                                     freqs)
        beams = np.einsum("ufad,df->ufa", plant.unit_farfields, filters[2])
        nulls = [metrics.beam_metrics(b, freqs, BEAM_AZIMUTHS_DEG)["null_db"] for b in beams]
        figures["separation_nominal_units_median_db"] = float(np.median(seps.min(axis=-1)))
        figures["beam_null_units_median_db"] = float(np.median(nulls))
    if plant.head_ears is not None:
        # each held-out listener's separation (mean of the two inputs) over the grid
        heads = metrics.separation_db(np.einsum("hpfed,idf->hpfei", plant.head_ears,
                                                ctc_filters), freqs).mean(-1)  # (H, P)
        figures.update(heads_zone_median_db=float(np.median(heads, axis=1).min()),
                       heads_zone_worst_db=float(heads.min()),
                       heads_nominal_db=float(heads[:, nominal].min()))
    return figures


def evaluate_heldout(array: Array, taps: np.ndarray, ctc_taps: np.ndarray, sample_rate: float,
                     **options) -> dict:
    """The standard held-out evaluation of FIR taps (3, D, N) and (2, D, N) in one driver
    model (``options`` as :func:`heldout_plant`: ``driver_model`` None is the array's own).

    Runs the held-out grid (models.heldout_grid; nominal = centre of the grid) and, when
    ``unit_draws`` > 0, the nominal listener and the beam on that many simulated units
    with ``tolerances`` (default models.tolerances.Tolerances), drawn from the evaluation
    stream so that no trained unit is among them; with ``head_draws`` > 0 and the sphere
    head, the grid heard by that many listeners of ``variety`` (default
    models.listener_heads.HeadVariety) from the evaluation stream. Returns the figures as a
    JSON-ready dict.
    """
    return bank_figures(heldout_plant(array, sample_rate, **options), taps, ctc_taps)


def evaluate_banks(array: Array, banks: Sequence[tuple[np.ndarray, np.ndarray]],
                   sample_rate: float, driver_models=None, **options) -> list[dict[str, dict]]:
    """Per bank ``(taps, ctc_taps)``, its figures in each driver model (default: every
    registered one); the transfers are computed once per model for all banks."""
    names = driver_models or driver_model_names()
    plants = {name: heldout_plant(array, sample_rate, driver_model=name, **options)
              for name in names}
    return [{name: bank_figures(plant, taps, ctc) for name, plant in plants.items()}
            for taps, ctc in banks]


def evaluate_models(array: Array, taps: np.ndarray, ctc_taps: np.ndarray, sample_rate: float,
                    driver_models=None, **options) -> dict[str, dict]:
    """:func:`evaluate_heldout` in each driver model (default: every registered one)."""
    return evaluate_banks(array, [(taps, ctc_taps)], sample_rate, driver_models, **options)[0]
