"""Head poses: yaw from a facing direction and the pose distance of CONVENTIONS.md.

A pose is a head position ``x, y, z`` (m, device frame) and a yaw (deg, 0 = facing the
device centre, counter-clockwise seen from above). The distance between two poses is the
Euclidean distance of the positions plus ``|yaw difference| / 100`` (1 cm per degree,
the shorter way round): the metric that picks a tracked bank's cell.
"""

from __future__ import annotations

import numpy as np

YAW_M_PER_DEG = 0.01  # the pose distance counts 1 degree of yaw like 1 cm


def pose_yaw_deg(positions_m: np.ndarray, views: np.ndarray) -> np.ndarray:
    """(M,) head yaw of heads at positions (M, 3) looking along views (M, 3), degrees
    counter-clockwise from facing the device centre."""
    toward = -positions_m[:, :2]
    look = views[:, :2]
    cross = toward[:, 0] * look[:, 1] - toward[:, 1] * look[:, 0]
    return np.degrees(np.arctan2(cross, np.sum(toward * look, axis=1)))


def pose_views(positions_m: np.ndarray, yaw_deg: np.ndarray) -> np.ndarray:
    """(M, 3) levelled facing directions of heads at positions (M, 3) with yaw (M,) in
    degrees: the horizontal direction toward the device centre turned counter-clockwise
    by the yaw (the inverse of :func:`pose_yaw_deg`)."""
    toward = -np.asarray(positions_m, dtype=float)[:, :2]
    toward = toward / np.linalg.norm(toward, axis=1, keepdims=True)
    turn = np.deg2rad(np.asarray(yaw_deg, dtype=float))
    cos, sin = np.cos(turn), np.sin(turn)
    return np.column_stack([toward[:, 0] * cos - toward[:, 1] * sin,
                            toward[:, 0] * sin + toward[:, 1] * cos, np.zeros_like(turn)])


def poses_of(positions_m: np.ndarray, views: np.ndarray) -> np.ndarray:
    """(M, 4) poses x, y, z (m), yaw (deg) of heads at positions (M, 3) looking along
    views (M, 3)."""
    return np.column_stack([positions_m, pose_yaw_deg(positions_m, views)])


def pose_distance(cells: np.ndarray, poses) -> np.ndarray:
    """Distance of head poses (..., 4) to every cell (K, 4): Euclidean in x, y, z metres
    plus ``|yaw difference| / 100`` (yaw in degrees, the shorter way round); (..., K)."""
    poses = np.asarray(poses, dtype=float)[..., None, :]
    offset = poses[..., :3] - cells[:, :3]
    yaw = (poses[..., 3] - cells[:, 3] + 180.0) % 360.0 - 180.0
    return np.sqrt(np.einsum("...i,...i->...", offset, offset)) + YAW_M_PER_DEG * np.abs(yaw)


def nearest_cells(cells: np.ndarray, poses):
    """Index of the nearest cell (the first on a tie) for each pose (..., 4): an int array
    of shape (...), a NumPy integer for a single pose (4,)."""
    return np.argmin(pose_distance(cells, poses), axis=-1)
