"""Binaural preview: FIRs from every driver to the two ears of a listener.

The filters sample :func:`models.ear_transfer` (rigid-sphere head by default) on an rfft
grid at the bank's sample rate, remove the propagation delay of the nearest driver but
keep ``pre`` samples of lead for the head's non-causal part, and fade out the end. They
are scaled by the nominal listening distance, so at the nominal position the level is
that of the driver feeds at 1 m.
"""

from __future__ import annotations

import numpy as np
from scipy.signal.windows import hann

from common.errors import InputError
from models import ear_transfer, parse_array
from renderer.filterbank import ManifestFields


def parse_position(text: str, default_height_m: float) -> np.ndarray:
    """``"x,y"`` or ``"x,y,z"`` in metres (device frame) -> (3,); z defaults to the height."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in (2, 3) or not np.all(np.isfinite(values)):
        raise InputError(f"--preview: expected a listener position x,y or x,y,z in metres, "
                         f"got {text!r}")
    if len(values) == 2:
        values.append(default_height_m)
    return np.array(values)


def ear_filters(bank: ManifestFields, position_m, *, n_taps: int = 512, pre: int = 64,
                head="sphere") -> np.ndarray:
    """FIRs (D, 2, n_taps) from each driver to the left and right ear of a listener whose
    head centre is at ``position_m`` (3,) metres, facing the device."""
    manifest = bank.manifest
    array = parse_array({"name": str(manifest["array"]), "drivers": manifest["drivers"],
                         "listener": manifest["listener"]}, "filter-bank manifest")
    position = np.asarray(position_m, dtype=float).reshape(1, 3)
    distance = np.linalg.norm(array.positions_m - position, axis=1)
    if np.min(distance) < 0.2:
        raise InputError(f"--preview: listener position {position[0].tolist()} m is closer "
                         f"than 0.2 m to a driver")
    rate = bank.sample_rate
    freqs = np.fft.rfftfreq(n_taps, 1.0 / rate)
    response = ear_transfer(array, freqs, position, head=head)[0]  # (F, 2, D)
    shift = np.min(distance) / array.speed_of_sound_m_s - pre / rate
    response = response * np.exp(2j * np.pi * freqs * shift)[:, None, None]
    response[-1] = response[-1].real  # the Nyquist bin of a real filter is real
    firs = np.fft.irfft(response, n=n_taps, axis=0)  # (n_taps, 2, D)
    fade = n_taps // 4
    firs[-fade:] *= hann(2 * fade, sym=False)[fade:, None, None]
    return np.ascontiguousarray(np.transpose(firs, (2, 1, 0))) * array.listener.distance_m
