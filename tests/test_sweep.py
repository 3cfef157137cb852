"""scripts/sweep.py with a fake train command: the grid, resume, failures, the table and
the Pareto front."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from common.errors import InputError
from evaluation import sweep

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "sweep.py"

# A stand-in for scripts/train.py: plain stereo plus seed-dependent noise, scaled by the
# lateral spread so designs differ; logs each call; fails for --taps 13.
FAKE_TRAIN = f"""
import argparse, sys
sys.path.insert(0, {str(ROOT)!r})
import numpy as np
from evaluation.baselines import no_processing_bank
from models import load_array
from renderer.filterbank import FilterBank, write_filterbank
p = argparse.ArgumentParser()
for flag in ("--array", "--out", "--zone", "--config"):
    p.add_argument(flag)
for flag in ("--steps", "--taps", "--seed"):
    p.add_argument(flag, type=int)
p.add_argument("--zone-lateral-m", type=float, default=0.0)
a = p.parse_args()
with open(sys.argv[0] + ".calls", "a") as fh:
    fh.write(" ".join(sys.argv[1:]) + "\\n")
if a.taps == 13:
    sys.exit("fake train: cannot train 13 taps")
bank = no_processing_bank(load_array(a.array), 32000, a.taps)
noise = np.random.default_rng(a.seed).normal(size=bank.taps.shape) * (0.02 + a.zone_lateral_m)
write_filterbank(a.out, FilterBank((bank.taps + noise).astype(np.float32), bank.ctc_taps,
                                   bank.manifest))
"""


@pytest.fixture
def fake_train(tmp_path) -> Path:
    path = tmp_path / "fake_train.py"
    path.write_text(FAKE_TRAIN)
    return path


def calls(fake: Path) -> list[str]:
    log = Path(str(fake) + ".calls")
    return log.read_text().splitlines() if log.exists() else []


def run_sweep(fake: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), "--arrays", "studio",
                           "--steps", "3", "--jobs", "2", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=180,
                          env={**os.environ, "SOUNDSTAGE_TRAIN_CMD": f"{sys.executable} {fake}"})


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_sweep_runs_the_grid_and_resumes(fake_train, tmp_path):
    out = tmp_path / "sweep"
    grid = ["--taps", "16", "--zone-lateral-m", "0", "0.05", "--weights", "default", "beam=2,ctc=1"]
    done = run_sweep(fake_train, out, *grid)
    assert done.returncode == 0, done.stderr
    rows = read_rows(out / "results.csv")
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows)
    assert len(calls(fake_train)) == 4
    weighted = [c for c in calls(fake_train) if "--config" in c]
    assert len(weighted) == 2 and all("--zone-lateral-m" in c for c in weighted)
    config = next(out.glob("*wbeam2-ctc1*")) / "config.toml"
    assert config.read_text() == "[weights]\nbeam = 2.0\nctc = 1.0\n"
    assert (out / "pareto.png").stat().st_size > 0
    assert any(r["pareto"] == "True" for r in rows)

    # A resumed sweep with one more lateral spread trains only the new designs.
    again = run_sweep(fake_train, out, *grid[:4], "0.1", *grid[4:])
    assert again.returncode == 0, again.stderr
    assert "4 finished before, 2 to run" in again.stdout
    assert len(calls(fake_train)) == 6
    assert len(read_rows(out / "results.csv")) == 6


def test_failed_design_is_reported_and_retried(fake_train, tmp_path):
    out = tmp_path / "sweep"
    done = run_sweep(fake_train, out, "--taps", "13", "16")
    assert done.returncode == 1
    rows = {r["taps"]: r for r in read_rows(out / "results.csv")}
    assert rows["16"]["status"] == "ok" and rows["13"]["status"] == "failed"
    assert "cannot train 13 taps" in rows["13"]["error"]
    assert (out / rows["13"]["design"] / "error.txt").exists()
    assert not (out / rows["13"]["design"] / "result.json").exists()
    again = run_sweep(fake_train, out, "--taps", "13", "16")
    assert again.returncode == 1
    assert "1 finished before, 1 to run" in again.stdout


@pytest.mark.parametrize("args, message", [
    (["--arrays", "nosuch"], "unknown array"),
    (["--weights", "beam=-1"], "--weights"),
    (["--zone-lateral-m", "-0.1"], "--zone-lateral-m"),
    (["--ray", "auto"], "Ray is not installed"),
])
def test_bad_input_is_one_message_and_exit_2(fake_train, tmp_path, args, message):
    if args[0] == "--ray" and _has_ray():
        pytest.skip("ray is installed here")
    done = run_sweep(fake_train, tmp_path / "s", *args)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not calls(fake_train)


def _has_ray() -> bool:
    import importlib.util
    return importlib.util.find_spec("ray") is not None


def test_pareto_front_matches_brute_force():
    rng = np.random.default_rng(4)
    values = rng.integers(0, 4, size=(40, 3)).astype(float)  # ties on purpose
    maximise = [True, True, False]
    front = sweep.pareto_front(values, maximise)
    signed = values * np.where(maximise, 1, -1)
    for i in range(len(values)):
        dominated = any(np.all(signed[j] >= signed[i]) and np.any(signed[j] > signed[i])
                        for j in range(len(values)))
        assert front[i] == (not dominated)


def test_parse_weights():
    assert sweep.parse_weights("default") == ()
    assert sweep.parse_weights("ctc=1, beam=2.5") == (("beam", 2.5), ("ctc", 1.0))
    for bad in ("beam", "beam=x", "1x=2", "beam=nan"):
        with pytest.raises(InputError):
            sweep.parse_weights(bad)
