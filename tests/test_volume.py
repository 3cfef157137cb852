"""Volume-aware convolution: the rung that fits each block's level at that level's gain,
against SciPy; a -40 -> 0 dB volume sweep in 1 dB steps through every rung and a rung
change in every block with no transient above -60 dB re the signal; ladders of tracked
banks; and the volume set live by OSC and by the arrow keys."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from pythonosc.udp_client import SimpleUDPClient

from common.errors import InputError
from device.keys import KeyListener, volume_keys
from device.live import BankRenderer
from device.osc_poses import OscPoseListener
from ladder_fixtures import (hard_switch, off_tone_db, per_rung, smooth_reference,
                             synthetic_ladder, tracked_rung, transient_db)
from renderer.convolver import Convolver
from renderer.ladder import Ladder, Rung, choose_rung
from renderer.volume import MIN_VOLUME_DB, LadderConvolver, VolumeControl, check_volume
from tracked_fixtures import grid_cells

RATE = 48000
WAIT_S = 5.0
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def ladder() -> Ladder:
    return synthetic_ladder(n_taps=200)


def run(conv: LadderConvolver, x: np.ndarray, levels, poses=None) -> np.ndarray:
    """Block j at ``levels[j]`` dB (and ``poses[j]``); x is padded to whole blocks."""
    b = conv.block_size
    padded = np.zeros((x.shape[0], len(levels) * b), np.float32)
    padded[:, :x.shape[1]] = x[:, :padded.shape[1]]
    poses = poses if poses is not None else [None] * len(levels)
    return np.concatenate([conv.process(padded[:, j * b:(j + 1) * b], level, pose)
                           for j, (level, pose) in enumerate(zip(levels, poses))], axis=1)


@pytest.mark.parametrize("level", [-30.0, -18.0, -17.5, 0.0])
def test_a_constant_level_plays_the_rung_that_fits_at_its_gain(ladder, level):
    """Equal to the static convolver of that rung times the gain, and to SciPy."""
    x = np.random.default_rng(1).uniform(-1, 1, (3, 4000)).astype(np.float32)
    conv = LadderConvolver(ladder, 64)
    got = run(conv, x, [level] * 63)[:, :4000]
    k = choose_rung(ladder.headrooms("lrc"), level, 0.0)
    assert conv.rung == k == {-30.0: 3, -18.0: 2, -17.5: 1, 0.0: 0}[level]
    gain = np.float32(10 ** (level / 20))
    plain = Convolver(ladder.rungs[k].bank.taps, 64)
    static = np.concatenate([plain.process(b) for b in np.split(
        np.pad(x, ((0, 0), (0, 32))), 63, axis=1)], axis=1)[:, :4000] * gain
    assert np.max(np.abs(got - static)) < 1e-6 * np.max(np.abs(static))
    want = per_rung(x, ladder.rungs[k].bank.taps[None])[0] * 10 ** (level / 20)
    assert np.max(np.abs(got - want)) < 1e-5 * np.max(np.abs(want))


def volume_sweep(blocks_per_step: int) -> list[float]:
    """-40 -> 0 dB in 1 dB steps, each held for ``blocks_per_step`` blocks."""
    return [float(v) for v in np.repeat(np.arange(-40.0, 1.0), blocks_per_step)]


@pytest.mark.parametrize("block", [77, 256])
def test_a_volume_sweep_through_every_rung_has_no_transient_above_minus_60_db(ladder, block):
    """Noise on L, R, C; the level steps 1 dB every 3 blocks from -40 to 0 dB, crossing
    the rung boundaries at -24, -18, -12 and -6 dB (lrc: margin 0). Measured against the
    smoothly moving filter (SciPy per rung, raised-cosine blend in each changing block),
    block by block re the reference's RMS in that block; switching the rung and gain
    without the fade measures far above, so the measure does see clicks."""
    levels = volume_sweep(3)
    x = np.random.default_rng(4).uniform(-1, 1, (3, len(levels) * block)).astype(np.float32)
    conv = LadderConvolver(ladder, block)
    got = run(conv, x, levels)
    rungs = [choose_rung(ladder.headrooms("lrc"), v, 0.0) for v in levels]
    assert sorted(set(rungs)) == [0, 1, 2, 3]
    gains = [10 ** (v / 20) for v in levels]
    outputs = per_rung(x, np.stack([r.bank.taps for r in ladder.rungs]))
    reference = smooth_reference(outputs, rungs, gains, block)
    assert transient_db(got, reference, block) < -60.0
    hard = hard_switch(outputs, rungs, gains, block)
    assert transient_db(hard, reference, block) > -40.0


def test_a_tone_through_the_volume_sweep_stays_a_tone(ladder):
    """The same sweep on a 997 Hz tone in L, R and C (block 256): at most -60 dB of any
    frame's energy lies more than 1 kHz from the tone (the clicks a step leaves would
    spread there); the same tone with the gain and rung switched hard measures far more."""
    block, levels = 256, volume_sweep(8)
    t = np.arange(len(levels) * block) / RATE
    x = np.tile(np.sin(2 * np.pi * 997.0 * t), (3, 1)).astype(np.float32)
    got = run(LadderConvolver(ladder, block), x, levels)
    skip = 2 * ladder.rungs[0].bank.taps.shape[-1]  # the filters' own onset
    assert off_tone_db(got, 997.0, skip) < -60.0
    rungs = [choose_rung(ladder.headrooms("lrc"), v, 0.0) for v in levels]
    outputs = per_rung(x, np.stack([r.bank.taps for r in ladder.rungs]))
    hard = hard_switch(outputs, rungs, [10 ** (v / 20) for v in levels], block)
    assert off_tone_db(hard, 997.0, skip) > -50.0


def test_a_rung_change_in_every_block_has_no_transient_above_minus_60_db(ladder):
    """The level jumps across rung boundaries at random, a new rung (and gain) in almost
    every block: the harshest case for the crossfade."""
    block = 128
    levels = [float(v) for v in np.random.default_rng(5).choice(
        [-30.0, -20.0, -14.0, -8.0, -3.0], 120)]
    x = np.random.default_rng(6).uniform(-1, 1, (3, 120 * block)).astype(np.float32)
    conv = LadderConvolver(ladder, block)
    got = run(conv, x, levels)
    rungs = [choose_rung(ladder.headrooms("lrc"), v, 0.0) for v in levels]
    assert conv.rung_changes == sum(a != b for a, b in zip(rungs, rungs[1:])) > 70
    outputs = per_rung(x, np.stack([r.bank.taps for r in ladder.rungs]))
    reference = smooth_reference(outputs, rungs, [10 ** (v / 20) for v in levels], block)
    assert transient_db(got, reference, block) < -60.0


def test_stereo_and_binaural_input_use_their_own_margin_and_headroom(ladder):
    """Stereo picks by the taps' headroom less 3.01 dB, binaural by the ctc_taps'."""
    stereo = LadderConvolver(ladder, 64, input_kind="stereo")
    binaural = LadderConvolver(ladder, 64, input_kind="binaural")
    block3, block2 = np.zeros((3, 64), np.float32), np.zeros((2, 64), np.float32)
    stereo.process(block3, -20.0)
    assert stereo.rung == 1  # -20 + 18 > -3.01: rung 2 does not fit, rung 1 (12 dB) does
    binaural.process(block2, -20.0)
    assert binaural.rung == choose_rung(ladder.headrooms("binaural"), -20.0, 0.0)


def test_a_ladder_of_tracked_banks_plays_the_rung_and_the_cell(tmp_path):
    cells = grid_cells(lateral_m=(-0.05, 0.0, 0.05), distance_m=(2.0,))
    rungs = [tracked_rung(h, cells, seed=10 * k) for k, h in enumerate((8.0, 20.0))]
    ladder = Ladder(tuple(Rung(f"t{k}", b, b.manifest["metrics"]["headroom_db"])
                          for k, b in enumerate(rungs)), "tracked ladder")
    x = np.random.default_rng(7).uniform(-1, 1, (3, 64 * 30)).astype(np.float32)
    for level, pose, rung, cell in ((-25.0, None, 1, rungs[1].nominal_cell),
                                    (-25.0, cells[0], 1, 0), (-5.0, cells[2], 0, 2)):
        conv = LadderConvolver(ladder, 64)
        got = run(conv, x, [level] * 30, [pose] * 30)
        want = per_rung(x, rungs[rung].taps[cell][None])[0] * 10 ** (level / 20)
        assert conv.rung == rung and conv.index == 3 * rung + cell
        assert np.max(np.abs(got - want)) < 1e-5 * np.max(np.abs(want))


def test_the_live_renderer_follows_the_volume_it_is_given(ladder):
    """BankRenderer at a volume equals BankRenderer of that rung at that gain."""
    x = np.random.default_rng(8).uniform(-0.5, 0.5, (2, 256 * 20)).astype(np.float32)
    volume = VolumeControl(-20.0)
    live = BankRenderer(ladder, 256, volume=lambda: volume.db, limiter=False)
    rung = ladder.rung_for(-20.0, "stereo")
    plain = BankRenderer(ladder.rungs[rung].bank, 256, gain_db=-20.0, limiter=False)
    for i in range(0, x.shape[1], 256):
        got = live.process(x[:, i:i + 256]).copy()
        np.testing.assert_allclose(got, plain.process(x[:, i:i + 256]), rtol=0, atol=1e-7)
    assert live.convolver.rung == rung == 1


def test_the_volume_control_clamps_steps_and_counts():
    volume = VolumeControl(-10.0)
    assert volume.set(-12.5) and volume.db == -12.5
    assert volume.set(6) and volume.db == 0.0  # over full scale: clamped
    assert volume.set(-200.0) and volume.db == MIN_VOLUME_DB
    assert volume.step(+1.0) == MIN_VOLUME_DB + 1.0
    assert not volume.set(float("nan")) and not volume.set("loud") and not volume.set(True)
    assert volume.db == MIN_VOLUME_DB + 1.0 and volume.changes == 4 and volume.rejected == 3
    for bad in (1.0, -91.0, float("nan"), "0"):
        with pytest.raises(InputError, match="--volume-db: expected a volume from -90 to 0 dB"):
            check_volume(bad)


def test_a_bad_level_is_an_input_error(ladder):
    with pytest.raises(InputError, match="level: expected a finite number"):
        LadderConvolver(ladder, 64).process(np.zeros((3, 64), np.float32), float("nan"))
    with pytest.raises(InputError, match="--input"):
        LadderConvolver(ladder, 64, input_kind="5.1")


def wait_for(condition) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "the volume did not change in time"
        time.sleep(0.002)


def test_osc_volume_messages_on_the_pose_port_set_the_volume():
    volume = VolumeControl(-30.0)
    with OscPoseListener(0, volume=volume) as osc:
        client = SimpleUDPClient("127.0.0.1", osc.port)
        client.send_message("/volume", -12.0)
        wait_for(lambda: volume.changes == 1)
        assert volume.db == -12.0
        client.send_message("/volume", ["loud"])
        client.send_message("/volume", [-3.0, -4.0])
        wait_for(lambda: volume.rejected == 2)
        client.send_message("/head/pose", [2.0, 0.0, 0.25, 0.0])  # poses still work
        wait_for(lambda: osc.received == 1)
        assert volume.db == -12.0


def test_keys_are_read_only_from_a_terminal_in_the_foreground():
    """What KeyListener.start reads: any file that is not a terminal as a pipe, nothing
    from a file-less stream; the controlling terminal of a child process in a session of
    its own (no fork of this threaded one) as a terminal, and nothing from a process in
    that terminal's background (changing its mode or reading it would stop the process)."""
    with open(os.devnull) as null:
        keys = KeyListener({}, null).start()
        assert keys.source == "pipe"
        keys.close()
    assert KeyListener({}, io.StringIO()).start().source is None
    code = ("import os, sys\n"
            "from device.keys import KeyListener\n"
            "fd = os.open(sys.argv[1], os.O_RDWR)  # a session leader's first tty: its own\n"
            "if os.fork() == 0:  # a process group of its own: the terminal's background\n"
            "    os.setpgid(0, 0)\n"
            "    os._exit(0 if KeyListener({}, fd).start().source is None else 3)\n"
            "_, status = os.wait()\n"
            "keys = KeyListener({}, fd).start()\n"
            "foreground = keys.source\n"
            "keys.close()\n"
            "sys.exit(os.waitstatus_to_exitcode(status) or (0 if foreground == 'terminal' else 1))\n")
    master, slave = os.openpty()
    try:
        child = subprocess.run([sys.executable, "-c", code, os.ttyname(slave)], cwd=ROOT,
                               start_new_session=True, capture_output=True, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    finally:
        os.close(master)
        os.close(slave)
    assert child.returncode == 0, (child.returncode, child.stderr)


def test_the_arrow_keys_step_the_volume_and_the_terminal_is_restored():
    """A pseudo-terminal stands in for the user's: up, up, an unrelated key, down split
    over two writes; the terminal settings are back as they were after close()."""
    import termios

    master, slave = os.openpty()
    try:
        before = termios.tcgetattr(slave)
        volume, seen = VolumeControl(-20.0), []
        with KeyListener(volume_keys(volume, on_change=seen.append), slave):
            assert termios.tcgetattr(slave) != before  # cbreak while it reads
            os.write(master, b"\x1b[A\x1bOAx\x1b[")
            wait_for(lambda: len(seen) == 2)
            os.write(master, b"B")
            wait_for(lambda: len(seen) == 3)
        assert seen == [-19.0, -18.0, -19.0] and volume.db == -19.0
        assert termios.tcgetattr(slave) == before
    finally:
        os.close(master)
        os.close(slave)
