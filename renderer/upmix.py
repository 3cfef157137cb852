"""Stereo to L, R, C upmix: an STFT centre extractor and a plain mid/side matrix.

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

The STFT uses a square-root periodic Hann window for analysis and synthesis at 75 %
overlap, which reconstructs the input exactly when g = 1. Streaming output is the
offline output delayed by :attr:`Upmixer.latency` samples (``frame - 1``), for any block
length.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import uniform_filter1d
from scipy.signal import get_window, lfilter

from models.errors import InputError

MODES = ("frequency", "mid_side")
OVERLAP = 4  # frames overlapping each sample (hop = frame / 4)


class Upmixer:
    """Streaming stereo -> (L, R, C) upmixer with a fixed latency.

    sample_rate: Hz; mode: one of :data:`MODES`; frame: STFT length in samples (a
    multiple of 4, at least 64); smoothing_s: time constant of the recursive averaging of
    the cross-spectra, seconds; smoothing_bins: odd width of the moving average of the
    cross-spectra across frequency bins.
    """

    def __init__(self, sample_rate: int, *, mode: str = "frequency", frame: int = 1024,
                 smoothing_s: float = 0.1, smoothing_bins: int = 3):
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
        self.mode = mode
        self.frame = int(frame)
        self.hop = self.frame // OVERLAP
        self.latency = self.frame - 1 if mode == "frequency" else 0
        self._window = np.sqrt(get_window("hann", self.frame, fftbins=True))
        # sqrt-Hann analysis x synthesis = Hann, which sums to OVERLAP / 2 at this hop.
        self._synthesis = self._window * (2.0 / OVERLAP)
        self._alpha = float(np.exp(-self.hop / (smoothing_s * sample_rate))) if smoothing_s else 0.0
        self._bins = int(smoothing_bins)
        self.reset()

    def reset(self) -> None:
        """Forget all past input: the next sample is the first of a new stream."""
        held = self.frame - self.hop
        self._input = np.zeros((2, held))  # the last frame - hop samples, then pending ones
        self._ola = np.zeros((3, held))  # overlap-add tail still waiting for later frames
        self._fifo = np.zeros((3, self.hop - 1))  # finished output not yet returned
        self._muted = held  # finished samples that precede the stream start
        self._stats = np.zeros((4, self.frame // 2 + 1))  # smoothed |L|^2, |R|^2, L R* (re, im)

    def process(self, block) -> np.ndarray:
        """Upmix one block of any length: ``(2, n)`` L, R in, ``(3, n)`` L, R, C out."""
        block = _check_stereo(block)
        if self.mode == "mid_side":
            return mid_side(block)
        buf = np.concatenate([self._input, block], axis=1)
        held = self.frame - self.hop
        n_frames = (buf.shape[1] - held) // self.hop
        done = np.zeros((3, 0))
        if n_frames:
            frames = sliding_window_view(buf, self.frame, axis=-1)[:, ::self.hop][:, :n_frames]
            out = self._frames(frames)  # (3, n_frames, frame)
            acc = np.zeros((3, n_frames + OVERLAP - 1, self.hop))
            for j in range(OVERLAP):
                acc[:, j:j + n_frames] += out[..., j * self.hop:(j + 1) * self.hop]
            acc = acc.reshape(3, -1)
            acc[:, :held] += self._ola
            done, self._ola = acc[:, :n_frames * self.hop], acc[:, n_frames * self.hop:]
            mute = min(self._muted, done.shape[1])
            done[:, :mute] = 0.0
            self._muted -= mute
            self._input = buf[:, n_frames * self.hop:]
        else:
            self._input = buf
        fifo = np.concatenate([self._fifo, done], axis=1)
        n = block.shape[1]
        self._fifo = fifo[:, n:]
        return fifo[:, :n]

    def _frames(self, frames: np.ndarray) -> np.ndarray:
        """(2, m, frame) windowed input frames -> (3, m, frame) synthesis-windowed output."""
        spec = sfft.rfft(frames * self._window, axis=-1)  # (2, m, F)
        left, right = spec
        cross = left * right.conj()
        raw = np.stack([np.abs(left) ** 2, np.abs(right) ** 2, cross.real, cross.imag])
        if self._bins > 1:
            raw = uniform_filter1d(raw, self._bins, axis=-1, mode="nearest")
        stats, _ = lfilter([1.0 - self._alpha], [1.0, -self._alpha], raw, axis=1,
                           zi=self._alpha * self._stats[:, None, :])
        self._stats = stats[:, -1]
        p_ll, p_rr, re_lr, im_lr = stats
        tiny = np.finfo(float).tiny
        # Remove from M the part that S explains (panned content): M_c = M - beta S.
        p_ss = 0.25 * (p_ll + p_rr - 2.0 * re_lr)
        p_ms = 0.25 * (p_ll - p_rr - 2.0j * im_lr)
        beta = p_ms / np.maximum(p_ss, tiny)
        beta = np.where(p_ss > tiny, beta / np.maximum(1.0, np.abs(beta)), 0.0)
        p_mid = 0.25 * (p_ll + p_rr + 2.0 * re_lr)
        p_mc = np.maximum(p_mid - 2.0 * (beta.conj() * p_ms).real + np.abs(beta) ** 2 * p_ss, 0.0)
        # Wiener gain of the centre (the in-phase common power) within M_c.
        gain = np.clip(np.maximum(re_lr, 0.0) / np.maximum(p_mc, tiny), 0.0, 1.0)
        mid, side = 0.5 * (left + right), 0.5 * (left - right)
        centre = mid - beta * side
        rest = np.sqrt(1.0 - gain ** 2)
        bands = np.stack([rest * centre + (1.0 + beta) * side,
                          rest * centre + (beta - 1.0) * side,
                          np.sqrt(2.0) * gain * centre])
        # Exact power balance in every bin: |L'|^2 + |R'|^2 + |C|^2 = |L|^2 + |R|^2.
        p_in = np.abs(left) ** 2 + np.abs(right) ** 2
        p_out = np.sum(np.abs(bands) ** 2, axis=0)
        bands *= np.sqrt(p_in / np.maximum(p_out, tiny))
        return sfft.irfft(bands, n=self.frame, axis=-1) * self._synthesis


def mid_side(x: np.ndarray) -> np.ndarray:
    """The passive matrix: (2, n) L, R -> (3, n) ``(L - R) / 2, (R - L) / 2, (L + R) / sqrt 2``."""
    x = _check_stereo(x)
    side = 0.5 * (x[0] - x[1])
    return np.stack([side, -side, (x[0] + x[1]) / np.sqrt(2.0)])


def upmix(x, sample_rate: int, **options) -> np.ndarray:
    """Offline upmix of a whole signal: (2, n) -> (3, n), time-aligned with the input.

    Runs an :class:`Upmixer` (``options`` as its keywords) over the signal and ``latency``
    zeros, and drops the first ``latency`` samples.
    """
    x = _check_stereo(x)
    upmixer = Upmixer(sample_rate, **options)
    padded = np.concatenate([x, np.zeros((2, upmixer.latency))], axis=1)
    return upmixer.process(padded)[:, upmixer.latency:]


def _check_stereo(x) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 2 or arr.shape[0] != 2 or arr.dtype.kind not in "fiu":
        raise InputError(f"upmix input: expected a real (2, n) array of L and R, got dtype "
                         f"{arr.dtype} shape {arr.shape}")
    return arr.astype(float, copy=False)
