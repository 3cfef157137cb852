"""Training configuration: ``optim/defaults.toml`` overridden by a user TOML and the CLI."""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from common.errors import InputError
from common.tomlfields import Fields, check_number, read_toml
from models.drivers import driver_model_names
from models.listener_heads import HeadVariety
from models.tolerances import Tolerances
from optim.losses import LOSS_TERMS
from targets import BeamTarget, CancellationTarget, EffortTarget

DEFAULTS_FILE = Path(__file__).parent / "defaults.toml"


@dataclass(frozen=True)
class Design:
    sample_rate: int
    taps: int
    band_taps: int
    latency_samples: int
    zone: str
    zone_lateral_m: float
    head: str
    width_deg: float
    pool: int
    batch: int
    min_freq_hz: float
    max_freq_hz: float
    symmetric: bool


@dataclass(frozen=True)
class OptimizerSettings:
    steps: int
    learning_rate: float
    warmup_steps: int
    init: str
    regularization: float
    checkpoint_seconds: float


@dataclass(frozen=True)
class PlantSettings:
    """The plant ensemble (see optim/defaults.toml [plant])."""

    driver_models: tuple[str, ...]
    units: int
    tolerances: Tolerances
    batch_plants: int
    worst_weight: float
    worst_power: float


@dataclass(frozen=True)
class ListenerSettings:
    """Listener variety of the training pool (defaults.toml [listeners]): ``heads`` drawn
    heads (1: the standard sphere alone) within ``variety``'s ranges."""

    heads: int
    variety: HeadVariety


@dataclass(frozen=True)
class TrackingSettings:
    """The head-pose grid of a tracked bank and how its cells train (defaults.toml
    [tracking]): offsets from the nominal listener, each axis strictly increasing."""

    lateral_m: tuple[float, ...]
    distance_scale: tuple[float, ...]
    yaw_deg: tuple[float, ...]
    cell_extent: float
    cell_pool: int
    cell_batch: int
    smoothness: float
    steps: int


@dataclass(frozen=True)
class TrainConfig:
    array: str
    seed: int
    design: Design
    optimizer: OptimizerSettings
    cancellation: CancellationTarget
    beam: BeamTarget
    plant: PlantSettings
    effort: EffortTarget
    listeners: ListenerSettings
    weights: dict[str, float] = field(default_factory=dict)
    tracking: TrackingSettings = field(kw_only=True)  # after the defaults, still required

    def to_dict(self) -> dict:
        return asdict(self)


def load_config(path: str | Path | None = None, overrides: dict[str, dict] | None = None,
                *, array: str = "studio", seed: int = 0) -> TrainConfig:
    """Defaults, then the TOML file at ``path``, then ``overrides`` ({table: {key: value}})."""
    data = read_toml(DEFAULTS_FILE)
    source = str(DEFAULTS_FILE)
    if path is not None:
        user = read_toml(path)
        source = str(path)
        _merge(data, user, source)
    if overrides:
        _merge(data, {k: v for k, v in overrides.items() if v}, "command line")
    return _parse(data, source, array, seed)


def _merge(base: dict, extra: dict, where: str, prefix: str = "") -> None:
    for key, value in extra.items():
        name = f"{prefix}{key}"
        if key not in base:
            raise InputError(f"{where}: unknown setting {name!r}; known: "
                             f"{', '.join(sorted(prefix + k for k in base))}")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise InputError(f"{where}: {name} must be a table")
            _merge(base[key], value, where, f"{name}.")
        else:
            base[key] = value


def _integer(f: Fields, key: str, minimum: int) -> int:
    value = f.data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{f.where}.{key}: expected an integer >= {minimum}, got {value!r}")
    return value


def _boolean(f: Fields, key: str) -> bool:
    value = f.data.get(key)
    if not isinstance(value, bool):
        raise InputError(f"{f.where}.{key}: expected true or false, got {value!r}")
    return value


def _numbers(f: Fields, key: str) -> tuple[float, ...]:
    values = f.data.get(key, [])
    if not isinstance(values, list):
        raise InputError(f"{f.where}.{key}: expected a list of numbers, got {values!r}")
    return tuple(check_number(v, f"{f.where}.{key}[{i}]") for i, v in enumerate(values))


