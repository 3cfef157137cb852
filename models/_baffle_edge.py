"""Driver as a piston on a finite circular baffle whose rim diffracts (Vanderkooy 1991).

The piston (radius ``a``) sits at the centre of a thin flat disc of radius ``b`` (the
driver's ``body_radius_m``) perpendicular to its axis. Its direct sound fills the front
half-space with the 2-pi level, twice the free-field one: ``2 J1(x)/x exp(-jkr)/r``,
``x = k a sin(theta)``. The sound grazing along the baffle reaches the rim with pressure
``2 J1(ka)/ka exp(-jkb)/b``; each rim point re-radiates a share of it omnidirectionally from
its own position, with its own path delay (A simple theory of cabinet edge diffraction,
JAES 39(12)): ``-1/2`` of the incident pressure for an observer in front and ``+1/2``
behind, where the direct sound is shadowed (the sign of edge diffraction flips across the
shadow boundary; at low frequency front and back both tend to the free-field level 1).
The switch at the baffle plane is smoothed over the angular width of the shadow-boundary
transition of a half-plane, ``Delta = sqrt(2 / kb)`` (Fresnel parameter 1; at most 90
deg), with a raised cosine ``T(theta)``: 1 in front, 1/2 in the plane, 0 behind.
Unequalised, with ``S`` the rim average of the secondary waves:

    p = 2 J1(x)/x T exp(-jkr)/r + (1/2 - T) 2 J1(ka)/ka exp(-jkb) S,
    S = mean over the rim of exp(-jk d) / d   (far field: J0(kb sin theta) exp(-jkr)/r).

On axis in the far field this is ``2 - 2 J1(ka)/ka exp(-jkb)``: 1 at low frequency (the
sound wraps round the baffle), 2 (+6 dB, half-space) high up, with the rim ripple between:
the baffle step. Each driver is equalised by it, so ``D = 1`` on axis in the far field
(models/drivers.py); the acoustic centre is the piston centre. The rim sum of the near
field is the periodic trapezoid rule with enough points for the Bessel orders of
``kb`` (exponentially convergent; its even symmetry halves the points).
"""

from __future__ import annotations

import numpy as np
from scipy.special import j0

from models._array import Array
from models._head_sphere import series_length
from models._piston import piston_directivity


def baffle_step(ka: np.ndarray, kb: np.ndarray) -> np.ndarray:
    """Unequalised on-axis far field ``2 - 2 J1(ka)/ka exp(-j kb)`` (broadcast shapes)."""
    return 2.0 - piston_directivity(ka, 0.0) * np.exp(-1j * kb)


def shadow_weight(cos_theta: np.ndarray, kb: np.ndarray) -> np.ndarray:
    """``T``: 1 in front, 0 behind, a raised cosine over ``90 +- Delta`` deg,
    ``Delta = min(90 deg, sqrt(2 / kb))``. Broadcast shapes."""
    with np.errstate(divide="ignore"):
        width = np.minimum(np.pi / 2, np.sqrt(2.0 / np.asarray(kb, dtype=float)))
    theta = np.arccos(np.clip(cos_theta, -1.0, 1.0))
    t = np.clip((theta - np.pi / 2 + width) / (2 * width), 0.0, 1.0)
    return 0.5 * (1.0 + np.cos(np.pi * t))


class BaffleEdgeModel:
    """Piston on a circular baffle of ``body_radius_m`` with rim diffraction (module docstring)."""

    def pressure(self, array: Array, freqs_hz: np.ndarray, points_m: np.ndarray) -> np.ndarray:
        k = 2 * np.pi * freqs_hz / array.speed_of_sound_m_s
        out = np.empty((freqs_hz.size, points_m.shape[0], len(array.drivers)), dtype=complex)
        for d, driver in enumerate(array.drivers):
            offset = points_m - driver.position_m  # (P, 3) driver -> point
            distance = np.linalg.norm(offset, axis=-1)
            cos_theta = offset @ driver.axis / distance
            ka, kb = k * driver.radius_m, k * driver.body_radius_m  # (F,)
            rim = _rim_average(k, offset, driver.axis, driver.body_radius_m)  # (F, P)
            out[:, :, d] = _combine(ka[:, None], kb[:, None], cos_theta[None],
                                    np.exp(-1j * k[:, None] * distance) / distance, rim)
        return out

    def farfield(self, array: Array, freqs_hz: np.ndarray, directions: np.ndarray) -> np.ndarray:
        k = 2 * np.pi * freqs_hz / array.speed_of_sound_m_s
        cos_theta = directions @ array.axes.T  # (A, D)
        sin_theta = np.sqrt(np.clip(1.0 - cos_theta**2, 0.0, None))
        ka = k[:, None, None] * array.radii_m  # (F, 1, D)
        kb = k[:, None, None] * np.array([d.body_radius_m for d in array.drivers])
        lead = directions @ array.positions_m.T  # (A, D) path shortening vs the origin, m
        shape = _combine(ka, kb, cos_theta[None], 1.0, j0(kb * sin_theta[None]))
        return shape * np.exp(1j * k[:, None, None] * lead[None])


def _combine(ka, kb, cos_theta, direct_wave, rim_wave):
    """Equalised field from the direct wave ``exp(-jkr)/r`` and the rim average (broadcast)."""
    weight = shadow_weight(cos_theta, kb)
    sin_theta = np.sqrt(np.clip(1.0 - cos_theta**2, 0.0, None))
    direct = 2.0 * piston_directivity(ka * sin_theta, 0.0) * weight * direct_wave  # 2 J1(x)/x
    edge = (1.0 - 2.0 * weight) * piston_directivity(ka, 0.0) * np.exp(-1j * kb) * rim_wave
    return (direct + edge) / baffle_step(ka, kb)


def _rim_average(k: np.ndarray, offset: np.ndarray, axis: np.ndarray, radius: float) -> np.ndarray:
    """(F, P) mean over the rim of ``exp(-jk d) / d``, ``d`` from each rim point to each point
    at ``offset`` (P, 3) from the baffle centre; ``axis`` is the baffle normal.

    The integrand is periodic in the rim angle with Bessel orders up to about ``kb``, so
    the trapezoid rule with ``series_length(kb)`` points converges exponentially; it is
    even about the point's own azimuth, so half the rim (with end weights 1/2) suffices.
    """
    along = offset @ axis  # (P,)
    across = np.linalg.norm(offset - along[:, None] * axis, axis=-1)  # (P,) distance off axis
    points = 2 * ((series_length(k * radius, np.inf) + 1) // 2)  # (F,) even
    out = np.empty((k.size, offset.shape[0]), dtype=complex)
    for count in np.unique(points):
        rows = np.flatnonzero(points == count)
        angle = 2 * np.pi * np.arange(count // 2 + 1) / count  # (M,) half the rim
        weight = np.full(angle.size, 2.0 / count)
        weight[[0, -1]] = 1.0 / count
        d = np.sqrt(along[:, None] ** 2 + across[:, None] ** 2 + radius**2
                    - 2 * radius * across[:, None] * np.cos(angle))  # (P, M)
        phase = k[rows, None, None] * d  # real cos and sin: three times faster than exp
        out[rows] = np.einsum("fpm,pm->fp", np.cos(phase), weight / d) \
            - 1j * np.einsum("fpm,pm->fp", np.sin(phase), weight / d)
    return out
