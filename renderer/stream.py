"""Chaining streaming stages of any block length: ``process(block)`` then ``flush()``.

Each stage takes ``(channels, n)`` blocks of any length and returns blocks of any length;
``flush()`` returns what is still inside once the input has ended (an empty block,
of any channel count, when nothing is). :func:`run` drives a
chain over an iterable of blocks, so a whole file never has to be in memory.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Protocol

import numpy as np


class Stage(Protocol):
    def process(self, block: np.ndarray) -> np.ndarray: ...

    def flush(self) -> np.ndarray: ...


class BlockFilter(Protocol):
    """A filter of fixed blocks: ``(inputs, block_size)`` in, ``(outputs, block_size)`` out
    (:class:`renderer.convolver.Convolver`, :class:`renderer.tracked.PoseFollower`)."""

    inputs: int
    outputs: int
    block_size: int

    def process(self, block: np.ndarray) -> np.ndarray: ...

    def reset(self) -> None: ...


class Aligned:
    """Cancel the fixed ``latency`` of a processor (e.g. :class:`renderer.upmix.Upmixer`):
    the first ``latency`` outputs are dropped and :meth:`flush` feeds that many zeros, so
    the output lines up with the input sample for sample and has the same length."""

    def __init__(self, processor, inputs: int):
        self._processor = processor
        self._inputs = inputs
        self._drop = processor.latency

    def process(self, block: np.ndarray) -> np.ndarray:
        out = self._processor.process(block)
        drop = min(self._drop, out.shape[1])
        self._drop -= drop
        return out[:, drop:]

    def flush(self) -> np.ndarray:
        out = self.process(np.zeros((self._inputs, self._processor.latency)))
        self._processor.reset()
        self._drop = self._processor.latency
        return out


class Blocked:
    """Feed a :class:`BlockFilter` from blocks of any length; :meth:`flush` pushes the filter
    tail out, so the total output is ``n + N - 1`` samples for ``n`` in."""

    def __init__(self, convolver: BlockFilter, n_taps: int):
        self._conv = convolver
        self._tail = n_taps - 1
        self._pending = np.zeros((convolver.inputs, 0), np.float32)
        self._received = 0
        self._sent = 0

    def process(self, block: np.ndarray) -> np.ndarray:
        self._received += block.shape[1]
        buf = np.concatenate([self._pending, block], axis=1)
        b = self._conv.block_size
        whole = buf.shape[1] // b * b
        self._pending = buf[:, whole:]
        out = [self._conv.process(buf[:, i:i + b]) for i in range(0, whole, b)]
        return self._collect(out)

    def flush(self) -> np.ndarray:
        total = self._received + self._tail
        b = self._conv.block_size
        missing = total - self._sent - self._pending.shape[1]
        pad = -(-(self._pending.shape[1] + missing) // b) * b - self._pending.shape[1]
        buf = np.concatenate([self._pending, np.zeros((self._conv.inputs, pad))], axis=1)
        out = self._collect([self._conv.process(buf[:, i:i + b])
                             for i in range(0, buf.shape[1], b)])[:, :total - self._sent]
        self._conv.reset()
        self._pending = np.zeros((self._conv.inputs, 0), np.float32)
        self._received = self._sent = 0
        return out

    def _collect(self, blocks: list[np.ndarray]) -> np.ndarray:
        out = np.concatenate(blocks, axis=1) if blocks else np.zeros((self._conv.outputs, 0))
        self._sent += out.shape[1]
        return out


def run(stages: list[Stage], blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Push ``blocks`` through ``stages`` in order, then flush each stage in turn; yields
    the non-empty outputs of the last stage."""
    for block in blocks:
        out = _through(stages, block)
        if out.shape[1]:
            yield out
    for i, stage in enumerate(stages):
        out = _through(stages[i + 1:], stage.flush())
        if out.shape[1]:
            yield out


def _through(stages: list[Stage], block: np.ndarray) -> np.ndarray:
    for stage in stages:
        if not block.shape[1]:
            break
        block = stage.process(block)
    return block
