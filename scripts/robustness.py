"""Robustness study of a filter bank: held-out figures, listening-area maps, zone area,
beam, directivity, effort, per-position table, with the baselines side by side.

    python scripts/robustness.py --filters checkpoints/studio/filterbank.npz --out runs/study
        [--zone couch | --lateral-m 0.3 --distance-scale 0.7 1.6 ...] [--head PATH.sofa]
        [--compare other.npz ...] [--room living_room]

Writes DIR/metrics.json, DIR/positions.csv, DIR/*.png and DIR/report.html (each
atomically; the report last). ``--room`` adds the C channel's room figures (models/room.py).
See docs/metrics.md for the definitions.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path

import numpy as np

import _cli
from common.atomic import atomic_output, check_output_folder
from common.errors import InputError
from evaluation import plots, robustness
from evaluation.baselines import least_squares_bank, no_processing_bank
from evaluation.report import write_report
from evaluation.tracking import tracked_separation
from models import Zone, get_zone, resolve_head
from renderer.filterbank import FilterBank
from renderer.trackedbank import TrackedBank, read_bank

MIN_SAMPLE_RATE = 16000  # the evaluation bands reach 6 kHz (maps) and 12 kHz (tonal)


def build_parser():
    p = _cli.make_parser(__doc__.split("\n\n")[0], prog="robustness.py")
    p.add_argument("--filters", required=True, help="the filter bank (.npz) to study")
    p.add_argument("--out", required=True, help="output directory (created if its parent exists)")
    p.add_argument("--zone", default="couch", help="zone preset (models/zones.toml) that sets "
                   "the extent of the maps; widened to at least the held-out grid")
    p.add_argument("--lateral-m", type=float, help="override the zone's lateral spread (m)")
    p.add_argument("--distance-scale", type=float, nargs=2, metavar=("LO", "HI"),
                   help="override the zone's distance range, times the nominal distance")
    p.add_argument("--height-m", type=float, help="override the zone's height spread (m)")
    p.add_argument("--yaw-deg", type=float, help="override the zone's yaw spread (deg)")
    p.add_argument("--head", default="sphere", help="'sphere', 'free' or a measured-HRTF .sofa file")
    p.add_argument("--array", help="array name or TOML path (default: the bank's manifest geometry)")
    p.add_argument("--compare", nargs="*", default=[], metavar="NPZ",
                   help="more banks to show side by side (evaluated on their own arrays)")
    p.add_argument("--width-deg", type=float, default=30.0, help="reference stereo half-angle")
    p.add_argument("--threshold-db", type=float, default=robustness.ZONE_THRESHOLD_DB,
                   help="separation that counts as inside the listening zone")
    p.add_argument("--grid", type=int, nargs=2, default=[21, 15], metavar=("LATERAL", "DISTANCE"),
                   help="map points across and in depth")
    p.add_argument("--unit-draws", type=int, default=16,
                   help="simulated units (the unit-to-unit tolerances of models/tolerances.py, "
                   "never the trained ones) judged at the nominal seat (0: none)")
    p.add_argument("--seed", type=int, default=0, help="seed of the unit draws")
    p.add_argument("--room", help="room preset (models/rooms.toml) or room TOML: adds DRR, C50 "
                   "and critical distance of the C channel with and without the beamformer "
                   "(image sources: can take a minute)")
    return p


def load_room(name: str):
    """The room of ``--room`` (the room model is imported only when asked for)."""
    try:
        from models.room import load_room as load
    except ModuleNotFoundError as exc:
        raise InputError(f"--room: the room model is not available here ({exc})") from None
    return load(name)


def room_figures(array, room, bank: FilterBank) -> dict:
    """{"C with beamformer": {...}, "C without beamformer": {...}} at the nominal listener."""
    from evaluation.room_metrics import room_study
    return room_study(array, room, bank)


def zone_from_args(args) -> Zone:
    """The preset zone with any per-field overrides (validated by Zone)."""
    zone = get_zone(args.zone)
    changes = {name: getattr(args, name) for name in ("lateral_m", "height_m", "yaw_deg")
               if getattr(args, name) is not None}
    if args.distance_scale is not None:
        changes["distance_scale"] = tuple(args.distance_scale)
    return dataclasses.replace(zone, **changes)


def check_args(args) -> None:
    if args.grid[0] < 2 or args.grid[1] < 2:
        raise InputError(f"--grid: expected at least 2 x 2 map points, got {args.grid}")
    if not 0 < args.width_deg < 90:
        raise InputError(f"--width-deg: expected an angle in (0, 90) degrees, got {args.width_deg}")
    if args.unit_draws < 0:
        raise InputError(f"--unit-draws: expected >= 0, got {args.unit_draws}")
    check_output_folder(args.out)


def load_bank(path: str) -> tuple[FilterBank, TrackedBank | None]:
    """A plain bank and None, or a tracked bank's nominal cell (its untracked fallback,
    studied like a plain bank) and the tracked bank."""
    bank = read_bank(path)
    tracked = bank if isinstance(bank, TrackedBank) else None
    bank = tracked.fallback() if tracked is not None else bank
    if bank.sample_rate < MIN_SAMPLE_RATE:
        raise InputError(f"{path}: sample_rate {bank.sample_rate} Hz is below the "
                         f"{MIN_SAMPLE_RATE} Hz the evaluation bands need")
    return bank, tracked


def tracked_figures(array, grid, tracked: TrackedBank, head, threshold_db: float) -> dict:
    """The separation map of a tracked bank with ideal tracking (each head of the map
    grid rendered with its nearest cell) and its summaries; JSON-ready."""
    sep = tracked_separation(array, tracked.cells, tracked.ctc_taps, tracked.sample_rate,
                             grid.listeners(array), robustness.MAP_FREQS_HZ,
                             head).reshape(grid.shape)
    level = int(abs(grid.height_m).argmin())
    return {"cells": tracked.cells.tolist(), "nominal_cell": tracked.nominal_cell,
            "separation_map_median_db": float(np.median(sep)),
            "separation_map_worst_db": float(sep.min()),
            "zone_area_m2": robustness.zone_area_m2(sep[:, :, level], grid.lateral_m,
                                                    grid.distance_m, threshold_db),
            "separation_map": sep.tolist()}


def main(args) -> int:
    check_args(args)
    zone = zone_from_args(args)
    head = resolve_head(args.head)  # a SOFA file is read once, here
    room = load_room(args.room) if args.room else None
    bank, tracked = load_bank(args.filters)
    array = robustness.bank_array(bank, args.filters, args.array)
    grid = robustness.map_grid(array, zone, *args.grid)
    designs: dict[str, tuple[FilterBank, object]] = {"learned": (bank, array)}
    designs["no_processing"] = (no_processing_bank(array, bank.sample_rate, bank.taps.shape[-1]), array)
    designs["least_squares"] = (least_squares_bank(array), array)
    for path in args.compare:
        other, _ = load_bank(path)
        name = Path(path).stem if Path(path).stem not in designs else path
        designs[name] = (other, robustness.bank_array(other, path))

    studies = {name: robustness.run_study(
        arr, b.taps, b.ctc_taps, b.sample_rate, grid, head, args.width_deg, args.threshold_db,
        args.unit_draws, args.seed) for name, (b, arr) in designs.items()}
    primary = studies["learned"]
    positions = robustness.position_table(array, bank.taps, bank.ctc_taps, bank.sample_rate,
                                          grid.height_m, head, args.width_deg)
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    extra = {} if tracked is None else {
        "tracked": tracked_figures(array, grid, tracked, head, args.threshold_db)}
    images = write_figures(out, array, grid, studies, args.threshold_db, {
        "tracked (ideal tracking)": np.array(extra["tracked"]["separation_map"])}
        if extra else {})
    metrics = {
        "run": {"filters": str(args.filters), "array": array.name, "head": str(args.head),
                "sample_rate": bank.sample_rate, "taps": int(bank.taps.shape[-1]),
                "width_deg": args.width_deg, "zone": dataclasses.asdict(zone),
                "unit_draws": args.unit_draws, "seed": args.seed},
        "designs": {name: s.figures for name, s in studies.items()},
        "grid": {"lateral_m": grid.lateral_m.tolist(), "distance_m": grid.distance_m.tolist(),
                 "height_m": grid.height_m.tolist()},
        "maps": {f.name: getattr(primary.maps, f.name).tolist()
                 for f in dataclasses.fields(primary.maps)},
        "directivity_index": {"freqs_hz": primary.freqs_hz.tolist(),
                              **{name: s.di_db.tolist() for name, s in studies.items()
                                 if s.freqs_hz.shape == primary.freqs_hz.shape}},
        "positions": positions, **extra,
    }
    metrics["model_gap"] = {name: robustness.model_gap_figures(arr, b, head, args.width_deg)
                            for name, (b, arr) in designs.items() if name != "no_processing"}
    if room is not None:
        metrics["run"]["room"] = args.room
        metrics["room"] = room_figures(array, room, bank)
    write_json(out / "metrics.json", metrics)
    write_csv(out / "positions.csv", positions)
    report = write_report(out / "report.html", metrics, images)
    study = primary.figures["study"]
    print(f"zone area (separation >= {args.threshold_db:g} dB): {study['zone_area_m2']:.3f} m^2 "
          f"of {study['map_area_m2']:.3f} m^2; report: {report}")
    if extra:
        print(f"tracked, ideal tracking: zone area {extra['tracked']['zone_area_m2']:.3f} m^2 "
              f"({len(tracked.cells)} cells; the rest of the report studies the nominal cell)")
    return 0


def write_figures(out: Path, array, grid, studies: dict, threshold_db: float,
                  extra_maps: dict[str, np.ndarray]) -> list[tuple[str, Path]]:
    """Write the report's PNGs; returns (caption, path) pairs. ``extra_maps`` (X, Y, Z)
    separation maps are shown beside the learned bank's."""
    primary = studies["learned"]
    level = int(abs(grid.height_m).argmin())
    maps = {n: s.maps.separation_db[:, :, level] for n, s in studies.items()}
    maps = {"learned (nominal cell)" if extra_maps else "learned": maps.pop("learned"),
            **{n: m[:, :, level] for n, m in extra_maps.items()}, **maps}
    names = [d.name for d in array.drivers]
    figures = [
        ("Separation over the listening area (nominal height)", "separation_map.png",
         plots.separation_maps(grid, maps, threshold_db, array.listener.distance_m)),
        ("Width: ILD/ITD of the L channel vs a real source", "width_map.png",
         plots.width_map(grid, primary.maps, level)),
        ("C channel beam, polar", "beam_polar.png",
         plots.beam_polar(primary.freqs_hz, primary.beam_azimuths_deg, primary.beam_c)),
        ("C channel beam, frequency x azimuth", "beam_heatmap.png",
         plots.beam_heatmap(primary.freqs_hz, primary.beam_azimuths_deg, primary.beam_c)),
        ("Directivity index of the C channel", "directivity.png",
         plots.directivity(primary.freqs_hz, {n: s.di_db for n, s in studies.items()
                                              if s.freqs_hz.shape == primary.freqs_hz.shape})),
        ("Driver filters (learned)", "filters.png",
         plots.filter_responses(primary.freqs_hz, primary.filters, names)),
    ]
    return [(caption, plots.save_png(fig, out / name)) for caption, name, fig in figures]


def write_json(path: Path, data: dict) -> None:
    """Strict JSON: a non-finite figure (undefined, e.g. C50 of a response that ends
    within 50 ms) is written as null."""
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(_finite(data), indent=1, allow_nan=False))


def _finite(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def write_csv(path: Path, rows: list[dict]) -> None:
    with atomic_output(path) as tmp:
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    raise SystemExit(_cli.run(main, build_parser()))
