"""Headroom: the attenuation a bank needs so that no driver feed exceeds full scale, the
margin each input kind adds, the rung of a ladder (renderer.ladder) that fits a level, the
levels at which each rung plays, and the range of volumes. NumPy only, and light enough for
an argument parser.

**The rung for a volume.** At a level ``V`` dB (the volume plus any gain, 0 = full scale)
the renderer plays the rung with the most headroom ``H`` such that ``V + H <= -margin``,
and the rung with the least headroom where none fits (the limiter then keeps the feeds
within full scale). The headroom figure is the gain of full-scale sinusoids on every input
channel in the worst phase, so ``V + H <= 0`` keeps such inputs within full scale. The
stereo upmix can give a channel more than its input: ``C = sqrt(2) g Mc`` reaches
``sqrt(2)`` for an in-phase full-scale stereo signal, and since the upmix keeps the power
of each bin (``|L|^2 + |R|^2 + |C|^2 = |in_L|^2 + |in_R|^2 <= 2``), by Cauchy-Schwarz no
stereo sinusoid drives the feeds above ``sqrt(2)`` times the figure. The margin is
therefore 3.01 dB (``20 log10 sqrt 2``) for stereo input and 0 dB for ``lrc`` and
``binaural`` input, whose channels reach the filters as they are: with it, no stationary
full-scale input makes the limiter act at a volume where a rung fits.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from common.errors import InputError

MARGIN_DB = {"stereo": 20.0 * math.log10(math.sqrt(2.0)), "lrc": 0.0, "binaural": 0.0}
MIN_VOLUME_DB = -90.0  # volumes run from here to 0 dB (full scale)


def check_volume(value, option: str = "--volume-db") -> float:
    """``value`` as a float volume in dB from MIN_VOLUME_DB to 0, else InputError naming
    ``option``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not MIN_VOLUME_DB <= value <= 0.0:
        raise InputError(f"{option}: expected a volume from {MIN_VOLUME_DB:g} to 0 dB "
                         f"(0 = full scale), got {value!r}")
    return float(value)


def headroom_db(taps: np.ndarray) -> float:
    """dB of attenuation (>= 0) that keeps every driver feed at or below full scale for
    full-scale sinusoids on all inputs in the worst phase: ``max_{d,f} sum_i |H_id(f)|``."""
    n = 1 << int(np.ceil(np.log2(8 * taps.shape[-1])))
    gain = np.abs(np.fft.rfft(taps.astype(float), n=n, axis=-1)).sum(axis=0).max()
    return max(0.0, 20.0 * np.log10(gain)) if gain > 0 else 0.0


def choose_rung(headroom_db: Sequence[float], level_db: float, margin_db: float) -> int:
    """Index of the rung with the most headroom ``H`` such that ``level_db <= -(H +
    margin_db)``; where none fits, of the rung with the least headroom. Among equal
    headrooms the later rung wins."""
    best = None
    for k, h in enumerate(headroom_db):
        if level_db <= -(h + margin_db) and (best is None or h >= headroom_db[best]):
            best = k
    if best is None:
        best = min(range(len(headroom_db)), key=lambda k: (headroom_db[k], -k))
    return best


def volume_ranges(headroom_db: Sequence[float], margin_db: float
                  ) -> list[tuple[float, float] | None]:
    """Per rung, the levels (dB) at which :func:`choose_rung` plays it: ``(low, high)``
    meaning ``low < level <= high`` (``-inf`` / ``inf`` open ends), or None for a rung that
    never plays (another with the same headroom wins)."""
    tops = [-(h + margin_db) for h in headroom_db]
    fallback = choose_rung(headroom_db, math.inf, margin_db)
    ranges: list[tuple[float, float] | None] = []
    for k, h in enumerate(headroom_db):
        better = [tops[j] for j, g in enumerate(headroom_db) if g > h or (g == h and j > k)]
        low, high = max(better, default=-math.inf), math.inf if k == fallback else tops[k]
        ranges.append((low, high) if low < high else None)
    return ranges


def describe_range(span: tuple[float, float] | None, gain_db: float = 0.0) -> str:
    """A :func:`volume_ranges` entry as volumes (the level less ``gain_db``) in words."""
    if span is None:
        return "no volume (a later rung has the same headroom)"
    low, high = span[0] - gain_db, span[1] - gain_db
    if math.isinf(high):
        return f"every volume above {low:.2f} dB" if math.isfinite(low) else "every volume"
    if math.isinf(low):
        return f"volumes up to {high:.2f} dB"
    return f"volumes above {low:.2f} dB up to {high:.2f} dB"


def rung_lines(names: Sequence[str], headrooms: Sequence[float], margin_db: float,
               gain_db: float = 0.0) -> list[str]:
    """One line per rung: its name, headroom, the volumes it plays at (:func:`volume_ranges`,
    :func:`describe_range`) and the highest volume at which it fits."""
    return [f"rung {k} {name}: headroom {headroom:.2f} dB, plays at "
            f"{describe_range(span, gain_db)}; fits up to "
            f"{-(headroom + margin_db) - gain_db:.2f} dB"
            for k, (name, headroom, span) in enumerate(
                zip(names, headrooms, volume_ranges(headrooms, margin_db)))]
