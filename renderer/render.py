"""Render a sound file through a filter bank into driver feeds, streaming from disk.

``stereo`` input is upmixed to L, R, C and filtered with ``taps``; ``lrc`` input (three
channels) goes to ``taps`` directly; ``binaural`` input (left ear, right ear) goes to
``ctc_taps``. The output holds the D driver feeds in manifest order, ``n + N - 1``
samples long (the filter tail is kept); the upmix latency is compensated. A tracked bank
with a pose track renders each block with the cell nearest the head pose. A ladder plays
the rung that fits the level (gain plus volume). A look-ahead limiter keeps every driver
sample within full scale; its delay is compensated too, so while it is idle the output is
the unlimited render bit for bit.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.errors import InputError
from renderer.convolver import Convolver, check_block_size
from renderer.filterbank import INPUT_CHANNELS, FilterBank
from renderer.headroom import check_volume
from renderer.ladder import Ladder
from renderer.limiter import Limiter, LimiterStats
from renderer.poses import PoseTrack
from renderer.stream import Aligned, BlockFilter, Blocked, Stage, run
from renderer.trackedbank import TrackedBank
from renderer.upmix import Upmixer
from renderer.wavio import check_output, open_input, read_blocks, wav_writer

PROGRESS_MIN_S = 10.0  # show a progress bar for inputs longer than this
READ_FRAMES = 16384  # frames read per step: the upmix runs many hops per call


@dataclass(frozen=True)
class RenderReport:
    """What a render wrote: frames per file, the peaks (linear, full scale = 1), the rung
    played (index into the ladder; 0 for a single bank) and what the limiter did (None
    without it)."""

    frames: int
    peak: float
    preview_peak: float | None
    rung: int = 0
    limiter: LimiterStats | None = None

    @property
    def headroom_db(self) -> float:
        """dB below full scale of the loudest driver sample; negative means over."""
        return -20.0 * np.log10(max(self.peak, 1e-30)) + 0.0  # + 0.0: no "-0.0"


class _Gain:
    def __init__(self, gain: float):
        self.gain = gain

    def process(self, block: np.ndarray) -> np.ndarray:
        return block * self.gain

    def flush(self) -> np.ndarray:
        return np.zeros((0, 0))


class _Stereo:
    """(1 or 2, n) -> (2, n); a mono file becomes L = R = x / sqrt(2) (all of it in C)."""

    def process(self, block: np.ndarray) -> np.ndarray:
        return np.repeat(block / np.sqrt(2.0), 2, axis=0) if block.shape[0] == 1 else block

    def flush(self) -> np.ndarray:
        return np.zeros((0, 0))


def render_file(in_path: str | Path, out_path: str | Path,
                bank: FilterBank | TrackedBank | Ladder, *, input_kind: str = "stereo",
                block: int = 1024, gain_db: float = 0.0, volume_db: float = 0.0,
                limiter: bool = True, resample: bool = False, upmix_mode: str = "frequency",
                subtype: str = "FLOAT", preview_m=None, preview_path: str | Path | None = None,
                progress: bool = True, poses: PoseTrack | None = None) -> RenderReport:
    """Render ``in_path`` to ``out_path`` (float32 WAV by default) at ``gain_db +
    volume_db`` dB, and optionally a binaural preview for a listener at ``preview_m`` (3,)
    metres to ``preview_path``. A ladder plays the rung that fits that level
    (:meth:`renderer.ladder.Ladder.rung_for`). A tracked ``bank`` (or ladder) needs
    ``poses``: each block uses the cell nearest the pose at its centre time.

    With ``limiter`` no driver sample exceeds full scale (renderer.limiter.Limiter, its
    look-ahead compensated). Without it, peaks over full scale are kept (float) and
    reported; with a PCM ``subtype`` they raise InputError and nothing is written.
    """
    if input_kind not in INPUT_CHANNELS:
        raise InputError(f"--input: expected one of {', '.join(INPUT_CHANNELS)}, "
                         f"got {input_kind!r}")
    block = check_block_size(block)
    if not np.isfinite(gain_db):
        raise InputError(f"--gain-db: expected a finite number of dB, got {gain_db!r}")
    volume_db = check_volume(volume_db)
    rung = 0
    if isinstance(bank, Ladder):
        rung = bank.rung_for(gain_db + volume_db, input_kind)
        bank = bank.rungs[rung].bank
    check_output(out_path, subtype)
    if (preview_m is None) != (preview_path is None):
        raise InputError("preview: give both a listener position and an output path, or neither")
    if preview_path is not None:
        check_output(preview_path, subtype)
    if isinstance(bank, TrackedBank) != (poses is not None):
        raise InputError("poses: a tracked filter bank needs a pose track, a plain one none")
    taps = bank.ctc_taps if input_kind == "binaural" else bank.taps
    rate = bank.sample_rate
    convolver: BlockFilter
    if isinstance(bank, TrackedBank) and poses is not None:  # both or neither, see above
        from renderer.tracked import PoseFollower, TrackedConvolver  # only for tracked banks

        convolver = PoseFollower(TrackedConvolver(taps, bank.cells, block,
                                                  nominal=bank.nominal_cell), poses.at, rate)
    else:
        convolver = Convolver(taps, block)
    with open_input(in_path) as snd:
        _check_channels(in_path, snd.channels, input_kind)
        stages: list[Stage] = []
        n_out = snd.frames
        if snd.samplerate != rate:
            if not resample:
                raise InputError(f"{in_path}: sample rate {snd.samplerate} Hz does not match "
                                 f"the filter bank's {rate} Hz; pass --resample to convert")
            from renderer.resample import Resampler  # scipy.signal: only when resampling

            resampler = Resampler(snd.samplerate, rate, snd.channels)
            stages.append(resampler)
            n_out = -(-snd.frames * resampler.up // resampler.down)
        if input_kind == "stereo":
            stages.append(_Stereo())
            stages.append(Aligned(Upmixer(rate, mode=upmix_mode), inputs=2))
        stages.append(_Gain(10.0 ** ((gain_db + volume_db) / 20.0)))
        stages.append(Blocked(convolver, taps.shape[-1]))
        safety = None
        if limiter:
            safety = Limiter(taps.shape[-2], rate)
            stages.append(Aligned(safety, inputs=taps.shape[-2]))
        ears = None
        if preview_path is not None:  # and preview_m, see above
            from renderer.preview import ear_filters  # the acoustic models: only for a preview

            firs = ear_filters(bank, preview_m)
            ears = Blocked(Convolver(firs, block), firs.shape[2])
        reads = read_blocks(snd, max(block, READ_FRAMES))
        bar = None
        if progress and snd.frames >= PROGRESS_MIN_S * snd.samplerate:
            from tqdm import tqdm  # only when a bar shows

            bar = tqdm(total=snd.frames, unit="frame", unit_scale=True, leave=False)
            reads = _counted(reads, bar)
        with contextlib.ExitStack() as stack:
            out = stack.enter_context(wav_writer(out_path, rate, taps.shape[-2], subtype))
            prev = None if preview_path is None else \
                stack.enter_context(wav_writer(preview_path, rate, 2, subtype))
            peak, preview_peak = 0.0, 0.0
            for feeds in run(stages, reads):
                peak = max(peak, float(np.max(np.abs(feeds))))
                out.write(np.ascontiguousarray(feeds.T, np.float32))  # the one copy
                if ears is not None:
                    preview_peak = _write_preview(prev, ears.process(feeds), preview_peak)
            if ears is not None:
                preview_peak = _write_preview(prev, ears.flush(), preview_peak)
            if bar is not None:
                bar.close()
            if subtype != "FLOAT" and max(peak, preview_peak) > 1.0:
                over = 20.0 * np.log10(max(peak, preview_peak))
                raise InputError(f"{out_path}: the output peaks {over:.1f} dB over full scale "
                                 f"and {subtype} would clip it; nothing was written. Render "
                                 f"with --gain-db {gain_db - over:.1f} or lower, or as FLOAT")
    return RenderReport(frames=n_out + taps.shape[-1] - 1, peak=peak,
                        preview_peak=None if ears is None else preview_peak, rung=rung,
                        limiter=None if safety is None else safety.stats)


def _check_channels(path, channels: int, input_kind: str) -> None:
    allowed = {"stereo": (1, 2), "lrc": (3,), "binaural": (2,)}[input_kind]
    if channels not in allowed:
        want = " or ".join(str(c) for c in allowed)
        raise InputError(f"{path}: --input {input_kind} needs {want} channel(s), the file "
                         f"has {channels}")


def _counted(blocks, bar):
    for block in blocks:
        bar.update(block.shape[1])
        yield block


def _write_preview(snd, block: np.ndarray, peak: float) -> float:
    if block.shape[1]:
        snd.write(np.ascontiguousarray(block.T, np.float32))
        peak = max(peak, float(np.max(np.abs(block))))
    return peak
