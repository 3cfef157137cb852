"""Sweep measurement: play a sweep on each driver in turn (or through a filter bank on
all drivers at once), record the microphones, deconvolve, remove the round-trip latency,
average the repeats.

The audio path is a callable ``play_record(signals (outputs, n)) -> (recording (inputs, n),
xruns)`` (device/playrec.py on a JACK server, or a simulation in tests). Outputs are
the D drivers, then the loopback output if any; inputs are the microphones, then the
loopback input if any. The latency is either measured on every sweep through the loopback
(the peak of its response) or given per excitation and microphone (the JACK latency API).
An excitation is what the drivers play for one response: the sweep on one driver
(:func:`measure_drivers`), or the sweep through one input's filters of a bank on every
driver (device/verification.py); the loopback always plays the bare sweep.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from common.errors import InputError
from renderer.sinesweep import (Sweep, check_response_length, deconvolve, impulse_response,
                                loopback_residual_db, peak_latency, peak_to_noise_db)

CLIP_LEVEL = 0.999  # a recorded sample this close to full scale counts as clipped
MIN_PEAK_TO_NOISE_DB = 20.0  # below this a recording holds no response (wrong cable)
MAX_TRIES = 2  # a sweep during which the server reported xruns is played once more
MAX_LOOPBACK_TRIES = 8  # a sweep whose loopback shows a dropout is played again this often
MAX_REPEAT_SPREAD_DB = -20.0  # repeats differing more than this: a dropout or movement
MAX_LOOPBACK_RESIDUAL_DB = -50.0  # a loopback response less clean than this: a dropout

PlayRecordFn = Callable[[np.ndarray], "tuple[np.ndarray, int]"]


@dataclass(frozen=True)
class Measurement:
    """ir: (inputs, n_samples, excitations) averaged over the repeats, latency removed (the
    excitations are the drivers when measuring a plant); latency: (excitations, repeats,
    inputs) samples removed; peak_dbfs: (excitations, inputs) recorded peak;
    peak_to_noise_db: (excitations, inputs), the worst sweep's; repeat_spread_db:
    (excitations, inputs) energy of the repeats' deviation from their mean over the mean's
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
                    **options) -> Measurement:
    """Measure every driver's response at every input: the sweep on one driver at a time.
    ``options`` are those of :func:`measure_responses`; latency is (drivers, inputs)."""
    n = len(driver_names)
    feeds = []
    for d in range(n):
        feed = np.zeros((n, sweep.signal.size), np.float32)
        feed[d] = sweep.signal
        feeds.append(feed)
    return measure_responses(play_record, sweep, feeds, names=driver_names, kind="driver",
                             **options)


