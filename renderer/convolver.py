"""Multi-input, multi-output FIR convolution: a streaming partitioned convolver, the same
over several banks with a click-free switch between them, and an offline one-shot convolver.

Shapes follow the filter bank: ``taps`` is ``(inputs, outputs, N)``; output ``o`` is
``sum_i taps[i, o] * x[i]`` (linear convolution). Both engines FFT every input once and
multiply-accumulate over the input axis in the frequency domain, so the cost grows with
``inputs + outputs`` FFTs rather than ``inputs * outputs``.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from common.errors import InputError

MIN_BLOCK = 32
MAX_BLOCK = 8192


def check_taps(taps, name: str = "taps") -> np.ndarray:
    """Return ``taps`` as a finite float array ``(inputs, outputs, N)`` or raise InputError."""
    arr = np.asarray(taps)
    if arr.ndim != 3 or 0 in arr.shape or arr.dtype.kind not in "fiu":
        raise InputError(f"{name}: expected a real (inputs, outputs, N) array, got "
                         f"dtype {arr.dtype} shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name}: contains NaN or infinite taps")
    return arr


def check_block_size(block_size) -> int:
    """Return ``block_size`` as an int in ``[MIN_BLOCK, MAX_BLOCK]`` or raise InputError."""
    if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) \
            or not MIN_BLOCK <= block_size <= MAX_BLOCK:
        raise InputError(f"block size: expected an integer from {MIN_BLOCK} to {MAX_BLOCK} "
                         f"samples, got {block_size!r}")
    return int(block_size)


def check_dtype(dtype) -> np.dtype:
    """The arithmetic precision of a convolver: float32 or float64, else InputError."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise InputError(f"dtype: expected float32 or float64, got {dtype}")
    return dtype


