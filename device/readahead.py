"""A sound file decoded ahead of a real-time consumer, and real-time scheduling for the
threads around it.

:class:`FileSource` checks a file against the renderer's channels and rate, then a thread
decodes it in chunks into a queue; the consumer takes ``(channels, period)`` views and
never touches the disk.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from pathlib import Path

import numpy as np

from common.errors import InputError
from renderer.wavio import open_input

QUEUE_SECONDS = 1.0  # how far the file reader runs ahead of the callback
CHUNK_BLOCKS = 32  # periods the reader decodes at a time
REALTIME_PRIORITY = 5  # SCHED_FIFO for the player's other threads, far below JACK's


def realtime(priority: int) -> int | None:
    """Put the calling thread on SCHED_FIFO ``priority`` where the system allows; returns
    the previous policy, or None. A thread that holds the GIL must not be preempted by
    ordinary processes while the JACK callback (real-time) waits for it."""
    try:
        previous = os.sched_getscheduler(0)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        return previous
    except (AttributeError, OSError):
        return None


class FileSource:
    """A sound file checked against the renderer's ``channels`` and ``rate``; once
    started, blocks ``(channels, period)`` float32 decoded ahead by a thread, then ``tail``
    samples of silence, then ``None``. A mono file for 2 channels becomes
    ``L = R = x / sqrt(2)`` (stereo: all of it in C)."""

    def __init__(self, path: str | Path, channels: int, rate: int):
        self._snd = open_input(path)
        file_rate, file_channels = self._snd.samplerate, self._snd.channels
        if file_rate != rate:
            self._snd.close()
            raise InputError(f"{path}: sample rate {file_rate} Hz does not match the JACK "
                             f"server's and the filter bank's {rate} Hz; convert it first "
                             f"(e.g. with sox)")
        if file_channels != channels and not (channels == 2 and file_channels == 1):
            self._snd.close()
            raise InputError(f"{path}: the input needs {channels} channel(s), the file has "
                             f"{file_channels}")
        self._channels, self._rate = channels, rate
        self._stop = threading.Event()
        self.error: Exception | None = None
        self._thread: threading.Thread | None = None

    def start(self, period: int, tail: int) -> None:
        """Start decoding; return once the queue is full or the whole file is in it."""
        self._period, self._tail = period, tail
        chunk_s = CHUNK_BLOCKS * period / self._rate
        self._queue: queue.Queue = queue.Queue(
            maxsize=max(2, int(QUEUE_SECONDS / chunk_s)))
        self._chunk, self._next = np.zeros((self._channels, 0), np.float32), 0
        self._thread = threading.Thread(target=self._read, name="soundstage-reader", daemon=True)
        self._thread.start()
        while not self._queue.full() and self._thread.is_alive():
            time.sleep(0.01)

    def _read(self) -> None:
        """Decode chunks of CHUNK_BLOCKS periods (few wake-ups, so the GIL is rarely held
        when the callback wants it), then the tail's silence, padded to whole periods."""
        realtime(REALTIME_PRIORITY)
        size = CHUNK_BLOCKS * self._period
        try:
            with self._snd:
                left = self._snd.frames + self._tail
                left += -left % self._period
                while left > 0 and not self._stop.is_set():
                    data = self._snd.read(min(size, left), dtype="float32", always_2d=True)
                    bad = ~np.isfinite(data)
                    if bad.any():
                        frame = self._snd.tell() - len(data) + int(np.argmax(bad.any(axis=1)))
                        raise InputError(f"{self._snd.name}: NaN or infinite sample at frame "
                                         f"{frame}; expected finite audio")
                    chunk = np.zeros((self._channels, min(size, left)), np.float32)
                    if data.shape[1] == 1 and self._channels == 2:
                        chunk[:, :len(data)] = data[:, 0] / np.float32(np.sqrt(2.0))
                    else:
                        chunk[:, :len(data)] = data.T
                    left -= chunk.shape[1]
                    self._put(chunk)
        except Exception as exc:  # reported by the player after the run
            self.error = exc
        self._put(None)

    def _put(self, item) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def next(self):
        """The next ``(channels, period)`` block (a view), ``None`` at the end, or
        ``False`` if none is ready yet."""
        if self._next >= self._chunk.shape[1]:
            try:
                chunk = self._queue.get_nowait()
            except queue.Empty:
                return False
            if chunk is None:
                return None
            self._chunk, self._next = chunk, 0
        start = self._next
        self._next += self._period
        return self._chunk[:, start:start + self._period]

    def close(self) -> None:
        self._stop.set()
        if self._thread is None:
            self._snd.close()
        else:
            self._thread.join(timeout=2)
