"""Streaming polyphase resampling, equal to ``scipy.signal.resample_poly`` run offline."""

from __future__ import annotations

from math import gcd

import numpy as np
from scipy.signal import firwin, upfirdn

from common.errors import InputError


class Resampler:
    """Resample ``channels`` signals from ``rate_in`` to ``rate_out`` Hz block by block.

    Same anti-aliasing filter and time alignment as ``resample_poly(x, up, down, axis=-1)``
    (Kaiser window, beta 5): the concatenated outputs of :meth:`process` and
    :meth:`flush` equal it on the whole signal, ``ceil(n * up / down)`` samples.
    """

    def __init__(self, rate_in: int, rate_out: int, channels: int):
        for name, rate in (("rate_in", rate_in), ("rate_out", rate_out)):
            if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate <= 0:
                raise InputError(f"resampling {name}: expected a positive integer in Hz, "
                                 f"got {rate!r}")
        g = gcd(int(rate_in), int(rate_out))
        self.up, self.down = int(rate_out) // g, int(rate_in) // g
        half_len = 10 * max(self.up, self.down)
        pre_pad = self.down - half_len % self.down
        taps = firwin(2 * half_len + 1, 1.0 / max(self.up, self.down), window=("kaiser", 5.0))
        self._h = np.concatenate([np.zeros(pre_pad), taps * self.up])
        self._skip = (half_len + pre_pad) // self.down  # leading outputs resample_poly drops
        self.channels = channels
        self.reset()

    def reset(self) -> None:
        """Start a new signal."""
        self._buf = np.zeros((self.channels, 0))  # input from index self._start on
        self._start = 0  # always a multiple of down, so outputs stay on the polyphase grid
        self._received = 0
        self._next = 0  # next full-convolution output index to produce

    def process(self, block) -> np.ndarray:
        """(channels, n) in; (channels, m) out, m varying from call to call."""
        block = np.asarray(block, dtype=float)
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise InputError(f"resampler block: expected ({self.channels}, n), got {block.shape}")
        self._received += block.shape[1]
        self._buf = np.concatenate([self._buf, block], axis=1)
        last = ((self._received - 1) * self.up) // self.down if self._received else -1
        return self._emit(last)

    def flush(self) -> np.ndarray:
        """The remaining output of a signal that has ended (as if followed by zeros)."""
        total = -(-self._received * self.up // self.down)
        last = total + self._skip - 1
        need = (last * self.down) // self.up + 1 - (self._start + self._buf.shape[1])
        if need > 0:
            self._buf = np.concatenate([self._buf, np.zeros((self.channels, need))], axis=1)
        out = self._emit(last)
        self.reset()
        return out

    def _emit(self, last: int) -> np.ndarray:
        """Outputs ``self._next .. last`` of the full convolution, less the leading skip."""
        if last < self._next or self._buf.shape[1] == 0:
            return np.zeros((self.channels, 0))
        y = upfirdn(self._h, self._buf, self.up, self.down, axis=-1)
        offset = self._start * self.up // self.down
        first = max(self._next, self._skip)
        out = y[:, first - offset:last + 1 - offset]
        self._next = last + 1
        oldest = max(0, -(-(self._next * self.down - len(self._h) + 1) // self.up))
        start = (oldest // self.down) * self.down
        self._buf = self._buf[:, start - self._start:]
        self._start = start
        return out