def _parse(data: dict[str, Any], source: str, array: str, seed: int) -> TrainConfig:
    top = Fields(copy.deepcopy(data), source)
    d = top.table("design")
    design = Design(
        sample_rate=_integer(d, "sample_rate", 8000), taps=_integer(d, "taps", 64),
        band_taps=_integer(d, "band_taps", 1), latency_samples=_integer(d, "latency_samples", 0),
        zone=d.string("zone"), zone_lateral_m=d.number("zone_lateral_m"), head=d.string("head"),
        width_deg=d.number("width_deg", minimum=1.0, maximum=89.0),
        pool=_integer(d, "pool", 1), batch=_integer(d, "batch", 1),
        min_freq_hz=d.number("min_freq_hz", positive=True),
        max_freq_hz=d.number("max_freq_hz", positive=True), symmetric=_boolean(d, "symmetric"))
    if design.band_taps % 2 == 0 or design.band_taps >= design.taps // 2:
        raise InputError(f"{d.where}.band_taps: expected an odd number below taps/2 "
                         f"({design.taps // 2}), got {design.band_taps}")
    if not design.latency_samples < design.taps:
        raise InputError(f"{d.where}.latency_samples: expected fewer than taps ({design.taps}), "
                         f"got {design.latency_samples}")
    if design.batch > design.pool:
        raise InputError(f"{d.where}.batch: expected at most pool ({design.pool}), got {design.batch}")
    if not design.min_freq_hz < design.max_freq_hz <= design.sample_rate / 2:
        raise InputError(f"{d.where}: expected min_freq_hz < max_freq_hz <= sample_rate/2")
    o = top.table("optimizer")
    init = o.string("init")
    if init not in ("least_squares", "zeros"):
        raise InputError(f"{o.where}.init: expected 'least_squares' or 'zeros', got {init!r}")
    optimizer = OptimizerSettings(
        steps=_integer(o, "steps", 0), learning_rate=o.number("learning_rate", positive=True),
        warmup_steps=_integer(o, "warmup_steps", 0), init=init,
        regularization=o.number("regularization", positive=True),
        checkpoint_seconds=o.number("checkpoint_seconds", positive=True))
    t = top.table("targets")
    c = t.table("cancellation")
    cancellation = CancellationTarget(_numbers(c, "freqs_hz"), _numbers(c, "gain_db"),
                                      zone_floor_db=c.number("zone_floor_db"),
                                      zone_error_db=c.number("zone_error_db"))
    b = t.table("beam")
    band = b.vector("band_hz", 2)
    beam = BeamTarget(band_hz=(float(band[0]), float(band[1])), flat_deg=b.number("flat_deg"),
                      null_deg=b.number("null_deg"), null_db=b.number("null_db"),
                      rear_deg=b.number("rear_deg"), rear_db=b.number("rear_db"),
                      harmonics=_numbers(b, "harmonics"), effort_db=b.number("effort_db"),
                      directivity_db=b.number("directivity_db"))
    e = t.table("effort")
    effort = EffortTarget(excess_db=e.number("excess_db", positive=True),
                          ceiling_db=e.number("ceiling_db", positive=True),
                          headroom_db=e.number("headroom_db", positive=True))
    plant = _parse_plant(top.table("plant"))
    listeners = _parse_listeners(top.table("listeners"))
    w = top.table("weights")
    unknown = sorted(set(w.data) - set(LOSS_TERMS))
    if unknown:
        raise InputError(f"{w.where}: unknown loss term(s) {', '.join(unknown)}; "
                         f"known: {', '.join(sorted(LOSS_TERMS))}")
    weights = {name: w.number(name, 0.0, minimum=0.0) for name in LOSS_TERMS}
    return TrainConfig(array=array, seed=seed, design=design, optimizer=optimizer,
                       cancellation=cancellation, beam=beam, plant=plant, effort=effort,
                       listeners=listeners,
                       weights=weights, tracking=_parse_tracking(top.table("tracking")))


def _parse_plant(p: Fields) -> PlantSettings:
    models = p.data.get("driver_models")
    known = driver_model_names()
    if not isinstance(models, list) or not models or not all(m in known for m in models) \
            or len(set(models)) != len(models):
        raise InputError(f"{p.where}.driver_models: expected a non-empty list of distinct names "
                         f"from {', '.join(known)}, got {models!r}")
    tolerances = Tolerances(**{name: p.number(name, minimum=0.0) for name in (
        "position_mm", "axis_deg", "gain_db", "phase_deg", "response_db")},
        response_octaves=p.number("response_octaves", positive=True))
    return PlantSettings(driver_models=tuple(models), units=_integer(p, "units", 1),
                         tolerances=tolerances, batch_plants=_integer(p, "batch_plants", 1),
                         worst_weight=p.number("worst_weight", minimum=0.0, maximum=1.0),
                         worst_power=p.number("worst_power", minimum=1.0))


def _parse_listeners(t: Fields) -> ListenerSettings:
    def pair(key: str) -> tuple[float, float]:
        lo, hi = t.vector(key, 2)
        return float(lo), float(hi)

    try:  # HeadVariety checks the ranges; its message lacks the file
        variety = HeadVariety(radius_m=pair("radius_m"), ear_back_deg=pair("ear_back_deg"),
                              ear_down_deg=pair("ear_down_deg"), height_m=t.number("height_m"))
    except InputError as exc:
        raise InputError(f"{t.where.rsplit('.', 1)[0]}: {exc}") from None
    return ListenerSettings(heads=_integer(t, "heads", 1), variety=variety)


def _increasing(f: Fields, key: str, minimum: float | None = None,
                maximum: float | None = None) -> tuple[float, ...]:
    values = f.data.get(key)
    ok = isinstance(values, list) and len(values) > 0
    numbers = _numbers(f, key) if ok else ()
    if not ok or any(b <= a for a, b in zip(numbers, numbers[1:])) or \
            (minimum is not None and numbers[0] <= minimum) or \
            (maximum is not None and numbers[-1] >= maximum):
        bounds = "" if minimum is None else f" within ({minimum:g}, {maximum:g})"
        raise InputError(f"{f.where}.{key}: expected a non-empty, strictly increasing list of "
                         f"numbers{bounds}, got {values!r}")
    return numbers


def _parse_tracking(t: Fields) -> TrackingSettings:
    tracking = TrackingSettings(
        lateral_m=_increasing(t, "lateral_m"),
        distance_scale=_increasing(t, "distance_scale", 0.0, math.inf),
        yaw_deg=_increasing(t, "yaw_deg", -90.0, 90.0),
        cell_extent=t.number("cell_extent", minimum=1.0), cell_pool=_integer(t, "cell_pool", 1),
        cell_batch=_integer(t, "cell_batch", 1), smoothness=t.number("smoothness", minimum=0.0),
        steps=_integer(t, "steps", 0))
    if tracking.cell_batch > tracking.cell_pool:
        raise InputError(f"{t.where}.cell_batch: expected at most cell_pool "
                         f"({tracking.cell_pool}), got {tracking.cell_batch}")
    return tracking
