"""Driver-by-driver sweep measurement: play a sweep on each driver in turn, record the
microphones, deconvolve, remove the round-trip latency, average the repeats.

The audio path is a callable ``play_record(signals (outputs, n)) -> (recording (inputs, n),
xruns)`` (device/playrec.py on a JACK server, or a simulation in tests). Outputs are
the D drivers, then the loopback output if any; inputs are the microphones, then the
loopback input if any. The latency is either measured on every sweep through the loopback
(the peak of its response) or given per driver and microphone (the JACK latency API).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from common.errors import InputError
from renderer.sinesweep import (Sweep, deconvolve, impulse_response, loopback_residual_db,
                                peak_latency, peak_to_noise_db)

CLIP_LEVEL = 0.999  # a recorded sample this close to full scale counts as clipped
MIN_PEAK_TO_NOISE_DB = 20.0  # below this a recording holds no response (wrong cable)
MAX_TRIES = 2  # a sweep during which the server reported xruns is played once more
MAX_LOOPBACK_TRIES = 8  # a sweep whose loopback shows a dropout is played again this often
MAX_REPEAT_SPREAD_DB = -20.0  # repeats differing more than this: a dropout or movement
MAX_LOOPBACK_RESIDUAL_DB = -50.0  # a loopback response less clean than this: a dropout

PlayRecordFn = Callable[[np.ndarray], "tuple[np.ndarray, int]"]


@dataclass(frozen=True)
class Measurement:
    """ir: (inputs, n_samples, drivers) averaged over the repeats, latency removed;
    latency: (drivers, repeats, inputs) samples removed; peak_dbfs: (drivers, inputs)
    recorded peak; peak_to_noise_db: (drivers, inputs), the worst sweep's; repeat_spread_db:
    (drivers, inputs) energy of the repeats' deviation from their mean over the mean's
    (-inf for one repeat); xrun_sweeps: sweeps kept although the server reported xruns
    during their last try (their data passed the repeat check); replayed: sweeps played
    again after xruns or a dropout."""

    ir: np.ndarray
    latency: np.ndarray
    peak_dbfs: np.ndarray
    peak_to_noise_db: np.ndarray
    repeat_spread_db: np.ndarray
    xrun_sweeps: int
    replayed: int


def measure_drivers(play_record: PlayRecordFn, sweep: Sweep, *, driver_names: Sequence[str],
                    input_names: Sequence[str], n_samples: int, repeats: int,
                    tail_samples: int, latency: np.ndarray | None = None,
                    loopback: tuple[str, str] | None = None,
                    progress: Callable[[str], None] = lambda line: None) -> Measurement:
    """Measure every driver's response at every input.

    latency: (drivers, inputs) samples from the JACK latency API, or None with
    ``loopback`` (output, input) port names: then each sweep also plays on the loopback
    output, the peak of the loopback input's response is that sweep's latency, and a sweep
    whose loopback response is not clean (a dropout) is played again.
    """
    n_drivers, n_inputs = len(driver_names), len(input_names)
    if (latency is None) == (loopback is None):
        raise InputError("latency: give either the reported latency or a loopback")
    names = list(input_names) + ([loopback[1]] if loopback else [])
    length = sweep.signal.size + tail_samples
    irs = np.zeros((n_drivers, repeats, n_inputs, n_samples))
    latencies = np.zeros((n_drivers, repeats, n_inputs), dtype=int)
    peaks = np.zeros((n_drivers, len(names)))
    ratios = np.full((n_drivers, n_inputs), np.inf)
    xrun_sweeps = replayed = 0
    for d, name in enumerate(driver_names):
        signals = np.zeros((n_drivers + (loopback is not None), length), np.float32)
        signals[d, :sweep.signal.size] = sweep.signal
        if loopback is not None:
            signals[-1, :sweep.signal.size] = sweep.signal
        recordings, replayed_before = [], replayed
        for r in range(repeats):  # no processing while sweeps play: nothing competes
            if loopback is not None:
                recording, xruns, tries, latencies[d, r] = _play_checked(
                    play_record, signals, sweep, loopback, name)
            elif latency is not None:  # one of the two, checked above
                recording, xruns, tries = _play(play_record, signals)
                latencies[d, r] = latency[d]
            xrun_sweeps += xruns > 0
            replayed += tries - 1
            peaks[d] = np.maximum(peaks[d], np.max(np.abs(recording), axis=-1))
            _check_clipping(peaks[d], names, name)
            recordings.append(recording[:n_inputs])
        for r, recording in enumerate(recordings):
            response = deconvolve(recording, sweep)
            ratios[d] = np.minimum(ratios[d], _check_signal(
                response, latencies[d, r], n_samples, sweep, input_names, name))
            for i in range(n_inputs):
                irs[d, r, i] = impulse_response(response[i], int(latencies[d, r, i]),
                                                n_samples, sweep)
        again = (f" ({replayed - replayed_before} played again)"
                 if replayed > replayed_before else "")
        progress(f"driver {d + 1}/{n_drivers} {name}: {repeats} sweep(s){again}, recorded "
                 f"peak " + ", ".join(f"{_db(p):.1f}" for p in peaks[d, :n_inputs]) + " dBFS, "
                 "peak-to-noise " + ", ".join(f"{q:.0f}" for q in ratios[d]) + " dB")
    mean = irs.mean(axis=1, keepdims=True)
    spread = _db(np.sqrt(np.sum((irs - mean) ** 2, axis=(1, 3)) / repeats
                         / np.sum(mean[:, 0] ** 2, axis=-1)))  # (drivers, inputs)
    _check_spread(spread, driver_names, input_names)
    return Measurement(ir=mean[:, 0].transpose(1, 2, 0), latency=latencies,
                       peak_dbfs=_db(peaks[:, :n_inputs]), peak_to_noise_db=ratios,
                       repeat_spread_db=spread, xrun_sweeps=int(xrun_sweeps),
                       replayed=int(replayed))


def _play(play_record: PlayRecordFn, signals: np.ndarray) -> tuple[np.ndarray, int, int]:
    """A recording, its xruns and the tries it took: played again while the server reports
    xruns, up to MAX_TRIES times. The last try is kept either way: a server without
    hardware (the dummy backend) reports late cycles without losing data, and lost data
    fails the repeat check."""
    for tries in range(1, MAX_TRIES + 1):
        recording, xruns = play_record(signals)
        if xruns == 0:
            break
    return recording, xruns, tries


def _play_checked(play_record: PlayRecordFn, signals: np.ndarray, sweep: Sweep,
                  loopback: tuple[str, str], driver: str) -> tuple[np.ndarray, int, int, int]:
    """A recording whose loopback response is clean, its xruns, the tries it took and its
    latency; played again (up to MAX_LOOPBACK_TRIES times) while the loopback shows a
    dropout."""
    for tries in range(1, MAX_LOOPBACK_TRIES + 1):
        recording, xruns = play_record(signals)
        response = deconvolve(recording[-1], sweep)
        lag = peak_latency(response, sweep)
        if not peak_to_noise_db(response, lag, 1, sweep) >= MIN_PEAK_TO_NOISE_DB:
            raise InputError(f"--loopback: no signal from {loopback[0]!r} at {loopback[1]!r} "
                             f"while driver {driver!r} played: check the loopback cable; "
                             f"nothing was written")
        residual = loopback_residual_db(response, lag, sweep)
        if residual <= MAX_LOOPBACK_RESIDUAL_DB:
            return recording, xruns, tries, lag
    raise InputError(f"--loopback: in every one of {MAX_LOOPBACK_TRIES} sweeps of driver "
                     f"{driver!r} the loopback response {loopback[0]!r} -> {loopback[1]!r} "
                     f"was not a clean impulse (the last: {residual:.0f} dB of its energy away "
                     f"from its peak, at most {MAX_LOOPBACK_RESIDUAL_DB:.0f} dB expected): "
                     f"dropouts (close other programs or raise the server's period) or not a "
                     f"plain cable; nothing was written")


def _check_spread(spread_db: np.ndarray, drivers: Sequence[str], inputs: Sequence[str]) -> None:
    for d, i in zip(*np.nonzero(~(spread_db <= MAX_REPEAT_SPREAD_DB))):
        raise InputError(f"the repeated sweeps of driver {drivers[d]!r} at {inputs[i]!r} "
                         f"differ by {spread_db[d, i]:.0f} dB (more than "
                         f"{MAX_REPEAT_SPREAD_DB:.0f} dB): a dropout (xrun), noise or "
                         f"movement during the measurement; measure this pose again")


def _check_clipping(peak: np.ndarray, names: Sequence[str], driver: str) -> None:
    for p, name in zip(peak, names):
        if p >= CLIP_LEVEL:
            raise InputError(f"recording of {name!r} clipped (peak {_db(p):.1f} dBFS) while "
                             f"driver {driver!r} played: lower --level-db or the input gain; "
                             f"nothing was written")


def _check_signal(response: np.ndarray, latency: np.ndarray, n_samples: int, sweep: Sweep,
                  names: Sequence[str], driver: str) -> np.ndarray:
    """(inputs,) peak-to-noise ratios in dB; InputError where one is too low."""
    ratios = np.array([peak_to_noise_db(r, int(lag), n_samples, sweep)
                       for r, lag in zip(response, latency)])
    for ratio, name in zip(ratios, names):
        if not ratio >= MIN_PEAK_TO_NOISE_DB:  # NaN (silence) fails too
            raise InputError(f"no signal at {name!r} while driver {driver!r} played "
                             f"(peak-to-noise {ratio:.0f} dB, expected at least "
                             f"{MIN_PEAK_TO_NOISE_DB:.0f} dB): check the cables, the "
                             f"microphone gain and --outputs/--inputs; nothing was written")
    return ratios


def _db(value):
    with np.errstate(divide="ignore"):
        return 20 * np.log10(value)