def partition_spectra(taps: np.ndarray, block_size: int, dtype: np.dtype) -> np.ndarray:
    """Spectra (..., K * inputs, outputs, block_size + 1) of ``taps`` (..., inputs, outputs,
    N) cut into ``K = ceil(N / block_size)`` partitions, each zero-padded to an FFT of
    ``2 * block_size``; the oldest partition first, to match a delay line read oldest-first.
    The FFT runs in float64 and the spectra are rounded to the complex type of ``dtype``."""
    *lead, inputs, outputs, n_taps = taps.shape
    b = block_size
    k = -(-n_taps // b)
    parts = np.zeros((*lead, k * b, inputs, outputs))
    parts[..., :n_taps, :, :] = np.moveaxis(taps, -1, -3)
    parts = np.moveaxis(parts.reshape(*lead, k, b, inputs, outputs), -3, -1)
    spectra = np.fft.rfft(parts, n=2 * b, axis=-1).astype(  # (..., K, I, O, F)
        np.result_type(dtype, np.complex64), copy=False)
    return np.ascontiguousarray(np.flip(spectra, axis=-4)).reshape(
        *lead, k * inputs, outputs, b + 1)


def crossfade_ramp(block_size: int) -> np.ndarray:
    """(block_size,) raised-cosine weight of the new bank, rising from just above 0 to just
    below 1 (0 before the block, 1 after it)."""
    n = np.arange(1, block_size + 1)
    return 0.5 - 0.5 * np.cos(np.pi * n / (block_size + 1))


class BankSwitcher:
    """Uniformly partitioned overlap-save convolution of one input stream with any of S
    banks ``(S, inputs, outputs, N)`` that share one frequency-domain delay line.

    The taps of every bank are cut into ``K = ceil(N / block_size)`` partitions of
    ``block_size`` taps, each transformed with an FFT of ``2 * block_size``. Per block,
    :meth:`switch` plays one bank at a gain; when the bank or the gain differs from the
    previous block's, the old and the new output (both from the same input history) are
    mixed over the block with a raised cosine ``r[n]``: exactly the output of the filter
    ``(1 - r[n]) g_old h_old + r[n] g_new h_new`` interpolated per sample, so the output
    stays continuous. No latency beyond the filters' own; ``dtype`` (float32 or float64)
    is the arithmetic precision.
    """

    def __init__(self, banks, block_size: int, *, dtype=np.float32):
        banks = np.asarray(banks)
        if banks.ndim != 4:
            raise InputError(f"taps: expected a real (banks, inputs, outputs, N) array, got "
                             f"dtype {banks.dtype} shape {banks.shape}")
        check_taps(banks.reshape(-1, *banks.shape[2:]))
        self.block_size = b = check_block_size(block_size)
        self.dtype = check_dtype(dtype)
        self.banks, self.inputs, self.outputs, self.n_taps = banks.shape
        self.partitions = k = -(-self.n_taps // b)
        self._spectra = partition_spectra(banks, b, self.dtype)  # (S, K I, O, F)
        complex_dtype = self._spectra.dtype
        # Everything per block happens in these buffers: no array is allocated. The input
        # FFT runs in float64 (NumPy's float32 rfft copies its input), the products in dtype.
        self._frames = [np.zeros((self.inputs, 1, 2 * b)) for _ in range(2)]
        self._spectrum = np.empty((self.inputs, 1, b + 1), np.complex128)
        # The delay line is stored twice over so the last K spectra are one contiguous slice,
        # and each spectrum once per output, so the product below needs no broadcasting
        # (a broadcasting ufunc allocates iterator buffers).
        self._delay_line = np.zeros((2 * k, self.inputs, self.outputs, b + 1), complex_dtype)
        self._products = np.empty((k * self.inputs, self.outputs, b + 1), complex_dtype)
        self._sums = np.empty((2, self.outputs, b + 1), complex_dtype)  # old, new bank
        self._times = np.empty((2, self.outputs, 2 * b), self.dtype)
        self._ramp = np.tile(crossfade_ramp(b).astype(self.dtype), (self.outputs, 1))
        self._faded = np.empty((self.outputs, b), self.dtype)  # old bank, or weights
        self._pos = self._turn = 0
        self.index: int | None = None  # the bank of the last block; None before the first
        self.gain = 1.0  # the gain of the last block
        # Views built once (each costs about a microsecond): per delay-line position, the
        # two slots written and the K spectra read; per ping-pong frame, its halves.
        line = self._delay_line
        self._slots = [line[pos::k] for pos in range(k)]
        self._recent = [line[pos + 1:pos + 1 + k].reshape(self._products.shape)
                        for pos in range(k)]
        self._halves = [(frame[:, 0, :b], frame[:, 0, b:]) for frame in self._frames]
        self._bank_spectra = list(self._spectra)  # a list index is quicker than an array's
        self._slot_views = [(self._sums[slot], self._times[slot], self._times[slot][:, b:])
                            for slot in range(2)]

    def reset(self) -> None:
        """Forget all past input; the next block starts in its own bank without a fade."""
        for frame in self._frames:
            frame[:] = 0.0
        self._delay_line[:] = 0.0
        self._pos = self._turn = 0
        self.index, self.gain = None, 1.0

    def switch(self, block, index: int, gain: float = 1.0,
               out: np.ndarray | None = None) -> np.ndarray:
        """Filter one block ``(inputs, block_size)`` with bank ``index`` at ``gain``
        (linear) into ``(outputs, block_size)``, fading from the previous block's bank and
        gain when either changed.

        The result goes into ``out`` (that shape, this convolver's dtype) when given, else
        into a new array; nothing else is allocated."""
        out, recent = self._push(block, out)
        before, before_gain = self.index, self.gain
        self.index, self.gain = index, gain
        # Only contiguous operands of one shape below: NumPy allocates iterator buffers for
        # a strided or broadcast operand (the new half of a time buffer is strided).
        out[...] = self._filter(recent, index, 1)
        if before is None or (before == index and before_gain == gain):
            if gain != 1.0:
                out *= gain
        elif before == index:  # the gain alone changes: g_old + r (g_new - g_old)
            np.multiply(self._ramp, gain - before_gain, out=self._faded)
            self._faded += before_gain
            out *= self._faded
        else:  # g_old y_old + r (g_new y_new - g_old y_old)
            faded = self._faded
            faded[...] = self._filter(recent, before, 0)
            if before_gain != 1.0:
                faded *= before_gain
            if gain != 1.0:
                out *= gain
            out -= faded
            out *= self._ramp
            out += faded
        return out

    def _push(self, block, out: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Check ``block`` and ``out`` (a new array when None), move the block into the
        delay line; returns ``out`` and the delay line's last K spectra."""
        block = np.asarray(block)
        if block.shape != (self.inputs, self.block_size):
            raise InputError(f"block: expected shape ({self.inputs}, {self.block_size}), "
                             f"got {block.shape}")
        b, k = self.block_size, self.partitions
        if out is None:
            out = np.empty((self.outputs, b), self.dtype)
        elif out.shape != (self.outputs, b) or out.dtype != self.dtype:
            raise InputError(f"out: expected a {self.dtype} array of shape ({self.outputs}, "
                             f"{b}), got {out.dtype} {out.shape}")
        turn = self._turn
        (_, last_new), (old, new) = self._halves[turn], self._halves[1 - turn]
        old[...] = last_new  # ping-pong: a copy within one array goes via a temporary
        new[...] = block
        self._turn = 1 - turn
        np.fft.rfft(self._frames[1 - turn], axis=-1, out=self._spectrum)
        pos = self._pos
        np.copyto(self._slots[pos], self._spectrum, casting="same_kind")  # once per output
        self._pos = (pos + 1) % k
        return out, self._recent[pos]

    def _filter(self, recent: np.ndarray, index: int, slot: int) -> np.ndarray:
        """The new half-block (outputs, block_size) of bank ``index`` for the delay line
        ``recent``, computed in time slot ``slot`` (a view valid until that slot is reused)."""
        total, time, new_half = self._slot_views[slot]
        np.multiply(recent, self._bank_spectra[index], out=self._products)
        np.add.reduce(self._products, axis=0, out=total)
        np.fft.irfft(total, 2 * self.block_size, axis=-1, out=time)
        return new_half


class Convolver(BankSwitcher):
    """Uniformly partitioned overlap-save convolver with a frequency-domain delay line.

    ``taps`` (inputs, outputs, N) are cut into ``K = ceil(N / block_size)`` partitions of
    ``block_size`` taps, each transformed with an FFT of ``2 * block_size``. Every call of
    :meth:`process` takes exactly ``block_size`` samples per input and returns as many per
    output, with no latency beyond the filters' own. ``dtype`` (float32 or float64) is the
    arithmetic precision.
    """

    def __init__(self, taps, block_size: int, *, dtype=np.float32):
        super().__init__(check_taps(taps)[None], block_size, dtype=dtype)

    def process(self, block, out: np.ndarray | None = None) -> np.ndarray:
        """Filter one block: ``(inputs, block_size)`` in, ``(outputs, block_size)`` out.

        The result goes into ``out`` (that shape, this convolver's dtype) when given, else
        into a new array; nothing else is allocated."""
        out, recent = self._push(block, out)
        out[...] = self._filter(recent, 0, 1)
        return out


def convolve_offline(x, taps, *, fft_size: int | None = None) -> np.ndarray:
    """Full linear convolution of ``x`` (inputs, n) with ``taps`` (inputs, outputs, N).

    Returns ``(outputs, n + N - 1)``: the filter tail is flushed. Overlap-save with FFT size
    ``fft_size`` (default: a fast size near ``8 N``), many frames per FFT call. Arithmetic
    is float32 when both arguments are float32, float64 otherwise.
    """
    import scipy.fft as sfft  # next_fast_len and float32 transforms; only offline

    taps = check_taps(taps)
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[0] != taps.shape[0] or x.shape[1] == 0 or x.dtype.kind not in "fiu":
        raise InputError(f"x: expected a real ({taps.shape[0]}, n) array for taps of shape "
                         f"{taps.shape}, got dtype {x.dtype} shape {x.shape}")
    dtype = np.float32 if x.dtype == np.float32 and taps.dtype == np.float32 else np.float64
    n_in, n = x.shape
    _, n_out, n_taps = taps.shape
    total = n + n_taps - 1
    size = fft_size or sfft.next_fast_len(8 * n_taps, real=True)
    size = min(size, sfft.next_fast_len(total, real=True))
    if size < n_taps:
        raise InputError(f"fft_size: must be at least the filter length {n_taps}, got {size}")
    hop = size - n_taps + 1
    n_frames = -(-total // hop)
    padded = np.zeros((n_in, n_frames * hop + n_taps - 1), dtype)
    padded[:, n_taps - 1:n_taps - 1 + n] = x
    spectra = sfft.rfft(taps.astype(dtype, copy=False), n=size, axis=-1)  # (I, O, F)
    frames = sliding_window_view(padded, size, axis=-1)[:, ::hop]  # (I, frames, size)
    out = np.empty((n_out, n_frames * hop), dtype)
    batch = max(1, (1 << 20) // (size * n_in))
    for start in range(0, n_frames, batch):
        stop = min(start + batch, n_frames)
        spec = sfft.rfft(frames[:, start:stop], axis=-1)  # (I, b, F)
        acc = spec[0][None] * spectra[0][:, None]
        for i in range(1, n_in):
            acc += spec[i][None] * spectra[i][:, None]
        chunk = sfft.irfft(acc, n=size, axis=-1)[..., n_taps - 1:]  # (O, b, hop)
        out[:, start * hop:stop * hop] = chunk.reshape(n_out, -1)
    return out[:, :total]
