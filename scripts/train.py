#!/usr/bin/env python3
"""Learn an array's filter bank: every FIR tap jointly, in JAX/optax.

Example: python scripts/train.py --array studio
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from _cli import ROOT, make_parser, run

from common.errors import InputError


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
    p.add_argument("--plant", type=Path, metavar="EARS.sofa",
                   help="train on a measured device: driver-to-ear impulse responses "
                   "(AES69 GeneralFIR-E, CONVENTIONS.md); a quarter of its poses are held out "
                   "and judge the bank")
    p.add_argument("--plant-farfield", type=Path, metavar="FARFIELD.sofa",
                   help="with --plant: the measured far field for the centre beam (default: "
                   "the model ensemble)")
    p.add_argument("--tracked", action="store_true",
                   help="learn a head-tracked bank: one bank per cell of the config's "
                   "[tracking] grid (default out: checkpoints/<array>/trackedbank.npz)")
    p.add_argument("--ladder", metavar="DB,DB,...",
                   help="train a headroom ladder: one plain bank per headroom budget in dB "
                   "(e.g. 6,12,18,24) into the folder --out (default checkpoints/<array>/"
                   "ladder), with ladder.json and a Pareto table and plot against least "
                   "squares at the same headrooms")
    p.add_argument("--resume", action="store_true",
                   help="continue from the checkpoint beside --out if there is one")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(args) -> int:
    from tqdm import tqdm

    from common.atomic import check_output_dir, check_output_folder
    from design import judge_banks, judged_metrics, learn_design
    from evaluation.system import evaluate_measured
    from models import driver_model_names, load_array
    from optim.config import load_config
    from optim.export import make_filterbank
    from optim.loop import training_record
    from optim.problem import build_problem
    from renderer.export import headroom_db
    from renderer.filterbank import write_filterbank

    array = load_array(args.array)
    budgets = None
    if args.ladder is not None:  # a bad list or combination fails before any work
        from _ladder import parse_budgets
        budgets = parse_budgets(args.ladder)
        if args.tracked:
            raise InputError("--ladder does not work with --tracked yet: a ladder's rungs "
                             "are plain banks")
    name, check_output = ("ladder", check_output_folder) if budgets is not None else (
        "trackedbank.npz" if args.tracked else "filterbank.npz", check_output_dir)
    out = args.out or ROOT / "checkpoints" / array.name / name
    if args.out is None:
        out.parent.mkdir(parents=True, exist_ok=True)
    check_output(out)
    for name in ("steps", "taps", "sample_rate"):
        value = getattr(args, name)
        if value is not None and value < 0:
            raise InputError(f"--{name.replace('_', '-')}: expected a non-negative integer, got {value}")
    overrides = {k: v for k, v in {"taps": args.taps, "sample_rate": args.sample_rate,
                                "zone": args.zone, "head": args.head,
                                "zone_lateral_m": args.zone_lateral_m,
                                "width_deg": args.width_deg}.items() if v is not None}
    if args.taps is not None:
        overrides["latency_samples"] = args.taps // 2
        overrides["band_taps"] = min(255, (args.taps // 4) | 1)
    if args.sample_rate is not None:
        overrides["max_freq_hz"] = min(20000.0, 0.45 * args.sample_rate)
    config = load_config(args.config, {"design": overrides, "optimizer": {"steps": args.steps}
                                       if args.steps is not None else {}},
                         array=args.array, seed=args.seed)
    if config.design.head not in ("sphere", "free") and not Path(config.design.head).is_file():
        raise InputError(f"--head: {config.design.head} is not 'sphere', 'free' or an existing "
                         f".sofa file")
    if args.tracked:
        from _tracked import main_tracked
        return main_tracked(args, array, config, out)
    measured = read_measured_plant(args, array, config.seed)
    if budgets is not None:
        from _ladder import main_ladder
        return main_ladder(args, array, config, out, measured, budgets)

    t0 = time.monotonic()
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr))
    say(f"train.py: {array.name}: {len(array.drivers)} drivers, {config.design.taps} taps at "
        f"{config.design.sample_rate} Hz, zone {config.design.zone!r}, head {config.design.head!r}")
    problem = build_problem(array, config, measured)
    say(f"train.py: transfer matrices for {config.design.pool} listeners x "
        f"{problem.freqs_hz.size} frequencies in {time.monotonic() - t0:.1f} s")
    checkpoint = out.with_name(out.stem + ".ckpt.npz")
    bar = tqdm(total=config.optimizer.steps, disable=args.quiet, file=sys.stderr,
               desc="training", unit="step")

    def on_step(step: int, terms: dict) -> None:
        if bar.n == 0 and step > 0:
            say(f"train.py: resuming from step {step} of {config.optimizer.steps} ({checkpoint})")
            bar.update(step)  # resumed run
        bar.update(1)
        if step % 25 == 0:
            shown = ("total", "cancellation", "cancellation_nominal", "beam_null", "effort")
            bar.set_postfix({k: f"{terms[k]:.3g}" for k in shown if k in terms}, refresh=False)

    design = learn_design(array, config, problem=problem, checkpoint=checkpoint,
                          resume=args.resume, on_step=on_step)
    result, taps, ctc_taps = design.run, design.taps, design.ctc_taps
    ls_taps, ls_ctc_taps = design.ls_taps, design.ls_ctc_taps
    bar.close()
    if args.resume and result.steps_run == 0:
        say(f"train.py: {checkpoint} already holds all {config.optimizer.steps} steps; "
            f"evaluating it")
    say("train.py: held-out evaluation in every driver model "
        f"({', '.join(driver_model_names())}) ...")
    learned, baseline = judge_banks(array, config, [(taps, ctc_taps), (ls_taps, ls_ctc_taps)])
    trained_on = list(config.plant.driver_models)
    metrics = judged_metrics(learned, baseline, trained_on)
    metrics.update(headroom_db=headroom_db(taps), ctc_headroom_db=headroom_db(ctc_taps))
    training = {**training_record(config, result.history, problem),
                "seconds": round(time.monotonic() - t0, 1)}
    if measured is not None:
        training["measured_plant"] = {"ears": str(args.plant), "farfield": str(
            args.plant_farfield) if args.plant_farfield else None}
    if measured is not None:
        metrics["measured"] = {name: evaluate_measured(measured, t, c, config.design.sample_rate,
                                                       array.speed_of_sound_m_s)
                               for name, (t, c) in (("learned", (taps, ctc_taps)),
                                                    ("least_squares", (ls_taps, ls_ctc_taps)))}
    bank = make_filterbank(array, config, taps, ctc_taps, metrics, training,
                           problem.virtual_source)
    write_filterbank(out, bank)
    print(format_table(learned, baseline, trained_on, config.effort.headroom_db))
    if measured is not None:
        print(format_measured(metrics["measured"]))
    print(f"wrote {out} ({time.monotonic() - t0:.1f} s)")
    return 0


def read_measured_plant(args, array, seed: int):
    """The measured plant of --plant / --plant-farfield (validated against the array), or
    None."""
    from models.measured_plants import MeasuredPlant, split_poses
    from models.plant_sofa import read_ears_sofa, read_farfield_sofa

    if args.plant is None:
        if args.plant_farfield is not None:
            raise InputError("--plant-farfield needs --plant (the measured ears)")
        return None
    ears = read_ears_sofa(args.plant, array)
    far = read_farfield_sofa(args.plant_farfield, array) if args.plant_farfield else None
    return MeasuredPlant(ears, split_poses(ears, array.listener.head_position_m, seed=seed), far)


def format_measured(figures: dict) -> str:
    """The measured plant's figures, learned and least squares."""
    learned, ls = figures["learned"], figures["least_squares"]
    rows = [f"measured plant ({len(learned['poses']['held_out'])} held-out poses of "
            f"{len(learned['poses']['train']) + len(learned['poses']['held_out'])})"
            f"{'':7s} {'learned':>8s} {'least-sq':>8s}"]
    rows += [f"  {key:47s} {learned[key]:8.2f} {ls[key]:8.2f}" for key in learned
             if key != "poses"]
    return "\n".join(rows)


