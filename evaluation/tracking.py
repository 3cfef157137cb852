"""Head-tracked banks over a listening zone (NumPy only).

Every head of a zone grid is judged by the separation (``metrics.separation_db``, the
worse binaural input) of the cell it is rendered with:

- ideal tracking: the cell nearest the true head pose (CONVENTIONS.md's pose distance);
- tracking error: the cell nearest a reported pose that is the true one plus Gaussian
  noise (``position_m`` per axis, ``yaw_deg``) and lagging ``lag_m`` behind a lateral
  movement (latency x speed), half of the draws moving either way; every (head, draw)
  is one sample of the figures;
- nominal cell: the untracked fallback everywhere;
- fixed: another, untracked bank everywhere (the design tracking is meant to beat).

Zone figures are the median and the worst over the samples, in every driver model, and
the least favourable over models (``metrics.least_favourable``). The zone grid "zone" is
the held-out grid (``models.heldout_grid``), so a fixed bank's figures there equal those
of ``evaluation.heldout.evaluate_heldout``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.poses import nearest_cells, poses_of
from evaluation import metrics
from evaluation.system import ear_system, evaluation_freqs, filter_responses
from models import Array, Listeners, driver_model_names, ear_transfer, heldout_grid

ZONE_GRIDS = {  # (lateral m, distance scale, yaw deg) offsets of each zone's grid
    "zone": ((-0.10, -0.05, 0.0, 0.05, 0.10), (0.75, 1.0, 1.5), (-10.0, 0.0, 10.0)),
    "couch": ((-0.15, -0.10, -0.05, 0.0, 0.05, 0.10, 0.15), (0.7, 0.85, 1.0, 1.3, 1.6),
              (-12.0, 0.0, 12.0)),
}
MODES = ("ideal", "tracking_error", "nominal_cell", "fixed")


@dataclass(frozen=True)
class TrackingError:
    """Pose noise (standard deviations per axis, m, and of yaw, deg), the lag of the
    reported pose behind a lateral movement (m: latency times speed) and the draws per
    head. The default: 1 cm, 2 deg, 30 ms at 0.3 m/s."""

    position_m: float = 0.01
    yaw_deg: float = 2.0
    lag_m: float = 0.03 * 0.3
    draws: int = 16


def zone_listeners(array: Array, zone: str) -> Listeners:
    """The heads of a zone grid of :data:`ZONE_GRIDS` (nominal height, models.heldout_grid)."""
    lateral, scale, yaw = ZONE_GRIDS[zone]
    return heldout_grid(array.listener, lateral_m=lateral, distance_scale=scale,
                        yaw_deg=yaw)[0]


def separation_table(ear: np.ndarray, ctc_filters: np.ndarray, freqs_hz: np.ndarray
                     ) -> np.ndarray:
    """(P, C) separation (dB, worse binaural input) of every head with every cell's
    binaural filters; ear (P, F, 2, D), ctc_filters (C, 2, D, F)."""
    return np.stack([metrics.separation_db(ear_system(ear, ctc), freqs_hz).min(axis=-1)
                     for ctc in ctc_filters], axis=1)


def reported_poses(poses: np.ndarray, error: TrackingError, seed: int) -> np.ndarray:
    """(R, P, 4) poses a tracker reports for true poses (P, 4): noise plus the lag, the
    head moving toward +y in the even draws and toward -y in the odd ones."""
    rng = np.random.default_rng([seed, 2718])
    noise = rng.standard_normal((error.draws,) + poses.shape)
    noise *= np.array([error.position_m] * 3 + [error.yaw_deg])
    lag = np.where(np.arange(error.draws) % 2 == 0, -error.lag_m, error.lag_m)
    noise[..., 1] += lag[:, None]
    return poses[None] + noise


def tracked_separation(array: Array, cells: np.ndarray, ctc_taps: np.ndarray,
                       sample_rate: float, listeners: Listeners, freqs_hz: np.ndarray,
                       head="sphere", driver_model: str | None = None) -> np.ndarray:
    """(P,) separation (dB) of each head rendered with its nearest cell (ideal tracking):
    cells (C, 4), ctc_taps (C, 2, D, N), the medians taken over ``freqs_hz``."""
    filters = np.stack([filter_responses(t, sample_rate, freqs_hz) for t in ctc_taps])
    ear = ear_transfer(array, freqs_hz, listeners.positions_m, listeners.facing, head=head,
                       driver_model=driver_model)
    chosen = nearest_cells(cells, poses_of(listeners.positions_m, listeners.facing))
    return separation_table(ear, filters, freqs_hz)[np.arange(len(listeners)), chosen]


def zone_figures(values: np.ndarray) -> dict[str, float]:
    """Median and worst of separation samples (any shape), dB."""
    return {"separation_zone_median_db": float(np.median(values)),
            "separation_zone_worst_db": float(np.min(values))}


def tracking_figures(array: Array, cells: np.ndarray, ctc_taps: np.ndarray,
                     fixed_ctc_taps: np.ndarray, sample_rate: float, zones=tuple(ZONE_GRIDS),
                     head="sphere", driver_model: str | None = None,
                     error: TrackingError = TrackingError(), seed: int = 0) -> dict:
    """{zone: {mode: figures}} of a tracked bank (cells (C, 4), ctc_taps (C, 2, D, N)) and
    a fixed bank (fixed_ctc_taps (2, D, N)) in one driver model (None: the array's own);
    modes as in the module doc. JSON-ready."""
    freqs = evaluation_freqs(sample_rate)
    freqs = freqs[metrics.band_mask(freqs, metrics.SEPARATION_BAND)]  # all the median reads
    filters = np.stack([filter_responses(t, sample_rate, freqs)
                        for t in np.concatenate([ctc_taps, fixed_ctc_taps[None]])])
    nominal = int(nearest_cells(cells, np.append(array.listener.head_position_m, 0.0)))
    out = {}
    for zone in zones:
        heads = zone_listeners(array, zone)
        ear = ear_transfer(array, freqs, heads.positions_m, heads.facing, head=head,
                           driver_model=driver_model)
        table = separation_table(ear, filters, freqs)  # (P, C + 1), the fixed bank last
        poses = poses_of(heads.positions_m, heads.facing)
        ideal = nearest_cells(cells, poses)
        noisy = nearest_cells(cells, reported_poses(poses, error, seed))
        rows = np.arange(len(heads))
        out[zone] = {"ideal": zone_figures(table[rows, ideal]),
                     "tracking_error": zone_figures(table[rows, noisy]),
                     "nominal_cell": zone_figures(table[:, nominal]),
                     "fixed": zone_figures(table[:, -1])}
    return out


def tracking_models(array: Array, cells: np.ndarray, ctc_taps: np.ndarray,
                    fixed_ctc_taps: np.ndarray, sample_rate: float, driver_models=None,
                    **options) -> dict[str, dict]:
    """:func:`tracking_figures` in each driver model (default: every registered one)."""
    return {name: tracking_figures(array, cells, ctc_taps, fixed_ctc_taps, sample_rate,
                                   driver_model=name, **options)
            for name in (driver_models or driver_model_names())}


def least_favourable_tracking(per_model: dict[str, dict]) -> dict:
    """{zone: {mode: figures}}: each figure at its worst over the driver models."""
    first = next(iter(per_model.values()))
    return {zone: {mode: metrics.least_favourable({m: f[zone][mode] for m, f in
                                                   per_model.items()})
                   for mode in modes}
            for zone, modes in first.items()}
