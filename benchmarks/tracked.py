"""Cost of head-tracked rendering against the static renderer, same bank shape, same run.

Times :class:`renderer.convolver.Convolver` (one cell, no pose) and
:class:`renderer.tracked.TrackedConvolver` (a pose per block) on 3-channel noise at blocks
64, 256 and 1024, for two pose streams: a head moving laterally at 0.3 m/s across the
grid while its distance and yaw drift slowly (a cell change every few dozen blocks), and
the worst case, a different cell every block (a crossfade in every block). Uses a tracked bank given with --filters, else 45
cells (5 lateral x 3 distance x 3 yaw) made from ``checkpoints/studio/filterbank.npz``
(or random taps of its shape) with small per-cell changes; only the shape matters here.

    python benchmarks/tracked.py [--filters TRACKED.npz] [--seconds 10] [--repeats 3]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core: set before NumPy loads a BLAS

import itertools  # noqa: E402
from functools import partial  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from _cli import ROOT, make_parser, run  # noqa: E402  (also puts the checkout on sys.path)
from _timing import interleaved  # noqa: E402

import numpy as np  # noqa: E402

from renderer.convolver import Convolver  # noqa: E402
from renderer.filterbank import read_filterbank  # noqa: E402
from renderer.tracked import TrackedConvolver  # noqa: E402
from renderer.trackedbank import nearest_cells, read_trackedbank  # noqa: E402

STUDIO_BANK = ROOT / "checkpoints" / "studio" / "filterbank.npz"
SPEED_M_S = 0.3


def load_bank(path: Path | None) -> tuple[np.ndarray, np.ndarray, int, int, str]:
    """taps (K, 3, D, N), cells (K, 4), nominal cell, sample rate, and where they came from."""
    if path is not None:
        bank = read_trackedbank(path)
        return bank.taps, bank.cells, bank.nominal_cell, bank.sample_rate, f"bank {path}"
    if STUDIO_BANK.is_file():
        base, rate = read_filterbank(STUDIO_BANK).taps, 48000
        source = f"{STUDIO_BANK.relative_to(ROOT)}"
    else:
        rng = np.random.default_rng(0)
        base = (rng.standard_normal((3, 5, 1024)) * np.exp(-np.arange(1024) / 170.0) * 0.05)
        base, rate, source = base.astype(np.float32), 48000, "random taps 3 x 5 x 1024"
    cells = np.array([[x, y, 0.25, yaw] for x, y, yaw in itertools.product(
        (1.7, 2.0, 2.4), (-0.1, -0.05, 0.0, 0.05, 0.1), (-10.0, 0.0, 10.0))])
    scale = 1.0 + 0.05 * np.random.default_rng(1).standard_normal((len(cells), 1, 1, 1))
    taps = (base[None] * scale).astype(np.float32)
    nominal = int(np.argmin(np.linalg.norm(cells - [2.0, 0.0, 0.25, 0.0], axis=1)))
    return taps, cells, nominal, rate, f"45 cells made from {source}"


def pose_streams(cells: np.ndarray, n_blocks: int, block: int, rate: int) -> dict:
    """{name: (n_blocks, 4) poses}: a lateral walk at SPEED_M_S across the grid and back
    (distance and yaw drifting slowly), and a jump to the next cell every block."""
    t = (np.arange(n_blocks) + 0.5) * block / rate
    lo, hi = cells.min(axis=0), cells.max(axis=0)
    width = hi[1] - lo[1]
    phase = (SPEED_M_S * t / width) % 2.0
    lateral = lo[1] + width * np.where(phase < 1.0, phase, 2.0 - phase)
    drift = 0.5 + 0.5 * np.sin(2 * np.pi * t / 7.0)
    walk = np.column_stack([lo[0] + (hi[0] - lo[0]) * drift, lateral,
                            np.full(n_blocks, cells[0, 2]), lo[3] + (hi[3] - lo[3]) * drift])
    jumps = cells[np.arange(n_blocks) % len(cells)]
    return {f"head moving {SPEED_M_S:g} m/s": walk, "new cell every block": jumps}


def main(args) -> int:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    taps, cells, nominal, rate, source = load_bank(args.filters)
    n = int(args.seconds * rate)
    x = np.random.default_rng(2).uniform(-0.5, 0.5, (3, n)).astype(np.float32)
    print(f"{source}; taps {taps.shape}; {args.seconds:g} s of 3-channel noise; one core")
    for block in (64, 256, 1024):
        blocks = [x[:, i:i + block] for i in range(0, n - block + 1, block)]
        static = Convolver(taps[nominal], block)
        tracked = TrackedConvolver(taps, cells, block, nominal=nominal)
        streams = pose_streams(cells, len(blocks), block, rate)

        def plain():
            static.reset()
            for b in blocks:
                static.process(b)

        def follow(poses):
            tracked.reset()
            for b, pose in zip(blocks, poses):
                tracked.process(b, pose)
        runs = {"static": plain, **{name: partial(follow, poses)
                                    for name, poses in streams.items()}}
        best = interleaved(runs, args.repeats)
        base = best["static"]
        print(f"block {block:5d}: static {base / len(blocks) * 1e6:6.1f} us per block "
              f"({len(blocks) * block / rate / base:.0f}x real time)")
        for name, poses in streams.items():
            changes = int(np.count_nonzero(np.diff(nearest_cells(cells, poses))))
            print(f"  tracked, {name:22s}: {best[name] / len(blocks) * 1e6:6.1f} us per block, "
                  f"{best[name] / base:.2f}x static ({changes} cell changes in {len(blocks)} "
                  f"blocks)")
    return 0


def build_parser():
    parser = make_parser(__doc__.splitlines()[0], prog="tracked.py")
    parser.add_argument("--filters", type=Path, default=None, help="tracked filter bank .npz")
    parser.add_argument("--seconds", type=float, default=10.0, help="signal length, s")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (best is shown)")
    return parser


if __name__ == "__main__":
    sys.exit(run(main, build_parser()))
