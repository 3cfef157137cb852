"""SciPy references for the renderer benchmark: what the renderer does, done with SciPy.

- :func:`scipy_transforms`: the STFT analysis of L, R and synthesis of three channels at
  the upmix's frame and hop (what any SciPy STFT upmix pays before its per-bin work);
- :func:`scipy_render`: a stereo file rendered through a bank: read, the transforms,
  ``scipy.signal.oaconvolve`` with the taps, write; ``render.py`` does the same job.

Run as a script it renders a file at the upmix's default frame, a process to time beside
``render.py``:

    python benchmarks/_scipy_reference.py IN.wav OUT.wav FB.npz
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import ShortTimeFFT, get_window, oaconvolve


def scipy_transforms(stereo: np.ndarray, frame: int, hop: int) -> np.ndarray:
    """(2, n) -> (3, n): analysis of L and R, synthesis of L, R and L + R, sqrt-Hann frames
    of ``frame`` samples every ``hop``."""
    stft = ShortTimeFFT(np.sqrt(get_window("hann", frame)), hop=hop, fs=1)
    spec = stft.stft(stereo)
    return stft.istft(np.stack([spec[0], spec[1], spec[0] + spec[1]]), k1=stereo.shape[1])


def scipy_render(song: Path, out: Path, taps: np.ndarray, rate: int, frame: int,
                 hop: int) -> None:
    """Render stereo ``song`` through ``taps`` (3, D, N) into the D feeds of ``out`` (float
    WAV): read, :func:`scipy_transforms`, ``oaconvolve``, write."""
    data = sf.read(song, dtype="float32", always_2d=True)[0].T
    feeds = oaconvolve(scipy_transforms(data, frame, hop)[:, None, :], taps,
                       axes=-1).sum(axis=0)
    sf.write(out, feeds.T.astype(np.float32), rate, subtype="FLOAT")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout
    from renderer.upmix import DEFAULT_FRAME, OVERLAP

    song_path, out_path, bank_path = (Path(arg) for arg in sys.argv[1:4])
    with np.load(bank_path, allow_pickle=False) as bank:
        bank_taps = bank["taps"]
        bank_rate = int(json.loads(str(bank["manifest"]))["sample_rate"])
    scipy_render(song_path, out_path, bank_taps, bank_rate, DEFAULT_FRAME,
                 DEFAULT_FRAME // OVERLAP)
