"""The headroom ladder (CONVENTIONS.md): a folder of filter banks, one per headroom budget,
and the rung that fits a volume.

A folder with an index ``ladder.json``::

    {"format": "soundstage.ladder", "version": 1,
     "rungs": [{"file": "fb_6db.npz", "headroom_db": 6.0, "budget_db": 6.0}, ...]}

lists its rungs in ascending headroom; without one, every ``*.npz`` in the folder is a rung,
ordered by headroom. A rung's headroom is its manifest's ``metrics.headroom_db`` (computed
with :func:`renderer.export.headroom_db` where the manifest lacks it); the index must agree
with it within ``AGREE_DB``. Every rung must be the same kind of bank (plain or tracked)
with the same sample rate, drivers, channels, bulk delay and (tracked) cells.

**The rung for a volume.** At a level ``V`` dB (the volume plus any gain, 0 = full scale)
the renderer plays the rung with the most headroom ``H`` such that ``V + H <= -margin``,
and the rung with the least headroom where none fits (the limiter then keeps the feeds
within full scale). The headroom figure is the gain of full-scale sinusoids on every input
channel in the worst phase, so ``V + H <= 0`` keeps such inputs within full scale. The
stereo upmix can give a channel more than its input: ``C = sqrt(2) g Mc`` reaches
``sqrt(2)`` for an in-phase full-scale stereo signal, and since the upmix keeps the power
of each bin (``|L|^2 + |R|^2 + |C|^2 = |in_L|^2 + |in_R|^2 <= 2``), by Cauchy-Schwarz no
stereo sinusoid drives the feeds above ``sqrt(2)`` times the figure. The margin is
therefore 3.01 dB (``20 log10 sqrt 2``) for stereo input and 0 dB for ``lrc`` and
``binaural`` input, whose channels reach the filters as they are: with it, no stationary
full-scale input makes the limiter act at a volume where a rung fits.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from models.errors import InputError
from renderer.atomic import atomic_output
from renderer.export import headroom_db
from renderer.filterbank import FilterBank, write_filterbank
from renderer.trackedbank import TrackedBank, read_bank, write_trackedbank

INDEX = "ladder.json"
FORMAT = "soundstage.ladder"
VERSION = 1
AGREE_DB = 0.05  # the index's headroom may differ from the bank's by this much
MARGIN_DB = {"stereo": 20.0 * math.log10(math.sqrt(2.0)), "lrc": 0.0, "binaural": 0.0}
RUNG_KEYS = {"file", "headroom_db", "budget_db"}


def bank_headroom_db(bank: FilterBank | TrackedBank, where: str, *,
                     binaural: bool = False) -> float:
    """The headroom (dB) of ``bank``'s ``taps``: its manifest's ``metrics.headroom_db``, or
    :func:`headroom_db` where that is missing (of the worst cell for a tracked bank); with
    ``binaural`` the same figure of ``ctc_taps``, always computed."""
    metrics = bank.manifest["metrics"]
    if not binaural and isinstance(metrics, dict) and "headroom_db" in metrics:
        value = metrics["headroom_db"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or value < 0:
            raise InputError(f"{where}: manifest metrics.headroom_db must be a finite number "
                             f">= 0 (dB), got {value!r}")
        return float(value)
    taps = bank.ctc_taps if binaural else bank.taps
    if isinstance(bank, TrackedBank):
        return max(headroom_db(cell) for cell in taps)
    return headroom_db(taps)


def choose_rung(headroom_db: Sequence[float], level_db: float, margin_db: float) -> int:
    """Index of the rung with the most headroom ``H`` such that ``level_db <= -(H +
    margin_db)``; where none fits, of the rung with the least headroom. Among equal
    headrooms the later rung wins."""
    best = None
    for k, h in enumerate(headroom_db):
        if level_db <= -(h + margin_db) and (best is None or h >= headroom_db[best]):
            best = k
    if best is None:
        best = min(range(len(headroom_db)), key=lambda k: (headroom_db[k], -k))
    return best


def volume_ranges(headroom_db: Sequence[float], margin_db: float
                  ) -> list[tuple[float, float] | None]:
    """Per rung, the levels (dB) at which :func:`choose_rung` plays it: ``(low, high)``
    meaning ``low < level <= high`` (``-inf`` / ``inf`` open ends), or None for a rung that
    never plays (another with the same headroom wins)."""
    tops = [-(h + margin_db) for h in headroom_db]
    fallback = choose_rung(headroom_db, math.inf, margin_db)
    ranges: list[tuple[float, float] | None] = []
    for k, h in enumerate(headroom_db):
        better = [tops[j] for j, g in enumerate(headroom_db) if g > h or (g == h and j > k)]
        low, high = max(better, default=-math.inf), math.inf if k == fallback else tops[k]
        ranges.append((low, high) if low < high else None)
    return ranges


def describe_range(span: tuple[float, float] | None, gain_db: float = 0.0) -> str:
    """A :func:`volume_ranges` entry as volumes (the level less ``gain_db``) in words."""
    if span is None:
        return "no volume (a later rung has the same headroom)"
    low, high = span[0] - gain_db, span[1] - gain_db
    if math.isinf(high):
        return f"every volume above {low:.2f} dB" if math.isfinite(low) else "every volume"
    if math.isinf(low):
        return f"volumes up to {high:.2f} dB"
    return f"volumes above {low:.2f} dB up to {high:.2f} dB"


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
        headroom of its worst cell."""
        return Ladder(tuple(Rung(r.name, r.bank.fallback(), r.headroom_db, r.budget_db)
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
    if index.exists():
        entries = _read_index(index)
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
        numbers = [_number(rung.get(key), f"{field}.{key}", key == "budget_db")
                   for key in ("headroom_db", "budget_db")]
        if entries and numbers[0] <= entries[-1][1]:
            raise InputError(f"{field}.headroom_db: rungs out of order ({numbers[0]:g} dB "
                             f"after {entries[-1][1]:g} dB); list them in ascending headroom")
        entries.append((name, numbers[0], numbers[1]))
    return entries


def _number(value, field: str, optional: bool) -> float | None:
    if value is None and optional:
        return None
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
        if kind == "tracked" and not np.array_equal(bank.cells, first.bank.cells):
            raise InputError(f"{where}: cells differ from the first rung {first.name}'s; "
                             f"every rung of a tracked ladder must have the same cells")


def write_ladder(folder: str | Path, rungs: Sequence[tuple[str, FilterBank | TrackedBank]],
                 budgets_db: Sequence[float] | None = None) -> Path:
    """Write the banks ``(file name, bank)`` into the existing ``folder`` and its index
    (rungs sorted by headroom), each file atomically, the index last; returns the index."""
    folder = Path(folder)
    entries = []
    for i, (name, bank) in enumerate(rungs):
        path = folder / name
        (write_trackedbank if isinstance(bank, TrackedBank) else write_filterbank)(path, bank)
        entry = {"file": name, "headroom_db": bank_headroom_db(bank, str(path))}
        if budgets_db is not None:
            entry["budget_db"] = float(budgets_db[i])
        entries.append(entry)
    entries.sort(key=lambda e: e["headroom_db"])
    index = folder / INDEX
    with atomic_output(index) as tmp:
        tmp.write_text(json.dumps({"format": FORMAT, "version": VERSION, "rungs": entries},
                                  indent=2) + "\n")
    return index
