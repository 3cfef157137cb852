"""A grid of designs: train each with the train CLI, evaluate it on the held-out grid,
collect one table and its Pareto front.

A design is one combination of array, tap count, zone preset, lateral zone spread, loss
weights and seed. Its folder ``OUT/<name>/`` holds ``filterbank.npz``, ``train.log``,
``config.toml`` (only with weight overrides) and, once evaluated, ``result.json``; a
design with a ``result.json`` is finished and is skipped by a resumed sweep, a failed one
leaves ``error.txt`` instead and is tried again.

Pareto objectives: sweet-spot separation (``separation_nominal_db``, higher is better),
zone-worst separation (``separation_zone_worst_db``, higher) and effort (``effort_db``:
the largest effort excess of the L, R, C and binaural CTC filters, lower).
"""

from __future__ import annotations

import csv
import itertools
import json
import re
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from common.atomic import atomic_output
from common.errors import InputError
from evaluation.robustness import bank_array
from evaluation.heldout import evaluate_heldout
from renderer.filterbank import read_filterbank

RESULT_FILE = "result.json"
ERROR_FILE = "error.txt"
BANK_FILE = "filterbank.npz"
OBJECTIVES = (("separation_nominal_db", True), ("separation_zone_worst_db", True),
              ("effort_db", False))  # (column, maximise)
_WEIGHT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Design:
    """One point of the grid; ``lateral_m`` None keeps the zone preset's spread and
    ``weights`` () the default loss weights."""

    array: str
    taps: int
    zone: str
    lateral_m: float | None
    weights: tuple[tuple[str, float], ...]
    seed: int
    steps: int

    @property
    def name(self) -> str:
        lateral = "preset" if self.lateral_m is None else f"{self.lateral_m:g}"
        weights = "-".join(f"{k}{v:g}" for k, v in self.weights) or "default"
        return f"{self.array}_n{self.taps}_{self.zone}_lat{lateral}_w{weights}_s{self.seed}"


def parse_weights(text: str) -> tuple[tuple[str, float], ...]:
    """``"name=value,name=value"`` (or ``"default"``/empty) as sorted (name, value) pairs."""
    if text.strip() in ("", "default"):
        return ()
    pairs = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        name = name.strip()
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not sep or not _WEIGHT.match(name) or not np.isfinite(number) or number < 0:
            raise InputError(f"--weights {text!r}: expected name=value pairs with a "
                             f"non-negative number, separated by commas, got {item!r}")
        pairs[name] = number
    return tuple(sorted(pairs.items()))


def design_grid(arrays, taps, zones, laterals, weight_sets, seeds, steps: int) -> list[Design]:
    """The full product of the options, in a stable order."""
    return [Design(a, int(n), z, lat, w, int(s), int(steps)) for a, n, z, lat, w, s in
            itertools.product(arrays, taps, zones, laterals, weight_sets, seeds)]


def train_command(design: Design, train_cmd: list[str], folder: Path) -> list[str]:
    """The train CLI call of ``design`` (writes ``folder/filterbank.npz``)."""
    cmd = list(train_cmd) + ["--array", design.array, "--steps", str(design.steps),
                             "--taps", str(design.taps), "--zone", design.zone,
                             "--seed", str(design.seed), "--out", str(folder / BANK_FILE)]
    if design.lateral_m is not None:
        cmd += ["--zone-lateral-m", f"{design.lateral_m:g}"]
    if design.weights:
        cmd += ["--config", str(folder / "config.toml")]
    return cmd


