"""Rigid-sphere head: Duda & Martens (1998) series for a point source at finite range.

The pressure on the surface of a rigid sphere of radius ``a`` at angle ``Theta`` from a
point source at distance ``r`` from its centre, relative to the free-field pressure the
source would make at the centre, is (time dependence ``exp(+j w t)``, NumPy's sign)

    H = -(rho / mu) exp(j mu rho) sum_m (2m+1) P_m(cos Theta) h_m(mu rho) / h'_m(mu)

with ``mu = k a``, ``rho = r / a`` and ``h_m`` the outgoing spherical Hankel function
``h_m = j_m - j y_m``. The code carries ``hs_m(x) = h_m(x) exp(j x)``, which obeys the
same upward recurrence as ``h_m`` and does not oscillate, so the ``exp(j mu rho)`` cancels
analytically. The series is cut per frequency once its tail falls below about 1e-9:
past ``m ~ mu`` the terms die within a transition of width ``~ mu^(1/3)`` (the growth of
``h'_m(mu)``), and for a near source no faster than ``rho^-m``; the count of terms
covers both. At 0 Hz the value is the static limit ``sum_m (2m+1)/(m+1) P_m rho^-m``
(the series as ``mu -> 0``), which tends to 1 far from the head. Sources closer than
``0.5 a`` to the surface (``rho < 1.5``) are summed as if ``rho = 1.5``: less accurate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.errors import InputError


@dataclass(frozen=True)
class SphereHead:
    """Rigid sphere of ``radius_m`` with ears at +-``ear_angle_deg`` from the nose (more
    than 90: behind the interaural axis) and ``ear_elevation_deg`` above the horizontal
    plane through the centre (negative: below), left ear toward the head's left."""

    radius_m: float = 0.0875
    ear_angle_deg: float = 90.0
    ear_elevation_deg: float = 0.0

    def __post_init__(self):
        if not (np.isfinite(self.radius_m) and self.radius_m > 0):
            raise InputError(f"sphere head: radius_m must be positive, got {self.radius_m}")
        if not (np.isfinite(self.ear_angle_deg) and 0 < self.ear_angle_deg < 180):
            raise InputError(f"sphere head: ear_angle_deg must lie in (0, 180), "
                             f"got {self.ear_angle_deg}")
        if not (np.isfinite(self.ear_elevation_deg) and abs(self.ear_elevation_deg) < 90):
            raise InputError(f"sphere head: ear_elevation_deg must lie in (-90, 90), "
                             f"got {self.ear_elevation_deg}")

    def ear_directions(self) -> np.ndarray:
        """(2, 3) unit vectors from the centre to the left and right ear, head frame
        (x forward, y left, z up)."""
        e, up = np.deg2rad(self.ear_angle_deg), np.deg2rad(self.ear_elevation_deg)
        flat = np.cos(up)
        return np.array([[flat * np.cos(e), flat * np.sin(e), np.sin(up)],
                         [flat * np.cos(e), -flat * np.sin(e), np.sin(up)]])

    def relative_response(self, freqs_hz: np.ndarray, sources_m: np.ndarray,
                          speed_of_sound_m_s: float) -> np.ndarray:
        """Ear pressure over free-field pressure at the head centre.

        freqs_hz: (F,); sources_m: (P, S, 3) source positions in the head frame, metres.
        Returns complex (F, P, 2, S).
        """
        distance = np.linalg.norm(sources_m, axis=-1)  # (P, S)
        if np.any(distance <= self.radius_m * 1.001):
            raise InputError(f"sphere head: a source lies inside the head (distance "
                             f"{distance.min():.4f} m <= radius {self.radius_m} m)")
        unit = sources_m / distance[..., None]
        cos_incidence = np.einsum("psk,ek->pes", unit, self.ear_directions())  # (P, 2, S)
        return sphere_series(np.asarray(freqs_hz, float), distance / self.radius_m,
                             cos_incidence, 2 * np.pi * self.radius_m / speed_of_sound_m_s)


def series_length(mu: np.ndarray | float, rho_min: float) -> np.ndarray:
    """Highest order ``m`` to sum for ``mu = k a`` (any shape) and the nearest range
    ``rho_min`` (``np.inf`` for the far field): past ``m ~ mu`` the terms vanish within
    ``~mu**(1/3)`` orders, and for a near point no faster than ``rho**-m`` (9 decades
    kept; ``rho >= 1.5`` assumed, see above). Integer array of ``mu``'s shape."""
    extra = 6.0 + 9.0 / np.log10(max(float(rho_min), 1.5))
    return np.ceil(mu + np.maximum(7.5 * np.cbrt(mu) + 4.0, extra)).astype(int)


