"""Sound-file input and output for the renderer: clear errors, atomic output."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

from common.atomic import atomic_output
from common.errors import InputError

SUBTYPES = ("FLOAT", "PCM_24", "PCM_16")


def open_input(path: str | Path) -> sf.SoundFile:
    """Open a sound file for block reading; a missing or unreadable file raises InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: input sound file not found")
    try:
        snd = sf.SoundFile(path)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise InputError(f"{path}: not a readable sound file: {exc}") from None
    if snd.frames == 0:
        snd.close()
        raise InputError(f"{path}: the sound file holds no samples; expected audio")
    return snd


def read_blocks(snd: sf.SoundFile, block: int) -> Iterator[np.ndarray]:
    """Blocks ``(channels, <= block)`` float64 from the current position to the end."""
    while True:
        data = snd.read(block, dtype="float64", always_2d=True)
        if not len(data):
            return
        bad = ~np.isfinite(data)
        if bad.any():
            frame = snd.tell() - len(data) + int(np.argmax(bad.any(axis=1)))
            raise InputError(f"{snd.name}: NaN or infinite sample at frame {frame}; expected "
                             f"finite audio")
        yield data.T


def check_output(path: str | Path, subtype: str = "FLOAT") -> Path:
    """Raise InputError unless ``path`` names a writable .wav file and ``subtype`` is known."""
    path = Path(path)
    if path.suffix.lower() != ".wav":
        raise InputError(f"{path}: output must be a .wav file")
    if subtype not in SUBTYPES:
        raise InputError(f"subtype: expected one of {', '.join(SUBTYPES)}, got {subtype!r}")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected an output .wav file name")
    return path


@contextlib.contextmanager
def wav_writer(path: str | Path, rate: int, channels: int,
               subtype: str = "FLOAT") -> Iterator[sf.SoundFile]:
    """An open WAV writer whose file appears at ``path`` only if the block succeeds."""
    path = check_output(path, subtype)
    with atomic_output(path) as tmp:
        with sf.SoundFile(tmp, "w", samplerate=rate, channels=channels, subtype=subtype,
                          format="WAV") as snd:
            yield snd


def write_wav(path: str | Path, data: np.ndarray, rate: int, subtype: str = "FLOAT") -> Path:
    """Write ``data`` (channels, n) to ``path`` atomically."""
    with wav_writer(path, rate, data.shape[0], subtype) as snd:
        snd.write(np.asarray(data).T)
    return Path(path)
