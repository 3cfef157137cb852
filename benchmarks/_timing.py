"""Timing helper shared by the benchmark scripts."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np


def timed(fn: Callable[[], object], repeats: int) -> np.ndarray:
    """Wall-clock seconds of ``repeats`` calls of ``fn`` (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return np.array(times)
