"""Live playback through a JACK server: a block renderer between JACK ports.

The client has one output port per driver, named after it, and (for live input) one
input port per input channel. Its process callback copies the input block, calls the
renderer (which allocates nothing) and copies the feeds to the output ports: no per-sample
Python work. A file is decoded ahead (``device.readahead``), so the callback never
touches the disk. The ``jack`` module (JACK-Client) is imported on first
use, so this module imports where libjack is missing.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from common.errors import InputError
from device.live import BlockRenderer
from device.readahead import REALTIME_PRIORITY, FileSource, realtime
from renderer.filterbank import INPUT_CHANNELS


@dataclass
class PlayReport:
    """What a live run did; sample counts at the server's rate."""

    rate: int
    period: int
    renderer_latency: int
    blocks: int = 0
    xruns: int = 0
    starved: int = 0  # periods the file reader had no block ready (played as silence)
    first_frame: int | None = None  # JACK frame time of the first rendered sample
    dsp_load_max: float = 0.0  # percent, the server's figure, polled
    dsp_load_mean: float = 0.0
    callback_max_us: float = 0.0
    callback_mean_us: float = 0.0
    interrupted: bool = False
    closed: bool = True  # False: the server did not let the client close in time
    _load_samples: list[float] = field(default_factory=list, repr=False)

    @property
    def total_latency(self) -> int:
        """Upmix + bulk delay + one period, samples."""
        return self.renderer_latency + self.period

    def lines(self) -> list[str]:
        ms = 1e3 / self.rate
        out = [f"played {self.blocks * self.period / self.rate:.2f} s in {self.blocks} periods "
               f"of {self.period}; xruns: {self.xruns}; starved periods: {self.starved}"
               + (" (stopped by Ctrl-C)" if self.interrupted else ""),
               f"DSP load (server): max {self.dsp_load_max:.1f} %, mean {self.dsp_load_mean:.1f} "
               f"%; callback: max {self.callback_max_us:.0f} us, mean "
               f"{self.callback_mean_us:.0f} us of {self.period * 1e6 / self.rate:.0f} us",
               f"latency: renderer {self.renderer_latency} + period {self.period} = "
               f"{self.total_latency} samples ({self.total_latency * ms:.1f} ms), plus the "
               f"sound card's own"]
        if self.first_frame is not None:
            out.append(f"first rendered sample at JACK frame {self.first_frame}")
        if not self.closed:
            out.append(f"the JACK server did not let the client close within "
                       f"{CLOSE_TIMEOUT_S:g} s (is it stalled?); the client was left to it")
        return out

    def as_dict(self) -> dict:
        """The figures of :meth:`lines` as a JSON-ready object (``play.py --report``)."""
        ms = 1e3 / self.rate
        return {"seconds": round(self.blocks * self.period / self.rate, 3),
                "periods": self.blocks, "period": self.period, "sample_rate": self.rate,
                "xruns": self.xruns, "starved_periods": self.starved,
                "interrupted": self.interrupted, "closed_cleanly": self.closed,
                "dsp_load": {"max_percent": round(self.dsp_load_max, 2),
                             "mean_percent": round(self.dsp_load_mean, 2)},
                "callback_us": {"max": round(self.callback_max_us, 1),
                                "mean": round(self.callback_mean_us, 1)},
                "latency_ms": round(self.total_latency * ms, 3),
                "latency_samples": {"renderer": self.renderer_latency,
                                    "period": self.period, "total": self.total_latency},
                "first_frame": self.first_frame}


CLOSE_TIMEOUT_S = 5.0  # the longest a stalled server may hold up closing a client


def close_client(client, timeout_s: float | None = None) -> bool:
    """Deactivate and close a ``jack.Client`` on a helper thread, giving up after
    ``timeout_s`` seconds (default :data:`CLOSE_TIMEOUT_S`); returns whether it closed.
    A server that stalls (stopped, overloaded, wedged) makes ``jack_deactivate`` wait for
    it forever, which must not hang a player or a measurement on exit; a client left open
    dies with its server."""
    def close() -> None:
        client.deactivate(ignore_errors=True)
        client.close(ignore_errors=True)

    worker = threading.Thread(target=close, daemon=True, name="jack-close")
    worker.start()
    worker.join(CLOSE_TIMEOUT_S if timeout_s is None else timeout_s)
    return not worker.is_alive()


def _import_jack():
    try:
        import jack
    except (ImportError, OSError) as exc:
        raise InputError(f"the JACK client library cannot be loaded ({exc}); install JACK "
                         f"(Debian: jackd2) and the JACK-Client package") from None
    return jack


