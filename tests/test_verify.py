"""measure.py --verify: the bundled studio bank played through a simulated device whose
plant is known (a JACK client filtering the driver feeds with the model's FIRs, on a dummy
server); what it delivers must match the prediction (issue 20: band median within 0.5 dB,
every third-octave band within 1.5 dB; the C level at +-90 deg within 1 dB), the figures
must follow their definition (checked against an independent SciPy computation), a wrong
plant must show as a gap, and bad input must stop with exit code 2 before anything plays.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import fftconvolve

from bad_inputs import run_cli as _run_cli
from jack_plant import JackPlant, dc_free, known_farfield_firs, known_firs, write_known_plants
from renderer_fixtures import synthetic_bank
from models import load_array
from models.plant_sofa_write import write_ears_sofa
from renderer.filterbank import (TRACKED_FORMAT, FilterBank, read_filterbank,
                                 write_filterbank)
from renderer.sinesweep import exponential_sweep
from renderer.trackedbank import TrackedBank, write_trackedbank
from device.verification import bank_feeds, verify_inputs
from evaluation.verification import (band_powers, delivered_spectra, fft_size,
                                     levels_re_on_axis_db, predicted_spectra,
                                     separation_bands_db)

ROOT = Path(__file__).resolve().parent.parent
BANK = ROOT / "checkpoints" / "studio" / "filterbank.npz"
HEAD = np.array([2.0, 0.0, 0.25])  # the bank's nominal seat
PLACES = [0.0, 90.0, -90.0]
FAST = ["--sweep-seconds", "0.5", "--repeats", "1", "--tail-ms", "80", "--ir-ms", "20"]


def run_cli(argv: list[str]) -> tuple[int, str]:
    code, err = _run_cli("measure", argv)
    return code, " ".join(err.split())


@pytest.fixture(scope="module")
def studio():
    return load_array("studio")


@pytest.fixture(scope="module")
def ear_firs(studio):
    return known_firs(studio, HEAD)  # (2 ears, 5 drivers, N)


@pytest.fixture(scope="module")
def files(tmp_path_factory, studio, ear_firs):
    """The known plants as measured-plant files: ears.sofa (one pose) and farfield.sofa."""
    far = known_farfield_firs(studio, PLACES, 2.0)
    ears, farfield = write_known_plants(tmp_path_factory.mktemp("plants"), studio, HEAD,
                                        ear_firs, PLACES, far)
    return {"ears": ears, "farfield": farfield, "far_firs": far}


def _ports(plant: JackPlant, mics=None) -> list[str]:
    drives, ears, loop = plant.port_names()
    return ["--outputs", ",".join(drives), "--inputs", ",".join(mics or ears),
            "--loopback", ",".join(loop), "--server", plant.server]


def _verify(tmp_path, plant, *extra, mics=None) -> tuple[dict, str]:
    report = tmp_path / "verify.json"
    code, err = run_cli(["--verify", str(BANK), *FAST, *_ports(plant, mics), "--report",
                         str(report), *extra])
    assert code == 0, err
    return json.loads(report.read_text()), err


def _independent_separation(firs: np.ndarray, ctc_taps: np.ndarray) -> np.ndarray:
    """(11,) mean separation per band: SciPy convolution, a 1 Hz FFT grid, explicit band
    masks [c 2^-1/6, c 2^1/6), ipsi = the ear named by the input."""
    system = np.array([[sum(fftconvolve(firs[e, d], ctc_taps[i, d]) for d in range(5))
                        for i in range(2)] for e in range(2)])  # (ears, inputs, n)
    power = np.abs(np.fft.rfft(system, 65536, axis=-1)) ** 2
    freqs = np.fft.rfftfreq(65536, 1 / 48000)
    out = []
    for k in range(-3, 8):
        band = (freqs >= 1000 * 2 ** (k / 3 - 1 / 6)) & (freqs < 1000 * 2 ** (k / 3 + 1 / 6))
        p = power[..., band].sum(-1)
        out.append(0.5 * (10 * np.log10(p[0, 0] / p[1, 0]) + 10 * np.log10(p[1, 1] / p[0, 1])))
    return np.array(out)


def test_delivered_separation_matches_the_known_plant(tmp_path, jack_server,
                                                      ear_firs, files):
    plant = JackPlant(ear_firs, jack_server)
    try:
        by_plant, err = _verify(tmp_path, plant, "--pose", "2,0,0.25,0", "--plant",
                                str(files["ears"]), "--plot", str(tmp_path / "verify.png"))
        by_model, _ = _verify(tmp_path, plant, "--pose", "2,0,0.25,0")
    finally:
        plant.close()
    assert "bank input 1/2 left_ear: 1 sweep(s)" in err and "bank input 2/2 right_ear" in err
    assert (tmp_path / "verify.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    expected = _independent_separation(ear_firs, read_filterbank(BANK).ctc_taps.astype(float))
    np.testing.assert_allclose(by_plant["separation_db"]["predicted"]["mean"], expected, atol=0.02)
    for name, report in (("plant", by_plant), ("model", by_model)):
        sep = report["separation_db"]
        gap = np.subtract(sep["delivered"]["mean"], sep["predicted"]["mean"])
        median_gap = report["delivered_separation_db"] - report["predicted_separation_db"]
        print(f"{name}: delivered {report['delivered_separation_db']} dB, predicted "
              f"{report['predicted_separation_db']} dB, band gaps {gap.round(2).tolist()}")
        assert abs(median_gap) <= 0.5 and np.all(np.abs(gap) <= 1.5)
        assert report["delivered_separation_db"] == pytest.approx(
            np.median(sep["delivered"]["mean"]), abs=0.01)
    assert by_plant["predicted_from"]["pose_distance"] == pytest.approx(0.0, abs=1e-9)
    assert by_model["predicted_from"] == {"model": "studio", "head": "sphere",
                                          "driver_model": "piston"}
    assert by_plant["measurement"]["latency_removed_samples"] == [256]
    assert len(by_plant["bands_hz"]) == 11 and by_plant["bands_hz"][0] == 500.0


def test_a_moved_head_shows_as_a_gap(tmp_path, jack_server, studio, files):
    """The device measured 10 cm to the side of the pose its prediction is for: the gap
    says so (a comparison that cannot fail would pass here)."""
    plant = JackPlant(known_firs(studio, HEAD + [0.0, 0.1, 0.0]), jack_server)
    try:
        report, _ = _verify(tmp_path, plant, "--pose", "2,0,0.25,0", "--plant",
                            str(files["ears"]))
    finally:
        plant.close()
    gap = np.abs(report["separation_db"]["gap"])
    print("moved head: band gaps", gap.round(1).tolist())
    assert gap.max() > 3.0


def test_tracked_bank_plays_the_cell_nearest_the_pose(tmp_path, jack_server,
                                                      ear_firs, files):
    """Cell 1 (nearest the pose) has the binaural inputs swapped: its delivered separation
    is negative, and predicted alike, as the prediction is of the cell played."""
    bank = read_filterbank(BANK)
    tracked = tmp_path / "tracked.npz"
    write_trackedbank(tracked, TrackedBank(
        taps=np.stack([bank.taps, bank.taps]), ctc_taps=np.stack([bank.ctc_taps,
                                                                  bank.ctc_taps[::-1]]),
        cells=np.array([[2.0, 0.0, 0.25, 0.0], [2.0, 0.3, 0.25, 0.0]]),
        manifest={**bank.manifest, "format": TRACKED_FORMAT}))
    plant = JackPlant(ear_firs, jack_server)
    try:
        report = tmp_path / "verify.json"
        code, err = run_cli(["--verify", str(tracked), "--pose", "2,0.25,0.25,0", "--plant",
                             str(files["ears"]), *FAST, *_ports(plant), "--report", str(report)])
    finally:
        plant.close()
    assert code == 0, err
    figures = json.loads(report.read_text())
    assert figures["cell"] == {"index": 1, "pose": [2.0, 0.3, 0.25, 0.0]}
    assert figures["delivered_separation_db"] < -10.0
    assert abs(figures["delivered_separation_db"] - figures["predicted_separation_db"]) <= 0.5


def test_far_field_C_level_matches_the_known_plant(tmp_path, jack_server, files,
                                                   monkeypatch):
    """Three microphones at once, then one microphone moved (a prompt waits for Enter
    between places): the C level at +-90 deg re on-axis within 1 dB of the prediction."""
    far = files["far_firs"]  # (3 places, 5 drivers, N)
    plant = JackPlant(far, jack_server)
    try:
        by_plant, _ = _verify(tmp_path, plant, "--far-field", "--azimuth", "90,-90",
                              "--plant", str(files["farfield"]), mics=plant.port_names()[1])
    finally:
        plant.close()
    plant = JackPlant(far[:1], jack_server, name="moved")

    class Mover:  # what the person at the microphone does when asked
        place = 0

        def readline(self):
            plant.use(far[self.place:self.place + 1])
            self.place += 1
            return "\n"

    monkeypatch.setattr("sys.stdin", Mover())
    try:
        moved, err = _verify(tmp_path, plant, "--far-field", "--azimuth", "90,-90",
                             "--radius", "2")
    finally:
        plant.close()
    assert "place the microphone at azimuth -90 deg, 2 m from the device" in err
    for name, report in (("three microphones, plant", by_plant), ("one moved, model", moved)):
        for angle in ("90", "-90"):
            gap = np.asarray(report["level_re_on_axis_db"]["gap"][angle])
            median_gap = (report["delivered_level_db"][angle]
                          - report["predicted_level_db"][angle])
            print(f"{name}, {angle} deg: delivered {report['delivered_level_db'][angle]} dB, "
                  f"predicted {report['predicted_level_db'][angle]} dB, band gaps "
                  f"{gap.round(2).tolist()}")
            assert abs(median_gap) <= 1.0 and np.all(np.abs(gap) <= 1.0)
    np.testing.assert_allclose(moved["delivered_level_db"]["90"],
                               by_plant["delivered_level_db"]["90"], atol=0.05)


def test_level_checks_stop_before_anything_is_written(tmp_path, jack_server,
                                                      ear_firs, monkeypatch):
    report = tmp_path / "verify.json"
    loud = JackPlant(ear_firs * 60.0, jack_server)
    try:
        code, err = run_cli(["--verify", str(BANK), "--pose", "2,0,0.25,0", *FAST,
                             *_ports(loud), "--report", str(report)])
        assert code == 2 and "clipped" in err and "while bank input 'left_ear' played" in err
        drives = ["--outputs", ",".join(loud.port_names()[0]), "--server", jack_server]
        code, err = run_cli(["--verify", str(BANK), "--pose", "2,0,0.25,0", *FAST, *drives,
                             "--inputs", "system:capture_1,system:capture_2",
                             "--report", str(report)])
        assert code == 2
        assert "no signal at 'system:capture_1' while bank input 'left_ear' played" in err
        monkeypatch.setattr("sys.stdin", io.StringIO(""))
        code, err = run_cli(["--verify", str(BANK), "--far-field", "--azimuth", "90",
                             "--radius", "2", *FAST, *drives, "--inputs", "system:capture_1",
                             "--report", str(report)])
        assert code == 2 and "stdin closed while waiting for the microphone to be moved" in err
        slow = tmp_path / "bank44k1.npz"
        write_filterbank(slow, synthetic_bank(256, rate=44100))
        code, err = run_cli(["--verify", str(slow), "--pose", "2,0,0.25,0", *FAST, *drives,
                             "--inputs", "system:capture_1,system:capture_2"])
        assert code == 2 and "bank44k1.npz: the bank runs at 44100 Hz, but the JACK server " \
            "runs at 48000 Hz" in err
    finally:
        loud.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bank44k1.npz"]


# ---------------------------------------------------------------- without a server


def test_band_figures_in_closed_form():
    """A contralateral path of 0.1 x the ipsilateral one: 20 dB in every band; a microphone
    hearing half the on-axis one: -6.02 dB; power at one frequency lands in the band
    [c 2^-1/6, c 2^1/6) that holds it."""
    n = 4096
    n_fft = fft_size(48000, n)
    assert n_fft == 65536
    pulse = np.zeros(n)
    pulse[10] = 1.0
    later = np.roll(pulse, 37)
    responses = np.array([[pulse, 0.1 * later], [0.1 * later, pulse]])  # (ears, inputs, n)
    sep = separation_bands_db(delivered_spectra(responses, n_fft), 48000, n_fft)
    np.testing.assert_allclose(sep, 20.0, atol=1e-9)
    beam = delivered_spectra(np.array([[pulse], [0.5 * later], [2 * pulse]]), n_fft)
    np.testing.assert_allclose(levels_re_on_axis_db(beam, 48000, n_fft),
                               [[-6.0206] * 11, [6.0206] * 11], atol=1e-4)
    freqs = np.fft.rfftfreq(n_fft, 1 / 48000)
    edge = 1000 * 2 ** (1 / 6)  # between the 1000 and 1260 Hz bands
    for f, band in ((1000.0, 3), (edge - 0.5, 3), (edge + 0.5, 4), (440.0, None)):
        spectrum = np.zeros(freqs.size)
        spectrum[np.argmin(np.abs(freqs - f))] = 1.0
        power = band_powers(spectrum, 48000, n_fft)
        assert power.sum() == (0.0 if band is None else 1.0) and (band is None or power[band])


def test_offline_path_delivers_the_bank_through_the_plant():
    """device.verification on a simulated path (SciPy convolution of DC-free random FIRs,
    300 samples of round trip, a loopback): the delivered responses are the bundled bank's
    CTC filters through the plant (error energy <= -50 dB: the sweep measures from 40 Hz
    to 0.98 Nyquist), and delivered and predicted figures agree."""
    rng = np.random.default_rng(3)
    firs = dc_free(rng.standard_normal((2, 5, 96)) * np.exp(-np.arange(96) / 12.0) * 0.2)
    ctc = read_filterbank(BANK).ctc_taps.astype(float)
    sweep = exponential_sweep(48000, 0.5, f_start_hz=20.0)
    feeds = bank_feeds(sweep, ctc, ["left_ear", "right_ear"], list("abcde"))

    def path(signals):
        n = signals.shape[1]
        ears = [sum(fftconvolve(signals[d], firs[e, d])[:n - 300] for d in range(5))
                for e in range(2)]
        out = np.zeros((3, n))
        out[:2, 300:], out[2, 300:] = ears, signals[-1, :n - 300]
        return out.astype(np.float32), 0

    result = verify_inputs(path, sweep, feeds, input_names=["left_ear", "right_ear"],
                           mic_names=["l", "r"], n_samples=1400, repeats=1,
                           tail_samples=2400, loopback=("lo", "li"))
    assert np.all(result.latency == 300)
    delivered = result.ir.transpose(0, 2, 1)  # (ears, inputs, 1400)
    expected = np.zeros_like(delivered)
    for e in range(2):
        for i in range(2):
            expected[e, i, :1119] = sum(fftconvolve(ctc[i, d], firs[e, d]) for d in range(5))
    error = np.sum((delivered - expected) ** 2, -1) / np.sum(expected ** 2, -1)
    print("offline delivered error, dB:", np.round(10 * np.log10(error), 1).tolist())
    assert np.all(10 * np.log10(error) <= -50)
    n_fft = fft_size(48000, 1400)
    got = separation_bands_db(delivered_spectra(delivered, n_fft), 48000, n_fft)
    want = separation_bands_db(predicted_spectra(firs.transpose(0, 2, 1), ctc, n_fft),
                               48000, n_fft)
    np.testing.assert_allclose(got, want, atol=0.01)


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    write_ears_sofa(folder / "pair.sofa", load_array("stereo_pair"), 48000, [HEAD])
    bank = synthetic_bank(256)
    write_filterbank(folder / "nope_array.npz", FilterBank(
        taps=bank.taps, ctc_taps=bank.ctc_taps, manifest={**bank.manifest, "array": "nope"}))
    return folder


EARS = ["--pose", "2,0,0.25,0", "--outputs", "a,b,c,d,e", "--inputs", "l,r"]
FAR = ["--far-field", "--outputs", "a,b,c,d,e", "--inputs", "m"]


@pytest.mark.parametrize("argv, expected", [
    ([*EARS, "--out", "x.sofa"], "--out: not used with --verify"),
    ([*EARS, "--append"], "--append: not used with --verify"),
    ([*EARS, "--outputs", "a,b"], "--outputs: the bank drives 5 drivers (mid_left, mid_right, "
                                  "mid_up, tweeter, woofer), got 2 ports"),
    ([*EARS, "--inputs", "l"], "--inputs: expected 2 ports (left ear, right ear), got 1"),
    (EARS[2:], "--pose: required for ear measurements"),
    ([*FAR, "--azimuth", "90"], "--far-field: needs --azimuth DEG and --radius M"),
    ([*FAR, "--azimuth", "90,x", "--radius", "2"], "--azimuth: expected DEG[,DEG...] in degrees"),
    ([*FAR, "--azimuth", "90,-90", "--radius", "2", "--inputs", "m1,m2"],
     "--inputs: expected one microphone (moved from place to place) or 3 (one per place: "
     "on-axis, then 90, -90 deg), got 2"),
    ([*EARS, "--array", "stereo_pair"], "the bank's drivers (mid_left, mid_right, mid_up, "
                                        "tweeter, woofer) are not those of array 'stereo_pair'"),
    ([*EARS, "--plant", "{bad}/pair.sofa"], "pair.sofa: EmitterPosition: 2 emitters, but array "
                                            "'studio' has 5 drivers"),
    ([*EARS, "--level-db", "0"], "--level-db: the bank's filters lift the sweep of input "
                                 "'left_ear' to"),
    ([*EARS, "--sweep-seconds", "0.5"], "--sweep-seconds: the delivered response (the bank's "
                                        "1024 taps and --ir-ms 40 after them, 2944 samples)"),
    ([*EARS, "--report", "{bad}/no/such/dir/r.json"], "r.json: output directory"),
])
def test_bad_verify_arguments(tmp_path, bad_files, argv, expected):
    argv = [a.replace("{bad}", str(bad_files)) for a in argv]
    code, err = run_cli(["--verify", str(BANK), *argv, "--server", "soundstage-no-such"])
    assert code == 2 and expected in err and "Traceback" not in err, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, expected", [
    (["--verify", "{bad}/absent.npz", *EARS], "absent.npz: filter bank not found"),
    (["--verify", "{bad}/nope_array.npz", *EARS], "nope_array.npz: its array 'nope' cannot be "
                                                  "loaded"),
    (["--plant", "ears.sofa", "--array", "studio", "--out", "e.sofa", *EARS],
     "--plant: only with --verify BANK.npz"),
    (["--out", "e.sofa", *EARS], "--array: required to measure a plant (or --verify"),
    (["--array", "studio", "--out", "f.sofa", *FAR, "--azimuth", "90,-90", "--radius", "2"],
     "--azimuth: one microphone place per run, got '90,-90'"),
])
def test_bad_bank_and_mode_arguments(bad_files, argv, expected):
    argv = [a.replace("{bad}", str(bad_files)) for a in argv]
    code, err = run_cli([*argv, "--server", "soundstage-no-such"])
    assert code == 2 and expected in err and "Traceback" not in err, err
