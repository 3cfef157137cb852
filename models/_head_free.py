"""No head: two ear points in free field, the reference for the rigid-sphere model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FreeFieldHead:
    """Ear points at +-``ear_angle_deg`` from forward, ``radius_m`` from the head centre,
    with nothing between them: pure spherical spreading and delay."""

    radius_m: float = 0.0875
    ear_angle_deg: float = 90.0

    def ear_directions(self) -> np.ndarray:
        """(2, 3) unit vectors from the centre to the left and right ear, head frame."""
        e = np.deg2rad(self.ear_angle_deg)
        return np.array([[np.cos(e), np.sin(e), 0.0], [np.cos(e), -np.sin(e), 0.0]])

    def relative_response(self, freqs_hz: np.ndarray, sources_m: np.ndarray,
                          speed_of_sound_m_s: float) -> np.ndarray:
        """(F, P, 2, S) ear pressure over free-field pressure at the head centre for
        sources at (P, S, 3) head-frame positions: ``(r / r_ear) exp(-jk (r_ear - r))``."""
        ears = self.radius_m * self.ear_directions()  # (2, 3)
        r_centre = np.linalg.norm(sources_m, axis=-1)[:, None, :]  # (P, 1, S)
        r_ear = np.linalg.norm(sources_m[:, None, :, :] - ears[None, :, None, :], axis=-1)
        k = 2 * np.pi * np.asarray(freqs_hz, float) / speed_of_sound_m_s
        return (r_centre / r_ear)[None] * np.exp(-1j * k[:, None, None, None] * (r_ear - r_centre)[None])
