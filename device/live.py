"""Block renderers for live playback: a fixed block in, the driver feeds out, no allocation.

A live player (``device.jackplay``) drives any object with this shape
(:class:`BlockRenderer`), so a head-tracked renderer can take the bank's place:

- ``inputs``: channels per input block; ``outputs``: the driver names, in feed order;
- ``block``: samples per call; ``latency``: samples from an input sample to the same
  sample in the feeds (upmix, the bank's bulk delay and the limiter's look-ahead);
- ``process(block) -> feeds``: ``(inputs, block)`` float32 in, ``(D, block)`` float32 out,
  a buffer owned by the renderer and valid until the next call;
- ``tail``: samples to feed after the input ends to flush everything out;
- ``reset()``: forget all past input.
"""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from common.errors import InputError
from renderer.convolver import check_block_size
from renderer.filterbank import INPUT_CHANNELS, FilterBank
from renderer.ladder import Ladder
from renderer.limiter import Limiter
from renderer.trackedbank import TrackedBank
from renderer.upmix import DEFAULT_FRAME, Upmixer
from renderer.volume import LadderConvolver


class BlockRenderer(Protocol):
    inputs: int
    outputs: tuple[str, ...]
    block: int
    latency: int
    tail: int

    def process(self, block: np.ndarray) -> np.ndarray: ...

    def reset(self) -> None: ...


class BankRenderer:
    """A filter bank or a ladder of banks as a :class:`BlockRenderer`: ``stereo`` input is
    upmixed to L, R, C then filtered with ``taps``; ``lrc`` goes to ``taps``, ``binaural``
    to ``ctc_taps``. Each block plays at the level ``gain_db + volume()`` dB with the rung
    that fits it (renderer.volume.LadderConvolver; ``volume`` None: 0 dB); a tracked bank
    (or ladder) plays the cell nearest the pose that ``pose()`` returns for each block
    (None, or no ``pose``: the nominal cell) and counts the blocks played in each cell in
    ``cell_blocks`` (None for plain banks); a change of rung, cell or level crossfades over
    the block. With ``limiter`` the feeds then go through a look-ahead limiter
    (renderer.limiter.Limiter), whose look-ahead adds to :attr:`latency`. Every buffer is
    allocated here, none per call."""

    def __init__(self, bank: FilterBank | TrackedBank | Ladder, block: int, *,
                 input_kind: str = "stereo", upmix_mode: str = "frequency",
                 upmix_frame: int = DEFAULT_FRAME, gain_db: float = 0.0,
                 pose: Callable[[], object] | None = None,
                 volume: Callable[[], float] | None = None, limiter: bool = True):
        if input_kind not in INPUT_CHANNELS:
            raise InputError(f"--input: expected one of {', '.join(INPUT_CHANNELS)}, "
                             f"got {input_kind!r}")
        if not np.isfinite(gain_db):
            raise InputError(f"--gain-db: expected a finite number of dB, got {gain_db!r}")
        self.block = check_block_size(block)
        self.inputs = len(INPUT_CHANNELS[input_kind])
        self.outputs = tuple(bank.driver_names)
        self._feeds = np.zeros((len(self.outputs), self.block), np.float32)
        self._pose = pose or (lambda: None)
        self._volume = volume or (lambda: 0.0)
        self._gain_db = float(gain_db)
        self.convolver = LadderConvolver(bank, self.block, input_kind=input_kind,
                                         dtype=np.float32)
        self.cell_blocks: np.ndarray | None = None  # (K,) blocks played in each cell
        if self.convolver.n_cells is not None:
            self.cell_blocks = np.zeros(self.convolver.n_cells, np.int64)
        self.limiter = None
        if limiter:
            self.limiter = Limiter(len(self.outputs), bank.sample_rate, max_block=self.block)
            self._limited = np.zeros_like(self._feeds)
        self._upmixer = None
        upmix_latency = 0
        if input_kind == "stereo":
            self._upmixer = Upmixer(bank.sample_rate, mode=upmix_mode, frame=upmix_frame)
            self._lrc = np.zeros((3, self.block), np.float32)
            # At most one STFT frame per upmix call keeps every ufunc operand contiguous,
            # the condition for NumPy to allocate no iterator buffers.
            self._step = min(self.block, self._upmixer.hop)
            upmix_latency = self._upmixer.latency
        lookahead = 0 if self.limiter is None else self.limiter.latency
        self.latency = upmix_latency + int(bank.manifest["latency_samples"]) + lookahead
        self.tail = upmix_latency + self.convolver.n_taps - 1 + lookahead

    def reset(self) -> None:
        """Forget all past input: the next block starts a new stream (and new limiter
        counts)."""
        self.convolver.reset()
        if self._upmixer is not None:
            self._upmixer.reset()
        if self.cell_blocks is not None:
            self.cell_blocks[:] = 0
        if self.limiter is not None:
            self.limiter.reset()
            self.limiter.stats.clear()

    def process(self, block: np.ndarray) -> np.ndarray:
        """``(inputs, block)`` float32 -> ``(D, block)`` float32 feeds (internal buffer)."""
        if self._upmixer is not None:
            step = self._step
            for i in range(0, self.block, step):
                self._upmixer.process(block[:, i:i + step], out=self._lrc[:, i:i + step])
            block = self._lrc
        feeds = self.convolver.process(block, self._gain_db + self._volume(), self._pose(),
                                       out=self._feeds)
        if self.cell_blocks is not None:  # always, for tracked banks
            self.cell_blocks[self.convolver.cell] += 1
        if self.limiter is None:
            return feeds
        return self.limiter.process(feeds, out=self._limited)