def sphere_series(freqs_hz: np.ndarray, rho: np.ndarray, cos_incidence: np.ndarray,
                  mu_per_hz: float, weights: np.ndarray | None = None) -> np.ndarray:
    """Evaluate the Duda-Martens series, or the same sum with other weights ``w_m``.

    freqs_hz: (F,); rho: (P, S) range over radius (> 1); cos_incidence: (P, E, S);
    mu_per_hz: k a / f; weights: None for the point source's ``2m+1``, or (M, S) per
    source with M beyond ``series_length`` of the highest frequency. Returns complex
    (F, P, E, S) ``-(rho/mu) exp(j mu rho) sum_m w_m P_m h_m(mu rho) / h'_m(mu)``; its
    static limit ``sum_m w_m/(m+1) P_m rho**-m`` at 0 Hz.
    """
    n_f = freqs_hz.shape[0]
    rho_min = float(rho.min())
    top = int(series_length(freqs_hz.max(initial=0.0) * mu_per_hz, rho_min))
    if weights is None:
        weights = (2.0 * np.arange(top + 1) + 1.0)[:, None]
    if weights.shape[0] <= top:
        raise ValueError(f"sphere_series: {weights.shape[0]} weights, {top + 1} needed")
    out = np.empty((n_f,) + cos_incidence.shape, dtype=complex)
    out[freqs_hz == 0] = _static_limit(rho, cos_incidence, int(series_length(0.0, rho_min)),
                                       weights)
    order = np.argsort(freqs_hz)
    live = order[freqs_hz[order] > 0]  # ascending, zero excluded (static limit above)
    if live.size == 0:
        return out
    mu = freqs_hz[live] * mu_per_hz  # (Fl,) ascending
    n_terms = series_length(mu, rho_min)  # ascending
    mu_rho = mu[:, None, None] * rho[None]  # (Fl, P, S)
    # Scaled Hankel hs_m(x) = h_m(x) exp(jx): hs_0 = j/x, hs_1 = -1/x + j/x^2.
    far_prev, far_cur = 1j / mu_rho, -1.0 / mu_rho + 1j / mu_rho**2
    head_prev, head_cur = 1j / mu, -1.0 / mu + 1j / mu**2
    leg_prev, leg_cur = np.ones_like(cos_incidence), cos_incidence  # P_0, P_1
    # m = 0 term, with h'_0 = -h_1.
    total = (weights[0] * far_prev / -head_cur[:, None, None])[:, :, None, :] * leg_prev[None]
    start, mu_live = 0, mu
    for m in range(1, int(n_terms[-1]) + 1):
        first = int(np.searchsorted(n_terms, m))  # rows whose series has ended drop out
        if first > start:
            cut = first - start
            far_prev, far_cur, mu_rho = far_prev[cut:], far_cur[cut:], mu_rho[cut:]
            head_prev, head_cur, mu_live = head_prev[cut:], head_cur[cut:], mu_live[cut:]
            start = first
        if m >= 2:
            far_prev, far_cur = far_cur, (2 * m - 1) / mu_rho * far_cur - far_prev
            head_prev, head_cur = head_cur, (2 * m - 1) / mu_live * head_cur - head_prev
            leg_prev, leg_cur = leg_cur, ((2 * m - 1) * cos_incidence * leg_cur
                                          - (m - 1) * leg_prev) / m
        deriv = head_prev - (m + 1) / mu_live * head_cur  # h'_m = h_{m-1} - (m+1)/x h_m
        term = weights[m] * far_cur / deriv[:, None, None]
        total[start:] += term[:, :, None, :] * leg_cur[None]
    scale = -(rho[None, :, None, :] / mu[:, None, None, None]) * np.exp(1j * mu)[:, None, None, None]
    out[live] = scale * total
    return out


def _static_limit(rho: np.ndarray, cos_incidence: np.ndarray, n_terms: int,
                  weights: np.ndarray) -> np.ndarray:
    """The series as ``mu -> 0``: ``sum_m w_m/(m+1) P_m(cos) rho**-m``, shape (P, E, S)."""
    inv = 1.0 / rho[:, None, :]  # (P, 1, S)
    leg_prev, leg_cur = np.ones_like(cos_incidence), cos_incidence
    total = weights[0] * leg_prev + weights[1] / 2 * leg_cur * inv
    power = inv
    for m in range(2, n_terms + 1):
        leg_prev, leg_cur = leg_cur, ((2 * m - 1) * cos_incidence * leg_cur - (m - 1) * leg_prev) / m
        power = power * inv
        total = total + weights[m] / (m + 1) * leg_cur * power
    return total
