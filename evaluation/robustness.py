"""Robustness studies of a filter bank over a listening area (NumPy only).

- Separation map: the worse of the two binaural inputs' separation (``metrics.
  separation_db``) at every head of a lateral x distance x height grid, heads facing
  forward (-x).
- Width map: ILD/ITD of the L and R channels at every head, beside those of a real
  reference stereo pair fixed in the room at +-``width_deg`` and the nominal distance as
  seen from the nominal head (the "hi-fi reference arrangement" a user would set up).
- Listening-zone area: the area (m^2) of the lateral x distance plane where the
  separation map, bilinearly interpolated, is at least a threshold (10 dB).
- Directivity index of a channel: on-axis (+x) power over the power averaged over the
  whole sphere, per frequency, dB.
- Driver effort: each driver's gain ``20 log10 |W[c, d, f]|`` and its peak per channel.
- Position table: the same figures at every head of the held-out grid (with yaw).
- Model gap: the held-out figures in every driver model, and each figure in the models the
  bank was trained on minus the same figure in the models it was not trained on.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from common.errors import InputError
from evaluation import metrics
from evaluation.heldout import evaluate_heldout, evaluate_models
from evaluation.system import beam_system, ear_system, evaluation_freqs, filter_responses
from models import (Array, Listeners, Zone, ear_transfer, farfield_transfer,
                    head_frames, heldout_grid, load_array, parse_array, place_listeners,
                    resolve_head)
from renderer.filterbank import FilterBank

ZONE_THRESHOLD_DB = 10.0
PLOT_AZIMUTHS_DEG = np.arange(-180.0, 180.0, 2.0)  # holds 0 and +-90 for beam_metrics
# Maps need only the separation/ILD band (500-6000 Hz) and the ITD band (200-1200 Hz).
MAP_FREQS_HZ = np.geomspace(200.0, 6000.0, 119)  # 1/24 octave


def bank_array(bank: FilterBank, source: str, array: str | None = None) -> Array:
    """The array a bank drives: ``array`` (a bundled name or TOML path) when given, which
    must have the bank's driver count, else the geometry in the bank's manifest."""
    if array is not None:
        loaded = load_array(array)
        if len(loaded.drivers) != bank.taps.shape[1]:
            raise InputError(f"--array {array}: has {len(loaded.drivers)} drivers but {source} "
                             f"drives {bank.taps.shape[1]}")
        return loaded
    m = bank.manifest
    return parse_array({"name": str(m["array"]), "drivers": m["drivers"],
                        "listener": m["listener"]}, f"{source}: manifest")


@dataclass(frozen=True)
class MapGrid:
    """The grid of a study: lateral offsets (X,), distances from the device (Y,) and
    height offsets (Z,) from the nominal head height, all metres."""

    lateral_m: np.ndarray
    distance_m: np.ndarray
    height_m: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.lateral_m.size, self.distance_m.size, self.height_m.size)

    def listeners(self, array: Array) -> Listeners:
        """The (X*Y*Z,) heads of ``array``'s listening area in C order, facing forward (-x)."""
        lat, dist, height = np.meshgrid(self.lateral_m, self.distance_m, self.height_m,
                                        indexing="ij")
        return place_listeners(array.listener, lat.ravel(), dist.ravel() / array.listener.distance_m,
                               height.ravel(), 0.0)


def map_grid(array: Array, zone: Zone, lateral_points: int = 21,
             distance_points: int = 15) -> MapGrid:
    """A regular grid over ``zone`` widened to at least the held-out grid's extent
    (+-0.10 m, 0.75-1.5 x the nominal distance); heights ``(-h, 0, +h)`` for a zone
    height spread ``h`` > 0, else the nominal height alone."""
    _, held = heldout_grid(array.listener)
    lateral = max(zone.lateral_m, float(np.abs(held["lateral_m"]).max()))
    lo = min(zone.distance_scale[0], float(held["distance_scale"].min()))
    hi = max(zone.distance_scale[1], float(held["distance_scale"].max()))
    heights = np.array([-zone.height_m, 0.0, zone.height_m]) if zone.height_m > 0 else np.zeros(1)
    return MapGrid(lateral_m=np.linspace(-lateral, lateral, lateral_points),
                   distance_m=array.listener.distance_m * np.linspace(lo, hi, distance_points),
                   height_m=heights)


