"""Figures of merit of a filter bank, as pure NumPy functions of system responses.

Definitions (bands in Hz, levels in dB, times in microseconds):

- CTC separation of binaural input ``i``: ipsilateral over contralateral ear power,
  ``10 log10(|Y[i, i]|^2 / |Y[other, i]|^2)`` per frequency, summarised by the median
  over ``SEPARATION_BAND`` (500-6000 Hz).
- Interaural level difference (ILD) of a source: ipsilateral over contralateral ear
  energy over ``ILD_BAND`` (500-6000 Hz). Interaural time difference (ITD): the slope of
  the unwrapped interaural phase over ``ITD_BAND`` (200-1200 Hz), i.e. the low-frequency
  phase delay of the contralateral ear behind the ipsilateral one.
- Width against a real source (what a listener hears of a virtual one): the ITD fraction
  is the interaural phase slope over ``ITD_FRACTION_BAND`` (300-1000 Hz) divided by that
  of the real source; the ILD spectrum error is the median over ``ILD_BAND`` of
  ``|ILD(f) - ILD_real(f)|``, per frequency.
- Beam (centre channel, ``BEAM_BAND`` 300-3000 Hz, powers summed over the band):
  null depth = power at +-90 deg over on-axis power (the worse side); ripple = max minus
  min of the band power over +-45 deg; rear = mean power over ``|az| >= 120`` over on-axis.
  Per frequency: the side level is the louder of +-90 deg re on-axis, summarised by its
  90th percentile over the band (the worst tenth); the directivity index (2-D) is the
  on-axis power over the mean power over the azimuth grid (which must be uniform over
  360 deg), summarised by its median over the band.
- Beam effort (inverse white-noise gain): ``max_d |G_d|^2 sum_d |w_d|^2 / |sum_d G_d w_d|^2``
  with ``G`` the on-axis far field, i.e. the driver power per unit of on-axis pressure
  relative to the best single driver; 0 dB for that driver alone, more for a beam that
  cancels. Median over the band.
- Tonal deviation: standard deviation over ``TONAL_BAND`` (150 Hz-12 kHz) of the level of
  a response over its target, in dB.
- Effort excess: for each input channel, the array effort ``sqrt(sum_d |W_d(f)|^2)`` at its
  highest minus its median over ``EFFORT_REF_BAND`` (1-4 kHz), in dB.
"""

from __future__ import annotations

import numpy as np

from targets.cancellation import SEPARATION_BAND_HZ as SEPARATION_BAND
from targets.virtual import ILD_BAND_HZ as ILD_BAND
from targets.virtual import ITD_BAND_HZ as ITD_FRACTION_BAND
from targets.effort import EFFORT_REF_BAND_HZ as EFFORT_REF_BAND

ITD_BAND = (200.0, 1200.0)
SIDE_PERCENTILE = 90.0
BEAM_BAND = (300.0, 3000.0)
TONAL_BAND = (150.0, 12000.0)
_TINY = 1e-30


def band_mask(freqs_hz: np.ndarray, band: tuple[float, float]) -> np.ndarray:
    """Boolean (F,) mask of ``lo <= f <= hi``; raises if the band holds no frequency."""
    mask = (freqs_hz >= band[0]) & (freqs_hz <= band[1])
    if not mask.any():
        raise ValueError(f"no frequency of the grid lies in the band {band} Hz")
    return mask


def db_power(x: np.ndarray | float) -> np.ndarray:
    """``10 log10(x)`` of a power, floored at -300 dB."""
    return 10.0 * np.log10(np.maximum(x, _TINY))


def separation_spectrum_db(binaural: np.ndarray) -> np.ndarray:
    """Per-frequency separation of a binaural system.

    binaural: complex (..., F, 2, 2), ``[..., f, ear, input]`` ear pressure for each
    binaural input. Returns (..., F, 2): dB of ipsi over contra power for each input.
    """
    power = np.abs(binaural) ** 2
    ipsi = np.stack([power[..., 0, 0], power[..., 1, 1]], axis=-1)
    contra = np.stack([power[..., 1, 0], power[..., 0, 1]], axis=-1)
    return db_power(ipsi) - db_power(contra)


