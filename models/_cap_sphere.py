"""Driver as a vibrating spherical cap on a rigid sphere (the device body), exact series.

A cap of half-angle ``alpha = arcsin(radius / a)`` moves with uniform radial velocity on a
rigid sphere of radius ``a`` (the driver's ``body_radius_m``) centred ``a`` behind the
driver, ``c = position - a axis``, so the cap's pole is the driver position. Its velocity
``U(theta) = sum_n U_n P_n(cos theta)`` has (Legendre integrals of the cap)

    U_0 = (1 - cos alpha) / 2,   U_n = (P_{n-1}(cos alpha) - P_{n+1}(cos alpha)) / 2,

and the pressure outside is (Morse & Ingard, Theoretical Acoustics, section 7.2; time
``exp(+j w t)``, ``h_n = j_n - j y_n``)

    p(r, theta) ~ sum_n U_n P_n(cos theta) h_n(k r) / h'_n(k a)    (r, theta about c),

with the far field ``h_n(kr) -> j^(n+1) exp(-jkr) / kr``, i.e. the directivity
``F(theta) = sum_n U_n j^n P_n(cos theta) / h'_n(k a)``. Each driver is equalised flat on
its own axis in the far field: ``D = F(theta) / F(0) exp(j k a (1 - cos theta))`` (phase
referred to the cap), 1 on axis at every frequency. The near field is the same series
scaled so that ``r exp(jkr) p -> D`` (models/drivers.py); it is summed by the rigid-sphere
series of models/_head_sphere.py (same term count, same static limit at 0 Hz, where the
field is potential flow from the cap, ``1/r`` far away).
"""

from __future__ import annotations

import numpy as np
from scipy.special import eval_legendre

from common.errors import InputError
from models._array import Array
from models._head_sphere import series_length, sphere_series


def cap_weights(cos_alpha: np.ndarray, n_max: int) -> np.ndarray:
    """(n_max + 1, S) Legendre coefficients ``U_n`` of a unit-velocity cap, per
    ``cos_alpha`` (S,) of its half-angle."""
    n = np.arange(n_max + 2)[:, None]
    legendre = eval_legendre(n, cos_alpha[None])  # (n_max + 2, S)
    weights = np.empty((n_max + 1, cos_alpha.size))
    weights[0] = (1.0 - cos_alpha) / 2
    weights[1:] = (legendre[:-2] - legendre[2:]) / 2
    return weights


def inverse_derivatives(ka: np.ndarray, extra_terms: int = 0) -> np.ndarray:
    """(F, N) ``exp(-j ka) / h'_n(ka)`` for ka (F,) > 0, up to ``series_length(ka) +
    extra_terms`` and 0 past it. Upward recurrence of ``hs_n = h_n exp(jx)`` (stable for
    the outgoing Hankel function; the orders past the cut may overflow and are dropped)."""
    n_terms = series_length(ka, np.inf) + extra_terms  # (F,)
    top = int(n_terms.max(initial=0))
    x = ka[:, None]
    scaled = np.empty((ka.size, top + 2), dtype=complex)
    scaled[:, 0], scaled[:, 1] = 1j / ka, -1.0 / ka + 1j / ka**2
    with np.errstate(over="ignore", invalid="ignore"):
        for n in range(1, top + 1):
            scaled[:, n + 1] = (2 * n + 1) / ka * scaled[:, n] - scaled[:, n - 1]
        order = np.arange(1, top + 1)
        deriv = np.empty((ka.size, top + 1), dtype=complex)
        deriv[:, 0] = -scaled[:, 1]  # h'_0 = -h_1, h'_n = h_{n-1} - (n+1)/x h_n
        deriv[:, 1:] = scaled[:, :-2] - (order + 1) / x * scaled[:, 1:-1]
        return np.where(np.arange(top + 1) <= n_terms[:, None], 1.0 / deriv, 0.0)


def cap_directivity(inverse: np.ndarray, weights: np.ndarray, cos_theta: np.ndarray) -> np.ndarray:
    """(F, A) ``exp(-j ka) F`` with ``F = sum_n U_n j^n P_n(cos theta) / h'_n(ka)``.
    inverse: (F, N) from :func:`inverse_derivatives`; weights: (M >= N,) ``U_n``;
    cos_theta: (A,)."""
    n = np.arange(inverse.shape[1])
    return (inverse * weights[:n.size] * 1j**n) @ eval_legendre(n[:, None], cos_theta[None])


