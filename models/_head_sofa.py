"""Measured head: HRIRs from a SOFA file (``SimpleFreeFieldHRIR``), interpolated over direction.

Reading. ``Data.IR`` is ``(M, 2, N)`` (receiver 0 = left ear unless ``ReceiverPosition``
puts receiver 0 at negative ``y``, then the two are swapped), ``Data.Delay`` (``(1, 2)``
or ``(M, 2)`` samples) is added to every response, ``SourcePosition`` is spherical
(azimuth deg counter-clockwise from the front, elevation deg, metres) or cartesian, the
same sense as the head frame (x forward, y left, z up). ``ListenerView`` is taken to be
+x. Range dependence is ignored: only the direction of a source matters, and where the
file holds several source distances only the most common one (to the centimetre) is used.

Onsets. Each HRIR's onset is the first time its envelope (magnitude of the analytic
signal, upsampled 16 times) reaches ``ONSET_THRESHOLD_DB`` below its peak, with linear
interpolation between the upsampled samples.

Normalisation to free field at the head centre (what ``relative_response`` returns).
  * Delay: the head-centre arrival is estimated as ``T0``, the mean over all measured
    directions of the two ears' low-frequency phase delays (mean over
    ``REFERENCE_BAND_HZ``; at low frequency the head is transparent and the left and right
    phase delays are symmetric about the centre arrival). ``T0`` (propagation over the
    measurement distance plus any system latency) is removed from every response.
  * Level: one gain for the whole file makes the power average of ``|H|`` over all
    directions, both ears and ``REFERENCE_BAND_HZ`` equal to 1 (the head is nearly
    transparent there, and measurement distance and system gain drop out).

Interpolation. The onset of each measured HRIR is removed (a linear phase), the aligned
spectra and the onsets are interpolated with the same weights, and the interpolated onset
is applied again. Weights are barycentric on the triangle of the directions' convex hull
(a spherical Delaunay triangulation) that the source direction passes through; a file
whose directions all lie in one plane (horizontal-only) uses inverse-angular-distance
weights over the two nearest directions (linear interpolation along the ring). The
response is the DTFT of the IR at the requested frequencies, which may be anything from 0
to the file's Nyquist frequency.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from common.errors import InputError
from models._resample import integer_rate, resample_ir

ONSET_THRESHOLD_DB = -20.0
REFERENCE_BAND_HZ = (200.0, 400.0)
_UPSAMPLE = 16


@dataclass(frozen=True, eq=False)
class SofaHead:
    """Measured head-related responses, normalised to the free field at the head centre.

    ir: (M, 2, N) impulse responses (left, right), already scaled by the file's gain;
    sample_rate_hz; directions: (M, 3) unit vectors, head frame; onset_s: (M, 2) onset
    of each IR from its first sample; offset_s: (M, 2) time of each IR's first sample
    relative to the head-centre arrival (``Data.Delay - T0``); facets: (T, 3) convex-hull
    triangles of the directions, or None for a planar set; align_onsets: interpolate
    onset-aligned responses (False: plain complex interpolation, for comparison only).
    """

    ir: np.ndarray
    sample_rate_hz: float
    directions: np.ndarray
    onset_s: np.ndarray
    offset_s: np.ndarray
    facets: np.ndarray | None
    source: str
    align_onsets: bool = True

    @classmethod
    def from_file(cls, path: str | Path) -> "SofaHead":
        """Read and validate a ``SimpleFreeFieldHRIR`` SOFA file."""
        ir, fs, positions, delay = _read_sofa(Path(path))
        return cls.from_measurements(ir, fs, positions, delay, source=str(path))

    @classmethod
    def from_measurements(cls, ir: np.ndarray, sample_rate_hz: float, positions_m: np.ndarray,
                          delay_samples: np.ndarray | None = None, *,
                          source: str = "measurements") -> "SofaHead":
        """Build the model from HRIRs (M, 2, N), source positions (M, 3) in the head frame,
        metres, and per-response extra delays (M, 2) or (1, 2) in samples."""
        ir = np.asarray(ir, dtype=float)
        positions = np.asarray(positions_m, dtype=float)
        delay = np.zeros((1, 2)) if delay_samples is None else np.asarray(delay_samples, float)
        _check_measurements(ir, sample_rate_hz, positions, delay, source)
        distance = np.linalg.norm(positions, axis=-1)
        if np.any(distance < 1e-9):
            raise InputError(f"{source}: SourcePosition: a source lies at the head centre, "
                             f"so it has no direction")
        keep = _most_common_distance(distance)
        ir, positions, distance = ir[keep], positions[keep], distance[keep]
        delay = np.broadcast_to(delay, (keep.size, 2)) if delay.shape[0] == 1 else delay[keep]
        onset = onset_times(ir, sample_rate_hz, source)
        directions = positions / distance[:, None]

        band = np.linspace(*REFERENCE_BAND_HZ, 5)
        if band[-1] > sample_rate_hz / 2:
            raise InputError(f"{source}: Data.SamplingRate {sample_rate_hz} Hz is too low "
                             f"(expected a Nyquist frequency above {band[-1]} Hz)")
        spectra = _dtft(ir, band, sample_rate_hz)  # (M, 2, B)
        aligned = spectra * np.exp(2j * np.pi * band * onset[..., None])
        phase_delay = onset[..., None] - np.angle(aligned) / (2 * np.pi * band)
        centre = float(np.mean(phase_delay + delay[..., None] / sample_rate_hz))
        gain = 1.0 / np.sqrt(np.mean(np.abs(spectra) ** 2))
        return cls(ir=ir * gain, sample_rate_hz=float(sample_rate_hz), directions=directions,
                   onset_s=onset, offset_s=delay / sample_rate_hz - centre,
                   facets=_hull_facets(directions), source=source)

    def at_rate(self, sample_rate_hz: float) -> "SofaHead":
        """The same head resampled to ``sample_rate_hz`` (models._resample.resample_ir):
        most public HRTF sets are 44.1 kHz, designs often 48 kHz. Nothing is invented
        above the file's Nyquist frequency: the response is zero there."""
        if integer_rate(sample_rate_hz) == integer_rate(self.sample_rate_hz):
            return self
        ir = resample_ir(self.ir, self.sample_rate_hz, sample_rate_hz)
        return dataclasses.replace(self, ir=ir, sample_rate_hz=float(sample_rate_hz),
                                   onset_s=onset_times(ir, sample_rate_hz, self.source))

    def naive(self) -> "SofaHead":
        """The same head with plain (not onset-aligned) interpolation, for comparison."""
        return dataclasses.replace(self, align_onsets=False)

    def relative_response(self, freqs_hz: np.ndarray, sources_m: np.ndarray,
                          speed_of_sound_m_s: float) -> np.ndarray:
        """Ear pressure over free-field pressure at the head centre.

        freqs_hz: (F,) from 0 to the file's Nyquist frequency; sources_m: (P, S, 3) source
        positions in the head frame, metres (only their direction is used; the speed of
        sound is not needed for measured data). Returns complex (F, P, 2, S).
        """
        freqs = np.asarray(freqs_hz, dtype=float)
        if np.any(freqs > self.sample_rate_hz / 2):
            raise InputError(f"freqs_hz: {freqs.max():g} Hz is above the Nyquist frequency "
                             f"{self.sample_rate_hz / 2:g} Hz of {self.source}")
        sources = np.asarray(sources_m, dtype=float)
        n_p, n_s = sources.shape[:2]
        distance = np.linalg.norm(sources, axis=-1, keepdims=True).reshape(-1, 1)
        if np.any(distance < 1e-9):
            raise InputError("sources_m: a source lies at the head centre, so it has no direction")
        index, weight = self.weights(sources.reshape(-1, 3) / distance)  # (Q, K)
        used, inverse = np.unique(index, return_inverse=True)
        inverse = inverse.reshape(index.shape)
        spectra = _dtft(self.ir[used], freqs, self.sample_rate_hz)  # (U, 2, F)
        onset = self.onset_s[used] if self.align_onsets else np.zeros((used.size, 2))
        spectra = spectra * np.exp(2j * np.pi * freqs * onset[..., None])  # onsets removed
        arrival = onset + self.offset_s[used]  # (U, 2) relative to the head-centre arrival
        mixed = np.einsum("qk,qkef->feq", weight, spectra[inverse])  # (F, 2, Q)
        mixed_arrival = np.einsum("qk,qke->eq", weight, arrival[inverse])  # (2, Q)
        out = mixed * np.exp(-2j * np.pi * freqs[:, None, None] * mixed_arrival[None])
        return out.reshape(freqs.size, 2, n_p, n_s).transpose(0, 2, 1, 3)

    def weights(self, directions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Interpolation over measured directions: indices (Q, K) and weights (Q, K)
        summing to 1, for unit directions (Q, 3)."""
        if self.facets is None:
            cosine = directions @ self.directions.T  # (Q, M)
            nearest = np.argsort(-cosine, axis=1)[:, :2]
            angle = np.arccos(np.clip(np.take_along_axis(cosine, nearest, 1), -1, 1))
            inv = 1.0 / np.maximum(angle, 1e-12)
            return nearest, inv / inv.sum(axis=1, keepdims=True)
        a, b, c = (self.directions[self.facets[:, i]] for i in range(3))  # (T, 3) each
        # Barycentric coordinates of the ray along each direction on each facet plane, as
        # triple products: u.(b x c), u.(c x a), u.(a x b), all of the sign of
        # det = a.(b x c) when the ray passes through the facet (in front of the centre).
        edges = np.stack([np.cross(b, c), np.cross(c, a), np.cross(a, b)], axis=1)  # (T, 3, 3)
        det = np.einsum("tk,tk->t", a, edges[:, 0])
        vol = np.einsum("tck,qk->qtc", edges, directions)  # (Q, T, 3)
        total = vol.sum(axis=-1)
        ahead = total * det > 1e-12
        lam = vol / np.where(ahead, total, 1.0)[..., None]
        # Inside a facet all coordinates are >= 0; where a partial grid leaves a gap, the
        # best facet's coordinates are clipped.
        best = np.argmax(np.where(ahead, lam.min(axis=-1), -np.inf), axis=1)
        w = np.clip(lam[np.arange(lam.shape[0]), best], 0.0, None)
        return self.facets[best], w / w.sum(axis=1, keepdims=True)


def _read_sofa(path: Path) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """IR (M, 2, N), sample rate, source positions (M, 3) cartesian, delay (·, 2)."""
    import sofar  # only SOFA heads need it

    if not path.is_file():
        raise InputError(f"{path}: SOFA file not found")
    try:
        sofa = sofar.read_sofa(str(path), verify=False, verbose=False)
    except Exception as exc:  # sofar/netCDF raise many types for a damaged file
        raise InputError(f"{path}: not a readable SOFA (netCDF-4) file: {exc}") from None
    convention = getattr(sofa, "GLOBAL_SOFAConventions", None)
    if convention != "SimpleFreeFieldHRIR":
        raise InputError(f"{path}: SOFA convention {convention!r} is not supported; "
                         f"expected 'SimpleFreeFieldHRIR'")
    ir = _float_array(sofa.Data_IR)
    if ir.ndim == 2:  # sofar drops a trailing singleton N
        ir = ir[..., None]
    if ir.ndim != 3 or ir.shape[1] != 2 or ir.shape[2] < 2:
        raise InputError(f"{path}: Data.IR: expected shape (M, 2, N) with two receivers "
                         f"(left, right ear) and N >= 2 samples, got {ir.shape}")
    fs = _float_array(sofa.Data_SamplingRate).reshape(-1)
    if fs.size != 1 or not np.isfinite(fs[0]) or fs[0] <= 0:
        raise InputError(f"{path}: Data.SamplingRate: expected one positive rate in Hz, "
                         f"got {fs.tolist()}")
    positions = _float_array(sofa.SourcePosition).reshape(-1, 3)
    if positions.shape[0] == 1:
        positions = np.repeat(positions, ir.shape[0], axis=0)
    if positions.shape[0] != ir.shape[0]:
        raise InputError(f"{path}: SourcePosition: expected {ir.shape[0]} positions (one per "
                         f"measurement), got {positions.shape[0]}")
    kind = str(sofa.SourcePosition_Type).lower()
    if kind == "spherical":
        az, el = np.deg2rad(positions[:, 0]), np.deg2rad(positions[:, 1])
        positions = positions[:, 2:3] * np.stack(
            [np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=-1)
    elif kind != "cartesian":
        raise InputError(f"{path}: SourcePosition_Type: expected 'spherical' or 'cartesian', "
                         f"got {kind!r}")
    delay = _float_array(getattr(sofa, "Data_Delay", np.zeros((1, 2)))).reshape(-1, 2)
    receivers = _float_array(getattr(sofa, "ReceiverPosition", np.zeros((2, 3)))).reshape(2, 3, -1)
    if receivers[0, 1, 0] < 0 < receivers[1, 1, 0]:  # receiver 0 is the right ear
        ir, delay = ir[:, ::-1], delay[:, ::-1]
    return ir, float(fs[0]), positions, delay


def _float_array(value) -> np.ndarray:
    """A SOFA variable as a float array; masked (missing) entries become NaN."""
    return np.ma.filled(np.ma.asarray(value, dtype=float), np.nan)


def _check_measurements(ir: np.ndarray, fs: float, positions: np.ndarray, delay: np.ndarray,
                        source: str) -> None:
    if ir.ndim != 3 or ir.shape[1] != 2 or ir.shape[2] < 2 or ir.shape[0] < 2:
        raise InputError(f"{source}: Data.IR: expected shape (M, 2, N) with M >= 2 "
                         f"directions and N >= 2 samples, got {ir.shape}")
    if not np.all(np.isfinite(ir)):
        raise InputError(f"{source}: Data.IR holds non-finite values (NaN, inf or missing)")
    if not (np.isfinite(fs) and fs > 0):
        raise InputError(f"{source}: Data.SamplingRate: expected a positive rate, got {fs}")
    if positions.shape != (ir.shape[0], 3) or not np.all(np.isfinite(positions)):
        raise InputError(f"{source}: SourcePosition: expected {ir.shape[0]} finite positions "
                         f"(shape ({ir.shape[0]}, 3)), got shape {positions.shape}")
    if delay.shape not in ((1, 2), (ir.shape[0], 2)) or not np.all(np.isfinite(delay)):
        raise InputError(f"{source}: Data.Delay: expected finite samples of shape (1, 2) or "
                         f"({ir.shape[0]}, 2), got shape {delay.shape}")


def _most_common_distance(distance: np.ndarray) -> np.ndarray:
    """Indices of the measurements at the most common source distance (to 1 cm)."""
    rounded = np.round(distance, 2)
    values, counts = np.unique(rounded, return_counts=True)
    return np.flatnonzero(rounded == values[np.argmax(counts)])


def onset_times(ir: np.ndarray, fs: float, source: str) -> np.ndarray:
    """(...) time in seconds at which each IR (..., N) first reaches, with its upsampled
    envelope, ``ONSET_THRESHOLD_DB`` below its peak."""
    n = ir.shape[-1]
    n_fft = 2 * n  # zero padding keeps the end of the IR from wrapping onto its start
    spectrum = np.fft.fft(ir, n_fft)
    spectrum[..., n_fft // 2 + 1:] = 0.0  # analytic signal: drop negative frequencies
    spectrum[..., 1:n_fft // 2] *= 2.0
    padded = np.zeros(ir.shape[:-1] + (n_fft * _UPSAMPLE,), dtype=complex)
    padded[..., :n_fft // 2 + 1] = spectrum[..., :n_fft // 2 + 1]
    envelope = np.abs(np.fft.ifft(padded)) * _UPSAMPLE
    peak = envelope.max(axis=-1)
    if np.any(peak <= 0):
        where = ", ".join(str(i) for i in np.argwhere(peak <= 0)[0])
        raise InputError(f"{source}: Data.IR: the impulse response at index [{where}] "
                         f"(measurement, receiver, ...) is all zeros")
    level = peak[..., None] * 10 ** (ONSET_THRESHOLD_DB / 20)
    first = np.argmax(envelope >= level, axis=-1)  # (M, 2), >= 0
    before = np.take_along_axis(envelope, np.maximum(first - 1, 0)[..., None], -1)[..., 0]
    at = np.take_along_axis(envelope, first[..., None], -1)[..., 0]
    frac = np.where(first > 0, (level[..., 0] - before) / np.maximum(at - before, 1e-300), 1.0)
    return (first - 1 + frac) / (fs * _UPSAMPLE)


def _dtft(ir: np.ndarray, freqs_hz: np.ndarray, fs: float) -> np.ndarray:
    """DTFT of (..., N) impulse responses at (F,) frequencies -> (..., F)."""
    n = np.arange(ir.shape[-1])
    return ir @ np.exp(-2j * np.pi * np.outer(n, freqs_hz) / fs)


def _hull_facets(directions: np.ndarray) -> np.ndarray | None:
    """(T, 3) convex-hull triangles of unit directions, or None if they span no volume."""
    try:
        return ConvexHull(directions).simplices
    except QhullError:
        return None
