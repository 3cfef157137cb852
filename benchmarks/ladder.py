"""The figures of the volume-aware playback goals (issue 17) on a ladder of real banks.

- the rungs, their headroom and the volumes each plays at (stereo input, 3.01 dB margin);
- the worst driver peak of a 0 dBFS in-phase sine sweep and of loud music-like noise
  (stereo, through the upmix) through every rung at every volume from -40 to 0 dB in 1 dB
  steps, without and with the limiter, and how much of the time the limiter acted; the
  same for the rung the ladder chooses at each volume;
- transients of a -40 -> 0 dB volume sweep in 1 dB steps through the ladder's rungs
  (lrc noise and a 997 Hz tone, blocks of 256): the worst difference from the smoothly
  moving filter re the local signal, and the share of a frame's energy more than 1 kHz
  from the tone (tests/test_volume.py has the definitions), each beside the same sweep
  switched without a fade.

Uses the ladder folder given with --filters, else the least-squares designs of the studio
array at four regularisations (train.py's baseline; about 30 s to build, JAX).

    python benchmarks/ladder.py [--filters LADDER_DIR] [--seconds 2]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from _cli import ROOT, make_parser, run  # noqa: E402  (also puts the checkout on sys.path)

sys.path.insert(0, str(ROOT / "tests"))
import numpy as np  # noqa: E402

from device.live import BankRenderer  # noqa: E402
from ladder_fixtures import (hard_switch, in_phase_sweep, music_noise, off_tone_db,  # noqa: E402
                             per_rung, smooth_reference, transient_db)
from renderer.headroom import rung_lines  # noqa: E402
from renderer.ladder import MARGIN_DB, Ladder, read_ladder, write_ladder  # noqa: E402
from renderer.limiter import Limiter  # noqa: E402
from renderer.volume import LadderConvolver  # noqa: E402

REGULARIZATIONS = (1e-3, 1e-2, 1e-1, 1.0)  # the studio's: about 19, 12.5, 9 and 3.6 dB
VOLUMES = np.arange(-40.0, 1.0)
BLOCK = 256


def least_squares_ladder(folder: Path) -> Ladder:
    """The least-squares banks of the studio array at REGULARIZATIONS, written as a ladder."""
    from models import load_array
    from optim.baseline import least_squares_taps
    from optim.config import load_config
    from optim.export import make_filterbank
    from optim.problem import build_problem

    array = load_array("studio")
    config = load_config(array="studio")
    problem = build_problem(array, config)
    banks = []
    for reg in REGULARIZATIONS:
        taps, ctc = least_squares_taps(problem, reg, config.design.taps)
        banks.append((f"ls_{reg:g}.npz", make_filterbank(
            array, config, taps, ctc, {}, {"design": "least_squares", "regularization": reg},
            problem.virtual_source)))
    write_ladder(folder, banks)
    return read_ladder(folder)


def feeds(bank, x: np.ndarray) -> np.ndarray:
    """The stereo chain's driver feeds at 0 dB, no limiter (D, whole blocks of x)."""
    plain = BankRenderer(bank, BLOCK, limiter=False)
    return np.concatenate([plain.process(x[:, i:i + BLOCK]).copy()
                           for i in range(0, x.shape[1] - BLOCK + 1, BLOCK)], axis=1)


def limited_peak(limiter: Limiter, y: np.ndarray) -> float:
    limiter.reset()
    out = np.empty((y.shape[0], BLOCK), np.float32)
    peak = 0.0
    for i in range(0, y.shape[1] - BLOCK + 1, BLOCK):
        peak = max(peak, float(np.max(np.abs(limiter.process(y[:, i:i + BLOCK], out=out)))))
    return peak


