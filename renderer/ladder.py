"""The headroom ladder (CONVENTIONS.md): a folder of filter banks, one per headroom budget,
and the rung that fits a volume.

A folder with an index ``ladder.json``::

    {"format": "soundstage.ladder", "version": 1,
     "rungs": [{"file": "fb_6db.npz", "headroom_db": 6.0, "budget_db": 6.0}, ...]}

lists its rungs in ascending headroom; without one, every ``*.npz`` in the folder is a rung,
ordered by headroom. A rung's headroom is its manifest's ``metrics.headroom_db`` (computed
with :func:`renderer.headroom.headroom_db` where the manifest lacks it); the index must agree
with it within ``AGREE_DB``. Every rung must be the same kind of bank (plain or tracked)
with the same sample rate, drivers, channels, bulk delay and (tracked) cells.

The rung for a volume and the margin per input are in :mod:`renderer.headroom`.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from common.atomic import atomic_output
from common.errors import InputError
from renderer.filterbank import FilterBank, write_filterbank
# The rung rule lives in renderer.headroom; its names stay importable from here too.
from renderer.headroom import MARGIN_DB, choose_rung, describe_range, headroom_db, volume_ranges
from renderer.trackedbank import TrackedBank, read_bank, write_trackedbank

__all__ = ["AGREE_DB", "FORMAT", "INDEX", "MARGIN_DB", "VERSION", "Ladder", "Rung", "as_ladder",
           "bank_headroom_db", "choose_rung", "describe_range", "read_filters", "read_ladder",
           "volume_ranges", "write_ladder"]

INDEX = "ladder.json"
FORMAT = "soundstage.ladder"
VERSION = 1
AGREE_DB = 0.05  # the index's headroom may differ from the bank's by this much
RUNG_KEYS = {"file", "headroom_db", "budget_db"}


def bank_headroom_db(bank: FilterBank | TrackedBank, where: str, *,
                     binaural: bool = False) -> float:
    """The headroom (dB) of ``bank``'s ``taps``: its manifest's ``metrics.headroom_db``, or
    :func:`headroom_db` where that is missing (of the worst cell for a tracked bank); with
    ``binaural`` the same figure of ``ctc_taps``, always computed."""
    metrics = bank.manifest["metrics"]
    if not binaural and isinstance(metrics, dict) and "headroom_db" in metrics:
        return _number(metrics["headroom_db"], f"{where}: manifest metrics.headroom_db")
    taps = bank.ctc_taps if binaural else bank.taps
    if isinstance(bank, TrackedBank):
        return max(headroom_db(cell) for cell in taps)
    return headroom_db(taps)


@dataclass(frozen=True)
class Rung:
    """One bank of a ladder: its file name in the folder, the bank, the headroom of its
    ``taps`` (dB) and the training budget (dB) where the index gives one."""

    name: str
    bank: FilterBank | TrackedBank
    headroom_db: float
    budget_db: float | None = None


@dataclass(frozen=True)
class Ladder:
    """Rungs in ascending headroom, all of one kind, rate, driver layout and bulk delay;
    ``where`` names the folder in messages."""

    rungs: tuple[Rung, ...]
    where: str

    @property
    def first(self) -> FilterBank | TrackedBank:
        return self.rungs[0].bank

    @property
    def manifest(self) -> dict:
        """The first rung's manifest (rate, drivers, listener, latency, upmix)."""
        return self.first.manifest

    @property
    def sample_rate(self) -> int:
        return self.first.sample_rate

    @property
    def driver_names(self) -> list[str]:
        return self.first.driver_names

    @property
    def tracked(self) -> bool:
        return isinstance(self.first, TrackedBank)

    def fallback(self) -> Ladder:
        """A tracked ladder's rungs as their nominal cells (plain banks), each keeping the
        headroom of its worst cell; a plain ladder as it is."""
        return Ladder(tuple(Rung(r.name, r.bank.fallback(), r.headroom_db, r.budget_db)
                            if isinstance(r.bank, TrackedBank) else r
                            for r in self.rungs), self.where)

    @functools.cached_property
    def _binaural_headroom(self) -> tuple[float, ...]:
        return tuple(bank_headroom_db(r.bank, f"{self.where}/{r.name}", binaural=True)
                     for r in self.rungs)

    def headrooms(self, input_kind: str) -> tuple[float, ...]:
        """Each rung's headroom (dB) for this input: of ``ctc_taps`` for ``binaural``,
        else of ``taps``."""
        if input_kind == "binaural":
            return self._binaural_headroom
        return tuple(r.headroom_db for r in self.rungs)

    def rung_for(self, level_db: float, input_kind: str) -> int:
        """The rung :func:`choose_rung` plays at ``level_db`` with this input's margin."""
        return choose_rung(self.headrooms(input_kind), level_db, MARGIN_DB[input_kind])

    def stacked_taps(self, input_kind: str) -> np.ndarray:
        """float32 ``(R * K, inputs, D, N)``: every rung's taps (``ctc_taps`` for binaural
        input), cell by cell for tracked rungs (bank ``r K + k`` is rung r, cell k; K = 1
        for plain rungs), zero-padded to the longest rung."""
        arrays = [r.bank.ctc_taps if input_kind == "binaural" else r.bank.taps
                  for r in self.rungs]
        arrays = [a if a.ndim == 4 else a[None] for a in arrays]
        n_taps = max(a.shape[-1] for a in arrays)
        stacked = np.zeros((len(arrays), *arrays[0].shape[:-1], n_taps), np.float32)
        for out, a in zip(stacked, arrays):
            out[..., :a.shape[-1]] = a
        return stacked.reshape(-1, *stacked.shape[2:])


