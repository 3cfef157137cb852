"""Effort and headroom limits: how hard the array may drive its drivers.

Array effort of an input channel is ``sum_d |W_d(f)|^2`` (the power the drivers take for
unit input); it is referred to its mean over :data:`EFFORT_REF_BAND_HZ`, where every
design plays at about unit effort. Headroom is the per-driver worst-case gain for
full-scale sinusoids on L, R and C together, ``max_f sum_c |W_cd(f)|`` in dB: what the
renderer must attenuate by (renderer.export.headroom_db), i.e. loudness lost.
"""

from __future__ import annotations

from dataclasses import dataclass

EFFORT_REF_BAND_HZ = (1000.0, 4000.0)


@dataclass(frozen=True)
class EffortTarget:
    """Limits in dB: effort ``excess_db`` above its reference band, ``ceiling_db`` above one
    driver at unit gain, and the bank's ``headroom_db``."""

    excess_db: float = 12.0
    ceiling_db: float = 15.0
    headroom_db: float = 12.0