EXTRA_FIGURES = ("separation_nominal_db", "separation_zone_worst_db",
                 "separation_nominal_units_median_db", "beam_null_units_median_db",
                 "beam_rear_db", "tonal_deviation_L_db")  # reported without a goal


def format_table(learned: dict[str, dict], baseline: dict[str, dict], trained_on: list[str],
                 budget_db: float) -> str:
    """Held-out figures: learned and least squares (at the same headroom) in their least
    favourable driver model with issue 16's goals for a rung of ``budget_db``
    (evaluation.pareto), then the learned figure in each model (``*``: not used in
    training), then the model gap."""
    from evaluation.metrics import least_favourable, model_gap
    from evaluation.pareto import FIGURES, goal, goal_text, meets

    worst, worst_ls = least_favourable(learned), least_favourable(baseline)
    names = [f"{m}{'' if m in trained_on else '*'}" for m in learned]
    rows = [f"{'held-out figure (least favourable model)':44s} {'learned':>8s} {'least-sq':>8s}"
            f"  {'goal':14s}| " + " ".join(f"{n:>12s}" for n in names)]
    shown = [(f.key, f) for f in FIGURES] + [(key, None) for key in EXTRA_FIGURES]
    for key, figure in shown:
        if key not in worst:
            continue
        target = None if figure is None else goal(figure, budget_db)
        text = "" if target is None else \
            f"{goal_text(figure, target)} {'ok' if meets(figure, worst[key], target) else 'MISSED'}"
        rows.append(f"{key:44s} {worst[key]:8.2f} {worst_ls[key]:8.2f}  {text:14s}| " +
                    " ".join(f"{learned[m].get(key, float('nan')):12.2f}" for m in learned))
    for key, ref in (("ild_L_db", "ild_reference_db"), ("itd_L_us", "itd_reference_us")):
        real = f"real {next(iter(learned.values()))[ref]:.1f}"
        rows.append(f"{key:44s} {'':8s} {'':8s}  {real:14s}| " +
                    " ".join(f"{learned[m][key]:12.2f}" for m in learned))
    held = [m for m in learned if m not in trained_on]
    rows.append(f"* held out: {', '.join(held)} (not used in training); heads_*: "
                f"listeners not trained on" if held else
                "no driver model held out: every figure is in a model the bank was trained on")
    gap = model_gap(learned, trained_on)
    if gap:
        rows.append("model gap (training models minus held-out models, learned): " + ", ".join(
            f"{k} {v:+.1f}" for k, v in gap.items() if k in dict(shown)))
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(run(main, build_parser()))
