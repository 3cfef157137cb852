"""Speed of the NumPy renderer on one core, for the studio bank at 48 kHz.

Prints the real-time factor of streaming convolution (3 inputs x D drivers) at blocks 64,
256 and 1024, the offline convolver against ``scipy.signal.oaconvolve`` on the same data
in the same run, and the upmix. Uses ``checkpoints/studio/filterbank.npz`` when it exists,
else a synthetic bank of the same shape (3 x 5 drivers x 1024 taps) and says so.

    python benchmarks/renderer.py [--filters FB.npz] [--seconds 10] [--repeats 3]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core: set before NumPy loads a BLAS

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from _cli import ROOT, make_parser, run  # noqa: E402  (also puts the checkout on sys.path)
from _timing import timed  # noqa: E402

import numpy as np  # noqa: E402
from scipy.signal import oaconvolve  # noqa: E402

from renderer.convolver import Convolver, convolve_offline  # noqa: E402
from renderer.filterbank import read_filterbank  # noqa: E402
from renderer.upmix import Upmixer  # noqa: E402

STUDIO_BANK = ROOT / "checkpoints" / "studio" / "filterbank.npz"


def load_taps(path: Path | None) -> tuple[np.ndarray, int, str]:
    path = path or (STUDIO_BANK if STUDIO_BANK.is_file() else None)
    if path is not None:
        bank = read_filterbank(path)
        return bank.taps, bank.sample_rate, f"bank {path}"
    rng = np.random.default_rng(0)
    taps = rng.standard_normal((3, 5, 1024)) * np.exp(-np.arange(1024) / 170.0) * 0.05
    return taps.astype(np.float32), 48000, ("synthetic bank 3 x 5 x 1024 at 48 kHz "
                                            f"({STUDIO_BANK.relative_to(ROOT)} not found)")


def main(args) -> int:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    taps, rate, source = load_taps(args.filters)
    n = int(args.seconds * rate)
    x = np.random.default_rng(1).uniform(-0.5, 0.5, (3, n)).astype(np.float32)
    print(f"{source}; taps {taps.shape}; {args.seconds:g} s of 3-channel noise; one core")
    for block in (64, 256, 1024):
        conv = Convolver(taps, block)
        blocks = [x[:, i:i + block] for i in range(0, n - block + 1, block)]

        def stream():
            conv.reset()
            for b in blocks:
                conv.process(b)
        seconds = timed(stream, args.repeats).min()
        print(f"streaming block {block:5d}: {len(blocks) * block / rate / seconds:7.0f}x real "
              f"time ({seconds / len(blocks) * 1e6:.1f} us per block)")
    ours = timed(lambda: convolve_offline(x, taps), args.repeats).min()
    scipy_s = timed(lambda: oaconvolve(x[:, None, :], taps, axes=-1).sum(axis=0), args.repeats).min()
    exact = oaconvolve(x[:, None, :].astype(float), taps.astype(float), axes=-1).sum(axis=0)
    err = np.max(np.abs(convolve_offline(x, taps) - exact))
    print(f"offline: convolve_offline {ours * 1e3:.1f} ms, scipy oaconvolve {scipy_s * 1e3:.1f} ms "
          f"-> {scipy_s / ours:.2f}x faster than SciPy ({n / rate / ours:.0f}x real time); "
          f"max difference {err:.1e}")
    upmixer = Upmixer(rate)
    stereo = x[:2].astype(float)
    seconds = timed(lambda: (upmixer.reset(), upmixer.process(stereo)), args.repeats).min()
    print(f"upmix (frequency mode, frame {upmixer.frame}): {n / rate / seconds:.0f}x real time, "
          f"latency {upmixer.latency} samples ({upmixer.latency / rate * 1e3:.1f} ms)")
    return 0


def build_parser():
    parser = make_parser(__doc__.splitlines()[0], prog="renderer.py")
    parser.add_argument("--filters", type=Path, default=None, help="filter bank .npz")
    parser.add_argument("--seconds", type=float, default=10.0, help="signal length, s")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (best is shown)")
    return parser


if __name__ == "__main__":
    sys.exit(run(main, build_parser()))
