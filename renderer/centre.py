"""The STFT centre extractor of the ``"frequency"`` upmix: per-bin centre gains in place.

For up to :data:`CHUNK` frames per call it windows the L, R frames (square-root periodic
Hann), transforms them, estimates per bin the smoothed statistics ``|L|^2``, ``|R|^2``
and ``L R*`` (recursive averaging across frames, a moving average across bins), forms the
Wiener centre gain of ``renderer/upmix.py`` with the exact power balance, and returns the
synthesis-windowed L, R, C frames for overlap-add. Every buffer is allocated at
construction, so a call allocates no array memory (real-time use).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

OVERLAP = 2  # frames overlapping each sample (hop = frame / 2)
CHUNK = 16  # STFT frames per vectorised step
SQRT2 = 2.0 ** 0.5  # a Python float: NumPy scalars would promote float32 work to float64


def periodic_hann(n: int) -> np.ndarray:
    """(n,) periodic Hann window (``scipy.signal.get_window("hann", n)``, bit for bit,
    without loading scipy.signal)."""
    return 0.5 + 0.5 * np.cos(np.linspace(-np.pi, np.pi, n + 1)[:-1])


class CentreExtractor:
    """The per-bin centre extraction for up to :data:`CHUNK` frames per call.

    Buffers are allocated once and every view of them once per frame count, so a call is
    a fixed list of about 80 ufuncs on 1-D arrays (NumPy's fast path). Spectra and
    statistics lie in rows of ``f + bins - 1`` bins, the spectrum at offset ``bins // 2``,
    so the moving average across bins is a sum of shifted 1-D slices over all four
    statistics at once; the columns around each row are padding. The statistics carry a
    leading row for the state before the call, so the recursive smoothing across frames
    is one matrix product. Real factors of complex arrays live in complex arrays whose
    imaginary part stays 0 (a mixed real-complex ufunc would allocate a cast buffer).
    """

    def __init__(self, frame: int, alpha: float, bins: int, dtype: np.dtype):
        self.frame, self.bins, self.dtype = frame, bins, dtype
        self.f = frame // 2 + 1
        self.row = self.f + bins - 1
        window = np.sqrt(periodic_hann(frame))
        # sqrt-Hann analysis x synthesis = Hann, which sums to OVERLAP / 2 at this hop.
        # Both are tiled over frames: broadcasting ufuncs allocate iterator buffers.
        self._analysis = np.tile(window, 2 * CHUNK)
        self._synthesis = np.tile(window * (2.0 / OVERLAP), 3 * CHUNK).astype(dtype)
        # stats[t] = alpha stats[t - 1] + (1 - alpha) x[t] for t < m, as one product with
        # the state before the chunk (stats[-1]) as the first column; x is the moving sum
        # across bins, so the average's 1 / bins is folded in here.
        lag = np.arange(CHUNK)[:, None] - np.arange(-1, CHUNK)[None, :]
        weight = np.where(lag >= 0, (1.0 - alpha) * alpha ** np.maximum(lag, 0), 0.0)
        weight[:, 0] = alpha ** np.arange(1, CHUNK + 1)
        weight[:, 1:] /= bins
        self._smoothers = [np.ascontiguousarray(weight[:m, :m + 1], dtype)
                           for m in range(CHUNK + 1)]
        cplx = np.result_type(dtype, np.complex64)
        n, rows = CHUNK * self.row, (CHUNK + 1) * self.row
        # The forward FFT runs in float64: NumPy's float32 rfft copies its input.
        self._windowed = np.zeros(2 * CHUNK * frame)
        self._spec64 = np.zeros(2 * n, np.complex128)
        self._spec = self._spec64 if cplx == np.complex128 else np.zeros(2 * n, cplx)
        self._raw = np.zeros(4 * rows, dtype)
        self._smoothed = np.zeros(4 * rows, dtype)
        self._stats = np.zeros(4 * n, dtype)
        self._real = np.zeros(12 * n, dtype)
        self._cplx = np.zeros(6 * n, cplx)
        # Real factors as complex arrays: only their real part is ever written, and each
        # is a prefix of its own row, so the imaginary part stays 0 for every frame count.
        self._real_c = np.zeros((4, n), cplx)
        self._bands = np.zeros(3 * n, cplx)
        self._synth = np.zeros(3 * CHUNK * frame, dtype)
        self.last = np.zeros((4, self.row), dtype)  # smoothed |L|^2, |R|^2, Re, Im L R*
        self.tiny = float(np.finfo(dtype).tiny)
        self._cache: dict[int, SimpleNamespace] = {}

    def reset(self) -> None:
        self.last[:] = 0.0

    def _views(self, m: int) -> SimpleNamespace:
        """Every array ``run`` touches for ``m`` frames, built once."""
        if m in self._cache:
            return self._cache[m]
        f, row, h, frame = self.f, self.row, self.bins // 2, self.frame
        n, size = m * row, 4 * (m + 1) * row
        v = SimpleNamespace()
        v.windowed = self._windowed[:2 * m * frame].reshape(2, m, frame)
        v.analysis = self._analysis[:2 * m * frame].reshape(2, m, frame)
        v.spec64_rows = self._spec64[:2 * n].reshape(2, m, row)[..., h:h + f]
        v.spec64, v.spec = self._spec64[:2 * n], self._spec[:2 * n]
        v.left, v.right = v.spec[:n], v.spec[n:]
        raw = self._raw[:size]
        raw3 = raw.reshape(4, m + 1, row)  # row 0 of each statistic: unused
        v.raw = [raw3[k, 1:].reshape(n) for k in range(4)]
        v.edges = [(raw3[:, 1:, :h], raw3[:, 1:, h:h + 1]),
                   (raw3[:, 1:, h + f:], raw3[:, 1:, h + f - 1:h + f])] if h else []
        smoothed = self._smoothed[:size]
        v.shifted = [raw[j:j + size - 2 * h] for j in range(self.bins)]
        v.summed = smoothed[h:size - h]
        v.smoothed = smoothed.reshape(4, m + 1, row)
        v.first = [v.smoothed[k, 0] for k in range(4)]
        v.stats3 = self._stats[:4 * n].reshape(4, m, row)
        v.stats = list(self._stats[:4 * n].reshape(4, n))
        v.stats_last = [v.stats3[k, m - 1] for k in range(4)]
        v.smoother = self._smoothers[m]
        v.real = list(self._real[:12 * n].reshape(12, n))
        v.cplx = list(self._cplx[:6 * n].reshape(6, n))
        v.real_c = [row_c[:n] for row_c in self._real_c]
        v.bands = list(self._bands[:3 * n].reshape(3, n))
        v.bands_rows = self._bands[:3 * n].reshape(3, m, row)[..., h:h + f]
        v.synth = self._synth[:3 * m * frame].reshape(3, m, frame)
        v.synthesis = self._synthesis[:3 * m * frame].reshape(3, m, frame)
        self._cache[m] = v
        return v

    def run(self, frames: np.ndarray) -> np.ndarray:
        """(2, m, frame) input frames -> (3, m, frame) synthesis-windowed output frames
        (a view of an internal buffer, valid until the next call)."""
        v = self._views(frames.shape[1])
        tiny = self.tiny
        np.copyto(v.windowed, frames)
        np.multiply(v.windowed, v.analysis, out=v.windowed)
        np.fft.rfft(v.windowed, axis=-1, out=v.spec64_rows)
        if v.spec is not v.spec64:
            np.copyto(v.spec, v.spec64, casting="same_kind")
        left, right = v.left, v.right
        (tmp, s, p_ss, p_mid, h, d, r, gain, rest, p_in, power, scale) = v.real
        ms, beta, mid, side, q, u = v.cplx
        d_c, rest_c, scale_c, gain_c = v.real_c
        lr, li, rr, ri = left.real, left.imag, right.real, right.imag
        # |L|^2, |R|^2, Re L R*, Im L R*, each from the same real products, so that L = R
        # gives p_ss = 0 exactly (a complex product rounds differently)
        for raw, (x1, y1, x2, y2, combine) in zip(v.raw, [(lr, lr, li, li, np.add),
                                                         (rr, rr, ri, ri, np.add),
                                                         (lr, rr, li, ri, np.add),
                                                         (li, rr, lr, ri, np.subtract)]):
            np.multiply(x1, y1, out=raw)
            np.multiply(x2, y2, out=tmp)
            combine(raw, tmp, out=raw)
        np.add(v.raw[0], v.raw[1], out=p_in)
        for edge, value in v.edges:  # repeat the edge bins ("nearest") into the padding
            np.copyto(edge, value)
        if self.bins == 1:
            np.copyto(v.summed, v.shifted[0])
        else:  # moving sum across bins, all four statistics at once
            np.add(v.shifted[0], v.shifted[1], out=v.summed)
            for more in v.shifted[2:]:
                np.add(v.summed, more, out=v.summed)
        for first, last in zip(v.first, self.last):
            np.copyto(first, last)
        np.matmul(v.smoother, v.smoothed, out=v.stats3)
        for last, now in zip(self.last, v.stats_last):
            np.copyto(last, now)
        p_ll, p_rr, re_lr, im_lr = v.stats
        # All powers below are 4 x the true ones (M = (L + R) / 2 etc.); the gains are
        # ratios and do not see the factor. <M S*> = ms / 4, beta = <M S*> / <|S|^2>
        # clipped to |beta| <= 1, that is ms / d with d = max(p_ss, |ms|): 0 where S is
        # silent (then ms is 0 too).
        np.add(p_ll, p_rr, out=s)
        np.multiply(re_lr, 2.0, out=tmp)
        np.subtract(s, tmp, out=p_ss)
        np.add(s, tmp, out=p_mid)
        np.subtract(p_ll, p_rr, out=ms.real)
        np.multiply(im_lr, -2.0, out=ms.imag)
        np.abs(ms, out=h)
        np.maximum(h, p_ss, out=d)
        np.maximum(d, tiny, out=d)
        np.copyto(d_c.real, d)
        np.divide(ms, d_c, out=beta)
        # <|Mc|^2> = p_mid - 2 Re(beta* <M S*>) + |beta|^2 p_ss
        #          = p_mid - |ms| r (2 - p_ss / d) with r = |ms| / d; then the Wiener gain
        # of the in-phase common power within it, clipped to 1.
        np.divide(h, d, out=r)
        np.divide(p_ss, d, out=tmp)
        np.subtract(2.0, tmp, out=tmp)
        np.multiply(tmp, r, out=tmp)
        np.multiply(tmp, h, out=tmp)
        np.subtract(p_mid, tmp, out=tmp)
        np.maximum(tmp, tiny, out=tmp)
        np.maximum(re_lr, 0.0, out=gain)
        np.multiply(gain, 4.0, out=gain)
        np.maximum(tmp, gain, out=tmp)
        np.divide(gain, tmp, out=gain)
        np.multiply(gain, gain, out=rest)
        np.subtract(1.0, rest, out=rest)
        np.sqrt(rest, out=rest)
        # mid, side; q = beta side; centre = mid - q; u = rest centre + q;
        # L' = u + side, R' = u - side, C = sqrt(2) g centre.
        np.add(left, right, out=mid)
        np.multiply(mid, 0.5, out=mid)
        np.subtract(left, right, out=side)
        np.multiply(side, 0.5, out=side)
        np.multiply(beta, side, out=q)
        np.subtract(mid, q, out=mid)  # mid is now the centre
        centre = mid
        np.copyto(rest_c.real, rest)
        np.multiply(centre, rest_c, out=u)
        np.add(u, q, out=u)
        # Exact power balance in every bin: |L'|^2 + |R'|^2 + |C|^2 = |L|^2 + |R|^2, where
        # the left side is 2 (|u|^2 + |side|^2 + g^2 |centre|^2).
        np.abs(centre, out=power)
        np.multiply(power, gain, out=power)
        np.multiply(power, power, out=power)
        for z in (u, side):
            np.abs(z, out=tmp)
            np.multiply(tmp, tmp, out=tmp)
            np.add(power, tmp, out=power)
        np.multiply(power, 2.0, out=power)
        np.maximum(power, tiny, out=power)
        np.divide(p_in, power, out=scale)
        np.sqrt(scale, out=scale)
        np.copyto(scale_c.real, scale)
        b_left, b_right, b_centre = v.bands
        np.add(u, side, out=b_left)
        np.multiply(b_left, scale_c, out=b_left)
        np.subtract(u, side, out=b_right)
        np.multiply(b_right, scale_c, out=b_right)
        np.multiply(gain, scale, out=gain)
        np.multiply(gain, SQRT2, out=gain_c.real)
        np.multiply(centre, gain_c, out=b_centre)
        np.fft.irfft(v.bands_rows, self.frame, axis=-1, out=v.synth)
        np.multiply(v.synth, v.synthesis, out=v.synth)
        return v.synth
