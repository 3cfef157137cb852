"""Choosing a head model: ``"sphere"``, ``"free"``, a ``.sofa`` path, or a model object.

Every head model has ``relative_response(freqs_hz, sources_m, c) -> (F, P, 2, S)``: the
pressure at the left and right ear over the free-field pressure at the head centre, for
sources at ``(P, S, 3)`` positions in the head frame (x forward, y left, z up).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from common.errors import InputError
from models._head_free import FreeFieldHead
from models._head_sphere import SphereHead


class HeadModel(Protocol):
    def relative_response(self, freqs_hz: np.ndarray, sources_m: np.ndarray,
                          speed_of_sound_m_s: float) -> np.ndarray: ...


def resolve_head(head: "str | Path | HeadModel", sample_rate_hz: float | None = None
                 ) -> HeadModel:
    """Turn a head argument into a head model; strings name a model or a SOFA file, which
    is resampled to ``sample_rate_hz`` when that is given and differs from the file's."""
    if hasattr(head, "relative_response"):
        return head
    text = str(head)
    if text == "sphere":
        return SphereHead()
    if text == "free":
        return FreeFieldHead()
    if text.lower().endswith(".sofa"):
        from models._head_sofa import SofaHead  # sofar is only needed here
        measured = SofaHead.from_file(text)
        return measured if sample_rate_hz is None else measured.at_rate(sample_rate_hz)
    raise InputError(f"head: expected 'sphere', 'free' or a path to a .sofa file, got {text!r}")
