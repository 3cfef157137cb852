"""Listener variety: real listeners' heads are not the standard sphere.

A :class:`HeadVariety` holds the ranges over which listeners differ: the head radius, how
far the ear canals sit behind and below the sphere's interaural axis, and the height of
the head (seated posture, chair). :func:`draw_heads` turns a seed and a random stream into
concrete :class:`ListenerHead` draws, uniform within the ranges, like the unit tolerances
of models/tolerances.py: draw 0 is the standard head at the nominal height, training and
evaluation draw from separate streams, so no judged listener was ever trained on.

:class:`HeadMix` is a head model in which listener ``p`` of a call wears head
``p % H``; :func:`with_heights` moves the same listeners by their heads' heights, so a
pool of sampled positions becomes a pool of different people.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from models._head_sphere import SphereHead
from models._listeners import Listeners
from common.errors import InputError
from models.tolerances import TRAINING_STREAM

STANDARD_HEAD = SphereHead()


@dataclass(frozen=True)
class HeadVariety:
    """Ranges (lo, hi) of the head radius (m) and of the ears' offsets behind and below
    the interaural axis (deg), and the largest head-height offset (m, either way)."""

    radius_m: tuple[float, float] = (0.075, 0.095)
    ear_back_deg: tuple[float, float] = (0.0, 10.0)
    ear_down_deg: tuple[float, float] = (0.0, 10.0)
    height_m: float = 0.05

    def __post_init__(self):
        for name, lo_min, hi_max in (("radius_m", 0.0, 0.2), ("ear_back_deg", -45.0, 45.0),
                                     ("ear_down_deg", -45.0, 45.0)):
            lo, hi = getattr(self, name)
            if not (np.isfinite(lo) and np.isfinite(hi) and lo_min <= lo <= hi <= hi_max) or \
                    (name == "radius_m" and lo <= 0):
                raise InputError(f"listeners.{name}: expected [lo, hi] with "
                                 f"{lo_min:g} {'<' if name == 'radius_m' else '<='} lo <= hi "
                                 f"<= {hi_max:g}, got {[lo, hi]}")
        if not (np.isfinite(self.height_m) and 0.0 <= self.height_m <= 0.5):
            raise InputError(f"listeners.height_m: expected a number in [0, 0.5], got "
                             f"{self.height_m}")


@dataclass(frozen=True)
class ListenerHead:
    """One listener: a sphere head and the height of its centre over the nominal one (m)."""

    head: SphereHead
    height_m: float


def draw_heads(variety: HeadVariety, count: int, seed: int, stream: int = TRAINING_STREAM
               ) -> tuple[ListenerHead, ...]:
    """``count`` listeners (draw 0 the standard head at the nominal height), a function of
    ``seed`` and ``stream`` only."""
    if count < 1:
        raise InputError(f"listeners.heads: expected at least 1, got {count}")
    rng = np.random.default_rng([seed, 104729, stream])
    draws = [ListenerHead(STANDARD_HEAD, 0.0)]
    for _ in range(count - 1):
        radius = rng.uniform(*variety.radius_m)
        back = rng.uniform(*variety.ear_back_deg)
        down = rng.uniform(*variety.ear_down_deg)
        height = rng.uniform(-variety.height_m, variety.height_m)
        draws.append(ListenerHead(SphereHead(radius_m=radius, ear_angle_deg=90.0 + back,
                                             ear_elevation_deg=-down), height))
    return tuple(draws)


@dataclass(frozen=True)
class HeadMix:
    """A head model for P listeners in which listener ``p`` wears ``heads[p % H]``."""

    heads: tuple[SphereHead, ...]

    def relative_response(self, freqs_hz: np.ndarray, sources_m: np.ndarray,
                          speed_of_sound_m_s: float) -> np.ndarray:
        """Complex (F, P, 2, S) as :meth:`SphereHead.relative_response`, per listener."""
        count = len(self.heads)
        out = np.empty((np.asarray(freqs_hz).shape[0], sources_m.shape[0], 2,
                        sources_m.shape[1]), complex)
        for h, head in enumerate(self.heads):
            out[:, h::count] = head.relative_response(freqs_hz, sources_m[h::count],
                                                      speed_of_sound_m_s)
        return out


def head_mix(draws: tuple[ListenerHead, ...]) -> HeadMix:
    """The head model of ``draws`` (listener ``p`` wears draw ``p % len(draws)``)."""
    return HeadMix(tuple(d.head for d in draws))


def with_heights(listeners: Listeners, draws: tuple[ListenerHead, ...]) -> Listeners:
    """The listeners raised by the height of the draw each wears (``p % len(draws)``)."""
    heights = np.array([d.height_m for d in draws])[np.arange(len(listeners)) % len(draws)]
    return replace(listeners, positions_m=listeners.positions_m + heights[:, None] *
                   np.array([0.0, 0.0, 1.0]))
