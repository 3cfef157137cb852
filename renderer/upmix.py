"""Stereo to L, R, C upmix in blocks of any length: STFT centre extraction or mid/side.

Both modes work in the orthonormal mid/side basis ``M = (L + R) / 2``, ``S = (L - R) / 2``
and never touch ``S``, so C is uncorrelated with L - R whenever L and R have equal power:

* ``"frequency"``: per STFT bin, the centre power is estimated as the smoothed
  ``Re <L R*>`` (what is common and in phase in L and R) and a Wiener gain
  ``g = P_centre / P_mid`` in [0, 1] moves ``g M`` into C. The outputs are
  ``C = sqrt(2) g M``, ``L = a M + S``, ``R = a M - S`` with ``a = sqrt(1 - g^2)``,
  which keeps ``|L|^2 + |R|^2 + |C|^2`` equal to the input power in every bin.
  Centre-panned content (L = R) gives g = 1, hard-panned content g = 0.
* ``"mid_side"``: the same with g = 1 everywhere: ``C = (L + R) / sqrt(2)``,
  ``L = (L - R) / 2``, ``R = (R - L) / 2``; no latency.

The STFT uses a square-root periodic Hann window for analysis and synthesis at 50 %
overlap, which reconstructs the input exactly when g = 1. Streaming output is the
offline output delayed by :attr:`Upmixer.latency` samples (``frame - 1``), for any block
length. :class:`Upmixer` frames the stream, overlap-adds and delays it; the per-bin work
of up to :data:`CHUNK` frames at a time is the :class:`renderer.centre.CentreExtractor`'s.
Every buffer is allocated once, so a block given with ``out=`` allocates no array memory
at all (real-time use).
"""

from __future__ import annotations

import numpy as np

from common.errors import InputError
from renderer.centre import CHUNK, OVERLAP, SQRT2, CentreExtractor

MODES = ("frequency", "mid_side")
DEFAULT_FRAME = 1024  # 21.3 ms latency at 48 kHz
LOW_LATENCY_FRAME = 256  # 5.3 ms latency at 48 kHz (TV, lip sync); coarser bins


