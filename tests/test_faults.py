"""Faults while writing and training: a full disk, a killed process, a diverging loss.

Whatever happens, a good file is never replaced by a partial one, no temporary file is
left by an error that the process survives, and a killed training run resumes to a valid
bank.
"""

from __future__ import annotations

import errno
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bad_inputs import ROOT, SCRIPTS, all_files, run_cli, tiny_filesystem
from common.errors import InputError
from renderer.filterbank import read_filterbank, write_filterbank
from renderer_fixtures import synthetic_bank


def _disk_full(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _half_then_disk_full(real):
    """A writer that writes part of its data and then finds the disk full."""
    def write(fh, *args, **kwargs):
        real(fh, *args, **kwargs)
        fh.truncate(fh.tell() // 2)
        _disk_full()
    return write


# ---------------------------------------------------------------- disk full

def test_disk_full_filterbank_keeps_previous(tmp_path, monkeypatch):
    """np.savez fails half-way: the old bank stays byte-identical, no temporary remains."""
    target = tmp_path / "fb.npz"
    write_filterbank(target, synthetic_bank(64, seed=1))
    before = target.read_bytes()
    monkeypatch.setattr(np, "savez", _half_then_disk_full(np.savez))
    with pytest.raises(InputError, match="No space left on device") as info:
        write_filterbank(target, synthetic_bank(64, seed=2))
    assert "fb.npz" in str(info.value)
    assert target.read_bytes() == before
    assert all_files(tmp_path) == ["fb.npz"]


def test_disk_full_render_cli(tmp_path, monkeypatch):
    """soundfile fails on the second block of a render: exit 2, nothing new on disk."""
    bank = tmp_path / "fb.npz"
    write_filterbank(bank, synthetic_bank(64))
    wav = tmp_path / "in.wav"
    sf.write(wav, np.random.default_rng(0).standard_normal((4096, 2)) * 0.1, 48000)
    out = tmp_path / "out"
    out.mkdir()
    real_write, calls = sf.SoundFile.write, []

    def write(self, data):
        calls.append(len(data))
        if len(calls) == 2:
            _disk_full()
        return real_write(self, data)

    monkeypatch.setattr(sf.SoundFile, "write", write)
    code, err = run_cli("render", [str(wav), str(out / "feeds.wav"), "--filters", str(bank),
                                   "--block", "512", "--quiet"])
    assert code == 2, err
    assert "feeds.wav" in err and "No space left on device" in err and "Traceback" not in err
    assert len(calls) == 2
    assert all_files(out) == []


def test_real_full_filesystem(tmp_path):
    """A 16 KiB tmpfs: a 190 KiB bank does not fit; the error names the file, the disk is
    left empty, and a bank that fits is still written afterwards."""
    with tiny_filesystem(tmp_path / "tiny", "16k") as disk:
        with pytest.raises(InputError, match="No space left on device"):
            write_filterbank(disk / "fb.npz", synthetic_bank(2048))
        assert all_files(disk) == []
        write_filterbank(disk / "small.npz", synthetic_bank(32))
        assert read_filterbank(disk / "small.npz").taps.shape == (3, 5, 32)


# ---------------------------------------------------------------- loss diverges

def test_diverging_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    """The ``effort`` term turns NaN at step 3: training stops naming it and step 3, and the
    checkpoint holds exactly the parameters after the 3 good steps."""
    import jax

    import optim.loop as loop
    from models import load_array
    from optim.checkpoint import load_checkpoint
    from optim.config import load_config
    from optim.problem import build_problem

    config = load_config(None, {"design": {"taps": 128, "latency_samples": 64, "band_taps": 31,
                                           "pool": 8, "batch": 2, "max_freq_hz": 8000.0},
                                "optimizer": {"steps": 10}})
    problem = build_problem(load_array("studio"), config)
    after: list = []
    real_make_step = loop.make_step

    def make_step(loss, optimizer):
        step = real_make_step(loss, optimizer)

        def poisoned(params, opt_state, index, bounds):
            params, opt_state, total, terms = step(params, opt_state, index, bounds)
            if len(after) == 3:
                terms = {**terms, "effort": float("nan")}
            after.append(jax.device_get(params))
            return params, opt_state, total, terms
        return poisoned

    monkeypatch.setattr(loop, "make_step", make_step)
    checkpoint = tmp_path / "fb.ckpt.npz"
    with pytest.raises(loop.TrainingDiverged) as info:
        loop.train(config, problem, checkpoint=checkpoint)
    message = str(info.value)
    assert "effort" in message and "step 3" in message and str(checkpoint) in message
    template = loop.initial_params(config, problem)
    step, params, _, history = load_checkpoint(
        checkpoint, template, loop.make_optimizer(config).init(template), loop.fingerprint(config))
    # Step 3 evaluated the parameters after 3 updates and found a NaN: the kept state is
    # the last one whose losses were all finite, the parameters after 2 updates.
    assert step == 2
    for name in params:
        np.testing.assert_array_equal(params[name], after[1][name])
    assert all(math.isfinite(v) for row in history for v in row.values())
    assert all_files(tmp_path) == ["fb.ckpt.npz"]


# ---------------------------------------------------------------- kill -9

def _wait_for(predicate, timeout_s: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"process ended early:\n{proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("timed out")
        time.sleep(0.02)


def _checkpoint_step(path: Path) -> int:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return int(json.loads(str(npz["meta"]))["step"])
    except (OSError, ValueError, KeyError):
        return -1


def test_kill_9_during_training_then_resume(tmp_path):
    """kill -9 once a checkpoint exists: the previous good bank is untouched; --resume
    continues from the checkpoint (same logged history) to a valid bank."""
    out = tmp_path / "fb.npz"
    write_filterbank(out, synthetic_bank(64, seed=3))
    old = out.read_bytes()
    config = tmp_path / "fast.toml"
    config.write_text("[design]\npool = 8\nbatch = 2\nmax_freq_hz = 8000.0\n"
                      "[optimizer]\ncheckpoint_seconds = 0.05\n")
    argv = [sys.executable, str(SCRIPTS / "train.py"), "--out", str(out), "--config", str(config),
            "--steps", "300", "--taps", "128", "--quiet"]
    checkpoint = tmp_path / "fb.ckpt.npz"
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    _wait_for(lambda: _checkpoint_step(checkpoint) > 0, 60, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert out.read_bytes() == old  # the good bank was never replaced
    killed_at = _checkpoint_step(checkpoint)
    assert 0 < killed_at < 300, "the run should have been killed mid-way"
    with np.load(checkpoint, allow_pickle=False) as npz:
        killed_history = json.loads(str(npz["meta"]))["history"]

    result = subprocess.run([*argv, "--resume"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    bank = read_filterbank(out)  # full validation
    assert bank.taps.shape[-1] == 128 and bank.manifest["training"]["steps"] == 300
    with np.load(checkpoint, allow_pickle=False) as npz:
        meta = json.loads(str(npz["meta"]))
    assert meta["step"] == 300
    assert meta["history"][:len(killed_history)] == killed_history
    leftovers = [f for f in all_files(tmp_path) if f not in ("fb.npz", "fb.ckpt.npz", "fast.toml")]
    assert all(f.startswith(".fb.") and ".tmp" in f for f in leftovers), leftovers


def test_kill_9_during_render(tmp_path):
    """kill -9 while the driver feeds are being written: the previous output is untouched;
    a rerun writes the complete file."""
    bank_path = tmp_path / "fb.npz"
    write_filterbank(bank_path, synthetic_bank(64))
    wav = tmp_path / "in.wav"
    frames = 48000 * 30
    sf.write(wav, np.random.default_rng(0).standard_normal((frames, 2)).astype(np.float32) * 0.1,
             48000, subtype="FLOAT")
    target = tmp_path / "feeds.wav"
    target.write_bytes(b"previous good render")
    argv = [sys.executable, str(SCRIPTS / "render.py"), str(wav), str(target),
            "--filters", str(bank_path), "--block", "256", "--quiet"]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    partial = lambda: [p for p in tmp_path.glob(".feeds.wav.*") if p.stat().st_size > 4096]  # noqa: E731
    _wait_for(lambda: bool(partial()), 60, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert target.read_bytes() == b"previous good render"
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    info = sf.info(target)
    assert (info.channels, info.frames) == (5, frames + 63)
