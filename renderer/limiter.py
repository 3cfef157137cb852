"""A streaming look-ahead peak limiter for the driver feeds, linked across channels.

The signal is delayed by the look-ahead ``L`` samples; the gain applied to the sample at
input time ``p`` is built from the requirements ``g_req[m] = min(1, T / max_d |x_d[m]|)``
(``T`` the threshold, ``max_d`` over the channels: one gain for all drivers keeps their
balance) in three steps, each a NumPy operation over the whole block:

1. hold: ``h[q] = min(g_req[q - L .. q])``, the smallest requirement of the last ``L + 1``
   samples (attack: instantaneous);
2. release: ``b[q] = min(ln h[q], beta b[q - 1])``, the log gain (nepers) recovering by
   ``beta = exp(-1 / (release_ms * rate / 1000))`` per sample, so the gain ``r = exp(b)``
   comes back exponentially in dB and is never above ``h``; an attenuation under
   ``RELEASE_END_DB`` ends the release (a step of at most -99 dB re the signal);
3. smoothing: ``s[p] = mean(r[p .. p + L])``, which ramps the gain down over the ``L``
   samples before a peak.

Every ``r[q]`` in ``s[p]``'s window has ``p`` inside its hold window, so ``r[q] <= h[q] <=
g_req[p]`` and hence ``s[p] <= g_req[p]``: ``|s[p] x_d[p]| <= T`` for every channel by
construction, with no clipping anywhere. The gain is clamped to ``g_req[p]`` once more to
remove the rounding of the sums, and ``g_req`` aims at ``T (1 - 2^-22)`` (-0.00002 dB), so
rounding the gain and the product to float32 cannot carry a sample over ``T``. While the
limiter is at rest and no sample of a block exceeds ``T``, the block is only delayed: the
output is the input, bit for bit. Nothing is allocated per call when ``out`` is given
(reductions aside: NumPy's reduction machinery takes about a kilobyte for a moment).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from common.errors import InputError
from renderer.convolver import MAX_BLOCK, check_block_size, check_dtype

LOOKAHEAD_MS = 2.0
RELEASE_MS = 50.0
RELEASE_END_DB = 1e-4  # attenuation below this ends the release: gain exactly 1 again
ROUNDING_ROOM = 1.0 - 2.0 ** -22  # the gain aims this much under the threshold


@dataclass
class LimiterStats:
    """What the limiter did: counts in samples per channel, gains linear."""

    rate: int
    samples: int = 0  # samples processed
    limited: int = 0  # samples played with a gain below 1
    events: int = 0  # times the limiter left rest
    min_gain: float = 1.0  # the deepest gain applied
    peak_in: float = 0.0  # the largest |sample| that reached the limiter

    def clear(self) -> None:
        """Forget every count (a new stream)."""
        self.samples = self.limited = self.events = 0
        self.min_gain, self.peak_in = 1.0, 0.0

    def as_dict(self) -> dict:
        """The counts as a JSON-ready object (``play.py --report``): seconds and samples
        processed and limited, times it acted, the deepest gain reduction (dB, 0 when
        idle) and the loudest sample that reached it (dBFS, None for silence)."""
        return {"seconds": round(self.samples / self.rate, 3), "samples": self.samples,
                "limited_samples": self.limited,
                "limited_seconds": round(self.limited / self.rate, 4),
                "events": self.events,
                "max_reduction_db": round(-20.0 * math.log10(self.min_gain), 3) + 0.0,
                "peak_in_dbfs": round(20.0 * math.log10(self.peak_in), 3)
                if self.peak_in > 0 else None}

    def summary(self) -> str:
        """One line: how often and how deep the limiter acted."""
        peak = f"{20 * math.log10(self.peak_in):+.1f} dBFS" if self.peak_in > 0 else "silence"
        if not self.limited:
            return f"limiter: idle (driver peak {peak})"
        share = 100.0 * self.limited / max(self.samples, 1)
        return (f"limiter: acted {self.events} time(s), on {self.limited / self.rate:.2f} s "
                f"({share:.2f} % of {self.samples / self.rate:.2f} s), deepest gain reduction "
                f"{-20 * math.log10(self.min_gain):.1f} dB (driver peak {peak} before it)")


class Limiter:
    """Look-ahead peak limiter for ``channels`` signals at ``rate`` Hz, linked across the
    channels: :meth:`process` takes ``(channels, n)`` blocks (any n; at most ``max_block``
    per internal step) and returns them delayed by :attr:`latency` samples, every sample
    within ``threshold_db`` dBFS (0 dBFS = 1.0). See the module docstring."""

    def __init__(self, channels: int, rate: int, *, lookahead_ms: float = LOOKAHEAD_MS,
                 release_ms: float = RELEASE_MS, threshold_db: float = 0.0,
                 max_block: int = MAX_BLOCK, dtype=np.float32):
        if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) \
                or channels < 1:
            raise InputError(f"limiter channels: expected an integer >= 1, got {channels!r}")
        for name, value, low in (("look-ahead", lookahead_ms, 0.1),
                                 ("release", release_ms, 10.0)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= low):
                raise InputError(f"limiter {name}: expected at least {low:g} ms, got {value!r}")
        if not (isinstance(threshold_db, (int, float)) and -60.0 <= threshold_db <= 0.0):
            raise InputError(f"limiter threshold: expected -60 to 0 dBFS, got {threshold_db!r}")
        self.channels, self.rate = int(channels), int(rate)
        self.max_block = check_block_size(max_block)
        self.dtype = check_dtype(dtype)
        self.latency = lag = max(1, round(lookahead_ms * rate / 1000.0))
        self.threshold = 10.0 ** (threshold_db / 20.0)
        self._aim = self.threshold * ROUNDING_ROOM
        self.stats = LimiterStats(rate=self.rate)
        d, m, width = self.channels, self.max_block, lag + self.max_block
        self._beta = math.exp(-1000.0 / (release_ms * rate))
        self._release_end = RELEASE_END_DB * math.log(10.0) / 20.0  # in nepers
        steps = np.arange(m)
        self._rise, self._fall = self._beta ** -steps, self._beta ** steps
        # ping-pong buffers: [L samples of history | the new block]
        self._delay = [np.zeros((d, width), self.dtype) for _ in range(2)]
        self._required = [np.ones(width) for _ in range(2)]
        self._gains = [np.ones(width) for _ in range(2)]
        self._work = [np.empty(width) for _ in range(2)]
        self._abs = np.empty((d, m), self.dtype)
        self._peak = np.empty(m, self.dtype)
        self._hold = np.empty(m)
        self._log_gain = np.empty(m)
        self._sums = np.zeros(width + 1)
        self._smooth = np.empty(m)
        self._gain = np.empty(m, self.dtype)
        self._flags = np.empty(m, bool)
        self.reset()

    def reset(self) -> None:
        """Forget all past input (silence before the next block); :attr:`stats` keeps
        counting (``stats.clear()`` starts them again)."""
        for buffers, value in ((self._delay, 0.0), (self._required, 1.0), (self._gains, 1.0)):
            for buffer in buffers:
                buffer[...] = value
        self._turn = self._gain_turn = 0
        self._log_gain_state = 0.0
        self._rest = True

    def process(self, block, out: np.ndarray | None = None) -> np.ndarray:
        """Limit ``(channels, n)`` samples into ``out`` (that shape, this limiter's dtype;
        a new array when None): the input of :attr:`latency` samples earlier, scaled."""
        block = np.asarray(block)
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise InputError(f"block: expected shape ({self.channels}, n), got {block.shape}")
        n = block.shape[1]
        if out is None:
            out = np.empty((self.channels, n), self.dtype)
        elif out.shape != block.shape or out.dtype != self.dtype:
            raise InputError(f"out: expected a {self.dtype} array of shape {block.shape}, "
                             f"got {out.dtype} {out.shape}")
        if n <= self.max_block:
            self._step(block, out)
        else:
            for start in range(0, n, self.max_block):
                stop = min(n, start + self.max_block)
                self._step(block[:, start:stop], out[:, start:stop])
        return out

    def _step(self, x: np.ndarray, out: np.ndarray) -> None:
        lag, n = self.latency, x.shape[1]
        delay, later = self._delay[self._turn], self._delay[1 - self._turn]
        delay[:, lag:lag + n] = x
        magnitude = self._abs if n == self.max_block else self._abs[:, :n]
        np.abs(x, out=magnitude)
        top = float(magnitude.max())
        stats = self.stats
        stats.samples += n
        stats.peak_in = max(stats.peak_in, top)
        if self._rest and top <= self.threshold:
            out[...] = delay[:, :n]  # a pure delay: bit-exact
        else:
            if self._rest:
                stats.events += 1
            self._limit(delay, magnitude, n, out)
        later[:, :lag] = delay[:, n:n + lag]
        self._turn = 1 - self._turn

    def _limit(self, delay: np.ndarray, magnitude: np.ndarray, n: int, out: np.ndarray) -> None:
        lag, width = self.latency, self.latency + n
        turn = self._gain_turn
        required, gains = self._required[turn], self._gains[turn]
        peak = self._peak[:n]
        np.max(magnitude, axis=0, out=peak)  # linked: one peak for all channels
        new = required[lag:width]
        np.copyto(new, peak)
        np.maximum(new, self._aim, out=new)
        np.divide(self._aim, new, out=new)  # g_req of the new samples, <= 1
        hold = self._trailing_min(required[:width], n)
        new_gains = gains[lag:width]
        np.exp(self._release(hold), out=new_gains)
        np.minimum(new_gains, hold, out=new_gains)
        # s[p] = mean(r[p .. p + L]) from running sums of 1 - r (exactly 0 while r = 1)
        missing, sums = self._work[0][:width], self._sums
        np.subtract(1.0, gains[:width], out=missing)
        np.add.accumulate(missing, out=sums[1:width + 1])
        smooth = self._smooth[:n]
        np.subtract(sums[lag + 1:width + 1], sums[:n], out=smooth)
        smooth *= -1.0 / (lag + 1)
        smooth += 1.0
        np.minimum(smooth, required[:n], out=smooth)  # s[p] <= g_req[p], rounding too
        gain = self._gain[:n]
        np.copyto(gain, smooth, casting="same_kind")
        for row, delayed in zip(out, delay):  # rows: no broadcasting, no iterator buffers
            np.multiply(delayed[:n], gain, out=row)
        np.less(smooth, 1.0, out=self._flags[:n])
        self.stats.limited += int(np.count_nonzero(self._flags[:n]))
        self.stats.min_gain = min(self.stats.min_gain, float(smooth.min()))
        other = 1 - turn
        self._required[other][:lag] = required[n:width]
        self._gains[other][:lag] = gains[n:width]
        self._gain_turn = other
        self._rest = (self._log_gain_state == 0.0 and float(gains[n:width].min()) == 1.0
                      and float(required[n:width].min()) == 1.0)

    def _trailing_min(self, values: np.ndarray, n: int) -> np.ndarray:
        """(n,) ``min(values[i .. i + L])``: windows doubled by halves, log2(L + 1) steps."""
        window, span, length = self.latency + 1, 1, values.size
        source, work = values, self._work
        level = 0
        while 2 * span <= window:
            target = work[level % 2]
            np.minimum(source[:length - span], source[span:length], out=target[:length - span])
            source, length, span, level = target, length - span, 2 * span, level + 1
        hold = self._hold[:n]
        np.minimum(source[:n], source[window - span:window - span + n], out=hold)
        return hold

    def _release(self, hold: np.ndarray) -> np.ndarray:
        """(n,) log gain (nepers, <= 0) ``b[q] = min(ln hold[q], beta b[q - 1])`` in closed
        form, ``b[q] = beta^q min(beta b[-1], min_{j<=q} ln hold[j] beta^-j)``."""
        n = hold.size
        floor, log_gain = self._work[1][:n], self._log_gain[:n]
        np.log(hold, out=floor)
        np.multiply(floor, self._rise[:n], out=log_gain)
        log_gain[0] = min(log_gain[0], self._beta * self._log_gain_state)
        np.minimum.accumulate(log_gain, out=log_gain)
        log_gain *= self._fall[:n]
        np.minimum(log_gain, floor, out=log_gain)  # rounding: never above the need
        flags = self._flags[:n]
        np.greater(log_gain, -self._release_end, out=flags)
        np.putmask(log_gain, flags, 0.0)
        self._log_gain_state = float(log_gain[-1])
        return log_gain
