"""Keys typed while a live player runs, read on a thread of their own: single characters
(``z``, the tracker's zero) and the up and down arrow keys (the volume), by one listener.

On a terminal, it is put in cbreak mode (a key acts at once, unechoed, no Enter; Ctrl-C
still interrupts) and restored on :meth:`KeyListener.close`; a terminal whose foreground
this process is not in is left alone (changing its mode, or reading it, would stop the
process), so a player started in the background reads no keys. From a pipe, each
character of each line counts the same way, so ``echo z | play.py ...`` presses ``z``.
"""

from __future__ import annotations

import os
import select
import sys
from typing import TYPE_CHECKING, Callable, TextIO

from device.worker import Worker

if TYPE_CHECKING:  # only its step() is called
    from renderer.volume import VolumeControl

# The arrow keys, as a terminal sends them in either cursor mode (normal, application).
ARROWS = {"up": (b"\x1b[A", b"\x1bOA"), "down": (b"\x1b[B", b"\x1bOB")}
_POLL_S = 0.1


def _in_background_of(fd: int) -> bool:
    """True if ``fd`` is this process's controlling terminal and the process is in its
    background: then changing its mode (SIGTTOU) or reading it (SIGTTIN) stops the process.
    Another terminal (a pseudo-terminal handed in) is free to use."""
    try:
        return os.tcgetpgrp(fd) != os.getpgrp()
    except OSError:  # not the controlling terminal of this process
        return False


def volume_keys(volume: VolumeControl, *, step_db: float = 1.0,
                on_change: Callable[[float], None] | None = None
                ) -> dict[str, Callable[[], None]]:
    """Actions for :class:`KeyListener`: the up arrow raises ``volume`` by ``step_db``,
    the down arrow lowers it; ``on_change(volume_db)`` is called after each (on the
    reading thread)."""
    def step(delta_db: float) -> Callable[[], None]:
        def act() -> None:
            db = volume.step(delta_db)
            if on_change is not None:
                on_change(db)
        return act

    return {"up": step(step_db), "down": step(-step_db)}


class KeyListener(Worker):
    """Call ``actions[key]()`` for every key in ``actions`` typed on ``stream`` (a file or a
    file descriptor; default: standard input): a key is a single character or ``"up"`` /
    ``"down"`` (the arrow keys, :data:`ARROWS`); other keys are ignored. Stops at end of
    input or on :meth:`close`. :attr:`source` says what it reads: ``"terminal"``,
    ``"pipe"`` (any other file), or None (no file, or a terminal in whose background this
    process runs)."""

    def __init__(self, actions: dict[str, Callable[[], None]],
                 stream: TextIO | int | None = None):
        super().__init__("keys")
        self.actions = actions
        self._codes: dict[bytes, Callable[[], None]] = {}
        for key, action in actions.items():
            if key in ARROWS:
                self._codes.update(dict.fromkeys(ARROWS[key], action))
            elif len(key) == 1:
                self._codes[key.encode()] = action
            else:
                raise ValueError(f"key {key!r}: expected one character, 'up' or 'down'")
        self._stream = sys.stdin if stream is None else stream
        self._saved: list | None = None  # the terminal's settings, restored on close
        self.source: str | None = None

    def start(self) -> KeyListener:
        """Start reading (cbreak mode on a terminal); returns self."""
        stream = self._stream
        try:
            fd = stream if isinstance(stream, int) else stream.fileno()
        except (AttributeError, OSError, ValueError):
            return self  # no file descriptor (a test's StringIO): no keys
        if os.isatty(fd):
            if _in_background_of(fd):
                return self
            import termios
            import tty

            self._saved = termios.tcgetattr(fd)
            tty.setcbreak(fd)
            self.source = "terminal"
        else:
            self.source = "pipe"
        self._fd = fd
        return super().start()

    def _release(self) -> None:
        """Restore the terminal."""
        if self._saved is not None:
            import termios

            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
            self._saved = None

    def _run(self) -> None:
        pending = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self._fd], [], [], _POLL_S)
            if not ready:
                continue
            try:
                data = os.read(self._fd, 64)
            except OSError:  # the terminal went away
                return
            if not data:
                return  # end of input
            pending = self._dispatch(pending + data)

    def _dispatch(self, pending: bytes) -> bytes:
        """Act on every whole key at the start of ``pending``; returns the start of a key
        still to come (an arrow key split over two reads)."""
        codes = self._codes
        while pending:
            code = next((c for c in codes if pending.startswith(c)), None)
            if code is not None:
                codes[code]()
                pending = pending[len(code):]
            elif any(c.startswith(pending) for c in codes):
                break  # the rest of a key is still to come
            else:
                pending = pending[1:]  # any other key (or byte): ignored
        return pending
