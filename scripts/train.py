#!/usr/bin/env python3
"""Learn an array's filter bank: every FIR tap jointly, in JAX/optax.

Example: python scripts/train.py --array studio
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from _cli import ROOT, make_parser, run

from models.errors import InputError


def build_parser():
    p = make_parser(__doc__.splitlines()[0], prog="train.py")
    p.add_argument("--array", default="studio", help="bundled array name or path to an array .toml")
    p.add_argument("--out", type=Path, help="filter bank to write "
                   "(default: checkpoints/<array>/filterbank.npz)")
    p.add_argument("--config", type=Path, help="TOML overriding optim/defaults.toml "
                   "([design], [optimizer], [targets.*], [weights])")
    p.add_argument("--steps", type=int, help="optimizer steps (default from config: 1500)")
    p.add_argument("--seed", type=int, default=0, help="seed of listener sampling and batches")
    p.add_argument("--taps", type=int, help="FIR length of every path (default 1024)")
    p.add_argument("--sample-rate", type=int, help="Hz (default 48000)")
    p.add_argument("--zone", help="training zone preset (sweet, zone, couch, room)")
    p.add_argument("--zone-lateral-m", type=float, help="override the zone's lateral spread, m")
    p.add_argument("--head", help="'sphere', 'free' (no head) or a path to a .sofa HRTF file")
    p.add_argument("--width-deg", type=float, help="virtual stereo half-angle, degrees (default 30)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the checkpoint beside --out if there is one")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(args) -> int:
    from tqdm import tqdm

    from evaluation.system import evaluate_heldout
    from models import load_array
    from optim.baseline import least_squares_taps
    from optim.config import load_config
    from optim.export import make_filterbank
    from optim.loop import fingerprint, train
    from optim.params import export_taps
    from optim.problem import build_problem
    from renderer.atomic import check_output_dir
    from renderer.filterbank import write_filterbank

    array = load_array(args.array)
    out = args.out or ROOT / "checkpoints" / array.name / "filterbank.npz"
    if args.out is None:
        out.parent.mkdir(parents=True, exist_ok=True)
    check_output_dir(out)
    for name in ("steps", "taps", "sample_rate"):
        value = getattr(args, name)
        if value is not None and value < 0:
            raise InputError(f"--{name.replace('_', '-')}: expected a non-negative integer, got {value}")
    design = {k: v for k, v in {"taps": args.taps, "sample_rate": args.sample_rate,
                                "zone": args.zone, "head": args.head,
                                "zone_lateral_m": args.zone_lateral_m,
                                "width_deg": args.width_deg}.items() if v is not None}
    if args.taps is not None:
        design["latency_samples"] = args.taps // 2
        design["band_taps"] = min(255, (args.taps // 4) | 1)
    if args.sample_rate is not None:
        design["max_freq_hz"] = min(20000.0, 0.45 * args.sample_rate)
    config = load_config(args.config, {"design": design, "optimizer": {"steps": args.steps}
                                       if args.steps is not None else {}},
                         array=args.array, seed=args.seed)
    if config.design.head not in ("sphere", "free") and not Path(config.design.head).is_file():
        raise InputError(f"--head: {config.design.head} is not 'sphere', 'free' or an existing "
                         f".sofa file")

    t0 = time.monotonic()
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr))
    say(f"train.py: {array.name}: {len(array.drivers)} drivers, {config.design.taps} taps at "
        f"{config.design.sample_rate} Hz, zone {config.design.zone!r}, head {config.design.head!r}")
    problem = build_problem(array, config)
    say(f"train.py: transfer matrices for {config.design.pool} listeners x "
        f"{problem.freqs_hz.size} frequencies in {time.monotonic() - t0:.1f} s")
    checkpoint = out.with_name(out.stem + ".ckpt.npz")
    bar = tqdm(total=config.optimizer.steps, disable=args.quiet, file=sys.stderr,
               desc="training", unit="step")

    def on_step(step: int, terms: dict) -> None:
        if bar.n == 0 and step > 0:
            bar.update(step)  # resumed run
        bar.update(1)
        if step % 25 == 0:
            shown = ("total", "cancellation", "cancellation_nominal", "beam_null", "effort")
            bar.set_postfix({k: f"{terms[k]:.3g}" for k in shown if k in terms}, refresh=False)

    result = train(config, problem, checkpoint=checkpoint, resume=args.resume, on_step=on_step)
    bar.close()
    taps, ctc_taps = export_taps(result.params, problem)
    ls_taps, ls_ctc_taps = least_squares_taps(problem, config.optimizer.regularization,
                                              config.design.taps)
    evaluate = lambda t, c: evaluate_heldout(  # noqa: E731
        array, t, c, config.design.sample_rate, head=config.design.head,
        virtual_width_deg=config.design.width_deg, driver_error_draws=50, seed=config.seed)
    learned, baseline = evaluate(taps, ctc_taps), evaluate(ls_taps, ls_ctc_taps)
    training = {"steps": config.optimizer.steps, "seed": config.seed,
                "fingerprint": fingerprint(config), "seconds": round(time.monotonic() - t0, 1),
                "final_loss": result.history[-1] if result.history else {}}
    bank = make_filterbank(array, config, taps, ctc_taps,
                           {"learned": learned, "least_squares": baseline}, training,
                           problem.virtual_source)
    write_filterbank(out, bank)
    print(format_table(learned, baseline))
    print(f"wrote {out} ({time.monotonic() - t0:.1f} s)")
    return 0


GOALS = {  # metric: (goal text, passes(value))
    "separation_nominal_db": (">= 20", lambda v: v >= 20),
    "separation_zone_median_db": (">= 12", lambda v: v >= 12),
    "separation_zone_worst_db": (">= 8", lambda v: v >= 8),
    "separation_nominal_driver_errors_median_db": (">= 17", lambda v: v >= 17),
    "beam_null_db": ("<= -20", lambda v: v <= -20),
    "beam_null_driver_errors_median_db": ("<= -17", lambda v: v <= -17),
    "beam_ripple_db": ("<= 3", lambda v: v <= 3),
    "beam_rear_db": ("<= -6", lambda v: v <= -6),
    "tonal_deviation_C_db": ("<= 1.5", lambda v: v <= 1.5),
    "tonal_deviation_L_db": ("<= 1.5", lambda v: v <= 1.5),
}


def format_table(learned: dict, baseline: dict) -> str:
    """Held-out metrics, learned vs least squares, with the goals."""
    rows = [f"{'held-out metric':44s} {'learned':>9s} {'least-sq':>9s}  goal"]
    for key, (goal, ok) in GOALS.items():
        rows.append(f"{key:44s} {learned[key]:9.2f} {baseline[key]:9.2f}  {goal} "
                    f"{'ok' if ok(learned[key]) else 'MISSED'}")
    for key, ref in (("ild_L_db", "ild_reference_db"), ("itd_L_us", "itd_reference_us")):
        rows.append(f"{key:44s} {learned[key]:9.2f} {baseline[key]:9.2f}  real source "
                    f"{learned[ref]:.2f}")
    rows.append(f"{'effort_excess_db (L, R, C)':44s} "
                f"{', '.join(f'{v:.1f}' for v in learned['effort_excess_db'])}  "
                f"(least-sq {', '.join(f'{v:.1f}' for v in baseline['effort_excess_db'])})  <= 15")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(run(main, build_parser()))