def run_design(design: Design, out_dir: str, train_cmd: list[str],
               unit_draws: int = 0, timeout_s: float | None = None) -> dict:
    """Train and evaluate one design in ``out_dir/<name>``; returns its table row
    (``status`` "ok" or "failed"). Runs in a worker process or a Ray task."""
    folder = Path(out_dir) / design.name
    folder.mkdir(parents=True, exist_ok=True)
    row = {"design": design.name, **asdict(design),
           "weights": ",".join(f"{k}={v:g}" for k, v in design.weights) or "default"}
    if design.weights:
        _write_text(folder / "config.toml",
                    "[weights]\n" + "".join(f"{k} = {v!r}\n" for k, v in design.weights))
    cmd = train_command(design, train_cmd, folder)
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        log, failed = done.stdout + done.stderr, done.returncode != 0
        reason = f"train exited with {done.returncode}"
    except subprocess.TimeoutExpired as exc:
        parts = (exc.stdout, exc.stderr)  # bytes even with text=True on some Pythons
        log = "".join(p.decode(errors="replace") if isinstance(p, bytes) else (p or "")
                      for p in parts)
        failed = True
        reason = f"train timed out after {timeout_s} s"
    except OSError as exc:
        log, failed, reason = "", True, f"cannot run the train command {cmd[0]!r}: {exc}"
    _write_text(folder / "train.log", f"$ {' '.join(cmd)}\n{log}")
    if not failed:
        try:
            bank = read_filterbank(folder / BANK_FILE)
            array = bank_array(bank, str(folder / BANK_FILE), design.array)
            figures = evaluate_heldout(array, bank.taps, bank.ctc_taps, bank.sample_rate,
                                       unit_draws=unit_draws, seed=design.seed)
        except InputError as exc:
            failed, reason = True, f"evaluation failed: {exc}"
    if failed:
        tail = log.strip().splitlines()[-1:] or [""]
        _write_text(folder / ERROR_FILE, f"{reason}\n{log}")
        return {**row, "status": "failed", "error": f"{reason}: {tail[0]}"}
    (folder / ERROR_FILE).unlink(missing_ok=True)
    row.update(status="ok", error="", **flatten(figures))
    _write_text(folder / RESULT_FILE, json.dumps(row, indent=1))
    return row


def _write_text(path: Path, text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text)


def flatten(figures: dict) -> dict:
    """Held-out figures as scalar columns; per-channel lists become ``name_<ch>`` columns,
    and ``effort_db`` is the largest effort excess of all channels."""
    out = {}
    for key, value in figures.items():
        if key == "effort_excess_db":
            out.update({f"effort_excess_{ch}_db": v for ch, v in zip("LRC", value)})
        elif key == "ctc_effort_excess_db":
            out.update({f"ctc_effort_excess_{ear}_db": v for ear, v in zip(("left", "right"), value)})
        else:
            out[key] = value
    out["effort_db"] = float(max(figures["effort_excess_db"] + figures["ctc_effort_excess_db"]))
    return out


def finished(design: Design, out_dir: str | Path) -> dict | None:
    """The stored row of a finished design, or None."""
    path = Path(out_dir) / design.name / RESULT_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None  # written atomically, so only a foreign edit breaks it: redo the design


def pareto_front(values: np.ndarray, maximise) -> np.ndarray:
    """(K,) bool: rows of ``values`` (K, M) not dominated by any other row (at least as
    good in every objective and better in one); ``maximise`` (M,) bool per objective."""
    signed = np.where(np.asarray(maximise, bool), values, -values)  # larger is better
    ge = np.all(signed[:, None, :] >= signed[None, :, :], axis=-1)  # [j, i]: j >= i
    gt = np.any(signed[:, None, :] > signed[None, :, :], axis=-1)
    return ~np.any(ge & gt, axis=0)


def mark_front(rows: list[dict]) -> list[dict]:
    """Add a ``pareto`` column (True on the front) to the successful rows."""
    ok = [r for r in rows if r["status"] == "ok"]
    for r in rows:
        r["pareto"] = False
    if ok:
        values = np.array([[r[c] for c, _ in OBJECTIVES] for r in ok], float)
        for r, front in zip(ok, pareto_front(values, [m for _, m in OBJECTIVES])):
            r["pareto"] = bool(front)
    return rows


def write_table(path: Path, rows: list[dict]) -> None:
    """All rows as one CSV (columns: the union, design parameters first), atomically."""
    columns: list[str] = []
    for r in rows:
        columns += [k for k in r if k not in columns]
    with atomic_output(path) as tmp:
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, restval="")
            writer.writeheader()
            writer.writerows(rows)
