"""Synthetic ladders and loud test signals for the volume and limiter tests (no training).

A rung is an independent random bank (the harshest case for crossfading) scaled so its
headroom (renderer.export.headroom_db of ``taps``) is the one asked for.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from scipy.signal import get_window, oaconvolve

from renderer.export import headroom_db
from renderer.filterbank import FilterBank
from renderer.ladder import Ladder, Rung, write_ladder
from renderer.sinesweep import exponential_sweep
from renderer.trackedbank import TrackedBank
from renderer_fixtures import synthetic_bank
from tracked_fixtures import synthetic_tracked_bank

HEADROOMS = (6.0, 12.0, 18.0, 24.0)


def _scaled(bank, headroom: float, *, manifest_headroom: bool):
    """``bank`` with taps and ctc_taps scaled by one factor so the taps need ``headroom``
    dB (the worst cell of a tracked bank); that figure in the manifest if asked."""
    cells = bank.taps if isinstance(bank, TrackedBank) else bank.taps[None]
    now = max(headroom_db(c * 1e3) for c in cells) - 60.0  # 1e3: headroom_db floors at 0 dB
    scale = np.float32(10.0 ** ((headroom - now) / 20.0))
    taps, ctc = bank.taps * scale, bank.ctc_taps * scale
    metrics = {}
    if manifest_headroom:
        scaled = taps if isinstance(bank, TrackedBank) else taps[None]
        metrics = {"headroom_db": float(max(headroom_db(c) for c in scaled))}
    return dataclasses.replace(bank, taps=taps, ctc_taps=ctc,
                               manifest={**bank.manifest, "metrics": metrics})


def rung_bank(headroom: float, *, n_taps: int = 128, seed: int = 0,
              manifest_headroom: bool = True) -> FilterBank:
    """A plain studio-shaped bank (3 x 5 drivers) whose taps need ``headroom`` dB."""
    return _scaled(synthetic_bank(n_taps, seed=seed), headroom,
                   manifest_headroom=manifest_headroom)


def tracked_rung(headroom: float, cells: np.ndarray, *, n_taps: int = 96,
                 seed: int = 0) -> TrackedBank:
    """A tracked bank on ``cells`` whose worst cell needs ``headroom`` dB."""
    return _scaled(synthetic_tracked_bank(cells, n_taps=n_taps, seed=seed), headroom,
                   manifest_headroom=True)


def synthetic_ladder(headrooms=HEADROOMS, *, n_taps: int = 128, seed: int = 0) -> Ladder:
    """A ladder in memory: rung k an independent bank (seed + k) needing headrooms[k] dB."""
    banks = [rung_bank(h, n_taps=n_taps, seed=seed + k) for k, h in enumerate(headrooms)]
    return Ladder(tuple(Rung(f"rung_{h:g}db.npz", bank, bank.manifest["metrics"]["headroom_db"])
                        for h, bank in zip(headrooms, banks)), "synthetic ladder")


def write_ladder_folder(folder: Path, headrooms=HEADROOMS, *, index: bool = True,
                        n_taps: int = 128, seed: int = 0) -> tuple[Path, Ladder]:
    """The ladder of :func:`synthetic_ladder` written into ``folder`` (created), with or
    without ``ladder.json``; returns the folder and the ladder in memory."""
    folder.mkdir(parents=True, exist_ok=True)
    ladder = synthetic_ladder(headrooms, n_taps=n_taps, seed=seed)
    write_ladder(folder, [(r.name, r.bank) for r in ladder.rungs], budgets_db=headrooms)
    if not index:
        (folder / "ladder.json").unlink()
    return folder, ladder


def in_phase_sweep(rate: int, seconds: float) -> np.ndarray:
    """(2, n) float32: a 0 dBFS exponential sine sweep 20 Hz - 20 kHz, the same on both
    inputs (all of it lands in C, sqrt(2) over full scale there)."""
    sweep = exponential_sweep(rate, seconds, f_start_hz=20.0, f_stop_hz=20000.0, level_db=0.0)
    return np.stack([sweep.signal, sweep.signal]).astype(np.float32)


def music_noise(rate: int, seconds: float, seed: int = 0) -> np.ndarray:
    """(2, n) float32 loud music-like noise: pink, the two channels 70 % common, a 2 Hz
    beat of +-50 % and a soft saturation like a loudly mastered record (crest factor about
    9 dB), peaking at exactly 0 dBFS."""
    n = int(rate * seconds)
    rng = np.random.default_rng(seed)
    white = np.fft.rfft(rng.standard_normal((2, n)), axis=1)
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    white[:, 1:] /= np.sqrt(freqs[1:])
    white[:, 0] = 0.0
    pink = np.fft.irfft(white, n, axis=1)
    pink[1] = 0.7 * pink[0] + 0.3 * pink[1]
    pink *= 1.0 + 0.5 * np.sin(2 * np.pi * 2.0 * np.arange(n) / rate)
    loud = np.tanh(0.4 * pink / np.std(pink))
    return (loud / np.max(np.abs(loud))).astype(np.float32)


# ---------------------------------------------------------------- measuring transients

def per_rung(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """(R, O, n): every rung's output at 0 dB, SciPy in float64."""
    return np.stack([oaconvolve(x[:, None, :].astype(float), t.astype(float), axes=-1)
                     .sum(0)[:, :x.shape[1]] for t in taps])


