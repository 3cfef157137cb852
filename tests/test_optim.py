"""The training stack on tiny problems: config errors, band FIRs, the parametrisation,
the least-squares baseline against numpy.linalg.lstsq, convergence to the analytic 2x2
inverse, export, exact resume, determinism and divergence handling."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.signal import freqz

from common.errors import InputError
from evaluation.metrics import separation_spectrum_db
from models import load_array
from optim.baseline import band_penalty, least_squares_filters, responses_to_taps
from optim.checkpoint import load_checkpoint
from optim.config import load_config
from optim.export import make_filterbank
from optim.loop import TrainingDiverged, fingerprint, initial_params, train
from optim.losses import LOSS_TERMS
from optim.objective import make_loss, make_optimizer
from optim.params import export_taps, frequency_responses, raw_length
from optim.problem import build_problem, design_band_firs
from optim_fixtures import only, small_config
from renderer.filterbank import read_filterbank, write_filterbank

# --- configuration -------------------------------------------------------------------------


def test_defaults_then_file_then_overrides(write_toml):
    path = write_toml("[design]\ntaps = 2048\nbatch = 8\n[weights]\neffort = 2.5\n", "run.toml")
    config = load_config(path, {"design": {"taps": 1536}}, array="soundbar", seed=4)
    assert config.design.taps == 1536  # the command line wins over the file
    assert config.design.batch == 8 and config.weights["effort"] == 2.5
    assert config.array == "soundbar" and config.seed == 4
    defaults = load_config()
    assert config.design.sample_rate == defaults.design.sample_rate
    assert set(defaults.weights) == set(LOSS_TERMS)


@pytest.mark.parametrize("text, field", [
    ("[weights]\nloudness = 1.0\n", "weights.loudness"),
    ("[design]\ntapz = 5\n", "design.tapz"),
    ("[sampling]\nrate = 5\n", "sampling"),
    ("design = 3\n", "design"),
    ('[design]\ntaps = "many"\n', "design.taps"),
    ("[design]\ntaps = 128.5\n", "design.taps"),
    ("[design]\ntaps = true\n", "design.taps"),
    ('[optimizer]\nlearning_rate = "fast"\n', "optimizer.learning_rate"),
    ("[optimizer]\nlearning_rate = -1e-3\n", "optimizer.learning_rate"),
    ('[optimizer]\ninit = "random"\n', "optimizer.init"),
    ('[weights]\neffort = "big"\n', "weights.effort"),
    ("[weights]\neffort = -1.0\n", "weights.effort"),
    ("[design]\nband_taps = 256\n", "design.band_taps"),
    ("[design]\nlatency_samples = 4096\n", "design.latency_samples"),
    ("[design]\npool = 4\nbatch = 8\n", "design.batch"),
    ("[design]\nwidth_deg = 95.0\n", "design.width_deg"),
    ('[targets.cancellation]\ngain_db = "deep"\n', "targets.cancellation.gain_db"),
    ('[targets.cancellation]\ngain_db = [0.0, "x", 1, 2, 3, 4]\n', "gain_db[1]"),
    ('[targets.beam]\nband_hz = [300.0]\n', "targets.beam.band_hz"),
])
def test_config_errors_name_the_file_and_field(write_toml, text, field):
    path = write_toml(text, "bad.toml")
    with pytest.raises(InputError) as info:
        load_config(path)
    message = str(info.value)
    assert field in message
    assert "bad.toml" in message


def test_unknown_override_names_the_command_line():
    with pytest.raises(InputError, match="command line.*design.tapz"):
        load_config(None, {"design": {"tapz": 3}})


# --- band-split FIRs -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["studio", "soundbar"])
@pytest.mark.parametrize("band_taps", [255, 2047])
def test_band_firs_pass_in_band_and_stop_out_of_band(name, band_taps):
    """Linear phase; within 0.1 dB of unity in the band and at least 50 dB down beyond
    the stop edges (an octave, at least 150 Hz, outside), both by the Hann main-lobe
    half-width 2 fs / N, which a window design cannot beat."""
    fs = 48000
    array = load_array(name)
    firs = design_band_firs(array, fs, band_taps)
    assert firs.shape == (len(array.drivers), band_taps)
    assert np.allclose(firs, firs[:, ::-1])
    margin = 2.0 * fs / band_taps
    f = np.linspace(1.0, fs / 2, 6000)
    for (lo, hi), fir in zip(array.bands_hz, firs):
        level = 20 * np.log10(np.abs(freqz(fir, worN=f, fs=fs)[1]) + 1e-12)
        high_pass, low_pass = lo >= 100.0, hi + max(hi, 150.0) < fs / 2
        passband = (f >= (lo + margin if high_pass else 0.0)) & \
            (f <= (hi - margin if low_pass else fs / 2))
        assert np.all(np.abs(level[passband]) < 0.1), (lo, hi)
        stop = np.zeros_like(f, bool)
        if high_pass:
            stop |= f <= lo - max(lo / 2, 150.0) - margin
        if low_pass:
            stop |= f >= hi + max(hi, 150.0) + margin
        assert np.all(level[stop] < -50.0), (lo, hi, level[stop].max())


# --- problem, parametrisation and baseline -------------------------------------------------


@pytest.fixture(scope="module")
def studio_problem():
    config = small_config("studio", design={"pool": 3},
                          plant={"units": 4, "driver_models": ["piston"]})
    return config, build_problem(load_array("studio"), config)


def test_problem_lives_on_the_2n_rfft_grid(studio_problem):
    config, problem = studio_problem
    d = config.design
    assert np.allclose(problem.freqs_hz, np.fft.rfftfreq(2 * d.taps, 1 / d.sample_rate))
    assert problem.ear_pool.shape == (4, 3, d.taps + 1, 2, 5)  # plants, listeners, ...
    assert problem.plant_labels == tuple(f"piston/unit{u}" for u in range(4))
    assert np.allclose(problem.bulk, np.exp(-2j * np.pi * problem.freqs_hz * d.latency_samples
                                            / d.sample_rate))
    live = problem.freq_weight > 0
    assert problem.freq_weight.sum() == pytest.approx(1.0)
    f_live = problem.freqs_hz[live]
    assert np.all((f_live >= d.min_freq_hz) & (f_live <= d.max_freq_hz))


@pytest.mark.parametrize("symmetric", [False, True])
def test_paths_are_raw_firs_convolved_with_the_band_firs(studio_problem, symmetric):
    """Each path is its raw FIR convolved with the driver's band FIR; a symmetric problem
    (the studio array mirrors mid_left and mid_right) first makes R the mirror of L and C
    its own mirror, each the mean of a path and its mirror image."""
    _, problem = studio_problem
    problem = dataclasses.replace(problem, mirror=np.array([1, 0, 2, 3, 4]) if symmetric
                                  else None)
    rng = np.random.default_rng(0)
    length, n = raw_length(problem), problem.compact_weight.size
    raw = {"taps": rng.standard_normal((3, 5, length)), "ctc": rng.standard_normal((2, 5, length))}
    params = {k: jnp.asarray(v, jnp.float32) for k, v in raw.items()}
    taps, ctc = export_taps(params, problem)
    assert taps.shape == (3, 5, n) and ctc.shape == (2, 5, n) and taps.dtype == np.float32
    if symmetric:
        mirror = problem.mirror
        left = (raw["taps"][0] + raw["taps"][1][mirror]) / 2
        left_ear = (raw["ctc"][0] + raw["ctc"][1][mirror]) / 2
        raw = {"taps": np.stack([left, left[mirror],
                                 (raw["taps"][2] + raw["taps"][2][mirror]) / 2]),
               "ctc": np.stack([left_ear, left_ear[mirror]])}
    for exported, r in ((taps, raw["taps"]), (ctc, raw["ctc"])):
        for c in range(r.shape[0]):
            for d in range(5):
                direct = np.convolve(r[c, d], problem.band_firs[d])  # exactly n long
                assert np.allclose(exported[c, d], direct, atol=1e-4)
    # The responses the losses see are those of the exported taps on the 2N grid.
    resp, ctc_resp = frequency_responses(params, jnp.asarray(problem.band_response),
                                         problem.mirror)
    assert np.allclose(np.asarray(resp), np.fft.rfft(taps, 2 * n), atol=1e-3)
    assert np.allclose(np.asarray(ctc_resp), np.fft.rfft(ctc, 2 * n), atol=1e-3)


def test_responses_to_taps_turns_a_delay_into_an_impulse():
    n = 128
    f = np.arange(n + 1)
    taps = responses_to_taps(np.exp(-2j * np.pi * f * 40 / (2 * n)), n)  # 40-sample delay
    expected = np.zeros(n)
    expected[40] = 1.0
    assert np.allclose(taps, expected, atol=1e-12)


def _lstsq(rows: list[np.ndarray], rhs: list[np.ndarray]) -> np.ndarray:
    return np.linalg.lstsq(np.concatenate(rows), np.concatenate(rhs), rcond=None)[0]


def test_least_squares_baseline_equals_direct_lstsq(studio_problem):
    """Stack [H_1; ...; H_P; sqrt(beta g) I] per frequency and solve with lstsq."""
    config, problem = studio_problem
    reg = 0.05
    filters, ctc = least_squares_filters(problem, reg)
    n_freqs = problem.freqs_hz.size
    assert filters.shape == (3, 5, n_freqs) and ctc.shape == (2, 5, n_freqs)
    penalty = band_penalty(problem)  # (F, D)
    live = np.flatnonzero(problem.freq_weight > 0)
    assert np.all(filters[..., problem.freq_weight == 0] == 0)
    ears = problem.ear_pool.reshape((-1,) + problem.ear_pool.shape[2:]).astype(complex)
    for k in live[::7]:
        h = list(ears[:, k])  # K P of (2, D): every listener of every plant
        beta = reg * np.mean(sum(np.sum(np.abs(x) ** 2, axis=0) for x in h))  # trace / D
        damping = np.diag(np.sqrt(beta * penalty[k]))
        zeros = np.zeros((5, 2))
        w_ctc = _lstsq(h + [damping], [problem.bulk[k] * np.eye(2)] * len(h) + [zeros])
        w_lr = _lstsq(h + [damping], [problem.bulk[k] * problem.virtual[k]] * len(h) + [zeros])
        assert np.allclose(ctc[:, :, k].T, w_ctc, rtol=1e-6, atol=1e-9)
        assert np.allclose(filters[:2, :, k].T, w_lr, rtol=1e-6, atol=1e-9)
        # Centre: the far-field pattern and the nominal ears of every plant, each block
        # mean-weighted over azimuths, ears and plants.
        n_plants, a = problem.farfield.shape[0], problem.farfield.shape[2]
        fars = [problem.farfield[q, k] / np.sqrt(a * n_plants) for q in range(n_plants)]
        noms = [problem.ear_nominal[q, k] / np.sqrt(2 * n_plants) for q in range(n_plants)]
        scale = sum(np.trace(x.conj().T @ x).real for x in fars + noms) / 5
        w_c = _lstsq(fars + noms + [np.diag(np.sqrt(reg * scale * penalty[k]))],
                     [problem.pattern * problem.bulk[k] / np.sqrt(a * n_plants)] * n_plants +
                     [problem.centre[k] * problem.bulk[k] / np.sqrt(2 * n_plants)] * n_plants +
                     [np.zeros(5)])
        assert np.allclose(filters[2, :, k], w_c, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("budget_db", [3.0, 9.0])
def test_least_squares_at_a_headroom_spends_exactly_that_budget(studio_problem, budget_db):
    """Each path gets the least regularisation whose taps need at most the budget: within
    0.05 dB below it, and a little less regularisation would need more."""
    from optim.baseline import least_squares_at_headroom, least_squares_design, normal_equations
    from renderer.export import headroom_db

    config, problem = studio_problem
    eq = normal_equations(problem)
    design = least_squares_at_headroom(eq, config.design.taps, budget_db)
    for taps in (design.taps, design.ctc_taps):
        assert budget_db - 0.05 <= headroom_db(taps) <= budget_db
    looser = least_squares_design(eq, config.design.taps, 0.7 * design.regularization,
                                  0.7 * design.ctc_regularization)
    assert headroom_db(looser.taps) > budget_db and headroom_db(looser.ctc_taps) > budget_db
    np.testing.assert_allclose(  # the split solve is the plain one
        least_squares_design(eq, config.design.taps, 0.05).taps,
        responses_to_taps(least_squares_filters(problem, 0.05)[0], config.design.taps),
        atol=1e-6)


# --- training ------------------------------------------------------------------------------


def test_two_driver_free_field_ctc_converges_to_the_analytic_inverse():
    """Stereo pair, no head, only the CTC fidelity term: the learned CTC filters approach
    W = H^-1 exp(-j w T) at the nominal head wherever H is well conditioned."""
    config = small_config(design={"taps": 256, "latency_samples": 128},
                          optimizer={"steps": 300, "learning_rate": 1e-2, "warmup_steps": 10},
                          weights=only("ctc_fidelity"))
    problem = build_problem(load_array("stereo_pair"), config)
    h = problem.ear_nominal[0]  # (F, 2, 2) of the nominal unit
    start = initial_params(config, problem)
    result = train(config, problem)
    _, ctc = export_taps(result.params, problem)
    w = np.fft.rfft(ctc.astype(float), 2 * config.design.taps).transpose(2, 1, 0)  # (F, D, ear)
    analytic = np.linalg.inv(h) * problem.bulk[:, None, None]
    good = (np.linalg.cond(h) < 3.0) & (problem.freq_weight > 0)
    assert good.sum() > 80
    error = np.linalg.norm(w - analytic, axis=(1, 2)) / np.linalg.norm(analytic, axis=(1, 2))
    _, ctc_start = export_taps(start, problem)
    w_start = np.fft.rfft(ctc_start.astype(float), 2 * config.design.taps).transpose(2, 1, 0)
    assert np.median(np.linalg.norm(w_start - analytic, axis=(1, 2))[good]) > 0.5  # starts far
    assert np.median(error[good]) < 0.03 and np.max(error[good]) < 0.1
    separation = separation_spectrum_db(h @ w)  # (F, 2)
    assert np.all(separation[good] > 20.0) and np.median(separation[good]) > 30.0
    assert result.history[-1]["total"] < 0.02 * result.history[0]["total"]


def test_export_round_trips_through_the_reader(tmp_path, studio_problem):
    config, problem = studio_problem
    array = load_array("studio")
    taps, ctc = export_taps(initial_params(config, problem), problem)
    metrics = {"learned": {"separation_nominal_db": 21.5}, "least_squares": {"x": [1.0, 2.0]}}
    bank = make_filterbank(array, config, taps, ctc, metrics, {"steps": 3, "seed": 0},
                           problem.virtual_source)
    path = tmp_path / "bank.npz"
    write_filterbank(path, bank)
    back = read_filterbank(path)
    assert np.array_equal(back.taps, taps) and np.array_equal(back.ctc_taps, ctc)
    m = back.manifest
    assert m["metrics"] == metrics and m["sample_rate"] == config.design.sample_rate
    assert m["latency_samples"] == config.design.latency_samples and m["array"] == "studio"
    assert back.driver_names == [d.name for d in array.drivers]
    assert np.allclose([d["position_m"] for d in m["drivers"]],
                       [d.position_m for d in array.drivers])
    assert m["listener"] == {"distance_m": 2.0, "height_m": 0.25}
    assert m["training"]["weights"] == config.weights and m["training"]["steps"] == 3
    assert m["training"]["virtual_source"]["width_deg"] == config.design.width_deg


# Zone, nominal, beam and effort terms: enough of the objective for the loop's properties,
# small enough to compile in about a second.
SOME_TERMS = only("cancellation", "ctc_fidelity", "virtual_fidelity", "beam_null", "effort")


@pytest.fixture(scope="module")
def straight_run():
    """An uninterrupted 12-step run on the small studio problem."""
    config = small_config("studio", seed=5, optimizer={"steps": 12, "checkpoint_seconds": 1e-6},
                          weights=SOME_TERMS)
    problem = build_problem(load_array("studio"), config)
    return config, problem, train(config, problem)


class _Stop(Exception):
    pass


def test_resume_equals_an_uninterrupted_run(tmp_path, straight_run):
    config, problem, straight = straight_run
    ckpt = tmp_path / "run.ckpt.npz"

    def kill_at_7(step, terms):
        if step == 7:
            raise _Stop  # after step 7 ran, before its checkpoint: 7 steps are saved

    with pytest.raises(_Stop):
        train(config, problem, checkpoint=ckpt, on_step=kill_at_7, log_every=1)
    step, *_ = load_checkpoint(ckpt, straight.params, make_optimizer(config).init(straight.params),
                               fingerprint(config))
    assert step == 7
    resumed = train(config, problem, checkpoint=ckpt, resume=True, log_every=1)
    assert resumed.steps_run == 5
    for key in straight.params:
        assert np.array_equal(np.asarray(resumed.params[key]), np.asarray(straight.params[key]))
    straight_totals = {h["step"]: h["total"] for h in straight.history}
    resumed_totals = {h["step"]: h["total"] for h in resumed.history}
    assert [h["step"] for h in resumed.history] == list(range(12))  # nothing lost or repeated
    assert all(resumed_totals[s] == t for s, t in straight_totals.items())
    # A finished run resumes to itself without stepping.
    again = train(config, problem, checkpoint=ckpt, resume=True)
    assert again.steps_run == 0
    assert np.array_equal(np.asarray(again.params["ctc"]), np.asarray(straight.params["ctc"]))


def test_resume_refuses_a_checkpoint_of_another_configuration(tmp_path, straight_run):
    config, problem, _ = straight_run
    ckpt = tmp_path / "run.ckpt.npz"
    short = small_config("studio", seed=5, optimizer={"steps": 1}, weights=SOME_TERMS)
    train(short, problem, checkpoint=ckpt)
    with pytest.raises(InputError, match="another configuration"):
        train(config, problem, checkpoint=ckpt, resume=True)


def test_same_seed_gives_the_same_filters(straight_run):
    config, _, straight = straight_run
    again = train(config, build_problem(load_array("studio"), config))  # problem rebuilt too
    other = small_config("studio", seed=6, optimizer={"steps": 12}, weights=SOME_TERMS)
    different = train(other, build_problem(load_array("studio"), other))
    for key in straight.params:
        assert np.array_equal(np.asarray(again.params[key]), np.asarray(straight.params[key]))
    assert not np.allclose(np.asarray(different.params["ctc"]), np.asarray(straight.params["ctc"]))


def _checkpointed_params(path, config, problem):
    template = initial_params(config, problem)
    state = make_optimizer(config).init(template)
    return load_checkpoint(path, template, state, fingerprint(config))


def test_a_huge_learning_rate_stops_cleanly_keeping_the_last_good_state(tmp_path):
    config = small_config(optimizer={"learning_rate": 1e30, "warmup_steps": 1,
                                     "checkpoint_seconds": 1e-6}, weights=SOME_TERMS)
    problem = build_problem(load_array("stereo_pair"), config)
    ckpt = tmp_path / "run.ckpt.npz"
    with pytest.raises(TrainingDiverged) as info:
        train(config, problem, checkpoint=ckpt)
    message = str(info.value)
    assert "ctc_fidelity" in message and str(ckpt) in message
    step, params, _, history = _checkpointed_params(ckpt, config, problem)
    assert f"(step {step})" in message and all(h["step"] < step for h in history)
    batch = (jnp.arange(1), jnp.zeros(config.design.batch, int), jnp.arange(config.design.batch))
    total, terms = jax.jit(make_loss(config, problem))(params, batch)
    assert np.isfinite(float(total)) and all(np.isfinite(float(v)) for v in terms.values())


def test_divergence_names_the_term_that_went_non_finite(tmp_path, monkeypatch):
    real = LOSS_TERMS["compactness"]
    monkeypatch.setitem(LOSS_TERMS, "compactness", lambda s, t: real(s, t) * jnp.nan)
    config = small_config(weights=only("ctc_fidelity", "compactness"))
    problem = build_problem(load_array("stereo_pair"), config)
    ckpt = tmp_path / "run.ckpt.npz"
    with pytest.raises(TrainingDiverged, match=r"step 0: loss term\(s\) compactness became"):
        train(config, problem, checkpoint=ckpt)
    step, params, _, _ = _checkpointed_params(ckpt, config, problem)
    assert step == 0  # nothing good yet: the start is kept
    start = initial_params(config, problem)
    assert np.array_equal(np.asarray(params["ctc"]), np.asarray(start["ctc"]))
