"""A real JACK server for tests: ``jackd`` on its dummy backend (no sound card needed).

tests/conftest.py makes them fixtures of every test module; a module that imported them
itself would get servers of its own.

- ``jack_server``: session fixture, the name of a server at 48 kHz, period 256.
- ``jack_server_factory``: session fixture, ``make(period=256, rate=48000, realtime=False,
  sync=False) -> name``; one server per setting, started on first use and kept for the
  session. ``realtime=True`` runs ``jackd -R`` (SCHED_FIFO, as in production) instead of
  ``--no-realtime`` (where the system refuses real-time scheduling, jackd warns and runs
  without it); ``sync=True`` adds ``-S``: each cycle waits for every client, so a late
  client delays the cycle instead of losing its block.
- ``server_log(name) -> str``: what that server has printed so far (its xrun lines name
  the late client, or say that the driver itself woke late).

Clients connect with ``jack.Client(..., servername=name, no_start_server=True)`` or with
``JACK_DEFAULT_SERVER=name`` in their environment. Every server is killed at teardown. The
fixtures skip, with the reason, where ``jackd`` or the ``jack`` module is missing or the
server does not start.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from device.jackplay import close_client as jackplay_close_client

START_TIMEOUT_S = 10.0


def _can_connect(name: str) -> bool:
    """Whether a client can open on server ``name`` right now (never starts a server)."""
    import jack

    try:
        client = jack.Client("soundstage-probe", servername=name, no_start_server=True)
    except jack.JackError:
        return False
    client.close()
    return True


LOGS: dict[str, Path] = {}  # server name -> its log file


def server_log(name: str) -> str:
    """Everything the server ``name`` (started here) has printed so far."""
    return LOGS[name].read_text(errors="replace")




INTERRUPTIBLE = [sys.executable, str(Path(__file__).with_name("interruptible.py"))]
"""Command prefix for a script a test stops with SIGINT (tests/interruptible.py)."""

def _start(period: int, rate: int, realtime: bool, sync: bool, name: str | None = None
           ) -> tuple[str, subprocess.Popen]:
    """Start ``jackd`` on the dummy backend (named ``name``, default a fresh name); wait
    until a client can connect, or skip."""
    if shutil.which("jackd") is None:
        pytest.skip("jackd is not installed (Debian package 'jackd2'; .ci/run installs it)")
    try:
        import jack
    except (ImportError, OSError) as exc:  # OSError: libjack missing under the module
        pytest.skip(f"the JACK-Client module cannot load: {exc}")
    jack.set_error_function(lambda message: None)  # connection probes fail until ready
    name = name or f"soundstage-test-{os.getpid()}-{period}-{uuid.uuid4().hex[:8]}"
    cmd = ["jackd", *(["-R", "-P", "70"] if realtime else ["--no-realtime"]),
           *(["-S"] if sync else []), "-n", name, "-d", "dummy", "-r", str(rate),
           "-p", str(period)]
    env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
    fd, log_name = tempfile.mkstemp(prefix=f"{name}.", suffix=".log")
    LOGS[name] = Path(log_name)
    log = os.fdopen(fd, "w+")  # a file, not a pipe: a full pipe would stall jackd
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            said = log.read().strip()[-500:]
            log.close()
            LOGS.pop(name).unlink(missing_ok=True)
            pytest.skip(f"jackd could not start ({' '.join(cmd)} exited with {proc.returncode}): "
                        f"{said}")
        if _can_connect(name):
            log.close()  # the process keeps its own handle
            return name, proc
        time.sleep(0.1)
    log.close()
    _stop(proc)
    LOGS.pop(name).unlink(missing_ok=True)
    pytest.skip(f"jackd did not accept clients within {START_TIMEOUT_S:.0f} s: {' '.join(cmd)}")


CLIENT_CLOSE_TIMEOUT_S = 10.0


def close_client(client) -> None:
    """Deactivate and close a test's own ``jack.Client`` with the players' time-limited
    guard (``device.jackplay.close_client``), giving up after ``CLIENT_CLOSE_TIMEOUT_S``:
    on a loaded machine ``jack_deactivate`` has been seen to wait for the server forever,
    which would hang the whole run. A client left open dies with its server at the end of
    the session."""
    if not jackplay_close_client(client, CLIENT_CLOSE_TIMEOUT_S):
        warnings.warn(f"JACK client {client.name!r} did not close within "
                      f"{CLIENT_CLOSE_TIMEOUT_S:g} s; left to its server's teardown")


def _stop(proc: subprocess.Popen, name: str | None = None) -> None:
    """Terminate ``jackd`` (SIGTERM lets it remove its shared memory), kill if it hangs.

    A killed server keeps its slot in jackd's registry (8 servers a machine) until a server
    of the same ``name`` starts and stops cleanly, so that is done here; otherwise a stalled
    server test would make later JACK tests skip with "Too many servers already active"."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            if name is not None:
                _release(name)


def _release(name: str) -> None:
    """Start and cleanly stop a server called ``name``: frees the registry slot that a
    killed server of that name left behind."""
    try:
        _, proc = _start(256, 48000, False, False, name)
    except BaseException:  # pytest.skip: nothing to free, or no way to
        return
    _stop(proc)  # no name: a second kill frees nothing


@pytest.fixture(scope="session")
def jack_server_factory() -> Iterator[Callable[..., str]]:
    """``make(period=256, rate=48000) -> server name``: a dummy-backend server per setting."""
    servers: dict[tuple[int, int, bool, bool], tuple[str, subprocess.Popen]] = {}

    def make(period: int = 256, rate: int = 48000, realtime: bool = False,
             sync: bool = False) -> str:
        key = (int(period), int(rate), bool(realtime), bool(sync))
        if key not in servers:
            servers[key] = _start(*key)
        return servers[key][0]

    yield make
    for name, proc in servers.values():
        _stop(proc)
        LOGS.pop(name).unlink(missing_ok=True)


@pytest.fixture(scope="session")
def jack_server(jack_server_factory) -> str:
    """The name of a running dummy-backend JACK server at 48 kHz, period 256."""
    return jack_server_factory()
