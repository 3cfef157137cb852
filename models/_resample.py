"""Band-limited resampling of impulse responses between integer sample rates."""

from __future__ import annotations

from math import gcd

import numpy as np
from scipy.signal import firwin, resample_poly

from common.errors import InputError


def integer_rate(rate: float) -> int:
    """A sample rate as a whole number of Hz, or an InputError."""
    if not (np.isfinite(rate) and rate > 0 and float(rate).is_integer()):
        raise InputError(f"sample rate: expected a positive whole number of Hz, got {rate}")
    return int(rate)


def resample_ir(ir: np.ndarray, rate_in: float, rate_out: float, axis: int = -1) -> np.ndarray:
    """Impulse responses at ``rate_out`` by ``scipy.signal.resample_poly`` with a sharp
    anti-aliasing filter (flat to about 0.93 of the lower Nyquist frequency, nothing above
    it). Samples are scaled by the rate ratio: a sample stands for the response times
    1/rate, so a transfer function keeps its level."""
    rate_in, rate_out = integer_rate(rate_in), integer_rate(rate_out)
    if rate_in == rate_out:
        return ir
    g = gcd(rate_in, rate_out)
    up, down = rate_out // g, rate_in // g
    half_len = 64 * max(up, down)
    taps = firwin(2 * half_len + 1, 0.97 / max(up, down), window=("kaiser", 8.0))
    return resample_poly(ir, up, down, axis=axis, window=taps) * (rate_in / rate_out)
