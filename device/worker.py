"""A background thread that a tracker, a key reader or a camera runs on until closed."""

from __future__ import annotations

import threading


class Worker:
    """Runs ``self._run()`` on a daemon thread named ``name`` from :meth:`start` until
    :meth:`close`, which sets ``self._stop``, waits for the thread and calls
    ``self._release()`` (a subclass frees its socket, camera or terminal there). Usable
    as a context manager."""

    def __init__(self, name: str):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)

    def _run(self) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        """Free what the worker holds; called once the thread has stopped."""

    def start(self):
        """Start the thread; returns self."""
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop the thread and free what it held."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._release()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
