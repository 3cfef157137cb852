"""Driver directivity: a baffled circular piston in front, a smooth roll-off behind.

In front of the baffle plane (angle ``theta`` from the axis below 90 deg) the far-field
directivity is the classic ``2 J1(x) / x`` with ``x = k a sin(theta)`` (real, so the
side lobes past the first null at ``x = 3.8317`` carry the sign flip). Behind the baffle
plane a real enclosure both diffracts sound round and shadows it, so the model continues
from the 90-deg value ``2 J1(ka) / ka`` with a raised-cosine fade in ``theta`` to the
level straight behind

    rear(ka) = 1 / sqrt(1 + (ka)^2),

omnidirectional when the piston is small against the wavelength (``ka -> 0``) and
shadowed by ``-20 log10(ka)`` dB well above. The model is continuous at 90 deg.
"""

from __future__ import annotations

import numpy as np
from scipy.special import j1


def piston_directivity(ka: np.ndarray | float, cos_theta: np.ndarray | float) -> np.ndarray:
    """Real far-field directivity of a baffled piston, 1 on axis.

    ka: wavenumber times piston radius (dimensionless); cos_theta: cosine of the angle
    from the driver axis. Both broadcast; returns their broadcast shape.
    """
    ka = np.asarray(ka, dtype=float)
    cos_theta = np.clip(np.asarray(cos_theta, dtype=float), -1.0, 1.0)
    sin_front = np.where(cos_theta >= 0, np.sqrt(1.0 - cos_theta**2), 1.0)
    front = _jinc(ka * sin_front)
    # Behind the baffle plane: t goes 0 (at 90 deg) -> 1 (straight behind).
    t = np.where(cos_theta < 0, np.arccos(cos_theta) / (np.pi / 2) - 1.0, 0.0)
    rear = 1.0 / np.sqrt(1.0 + ka**2)
    fade = np.sin(0.5 * np.pi * t) ** 2  # 0 at 90 deg, 1 straight behind
    return np.where(cos_theta >= 0, front, front + (rear - front) * fade)


def _jinc(x: np.ndarray) -> np.ndarray:
    """``2 J1(x) / x`` with its limit 1 at ``x = 0``."""
    small = np.abs(x) < 1e-6
    safe = np.where(small, 1.0, x)
    return np.where(small, 1.0 - x**2 / 8.0, 2.0 * j1(safe) / safe)