def measure_responses(play_record: PlayRecordFn, sweep: Sweep, feeds: Sequence[np.ndarray], *,
                      names: Sequence[str], kind: str, input_names: Sequence[str],
                      n_samples: int, repeats: int, tail_samples: int,
                      latency: np.ndarray | None = None,
                      loopback: tuple[str, str] | None = None,
                      progress: Callable[[str], None] = lambda line: None) -> Measurement:
    """Measure the response at every input to each excitation.

    feeds: one (outputs, m) array per excitation, what the outputs play (m >= the sweep's
    length, the sweep starting at sample 0); names: the excitations' names, ``kind`` what
    they are ("driver", "bank input"), both for messages. latency: (excitations, inputs)
    samples from the JACK latency API, or None with ``loopback`` (output, input) port
    names: then each sweep also plays on the loopback output, the peak of the loopback
    input's response is that sweep's latency, and a sweep whose loopback response is not
    clean (a dropout) is played again.
    """
    n_feeds, n_inputs = len(feeds), len(input_names)
    if (latency is None) == (loopback is None):
        raise InputError("latency: give either the reported latency or a loopback")
    check_response_length(n_samples, sweep)  # before anything plays
    recorded = list(input_names) + ([loopback[1]] if loopback else [])
    irs = np.zeros((n_feeds, repeats, n_inputs, n_samples))
    latencies = np.zeros((n_feeds, repeats, n_inputs), dtype=int)
    peaks = np.zeros((n_feeds, len(recorded)))
    ratios = np.full((n_feeds, n_inputs), np.inf)
    xrun_sweeps = replayed = 0
    for x, (feed, name) in enumerate(zip(feeds, names)):
        what = f"{kind} {name!r}"
        n_out, length = feed.shape[0], feed.shape[1] + tail_samples
        signals = np.zeros((n_out + (loopback is not None), length), np.float32)
        signals[:n_out, :feed.shape[1]] = feed
        if loopback is not None:
            signals[-1, :sweep.signal.size] = sweep.signal
        recordings, replayed_before = [], replayed
        for r in range(repeats):  # no processing while sweeps play: nothing competes
            if loopback is not None:
                recording, xruns, tries, latencies[x, r] = _play_checked(
                    play_record, signals, sweep, loopback, what)
            elif latency is not None:  # one of the two, checked above
                recording, xruns, tries = _play(play_record, signals)
                latencies[x, r] = latency[x]
            xrun_sweeps += xruns > 0
            replayed += tries - 1
            peaks[x] = np.maximum(peaks[x], np.max(np.abs(recording), axis=-1))
            _check_clipping(peaks[x], recorded, what)
            recordings.append(recording[:n_inputs])
        for r, recording in enumerate(recordings):
            response = deconvolve(recording, sweep)
            ratios[x] = np.minimum(ratios[x], _check_signal(
                response, latencies[x, r], n_samples, sweep, input_names, what))
            for i in range(n_inputs):
                irs[x, r, i] = impulse_response(response[i], int(latencies[x, r, i]),
                                                n_samples, sweep)
        again = (f" ({replayed - replayed_before} played again)"
                 if replayed > replayed_before else "")
        progress(f"{kind} {x + 1}/{n_feeds} {name}: {repeats} sweep(s){again}, recorded "
                 f"peak " + ", ".join(f"{_db(p):.1f}" for p in peaks[x, :n_inputs]) + " dBFS, "
                 "peak-to-noise " + ", ".join(f"{q:.0f}" for q in ratios[x]) + " dB")
    mean = irs.mean(axis=1, keepdims=True)
    spread = _db(np.sqrt(np.sum((irs - mean) ** 2, axis=(1, 3)) / repeats
                         / np.sum(mean[:, 0] ** 2, axis=-1)))  # (excitations, inputs)
    _check_spread(spread, [f"{kind} {name!r}" for name in names], input_names)
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
                  loopback: tuple[str, str], what: str) -> tuple[np.ndarray, int, int, int]:
    """A recording whose loopback response is clean, its xruns, the tries it took and its
    latency; played again (up to MAX_LOOPBACK_TRIES times) while the loopback shows a
    dropout."""
    for tries in range(1, MAX_LOOPBACK_TRIES + 1):
        recording, xruns = play_record(signals)
        response = deconvolve(recording[-1], sweep)
        lag = peak_latency(response, sweep)
        if not peak_to_noise_db(response, lag, 1, sweep) >= MIN_PEAK_TO_NOISE_DB:
            raise InputError(f"--loopback: no signal from {loopback[0]!r} at {loopback[1]!r} "
                             f"while {what} played: check the loopback cable; "
                             f"nothing was written")
        residual = loopback_residual_db(response, lag, sweep)
        if residual <= MAX_LOOPBACK_RESIDUAL_DB:
            return recording, xruns, tries, lag
    raise InputError(f"--loopback: in every one of {MAX_LOOPBACK_TRIES} sweeps of "
                     f"{what} the loopback response {loopback[0]!r} -> {loopback[1]!r} "
                     f"was not a clean impulse (the last: {residual:.0f} dB of its energy away "
                     f"from its peak, at most {MAX_LOOPBACK_RESIDUAL_DB:.0f} dB expected): "
                     f"dropouts (close other programs or raise the server's period) or not a "
                     f"plain cable; nothing was written")


def _check_spread(spread_db: np.ndarray, excitations: Sequence[str],
                  inputs: Sequence[str]) -> None:
    for x, i in zip(*np.nonzero(~(spread_db <= MAX_REPEAT_SPREAD_DB))):
        raise InputError(f"the repeated sweeps of {excitations[x]} at {inputs[i]!r} "
                         f"differ by {spread_db[x, i]:.0f} dB (more than "
                         f"{MAX_REPEAT_SPREAD_DB:.0f} dB): a dropout (xrun), noise or "
                         f"movement during the measurement; measure this pose again")


def _check_clipping(peak: np.ndarray, names: Sequence[str], what: str) -> None:
    for p, name in zip(peak, names):
        if p >= CLIP_LEVEL:
            raise InputError(f"recording of {name!r} clipped (peak {_db(p):.1f} dBFS) while "
                             f"{what} played: lower --level-db or the input gain; "
                             f"nothing was written")


def _check_signal(response: np.ndarray, latency: np.ndarray, n_samples: int, sweep: Sweep,
                  names: Sequence[str], what: str) -> np.ndarray:
    """(inputs,) peak-to-noise ratios in dB; InputError where one is too low."""
    ratios = np.array([peak_to_noise_db(r, int(lag), n_samples, sweep)
                       for r, lag in zip(response, latency)])
    for ratio, name in zip(ratios, names):
        if not ratio >= MIN_PEAK_TO_NOISE_DB:  # NaN (silence) fails too
            raise InputError(f"no signal at {name!r} while {what} played "
                             f"(peak-to-noise {ratio:.0f} dB, expected at least "
                             f"{MIN_PEAK_TO_NOISE_DB:.0f} dB): check the cables, the "
                             f"microphone gain and --outputs/--inputs; nothing was written")
    return ratios


def _db(value):
    with np.errstate(divide="ignore"):
        return 20 * np.log10(value)
