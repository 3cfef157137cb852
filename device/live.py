"""Block renderers for live playback: a fixed block in, the driver feeds out, no allocation.

A live player (``device.jackplay``) drives any object with this shape
(:class:`BlockRenderer`), so a head-tracked renderer can take the bank's place:

- ``inputs``: channels per input block; ``outputs``: the driver names, in feed order;
- ``block``: samples per call; ``latency``: samples from an input sample to the same
  sample in the feeds (upmix plus the bank's bulk delay);
- ``process(block) -> feeds``: ``(inputs, block)`` float32 in, ``(D, block)`` float32 out,
  a buffer owned by the renderer and valid until the next call;
- ``tail``: samples to feed after the input ends to flush everything out;
- ``reset()``: forget all past input.
"""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from common.errors import InputError
from renderer.convolver import Convolver, check_block_size
from renderer.filterbank import INPUT_CHANNELS, FilterBank
from renderer.tracked import TrackedConvolver
from renderer.trackedbank import TrackedBank
from renderer.upmix import DEFAULT_FRAME, Upmixer


class BlockRenderer(Protocol):
    inputs: int
    outputs: tuple[str, ...]
    block: int
    latency: int
    tail: int

    def process(self, block: np.ndarray) -> np.ndarray: ...

    def reset(self) -> None: ...


class BankRenderer:
    """A filter bank as a :class:`BlockRenderer`: ``stereo`` input is upmixed to L, R, C
    then filtered with ``taps``; ``lrc`` goes to ``taps``, ``binaural`` to ``ctc_taps``.
    ``gain_db`` is folded into the taps. Every buffer is allocated here, none per call
    with a plain bank. A tracked bank (renderer.trackedbank) plays the cell nearest the pose
    that ``pose()`` returns for each block (None, or no ``pose``: the nominal cell),
    crossfading on a change of cell (renderer.tracked.TrackedConvolver), and counts the
    blocks played in each cell in ``cell_blocks`` (None for a plain bank)."""

    def __init__(self, bank: FilterBank | TrackedBank, block: int, *,
                 input_kind: str = "stereo", upmix_mode: str = "frequency",
                 upmix_frame: int = DEFAULT_FRAME, gain_db: float = 0.0,
                 pose: Callable[[], object] | None = None):
        if input_kind not in INPUT_CHANNELS:
            raise InputError(f"--input: expected one of {', '.join(INPUT_CHANNELS)}, "
                             f"got {input_kind!r}")
        if not np.isfinite(gain_db):
            raise InputError(f"--gain-db: expected a finite number of dB, got {gain_db!r}")
        self.block = check_block_size(block)
        self.inputs = len(INPUT_CHANNELS[input_kind])
        self.outputs = tuple(bank.driver_names)
        taps = bank.ctc_taps if input_kind == "binaural" else bank.taps
        gain = np.float32(10.0 ** (gain_db / 20.0))
        self._feeds = np.zeros((len(self.outputs), self.block), np.float32)
        self._pose = pose or (lambda: None)
        self._conv: Convolver | TrackedConvolver
        self.cell_blocks: np.ndarray | None = None  # (K,) blocks played in each cell
        if isinstance(bank, TrackedBank):
            self._conv = TrackedConvolver(taps * gain, bank.cells, self.block,
                                          nominal=bank.nominal_cell, dtype=np.float32)
            self.cell_blocks = np.zeros(len(bank.cells), np.int64)
        else:
            self._conv = Convolver(taps * gain, self.block, dtype=np.float32)
        self._upmixer = None
        upmix_latency = 0
        if input_kind == "stereo":
            self._upmixer = Upmixer(bank.sample_rate, mode=upmix_mode, frame=upmix_frame)
            self._lrc = np.zeros((3, self.block), np.float32)
            # At most one STFT frame per upmix call keeps every ufunc operand contiguous,
            # the condition for NumPy to allocate no iterator buffers.
            self._step = min(self.block, self._upmixer.hop)
            upmix_latency = self._upmixer.latency
        self.latency = upmix_latency + int(bank.manifest["latency_samples"])
        self.tail = upmix_latency + taps.shape[-1] - 1

    def reset(self) -> None:
        """Forget all past input: the next block starts a new stream."""
        self._conv.reset()
        if self._upmixer is not None:
            self._upmixer.reset()
        if self.cell_blocks is not None:
            self.cell_blocks[:] = 0

    def process(self, block: np.ndarray) -> np.ndarray:
        """``(inputs, block)`` float32 -> ``(D, block)`` float32 feeds (internal buffer)."""
        if self._upmixer is not None:
            step = self._step
            for i in range(0, self.block, step):
                self._upmixer.process(block[:, i:i + step], out=self._lrc[:, i:i + step])
            block = self._lrc
        if isinstance(self._conv, TrackedConvolver):
            np.copyto(self._feeds, self._conv.process(block, self._pose()))
            if self.cell_blocks is not None:  # always, for a tracked bank
                self.cell_blocks[self._conv.cell] += 1
            return self._feeds
        return self._conv.process(block, out=self._feeds)
