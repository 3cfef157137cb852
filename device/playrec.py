"""Play signals on JACK ports and record others in the same cycles (for measurements).

One JACK client with an output port per signal played and an input port per signal
recorded, connected to the named ports of other clients or of the sound card. Sample
``i`` of every played signal goes out in the same cycle as sample ``i`` of every recording
comes in, so a recording is the played signal through the outside path, delayed by the
round-trip latency of the server (see :meth:`PlayRecord.reported_latency` and a loopback
cable). Cycles the server reports late (xruns) are counted so a caller can retry.
"""

from __future__ import annotations

import ctypes
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from common.errors import InputError
from device import jackplay

_CAPTURE, _PLAYBACK = 0, 1  # jack_latency_callback_mode_t
WARM_UP_S = 0.3  # silence played after connecting, before any measurement


class _LatencyRange(ctypes.Structure):
    _fields_ = [("min", ctypes.c_uint32), ("max", ctypes.c_uint32)]


@dataclass
class _Transfer:
    """What the process callback plays and records, and how far it got."""

    play: np.ndarray  # (outputs, n) float32
    record: np.ndarray  # (inputs, n) float32
    position: int = 0
    xruns: int = 0  # reported while this transfer was playing
    done: threading.Event = field(default_factory=threading.Event)


class PlayRecord:
    """A JACK client connected to ``outputs`` (input ports to feed) and ``inputs`` (output
    ports to record). Use as a context manager; ``server`` None means the default server."""

    def __init__(self, outputs: Sequence[str], inputs: Sequence[str], *,
                 server: str | None = None, client_name: str = "soundstage-measure"):
        try:
            import jack
        except (ImportError, OSError) as exc:
            raise InputError(f"JACK: the JACK-Client module cannot load ({exc}); install "
                             f"the JACK library (Debian package 'jackd2')") from None
        self._jack = jack
        jack.set_error_function(lambda message: None)  # failures become InputError below
        try:
            self.client = jack.Client(client_name, servername=server, no_start_server=True)
        except jack.JackError:
            where = f"named {server!r}" if server else "(the default server)"
            raise InputError(f"JACK: no server {where} is running; start one (for example "
                             f"'jackd -d alsa' or with qjackctl) and try again") from None
        try:
            targets = [self._port(name, "--outputs", is_input=True) for name in outputs]
            sources = [self._port(name, "--inputs", is_input=False) for name in inputs]
            self._outs = [self.client.outports.register(f"out_{i + 1}")
                          for i in range(len(outputs))]
            self._ins = [self.client.inports.register(f"in_{i + 1}") for i in range(len(inputs))]
            self._transfer: _Transfer | None = None
            self.client.set_process_callback(self._process)
            self.client.set_xrun_callback(self._xrun)
            self.client.activate()
            for own, target in zip(self._outs, targets):
                self.client.connect(own, target)
            for own, source in zip(self._ins, sources):
                self.client.connect(source, own)
            # Let the new graph settle: the first cycles of a new client are often late.
            self.play_record(np.zeros((len(self._outs), int(WARM_UP_S * self.sample_rate_hz))))
        except BaseException:
            self.close()
            raise

    @property
    def sample_rate_hz(self) -> int:
        return int(self.client.samplerate)

    @property
    def period(self) -> int:
        return int(self.client.blocksize)

    def play_record(self, signals: np.ndarray,
                    timeout_s: float | None = None) -> tuple[np.ndarray, int]:
        """Play (outputs, n) ``signals`` from the next cycle on; return the (inputs, n)
        recording of the same cycles and the number of xruns the server reported meanwhile
        (a recording with xruns may have gaps). InputError if the server stops processing."""
        play = np.ascontiguousarray(signals, dtype=np.float32)
        if play.ndim != 2 or play.shape[0] != len(self._outs):
            raise InputError(f"play_record: expected ({len(self._outs)}, n) signals, got "
                             f"{play.shape}")
        transfer = _Transfer(play, np.zeros((len(self._ins), play.shape[1]), np.float32))
        self._transfer = transfer
        limit = timeout_s if timeout_s is not None else 2 * play.shape[1] / self.sample_rate_hz + 5
        if not transfer.done.wait(limit):
            self._transfer = None
            raise InputError(f"JACK: the server stopped processing (no progress for "
                             f"{limit:.0f} s); is it still running?")
        time.sleep(2 * self.period / self.sample_rate_hz)  # xrun reports come a little late
        self._transfer = None
        return transfer.record, transfer.xruns

    def reported_latency(self) -> tuple[np.ndarray, np.ndarray]:
        """What the server reports (JACK latency API): (outputs,) playback latency of each
        output's downstream path and (inputs,) capture latency of each input's upstream
        path, in samples (the maximum of each range). Converter delays that the driver does
        not know are missing; a loopback cable measures them."""
        try:
            lib = ctypes.CDLL(self._jack._libname)
            get = lib.jack_port_get_latency_range
            lib.jack_recompute_total_latencies(self._pointer(self.client._ptr))
        except (AttributeError, OSError) as exc:
            raise InputError(f"JACK: the latency API is not available ({exc}); measure the "
                             f"latency with a loopback cable (--loopback)") from None

        def latency(port, mode: int) -> int:
            value = _LatencyRange()
            get(self._pointer(port._ptr), mode, ctypes.byref(value))
            return int(value.max)

        return (np.array([latency(p, _PLAYBACK) for p in self._outs]),
                np.array([latency(p, _CAPTURE) for p in self._ins]))

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            self.client = None
            if not jackplay.close_client(client):
                warnings.warn(f"JACK: the server did not let the client close within "
                              f"{jackplay.CLOSE_TIMEOUT_S:g} s (is it stalled?); it was "
                              f"left to the server", stacklevel=2)

    def __enter__(self) -> "PlayRecord":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _pointer(self, pointer) -> ctypes.c_void_p:
        return ctypes.c_void_p(int(self._jack._ffi.cast("uintptr_t", pointer)))

    def _port(self, name: str, option: str, *, is_input: bool):
        """The audio port ``name`` of another client; InputError listing the candidates."""
        jack = self._jack
        try:
            port = self.client.get_port_by_name(name)
        except jack.JackError:
            port = None
        if port is None or port.is_input != is_input or not port.is_audio:
            kind = "input" if is_input else "output"
            role = "play to" if is_input else "record from"
            names = [p.name for p in self.client.get_ports(is_audio=True, is_input=is_input,
                                                           is_output=not is_input)]
            raise InputError(f"{option}: no JACK audio {kind} port {name!r} to {role}; "
                             f"available: {', '.join(names) or 'none'}")
        return port

    def _process(self, frames: int) -> None:
        transfer = self._transfer
        if transfer is None or transfer.position >= transfer.play.shape[1]:
            for port in self._outs:
                port.get_array().fill(0.0)
            return
        start = transfer.position
        count = min(frames, transfer.play.shape[1] - start)
        for port, signal in zip(self._outs, transfer.play):
            buffer = port.get_array()
            buffer[:count] = signal[start:start + count]
            buffer[count:] = 0.0
        for port, recording in zip(self._ins, transfer.record):
            recording[start:start + count] = port.get_array()[:count]
        transfer.position = start + count
        if transfer.position >= transfer.play.shape[1]:
            transfer.done.set()

    def _xrun(self, delayed_usecs: float) -> None:
        transfer = self._transfer
        if transfer is not None:
            transfer.xruns += 1
