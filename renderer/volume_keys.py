"""Volume keys: the up and down arrow keys of a terminal step a
:class:`renderer.volume.VolumeControl` while something plays.

A thread reads the terminal in cbreak mode (keys arrive one by one, unechoed; Ctrl-C still
interrupts) and puts the terminal back as it was on :meth:`VolumeKeys.close`.
"""

from __future__ import annotations

import os
import select
import termios
import threading
import tty
from typing import Callable

from renderer.volume import VolumeControl

KEYS = {b"\x1b[A": 1, b"\x1bOA": 1, b"\x1b[B": -1, b"\x1bOB": -1}  # up, down (both modes)
POLL_S = 0.1


def foreground_terminal(stream) -> int | None:
    """The file descriptor of ``stream`` if it is a terminal whose foreground this process
    is in (so its mode can be changed without the process being stopped), else None."""
    try:
        fd = stream.fileno()
        return fd if os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp() else None
    except (AttributeError, OSError, ValueError):  # no file behind it, or no terminal
        return None


class VolumeKeys:
    """Step ``volume`` by ``step_db`` per up-arrow key (down: by ``-step_db``) typed on the
    terminal ``fd``; ``on_change(volume_db)`` is called (on the reading thread) after each."""

    def __init__(self, volume: VolumeControl, fd: int, *, step_db: float = 1.0,
                 on_change: Callable[[float], None] | None = None):
        self.volume, self.fd, self.step_db = volume, fd, step_db
        self._on_change = on_change or (lambda db: None)
        self._stop = threading.Event()
        self._saved = None
        self._thread = threading.Thread(target=self._read, name="volume-keys", daemon=True)

    def start(self) -> VolumeKeys:
        """Switch the terminal to cbreak mode and start reading; returns self."""
        self._saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop reading and restore the terminal."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            self._saved = None

    def __enter__(self) -> VolumeKeys:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def _read(self) -> None:
        pending = b""
        while not self._stop.is_set():
            if not select.select([self.fd], [], [], POLL_S)[0]:
                continue
            try:
                data = os.read(self.fd, 64)
            except OSError:  # the terminal went away
                return
            if not data:
                return
            pending += data
            while pending:
                key = next((k for k in KEYS if pending.startswith(k)), None)
                if key is not None:
                    self._on_change(self.volume.step(KEYS[key] * self.step_db))
                    pending = pending[len(key):]
                elif any(k.startswith(pending) for k in KEYS):
                    break  # the rest of a key is still to come
                else:
                    pending = pending[1:]  # any other key: ignored
