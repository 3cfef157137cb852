"""``measure.py --verify BANK.npz``: play a sweep per bank input through the bank on all
drivers at once (device/verification.py), measure what arrives at the microphones and set
it beside what a plant predicts, per third-octave band (evaluation/verification.py).

Ears (``--pose``): the binaural inputs ``left_ear`` and ``right_ear`` through the bank's
``ctc_taps``, the separation per band. Far field (``--far-field --azimuth A[,B...]``): the
``C`` row of ``taps``, on-axis first and then each azimuth, the level re on-axis per band;
one microphone moved between places (a prompt waits for Enter) or one port per place.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass

import numpy as np
from _measure_options import (check_sweep_options, far_field_place, loopback_ports,
                              parse_pose, ports, round_trip)

from common.atomic import atomic_output, check_output_dir
from common.errors import InputError
from common.poses import nearest_cells
from device.playrec import PlayRecord
from device.verification import bank_feeds, verify_inputs
from evaluation.metrics import db_power
from evaluation.verification import (BAND_CENTRES_HZ, band_powers, delivered_spectra,
                                     fft_size, levels_re_on_axis_db, predicted_ears,
                                     predicted_microphones, predicted_spectra,
                                     separation_bands_db)
from models import Array, load_array
from models.plant_sofa import read_ears_sofa, read_farfield_sofa
from renderer.filterbank import FilterBank
from renderer.sinesweep import Sweep, exponential_sweep
from renderer.trackedbank import TrackedBank, read_bank

EAR_INPUTS = ["left_ear", "right_ear"]
MAX_POSE_DISTANCE = 0.02  # a plant's nearest pose farther than this from --pose: a warning
MAX_AZIMUTH_GAP_DEG = 1.0  # and its nearest microphone farther than this from an azimuth


@dataclass(frozen=True)
class _Plan:
    """What plays and what predicts: the bank inputs' ``filters`` (I, D, N) and ``names``,
    the driver responses (R, N', D) at the R microphones that predict, their source, and
    in the far field the places (0 deg first) and the radius (None if the plant gives it)."""

    filters: np.ndarray
    names: list[str]
    plant_ir: np.ndarray
    source: dict
    places: np.ndarray | None = None
    radius: float | None = None


def verify(args: argparse.Namespace) -> int:
    """Measure what the bank delivers, print it beside the prediction, write the report
    and the plot."""
    started = time.monotonic()
    for option, value in (("--out", args.out), ("--append", args.append or None)):
        if value is not None:
            raise InputError(f"{option}: not used with --verify (the figures go to --report "
                             f"and --plot; nothing is added to a plant file)")
    check_sweep_options(args)
    pose = None if args.far_field and args.pose is None else parse_pose(args.pose)
    bank, cell = _bank(args, pose)
    array = _array(args, bank)
    fs = bank.sample_rate
    outputs, mics = ports(args.outputs, "--outputs"), ports(args.inputs, "--inputs")
    if len(outputs) != len(array.drivers):
        raise InputError(f"--outputs: the bank drives {len(array.drivers)} drivers "
                         f"({', '.join(d.name for d in array.drivers)}), got {len(outputs)} "
                         f"ports")
    plan = _far_field_plan(args, bank, array, mics) if args.far_field else \
        _ears_plan(args, bank, array, mics, pose)
    for path in (args.report, args.plot):
        if path is not None:
            check_output_dir(path)
    sweep = exponential_sweep(fs, args.sweep_seconds, f_start_hz=args.f_start,
                              level_db=args.level_db)
    n_taps = bank.taps.shape[-1]
    n_samples = n_taps + int(round(args.ir_ms * 1e-3 * fs))
    _check_window(sweep, n_samples, n_taps, args)
    feeds = bank_feeds(sweep, plan.filters, plan.names, [d.name for d in array.drivers])
    runs, how = _play(args, plan, sweep, feeds, outputs, mics, n_samples)
    delivered = np.concatenate([run.ir for run in runs]).transpose(0, 2, 1)  # (mics, I, n)
    seconds = time.monotonic() - started
    n_fft = fft_size(fs, max(delivered.shape[-1], plan.plant_ir.shape[1] + n_taps - 1))
    got = delivered_spectra(delivered, n_fft)
    want = predicted_spectra(plan.plant_ir, plan.filters, n_fft)
    report = {"bank": str(args.verify), "cell": cell, "sample_rate": fs,
              "bands_hz": np.round(BAND_CENTRES_HZ, 1).tolist(), "predicted_from": plan.source,
              "measurement": _measurement(args, runs, how, seconds)}
    if plan.places is not None:
        report.update(_beam_figures(plan.places[1:], got, want, fs, n_fft))
    else:
        report.update(_ear_figures(pose, got, want, fs, n_fft))
    if args.report is not None:
        with atomic_output(args.report) as tmp:
            tmp.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    if args.plot is not None:
        from evaluation.plots import save_png  # matplotlib: loaded only for a plot

        save_png(_plot(report, args.far_field), args.plot)
    print(_table(report, args.far_field))
    print(f"verified in {seconds:.1f} s" + "".join(
        f"; wrote {path}" for path in (args.report, args.plot) if path is not None))
    return 0


def _ears_plan(args: argparse.Namespace, bank: FilterBank, array: Array, mics: list[str],
               pose: np.ndarray | None) -> _Plan:
    """The binaural inputs through ``ctc_taps``, predicted at the pose."""
    if len(mics) != 2:
        raise InputError(f"--inputs: expected 2 ports (left ear, right ear), got {len(mics)}")
    assert pose is not None  # parse_pose raised for ears without a pose
    ears = read_ears_sofa(args.plant, array, min_poses=1) if args.plant else None
    plant_ir, source = predicted_ears(array, bank.sample_rate, pose, ears)
    if source.get("pose_distance", 0.0) > MAX_POSE_DISTANCE:
        print(f"warning: {args.plant} has no pose within {MAX_POSE_DISTANCE * 100:g} cm "
              f"(1 cm per deg of yaw) of --pose; the nearest, {source['pose']}, predicts",
              file=sys.stderr)
    return _Plan(bank.ctc_taps, EAR_INPUTS, plant_ir, source)


def _far_field_plan(args: argparse.Namespace, bank: FilterBank, array: Array,
                    mics: list[str]) -> _Plan:
    """The C channel through its row of ``taps``, on-axis and at each azimuth."""
    angles, radius = far_field_place(args.azimuth, args.radius, many=True,
                                     radius_needed=args.plant is None)
    places = np.array([0.0, *angles])
    if len(mics) not in (1, places.size):
        raise InputError(f"--inputs: expected one microphone (moved from place to place) "
                         f"or {places.size} (one per place: on-axis, then "
                         f"{', '.join(f'{a:g}' for a in angles)} deg), got {len(mics)}")
    far = read_farfield_sofa(args.plant, array) if args.plant else None
    plant_ir, source = predicted_microphones(array, bank.sample_rate, places, radius, far)
    if far is not None:
        off = np.abs((np.array(source["azimuths_deg"]) - places + 180.0) % 360.0 - 180.0)
        if off.max() > MAX_AZIMUTH_GAP_DEG:
            print(f"warning: {args.plant} has no microphone within {MAX_AZIMUTH_GAP_DEG:g} "
                  f"deg of {places[np.argmax(off)]:g} deg; the nearest predicts",
                  file=sys.stderr)
        radius = radius or float(far.radius_m[0])
    return _Plan(bank.taps[2:3], ["C"], plant_ir, source, places, radius)


def _play(args: argparse.Namespace, plan: _Plan, sweep: Sweep, feeds: list[np.ndarray],
          outputs: list[str], mics: list[str], n_samples: int) -> tuple[list, str]:
    """The measurements (one per microphone place when one microphone moves, else one)
    and how the latency was found."""
    loopback = loopback_ports(args.loopback)
    with PlayRecord(outputs + ([loopback[0]] if loopback else []),
                    mics + ([loopback[1]] if loopback else []), server=args.server) as audio:
        if audio.sample_rate_hz != sweep.sample_rate_hz:
            raise InputError(f"{args.verify}: the bank runs at {sweep.sample_rate_hz} Hz, but "
                             f"the JACK server runs at {audio.sample_rate_hz} Hz; run it at "
                             f"the bank's rate")
        latency, how = round_trip(audio, loopback, len(outputs), len(mics))
        print(f"verifying {args.verify}: {len(plan.names)} input(s) x {args.repeats} "
              f"sweep(s) of {args.sweep_seconds:g} s at {sweep.sample_rate_hz} Hz on "
              f"{len(outputs)} drivers at once", file=sys.stderr)
        moving = plan.places is not None and len(mics) == 1
        runs = []
        for place in (plan.places if moving else [None]):
            if place is not None:
                _wait(f"place the microphone at azimuth {place:g} deg, {plan.radius:g} m "
                      f"from the device, then press Enter")
            runs.append(verify_inputs(
                audio.play_record, sweep, feeds, input_names=plan.names, mic_names=mics,
                n_samples=n_samples, repeats=args.repeats,
                tail_samples=int(round(args.tail_ms * 1e-3 * sweep.sample_rate_hz)),
                latency=None if latency is None else latency.max(axis=0), loopback=loopback,
                progress=lambda line: print(line, file=sys.stderr)))
    return runs, how


def _bank(args: argparse.Namespace, pose: np.ndarray | None) -> tuple[FilterBank, dict | None]:
    """The plain bank to play: the file's, or a tracked bank's cell nearest ``pose`` (the
    nominal cell without one), with that cell's index and pose."""
    bank = read_bank(args.verify)
    if isinstance(bank, TrackedBank):
        k = bank.nominal_cell if pose is None else int(nearest_cells(bank.cells, pose))
        return bank.cell_bank(k), {"index": k, "pose": bank.cells[k].tolist()}
    return bank, None


def _array(args: argparse.Namespace, bank: FilterBank) -> Array:
    """--array, or the array the bank's manifest names; its drivers must be the bank's."""
    name = args.array or bank.manifest["array"]
    try:
        array = load_array(name)
    except InputError as exc:
        if args.array:
            raise
        raise InputError(f"{args.verify}: its array {name!r} cannot be loaded ({exc}); give "
                         f"the array file with --array") from None
    drivers = [d.name for d in array.drivers]
    if drivers != bank.driver_names:
        raise InputError(f"{args.verify}: the bank's drivers ({', '.join(bank.driver_names)}) "
                         f"are not those of array {array.name!r} ({', '.join(drivers)})")
    return array


def _check_window(sweep: Sweep, n_samples: int, n_taps: int, args: argparse.Namespace) -> None:
    """The delivered response (the bank's taps and --ir-ms of the device after them) must
    end before the sweep's 2nd harmonic distortion product begins."""
    lead = sweep.max_response_samples  # impulse_response's own limit, checked before playing
    if n_samples >= lead:
        need = (n_samples + 1) / lead * args.sweep_seconds
        raise InputError(f"--sweep-seconds: the delivered response (the bank's {n_taps} taps "
                         f"and --ir-ms {args.ir_ms:g} after them, {n_samples} samples) would "
                         f"overlap the 2nd harmonic of a {args.sweep_seconds:g} s sweep "
                         f"({lead} samples before it); use sweeps of at least "
                         f"{np.ceil(need * 10) / 10:g} s or a shorter --ir-ms")


def _wait(prompt: str) -> None:
    """Print ``prompt`` and wait for a line on stdin (the microphone is being moved)."""
    print(prompt, file=sys.stderr, flush=True)
    if not sys.stdin.readline():
        raise InputError("--inputs: stdin closed while waiting for the microphone to be "
                         "moved; give one microphone port per place to measure without "
                         "moving it")


def _measurement(args: argparse.Namespace, runs: list, how: str, seconds: float) -> dict:
    return {"sweep_seconds": args.sweep_seconds, "level_db": args.level_db,
            "repeats": args.repeats, "f_start_hz": args.f_start, "ir_ms": args.ir_ms,
            "latency_removed_samples": sorted({int(v) for r in runs for v in r.latency.ravel()}),
            "latency": how,
            "peak_dbfs": [np.round(r.peak_dbfs, 1).tolist() for r in runs],
            "peak_to_noise_db": [np.round(r.peak_to_noise_db, 1).tolist() for r in runs],
            "replayed": sum(r.replayed for r in runs),
            "xrun_sweeps": sum(r.xrun_sweeps for r in runs), "seconds": round(seconds, 2)}


def _ear_figures(pose, got: np.ndarray, want: np.ndarray, fs: int, n_fft: int) -> dict:
    delivered = separation_bands_db(got, fs, n_fft)  # (B, 3)
    predicted = separation_bands_db(want, fs, n_fft)
    keys = EAR_INPUTS + ["mean"]
    return {"pose": np.asarray(pose).tolist(),
            "separation_db": {
                "delivered": {k: np.round(delivered[:, i], 2).tolist() for i, k in enumerate(keys)},
                "predicted": {k: np.round(predicted[:, i], 2).tolist() for i, k in enumerate(keys)},
                "gap": np.round(delivered[:, 2] - predicted[:, 2], 2).tolist()},
            "delivered_separation_db": round(float(np.median(delivered[:, 2])), 2),
            "predicted_separation_db": round(float(np.median(predicted[:, 2])), 2),
            "band_powers_db": {"delivered": _powers(got, fs, n_fft),
                               "predicted": _powers(want, fs, n_fft)}}


def _beam_figures(angles: np.ndarray, got: np.ndarray, want: np.ndarray, fs: int,
                  n_fft: int) -> dict:
    delivered = levels_re_on_axis_db(got, fs, n_fft)  # (A, B)
    predicted = levels_re_on_axis_db(want, fs, n_fft)
    keys = [f"{a:g}" for a in angles]
    return {"azimuths_deg": angles.tolist(),
            "level_re_on_axis_db": {
                "delivered": {k: np.round(v, 2).tolist() for k, v in zip(keys, delivered)},
                "predicted": {k: np.round(v, 2).tolist() for k, v in zip(keys, predicted)},
                "gap": {k: np.round(v, 2).tolist() for k, v in zip(keys, delivered - predicted)}},
            "delivered_level_db": {k: round(float(np.median(v)), 2)
                                   for k, v in zip(keys, delivered)},
            "predicted_level_db": {k: round(float(np.median(v)), 2)
                                   for k, v in zip(keys, predicted)}}


def _powers(spectra: np.ndarray, fs: int, n_fft: int) -> list:
    """Band powers (receivers, inputs, B) in dB re the largest, for the report."""
    power = band_powers(spectra, fs, n_fft)
    return np.round(db_power(power / power.max()), 2).tolist()


def _curves(report: dict, far_field: bool) -> tuple[dict, str]:
    """{label: (delivered (B,), predicted (B,))} and the figure's unit."""
    if far_field:
        table = report["level_re_on_axis_db"]
        return ({f"{k} deg": (table["delivered"][k], table["predicted"][k])
                 for k in table["delivered"]}, "C level re on-axis (dB)")
    table = report["separation_db"]
    return ({f"{k} input" if k != "mean" else "mean": (table["delivered"][k],
                                                        table["predicted"][k])
             for k in table["delivered"]}, "CTC separation (dB)")


def _plot(report: dict, far_field: bool):
    curves, unit = _curves(report, far_field)
    where = (f"azimuths {', '.join(f'{a:g}' for a in report['azimuths_deg'])} deg" if far_field
             else f"pose {', '.join(f'{v:g}' for v in report['pose'])}")
    from evaluation.plots import delivered_vs_predicted

    return delivered_vs_predicted(np.array(report["bands_hz"]), curves, unit,
                                  f"{report['bank']}: {where}")


def _table(report: dict, far_field: bool) -> str:
    curves, unit = _curves(report, far_field)
    if not far_field:
        curves = {"mean": curves["mean"]}
    rows = [f"{unit} per third-octave band: delivered / predicted / gap"]
    rows.append(f"{'band (Hz)':>10s} " + " ".join(f"{label:>24s}" for label in curves))
    for b, centre in enumerate(report["bands_hz"]):
        rows.append(f"{centre:10.0f} " + " ".join(
            f"{d[b]:7.2f} {p[b]:7.2f} {d[b] - p[b]:+7.2f}  " for d, p in curves.values()))
    rows.append(f"{'median':>10s} " + " ".join(
        f"{np.median(d):7.2f} {np.median(p):7.2f} {np.median(d) - np.median(p):+7.2f}  "
        for d, p in curves.values()))
    source = report["predicted_from"]
    rows.append("predicted from " + (
        f"{source['plant']}" + (f" (pose {source['pose']}, {source['pose_distance']:.3f} away)"
                                if "pose" in source else
                                f" (microphones at {source['azimuths_deg']} deg)")
        if "plant" in source else
        f"the model: array {source['model']}, driver model {source['driver_model']}"
        + ("" if far_field else ", sphere head")))
    return "\n".join(rows)
