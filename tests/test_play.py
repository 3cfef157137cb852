"""scripts/play.py on a real JACK server (jackd, dummy backend): a second client records the
driver ports, which must equal the offline render; zero xruns; the live path allocates
nothing; errors exit 2 with one message."""

from __future__ import annotations

import re
import signal
import subprocess
import time
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from bad_inputs import run_cli, run_cli_subprocess, run_python
from jack_server import INTERRUPTIBLE, close_client, server_log
from device.live import BankRenderer
from renderer.filterbank import read_filterbank
from renderer.limiter import LOOKAHEAD_MS
from renderer.render import render_file
from renderer.upmix import DEFAULT_FRAME, LOW_LATENCY_FRAME
from renderer_fixtures import ROOT, write_bank

RATE, PERIOD, SECONDS = 48000, 256, 10.0
DRIVERS = 5
LOOKAHEAD = round(LOOKAHEAD_MS * RATE / 1000)  # the limiter's, in the renderer latency


class Recorder:
    """A JACK client that records its input ports into memory, each cycle at the index
    its JACK frame time gives (the clock every client of the server shares), so a cycle
    missed while another client starts up cannot shift what follows."""

    def __init__(self, server: str, channels: int, seconds: float):
        import jack

        self.client = jack.Client("recorder", servername=server, no_start_server=True)
        self.ports = [self.client.inports.register(f"in_{k}") for k in range(channels)]
        self.data = np.zeros((channels, int(seconds * RATE)), np.float32)
        self.start_frame = None
        self.client.set_process_callback(self._process)

    def _process(self, frames: int) -> None:
        now = self.client.last_frame_time
        if self.start_frame is None:
            self.start_frame = now
        pos = now - self.start_frame
        n = max(0, min(frames, self.data.shape[1] - pos))
        for row, port in zip(self.data, self.ports):
            row[pos:pos + n] = port.get_array()[:n]

    def port_names(self) -> str:
        return ",".join(port.name for port in self.ports)


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    return write_bank(tmp_path_factory.mktemp("play") / "fb.npz", n_taps=1024, seed=4)


