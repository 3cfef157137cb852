"""Head-tracked training (optim/tracked.py) and its zone evaluation (evaluation/tracking.py):
the smoothness term in closed form, the cell grid and its training boxes against the pose
metric, config errors, a tiny tracked training written and read back, nearest-cell figures
against a direct per-head evaluation, and train.py --tracked end to end."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from common.errors import InputError
from common.poses import poses_of
from evaluation import metrics
from bad_inputs import load_script
from evaluation.report import build_html
from evaluation.robustness import MAP_FREQS_HZ, head_figures, map_grid
from evaluation.heldout import evaluate_heldout
from evaluation.system import ear_system, evaluation_freqs, filter_responses
from evaluation.tracking import (TrackingError, reported_poses, tracked_separation,
                                 tracking_figures, zone_listeners)
from models import Zone, ear_transfer, get_zone, load_array, place_listeners
from optim.config import load_config
from optim.problem import build_problem
from optim.loop import initial_params
from optim.objective import batch_indices, make_loss
from optim.tracked import (build_cell_problem, cell_grid, cell_listeners, cell_view,
                           export_cells, initial_cells, make_tracked_loss, make_trackedbank,
                           neighbour_difference, train_cells)
from optim_fixtures import small_config
from renderer.trackedbank import nearest_cells, read_bank, read_trackedbank, write_trackedbank
from tracked_fixtures import grid_cells, synthetic_tracked_bank

ROOT = Path(__file__).resolve().parent.parent


# --- the smoothness term ---------------------------------------------------------------

def test_neighbour_difference_closed_forms_on_two_cells():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4, 5)) + 1j * rng.standard_normal((3, 4, 5))
    pair = jnp.array([[0, 1]])
    term = jax.jit(neighbour_difference)
    for c in (0.5, 2.0, -1.0, 1.0):  # R_b = c R_a: 2 (1 - c)^2 / (1 + c^2)
        value = term(jnp.asarray(np.stack([a, c * a]), jnp.complex64), pair)
        assert float(value) == pytest.approx(2 * (1 - c) ** 2 / (1 + c**2), rel=1e-5, abs=1e-7)
    # equal energy, orthogonal: 2; and the mean over several pairs
    b = np.zeros_like(a)
    b[0, 0, 0], a2 = 1.0, np.zeros_like(a)
    a2[1, 1, 1] = 1j
    three = jnp.asarray(np.stack([a2, b, 0.5 * b]))
    assert float(term(three, jnp.array([[0, 1], [1, 2]]))) == pytest.approx((2 + 0.4) / 2)
    assert float(neighbour_difference(three, jnp.zeros((0, 2), int))) == 0.0


# --- the cell grid ---------------------------------------------------------------------

def test_cell_grid_boxes_are_the_cells_of_the_pose_metric(studio):
    tracking = load_config().tracking
    tracking = replace(tracking, lateral_m=(-0.1, -0.05, 0.0, 0.05, 0.1),
                       distance_scale=(0.75, 1.0, 1.5), yaw_deg=(0.0,), cell_extent=1.0)
    zone = get_zone("zone")
    grid = cell_grid(studio.listener, tracking, zone)
    assert grid.poses.shape == (15, 4)
    assert len(grid.neighbours) == 4 * 3 + 5 * 2  # adjacent along lateral, along distance
    centre = int(np.flatnonzero((grid.offsets[:, 0] == 0) & (grid.offsets[:, 1] == 1))[0])
    assert grid.poses[centre] == pytest.approx([2.0, 0.0, 0.25, 0.0])
    assert grid.box_lo[centre] == pytest.approx([-0.025, 0.875, -10.0])
    assert grid.box_hi[centre] == pytest.approx([0.025, 1.25, 10.0])
    edge = int(np.flatnonzero((grid.offsets[:, 0] == -0.1) & (grid.offsets[:, 1] == 1.5))[0])
    assert grid.box_lo[edge] == pytest.approx([-0.125, 1.25, -10.0])
    assert grid.box_hi[edge] == pytest.approx([-0.075, 1.75, 10.0])
    # At extent 1 the boxes are the cells the pose metric picks: every head drawn for a
    # cell selects it, and heads are yawed from facing the device centre.
    heads = cell_listeners(studio.listener, grid, zone, 50, seed=3)
    poses = poses_of(heads.positions_m, heads.facing)
    assert np.array_equal(nearest_cells(grid.poses, poses), np.repeat(np.arange(15), 50))
    assert np.abs(poses[:, 3]).max() <= 10.0 + 1e-9 and np.abs(poses[:, 3]).max() > 9.0


def test_one_value_on_an_axis_spans_the_zone_preset(studio):
    tracking = replace(load_config().tracking, lateral_m=(0.0,), distance_scale=(1.0,),
                       yaw_deg=(-5.0, 5.0), cell_extent=1.0)
    grid = cell_grid(studio.listener, tracking, Zone(0.1, (0.75, 1.5), 0.02, 10.0))
    assert grid.box_lo == pytest.approx(np.array([[-0.1, 0.75, -10.0], [-0.1, 0.75, 0.0]]))
    assert grid.box_hi == pytest.approx(np.array([[0.1, 1.5, 0.0], [0.1, 1.5, 10.0]]))
    assert grid.poses[:, 3] == pytest.approx([-5.0, 5.0])


@pytest.mark.parametrize("table, field, expected", [
    ({"lateral_m": [0.05, 0.0]}, "tracking.lateral_m", "strictly increasing"),
    ({"lateral_m": []}, "tracking.lateral_m", "non-empty"),
    ({"distance_scale": [0.0, 1.0]}, "tracking.distance_scale", "within (0, inf)"),
    ({"yaw_deg": [-10.0, 90.0]}, "tracking.yaw_deg", "within (-90, 90)"),
    ({"yaw_deg": [0.0, "x"]}, "tracking.yaw_deg[1]", "expected a number"),
    ({"cell_extent": 0.5}, "tracking.cell_extent", ">= 1.0"),
    ({"cell_pool": 0}, "tracking.cell_pool", "integer >= 1"),
    ({"cell_batch": 40}, "tracking.cell_batch", "at most cell_pool (32)"),
    ({"smoothness": -1.0}, "tracking.smoothness", ">= 0"),
    ({"step": 3}, "tracking.step", "unknown setting"),
])
def test_tracking_config_errors_name_the_field(table, field, expected):
    with pytest.raises(InputError) as err:
        load_config(None, {"tracking": table})
    assert field in str(err.value) and expected in str(err.value)


# --- a tiny tracked training -----------------------------------------------------------

TINY_TRACKING = {"lateral_m": [-0.1, 0.0, 0.1], "distance_scale": [1.0], "yaw_deg": [0.0],
                 "cell_pool": 4, "cell_batch": 2, "steps": 6, "smoothness": 1.0}


@pytest.fixture(scope="module")
def tiny():
    config = small_config(optimizer={"init": "least_squares", "warmup_steps": 1},
                          plant={"units": 2},
                          tracking=TINY_TRACKING)
    array = load_array("stereo_pair")
    problem = build_problem(array, config)
    cells = build_cell_problem(array, config, problem)
    start = initial_cells(config, problem, cells)
    stacked, history = train_cells(config, problem, cells, start)
    return array, config, problem, cells, start, stacked, history


def test_each_cell_starts_from_the_least_squares_design_of_its_own_pool(tiny):
    array, config, problem, cells, start, _, _ = tiny
    for c in range(3):
        own = initial_params(config, cell_view(problem, cells, c))
        assert np.array_equal(np.asarray(start["ctc"][c]), np.asarray(own["ctc"]))
    # ... so each cell separates best at its own centre (free field, three heads)
    taps, ctc = export_cells(start, problem)
    freqs = evaluation_freqs(config.design.sample_rate)
    heads = cells.grid.poses[:, :3]
    ear = ear_transfer(array, freqs, heads, -heads * [1, 1, 0], head="free")
    sep = np.stack([metrics.separation_db(ear_system(ear, filter_responses(
        ctc[c], config.design.sample_rate, freqs)), freqs).min(-1) for c in range(3)], 1)
    assert np.array_equal(np.argmax(sep, axis=1), np.arange(3)), sep


def test_tiny_tracked_training_writes_a_valid_tracked_bank(tiny, tmp_path):
    array, config, problem, cells, start, stacked, history = tiny
    assert [h["step"] for h in history] == [0, 5]
    loss = jax.jit(make_tracked_loss(config, problem, cells))
    batch = tuple(jnp.asarray(i) for i in batch_indices(0, 99, 4, 4, 2, 4))
    assert float(loss(stacked, batch)[0]) < float(loss(start, batch)[0])
    assert 0 < history[0]["smoothness"] < 4  # cells start apart, from their own designs
    taps, ctc = export_cells(stacked, problem)
    path = write_trackedbank(tmp_path / "tb.npz", make_trackedbank(
        array, config, cells.grid.poses, taps, ctc, {"note": 1}, {"steps": 6}, {}))
    bank = read_bank(path)
    assert bank.taps.shape == (3, 3, 2, 128) and bank.ctc_taps.shape == (3, 2, 2, 128)
    assert bank.manifest["format"] == "soundstage.trackedbank"
    assert bank.manifest["metrics"] == {"note": 1} and bank.manifest["latency_samples"] == 64
    assert np.array_equal(bank.cells, cells.grid.poses)
    assert bank.cells[:, 1] == pytest.approx([-0.1, 0.0, 0.1])
    assert bank.nominal_cell == 1
    assert np.array_equal(bank.fallback().ctc_taps, ctc[1])


def test_the_tracked_loss_is_the_mean_cell_loss_plus_the_weighted_smoothness(tiny):
    array, config, problem, cells, start, _, _ = tiny
    batch = tuple(jnp.asarray(i) for i in batch_indices(0, 3, 2, 4, 2, 2))
    heavy = replace(config, tracking=replace(config.tracking, smoothness=3.0))
    total, terms = jax.jit(make_tracked_loss(heavy, problem, cells))(start, batch)
    one_cell = jax.jit(lambda params, pool, nominal: make_loss(config, replace(
        problem, ear_pool=pool, ear_nominal=nominal, mirror=None))(params, batch))
    # one compile, no vmap; cells are never mirror-symmetric (optim.tracked.cell_view)
    per_cell = [one_cell({k: v[c] for k, v in start.items()}, cells.pools[c],
                         cells.nominals[c]) for c in range(3)]
    assert float(total) == pytest.approx(np.mean([float(t) for t, _ in per_cell])
                                         + 3.0 * float(terms["smoothness"]), rel=1e-5)
    assert float(terms["smoothness"]) == pytest.approx(float(neighbour_difference(
        jnp.asarray(np.concatenate(export_cells(start, problem), axis=1)),
        jnp.array([[0, 1], [1, 2]]))), rel=1e-3)
    assert float(terms["cancellation"]) == pytest.approx(
        np.mean([float(t["cancellation"]) for _, t in per_cell]), rel=1e-5)


# --- zone figures ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def random_cells(studio):
    """Four cells across the zone with random (decaying) binaural taps, and a fixed bank."""
    rng = np.random.default_rng(11)
    decay = np.exp(-np.arange(64) / 8.0)
    ctc = (rng.standard_normal((5, 2, 5, 64)) * decay).astype(np.float32)
    cells = np.array([[1.5, -0.06, 0.25, 0.0], [2.0, -0.03, 0.25, 0.0], [2.0, 0.05, 0.25, 0.0],
                      [3.0, 0.0, 0.25, 5.0]])
    return cells, ctc[:4], ctc[4]


def _pose_yaw(position, facing) -> float:
    """Yaw (deg) counter-clockwise from facing the device centre, by angles."""
    toward = math.atan2(-position[1], -position[0])
    return math.degrees((math.atan2(facing[1], facing[0]) - toward + math.pi) % (2 * math.pi)
                        - math.pi)


def test_ideal_tracking_equals_a_direct_evaluation_with_each_heads_cell(studio, random_cells):
    cells, ctc, fixed = random_cells
    figures = tracking_figures(studio, cells, ctc, fixed, 48000, zones=("zone",),
                               driver_model="piston")["zone"]
    heads = zone_listeners(studio, "zone")
    freqs = evaluation_freqs(48000)  # the full grid: the band's median is the same
    values, chosen = [], set()
    for position, facing in zip(heads.positions_m, heads.facing):
        yaw = _pose_yaw(position, facing)
        cell = min(range(len(cells)), key=lambda k: math.dist(cells[k][:3], position)
                   + abs(cells[k][3] - yaw) / 100.0)
        chosen.add(cell)
        ear = ear_transfer(studio, freqs, position[None], facing[None], driver_model="piston")
        ctc_filters = filter_responses(ctc[cell], 48000, freqs)
        values.append(metrics.separation_db(ear_system(ear, ctc_filters), freqs).min())
    assert chosen == {0, 1, 2, 3}
    assert figures["ideal"]["separation_zone_median_db"] == pytest.approx(np.median(values),
                                                                         abs=1e-9)
    assert figures["ideal"]["separation_zone_worst_db"] == pytest.approx(min(values), abs=1e-9)


def test_a_fixed_bank_has_the_held_out_figures_of_evaluate_heldout(studio, random_cells):
    cells, ctc, fixed = random_cells
    taps = np.random.default_rng(2).standard_normal((3,) + fixed.shape[1:]).astype(np.float32)
    held = evaluate_heldout(studio, taps, fixed, 48000, driver_model="cap_sphere")
    figures = tracking_figures(studio, cells, ctc, fixed, 48000, zones=("zone",),
                               driver_model="cap_sphere")["zone"]["fixed"]
    for key in ("separation_zone_median_db", "separation_zone_worst_db"):
        assert figures[key] == pytest.approx(held[key], abs=1e-9)


def test_zero_tracking_error_is_ideal_tracking(studio, random_cells):
    cells, ctc, fixed = random_cells
    figures = tracking_figures(studio, cells, ctc, fixed, 48000, driver_model="piston",
                               error=TrackingError(0.0, 0.0, 0.0, draws=3))
    for zone in ("zone", "couch"):
        assert figures[zone]["tracking_error"] == figures[zone]["ideal"]


def test_reported_poses_have_the_noise_and_lag_asked_for():
    poses = np.zeros((1, 4))
    reported = reported_poses(poses, TrackingError(0.01, 2.0, 0.009, draws=20000), seed=1)[:, 0]
    assert reported.std(axis=0)[[0, 2, 3]] == pytest.approx([0.01, 0.01, 2.0], rel=0.03)
    assert reported[0::2, 1].mean() == pytest.approx(-0.009, abs=3e-4)
    assert reported[1::2, 1].mean() == pytest.approx(0.009, abs=3e-4)
    assert reported[0::2, 1].std() == pytest.approx(0.01, rel=0.03)


# --- train.py --tracked ----------------------------------------------------------------

TINY_TOML = """
[design]
pool = 8
batch = 4
[plant]
units = 1
[tracking]
lateral_m = [-0.05, 0.05]
distance_scale = [1.0]
cell_pool = 4
cell_batch = 2
steps = 3
"""


def train_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "train.py"), "--array",
                           "studio", "--tracked", "--taps", "256", "--quiet", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_train_tracked_writes_a_tracked_bank_and_prints_its_zone_table(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_TOML)
    out = tmp_path / "tb.npz"
    proc = train_cli("--steps", "3", "--config", str(config), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    bank = read_trackedbank(out)
    assert bank.taps.shape == (2, 3, 5, 256) and bank.ctc_taps.shape == (2, 2, 5, 256)
    assert bank.cells[:, :3] == pytest.approx(np.array([[2.0, -0.05, 0.25], [2.0, 0.05, 0.25]]))
    m = bank.manifest
    assert m["training"]["cell_steps"] == 3 and m["training"]["steps"] == 3
    assert m["training"]["tracking"]["lateral_m"] == [-0.05, 0.05]
    zones = m["metrics"]["tracking"]
    assert set(zones) == {"zone", "couch"} and set(m["metrics"]["tracking_by_model"]) == {
        "piston", "cap_sphere", "baffle_edge"}
    # the least favourable model's figure is the worst of the per-model ones
    by_model = m["metrics"]["tracking_by_model"]
    assert zones["zone"]["ideal"]["separation_zone_worst_db"] == min(
        f["zone"]["ideal"]["separation_zone_worst_db"] for f in by_model.values())
    row = next(r for r in proc.stdout.splitlines() if r.startswith("zone median"))
    printed = [float(v) for v in row.split()[2:6]]
    assert printed == pytest.approx([zones["zone"][mode]["separation_zone_median_db"] for mode in
                                     ("ideal", "tracking_error", "nominal_cell", "fixed")],
                                    abs=0.006)
    assert f"wrote {out}: 2 cells" in proc.stdout


@pytest.mark.parametrize("extra, message", [
    (["--resume"], "--resume does not work with --tracked"),
    (["--config", "BAD"], "tracking.lateral_m: expected a non-empty, strictly increasing"),
])
def test_train_tracked_bad_input_exits_2_and_writes_nothing(tmp_path, extra, message):
    bad = tmp_path / "bad.toml"
    bad.write_text("[tracking]\nlateral_m = [0.1, -0.1]\n")
    out = tmp_path / "out" / "tb.npz"
    out.parent.mkdir()
    proc = train_cli("--out", str(out), *[str(bad) if a == "BAD" else a for a in extra])
    assert proc.returncode == 2
    text = " ".join(proc.stderr.split())
    assert text.startswith("train.py: error:") and message in text and "Traceback" not in text
    assert list(out.parent.iterdir()) == []


# --- the robustness report of a tracked bank -------------------------------------------

def test_tracked_map_takes_each_heads_nearest_cell(studio):
    bank = synthetic_tracked_bank(grid_cells(lateral_m=(-0.05, 0.05), distance_m=(2.0,)),
                                  n_taps=32, rate=32000)
    heads = place_listeners(studio.listener, np.array([-0.08, -0.01, 0.02, 0.07]), 1.0, 0.0,
                            0.0)
    tracked = tracked_separation(studio, bank.cells, bank.ctc_taps, 32000, heads, MAP_FREQS_HZ)
    plain = [head_figures(studio, bank.taps[c], bank.ctc_taps[c], 32000, heads).separation_db
             for c in range(2)]
    assert tracked == pytest.approx(np.concatenate([plain[0][:2], plain[1][2:]]), abs=1e-9)


def test_robustness_studies_a_tracked_banks_nominal_cell_and_maps_the_tracked_one(
        studio, tmp_path):
    robustness_cli = load_script("robustness")
    path = write_trackedbank(tmp_path / "tb.npz", synthetic_tracked_bank(
        grid_cells(lateral_m=(-0.05, 0.0, 0.05), distance_m=(2.0,)), n_taps=32, rate=32000))
    bank, tracked = robustness_cli.load_bank(str(path))
    assert np.array_equal(bank.ctc_taps, tracked.ctc_taps[1])  # the nominal cell
    assert bank.manifest["format"] == "soundstage.filterbank"
    grid = map_grid(studio, get_zone("zone"), 3, 2)
    figures = robustness_cli.tracked_figures(studio, grid, tracked, "sphere", 10.0)
    sep = np.array(figures["separation_map"])
    assert sep.shape == (3, 2, 3) and figures["nominal_cell"] == 1
    assert figures["separation_map_worst_db"] == sep.min()
    # the centre column (lateral 0) is the nominal cell's map, as the plain study has it
    plain = head_figures(studio, bank.taps, bank.ctc_taps, 32000, grid.listeners(studio))
    assert sep[1] == pytest.approx(plain.separation_db.reshape(grid.shape)[1], abs=1e-9)
    html = build_html({"tracked": figures}, [])
    assert "Head tracking" in html and "separation_map_worst_db" in html
