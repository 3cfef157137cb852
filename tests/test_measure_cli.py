"""scripts/measure.py: a real JACK server (dummy backend, period 256) and a plant client
with known FIRs; measure.py must recover them (error energy <= -40 dB of each FIR's energy
after the latency it reports), write files the plant reader and sofar accept, append poses
and microphones, and refuse bad input with exit code 2 and nothing written."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest
import sofar

from bad_inputs import run_cli as _run_cli
from bad_inputs import run_cli_subprocess
from jack_plant import JackPlant, known_firs
from models import load_array
from models.measured_plants import ears_transfer
from models.plant_sofa import read_ears_sofa, read_farfield_sofa
from models.plant_sofa_write import write_ears_sofa

HEAD = [1.0, 0.2, 0.1]
FAST = ["--sweep-seconds", "0.3", "--repeats", "1", "--tail-ms", "100", "--ir-ms", "20"]


@pytest.fixture(scope="module")
def studio():
    return load_array("studio")


@pytest.fixture(scope="module")
def firs(studio):
    return known_firs(studio, HEAD)  # (2 ears, 5 drivers, 512 taps)


@pytest.fixture()
def plant(jack_server, firs):
    client = JackPlant(firs, jack_server)
    yield client
    client.close()


def _ports(plant: JackPlant) -> list[str]:
    drives, ears, loop = plant.port_names()
    return ["--outputs", ",".join(drives), "--inputs", ",".join(ears),
            "--loopback", ",".join(loop), "--server", plant.server]


def run_cli(name: str, argv: list[str]) -> tuple[int, str]:
    """The CLI run in-process; its stderr paragraph joined onto one line."""
    code, err = _run_cli(name, argv)
    return code, " ".join(err.split())


def _error_db(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return 10 * np.log10(np.sum((got - ref) ** 2, -1) / np.sum(ref ** 2, -1))


def test_measure_recovers_the_plant_and_appends_poses(tmp_path, plant, firs, studio):
    out = tmp_path / "ears.sofa"
    run = run_cli_subprocess("measure", ["--array", "studio", "--pose", "1.0,0.2,0.1,0",
                                         "--out", str(out), *FAST[:2], "--repeats", "2",
                                         *FAST[4:], *_ports(plant)])
    assert run.returncode == 0, run.stderr
    assert re.search(r"latency removed 256 samples", run.stdout)  # one period: the loop
    for d, driver in enumerate(studio.drivers):
        assert f"driver {d + 1}/5 {driver.name}: 2 sweep(s)" in run.stderr
    measured = read_ears_sofa(out, studio, min_poses=1)
    assert measured.ir.shape == (1, 2, 960, 5) and measured.sample_rate_hz == 48000
    ref = np.zeros((2, 5, 960))
    ref[..., :firs.shape[-1]] = firs
    errors = _error_db(measured.ir[0].transpose(0, 2, 1), ref)  # (ears, drivers)
    print("recovery error, dB (left ear, right ear) x drivers:", np.round(errors, 1).tolist())
    assert np.all(errors <= -40.0)
    assert "round-trip latency removed: 256 samples" in measured.comment
    assert "loopback plant:loop_in -> plant:loop_out" in measured.comment
    sofar.read_sofa(str(out), verify=False, verbose=False).verify(issue_handling="raise")

    for pose in ("1.2,-0.3,0.1,10", "0.8,0.0,0.3,-5"):  # in-process: no start-up cost
        code, err = run_cli("measure", ["--array", "studio", "--pose", pose, "--out", str(out),
                                        "--append", *FAST, *_ports(plant)])
        assert code == 0, err
    measured = read_ears_sofa(out, studio)
    np.testing.assert_allclose(measured.listener_positions_m[1], [1.2, -0.3, 0.1])
    yaw = np.degrees(np.arctan2(measured.listener_views[1, 1], measured.listener_views[1, 0]))
    toward = np.degrees(np.arctan2(0.3, -1.2))  # facing the device centre, then +10 deg
    assert yaw == pytest.approx(toward + 10.0, abs=1e-6)
    assert ears_transfer(measured, np.array([1000.0]), 48000).shape == (3, 1, 2, 5)


def test_far_field_microphones_append(tmp_path, plant, firs, studio):
    out = tmp_path / "farfield.sofa"
    drives, ears, loop = plant.port_names()
    ports = ["--outputs", ",".join(drives), "--inputs", ears[0], "--loopback", ",".join(loop),
             "--server", plant.server]
    for azimuth, extra in (("0", []), ("90", ["--append"])):
        code, err = run_cli("measure", ["--array", "studio", "--far-field", "--azimuth",
                                        azimuth, "--radius", "2", "--out", str(out), *extra,
                                        *FAST, *ports])
        assert code == 0, err
    measured = read_farfield_sofa(out, studio)
    np.testing.assert_allclose(measured.azimuth_deg, [0.0, 90.0])
    np.testing.assert_allclose(measured.radius_m, [2.0, 2.0])
    ref = np.zeros((5, measured.ir.shape[1]))
    ref[:, :firs.shape[-1]] = firs[0]
    assert np.all(_error_db(measured.ir[0].T, ref) <= -40.0)


def test_unknown_port_and_silent_inputs(tmp_path, plant):
    drives, ears, loop = plant.port_names()
    out = tmp_path / "ears.sofa"
    base = ["--array", "studio", "--pose", "1,0,0.2,0", "--out", str(out), *FAST,
            "--server", plant.server, "--loopback", ",".join(loop)]
    code, err = run_cli("measure", [*base, "--outputs", ",".join(drives[:4] + ["plant:nope"]),
                                    "--inputs", ",".join(ears)])
    assert code == 2
    assert "--outputs: no JACK audio input port 'plant:nope' to play to; available:" in err
    assert "plant:drive_5" in err
    code, err = run_cli("measure", [*base, "--outputs", ",".join(drives),
                                    "--inputs", "system:capture_1,system:capture_2"])
    assert code == 2
    assert "no signal at 'system:capture_1' while driver 'mid_left' played" in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_reported_latency_matches_jack_lsp(tmp_path, jack_server):
    """Without a loopback the latency removed is what the server reports; jack_lsp -l (an
    independent client) reports the same port latencies. The dummy backend records
    silence, so the measurement then stops with 'no signal'."""
    lsp = subprocess.run(["jack_lsp", "-s", jack_server, "-l"], capture_output=True, text=True)
    if lsp.returncode != 0:
        pytest.skip(f"jack_lsp failed: {lsp.stderr}")
    playback = int(re.search(r"system:playback_1\n\s*port playback latency = \[ \d+ (\d+) \]",
                             lsp.stdout).group(1))
    capture = int(re.search(r"system:capture_1\n.*\n\s*port capture latency = \[ \d+ (\d+) \]",
                            lsp.stdout).group(1))
    code, err = run_cli("measure", ["--array", "stereo_pair", "--pose", "2,0,0.25,0", "--out",
                                    str(tmp_path / "e.sofa"), *FAST, "--server", jack_server,
                                    "--outputs", "system:playback_1,system:playback_2",
                                    "--inputs", "system:capture_1,system:capture_2"])
    assert code == 2 and "no signal at 'system:capture_1'" in err
    total = playback + capture
    assert f"reported by the JACK server: {total} to {total} samples" in err


def test_a_mismatched_append_or_a_too_short_sweep_is_refused_before_measuring(tmp_path,
                                                            jack_server_factory):
    server = jack_server_factory(period=256, rate=44100)
    out = tmp_path / "ears.sofa"

    def refused_append() -> str:
        before = out.read_bytes()
        code, err = run_cli("measure", ["--array", "stereo_pair", "--pose", "1.5,0,0.2,0",
                                        "--out", str(out), "--append", *FAST, "--server", server,
                                        "--outputs", "system:playback_1,system:playback_2",
                                        "--inputs", "system:capture_1,system:capture_2"])
        assert code == 2 and out.read_bytes() == before
        return err

    write_ears_sofa(out, load_array("stereo_pair"), 48000, [HEAD])
    assert "ears.sofa: measured at 48000 Hz, but the JACK server runs at 44100 Hz" in \
        refused_append()
    write_ears_sofa(out, load_array("stereo_pair"), 44100, [HEAD], n_samples=1000)
    assert "ears.sofa: its responses are 1000 samples long, --ir-ms 20 gives 882" in \
        refused_append()
    code, err = run_cli("measure", ["--array", "stereo_pair", "--pose", "1.5,0,0.2,0",
                                    "--out", str(tmp_path / "new.sofa"), *FAST,
                                    "--sweep-seconds", "0.1", "--server", server,
                                    "--outputs", "system:playback_1,system:playback_2",
                                    "--inputs", "system:capture_1,system:capture_2"])
    assert code == 2 and "impulse response length 882 samples would overlap the 2nd " \
        "harmonic distortion product" in " ".join(err.split())
    assert not (tmp_path / "new.sofa").exists()


# ---------------------------------------------------------------- without a server


def _argv(out, *extra):
    return ["--array", "studio", "--pose", "1.0,0.2,0.1,0", "--out", str(out),
            "--outputs", "a,b,c,d,e", "--inputs", "l,r", *extra]


@pytest.mark.parametrize("extra, expected", [
    (["--outputs", "a,b"], "--outputs: array 'studio' has 5 drivers (mid_left, mid_right, "
                           "mid_up, tweeter, woofer), got 2 ports"),
    (["--inputs", "l"], "--inputs: expected 2 port(s) (left ear, right ear), got 1"),
    (["--pose", "1,2,3"], "--pose: expected X,Y,Z,YAW (four numbers), got '1,2,3'"),
    (["--pose", "0.05,0,0,0"], "at least 0.2 m from the device's vertical axis"),
    (["--far-field", "--inputs", "m"], "--far-field: needs --azimuth DEG and --radius M"),
    (["--repeats", "0"], "--repeats: expected at least 1, got 0"),
    (["--loopback", "x"], "--loopback: expected OUT_PORT,IN_PORT, got 'x'"),
    (["--tail-ms", "30"], "--tail-ms: expected at least --ir-ms + 10 ms (50; the tail holds"),
    (["--server", "soundstage-no-such-server"],
     "JACK: no server named 'soundstage-no-such-server' is running"),
])
def test_bad_arguments(tmp_path, extra, expected):
    code, err = run_cli("measure", _argv(tmp_path / "ears.sofa", *extra))
    assert code == 2 and expected in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_existing_file_needs_append_and_a_new_matching_pose(tmp_path, studio):
    out = tmp_path / "ears.sofa"
    write_ears_sofa(out, studio, 48000, [HEAD])
    before = out.read_bytes()
    code, err = run_cli("measure", _argv(out))
    assert code == 2 and "ears.sofa: exists; add --append" in err
    code, err = run_cli("measure", _argv(out, "--append"))
    assert code == 2 and "pose [1.0, 0.2, 0.1] facing azimuth" in err
    assert "is already measured (pose 0)" in err
    other = tmp_path / "pair.sofa"
    write_ears_sofa(other, load_array("stereo_pair"), 48000, [HEAD])
    code, err = run_cli("measure", _argv(other, "--append"))
    assert code == 2 and "pair.sofa: EmitterPosition: 2 emitters, but array 'studio'" in err
    assert out.read_bytes() == before


def test_subprocess_exit_code_and_debug(tmp_path):
    run = run_cli_subprocess("measure", _argv(tmp_path / "e.sofa", "--inputs", "l"))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    run = run_cli_subprocess("measure", _argv(tmp_path / "e.sofa", "--inputs", "l", "--debug"))
    assert "Traceback" in run.stderr