def separation_db(binaural: np.ndarray, freqs_hz: np.ndarray,
                  band: tuple[float, float] = SEPARATION_BAND) -> np.ndarray:
    """(..., 2) median separation over ``band`` of each binaural input (see module doc)."""
    spectrum = separation_spectrum_db(binaural)
    return np.median(spectrum[..., band_mask(freqs_hz, band), :], axis=-2)


def interaural_delay_us(ears: np.ndarray, freqs_hz: np.ndarray, ipsi_ear: int,
                        band: tuple[float, float] = ITD_BAND) -> np.ndarray:
    """(...,) ITD in microseconds of ears (..., F, 2): the least-squares slope through the
    origin of the unwrapped interaural phase over ``band``; > 0 when the contralateral ear
    lags."""
    mask = band_mask(freqs_hz, band)
    ipsi, contra = ears[..., mask, ipsi_ear], ears[..., mask, 1 - ipsi_ear]
    omega = 2 * np.pi * freqs_hz[mask]
    phase = np.unwrap(np.angle(contra * np.conj(ipsi)), axis=-1)
    return -np.sum(phase * omega, axis=-1) / np.sum(omega**2) * 1e6


def ild_spectrum_db(ears: np.ndarray, ipsi_ear: int) -> np.ndarray:
    """(..., F) ILD per frequency of ears (..., F, 2), ipsilateral over contralateral, dB."""
    return db_power(np.abs(ears[..., ipsi_ear]) ** 2) - \
        db_power(np.abs(ears[..., 1 - ipsi_ear]) ** 2)


def interaural_differences(ears: np.ndarray, freqs_hz: np.ndarray, ipsi_ear: int
                           ) -> tuple[np.ndarray, np.ndarray]:
    """ILD (dB) and ITD (us) of one source.

    ears: complex (..., F, 2) pressure at the left and right ear; ``ipsi_ear`` 0 (a
    source on the left) or 1. ITD > 0 means the contralateral ear lags.
    """
    ipsi, contra = ears[..., ipsi_ear], ears[..., 1 - ipsi_ear]
    ild_mask = band_mask(freqs_hz, ILD_BAND)
    ild = db_power(np.sum(np.abs(ipsi[..., ild_mask]) ** 2, axis=-1)) - \
        db_power(np.sum(np.abs(contra[..., ild_mask]) ** 2, axis=-1))
    return ild, interaural_delay_us(ears, freqs_hz, ipsi_ear)


def width_against(ears: np.ndarray, real: np.ndarray, freqs_hz: np.ndarray, ipsi_ear: int
                  ) -> tuple[float, float]:
    """ITD fraction and ILD spectrum error (dB) of a virtual source's ears (F, 2) against a
    real source's (F, 2), as the module doc defines them."""
    fraction = interaural_delay_us(ears, freqs_hz, ipsi_ear, ITD_FRACTION_BAND) / \
        interaural_delay_us(real, freqs_hz, ipsi_ear, ITD_FRACTION_BAND)
    mask = band_mask(freqs_hz, ILD_BAND)
    error = np.abs(ild_spectrum_db(ears, ipsi_ear) - ild_spectrum_db(real, ipsi_ear))
    return float(fraction), float(np.median(error[mask]))


def beam_metrics(beam: np.ndarray, freqs_hz: np.ndarray, azimuths_deg: np.ndarray,
                 band: tuple[float, float] = BEAM_BAND) -> dict[str, float]:
    """Null depth at +-90 deg, ripple within +-45 deg and rear level (band powers), the
    worst tenth of the side level and the median directivity index, in dB re on-axis.

    beam: complex (F, A) far-field response of one channel over the azimuths (deg); the
    grid must contain 0, +90 and -90 degrees and be uniform over 360 degrees.
    """
    az = (np.asarray(azimuths_deg, float) + 180.0) % 360.0 - 180.0
    spectrum = np.abs(beam[band_mask(freqs_hz, band)]) ** 2  # (Fb, A)
    power = np.sum(spectrum, axis=0)  # (A,)

    def at(angle: float) -> int:
        hits = np.flatnonzero(np.isclose(az, angle))
        if hits.size == 0:
            raise ValueError(f"the azimuth grid must contain {angle} degrees")
        return int(hits[0])

    on, left, right = at(0.0), at(90.0), at(-90.0)
    window = np.abs(az) <= 45.0 + 1e-9
    rear = np.abs(az) >= 120.0 - 1e-9
    side = db_power(np.maximum(spectrum[:, left], spectrum[:, right]) / spectrum[:, on])
    directivity = db_power(spectrum[:, on] / spectrum.mean(axis=1))
    return {
        "null_db": float(db_power(max(power[left], power[right]) / power[on])),
        "ripple_db": float(db_power(power[window].max()) - db_power(power[window].min())),
        "rear_db": float(db_power(power[rear].mean() / power[on])) if rear.any() else float("nan"),
        "side_p90_db": float(np.percentile(side, SIDE_PERCENTILE)),
        "directivity_db": float(np.median(directivity)),
    }