def as_ladder(bank: FilterBank | TrackedBank | Ladder, where: str = "filter bank") -> Ladder:
    """A ladder as it is, or one bank as a ladder of one rung."""
    if isinstance(bank, Ladder):
        return bank
    return Ladder((Rung(where, bank, bank_headroom_db(bank, where)),), where)


def read_filters(path: str | Path) -> FilterBank | TrackedBank | Ladder:
    """A bank file (plain or tracked, :func:`renderer.trackedbank.read_bank`) or a ladder
    folder (:func:`read_ladder`), whichever ``path`` is."""
    return read_ladder(path) if Path(path).is_dir() else read_bank(path)


def read_ladder(folder: str | Path) -> Ladder:
    """Read and check a ladder folder; anything off raises :class:`InputError` naming the
    file and field."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: ladder folder not found (or not a folder)")
    index = folder / INDEX
    entries: list[tuple[str, float | None, float | None]]
    if index.exists():
        entries = list(_read_index(index))
    else:
        files = sorted(p.name for p in folder.glob("*.npz"))
        if not files:
            raise InputError(f"{folder}: a ladder folder needs {INDEX} or filter banks "
                             f"(*.npz); it has neither")
        entries = [(name, None, None) for name in files]
    rungs = []
    for i, (name, listed, budget) in enumerate(entries):
        path = folder / name
        if not path.is_file():
            raise InputError(f"{index}: rungs[{i}].file: {name} not found in {folder}")
        bank = read_bank(path)
        headroom = bank_headroom_db(bank, str(path))
        if listed is not None and abs(listed - headroom) > AGREE_DB:
            raise InputError(f"{index}: rungs[{i}].headroom_db is {listed:g} dB but {name} "
                             f"needs {headroom:.3f} dB (its metrics.headroom_db, or computed); "
                             f"they must agree within {AGREE_DB:g} dB")
        rungs.append(Rung(name, bank, headroom, budget))
    if not index.exists():
        rungs.sort(key=lambda r: r.headroom_db)
        for low, high in zip(rungs, rungs[1:]):
            if low.headroom_db == high.headroom_db:
                raise InputError(f"{folder}: {low.name} and {high.name} both need "
                                 f"{low.headroom_db:.3f} dB of headroom; every rung needs "
                                 f"its own")
    _check_alike(rungs, folder)
    return Ladder(tuple(rungs), str(folder))


def _read_index(index: Path) -> list[tuple[str, float, float | None]]:
    """(file, headroom_db, budget_db) per rung of a ladder index, checked."""
    try:
        data = json.loads(index.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{index}: not valid JSON: {exc}") from None
    except OSError as exc:
        raise InputError(f"{index}: cannot read the ladder index ({exc.strerror})") from None
    if not isinstance(data, dict):
        raise InputError(f"{index}: expected a JSON object with format, version and rungs")
    unknown = sorted(set(data) - {"format", "version", "rungs"})
    if unknown:
        raise InputError(f"{index}: unknown key(s) {', '.join(unknown)}; expected format, "
                         f"version and rungs")
    if data.get("format") != FORMAT:
        raise InputError(f"{index}: format: expected {FORMAT!r}, got {data.get('format')!r}")
    if data.get("version") != VERSION:
        raise InputError(f"{index}: version: expected {VERSION}, got {data.get('version')!r}")
    rungs = data.get("rungs")
    if not isinstance(rungs, list) or not rungs:
        raise InputError(f"{index}: rungs: expected a non-empty list, got {rungs!r}")
    entries: list[tuple[str, float, float | None]] = []
    for i, rung in enumerate(rungs):
        field = f"{index}: rungs[{i}]"
        if not isinstance(rung, dict):
            raise InputError(f"{field}: expected an object with file and headroom_db")
        unknown = sorted(set(rung) - RUNG_KEYS)
        if unknown:
            raise InputError(f"{field}: unknown key(s) {', '.join(unknown)}; expected file, "
                             f"headroom_db and optionally budget_db")
        name = rung.get("file")
        if not isinstance(name, str) or not name or Path(name).name != name:
            raise InputError(f"{field}.file: expected a file name in the ladder folder, "
                             f"got {name!r}")
        if name in [e[0] for e in entries]:
            raise InputError(f"{field}.file: {name} is listed twice")
        headroom = _number(rung.get("headroom_db"), f"{field}.headroom_db")
        budget = None if rung.get("budget_db") is None else \
            _number(rung["budget_db"], f"{field}.budget_db")
        if entries and headroom <= entries[-1][1]:
            raise InputError(f"{field}.headroom_db: rungs out of order ({headroom:g} dB "
                             f"after {entries[-1][1]:g} dB); list them in ascending headroom")
        entries.append((name, headroom, budget))
    return entries


def _number(value, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value < 0:
        raise InputError(f"{field}: expected a finite number >= 0 (dB), got {value!r}")
    return float(value)


def _check_alike(rungs: list[Rung], folder: Path) -> None:
    """Every rung the same kind, rate, drivers (hence channels), bulk delay and cells as the
    first."""
    first = rungs[0]
    kind = "tracked" if isinstance(first.bank, TrackedBank) else "plain"
    for rung in rungs[1:]:
        where, bank = f"{folder / rung.name}", rung.bank
        other = "tracked" if isinstance(bank, TrackedBank) else "plain"
        if other != kind:
            raise InputError(f"{where}: a {other} bank in a ladder whose first rung "
                             f"{first.name} is {kind}; tracked and plain banks do not mix")
        for key in ("sample_rate", "drivers", "latency_samples"):
            if bank.manifest[key] != first.bank.manifest[key]:
                raise InputError(f"{where}: manifest {key} differs from the first rung "
                                 f"{first.name}'s ({bank.manifest[key]!r} vs "
                                 f"{first.bank.manifest[key]!r}); every rung must match")
        if isinstance(bank, TrackedBank) and isinstance(first.bank, TrackedBank) \
                and not np.array_equal(bank.cells, first.bank.cells):
            raise InputError(f"{where}: cells differ from the first rung {first.name}'s; "
                             f"every rung of a tracked ladder must have the same cells")


def write_ladder(folder: str | Path, rungs: Sequence[tuple[str, FilterBank | TrackedBank]],
                 budgets_db: Sequence[float] | None = None) -> Path:
    """Write the banks ``(file name, bank)`` into the existing ``folder`` and its index
    (rungs sorted by headroom), each file atomically, the index last; returns the index."""
    folder = Path(folder)
    entries: list[tuple[float, dict[str, str | float]]] = []
    for i, (name, bank) in enumerate(rungs):
        path = folder / name
        if isinstance(bank, TrackedBank):
            write_trackedbank(path, bank)
        else:
            write_filterbank(path, bank)
        headroom = bank_headroom_db(bank, str(path))
        entry: dict[str, str | float] = {"file": name, "headroom_db": headroom}
        if budgets_db is not None:
            entry["budget_db"] = float(budgets_db[i])
        entries.append((headroom, entry))
    entries.sort(key=lambda e: e[0])
    index = folder / INDEX
    with atomic_output(index) as tmp:
        tmp.write_text(json.dumps({"format": FORMAT, "version": VERSION,
                                   "rungs": [entry for _, entry in entries]}, indent=2) + "\n")
    return index
