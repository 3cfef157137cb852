"""Speed of the NumPy renderer on one core, each figure beside a SciPy baseline run in the
same process on the same data, with the ratio (ours / SciPy, in real-time factors).

- streaming convolver (3 inputs x D drivers) at blocks 64, 256, 1024; SciPy: the same
  blocks with ``oaconvolve`` and overlap-add;
- offline convolver; SciPy: ``oaconvolve`` of the whole signal;
- upmix at the default and the low-latency frame; SciPy: ``ShortTimeFFT`` analysis of L, R
  and synthesis of three channels at the same frame and hop (the transforms alone,
  without any per-bin work), plus the separation figures of both frames;
- stereo chain (upmix + bank) at block 256, block by block as in the JACK callback
  (allocation-free), and with the upmix on 16384-sample reads as in ``render.py``; SciPy:
  the transforms above and ``oaconvolve``, on the whole signal;
- the safety limiter at block 256 beside that plain chain, in turns in the same run: the
  chain with the limiter idle (the noise 12 dB down: no peak over full scale) and acting
  (the noise 6 dB up: it limits most of the time), and the limiter alone on the chain's
  feeds;
- ``render_file`` on a 2-minute stereo WAV including reading and writing; SciPy: read,
  transforms, ``oaconvolve``, write.

Uses ``checkpoints/studio/filterbank.npz`` when it exists, else a synthetic bank of the same
shape (3 x 5 drivers x 1024 taps).

    python benchmarks/renderer.py [--filters FB.npz] [--seconds 10] [--repeats 3]

On a machine shared with other jobs, ``chrt -f 1 python benchmarks/renderer.py`` (real-time
scheduling, where allowed) keeps their load off the measured core.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core: set before NumPy loads a BLAS

import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from _cli import ROOT, make_parser, run  # noqa: E402  (also puts the checkout on sys.path)
from _timing import interleaved, timed  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
from scipy.signal import ShortTimeFFT, get_window, oaconvolve  # noqa: E402

from renderer.convolver import Convolver, convolve_offline  # noqa: E402
from renderer.filterbank import FilterBank, read_filterbank  # noqa: E402
from renderer.limiter import Limiter  # noqa: E402
from renderer.live import BankRenderer  # noqa: E402
from renderer.render import render_file  # noqa: E402
from renderer.upmix import DEFAULT_FRAME, LOW_LATENCY_FRAME, OVERLAP, Upmixer, upmix  # noqa: E402

STUDIO_BANK = ROOT / "checkpoints" / "studio" / "filterbank.npz"
RENDER_SECONDS = 120.0


def load_bank(path: Path | None) -> tuple[FilterBank, str]:
    path = path or (STUDIO_BANK if STUDIO_BANK.is_file() else None)
    if path is not None:
        return read_filterbank(path), f"bank {path}"
    sys.path.insert(0, str(ROOT / "tests"))
    from renderer_fixtures import synthetic_bank

    return synthetic_bank(1024), ("synthetic bank 3 x 5 x 1024 at 48 kHz "
                                  f"({STUDIO_BANK.relative_to(ROOT)} not found)")


def line(name: str, seconds_audio: float, ours_s: float, scipy_s: float, extra: str = "") -> None:
    ours, theirs = seconds_audio / ours_s, seconds_audio / scipy_s
    print(f"{name:<38} {ours:7.0f}x real time | SciPy {theirs:6.0f}x | ratio {ours / theirs:5.2f}"
          + (f" | {extra}" if extra else ""))


def scipy_ola(x: np.ndarray, taps: np.ndarray, block: int) -> None:
    """Block-by-block convolution with SciPy: oaconvolve per block, overlap-add the tail."""
    tail = np.zeros((taps.shape[1], block + taps.shape[2] - 1))
    for i in range(0, x.shape[1] - block + 1, block):
        tail += oaconvolve(x[:, None, i:i + block], taps, axes=-1).sum(axis=0)
        tail = np.concatenate([tail[:, block:], np.zeros((tail.shape[0], block))], axis=1)


def scipy_transforms(stereo: np.ndarray, frame: int) -> np.ndarray:
    """What any SciPy STFT upmix pays before its per-bin work: analysis of L and R,
    synthesis of three channels, sqrt-Hann at the upmix's hop."""
    stft = ShortTimeFFT(np.sqrt(get_window("hann", frame)), hop=frame // OVERLAP, fs=1)
    spec = stft.stft(stereo)
    return stft.istft(np.stack([spec[0], spec[1], spec[0] + spec[1]]), k1=stereo.shape[1])


def separation(frame: int, rate: int) -> str:
    """The figures tests/test_upmix.py bounds, measured: independent L/R noise (C below
    L, R), a centre 440 Hz tone beside a hard-left 520 / 1000 Hz one (the leak, dB)."""
    a, b = np.random.default_rng(0).standard_normal((2, 3 * rate))
    y = upmix(np.stack([a, b]), rate, frame=frame)
    db = [10 * np.log10(np.mean(np.asarray(c, float) ** 2)) for c in y]
    figures = [f"independent noise: C {min(db[:2]) - db[2]:.1f} dB below L, R"]
    t = np.arange(2 * rate) / rate
    for other in (520, 1000):
        centre, left = np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * other * t)
        out = upmix(np.stack([centre + left, centre]), rate, frame=frame)[:, rate // 2:]
        spec = np.abs(np.fft.rfft(out * np.hanning(out.shape[1]), axis=1))
        k = [int(round(f * out.shape[1] / rate)) for f in (440, other)]
        level = lambda ch, kk: 20 * np.log10(spec[ch, kk - 3:kk + 4].max())  # noqa: E731
        leak = min(level(2, k[0]) - level(0, k[0]), level(0, k[1]) - level(2, k[1]))
        figures.append(f"440 Hz centre vs {other} Hz left: {leak:.1f} dB apart")
    return "; ".join(figures)


def limiter_cost(bank: FilterBank, stereo: np.ndarray, repeats: int) -> None:
    """The limiter's time per 256-sample block beside the plain stereo chain's (default
    upmix frame), the runs taking turns: the chain with the limiter idle and acting, and
    the limiter alone on the plain chain's feeds."""
    block, rate = 256, bank.sample_rate
    quiet = [stereo[:, i:i + block] * np.float32(0.25)  # -12 dB: nothing over full scale
             for i in range(0, stereo.shape[1] - block + 1, block)]
    loud = [b * np.float32(8.0) for b in quiet]  # +6 dB
    plain, limited = BankRenderer(bank, block, limiter=False), BankRenderer(bank, block)
    feeds = {name: [plain.process(b).copy() for b in blocks]
             for name, blocks in (("idle", quiet), ("acting", loud))}
    alone = Limiter(len(bank.driver_names), rate, max_block=block)
    out = np.empty((len(bank.driver_names), block), np.float32)

    def chain(renderer: BankRenderer, blocks: list[np.ndarray]):
        def run_chain():
            renderer.reset()
            for b in blocks:
                renderer.process(b)
        return run_chain

    def limiter_alone(blocks: list[np.ndarray]):
        def run_limiter():
            alone.reset()
            for b in blocks:
                alone.process(b, out=out)
        return run_limiter

    best = interleaved({"plain": chain(plain, quiet), "idle": chain(limited, quiet),
                        "acting": chain(limited, loud), "plain loud": chain(plain, loud),
                        "alone idle": limiter_alone(feeds["idle"]),
                        "alone acting": limiter_alone(feeds["acting"])}, repeats)
    us = {name: t / len(quiet) * 1e6 for name, t in best.items()}
    share = {}
    for name, blocks in (("idle", quiet), ("acting", loud)):
        limited.reset()
        for b in blocks:
            limited.process(b)
        share[name] = 100 * limited.limiter.stats.limited / limited.limiter.stats.samples
    print(f"limiter, block 256, beside the plain stereo chain ({us['plain']:.1f} us per "
          f"block):")
    for state, plain_name in (("idle", "plain"), ("acting", "plain loud")):
        print(f"    {state:6s}: chain {us[state]:.1f} us ({us[state] / us[plain_name]:.3f}x the "
              f"plain chain), limiter alone {us['alone ' + state]:.1f} us = "
              f"{100 * us['alone ' + state] / us[plain_name]:.1f} % of the plain chain; "
              f"limiting {share[state]:.0f} % of the samples")


def main(args) -> int:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    bank, source = load_bank(args.filters)
    taps, rate = bank.taps, bank.sample_rate
    n = int(args.seconds * rate)
    secs = n / rate
    x = np.random.default_rng(1).uniform(-0.5, 0.5, (3, n)).astype(np.float32)
    stereo = x[:2]
    print(f"{source}; taps {taps.shape}; {args.seconds:g} s of noise; one core; best of "
          f"{args.repeats}")
    for block in (64, 256, 1024):
        conv = Convolver(taps, block)
        blocks = [x[:, i:i + block] for i in range(0, n - block + 1, block)]
        out = np.empty((taps.shape[1], block), np.float32)

        def stream():
            conv.reset()
            for b in blocks:
                conv.process(b, out=out)
        ours = timed(stream, args.repeats).min()
        theirs = timed(lambda: scipy_ola(x, taps, block), max(1, args.repeats // 2)).min()
        line(f"streaming convolver, block {block}", len(blocks) * block / rate, ours, theirs,
             f"{ours / len(blocks) * 1e6:.1f} us per block")
    ours = timed(lambda: convolve_offline(x, taps), args.repeats).min()
    theirs = timed(lambda: oaconvolve(x[:, None, :], taps, axes=-1).sum(axis=0),
                   args.repeats).min()
    exact = oaconvolve(x[:, None, :].astype(float), taps.astype(float), axes=-1).sum(axis=0)
    err = np.max(np.abs(convolve_offline(x, taps) - exact))
    line("offline convolver", secs, ours, theirs, f"max difference {err:.1e}")
    for frame in (DEFAULT_FRAME, LOW_LATENCY_FRAME):
        upmixer = Upmixer(rate, frame=frame)
        ours = timed(lambda: (upmixer.reset(), upmixer.process(stereo)), args.repeats).min()
        theirs = timed(lambda: scipy_transforms(stereo, frame), args.repeats).min()
        line(f"upmix, frame {frame}", secs, ours, theirs,
             f"latency {upmixer.latency} samples ({upmixer.latency / rate * 1e3:.1f} ms)")
        print(f"    separation, frame {frame}: {separation(frame, rate)}")
    for frame in (DEFAULT_FRAME, LOW_LATENCY_FRAME):
        live = BankRenderer(bank, 256, upmix_frame=frame, limiter=False)
        blocks = [stereo[:, i:i + 256] for i in range(0, n - 255, 256)]

        def chain():
            live.reset()
            for b in blocks:
                live.process(b)
        ours = timed(chain, args.repeats).min()
        theirs = timed(lambda: oaconvolve(scipy_transforms(stereo, frame)[:, None, :], taps,
                                          axes=-1).sum(axis=0), args.repeats).min()
        per_block = ours / len(blocks)
        line(f"stereo chain, block 256, frame {frame}", len(blocks) * 256 / rate, ours, theirs,
             f"{per_block * 1e6:.0f} us per block = {per_block * rate / 256 * 100:.1f} % of "
             f"the period")
    limiter_cost(bank, stereo, args.repeats)
    upmixer, conv = Upmixer(rate), Convolver(taps, 256)
    feeds = np.empty((taps.shape[1], 256), np.float32)

    def chunked_chain():  # as render.py: the upmix on 16384-sample reads, 256-sample blocks
        upmixer.reset()
        conv.reset()
        for i in range(0, n - 16383, 16384):
            lrc = upmixer.process(stereo[:, i:i + 16384])
            for j in range(0, 16384, 256):
                conv.process(lrc[:, j:j + 256], out=feeds)
    ours = timed(chunked_chain, args.repeats).min()
    theirs = timed(lambda: oaconvolve(scipy_transforms(stereo, DEFAULT_FRAME)[:, None, :], taps,
                                      axes=-1).sum(axis=0), args.repeats).min()
    line("stereo chain, block 256, upmix chunked", n // 16384 * 16384 / rate, ours, theirs,
         "the upmix on 16384-sample reads as in render.py")
    with tempfile.TemporaryDirectory() as tmp:
        song, out = Path(tmp) / "song.wav", Path(tmp) / "feeds.wav"
        long = np.random.default_rng(2).uniform(-0.3, 0.3, (int(RENDER_SECONDS * rate), 2))
        sf.write(song, long.astype(np.float32), rate, subtype="FLOAT")

        def scipy_render():
            data = sf.read(song, dtype="float32", always_2d=True)[0].T
            feeds = oaconvolve(scipy_transforms(data, DEFAULT_FRAME)[:, None, :], taps,
                               axes=-1).sum(axis=0)
            sf.write(out, feeds.T.astype(np.float32), rate, subtype="FLOAT")
        ours = timed(lambda: render_file(song, out, bank, progress=False), 1).min()
        theirs = timed(scipy_render, 1).min()
        line(f"render_file, {RENDER_SECONDS:.0f} s stereo WAV incl. I/O", RENDER_SECONDS,
             ours, theirs)
    return 0


def build_parser():
    parser = make_parser(__doc__.splitlines()[0], prog="renderer.py")
    parser.add_argument("--filters", type=Path, default=None, help="filter bank .npz")
    parser.add_argument("--seconds", type=float, default=10.0, help="signal length, s")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (best is shown)")
    return parser


if __name__ == "__main__":
    sys.exit(run(main, build_parser()))