def smooth_reference(outputs: np.ndarray, rungs: list[int], gains: list[float],
                     block: int) -> np.ndarray:
    """The output of a filter moving smoothly from block to block: in a block whose rung or
    gain differs from the last one's, ``(1 - r[n]) g_old y_old + r[n] g_new y_new`` with
    ``r[n] = (1 - cos(pi n / (B + 1))) / 2``, n = 1..B; elsewhere ``g y`` of the block's rung."""
    r = (1.0 - np.cos(np.pi * np.arange(1, block + 1) / (block + 1))) / 2.0
    out = np.zeros((outputs.shape[1], len(rungs) * block))
    for j, (rung, gain) in enumerate(zip(rungs, gains)):
        span = slice(j * block, (j + 1) * block)
        now = gain * outputs[rung, :, span]
        if j == 0 or (rungs[j - 1], gains[j - 1]) == (rung, gain):
            out[:, span] = now
        else:
            out[:, span] = (1 - r) * gains[j - 1] * outputs[rungs[j - 1], :, span] + r * now
    return out


def hard_switch(outputs: np.ndarray, rungs: list[int], gains: list[float],
                block: int) -> np.ndarray:
    """What switching rung and gain at the block boundaries without a fade would play."""
    return np.concatenate([gain * outputs[rung, :, j * block:(j + 1) * block]
                           for j, (rung, gain) in enumerate(zip(rungs, gains))], axis=1)


def transient_db(got: np.ndarray, reference: np.ndarray, block: int) -> float:
    """The largest difference in a block, dB re the RMS of the reference in that block: a
    click at -40 dB volume counts against the quiet signal there, not the loud one later."""
    worst = 1e-30
    for j in range(reference.shape[1] // block):
        span = slice(j * block, (j + 1) * block)
        level = np.sqrt(np.mean(reference[:, span] ** 2))
        worst = max(worst, np.max(np.abs(got[:, span] - reference[:, span])) / level)
    return 20 * np.log10(worst)


def off_tone_db(y: np.ndarray, tone_hz: float, skip: int, *, rate: int = 48000,
                frame: int = 2048) -> float:
    """The worst share (dB) of a frame's energy more than 1 kHz away from the tone, over
    Blackman-Harris frames (hop frame / 4) after ``skip`` samples, on every channel: a
    click or a step in gain spreads energy over the spectrum, a smooth change does not."""
    window = get_window("blackmanharris", frame)
    freqs = np.fft.rfftfreq(frame, 1.0 / rate)
    far = np.abs(freqs - tone_hz) > 1000.0
    worst = -np.inf
    for start in range(skip, y.shape[1] - frame, frame // 4):
        power = np.abs(np.fft.rfft(y[:, start:start + frame] * window, axis=1)) ** 2
        worst = max(worst, 10 * np.log10(np.max(power[:, far].sum(1) / power.sum(1))))
    return worst
