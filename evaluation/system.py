"""System responses and the standard evaluation of a filter bank (NumPy only).

Filters ``W`` are (C, D, F) complex: input channel -> driver. Ear transfers ``H`` are
(P, F, 2, D) and far-field transfers ``G`` are (F, A, D) (CONVENTIONS.md shapes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evaluation import metrics
from models import (Array, Listeners, driver_model_names, ear_transfer, farfield_transfer,
                    heldout_grid)
from models.heads import resolve_head
from models.listener_heads import HeadVariety, draw_heads, with_heights
from models.measured_plants import (MeasuredPlant, ears_transfer, farfield_on_grid,
                                     farfield_response)
from models.plants import plant_ear_transfer, plant_farfield_transfer, plant_set
from models.tolerances import EVALUATION_STREAM, Tolerances
from renderer.export import headroom_db

BEAM_AZIMUTHS_DEG = np.arange(-180.0, 180.0, 5.0)


def filter_responses(taps: np.ndarray, sample_rate: float, freqs_hz: np.ndarray) -> np.ndarray:
    """Complex (C, D, F) frequency responses of FIR ``taps`` (C, D, N) at ``freqs_hz``."""
    n = np.arange(taps.shape[-1])
    kernel = np.exp(-2j * np.pi * np.outer(n, freqs_hz) / sample_rate)  # (N, F)
    return np.asarray(taps, dtype=float) @ kernel


def ear_system(ear: np.ndarray, filters: np.ndarray) -> np.ndarray:
    """(P, F, 2, C) ear pressure for each input channel: ``sum_d H[p,f,e,d] W[c,d,f]``."""
    return np.einsum("pfed,cdf->pfec", ear, filters)


def beam_system(farfield: np.ndarray, filters: np.ndarray) -> np.ndarray:
    """(F, A, C) far-field response for each input channel."""
    return np.einsum("fad,cdf->fac", farfield, filters)


def real_source_ears(array: Array, freqs_hz: np.ndarray, azimuth_deg: float, head="sphere"
                     ) -> np.ndarray:
    """(F, 2) ear pressures at the nominal head for a point source at ``azimuth_deg``
    (counter-clockwise from the nose: +30 is the listener's left) at the nominal distance."""
    a = np.deg2rad(azimuth_deg)
    r = array.listener.distance_m
    source = np.array([[[r * np.cos(a), r * np.sin(a), 0.0]]])
    k = 2 * np.pi * freqs_hz / array.speed_of_sound_m_s
    rel = resolve_head(head).relative_response(freqs_hz, source, array.speed_of_sound_m_s)
    return rel[:, 0, :, 0] * (np.exp(-1j * k * r) / r)[:, None]


@dataclass(frozen=True)
class Evaluation:
    """Metrics of one bank on one set of listeners (see evaluation.metrics for meanings)."""

    separation_db: np.ndarray  # (P, 2) per listener, per binaural input
    figures: dict  # scalar summaries, JSON-ready


def evaluation_freqs(sample_rate: float) -> np.ndarray:
    """The frequency grid used for evaluation: 1/48-octave log grid 50 Hz-min(20k, fs/2)."""
    hi = min(20000.0, 0.49 * sample_rate)
    return np.geomspace(50.0, hi, int(np.ceil(48 * np.log2(hi / 50.0))) + 1)


def evaluate_filters(array: Array, filters: np.ndarray, ctc_filters: np.ndarray,
                     freqs_hz: np.ndarray, listeners: Listeners, nominal_index: int,
                     head="sphere", virtual_width_deg: float = 30.0,
                     driver_model: str | None = None) -> Evaluation:
    """Evaluate L/R/C filters (3, D, F) and binaural CTC filters (2, D, F) in one driver
    model (None: the array's own).

    ``nominal_index`` picks the listener that is the nominal position.
    """
    ear = ear_transfer(array, freqs_hz, listeners.positions_m, listeners.facing, head=head,
                       driver_model=driver_model)
    ctc = ear_system(ear, ctc_filters)  # (P, F, 2, 2)
    sep = metrics.separation_db(ctc, freqs_hz)  # (P, 2)
    per_listener, mean_of_inputs = sep.min(axis=1), sep.mean(axis=1)
    channels = ear_system(ear[nominal_index:nominal_index + 1], filters)[0]  # (F, 2, 3)
    ild_l, itd_l = metrics.interaural_differences(channels[:, :, 0], freqs_hz, ipsi_ear=0)
    ild_r, itd_r = metrics.interaural_differences(channels[:, :, 1], freqs_hz, ipsi_ear=1)
    reference = real_source_ears(array, freqs_hz, virtual_width_deg, head)  # (F, 2)
    ref_ild, ref_itd = metrics.interaural_differences(reference, freqs_hz, ipsi_ear=0)
    itd_fraction, ild_spectrum_error = metrics.width_against(channels[:, :, 0], reference,
                                                             freqs_hz, ipsi_ear=0)
    far = farfield_transfer(array, freqs_hz, BEAM_AZIMUTHS_DEG, driver_model)
    beam = beam_system(far, filters)
    beam_c = metrics.beam_metrics(beam[:, :, 2], freqs_hz, BEAM_AZIMUTHS_DEG)
    on_axis = BEAM_AZIMUTHS_DEG == 0.0
    on_axis_c = beam[:, on_axis, 2][:, 0]  # (F,)
    figures = {
        "separation_nominal_db": float(sep[nominal_index].min()),
        "separation_zone_median_db": float(np.median(per_listener)),
        "separation_zone_worst_db": float(per_listener.min()),
        "separation_nominal_mean_db": float(mean_of_inputs[nominal_index]),
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
        "beam_effort_db": metrics.beam_effort_db(far[:, on_axis][:, 0], filters[2], freqs_hz),
        "itd_fraction_L": itd_fraction, "ild_spectrum_error_L_db": ild_spectrum_error,
        # C: far-field on-axis vs flat; L: nominal left ear vs a real source at +width.
        "tonal_deviation_C_db": float(metrics.tonal_deviation_db(
            on_axis_c, np.ones_like(freqs_hz), freqs_hz)),
        "tonal_deviation_L_db": float(metrics.tonal_deviation_db(
            channels[:, 0, 0], reference[:, 0], freqs_hz)),
        "effort_excess_db": [float(v) for v in metrics.effort_excess_db(filters, freqs_hz)],
        "ctc_effort_excess_db": [float(v) for v in metrics.effort_excess_db(ctc_filters, freqs_hz)],
    }
    return Evaluation(separation_db=sep, figures=figures)


def heldout_heads_figures(array: Array, ctc_filters: np.ndarray, freqs_hz: np.ndarray,
                          grid: Listeners, nominal: int, draws, driver_model: str | None
                          ) -> dict:
    """Separation (mean of the two binaural inputs) of ctc_filters (2, D, F) over the
    held-out grid as heard by each listener of ``draws`` (models.listener_heads: a head
    and a height); the least favourable listener's zone median, zone worst and nominal."""
    per_head = []
    for draw in draws:
        raised = with_heights(grid, (draw,))
        ear = ear_transfer(array, freqs_hz, raised.positions_m, raised.facing, head=draw.head,
                           driver_model=driver_model)
        per_head.append(metrics.separation_db(ear_system(ear, ctc_filters), freqs_hz).mean(-1))
    sep = np.array(per_head)  # (H, P)
    return {"heads_zone_median_db": float(np.median(sep, axis=1).min()),
            "heads_zone_worst_db": float(sep.min()),
            "heads_nominal_db": float(sep[:, nominal].min())}


def evaluate_heldout(array: Array, taps: np.ndarray, ctc_taps: np.ndarray, sample_rate: float,
                     head="sphere", virtual_width_deg: float = 30.0,
                     driver_model: str | None = None, unit_draws: int = 0,
                     tolerances: Tolerances | None = None, seed: int = 0,
                     head_draws: int = 0, variety: HeadVariety | None = None) -> dict:
    """The standard held-out evaluation of FIR taps (3, D, N) and (2, D, N) in one driver
    model (None: the array's own).

    Runs the held-out grid (models.heldout_grid; nominal = centre of the grid) and, when
    ``unit_draws`` > 0, the nominal listener and the beam on that many simulated units
    with ``tolerances`` (default models.tolerances.Tolerances), drawn from the evaluation
    stream so that no trained unit is among them; with ``head_draws`` > 0 and the sphere
    head, the grid heard by that many listeners of ``variety`` (default
    models.listener_heads.HeadVariety) from the evaluation stream
    (:func:`heldout_heads_figures`). Returns the figures as a JSON-ready dict.
    """
    freqs = evaluation_freqs(sample_rate)
    grid, coords = heldout_grid(array.listener)
    nominal = int(np.flatnonzero((coords["lateral_m"] == 0) & (coords["distance_scale"] == 1)
                                 & (coords["yaw_deg"] == 0))[0])
    filters = filter_responses(taps, sample_rate, freqs)
    ctc_filters = filter_responses(ctc_taps, sample_rate, freqs)
    result = evaluate_filters(array, filters, ctc_filters, freqs, grid, nominal, head,
                              virtual_width_deg, driver_model)
    figures = dict(result.figures)
    figures["effort_peak_excess_db"] = max(figures["effort_excess_db"])
    figures["headroom_db"] = headroom_db(np.asarray(taps))
    if unit_draws:
        plants = plant_set(array, [driver_model or array.driver_model],
                           tolerances or Tolerances(), unit_draws + 1, seed, EVALUATION_STREAM)
        ears = plant_ear_transfer(plants, freqs, grid.positions_m[nominal:nominal + 1],
                                  grid.facing[nominal:nominal + 1], head)[1:, 0]  # (U, F, 2, D)
        far = plant_farfield_transfer(plants, freqs, BEAM_AZIMUTHS_DEG)[1:]  # (U, F, A, D)
        seps = metrics.separation_db(np.einsum("ufed,idf->ufei", ears, ctc_filters), freqs)
        beams = np.einsum("ufad,df->ufa", far, filters[2])
        nulls = [metrics.beam_metrics(b, freqs, BEAM_AZIMUTHS_DEG)["null_db"] for b in beams]
        figures["separation_nominal_units_median_db"] = float(np.median(seps.min(axis=-1)))
        figures["beam_null_units_median_db"] = float(np.median(nulls))
    if head_draws and head == "sphere":
        draws = draw_heads(variety or HeadVariety(), head_draws + 1, seed, EVALUATION_STREAM)[1:]
        figures.update(heldout_heads_figures(array, ctc_filters, freqs, grid, nominal, draws,
                                             driver_model))
    return figures


def evaluate_models(array: Array, taps: np.ndarray, ctc_taps: np.ndarray, sample_rate: float,
                    driver_models=None, **options) -> dict[str, dict]:
    """:func:`evaluate_heldout` in each driver model (default: every registered one)."""
    return {name: evaluate_heldout(array, taps, ctc_taps, sample_rate, driver_model=name,
                                   **options)
            for name in (driver_models or driver_model_names())}


def evaluate_measured(measured: MeasuredPlant, taps: np.ndarray, ctc_taps: np.ndarray,
                      sample_rate: float, speed_of_sound_m_s: float) -> dict:
    """Figures of FIR taps (3, D, N) and (2, D, N) on a measured plant: separation at the
    nominal pose and over the held-out poses (never trained on), and the beam figures of
    its measured far field when it has one. JSON-ready."""
    freqs = evaluation_freqs(sample_rate)
    ear = ears_transfer(measured.ears, freqs, sample_rate)  # (M, F, 2, D)
    sep = metrics.separation_db(ear_system(ear, filter_responses(ctc_taps, sample_rate, freqs)),
                                freqs).min(axis=-1)  # (M,)
    held = sep[measured.split.held_out]
    figures = {"separation_nominal_db": float(sep[measured.split.nominal]),
               "separation_held_out_median_db": float(np.median(held)),
               "separation_held_out_worst_db": float(held.min()),
               "poses": {"nominal": measured.split.nominal,
                         "train": measured.split.train.tolist(),
                         "held_out": measured.split.held_out.tolist()}}
    if measured.farfield is not None:
        response = farfield_response(measured.farfield, freqs, sample_rate, speed_of_sound_m_s)
        far = farfield_on_grid(measured.farfield, response, BEAM_AZIMUTHS_DEG)
        beam = beam_system(far, filter_responses(taps, sample_rate, freqs))[:, :, 2]
        figures.update({f"beam_{k}": v for k, v in
                        metrics.beam_metrics(beam, freqs, BEAM_AZIMUTHS_DEG).items()})
    return figures