def stereo_file(path, seconds: float, seed: int = 0):
    """Noise with a common (centre) part, so the upmix has work to do."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-0.3, 0.3, (2, int(seconds * RATE)))
    x[1] = 0.6 * x[0] + 0.4 * x[1]
    sf.write(path, x.T, RATE, subtype="FLOAT")
    return path


def play_and_record(server: str, song, filters, seconds: float):
    """Run play.py as a process into a :class:`Recorder`; (completed process, recorder)."""
    recorder = Recorder(server, DRIVERS, seconds + 5)
    recorder.client.activate()
    try:
        proc = run_cli_subprocess("play", [str(song), "--filters", str(filters), "--server",
                                           server, "--connect", recorder.port_names(),
                                           "--gain-db", "-3", "--block", str(PERIOD)],
                                  timeout=60)
    finally:
        close_client(recorder.client)
    assert proc.returncode == 0, proc.stderr
    return proc, recorder


def test_ten_seconds_on_jackd_equal_the_offline_render_with_no_late_cycle(
        tmp_path, bank, jack_server_factory):
    """The driver ports, recorded by a second client, hold the offline render sample for
    sample (float32 rounding) at the alignment play.py reports: its first rendered sample
    plus the upmix latency. The server runs real-time (jackd -R, as in production) and
    synchronous (-S: a cycle waits for every client, so nothing is lost if the machine
    stalls). No cycle of ours may be late: the server never names our client in an
    xrun, and the callback takes on average under a quarter of the period. An xrun where
    the server says its own driver woke late is the machine's (a shared virtual machine
    under load deschedules even jackd for milliseconds) and is only counted."""
    server = jack_server_factory(period=PERIOD, realtime=True, sync=True)
    path, fb = bank
    song = stereo_file(tmp_path / "song.wav", SECONDS)
    render_file(song, tmp_path / "offline.wav", fb, gain_db=-3.0, block=PERIOD, progress=False)
    offline = sf.read(tmp_path / "offline.wav", dtype="float32", always_2d=True)[0].T
    seen = len(server_log(server))
    proc, recorder = play_and_record(server, song, path, SECONDS)
    log = server_log(server)[seen:].splitlines()
    assert not [line for line in log if "not finished" in line], log
    driver_late = [line for line in log if "JackTimedDriver::Process XRun" in line]
    assert int(re.search(r"xruns: (\d+);", proc.stdout)[1]) <= len(driver_late), proc.stdout
    mean, period_us = map(int, re.search(r"callback: max \d+ us, mean (\d+) us of (\d+) us",
                                         proc.stdout).groups())
    assert mean < period_us / 4  # the worst case also counts the machine's stalls
    assert "starved periods: 0" in proc.stdout
    lead = DEFAULT_FRAME - 1 + LOOKAHEAD  # the upmix and limiter latency: silence first
    assert f"latency: renderer {lead} + period {PERIOD}" in proc.stdout
    first = int(re.search(r"first rendered sample at JACK frame (\d+)", proc.stdout)[1])
    live = recorder.data[:, first - recorder.start_frame:]
    # Live, the STFT upmix rings a little before the first and after the last sample,
    # where the offline render (time-aligned, cut to the input) has nothing; the feeds
    # of the input's own samples must be the same.
    n = int(SECONDS * RATE)
    peak = np.max(np.abs(offline))
    assert np.max(np.abs(live[:, :lead])) < 1e-4 * peak
    assert np.max(np.abs(live[:, lead:lead + n] - offline[:, :n])) < 1e-5 * peak
    end = lead + offline.shape[1] + DEFAULT_FRAME  # the filter tail, then the ringing
    assert np.max(np.abs(live[:, end:])) == 0.0  # silence again


@pytest.mark.parametrize("frame", [DEFAULT_FRAME, LOW_LATENCY_FRAME])
def test_the_live_renderer_allocates_no_array_memory(bank, frame):
    """What runs in the callback: every array preallocated. tracemalloc sees Python
    objects (views) only, a few KB; one (5, 2048) feed block alone is 40 KB."""
    renderer = BankRenderer(read_filterbank(bank[0]), 2048, upmix_frame=frame)
    x = np.random.default_rng(1).uniform(-0.3, 0.3, (2, 2048)).astype(np.float32)
    for _ in range(5):
        renderer.process(x)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(20):
            renderer.process(x)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024


def test_unknown_playback_port_exits_2_listing_the_ports(tmp_path, bank, jack_server, capsys):
    song = stereo_file(tmp_path / "short.wav", 0.2)
    code, err = run_cli("play", [str(song), "--filters", str(bank[0]), "--server", jack_server,
                                 "--connect", "nowhere:in_1"])
    assert code == 2
    assert "nowhere:in_1" in err and "system:playback_1" in err


def test_server_at_another_rate_exits_2(tmp_path, bank, jack_server_factory):
    server = jack_server_factory(period=PERIOD, rate=44100)
    code, err = run_cli("play", [str(stereo_file(tmp_path / "s.wav", 0.1)), "--filters",
                                 str(bank[0]), "--server", server])
    assert code == 2 and "44100 Hz" in err and "48000 Hz" in err


def test_nan_in_the_file_stops_playback_with_exit_2(tmp_path, bank, jack_server):
    x = np.zeros((RATE // 2, 2))
    x[1000, 1] = np.nan
    sf.write(tmp_path / "nan.wav", x, RATE, subtype="FLOAT")
    code, err = run_cli("play", [str(tmp_path / "nan.wav"), "--filters", str(bank[0]),
                                 "--server", jack_server])
    assert code == 2 and "nan.wav" in err and "NaN or" in err and "at frame 1000" in err


@pytest.mark.parametrize("case", ["no_server", "both_sources", "no_source", "missing_file",
                                  "rate", "channels", "block", "capture_without_live",
                                  "volume_over_full_scale", "volume_nan", "bad_ladder"])
def test_bad_input_exits_2_with_a_message(tmp_path, bank, case):
    song = stereo_file(tmp_path / "song.wav", 0.1)
    filters = ["--filters", str(bank[0])]
    argv, words = {
        "no_server": ([str(song), *filters, "--server", "soundstage-no-such-server"],
                      ["soundstage-no-such-server"]),
        "both_sources": ([str(song), "--live", *filters], ["--live", "not both"]),
        "no_source": ([*filters], ["--live", "neither"]),
        "missing_file": ([str(tmp_path / "nope.wav"), *filters], ["nope.wav", "not found"]),
        "rate": ([str(_write(tmp_path / "rate.wav", RATE // 2, 2)), *filters],
                 ["24000 Hz", "48000 Hz"]),
        "channels": ([str(_write(tmp_path / "three.wav", RATE, 3)), *filters],
                     ["2 channel", "has 3"]),
        "block": ([str(song), *filters, "--block", "31"], ["block size", "32"]),
        "capture_without_live": ([str(song), *filters, "--capture", "auto"],
                                 ["--capture", "--live"]),
        "volume_over_full_scale": ([str(song), *filters, "--volume-db", "3"],
                                   ["--volume-db", "-90 to 0 dB", "got 3.0"]),
        "volume_nan": ([str(song), *filters, "--volume-db", "nan"], ["--volume-db", "nan"]),
        "bad_ladder": ([str(song), "--filters", str(_ladder_without_banks(tmp_path))],
                       ["empty_ladder", "ladder.json", "*.npz"]),
    }[case]
    if case == "no_server" and not _jack_loads():
        pytest.skip("the JACK-Client module cannot load libjack (Debian package jackd2)")
    code, err = run_cli("play", argv)
    assert code == 2, err
    assert "Traceback" not in err
    for word in words:
        assert word in err


def _ladder_without_banks(tmp_path):
    folder = tmp_path / "empty_ladder"
    folder.mkdir()
    (folder / "notes.txt").write_text("no banks here\n")
    return folder


def _write(path, rate: int, channels: int):
    sf.write(path, np.zeros((100, channels)), rate, subtype="FLOAT")
    return path


def test_the_live_path_imports_neither_jax_nor_jack_until_it_plays(bank):
    """device.live and device.jackplay import on a machine without JAX or libjack;
    play.py loads the jack module only when it connects, and never JAX."""
    code = ("import runpy, sys\n"
            f"sys.path.insert(0, {str(ROOT / 'scripts')!r})\n"
            "import device.live, device.jackplay\n"
            "assert 'jax' not in sys.modules and 'jack' not in sys.modules\n"
            f"sys.argv = ['play.py', '--live', '--filters', {str(bank[0])!r},"
            " '--server', 'soundstage-no-such-server']\n"
            "try:\n"
            f"    runpy.run_path({str(ROOT / 'scripts' / 'play.py')!r}, run_name='__main__')\n"
            "except SystemExit as exc:\n"
            "    assert exc.code == 2, exc.code\n"
            "assert 'jax' not in sys.modules, 'play.py pulled in jax'\n"
            "assert 'cv2' not in sys.modules, 'play.py pulled in OpenCV without a webcam'\n")
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr


def test_ctrl_c_stops_live_input_cleanly_with_the_report(bank, jack_server):
    """--live runs until Ctrl-C; then the client closes and the report is printed."""
    proc = subprocess.Popen([*INTERRUPTIBLE, str(ROOT / "scripts" / "play.py"), "--live",
                             "--filters", str(bank[0]), "--server", jack_server,
                             "--capture", "auto", "--low-latency"],
                            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    banner = proc.stdout.readline()  # printed once the client is set up
    assert "Ctrl-C stops" in banner
    import jack

    watcher = jack.Client("watcher", servername=jack_server, no_start_server=True)
    try:  # playing once the capture ports are connected to the inputs
        deadline = time.monotonic() + 20
        while not _connected(watcher, "soundstage:L"):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
    finally:
        watcher.close()
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "(stopped by Ctrl-C)" in out
    assert f"latency: renderer {LOW_LATENCY_FRAME - 1 + LOOKAHEAD} + period" in out


def _connected(client, port: str) -> bool:
    import jack

    try:
        return bool(client.get_all_connections(port))
    except jack.JackError:  # not registered yet
        return False


def _jack_loads() -> bool:
    try:
        import jack  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


@pytest.mark.parametrize("input_kind", ["stereo", "binaural"])
def test_a_tracked_bank_plays_the_cell_of_the_pose(input_kind):
    """Live rendering of a tracked bank equals the plain renderer of the cell nearest the
    pose, and of the nominal cell while no pose is known."""
    from tracked_fixtures import synthetic_tracked_bank

    tracked = synthetic_tracked_bank(n_taps=96)
    poses = [None]
    live = BankRenderer(tracked, 64, input_kind=input_kind, pose=lambda: poses[0])
    x = np.random.default_rng(3).standard_normal((live.inputs, 64 * 40)).astype(np.float32)
    far_cell = 0 if tracked.nominal_cell != 0 else 1
    for pose, cell in ((None, tracked.nominal_cell), (tracked.cells[far_cell], far_cell)):
        poses[0] = pose
        live.reset()
        plain = BankRenderer(tracked.cell_bank(cell), 64, input_kind=input_kind)
        for i in range(0, x.shape[1], 64):
            got = live.process(x[:, i:i + 64]).copy()
            np.testing.assert_allclose(got, plain.process(x[:, i:i + 64]), atol=2e-5)
    assert live.latency == plain.latency and live.tail == plain.tail


def play_while_sending(argv: list[str], messages) -> subprocess.CompletedProcess:
    """Run play.py with ``argv`` plus ``--osc-port`` on a free UDP port while a thread
    sends ``messages(k)`` (a list of (address, value) for round k) to it every 50 ms."""
    import socket
    import threading

    from pythonosc.udp_client import SimpleUDPClient

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stop = threading.Event()

    def send() -> None:
        client = SimpleUDPClient("127.0.0.1", port)
        deadline = time.monotonic() + 20.0  # bounded whatever happens to play.py
        k = 0
        while not stop.is_set() and time.monotonic() < deadline:
            for address, value in messages(k):
                client.send_message(address, value)
            k += 1
            time.sleep(0.05)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        proc = run_cli_subprocess("play", [*argv, "--osc-port", str(port)], timeout=60)
    finally:
        stop.set()
        sender.join()
    assert proc.returncode == 0, proc.stderr
    return proc


def test_a_tracked_bank_follows_osc_poses_on_jackd(tmp_path, jack_server):
    """play.py with a tracked bank and --osc-port on the dummy server: poses sent over UDP
    loopback while it plays are received and counted; malformed ones are not used."""
    from tracked_fixtures import synthetic_tracked_bank

    from renderer.trackedbank import write_trackedbank

    filters = write_trackedbank(tmp_path / "tracked.npz", synthetic_tracked_bank(n_taps=256))
    song = stereo_file(tmp_path / "song.wav", 2.0)
    proc = play_while_sending(
        [str(song), "--filters", str(filters), "--server", jack_server],
        lambda k: [("/head/pose", [2.2, 0.1, 0.25, 0.0]), ("/head/pose", ["far", "away"])])
    received, malformed = map(int, re.search(r"head poses: (\d+) received, (\d+) malformed",
                                             proc.stdout).groups())
    assert received > 10 and malformed > 10


def test_a_ladder_follows_osc_volume_on_jackd_and_reports_the_limiter(tmp_path, jack_server):
    """play.py with a ladder folder and --osc-port on the dummy server: /volume messages
    sent while it plays move the volume across rung boundaries (a plain ladder: poses are
    not needed for the port); the stop report gives the final volume, the rung changes,
    and what the limiter did with its look-ahead."""
    from ladder_fixtures import write_ladder_folder

    folder, _ = write_ladder_folder(tmp_path / "ladder", n_taps=256)
    song = stereo_file(tmp_path / "song.wav", 2.0)
    volumes = [-30.0, -20.0, -10.0, 0.0]
    proc = play_while_sending(
        [str(song), "--filters", str(folder), "--server", jack_server, "--volume-db", "-40"],
        lambda k: [("/volume", volumes[k % 4]), ("/volume", "loud")])
    assert "rung 3 rung_24db.npz: headroom 24.00 dB, plays at volumes up to -27.01 dB" \
        in proc.stdout
    changes, malformed, rung_changes = map(int, re.search(
        r"volume: -?[\d.]+ dB at the end, (\d+) changes \((\d+) malformed /volume messages\); "
        r"rung \d of 4 at the end, (\d+) rung changes", proc.stdout).groups())
    assert changes > 10 and malformed > 10 and rung_changes > 5
    assert "head poses: " in proc.stdout and "(not used: a plain bank)" in proc.stdout
    assert re.search(r"limiter: .*; look-ahead 96 samples \(2\.0 ms, in the "
                     r"renderer latency\)", proc.stdout), proc.stdout


def test_the_json_report_gives_the_volume_the_rungs_and_the_limiter(tmp_path, jack_server):
    """--report with a ladder and OSC /volume (the merge of issue 17 into issue 19's
    report): the JSON holds the stop report's volume, rung and limiter figures as printed,
    and the renderer latency in it includes the limiter's look-ahead."""
    import json

    from ladder_fixtures import write_ladder_folder

    folder, ladder = write_ladder_folder(tmp_path / "ladder", n_taps=256)
    song = stereo_file(tmp_path / "song.wav", 2.0)
    path = tmp_path / "run.json"
    proc = play_while_sending(
        [str(song), "--filters", str(folder), "--server", jack_server, "--volume-db", "-40",
         "--report", str(path)],
        lambda k: [("/volume", [-30.0, 0.0][k % 2]), ("/volume", "loud")])
    report = json.loads(path.read_text())
    final, changes, malformed, rung, rung_changes = re.search(
        r"volume: (-?[\d.]+) dB at the end, (\d+) changes \((\d+) malformed /volume "
        r"messages\); rung (\d) of 4 at the end, (\d+) rung changes", proc.stdout).groups()
    assert report["volume"] == {"final_db": float(final), "changes": int(changes),
                                "rejected": int(malformed)}
    assert report["rung"]["final"] == int(rung) and report["rung"]["changes"] == int(rung_changes)
    assert [r["file"] for r in report["rung"]["rungs"]] == [r.name for r in ladder.rungs]
    assert report["rung"]["margin_db"] == pytest.approx(3.01, abs=1e-3)
    limiter = report["limiter"]
    assert limiter["lookahead_samples"] == LOOKAHEAD and limiter["lookahead_ms"] == 2.0
    idle = re.search(r"limiter: idle", proc.stdout) is not None
    assert (limiter["limited_samples"] == 0) == idle and (limiter["events"] == 0) == idle
    assert limiter["seconds"] == pytest.approx(report["seconds"], abs=0.1)
    renderer = DEFAULT_FRAME - 1 + int(ladder.manifest["latency_samples"]) + LOOKAHEAD
    assert report["latency_samples"]["renderer"] == renderer
    assert f"latency: renderer {renderer} + period" in proc.stdout