def beam_effort_db(on_axis: np.ndarray, weights: np.ndarray, freqs_hz: np.ndarray,
                   band: tuple[float, float] = BEAM_BAND) -> float:
    """Median over ``band`` of the beam effort (module doc) of driver weights (D, F) with
    on-axis far-field transfers (F, D), dB."""
    mask = band_mask(freqs_hz, band)
    g, w = on_axis[mask], weights.T[mask]  # (Fb, D)
    best = np.max(np.abs(g) ** 2, axis=-1)
    effort = best * np.sum(np.abs(w) ** 2, axis=-1) / np.abs(np.sum(g * w, axis=-1)) ** 2
    return float(np.median(db_power(effort)))


def tonal_deviation_db(response: np.ndarray, target: np.ndarray, freqs_hz: np.ndarray,
                       band: tuple[float, float] = TONAL_BAND) -> np.ndarray:
    """(...,) std over ``band`` of ``20 log10 |response / target|`` (F on the last axis)."""
    mask = band_mask(freqs_hz, band)
    level = db_power(np.abs(response[..., mask]) ** 2) - db_power(np.abs(target[..., mask]) ** 2)
    return np.std(level, axis=-1)


def effort_excess_db(filters: np.ndarray, freqs_hz: np.ndarray) -> np.ndarray:
    """(C,) peak array effort over its 1-4 kHz median, dB, for filters (C, D, F)."""
    effort = db_power(np.sum(np.abs(filters) ** 2, axis=1))  # (C, F)
    return effort.max(axis=-1) - np.median(effort[:, band_mask(freqs_hz, EFFORT_REF_BAND)], axis=-1)


# Which way each figure improves: +1 higher is better, -1 lower is better.
FIGURE_SENSE = {
    "separation_nominal_db": 1, "separation_zone_median_db": 1, "separation_zone_worst_db": 1,
    "separation_nominal_units_median_db": 1, "beam_null_db": -1, "beam_null_units_median_db": -1,
    "beam_ripple_db": -1, "beam_rear_db": -1, "tonal_deviation_C_db": -1,
    "tonal_deviation_L_db": -1, "effort_peak_excess_db": -1, "headroom_db": -1,
    "ild_error_L_db": -1, "itd_error_L_us": -1,
    "separation_nominal_mean_db": 1, "separation_zone_median_mean_db": 1,
    "separation_zone_worst_mean_db": 1, "beam_side_p90_db": -1, "beam_directivity_db": 1,
    "beam_effort_db": -1, "itd_fraction_L": 1, "ild_spectrum_error_L_db": -1,
    "heads_zone_median_db": 1, "heads_zone_worst_db": 1, "heads_nominal_db": 1,
}


def least_favourable(per_model: dict[str, dict]) -> dict:
    """Per figure of :data:`FIGURE_SENSE`, the worst value over the models' figure dicts;
    other entries are taken from the first model."""
    first = next(iter(per_model.values()))
    worst = dict(first)
    for key, sense in FIGURE_SENSE.items():
        values = [figures[key] for figures in per_model.values() if key in figures]
        if values:
            worst[key] = min(values) if sense > 0 else max(values)
    return worst


def model_gap(per_model: dict[str, dict], training: list[str]) -> dict[str, float]:
    """Per figure of :data:`FIGURE_SENSE`: its least favourable value over the training
    models minus its least favourable value over the held-out models (empty if none is
    held out). A positive separation gap or a negative null gap is what the bank lost."""
    held = {m: f for m, f in per_model.items() if m not in training}
    trained = {m: f for m, f in per_model.items() if m in training}
    if not held or not trained:
        return {}
    a, b = least_favourable(trained), least_favourable(held)
    return {key: float(a[key] - b[key]) for key in FIGURE_SENSE if key in a and key in b}