def reference_pair_ears(array: Array, freqs_hz: np.ndarray, listeners: Listeners,
                        width_deg: float = 30.0, head="sphere") -> np.ndarray:
    """(P, F, 2, 2) ear pressures ``[p, f, ear, source]`` of a real stereo pair (point
    sources; source 0 at +width = the nominal listener's left, source 1 at -width) fixed
    at the nominal distance from the nominal head, heard by each of ``listeners``."""
    nominal = place_listeners(array.listener, 0.0, 1.0, 0.0, 0.0)
    frame = head_frames(nominal.positions_m, nominal.facing)[0]  # rows forward, left, up
    a = np.deg2rad([width_deg, -width_deg])
    r = array.listener.distance_m
    local = np.stack([r * np.cos(a), r * np.sin(a), np.zeros(2)], axis=-1)  # (2, 3) head frame
    sources = nominal.positions_m[0] + local @ frame  # (2, 3) device frame
    offset = sources[None] - listeners.positions_m[:, None]  # (P, 2, 3)
    in_head = np.einsum("pij,psj->psi", head_frames(listeners.positions_m, listeners.facing),
                        offset)
    c = array.speed_of_sound_m_s
    rel = resolve_head(head).relative_response(freqs_hz, in_head, c)  # (F, P, 2, S)
    dist = np.linalg.norm(offset, axis=-1)  # (P, S)
    k = 2 * np.pi * freqs_hz / c
    free = np.exp(-1j * k[:, None, None] * dist[None]) / dist[None]  # (F, P, S)
    return np.moveaxis(rel * free[:, :, None, :], 0, 1)


@dataclass(frozen=True)
class HeadFigures:
    """Per-head figures (P,) or (P, 2); channel/source axis ordered L, R."""

    separation_db: np.ndarray  # (P,) worse of the two binaural inputs
    ild_db: np.ndarray  # (P, 2) of the L and R channels
    itd_us: np.ndarray  # (P, 2)
    ild_reference_db: np.ndarray  # (P, 2) of the real +width / -width sources
    itd_reference_us: np.ndarray  # (P, 2)


def head_figures(array: Array, taps: np.ndarray, ctc_taps: np.ndarray, sample_rate: float,
                 listeners: Listeners, head="sphere", width_deg: float = 30.0,
                 freqs_hz: np.ndarray = MAP_FREQS_HZ) -> HeadFigures:
    """Separation, ILD and ITD of taps (3, D, N) / ctc_taps (2, D, N) at every head."""
    ear = ear_transfer(array, freqs_hz, listeners.positions_m, listeners.facing, head=head)
    sep = metrics.separation_db(ear_system(ear, filter_responses(ctc_taps, sample_rate, freqs_hz)),
                                freqs_hz).min(axis=-1)
    channels = ear_system(ear, filter_responses(taps, sample_rate, freqs_hz))  # (P, F, 2, 3)
    reference = reference_pair_ears(array, freqs_hz, listeners, width_deg, head)
    ild, itd, ild_ref, itd_ref = (np.empty((len(listeners), 2)) for _ in range(4))
    for side in (0, 1):  # channel L -> left ear ipsilateral, R -> right
        ild[:, side], itd[:, side] = metrics.interaural_differences(
            channels[..., side], freqs_hz, ipsi_ear=side)
        ild_ref[:, side], itd_ref[:, side] = metrics.interaural_differences(
            reference[..., side], freqs_hz, ipsi_ear=side)
    return HeadFigures(sep, ild, itd, ild_ref, itd_ref)


def zone_area_m2(values: np.ndarray, x_m: np.ndarray, y_m: np.ndarray,
                 threshold: float = ZONE_THRESHOLD_DB, oversample: int = 32) -> float:
    """Area (m^2) where the bilinear interpolant of ``values`` (X, Y) on the axes
    ``x_m`` (X,), ``y_m`` (Y,) (increasing) is >= ``threshold``, measured by sampling each
    cell at ``oversample`` x ``oversample`` midpoints."""
    values = np.asarray(values, float)
    if values.shape != (x_m.size, y_m.size) or x_m.size < 2 or y_m.size < 2:
        raise ValueError(f"values {values.shape} must be (X, Y) = ({x_m.size}, {y_m.size}), "
                         "both at least 2")
    s = (np.arange(oversample) + 0.5) / oversample
    u, v = s[:, None], s[None, :]  # (S, 1), (1, S)
    v00, v10 = values[:-1, :-1, None, None], values[1:, :-1, None, None]
    v01, v11 = values[:-1, 1:, None, None], values[1:, 1:, None, None]
    inside = ((1 - u) * (1 - v) * v00 + u * (1 - v) * v10 + (1 - u) * v * v01
              + u * v * v11) >= threshold  # (X-1, Y-1, S, S)
    cell = np.diff(x_m)[:, None] * np.diff(y_m)[None, :]
    return float(np.sum(inside.mean(axis=(-2, -1)) * cell))


