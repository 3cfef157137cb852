"""A known acoustic plant as a JACK client, for measuring it with scripts/measure.py.

Input ports ``drive_1 .. drive_D`` (the drivers) feed output ports ``ear_1 .. ear_E``
through known FIRs (streaming overlap-save convolution, exact to float32 rounding), and
``loop_in`` is copied to ``loop_out`` (a loopback cable). Each cycle's output is computed
from the same cycle's input, so the round trip through the plant is what the server's
graph adds (one period where the measuring client feeds back into itself).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jack_server import close_client

from common.poses import pose_views
from models import Array
from models.plant_sofa import MeasuredEars, MeasuredFarfield, default_receivers_m
from models.plant_sofa_write import model_ears, model_farfield, save_ears, save_farfield


def known_firs(array: Array, head_m, sample_rate_hz: int = 48000) -> np.ndarray:
    """(2, D, N) driver-to-ear FIRs of the model for one head (facing the device), made
    DC-free like every loudspeaker (:func:`dc_free`)."""
    firs = model_ears(array, sample_rate_hz, np.asarray(head_m, float)[None]).ir[0]  # (2, N, D)
    return dc_free(firs.transpose(0, 2, 1))


def known_farfield_firs(array: Array, azimuths_deg, radius_m: float,
                        sample_rate_hz: int = 48000) -> np.ndarray:
    """(R, D, N) driver FIRs of the model at microphones on a circle, DC-free."""
    firs = model_farfield(array, sample_rate_hz, azimuths_deg, radius_m).ir  # (R, N, D)
    return dc_free(firs.transpose(0, 2, 1))


def write_known_plants(folder: Path, array: Array, head_m: np.ndarray, ear_firs: np.ndarray,
                       azimuths_deg: list[float], far_firs: np.ndarray,
                       radius_m: float = 2.0) -> tuple[Path, Path]:
    """The known plants as measured-plant files at 48 kHz: ``folder/ears.sofa`` (one pose,
    ``ear_firs`` (2, D, N) from :func:`known_firs`) and ``folder/farfield.sofa``
    (``far_firs`` (R, D, N) from :func:`known_farfield_firs` at ``azimuths_deg``)."""
    head = np.asarray(head_m, float)[None]
    save_ears(folder / "ears.sofa", MeasuredEars(
        ir=ear_firs.transpose(0, 2, 1)[None], sample_rate_hz=48000.0,
        listener_positions_m=head, listener_views=pose_views(head, [0.0]),
        emitter_positions_m=array.positions_m, receiver_positions_m=default_receivers_m()))
    save_farfield(folder / "farfield.sofa", MeasuredFarfield(
        ir=far_firs.transpose(0, 2, 1), sample_rate_hz=48000.0,
        azimuth_deg=np.array(azimuths_deg, float), elevation_deg=np.zeros(len(azimuths_deg)),
        radius_m=np.full(len(azimuths_deg), radius_m), emitter_positions_m=array.positions_m))
    return folder / "ears.sofa", folder / "farfield.sofa"


def dc_free(firs: np.ndarray) -> np.ndarray:
    """FIRs (..., N) each minus its sum times a Hann window centred on its peak (normalised
    to sum 1). A sweep from 20 Hz measures from 40 Hz up; this leaves at most -50 dB of
    each FIR's energy below 40 Hz (about -20 dB without it)."""
    firs = np.array(firs, dtype=float)
    for fir in firs.reshape(-1, firs.shape[-1]):
        peak = int(np.argmax(np.abs(fir)))
        half = min(peak, fir.size - 1 - peak)
        window = np.zeros_like(fir)
        window[peak - half:peak + half + 1] = np.hanning(2 * half + 3)[1:-1]
        fir -= fir.sum() * window / window.sum()
    return firs


class JackPlant:
    """``firs`` (E, D, N): FIR from driver d to ear e. ``server``: JACK server name.
    ``noise_dbfs``: white noise of this RMS level added at every ear (None: none)."""

    def __init__(self, firs: np.ndarray, server: str, name: str = "plant",
                 noise_dbfs: float | None = None):
        import jack

        self.firs = np.asarray(firs, dtype=float)
        self._noise = 0.0 if noise_dbfs is None else 10 ** (noise_dbfs / 20)
        self._rng = np.random.default_rng(0)
        self.server = server
        n_ears, n_drivers, n_taps = self.firs.shape
        self.client = jack.Client(name, servername=server, no_start_server=True)
        period = self.client.blocksize
        self._n_fft = 1 << int(np.ceil(np.log2(n_taps + period - 1)))
        self._spectra = np.fft.rfft(self.firs, self._n_fft, axis=-1)  # (E, D, K)
        self._history = np.zeros((n_drivers, n_taps - 1 + period))
        self._keep = n_taps - 1
        self.drives = [self.client.inports.register(f"drive_{d + 1}") for d in range(n_drivers)]
        self.ears = [self.client.outports.register(f"ear_{e + 1}") for e in range(n_ears)]
        self.loop_in = self.client.inports.register("loop_in")
        self.loop_out = self.client.outports.register("loop_out")
        self.client.set_process_callback(self._process)
        self.client.activate()

    def use(self, firs: np.ndarray) -> None:
        """Filter with other FIRs of the same shape from the next cycle on (a microphone
        moved to another place)."""
        spectra = np.fft.rfft(np.asarray(firs, dtype=float), self._n_fft, axis=-1)
        if spectra.shape != self._spectra.shape:
            raise ValueError(f"use: expected FIRs of shape {self.firs.shape}")
        self.firs, self._spectra = np.asarray(firs, dtype=float), spectra

    def port_names(self) -> tuple[list[str], list[str], list[str]]:
        """Driver inputs, ear outputs and the (output, input) loopback pair, full names."""
        return ([p.name for p in self.drives], [p.name for p in self.ears],
                [self.loop_in.name, self.loop_out.name])

    def close(self) -> None:
        close_client(self.client)

    def _process(self, frames: int) -> None:
        history = self._history
        history[:, :self._keep] = history[:, frames:frames + self._keep]
        for d, port in enumerate(self.drives):
            history[d, self._keep:self._keep + frames] = port.get_array()
        spectrum = np.fft.rfft(history[:, :self._keep + frames], self._n_fft, axis=-1)
        out = np.fft.irfft(np.einsum("edk,dk->ek", self._spectra, spectrum), self._n_fft)
        if self._noise:
            out[:, self._keep:self._keep + frames] += self._noise * self._rng.standard_normal(
                (out.shape[0], frames))
        for e, port in enumerate(self.ears):
            port.get_array()[:] = out[e, self._keep:self._keep + frames]
        self.loop_out.get_array()[:] = self.loop_in.get_array()
