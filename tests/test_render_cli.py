"""scripts/render.py end to end: driver feeds against independent references, errors,
peaks, resampling, the binaural preview, and no JAX."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import oaconvolve, resample_poly

from bad_inputs import run_python
from ladder_fixtures import in_phase_sweep, music_noise, tracked_rung, write_ladder_folder
from models import ear_transfer, load_array
from renderer.ladder import write_ladder
from renderer.upmix import upmix
from renderer_fixtures import load_script, synthetic_bank, write_bank
from tracked_fixtures import grid_cells

ROOT = Path(__file__).resolve().parent.parent
RATE = 48000


render_cli = load_script("render")


def render(*argv) -> int:
    return render_cli.run(render_cli.main, render_cli.build_parser(), [str(a) for a in argv])


def reference(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    return oaconvolve(x[:, None, :], taps.astype(float), axes=-1).sum(axis=0)


def read(path: Path) -> np.ndarray:
    data, rate = sf.read(path, always_2d=True)
    assert rate == RATE
    return data.T


@pytest.fixture
def bank(tmp_path):
    return write_bank(tmp_path / "fb.npz", n_taps=300)


@pytest.fixture
def noise():
    return np.random.default_rng(0).uniform(-0.5, 0.5, (3, 5000))


def wav(path: Path, x: np.ndarray, rate: int = RATE) -> Path:
    sf.write(path, x.T, rate, subtype="FLOAT")
    return path


@pytest.mark.parametrize("block", [32, 100, 8192])
def test_lrc_input_gives_the_convolution_with_taps(tmp_path, bank, noise, block):
    path, fb = bank
    assert render(wav(tmp_path / "in.wav", noise), tmp_path / "out.wav", "--filters", path,
                  "--input", "lrc", "--block", block, "--quiet") == 0
    got = read(tmp_path / "out.wav")
    assert got.shape == (5, 5000 + 299)
    assert np.max(np.abs(got - reference(noise.astype(np.float32), fb.taps))) < 1e-5


def test_binaural_input_uses_the_ctc_taps(tmp_path, bank, noise):
    path, fb = bank
    render(wav(tmp_path / "in.wav", noise[:2]), tmp_path / "out.wav", "--filters", path,
           "--input", "binaural", "--quiet")
    ref = reference(noise[:2].astype(np.float32), fb.ctc_taps)
    assert np.max(np.abs(read(tmp_path / "out.wav") - ref)) < 1e-5


def test_stereo_input_is_upmixed_then_filtered_with_gain(tmp_path, bank, noise):
    path, fb = bank
    render(wav(tmp_path / "in.wav", noise[:2]), tmp_path / "out.wav", "--filters", path,
           "--gain-db", "-6", "--block", "77", "--quiet")
    lrc = upmix(noise[:2].astype(np.float32), RATE) * 10 ** (-6 / 20)
    assert np.max(np.abs(read(tmp_path / "out.wav") - reference(lrc, fb.taps))) < 1e-5


def test_a_mono_file_plays_through_the_centre_filters(tmp_path, bank, noise):
    path, fb = bank
    render(wav(tmp_path / "in.wav", noise[:1]), tmp_path / "out.wav", "--filters", path, "--quiet")
    ref = reference(noise[:1].astype(np.float32), fb.taps[2:])
    assert np.max(np.abs(read(tmp_path / "out.wav") - ref)) < 1e-5


def test_resample_matches_polyphase_resampling_then_filtering(tmp_path, bank, noise):
    path, fb = bank
    x = noise[:, :4410].astype(np.float32)
    render(wav(tmp_path / "in.wav", x, 44100), tmp_path / "out.wav", "--filters", path,
           "--input", "lrc", "--resample", "--quiet")
    ref = reference(resample_poly(x.astype(float), 160, 147, axis=-1), fb.taps)
    got = read(tmp_path / "out.wav")
    assert got.shape == ref.shape == (5, 4800 + 299)
    assert np.max(np.abs(got - ref)) < 1e-5


def test_without_the_limiter_peaks_over_full_scale_are_kept_and_reported(tmp_path, bank, noise,
                                                                         capsys):
    path, fb = bank
    out = tmp_path / "out.wav"
    assert render(wav(tmp_path / "in.wav", noise), out, "--filters", path, "--input", "lrc",
                  "--gain-db", "40", "--no-limiter", "--quiet") == 0
    got = read(out)
    peak_db = 20 * np.log10(np.max(np.abs(got)))
    assert peak_db > 6.0  # float output: nothing clipped
    err = " ".join(capsys.readouterr().err.split())
    assert f"{peak_db:.1f} dB over full scale" in err and f"--gain-db {40 - peak_db:.1f}" in err
    pcm = tmp_path / "pcm.wav"
    assert render(tmp_path / "in.wav", pcm, "--filters", path, "--input", "lrc",
                  "--gain-db", "40", "--subtype", "PCM_16", "--no-limiter", "--quiet") == 2
    assert "would clip" in " ".join(capsys.readouterr().err.split()) and not pcm.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fb.npz", "in.wav", "out.wav"]


def test_headroom_is_reported_when_under_full_scale(tmp_path, bank, noise, capsys):
    path, _ = bank
    render(wav(tmp_path / "in.wav", noise), tmp_path / "out.wav", "--filters", path,
           "--input", "lrc", "--quiet")
    peak = np.max(np.abs(read(tmp_path / "out.wav")))
    assert f"headroom {-20 * np.log10(peak):.1f} dB" in capsys.readouterr().out


def test_preview_is_the_ear_transfer_of_the_driver_feeds(tmp_path, noise):
    """Only L -> mid_left, a pure delay: at a steady 1.5 kHz the ears must hear the sphere
    model's |H| (times the nominal distance) and its interaural phase."""
    taps = np.zeros((3, 5, 64))
    taps[0, 0, 10] = 1.0
    path = tmp_path / "fb.npz"
    from renderer.filterbank import write_filterbank
    write_filterbank(path, synthetic_bank(64, taps=taps))
    f0, n = 1500.0, RATE // 2
    x = np.zeros((3, n))
    x[0] = 0.5 * np.sin(2 * np.pi * f0 * np.arange(n) / RATE)
    assert render(wav(tmp_path / "in.wav", x), tmp_path / "out.wav", "--filters", path,
                  "--input", "lrc", "--preview", "2,0.3", "--quiet") == 0
    ears = read(tmp_path / "out.preview.wav")[:, RATE // 8:n]
    t = np.arange(RATE // 8, n) / RATE
    phasor = ears @ np.exp(-2j * np.pi * f0 * t) * 2 / t.size  # complex amplitude per ear
    array = load_array("studio")
    model = ear_transfer(array, [f0], [[2.0, 0.3, array.listener.height_m]])[0, 0, :, 0]
    model = model * 0.5 * array.listener.distance_m
    assert np.allclose(20 * np.log10(np.abs(phasor)), 20 * np.log10(np.abs(model)), atol=0.3)
    ipd = np.angle(phasor[0] / phasor[1]) - np.angle(model[0] / model[1])
    assert abs(np.angle(np.exp(1j * ipd))) < 0.05


@pytest.mark.parametrize("case, message", [
    ("missing", "not found"), ("channels", "needs 3 channel"), ("rate", "pass --resample"),
    ("block", "block size"), ("outdir", "does not exist"), ("filters", "filter bank not found"),
    ("garbage", "not a readable sound file"), ("preview", "--preview"),
])
def test_bad_input_exits_2_with_a_message_and_writes_nothing(tmp_path, bank, noise, capsys,
                                                             case, message):
    path, _ = bank
    good = wav(tmp_path / "in.wav", noise)
    args = {"missing": [tmp_path / "nope.wav", tmp_path / "o.wav", "--input", "lrc"],
            "channels": [wav(tmp_path / "st.wav", noise[:2]), tmp_path / "o.wav", "--input", "lrc"],
            "rate": [wav(tmp_path / "lo.wav", noise, 44100), tmp_path / "o.wav", "--input", "lrc"],
            "block": [good, tmp_path / "o.wav", "--input", "lrc", "--block", "16"],
            "outdir": [good, tmp_path / "no" / "o.wav", "--input", "lrc"],
            "filters": [good, tmp_path / "o.wav", "--input", "lrc"],
            "garbage": [tmp_path / "fb.npz", tmp_path / "o.wav", "--input", "lrc"],
            "preview": [good, tmp_path / "o.wav", "--input", "lrc", "--preview", "2"]}[case]
    filters = tmp_path / "missing.npz" if case == "filters" else path
    before = sorted(tmp_path.iterdir())
    assert render(*args, "--filters", filters, "--quiet") == 2
    assert message in " ".join(capsys.readouterr().err.split())  # the message is wrapped
    assert sorted(tmp_path.iterdir()) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only directories")
def test_read_only_output_directory_is_an_input_error(tmp_path, bank, noise, capsys):
    path, _ = bank
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    assert render(wav(tmp_path / "in.wav", noise), ro / "o.wav", "--filters", path,
                  "--input", "lrc") == 2
    assert "not writable" in " ".join(capsys.readouterr().err.split())


def test_renderer_and_render_script_never_import_jax(tmp_path, bank, noise):
    path, _ = bank
    wav(tmp_path / "in.wav", noise[:2])
    code = ("import runpy, sys\n"
            f"sys.path.insert(0, {str(ROOT / 'scripts')!r})\n"
            "import renderer\n"
            "assert 'jax' not in sys.modules, 'import renderer pulled in jax'\n"
            f"sys.argv = ['render.py', {str(tmp_path / 'in.wav')!r}, {str(tmp_path / 'o.wav')!r},"
            f" '--filters', {str(path)!r}, '--quiet']\n"
            "try:\n"
            f"    runpy.run_path({str(ROOT / 'scripts' / 'render.py')!r}, run_name='__main__')\n"
            "except SystemExit as exc:\n"
            "    assert exc.code == 0, exc.code\n"
            "assert 'jax' not in sys.modules, 'render.py pulled in jax'\n")
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "o.wav").exists()


@pytest.fixture(scope="module")
def ladder_folder(tmp_path_factory):
    return write_ladder_folder(tmp_path_factory.mktemp("render_ladder") / "ladder", n_taps=300)


@pytest.mark.parametrize("volume, rung", [(-30.0, 3), ("top", 1), ("above", 0), (0.0, 0)])
def test_a_ladder_plays_the_rung_that_fits_the_volume(tmp_path, ladder_folder, noise, volume,
                                                       rung, capsys):
    """lrc input (margin 0): rung k plays up to volume -H_k; just above rung 1's top (the
    next float) rung 0 plays. The feeds are SciPy's of that rung at the volume's gain."""
    folder, ladder = ladder_folder
    top = -ladder.rungs[1].headroom_db
    volume = {"top": top, "above": float(np.nextafter(top, 0.0))}.get(volume, volume)
    assert render(wav(tmp_path / "in.wav", noise * 0.1), tmp_path / "out.wav", "--filters",
                  folder, "--input", "lrc", "--volume-db", repr(volume), "--quiet") == 0
    got = read(tmp_path / "out.wav")
    want = reference(noise.astype(np.float32) * 0.1, ladder.rungs[rung].bank.taps)
    assert np.max(np.abs(got - want * 10 ** (volume / 20))) < 1e-5
    out = " ".join(capsys.readouterr().out.split())
    assert f"played rung {rung} {ladder.rungs[rung].name}" in out and "limiter: idle" in out


def test_an_idle_limiter_changes_no_sample(tmp_path, ladder_folder, capsys):
    """Stereo music-like noise at -25 dB, under full scale everywhere: the render with the
    limiter is the render without it, bit for bit (its look-ahead is compensated)."""
    folder, _ = ladder_folder
    song = wav(tmp_path / "in.wav", music_noise(RATE, 1.0))
    outputs = []
    for name, flags in (("on.wav", []), ("off.wav", ["--no-limiter"])):
        assert render(song, tmp_path / name, "--filters", folder, "--volume-db", "-25",
                      "--block", "256", "--quiet", *flags) == 0
        outputs.append(read(tmp_path / name))
    assert np.array_equal(outputs[0], outputs[1]) and np.max(np.abs(outputs[0])) < 1.0
    assert "limiter: idle" in capsys.readouterr().out


def test_the_limiter_keeps_a_loud_render_within_full_scale_even_in_pcm(tmp_path, ladder_folder,
                                                                      capsys):
    """A 0 dBFS in-phase sweep at 0 dB volume: the lowest rung (6 dB) plays and the feeds
    would go 2 dB over full scale; limited they peak at most at full scale, so a 16-bit
    render is written, and the summary says how often and how deep the limiter acted."""
    folder, _ = ladder_folder
    song = wav(tmp_path / "in.wav", in_phase_sweep(RATE, 1.0))
    assert render(song, tmp_path / "raw.wav", "--filters", folder, "--no-limiter",
                  "--quiet") == 0
    raw_peak = np.max(np.abs(read(tmp_path / "raw.wav")))
    assert raw_peak > 1.1
    capsys.readouterr()
    assert render(song, tmp_path / "pcm.wav", "--filters", folder, "--subtype", "PCM_16",
                  "--quiet") == 0
    assert np.max(np.abs(read(tmp_path / "pcm.wav"))) <= 1.0
    out = " ".join(capsys.readouterr().out.split())
    depth = 20 * np.log10(raw_peak)
    assert "limiter: acted 1 time(s)" in out
    assert f"deepest gain reduction {depth:.1f} dB" in out


def test_a_ladder_of_tracked_banks_plays_the_cell_of_the_pose_in_the_rung_of_the_volume(
        tmp_path, capsys):
    """With --poses, the cell nearest the (constant) pose of the rung that fits; without,
    the nominal cell of that rung."""
    cells = grid_cells(lateral_m=(-0.05, 0.0, 0.05), distance_m=(2.0,))
    banks = [tracked_rung(h, cells, seed=k, n_taps=96) for k, h in enumerate((8.0, 20.0))]
    folder = tmp_path / "tracked"
    folder.mkdir()
    write_ladder(folder, [(f"t{k}.npz", b) for k, b in enumerate(banks)])
    x = np.random.default_rng(9).uniform(-0.5, 0.5, (3, 3000))
    poses = tmp_path / "p.csv"
    poses.write_text("time_s,x,y,z,yaw_deg\n0,2.0,-0.05,0.25,0\n")
    song = wav(tmp_path / "in.wav", x)
    for volume, extra, rung, cell in (("-25", ["--poses", poses], 1, 0),
                                      ("-5", ["--poses", poses], 0, 0),
                                      ("-25", [], 1, banks[1].nominal_cell)):
        assert render(song, tmp_path / "out.wav", "--filters", folder, "--input", "lrc",
                      "--volume-db", volume, "--quiet", *extra) == 0
        want = reference(x.astype(np.float32), banks[rung].taps[cell]) * 10 ** (int(volume) / 20)
        assert np.max(np.abs(read(tmp_path / "out.wav") - want)) < 1e-5
        out = capsys.readouterr().out
        assert f"played rung {rung} t{rung}.npz" in out
        assert ("nominal cell" in out) == (not extra)
