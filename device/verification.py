"""Verifying a filter bank on the device: what the drivers play when a sweep goes through
the bank, and the measurement of what arrives at the microphones.

For each bank input (the binaural ``left_ear``/``right_ear`` inputs of ``ctc_taps``, or
the ``C`` row of ``taps``) the sweep is filtered by that input's FIR to every driver and
all drivers play at once, as the renderer would play that input. The responses recorded
are then the delivered system, bank and device together, from the moment the sweep left
the bank (device/measurement.py removes the round-trip latency as it does for a plant).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy.signal import oaconvolve

from common.errors import InputError
from device.measurement import CLIP_LEVEL, Measurement, PlayRecordFn, measure_responses
from renderer.sinesweep import Sweep


def bank_feeds(sweep: Sweep, filters: np.ndarray, input_names: Sequence[str],
               driver_names: Sequence[str]) -> list[np.ndarray]:
    """One (D, n_sweep + N - 1) float32 array per input of ``filters`` (I, D, N): the
    sweep through that input's FIR to each driver. InputError naming the input and the
    driver if a feed would reach full scale (the bank's gain lifts the sweep)."""
    feeds = []
    for name, fir in zip(input_names, np.asarray(filters, dtype=float)):
        feed = oaconvolve(sweep.signal[None].astype(float), fir, axes=-1)
        peak = np.max(np.abs(feed), axis=-1)
        d = int(np.argmax(peak))
        if peak[d] >= CLIP_LEVEL:
            over = 20 * np.log10(peak[d] / CLIP_LEVEL)
            raise InputError(f"--level-db: the bank's filters lift the sweep of input {name!r} "
                             f"to {20 * np.log10(peak[d]):+.1f} dBFS on driver "
                             f"{driver_names[d]!r}; lower --level-db by at least "
                             f"{np.ceil(over * 10) / 10:g} dB")
        feeds.append(feed.astype(np.float32))
    return feeds


def verify_inputs(play_record: PlayRecordFn, sweep: Sweep, feeds: Sequence[np.ndarray], *,
                  input_names: Sequence[str], mic_names: Sequence[str], n_samples: int,
                  repeats: int, tail_samples: int, latency: np.ndarray | None = None,
                  loopback: tuple[str, str] | None = None,
                  progress: Callable[[str], None] = lambda line: None) -> Measurement:
    """The delivered responses of the bank inputs whose :func:`bank_feeds` are ``feeds``
    at the microphones ``mic_names``: ``ir`` (mics, n_samples, inputs), n_samples covering
    the bank's taps and the device's response after them. latency: (mics,) samples the
    server reports for the round trip (or None with ``loopback``); the rest as for
    :func:`device.measurement.measure_responses`."""
    per_input = None if latency is None else np.tile(np.asarray(latency)[None], (len(feeds), 1))
    return measure_responses(play_record, sweep, feeds, names=input_names, kind="bank input",
                             input_names=mic_names, n_samples=n_samples, repeats=repeats,
                             tail_samples=tail_samples, latency=per_input, loopback=loopback,
                             progress=progress)
