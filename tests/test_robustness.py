"""Robustness studies, baselines and the report: analytic areas and directivities,
geometric symmetry, and the CLI end to end on a small synthetic bank."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from evaluation import robustness
from evaluation.baselines import least_squares_bank, no_processing_bank, side_scores
from evaluation.heldout import evaluate_heldout
from evaluation.system import real_source_ears
from models import Zone, driver_model_names, load_array, parse_array, place_listeners
from renderer.filterbank import read_filterbank, write_filterbank

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "robustness.py"


def point_array(*drivers: tuple[list[float], list[float]], radius_m: float = 1e-5):
    """An array of near-point drivers given as (position, axis) pairs."""
    tables = [{"name": f"d{i}", "position_m": list(p), "axis": list(a), "radius_m": radius_m,
               "band_hz": [20.0, 20000.0]} for i, (p, a) in enumerate(drivers)]
    return parse_array({"name": "points", "listener": {"distance_m": 2.0}, "drivers": tables},
                       "test")


# --- zone area -------------------------------------------------------------------

X = np.linspace(-0.5, 0.5, 51)
Y = np.linspace(1.0, 3.0, 101)


def test_zone_area_of_a_disc():
    radius = 0.3
    r2 = X[:, None] ** 2 + (Y[None, :] - 2.0) ** 2
    sep = 20.0 - 10.0 * r2 / radius**2  # 10 dB exactly on the circle
    assert robustness.zone_area_m2(sep, X, Y, 10.0) == pytest.approx(np.pi * radius**2, rel=5e-3)


def test_zone_area_of_a_linear_ramp_is_exact():
    sep = np.broadcast_to(10.0 + 40.0 * (Y[None, :] - 2.37), (X.size, Y.size))
    assert robustness.zone_area_m2(sep, X, Y, 10.0) == pytest.approx(1.0 * (3.0 - 2.37), abs=2e-3)


def test_zone_area_limits():
    flat = np.zeros((X.size, Y.size))
    assert robustness.zone_area_m2(flat + 11.0, X, Y, 10.0) == pytest.approx(2.0)
    assert robustness.zone_area_m2(flat + 9.0, X, Y, 10.0) == 0.0


# --- directivity index -----------------------------------------------------------

FREQS = np.array([100.0, 1000.0, 3000.0, 6000.0])


def test_directivity_index_of_a_point_source_is_zero():
    omni = point_array(([0.03, 0.02, 0.01], [1.0, 0.0, 0.0]))
    di = robustness.directivity_index_db(omni, np.ones((1, FREQS.size)), FREQS)
    assert np.allclose(di, 0.0, atol=1e-4)


def test_directivity_index_of_a_dipole_matches_closed_form():
    spacing = 0.05
    dipole = point_array(([spacing / 2, 0.0, 0.0], [1.0, 0.0, 0.0]),
                         ([-spacing / 2, 0.0, 0.0], [1.0, 0.0, 0.0]))
    weights = np.array([[1.0] * FREQS.size, [-1.0] * FREQS.size])
    # |2 sin(x cos(theta))|^2 with x = k d / 2: on-axis sin^2 x, sphere mean (1 - sin 2x / 2x) / 2.
    x = np.pi * FREQS * spacing / 343.0
    exact = 10 * np.log10(np.sin(x) ** 2 / (0.5 * (1 - np.sin(2 * x) / (2 * x))))
    di = robustness.directivity_index_db(dipole, weights, FREQS)
    assert di == pytest.approx(exact, abs=0.02)
    assert di[0] == pytest.approx(10 * np.log10(3.0), abs=0.01)  # the small-kd limit


# --- maps ------------------------------------------------------------------------

def test_reference_pair_at_the_nominal_head_is_the_real_source(studio):
    freqs = np.geomspace(200.0, 6000.0, 40)
    nominal = place_listeners(studio.listener, 0.0, 1.0, 0.0, 0.0)
    pair = robustness.reference_pair_ears(studio, freqs, nominal, 30.0)[0]  # (F, 2, 2)
    assert np.allclose(pair[:, :, 0], real_source_ears(studio, freqs, 30.0), rtol=1e-9)
    assert np.allclose(pair[:, :, 1], real_source_ears(studio, freqs, -30.0), rtol=1e-9)


def test_maps_of_a_mirror_symmetric_array_are_mirror_symmetric(studio):
    bank = no_processing_bank(studio, 48000, 8)
    grid = robustness.MapGrid(np.linspace(-0.2, 0.2, 5), np.array([1.5, 2.0, 3.0]), np.zeros(1))
    fig = robustness.head_figures(studio, bank.taps, bank.ctc_taps, 48000, grid.listeners(studio))
    shape = grid.shape
    sep = fig.separation_db.reshape(shape)
    assert np.allclose(sep, sep[::-1], atol=1e-9)
    for values in (fig.ild_db, fig.itd_us, fig.ild_reference_db, fig.itd_reference_us):
        v = values.reshape(shape + (2,))
        assert np.allclose(v[..., 0], v[::-1, ..., 1], atol=1e-6)  # L at +x is R at -x
    # A real source on the listener's left: the left ear leads and is louder.
    assert np.all(fig.ild_reference_db[:, 0] > 2.0) and np.all(fig.itd_reference_us[:, 0] > 150)


def test_map_grid_covers_the_zone_and_the_heldout_grid(studio):
    grid = robustness.map_grid(studio, Zone(lateral_m=0.5, distance_scale=(0.9, 1.1),
                                            height_m=0.05), 11, 6)
    assert grid.lateral_m[[0, -1]] == pytest.approx([-0.5, 0.5])
    assert grid.distance_m[[0, -1]] == pytest.approx([0.75 * 2.0, 1.5 * 2.0])
    assert grid.height_m == pytest.approx([-0.05, 0.0, 0.05])


# --- baselines -------------------------------------------------------------------

def test_no_processing_follows_geometry_not_names(studio):
    bank = no_processing_bank(studio, 48000, 4)
    names = [d.name for d in studio.drivers]
    fed = {ch: [names[d] for d in np.flatnonzero(bank.taps[c, :, 0])] for c, ch in enumerate("LRC")}
    assert fed == {"L": ["mid_left"], "R": ["mid_right"], "C": names}
    # The same geometry with the names swapped gives the same feeds per position.
    liar = point_array(([0.0, 0.0875, 0.0], [0.0, 1.0, 0.0]), ([0.0, -0.0875, 0.0], [0.0, -1.0, 0.0]))
    liar_bank = no_processing_bank(liar, 48000, 4)
    assert np.flatnonzero(liar_bank.taps[0, :, 0]).tolist() == [1]  # the driver at -y
    assert np.flatnonzero(liar_bank.ctc_taps[1, :, 0]).tolist() == [0]


def test_no_processing_of_the_soundbar_and_a_single_driver():
    bar = load_array("soundbar")
    scores = side_scores(bar)
    bank = no_processing_bank(bar, 48000, 4)
    assert np.array_equal(bank.taps[0, :, 0] > 0, scores < -0.05)
    assert [bar.drivers[d].name for d in np.flatnonzero(bank.ctc_taps[0, :, 0])] == ["side_left"]
    mono = no_processing_bank(point_array(([0.0, 0.0, 0.0], [1.0, 0.0, 0.0])), 48000, 4)
    assert np.all(mono.taps[:, 0, 0] == 1.0) and np.all(mono.ctc_taps[:, 0, 0] == 1.0)


def test_least_squares_baseline_cancels_crosstalk_at_the_sweet_spot(studio):
    bank = least_squares_bank(studio)
    assert bank.taps.shape[:2] == (3, len(studio.drivers))
    figures = evaluate_heldout(studio, bank.taps, bank.ctc_taps, bank.sample_rate)
    plain = no_processing_bank(studio, bank.sample_rate, bank.taps.shape[-1])
    plain_figures = evaluate_heldout(studio, plain.taps, plain.ctc_taps, plain.sample_rate)
    assert figures["separation_nominal_db"] > plain_figures["separation_nominal_db"] + 6.0


def test_bank_array_reads_the_manifest_geometry(studio):
    bank = no_processing_bank(studio, 48000, 4)
    array = robustness.bank_array(bank, "bank.npz")
    assert np.allclose(array.positions_m, studio.positions_m)
    assert array.listener == studio.listener
    with pytest.raises(robustness.InputError, match="drivers"):
        robustness.bank_array(bank, "bank.npz", "stereo_pair")


# --- the CLI and the report ------------------------------------------------------

@pytest.fixture(scope="module")
def small_bank(tmp_path_factory) -> Path:
    """A short synthetic bank for the studio array: plain stereo with a little spread."""
    studio = load_array("studio")
    bank = no_processing_bank(studio, 32000, 32)
    rng = np.random.default_rng(0)
    taps = (bank.taps + 0.05 * rng.normal(size=bank.taps.shape)).astype(np.float32)
    path = tmp_path_factory.mktemp("bank") / "fb.npz"
    write_filterbank(path, type(bank)(taps=taps, ctc_taps=bank.ctc_taps, manifest=bank.manifest))
    return path


def test_model_gap_is_trained_worst_minus_held_out_worst(small_bank):
    bank = read_filterbank(small_bank)
    studio = load_array("studio")
    manifest = {**bank.manifest, "metrics": {"training_models": ["piston", "cap_sphere"]}}
    bank = type(bank)(bank.taps, bank.ctc_taps, manifest)
    figures = robustness.model_gap_figures(studio, bank, "sphere", 30.0)
    direct = {m: evaluate_heldout(studio, bank.taps, bank.ctc_taps, bank.sample_rate,
                                  driver_model=m) for m in driver_model_names()}
    assert figures["by_model"] == direct
    trained = min(direct[m]["separation_nominal_db"] for m in ("piston", "cap_sphere"))
    assert figures["gap"]["separation_nominal_db"] == pytest.approx(
        trained - direct["baffle_edge"]["separation_nominal_db"])
    worst_null = max(d["beam_null_db"] for d in direct.values())
    assert figures["least_favourable"]["beam_null_db"] == worst_null


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_report_builds_from_a_small_bank(small_bank, tmp_path):
    out = tmp_path / "study"
    start = time.perf_counter()
    done = run_cli("--filters", str(small_bank), "--out", str(out), "--grid", "7", "5",
                   "--unit-draws", "2", "--compare", str(small_bank))
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    assert elapsed < 30.0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= {"run", "designs", "grid", "maps", "directivity_index",
                            "positions"}
    assert {"learned", "no_processing", "fb"} <= set(metrics["designs"])
    for design in metrics["designs"].values():
        assert {"separation_nominal_db", "separation_zone_worst_db", "beam_null_db",
                "effort_excess_db"} <= set(design["heldout"])
        assert {"zone_area_m2", "map_area_m2", "directivity_index_C_db",
                "width_ild_error_median_db", "driver_peak_gain_db"} <= set(design["study"])
        assert 0.0 <= design["study"]["zone_area_m2"] <= design["study"]["map_area_m2"]
    # The bank compared with itself gives the same figures.
    assert metrics["designs"]["fb"] == metrics["designs"]["learned"]
    assert np.array(metrics["maps"]["separation_db"]).shape == (7, 5, 3)  # couch: 3 heights
    assert len(metrics["positions"]) == 45 * 3
    # Every driver model judges the learned bank; the one it was made for is the trained one.
    gap = metrics["model_gap"]["learned"]
    assert set(gap["by_model"]) == set(driver_model_names())
    assert gap["training_models"] == ["piston"]
    assert set(metrics["model_gap"]) == {"learned", "least_squares", "fb"}
    html = (out / "report.html").read_text()
    assert "Driver models" in html and "baffle_edge*" in html
    assert html.count("data:image/png;base64,") == 6
    assert not list(out.glob(".*tmp*"))  # no temporary files left behind


@pytest.mark.parametrize("args, message", [
    (["--filters", "missing.npz"], "not found"),
    (["--zone", "stadium"], "unknown zone"),
    (["--lateral-m", "-1"], "lateral_m"),
    (["--head", "cardboard"], "head"),
    (["--grid", "1", "5"], "--grid"),
])
def test_bad_input_is_one_message_and_exit_2(small_bank, tmp_path, args, message):
    base = {"--filters": str(small_bank), "--out": str(tmp_path / "o")}
    for flag in args[::2]:
        base.pop(flag, None)
    argv = [x for kv in base.items() for x in kv] + args
    done = run_cli(*argv)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "o").exists()


def test_room_study_is_added_to_the_report(small_bank, tmp_path):
    pytest.importorskip("evaluation.room_metrics")
    room = tmp_path / "small_room.toml"
    room.write_text("dimensions_m = [4.0, 3.5, 2.5]\nabsorption = 0.3\nmax_order = 3\n"
                    "device_position_m = [0.4, 1.75, 0.9]\n")
    out = tmp_path / "study"
    done = run_cli("--filters", str(small_bank), "--out", str(out), "--grid", "3", "3",
                   "--unit-draws", "0", "--room", str(room))
    assert done.returncode == 0, done.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["room"]) == {"C with beamformer", "C without beamformer"}
    for figures in metrics["room"].values():
        assert {"drr_db", "c50_db", "critical_distance_m"} <= set(figures)
    assert "<h2>Room</h2>" in (out / "report.html").read_text()
