"""Low-latency smoothing of a tracked head position: the one-euro filter.

Casiez, Roussel and Vogel, "1 Euro Filter: a simple speed-based low-pass filter for noisy
input in interactive systems" (CHI 2012): a first-order low-pass filter whose cutoff
rises with the speed of the signal, ``cutoff = min_cutoff_hz + beta * |speed|``. A head
at rest gets a low cutoff (its jitter is smoothed away); a moving head a high one (little
lag). The speed is the new sample against the last output, low-passed: behind a head
moving steadily at ``v`` it reads ``v (1 + lag / dt)``, and the lag, that of a first-order
filter, is ``1 / (2 pi cutoff)`` at that speed (at 30 frames a second and 0.3 m/s: 16 ms;
``benchmarks/webcam.py`` prints it).
"""

from __future__ import annotations

import math

import numpy as np

MIN_CUTOFF_HZ = 1.0  # at rest: jitter above 1 Hz is smoothed away
BETA_S_PER_M = 20.0  # cutoff rises by 20 Hz per m/s of the speed it reads
DERIVATIVE_CUTOFF_HZ = 1.0


def _alpha(cutoff_hz: np.ndarray | float, dt_s: float) -> np.ndarray | float:
    """Smoothing factor of a first-order low-pass filter at ``cutoff_hz`` for a step of
    ``dt_s`` seconds."""
    tau = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt_s)


class OneEuroFilter:
    """The one-euro filter on vectors (n,) sampled at increasing times (s); each
    component has its own cutoff. :meth:`reset` forgets the past (a lost face)."""

    def __init__(self, *, min_cutoff_hz: float = MIN_CUTOFF_HZ, beta: float = BETA_S_PER_M,
                 derivative_cutoff_hz: float = DERIVATIVE_CUTOFF_HZ):
        self.min_cutoff_hz, self.beta = float(min_cutoff_hz), float(beta)
        self.derivative_cutoff_hz = float(derivative_cutoff_hz)
        self.reset()

    def reset(self) -> None:
        self._t: float | None = None
        self._x: np.ndarray = np.zeros(0)
        self._dx: np.ndarray = np.zeros(0)

    def __call__(self, t_s: float, x) -> np.ndarray:
        """The filtered value (n,) of the sample ``x`` (n,) taken at ``t_s`` seconds."""
        x = np.asarray(x, dtype=float)
        if self._t is None or t_s <= self._t:  # the first sample (or time went back)
            self._t, self._x, self._dx = t_s, x.copy(), np.zeros_like(x)
            return self._x.copy()
        dt = t_s - self._t
        dx = (x - self._x) / dt
        self._dx = self._dx + _alpha(self.derivative_cutoff_hz, dt) * (dx - self._dx)
        cutoff = self.min_cutoff_hz + self.beta * np.abs(self._dx)
        self._x = self._x + _alpha(cutoff, dt) * (x - self._x)
        self._t = t_s
        return self._x.copy()
