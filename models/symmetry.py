"""Mirror symmetry of an array: which driver is which driver's image in the x-z plane.

A symmetric device (every bundled array) has, for each driver, a driver at the mirror
position ``(x, -y, z)`` with the mirrored axis and the same size, band and body. A bank for
such a device should be symmetric too: what L sends to a driver, R sends to its image;
C sends the same to both. optim.params uses the permutation to make it so.
"""

from __future__ import annotations

import numpy as np

from models._array import Array

MIRROR = np.array([1.0, -1.0, 1.0])


def mirror_permutation(array: Array, tolerance_m: float = 1e-6) -> np.ndarray | None:
    """(D,) index of each driver's mirror image (a driver on the plane ``y = 0`` facing
    along it is its own image), or None when some driver has no image."""
    image = np.full(len(array.drivers), -1)
    for d, driver in enumerate(array.drivers):
        for e, other in enumerate(array.drivers):
            if np.allclose(driver.position_m * MIRROR, other.position_m, atol=tolerance_m) and \
                    np.allclose(driver.axis * MIRROR, other.axis, atol=1e-9) and \
                    np.isclose(driver.radius_m, other.radius_m) and \
                    np.allclose(driver.band_hz, other.band_hz) and \
                    np.isclose(driver.body_radius_m, other.body_radius_m):
                image[d] = e
                break
    return image if np.all(image >= 0) else None