class CapSphereModel:
    """Spherical cap on a rigid sphere of ``body_radius_m`` (see the module docstring)."""

    def pressure(self, array: Array, freqs_hz: np.ndarray, points_m: np.ndarray) -> np.ndarray:
        k = 2 * np.pi * freqs_hz / array.speed_of_sound_m_s
        out = np.empty((freqs_hz.size, points_m.shape[0], len(array.drivers)), dtype=complex)
        for body, index in _bodies(array):
            centres = array.positions_m[index] - body * array.axes[index]  # (G, 3)
            offset = points_m[:, None] - centres[None]  # (P, G, 3)
            distance = np.linalg.norm(offset, axis=-1)  # (P, G)
            if np.any(distance <= 1.001 * body):
                raise InputError(f"driver_model cap_sphere: a point lies inside the device "
                                 f"body (sphere of radius {body} m round a driver)")
            cos_theta = np.einsum("pgk,gk->pg", offset, array.axes[index]) / distance
            mu_per_hz = 2 * np.pi * body / array.speed_of_sound_m_s
            top = int(series_length(freqs_hz.max() * mu_per_hz, distance.min() / body))
            weights = cap_weights(_cos_alpha(array, index, body), top)  # (M, G)
            series = sphere_series(freqs_hz, distance / body, cos_theta[:, None], mu_per_hz,
                                   weights)[:, :, 0]  # (F, P, G), exp(+jk r) taken out
            scale = _axis_scale(k * body, weights)  # (F, G)
            out[:, :, index] = scale[:, None] * series * \
                np.exp(-1j * k[:, None, None] * distance[None]) / distance[None]
        return out

    def farfield(self, array: Array, freqs_hz: np.ndarray, directions: np.ndarray) -> np.ndarray:
        k = 2 * np.pi * freqs_hz / array.speed_of_sound_m_s
        cos_theta = directions @ array.axes.T  # (A, D)
        out = np.ones((freqs_hz.size, directions.shape[0], len(array.drivers)), dtype=complex)
        live = freqs_hz > 0  # at 0 Hz the field is omnidirectional
        for body, index in _bodies(array):
            ka = k[live] * body
            inverse = inverse_derivatives(ka)  # shared by the drivers on this body
            weights = cap_weights(_cos_alpha(array, index, body), inverse.shape[1])
            for g, d in enumerate(index):
                shape = cap_directivity(inverse, weights[:, g], np.append(1.0, cos_theta[:, d]))
                out[live, :, d] = shape[:, 1:] / shape[:, :1] * \
                    np.exp(1j * ka[:, None] * (1.0 - cos_theta[None, :, d]))
        lead = directions @ array.positions_m.T  # (A, D) path shortening vs the origin, m
        return out * np.exp(1j * k[:, None, None] * lead[None])


def _bodies(array: Array) -> list[tuple[float, np.ndarray]]:
    """Drivers grouped by body radius: ``(radius_m, driver indices)``, to share the series."""
    radii = np.array([d.body_radius_m for d in array.drivers])
    return [(float(r), np.flatnonzero(radii == r)) for r in np.unique(radii)]


def _cos_alpha(array: Array, index: np.ndarray, body: float) -> np.ndarray:
    """(G,) cosine of the cap half-angle, ``sin alpha = radius / body``."""
    return np.sqrt(1.0 - (array.radii_m[index] / body) ** 2)


def _axis_scale(ka: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(F, G) factor turning the series value into pressure, 1 on axis far away:
    ``j (ka)^2 exp(j ka) / F(0)`` with ``F(0) = sum_n U_n j^n / h'_n(ka)``; ``1/U_0`` at 0 Hz."""
    scale = np.empty((ka.size, weights.shape[1]), dtype=complex)
    scale[ka == 0] = 1.0 / weights[0]
    live = ka > 0
    inverse = inverse_derivatives(ka[live])
    n = np.arange(inverse.shape[1])
    on_axis = (inverse * 1j**n) @ weights[:n.size]  # exp(-j ka) F(0), P_n(1) = 1
    scale[live] = 1j * ka[live, None] ** 2 / on_axis
    return scale