def peaks(ladder: Ladder, signals: dict[str, np.ndarray]) -> None:
    """Worst peaks through each rung and through the chosen rung, over VOLUMES."""
    rate, headrooms = ladder.sample_rate, ladder.headrooms("stereo")
    chosen = [ladder.rung_for(v, "stereo") for v in VOLUMES]
    for name, x in signals.items():
        at_zero = [feeds(Ladder((rung,), rung.name), x) for rung in ladder.rungs]
        limiter = Limiter(at_zero[0].shape[0], rate, max_block=BLOCK)
        worst_raw = worst = 0.0
        acted = total = 0
        for k, y0 in enumerate(at_zero):
            raw0 = float(np.max(np.abs(y0)))
            for volume in VOLUMES:
                gain = np.float32(10 ** (volume / 20))
                worst_raw = max(worst_raw, raw0 * float(gain))
                before = limiter.stats.limited
                worst = max(worst, limited_peak(limiter, y0 * gain))
                acted += limiter.stats.limited - before
                total += y0.shape[1]
            print(f"  {name}, rung {k} ({headrooms[k]:.1f} dB): raw peak at 0 dB "
                  f"{20 * np.log10(raw0):+.2f} dBFS; fits (raw <= 0 dBFS) up to volume "
                  f"{-20 * np.log10(raw0):+.2f} dB")
        print(f"  {name}, every rung x every volume: worst raw peak "
              f"{20 * np.log10(worst_raw):+.2f} dBFS, limited {20 * np.log10(worst):+.4f} dBFS; "
              f"the limiter acted on {100 * acted / total:.1f} % of the samples")
        worst_raw = worst = 0.0
        busy = []
        for volume, k in zip(VOLUMES, chosen):
            y = at_zero[k] * np.float32(10 ** (volume / 20))
            worst_raw = max(worst_raw, float(np.max(np.abs(y))))
            limiter.stats.clear()
            worst = max(worst, limited_peak(limiter, y))
            if limiter.stats.limited:
                busy.append(f"{volume:g}")
        print(f"  {name}, the chosen rung at each volume: worst raw peak "
              f"{20 * np.log10(worst_raw):+.2f} dBFS, limited {20 * np.log10(worst):+.4f} dBFS; "
              f"the limiter acted at volumes {', '.join(busy) or 'none'} dB")


def transients(ladder: Ladder, seconds_per_step: float) -> None:
    """The volume sweep through the ladder's rungs (lrc input, margin 0)."""
    rate = ladder.sample_rate
    steps = max(1, round(seconds_per_step * rate / BLOCK))
    levels = [float(v) for v in np.repeat(VOLUMES, steps)]
    rungs = [ladder.rung_for(v, "lrc") for v in levels]
    gains = [10 ** (v / 20) for v in levels]
    taps = ladder.stacked_taps("lrc")
    n = len(levels) * BLOCK
    noise = np.random.default_rng(4).uniform(-1, 1, (3, n)).astype(np.float32)
    tone = np.tile(np.sin(2 * np.pi * 997.0 * np.arange(n) / rate), (3, 1)).astype(np.float32)
    changes = sum(a != b for a, b in zip(rungs, rungs[1:]))
    print(f"  {len(levels)} blocks of {BLOCK}, 1 dB every {steps} blocks, {changes} rung changes "
          f"(rungs {sorted(set(rungs))})")
    for name, x in (("noise", noise), ("997 Hz tone", tone)):
        conv = LadderConvolver(ladder, BLOCK, input_kind="lrc")
        got = np.concatenate([conv.process(x[:, j * BLOCK:(j + 1) * BLOCK], v).copy()
                              for j, v in enumerate(levels)], axis=1)
        outputs = per_rung(x, taps)
        hard = hard_switch(outputs, rungs, gains, BLOCK)
        if name == "noise":
            reference = smooth_reference(outputs, rungs, gains, BLOCK)
            print(f"  noise: worst difference from the smoothly moving filter "
                  f"{transient_db(got, reference, BLOCK):.1f} dB re the block's RMS "
                  f"(switched without a fade: {transient_db(hard, reference, BLOCK):+.1f} dB)")
        else:
            skip = 2 * taps.shape[-1]
            print(f"  tone: worst share of a frame's energy more than 1 kHz from the tone "
                  f"{off_tone_db(got, 997.0, skip, rate=rate):.1f} dB (switched without a "
                  f"fade: {off_tone_db(hard, 997.0, skip, rate=rate):.1f} dB)")


def main(args) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        if args.filters is not None:
            ladder = read_ladder(args.filters)
        else:
            print("building the least-squares ladder of the studio array ...", flush=True)
            ladder = least_squares_ladder(Path(tmp))
        margin = MARGIN_DB["stereo"]
        headrooms = ladder.headrooms("stereo")
        print(f"{ladder.where}: {len(ladder.rungs)} rungs; stereo input, margin {margin:.2f} dB")
        for line in rung_lines([r.name for r in ladder.rungs], headrooms, margin):
            print(f"  {line}")
        rate = ladder.sample_rate
        print(f"peaks over volumes {VOLUMES[0]:g} .. {VOLUMES[-1]:g} dB ({args.seconds:g} s "
              f"signals, block {BLOCK}):")
        peaks(ladder, {"0 dBFS in-phase sweep": in_phase_sweep(rate, args.seconds),
                       "loud music-like noise": music_noise(rate, args.seconds)})
        print("transients of the volume sweep -40 -> 0 dB in 1 dB steps:")
        transients(ladder, 0.04)
    return 0


def build_parser():
    parser = make_parser(__doc__.splitlines()[0], prog="ladder.py")
    parser.add_argument("--filters", type=Path, default=None, help="ladder folder")
    parser.add_argument("--seconds", type=float, default=2.0, help="test signal length, s")
    return parser


if __name__ == "__main__":
    sys.exit(run(main, build_parser()))
