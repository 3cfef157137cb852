"""Reference-stereo virtualization: parametric HRTF approximations of a source at +-width.

Per the design, the ipsilateral ear gets an all-pass and the contralateral ear a delayed
low-pass, both relative to the head centre:

    ipsi(f)   = exp(-2j arctan(pi d f))                      (all-pass, LF group delay d)
    contra(f) = exp(-j 2 pi f tau) (1 + j f / f_z) / (1 + j f / f_p),  f_z = f_p / g

``tau`` is the interaural delay, the first-order shelf falls from 1 at low frequency to
``g`` (``shelf_db`` = 20 log10 g) above ``f_p``. The four parameters are fitted to the
interaural transfer function ``contra / ipsi`` of a head model (sphere or SOFA) for a real
source at ``width_deg`` and the nominal distance, over 100 Hz-10 kHz, in the complex-log
sense (level in dB and phase together).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import least_squares

from common.errors import InputError
from models import Array
from models.heads import resolve_head

FIT_BAND_HZ = (100.0, 10000.0)
ILD_BAND_HZ = (500.0, 6000.0)  # where a listener's level cue is judged
ITD_BAND_HZ = (300.0, 1000.0)  # where a listener's time cue is judged


@dataclass(frozen=True)
class VirtualSource:
    """Parameters of the parametric HRTF pair (seconds, Hz, dB)."""

    width_deg: float
    itd_s: float
    allpass_delay_s: float
    cutoff_hz: float
    shelf_db: float

    def to_dict(self) -> dict:
        return asdict(self)


def ipsi_response(v: VirtualSource, freqs_hz: np.ndarray) -> np.ndarray:
    """(F,) all-pass ipsilateral response."""
    return np.exp(-2j * np.arctan(np.pi * v.allpass_delay_s * np.asarray(freqs_hz, float)))


def contra_response(v: VirtualSource, freqs_hz: np.ndarray) -> np.ndarray:
    """(F,) delayed low-pass (shelf) contralateral response."""
    f = np.asarray(freqs_hz, float)
    g = 10 ** (v.shelf_db / 20)
    shelf = (1 + 1j * f * g / v.cutoff_hz) / (1 + 1j * f / v.cutoff_hz)
    return np.exp(-2j * np.pi * f * v.itd_s) * shelf


def virtual_ears(v: VirtualSource, freqs_hz: np.ndarray) -> np.ndarray:
    """(F, 2, 2) target ear responses ``[f, ear, channel]`` for channels L (source on the
    left, +width) and R (mirrored)."""
    ipsi, contra = ipsi_response(v, freqs_hz), contra_response(v, freqs_hz)
    return np.stack([np.stack([ipsi, contra], -1), np.stack([contra, ipsi], -1)], -1)


def fit_virtual_source(array: Array, width_deg: float = 30.0, head="sphere") -> VirtualSource:
    """Fit the parametric pair to the head model's interaural transfer at ``width_deg``."""
    if not 0 < width_deg < 90:
        raise InputError(f"width_deg: expected an angle in (0, 90) degrees, got {width_deg}")
    freqs = np.geomspace(*FIT_BAND_HZ, 200)
    a = np.deg2rad(width_deg)
    r = array.listener.distance_m
    source = np.array([[[r * np.cos(a), r * np.sin(a), 0.0]]])  # listener's left
    rel = resolve_head(head).relative_response(freqs, source, array.speed_of_sound_m_s)[:, 0, :, 0]
    itf = rel[:, 1] / rel[:, 0]
    log_itf = np.log(np.abs(itf)) + 1j * np.unwrap(np.angle(itf))

    def model(p):
        v = VirtualSource(width_deg, p[0] * 1e-3, p[1] * 1e-3, p[2] * 1e3, p[3])
        m = contra_response(v, freqs) / ipsi_response(v, freqs)
        return np.log(np.abs(m)) + 1j * np.unwrap(np.angle(m))

    def residual(p):
        diff = model(p) - log_itf
        return np.concatenate([diff.real * 20 / np.log(10) / 3.0, diff.imag])  # 3 dB ~ 1 rad

    x0 = [0.26, 0.0, 2.0, -8.0]  # ms, ms, kHz, dB
    fit = least_squares(residual, x0, bounds=([0.0, -1.0, 0.1, -40.0], [1.5, 1.0, 20.0, 0.0]))
    p = fit.x
    return VirtualSource(float(width_deg), float(p[0] * 1e-3), float(p[1] * 1e-3),
                         float(p[2] * 1e3), float(p[3]))