def directivity_index_db(array: Array, channel_filters: np.ndarray, freqs_hz: np.ndarray,
                         step_deg: float = 5.0) -> np.ndarray:
    """(F,) directivity index of one channel with driver filters (D, F): on-axis (+x)
    power over the mean power over the sphere, dB.

    The sphere is swept as great circles through the +x axis: the array is turned about
    x by tilts ``t`` in [0, 180) and ``farfield_transfer`` gives its horizontal plane,
    i.e. directions ``(cos a, sin a cos t, sin a sin t)``; the area weight is ``|sin a|``.
    """
    polar = np.arange(-180.0, 180.0, step_deg) + step_deg / 2  # midpoints: no sample at the poles
    weight = np.abs(np.sin(np.deg2rad(polar)))
    total = np.zeros(freqs_hz.size)
    tilts = np.arange(0.0, 180.0, step_deg)
    for tilt in tilts:
        beam = np.einsum("fad,df->fa", farfield_transfer(_turned_about_x(array, tilt), freqs_hz,
                                                         polar), channel_filters)
        total += np.abs(beam) ** 2 @ weight
    mean = total / (tilts.size * weight.sum())
    on_axis = np.abs(np.einsum("fad,df->f", farfield_transfer(array, freqs_hz, [0.0]),
                               channel_filters)) ** 2
    return metrics.db_power(on_axis) - metrics.db_power(mean)


def _turned_about_x(array: Array, tilt_deg: float) -> Array:
    """The array turned by ``-tilt_deg`` about +x, so that its horizontal plane is the
    original's plane tilted by ``+tilt_deg``."""
    t = np.deg2rad(tilt_deg)
    rot = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(t), np.sin(t)], [0.0, -np.sin(t), np.cos(t)]])
    drivers = tuple(dataclasses.replace(d, position_m=rot @ d.position_m, axis=rot @ d.axis)
                    for d in array.drivers)
    return dataclasses.replace(array, drivers=drivers)


def driver_gain_db(filters: np.ndarray) -> np.ndarray:
    """(C, D, F) gain ``20 log10 |W|`` of each driver filter, dB (floored at -300)."""
    return metrics.db_power(np.abs(filters) ** 2)


def position_table(array: Array, taps: np.ndarray, ctc_taps: np.ndarray, sample_rate: float,
                   height_m=(0.0,), head="sphere", width_deg: float = 30.0) -> list[dict]:
    """One row per head of the held-out grid (with ``height_m`` offsets): its coordinates
    and separation, ILD/ITD of L and R, and those of the real reference pair."""
    listeners, coords = heldout_grid(array.listener, height_m=height_m)
    fig = head_figures(array, taps, ctc_taps, sample_rate, listeners, head, width_deg)
    rows = []
    for p in range(len(listeners)):
        row = {name: float(values[p]) for name, values in coords.items()}
        row["separation_db"] = float(fig.separation_db[p])
        for side, ch in enumerate("LR"):
            row[f"ild_{ch}_db"] = float(fig.ild_db[p, side])
            row[f"itd_{ch}_us"] = float(fig.itd_us[p, side])
            row[f"ild_reference_{ch}_db"] = float(fig.ild_reference_db[p, side])
            row[f"itd_reference_{ch}_us"] = float(fig.itd_reference_us[p, side])
        rows.append(row)
    return rows