def play(make_renderer: Callable[[int], BlockRenderer], rate: int, *,
         source: FileSource | None, input_kind: str = "stereo", server: str | None = None,
         client_name: str = "soundstage", connect: list[str] | None = None,
         capture: list[str] | None = None, period: int | None = None,
         on_start: Callable[[], None] | None = None) -> PlayReport:
    """Play ``source`` (``None``: live input ports) through the renderer
    ``make_renderer(period)`` returns, on the JACK server ``server`` (default: the default
    server), until the file ends or Ctrl-C. ``connect``: playback ports for the driver
    outputs, in order, or ``["auto"]``; ``capture``: the same for the live inputs.
    ``period``: ask the server for this period (default: keep the server's).
    ``on_start()`` is called once the renderer is warmed up and reset, just before the
    first period it renders (e.g. to start counting a pose source's figures)."""
    client = report = None
    try:
        jack = _import_jack()
        try:
            client = jack.Client(client_name, servername=server, no_start_server=True)
        except jack.JackError as exc:
            raise InputError(f"cannot connect to the JACK server '{server or 'default'}' "
                             f"({exc}); start it first, e.g. jackd -d alsa -r {rate} -p 256, "
                             f"or name it with --server") from None
        if client.samplerate != rate:
            raise InputError(f"the JACK server runs at {client.samplerate} Hz, the filter bank "
                             f"at {rate} Hz; start the server at {rate} Hz")
        if period is not None and client.blocksize != period:
            try:
                client.blocksize = period
            except jack.JackError as exc:
                raise InputError(f"--block {period}: the JACK server refused this period "
                                 f"({exc})") from None
        renderer = make_renderer(client.blocksize)
        if source is not None:
            source.start(renderer.block, renderer.tail)
        report = _run(jack, client, renderer, rate, source, input_kind, connect, capture,
                      on_start)
        return report
    finally:
        if source is not None:
            source.close()
        if client is not None and not close_client(client) and report is not None:
            report.closed = False  # the report returned above is this object


def _run(jack, client, renderer: BlockRenderer, rate: int, src: FileSource | None,
         input_kind: str, connect, capture, on_start) -> PlayReport:
    block = renderer.block
    report = PlayReport(rate=rate, period=block, renderer_latency=renderer.latency)
    outs = [client.outports.register(name) for name in renderer.outputs]
    ins = [] if src is not None else \
        [client.inports.register(name) for name in INPUT_CHANNELS[input_kind]]
    live_block = np.zeros((renderer.inputs, block), np.float32)
    started, done = threading.Event(), threading.Event()
    stats = {"time_ns": 0, "max_ns": 0}

    def process(frames: int) -> None:
        begin = time.perf_counter_ns()
        arrays = [port.get_array() for port in outs]
        if not started.is_set() or done.is_set() or frames != block:
            for array in arrays:
                array.fill(0.0)
            if frames != block:
                done.set()
            return
        if src is None:
            for row, port in zip(live_block, ins):
                row[:] = port.get_array()
            data = live_block
        else:
            data = src.next()
            if data is None:
                done.set()
                for array in arrays:
                    array.fill(0.0)
                return
            if data is False:  # the reader fell behind: silence, counted
                report.starved += 1
                for array in arrays:
                    array.fill(0.0)
                return
        if report.first_frame is None:
            report.first_frame = client.last_frame_time
        feeds = renderer.process(data)
        for array, feed in zip(arrays, feeds):
            array[:] = feed
        report.blocks += 1
        spent = time.perf_counter_ns() - begin
        stats["time_ns"] += spent
        stats["max_ns"] = max(stats["max_ns"], spent)

    def xrun(delay_us: float) -> None:  # the server's, during playback (not the start-up)
        if started.is_set() and not done.is_set():
            report.xruns += 1

    client.set_process_callback(process)
    client.set_xrun_callback(xrun)
    previous = None
    try:  # from here on, Ctrl-C stops cleanly with a report
        # The first calls build caches (views, FFT plans): not in the callback. A full
        # garbage collection can take milliseconds: none runs while the callback does.
        for _ in range(4):
            renderer.process(live_block)
        renderer.reset()
        gc.collect()
        gc.disable()
        previous = realtime(REALTIME_PRIORITY)
        client.activate()
        _connect(jack, client, outs, connect, ins, capture)
        if on_start is not None:
            on_start()
        started.set()
        while not done.wait(0.25):
            report._load_samples.append(client.cpu_load())
            if src is not None and src.error is not None:
                done.set()
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        done.set()  # the callback plays silence from now on; play() deactivates
        gc.enable()
        if previous is not None:
            os.sched_setscheduler(0, previous, os.sched_param(0))
    if src is not None and src.error is not None:
        raise src.error
    if client.blocksize != block:
        raise InputError(f"the JACK server changed its period to {client.blocksize} during "
                         f"playback; the renderer runs at {block}")
    loads = report._load_samples
    report.dsp_load_max = max(loads, default=0.0)
    report.dsp_load_mean = float(np.mean(loads)) if loads else 0.0
    report.callback_max_us = stats["max_ns"] / 1e3
    report.callback_mean_us = stats["time_ns"] / 1e3 / max(report.blocks, 1)
    return report


def _connect(jack, client, outs, connect, ins, capture) -> None:
    """Connect the driver outputs to ``connect`` and ``capture`` to the live inputs
    (``["auto"]``: the physical ports, in order); an unknown port is an InputError that
    lists the ports there are."""
    for kind, mine, theirs, is_input in (("playback", outs, connect, True),
                                         ("capture", ins, capture, False)):
        if not theirs:
            continue
        if theirs == ["auto"]:
            theirs = [p.name for p in client.get_ports(is_audio=True, is_input=is_input,
                                                       is_output=not is_input,
                                                       is_physical=True)][:len(mine)]
        if len(theirs) > len(mine):
            raise InputError(f"--{'connect' if is_input else 'capture'}: {len(theirs)} ports "
                             f"given for {len(mine)} {'driver outputs' if is_input else 'inputs'}")
        for port, name in zip(mine, theirs):
            try:
                if is_input:
                    client.connect(port, name)
                else:
                    client.connect(name, port)
            except jack.JackError:
                there = client.get_ports(is_audio=True, is_input=is_input,
                                         is_output=not is_input)
                raise InputError(f"cannot connect to the {kind} port '{name}'; the server has "
                                 f"{', '.join(p.name for p in there) or 'none'}") from None
