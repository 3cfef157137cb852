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


def interleaved(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Best seconds of each run, the runs taking turns so that a change of the machine's
    load during the benchmark hits all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            times[name].append(timed(fn, 1)[0])
    return {name: min(t) for name, t in times.items()}