@dataclass(frozen=True)
class Study:
    """Everything the report shows about one bank.

    ``maps`` holds HeadFigures reshaped to the grid: (X, Y, Z) and (X, Y, Z, 2).
    ``freqs_hz`` (F,) is the evaluation grid of ``di_db`` (F,), ``beam_c`` (F, A) (the C
    channel's far field over ``beam_azimuths_deg`` (A,)) and ``filters`` (3, D, F).
    """

    figures: dict  # JSON-ready: "heldout" (evaluate_heldout) and "study" summaries
    grid: MapGrid
    maps: HeadFigures
    freqs_hz: np.ndarray
    di_db: np.ndarray
    beam_azimuths_deg: np.ndarray
    beam_c: np.ndarray
    filters: np.ndarray


def run_study(array: Array, taps: np.ndarray, ctc_taps: np.ndarray, sample_rate: float,
              grid: MapGrid, head="sphere", width_deg: float = 30.0,
              threshold_db: float = ZONE_THRESHOLD_DB, unit_draws: int = 0,
              seed: int = 0, beam_azimuths_deg: np.ndarray = PLOT_AZIMUTHS_DEG) -> Study:
    """Held-out figures, maps over ``grid``, zone area, directivity and effort of a bank."""
    heldout = evaluate_heldout(array, taps, ctc_taps, sample_rate, head=head,
                               virtual_width_deg=width_deg,
                               unit_draws=unit_draws, seed=seed)
    flat = head_figures(array, taps, ctc_taps, sample_rate,
                        grid.listeners(array), head, width_deg)
    maps = HeadFigures(*(getattr(flat, f.name).reshape(grid.shape + getattr(flat, f.name).shape[1:])
                         for f in dataclasses.fields(HeadFigures)))
    freqs = evaluation_freqs(sample_rate)
    filters = filter_responses(taps, sample_rate, freqs)
    di = directivity_index_db(array, filters[2], freqs)
    beam_c = beam_system(farfield_transfer(array, freqs, beam_azimuths_deg), filters)[:, :, 2]
    level = int(np.argmin(np.abs(grid.height_m)))  # the nominal height layer
    sep = maps.separation_db
    gain = driver_gain_db(filters)
    summary = {
        "zone_threshold_db": threshold_db,
        "zone_area_m2": zone_area_m2(sep[:, :, level], grid.lateral_m, grid.distance_m,
                                     threshold_db),
        "zone_area_all_heights_m2": zone_area_m2(sep.min(axis=2), grid.lateral_m,
                                                 grid.distance_m, threshold_db),
        "map_area_m2": float(np.ptp(grid.lateral_m) * np.ptp(grid.distance_m)),
        "separation_map_median_db": float(np.median(sep)),
        "separation_map_worst_db": float(sep.min()),
        "width_ild_error_median_db": float(np.median(np.abs(
            maps.ild_db - maps.ild_reference_db)[:, :, level])),
        "width_itd_error_median_us": float(np.median(np.abs(
            maps.itd_us - maps.itd_reference_us)[:, :, level])),
        "directivity_index_C_db": float(np.median(di[metrics.band_mask(freqs, metrics.BEAM_BAND)])),
        "driver_peak_gain_db": {ch: [float(v) for v in gain[c].max(axis=-1)]
                                for c, ch in enumerate("LRC")},
    }
    return Study(figures={"heldout": heldout, "study": summary}, grid=grid, maps=maps,
                 freqs_hz=freqs, di_db=di, beam_azimuths_deg=np.asarray(beam_azimuths_deg, float),
                 beam_c=beam_c, filters=filters)


def training_models(bank: FilterBank, array: Array) -> list[str]:
    """The driver models a bank was trained on (its manifest's ``metrics.training_models``;
    banks from before plant ensembles were trained on the array's own model)."""
    named = bank.manifest.get("metrics", {}).get("training_models")
    return list(named) if isinstance(named, list) and named else [array.driver_model]


def model_gap_figures(array: Array, bank: FilterBank, head, width_deg: float) -> dict:
    """Held-out figures of ``bank`` in every driver model, the models it was trained on,
    and the model gap (metrics.model_gap): JSON-ready."""
    per_model = evaluate_models(array, bank.taps, bank.ctc_taps, bank.sample_rate, head=head,
                                virtual_width_deg=width_deg)
    trained = training_models(bank, array)
    return {"training_models": trained, "by_model": per_model,
            "least_favourable": metrics.least_favourable(per_model),
            "gap": metrics.model_gap(per_model, trained)}
