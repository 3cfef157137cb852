"""Single keys typed while a live player runs, read on a thread of their own.

On a terminal, standard input is put in cbreak mode (a key acts at once, no Enter; Ctrl-C
still interrupts) and restored on :meth:`KeyListener.close`; from a pipe, each character
of each line counts the same way, so ``echo z | play.py ...`` presses ``z``.
"""

from __future__ import annotations

import os
import select
import sys
from typing import Callable, TextIO

from device.worker import Worker

_POLL_S = 0.2


class KeyListener(Worker):
    """Call ``actions[key]()`` for every key in ``actions`` typed on ``stream`` (default:
    standard input); other keys are ignored. Stops at end of input or on :meth:`close`."""

    def __init__(self, actions: dict[str, Callable[[], None]], stream: TextIO | None = None):
        super().__init__("keys")
        self.actions = actions
        self._stream = sys.stdin if stream is None else stream
        self._saved: list | None = None  # the terminal's settings, restored on close

    def start(self) -> KeyListener:
        """Start reading (cbreak mode on a terminal); returns self."""
        try:
            fd = self._stream.fileno()
        except (AttributeError, OSError, ValueError):
            return self  # no file descriptor (a test's StringIO): no keys
        if os.isatty(fd):
            import termios
            import tty

            self._saved = termios.tcgetattr(fd)
            tty.setcbreak(fd)
        self._fd = fd
        return super().start()

    def _release(self) -> None:
        """Restore the terminal."""
        if self._saved is not None:
            import termios

            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
            self._saved = None

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._fd], [], [], _POLL_S)
            if not ready:
                continue
            data = os.read(self._fd, 64)
            if not data:
                return  # end of input
            for key in data.decode(errors="replace"):
                action = self.actions.get(key)
                if action is not None:
                    action()
