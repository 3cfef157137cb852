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
  transforms, ``oaconvolve``, write (benchmarks/_scipy_reference.py);
- the command line: ``scripts/render.py`` on that WAV as a process (interpreter start,
  imports, render, output), beside the same SciPy render as a process; and the wall time
  of ``render.py --help`` and ``play.py --help`` (best and median of 10) beside a bare
  ``python -c pass``.

Uses ``checkpoints/studio/filterbank.npz`` when it exists, else a synthetic bank of the same
shape (3 x 5 drivers x 1024 taps).

    python benchmarks/renderer.py [--filters FB.npz] [--seconds 10] [--repeats 3] [--cli-only]

On a machine shared with other jobs, ``chrt -f 1 python benchmarks/renderer.py`` (real-time
scheduling, where allowed) keeps their load off the measured core.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core: set before NumPy loads a BLAS

import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from _cli import ROOT, make_parser, run  # noqa: E402  (also puts the checkout on sys.path)
from _scipy_reference import scipy_render, scipy_transforms  # noqa: E402
from _timing import interleaved, timed  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
from scipy.signal import oaconvolve  # noqa: E402

from device.live import BankRenderer  # noqa: E402
from renderer.convolver import Convolver, convolve_offline  # noqa: E402
from renderer.filterbank import FilterBank, read_filterbank, write_filterbank  # noqa: E402
from renderer.limiter import Limiter  # noqa: E402
from renderer.render import render_file  # noqa: E402
from renderer.upmix import DEFAULT_FRAME, LOW_LATENCY_FRAME, OVERLAP, Upmixer, upmix  # noqa: E402

STUDIO_BANK = ROOT / "checkpoints" / "studio" / "filterbank.npz"
RENDER_SECONDS = 120.0
HELP_RUNS = 10
HELP_GOAL_S = 0.35  # issue 18: render.py --help and play.py --help
CLI_GOAL = 100.0  # issue 18: the 2-minute render through the CLI, x real time, one core


def load_bank(path: Path | None) -> tuple[FilterBank, Path | None, str]:
    """The bank, its file (None for the synthetic one) and where it came from."""
    path = path or (STUDIO_BANK if STUDIO_BANK.is_file() else None)
    if path is not None:
        return read_filterbank(path), path, f"bank {path}"
    sys.path.insert(0, str(ROOT / "tests"))
    from renderer_fixtures import synthetic_bank

    return synthetic_bank(1024), None, ("synthetic bank 3 x 5 x 1024 at 48 kHz "
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


def transforms(stereo: np.ndarray, frame: int) -> np.ndarray:
    """The SciPy STFT transforms at the upmix's frame and hop."""
    return scipy_transforms(stereo, frame, frame // OVERLAP)


def process_seconds(command: list[str], repeats: int) -> np.ndarray:
    """Wall-clock seconds of ``repeats`` runs of ``command`` as a process (after one warm-up
    run), on this process's core."""
    return timed(lambda: subprocess.run(command, check=True, capture_output=True), repeats)


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
    if hasattr(os, "sched_setaffinity"):  # one core, inherited by the timed processes
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    bank, bank_path, source = load_bank(args.filters)
    print(f"{source}; taps {bank.taps.shape}; one core; best of {args.repeats}")
    if not args.cli_only:
        dsp_figures(bank, args)
    with tempfile.TemporaryDirectory() as tmp:
        file_figures(bank, bank_path, Path(tmp), args.repeats)
    help_figures()
    return 0


def dsp_figures(bank: FilterBank, args) -> None:
    """The convolvers, the upmix and the stereo chain on ``args.seconds`` of noise."""
    taps, rate = bank.taps, bank.sample_rate
    n = int(args.seconds * rate)
    secs = n / rate
    x = np.random.default_rng(1).uniform(-0.5, 0.5, (3, n)).astype(np.float32)
    stereo = x[:2]
    print(f"{args.seconds:g} s of noise")
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
        theirs = timed(lambda: transforms(stereo, frame), args.repeats).min()
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
        theirs = timed(lambda: oaconvolve(transforms(stereo, frame)[:, None, :], taps,
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
    theirs = timed(lambda: oaconvolve(transforms(stereo, DEFAULT_FRAME)[:, None, :], taps,
                                      axes=-1).sum(axis=0), args.repeats).min()
    line("stereo chain, block 256, upmix chunked", n // 16384 * 16384 / rate, ours, theirs,
         "the upmix on 16384-sample reads as in render.py")


def file_figures(bank: FilterBank, bank_path: Path | None, tmp: Path, repeats: int) -> None:
    """A 2-minute stereo WAV rendered by render_file and by scripts/render.py as a process,
    each beside the SciPy render (in this process, and as a process)."""
    rate = bank.sample_rate
    song, out = tmp / "song.wav", tmp / "feeds.wav"
    long = np.random.default_rng(2).uniform(-0.3, 0.3, (int(RENDER_SECONDS * rate), 2))
    sf.write(song, long.astype(np.float32), rate, subtype="FLOAT")
    if bank_path is None:
        bank_path = write_filterbank(tmp / "bank.npz", bank)
    ours = timed(lambda: render_file(song, out, bank, progress=False), 1).min()
    theirs = timed(lambda: scipy_render(song, out, bank.taps, rate, DEFAULT_FRAME,
                                        DEFAULT_FRAME // OVERLAP), 1).min()
    line(f"render_file, {RENDER_SECONDS:.0f} s stereo WAV incl. I/O", RENDER_SECONDS, ours,
         theirs)
    ours = process_seconds([sys.executable, str(ROOT / "scripts" / "render.py"), str(song),
                            str(out), "--filters", str(bank_path), "--quiet"], repeats).min()
    theirs = process_seconds([sys.executable, str(ROOT / "benchmarks" / "_scipy_reference.py"),
                              str(song), str(out), str(bank_path)], repeats).min()
    line(f"render.py, {RENDER_SECONDS:.0f} s stereo WAV, process", RENDER_SECONDS, ours, theirs,
         f"{ours:.2f} s; goal >= {CLI_GOAL:g}x")


def help_figures() -> None:
    """Wall time of render.py --help and play.py --help beside the interpreter's start."""
    bare = process_seconds([sys.executable, "-c", "pass"], HELP_RUNS)
    for script in ("render.py", "play.py"):
        runs = process_seconds([sys.executable, str(ROOT / "scripts" / script), "--help"],
                               HELP_RUNS)
        print(f"{script + ' --help':<38} {runs.min():7.3f} s best, {np.median(runs):.3f} s "
              f"median of {HELP_RUNS} | python -c pass {bare.min():.3f} s | goal <= "
              f"{HELP_GOAL_S:g} s")


def build_parser():
    parser = make_parser(__doc__.splitlines()[0], prog="renderer.py")
    parser.add_argument("--filters", type=Path, default=None, help="filter bank .npz")
    parser.add_argument("--seconds", type=float, default=10.0, help="signal length, s")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (best is shown)")
    parser.add_argument("--cli-only", action="store_true",
                        help="only the file and command-line figures (render and --help)")
    return parser


if __name__ == "__main__":
    sys.exit(run(main, build_parser()))
