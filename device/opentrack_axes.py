"""opentrack's head pose in the device frame: the axis map, as a pure function.

opentrack's "UDP over network" output sends six little-endian doubles per datagram:
``x, y, z`` in centimetres and ``yaw, pitch, roll`` in degrees, in opentrack's frame of
the user seated facing the tracked screen (here: the device):

======  ======================================  ====================================
axis    opentrack (positive is)                 device frame (CONVENTIONS.md)
======  ======================================  ====================================
x       the user's right                        ``+y`` (the listener's right)
y       up                                      ``+z``
z       backward, away from the device          ``+x`` (away from the device)
yaw     the head turned to the user's left      yaw ``+`` (counter-clockwise seen
        (counter-clockwise seen from above)     from above, toward ``-y``)
pitch   --                                      not used (the bank has no pitch)
roll    --                                      not used
======  ======================================  ====================================

A calibration ``zero`` is the raw opentrack pose read while the user sits at the nominal
seat; the device pose is the nominal seat moved by the difference::

    device = seat + [(z - z0) / 100, (x - x0) / 100, (y - y0) / 100, wrap(yaw - yaw0)]

Without a calibration the zero is all zeros: opentrack's own centre is the nominal seat.
A tracker whose signs differ from these is fixed in opentrack (Options, Output: invert).
"""

from __future__ import annotations

import numpy as np

PACKET_DOUBLES = 6  # x, y, z (cm), yaw, pitch, roll (deg)
PACKET_BYTES = 8 * PACKET_DOUBLES
CM_PER_M = 100.0


def wrap_deg(angle_deg: float) -> float:
    """``angle_deg`` wrapped into [-180, 180)."""
    return (angle_deg + 180.0) % 360.0 - 180.0


def opentrack_to_device(raw, zero, seat) -> np.ndarray:
    """Device-frame pose (4,) x, y, z (m), yaw (deg) of the raw opentrack pose ``raw``
    (6,) (x, y, z cm; yaw, pitch, roll deg), given the calibration ``zero`` (6,) read at
    the nominal seat and the seat's pose ``seat`` (4,) in the device frame."""
    raw = np.asarray(raw, dtype=float)
    zero = np.asarray(zero, dtype=float)
    seat = np.asarray(seat, dtype=float)
    x, y, z, yaw = raw[:4] - zero[:4]
    return np.array([seat[0] + z / CM_PER_M, seat[1] + x / CM_PER_M,
                     seat[2] + y / CM_PER_M, wrap_deg(seat[3] + yaw)])


def device_to_opentrack(pose, seat) -> np.ndarray:
    """The raw opentrack pose (6,) (zero calibration; pitch and roll 0) that
    :func:`opentrack_to_device` maps to the device pose ``pose`` (4,): what a tracker of
    ours sends to a player listening for opentrack."""
    pose = np.asarray(pose, dtype=float)
    seat = np.asarray(seat, dtype=float)
    return np.array([(pose[1] - seat[1]) * CM_PER_M, (pose[2] - seat[2]) * CM_PER_M,
                     (pose[0] - seat[0]) * CM_PER_M, wrap_deg(pose[3] - seat[3]), 0.0, 0.0])