class Upmixer:
    """Streaming stereo -> (L, R, C) upmixer with a fixed latency.

    sample_rate: Hz; mode: one of :data:`MODES`; frame: STFT length in samples (a
    multiple of 2, at least 64); smoothing_s: time constant of the recursive averaging of
    the cross-spectra, seconds; smoothing_bins: odd width of the moving average of the
    cross-spectra across frequency bins; dtype: float32 or float64 arithmetic (a name, so
    the defaults stay JSON: training records them in the bank's manifest).
    """

    def __init__(self, sample_rate: int, *, mode: str = "frequency", frame: int = DEFAULT_FRAME,
                 smoothing_s: float = 0.1, smoothing_bins: int = 3, dtype: str = "float32"):
        if mode not in MODES:
            raise InputError(f"upmix mode: expected one of {', '.join(MODES)}, got {mode!r}")
        if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)) \
                or frame < 64 or frame % OVERLAP:
            raise InputError(f"upmix frame: expected an integer >= 64 and a multiple of "
                             f"{OVERLAP}, got {frame!r}")
        if not (isinstance(sample_rate, (int, np.integer)) and sample_rate > 0):
            raise InputError(f"sample_rate: expected a positive integer in Hz, got {sample_rate!r}")
        if not (np.isfinite(smoothing_s) and smoothing_s >= 0):
            raise InputError(f"upmix smoothing_s: expected a time >= 0 s, got {smoothing_s!r}")
        if not (isinstance(smoothing_bins, (int, np.integer)) and smoothing_bins >= 1
                and smoothing_bins % 2):
            raise InputError(f"upmix smoothing_bins: expected an odd integer >= 1, "
                             f"got {smoothing_bins!r}")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise InputError(f"upmix dtype: expected float32 or float64, got {self.dtype}")
        self.mode = mode
        self.frame = int(frame)
        self.hop = self.frame // OVERLAP
        self.latency = self.frame - 1 if mode == "frequency" else 0
        alpha = float(np.exp(-self.hop / (smoothing_s * sample_rate))) if smoothing_s else 0.0
        self._extract = CentreExtractor(self.frame, alpha, int(smoothing_bins), self.dtype)
        held, step = self.frame - self.hop, CHUNK * self.hop
        # Ping-pong pairs: moving a tail to the front never copies onto itself.
        self._inputs = [np.zeros((2, held + step), self.dtype) for _ in range(2)]
        self._olas = [np.zeros((3, held + step), self.dtype) for _ in range(2)]
        self._fifos = [np.zeros((3, self.frame - 1 + step), self.dtype) for _ in range(2)]
        self._views: dict = {}
        self.reset()

    def reset(self) -> None:
        """Forget all past input: the next sample is the first of a new stream."""
        held = self.frame - self.hop
        for buf in (*self._inputs, *self._olas, *self._fifos):
            buf[:] = 0.0
        self._extract.reset()
        self._fill = held  # valid input samples: the last frame - hop, then pending ones
        self._ready = self.hop - 1  # finished output samples waiting in the fifo
        self._muted = held  # finished samples that precede the stream start

    def process(self, block, out: np.ndarray | None = None) -> np.ndarray:
        """Upmix one block of any length: ``(2, n)`` L, R in, ``(3, n)`` L, R, C out.

        ``out``, a ``(3, n)`` array of this upmixer's dtype, receives the result (no
        allocation); otherwise a new array is returned."""
        block = _check_stereo(block)
        n = block.shape[1]
        if out is None:
            out = np.empty((3, n), self.dtype)
        elif out.shape != (3, n) or out.dtype != self.dtype:
            raise InputError(f"upmix out: expected a {self.dtype} array of shape (3, {n}), "
                             f"got {out.dtype} {out.shape}")
        if self.mode == "mid_side":
            _mid_side_into(block, out)
            return out
        held = self.frame - self.hop
        start = 0
        while start < n:
            piece = min(n - start, held + CHUNK * self.hop - self._fill)
            self._step(block[:, start:start + piece], out[:, start:start + piece])
            start += piece
        return out

    def _step_views(self, buf: np.ndarray, ola: np.ndarray, m: int):
        """The m frames of input buffer ``buf`` and the OLA slices each frame quarter
        adds into, built once per (buffer, m): views cost microseconds each."""
        key = (id(buf), id(ola), m)
        if key not in self._views:
            hop = self.hop
            frames = _frames(buf[:, :self.frame - hop + m * hop], self.frame, hop)
            parts = [ola[:, j * hop:(j + m) * hop].reshape(3, m, hop) for j in range(OVERLAP)]
            self._views[key] = frames, parts
        return self._views[key]

    def _step(self, block: np.ndarray, out: np.ndarray) -> None:
        """Take in ``block`` (fits the input buffer), run the whole frames, emit as many."""
        n, hop, held = block.shape[1], self.hop, self.frame - self.hop
        buf = self._inputs[0]
        buf[:, self._fill:self._fill + n] = block
        self._fill += n
        m = (self._fill - held) // hop
        if m:
            ola, spare = self._olas
            frames, parts = self._step_views(buf, ola, m)
            synth = self._extract.run(frames)  # (3, m, frame)
            for j, part in enumerate(parts):
                np.add(part, synth[..., j * hop:(j + 1) * hop], out=part)
            done = ola[:, :m * hop]
            mute = min(self._muted, m * hop)
            done[:, :mute] = 0.0
            self._muted -= mute
            self._fifos[0][:, self._ready:self._ready + m * hop] = done
            self._ready += m * hop
            spare[:, :held] = ola[:, m * hop:m * hop + held]  # spare is zero beyond
            ola[:, :held + m * hop] = 0.0  # all of it, for its turn as the spare
            self._olas.reverse()
            rest = self._fill - m * hop
            self._inputs[1][:, :rest] = buf[:, m * hop:self._fill]
            self._inputs.reverse()
            self._fill = rest
        fifo, spare = self._fifos
        out[...] = fifo[:, :n]
        self._ready -= n
        spare[:, :self._ready] = fifo[:, n:n + self._ready]
        self._fifos.reverse()


def _frames(x: np.ndarray, frame: int, hop: int) -> np.ndarray:
    """(2, m * hop + frame - hop) -> (2, m, frame) overlapping frames, a strided view."""
    m = (x.shape[1] - frame) // hop + 1
    return np.lib.stride_tricks.as_strided(x, (2, m, frame),
                                           (x.strides[0], hop * x.strides[1], x.strides[1]),
                                           writeable=False)


def _mid_side_into(x: np.ndarray, out: np.ndarray) -> None:
    np.subtract(x[0], x[1], out=out[0])
    np.multiply(out[0], 0.5, out=out[0])
    np.negative(out[0], out=out[1])
    np.add(x[0], x[1], out=out[2])
    np.multiply(out[2], 1.0 / SQRT2, out=out[2])


def mid_side(x: np.ndarray) -> np.ndarray:
    """The passive matrix: (2, n) L, R -> (3, n) ``(L - R) / 2, (R - L) / 2, (L + R) / sqrt 2``."""
    x = _check_stereo(x)
    out = np.empty((3, x.shape[1]), np.result_type(x.dtype, np.float32))
    _mid_side_into(x, out)
    return out


def upmix(x, sample_rate: int, **options) -> np.ndarray:
    """Offline upmix of a whole signal: (2, n) -> (3, n), time-aligned with the input.

    Runs an :class:`Upmixer` (``options`` as its keywords) over the signal and ``latency``
    zeros, and drops the first ``latency`` samples.
    """
    x = _check_stereo(x)
    upmixer = Upmixer(sample_rate, **options)
    padded = np.concatenate([x, np.zeros((2, upmixer.latency), x.dtype)], axis=1)
    return upmixer.process(padded)[:, upmixer.latency:]


def _check_stereo(x) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 2 or arr.shape[0] != 2 or arr.dtype.kind not in "fiu":
        raise InputError(f"upmix input: expected a real (2, n) array of L and R, got dtype "
                         f"{arr.dtype} shape {arr.shape}")
    return arr
