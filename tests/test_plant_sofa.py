"""Measured-plant SOFA files: model -> file -> transfer must give the model back, the files
must be valid AES69 (sofar's verify), and every damaged file must raise InputError naming
the file and the problem.

Tolerances. The writer band-limits the model's response above 0.85 of the Nyquist
frequency, which makes every IR compact: outside the first 1 ms before to 6 ms after the
arrival the model responses hold less than -90 dB of their energy (checked when this was
written). Below the band edge the file therefore reproduces the model to about -90 dB; the
tests allow -60 dB of the largest response, 30 dB of margin that a lost delay (a
one-sample error is -16 dB at 5 kHz), a wrong ear order or a wrong rate scaling would
exceed by far.
"""

from __future__ import annotations

import netCDF4
import numpy as np
import pytest
import sofar

from common.errors import InputError
from models import ear_transfer, farfield_transfer, load_array
from models.drivers import resolve_driver_model
from models.measured_plants import ears_transfer, farfield_response
from models.plant_sofa import read_ears_sofa, read_farfield_sofa
from models.plant_sofa_write import save_ears, write_ears_sofa, write_farfield_sofa

FS = 48000
TOL = 1e-3  # -60 dB of the largest response, see the module docstring
HEADS = np.array([[2.0, 0.0, 0.25], [1.6, 0.3, 0.1], [2.4, -0.25, 0.3], [1.0, 0.5, 0.0]])
FACING = np.array([[-1.0, 0.0, 0.0], [-1.0, -0.3, 0.0], [-1.0, 0.2, 0.0], [-1.0, 0.0, 0.2]])
AZIMUTHS = np.arange(0.0, 360.0, 30.0)


@pytest.fixture(scope="module")
def studio():
    return load_array("studio")


@pytest.fixture(scope="module")
def ears_file(tmp_path_factory, studio):
    path = tmp_path_factory.mktemp("plant") / "ears.sofa"
    write_ears_sofa(path, studio, FS, HEADS, FACING, comment="model written for tests")
    return path


@pytest.fixture(scope="module")
def farfield_file(tmp_path_factory, studio):
    path = tmp_path_factory.mktemp("plant") / "farfield.sofa"
    write_farfield_sofa(path, studio, FS, AZIMUTHS, 3.0)
    return path


def _relative_error(got: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(got - ref)) / np.max(np.abs(ref)))


def test_ears_round_trip_equals_model(ears_file, studio):
    plant = read_ears_sofa(ears_file, studio)
    freqs = np.linspace(0.0, 0.85 * FS / 2, 301)  # off the file's DFT grid on purpose
    got = ears_transfer(plant, freqs, FS)
    ref = ear_transfer(studio, freqs, HEADS, FACING)
    assert got.shape == ref.shape == (len(HEADS), freqs.size, 2, 5)
    assert _relative_error(got, ref) < TOL
    assert plant.comment == "model written for tests"
    np.testing.assert_allclose(plant.listener_positions_m, HEADS)
    np.testing.assert_allclose(plant.emitter_positions_m, studio.positions_m)


def test_ears_file_keeps_the_propagation_delay(ears_file, studio):
    """The direct-sound peak of the front tweeter at the facing head's ears sits at the
    path length over c (head centre straight ahead, ears 8.75 cm to the sides)."""
    plant = read_ears_sofa(ears_file, studio)
    tweeter = [d.name for d in studio.drivers].index("tweeter")
    ears = HEADS[0] + np.array([[0.0, 0.0875, 0.0], [0.0, -0.0875, 0.0]])  # facing -x
    path_s = np.linalg.norm(ears - studio.positions_m[tweeter], axis=1) / 343.0
    peak = np.argmax(np.abs(plant.ir[0, :, :, tweeter]), axis=-1)
    np.testing.assert_allclose(peak, path_s * FS, atol=3)  # the head adds < 0.1 ms here


def test_files_pass_sofar_verify(ears_file, farfield_file):
    for path in (ears_file, farfield_file):
        sofa = sofar.read_sofa(str(path), verify=False, verbose=False)
        sofa.verify(issue_handling="raise")
        assert sofa.GLOBAL_SOFAConventions == "GeneralFIR-E"
        np.testing.assert_array_equal(sofa.Data_Delay, 0.0)
        np.testing.assert_array_equal(sofa.SourcePosition.reshape(-1), [0.0, 0.0, 0.0])


def test_farfield_round_trip_equals_pressure_at_radius(farfield_file, studio):
    plant = read_farfield_sofa(farfield_file, studio)
    freqs = np.linspace(0.0, 0.85 * FS / 2, 201)
    az = np.deg2rad(AZIMUTHS)
    points = 3.0 * np.stack([np.cos(az), np.sin(az), np.zeros_like(az)], axis=-1)
    pressure = resolve_driver_model(None, studio).pressure(studio, freqs, points)
    ref = pressure * 3.0 * np.exp(2j * np.pi * freqs * 3.0 / 343.0)[:, None, None]
    assert _relative_error(farfield_response(plant, freqs, FS, 343.0), ref) < TOL
    np.testing.assert_allclose(plant.azimuth_deg, AZIMUTHS)
    np.testing.assert_allclose(plant.radius_m, 3.0)


def test_distant_farfield_file_approaches_farfield_transfer(tmp_path, studio):
    """At 60 m the near-field phase error k |p|^2 / 2r is below 0.01 rad up to 4 kHz."""
    path = tmp_path / "far.sofa"
    write_farfield_sofa(path, studio, FS, [0.0, 90.0, 180.0, 270.0], 60.0)
    freqs = np.linspace(50.0, 4000.0, 40)
    got = farfield_response(read_farfield_sofa(path, studio), freqs, FS, 343.0)
    ref = farfield_transfer(studio, freqs, [0.0, 90.0, 180.0, 270.0])
    assert _relative_error(got, ref) < 0.02


def test_resampled_44k1_file_agrees_with_48k_model(tmp_path, studio):
    path = tmp_path / "ears44.sofa"
    write_ears_sofa(path, studio, 44100, HEADS, FACING)
    plant = read_ears_sofa(path, studio)
    assert plant.sample_rate_hz == 44100
    freqs = np.linspace(0.0, 0.8 * 44100 / 2, 201)
    got = ears_transfer(plant, freqs, FS)
    assert _relative_error(got, ear_transfer(studio, freqs, HEADS, FACING)) < TOL
    # Above the file's Nyquist frequency a 44.1 kHz measurement knows nothing: zero.
    assert np.max(np.abs(ears_transfer(plant, [23000.0], FS))) < 1e-3 * np.max(np.abs(got))


# ---------------------------------------------------------------- damaged files


def _damage(path, change) -> None:
    with netCDF4.Dataset(path, "r+") as data:
        change(data)


def _nan_ir(data):
    data["Data.IR"][1, 0, 7, 2] = np.nan


def _swap_emitters(data):
    emitters = data["EmitterPosition"][:]
    data["EmitterPosition"][:] = emitters[[0, 2, 1, 3, 4]]


def _move_emitter(data):
    emitters = data["EmitterPosition"][:]
    emitters[3, 0] += 0.02
    data["EmitterPosition"][:] = emitters


def _swap_ears(data):
    data["ReceiverPosition"][:] = data["ReceiverPosition"][:][::-1]


def _convention(data):
    data.SOFAConventions = "SimpleFreeFieldHRIR"


def _delay(data):
    data["Data.Delay"][:] = 3.0


@pytest.mark.parametrize("change, expected", [
    (_nan_ir, "Data.IR holds non-finite values (NaN, inf or missing), first at pose 1, "
              "receiver 0, sample 7, emitter 2"),
    (_swap_emitters, "emitter 1 should be driver 1 'mid_right'"),
    (_swap_emitters, "it lies at driver 2 'mid_up' instead (the emitters are in another order"),
    (_move_emitter, "emitter 3 should be driver 3 'tweeter' of array 'studio' at [0.0875, 0.0, "
                    "0.04] (within 1 cm), but it lies 2.0 cm away"),
    (_swap_ears, "ReceiverPosition: expected the left ear first"),
    (_convention, "SOFA convention 'SimpleFreeFieldHRIR' is not supported for a measured "
                  "plant; expected 'GeneralFIR-E'"),
    (_delay, "Data.Delay: expected zeros"),
])
def test_damaged_ears_file_names_file_and_problem(tmp_path, ears_file, studio, change, expected):
    path = tmp_path / "bad.sofa"
    path.write_bytes(ears_file.read_bytes())
    _damage(path, change)
    with pytest.raises(InputError) as err:
        read_ears_sofa(path, studio)
    assert str(err.value).startswith(f"{path}: ")
    assert expected in str(err.value)


def test_too_few_poses(tmp_path, studio):
    path = tmp_path / "two.sofa"
    write_ears_sofa(path, studio, FS, HEADS[:2])
    with pytest.raises(InputError, match=r"two.sofa: too few listener poses: 2; expected at "
                                         r"least 3"):
        read_ears_sofa(path, studio)
    assert read_ears_sofa(path, studio, min_poses=1).ir.shape[0] == 2


def test_wrong_receiver_count_and_driver_count(tmp_path, studio, ears_file):
    plant = read_ears_sofa(ears_file)
    sofa = sofar.read_sofa(str(ears_file), verify=False, verbose=False)
    sofa.Data_IR = np.concatenate([plant.ir, plant.ir[:, :1]], axis=1)  # three receivers
    sofa.Data_Delay = np.zeros((1, 3, 5))
    sofa.ReceiverPosition = np.vstack([plant.receiver_positions_m, [[0.0, 0.0, 0.1]]])
    path = tmp_path / "three.sofa"
    sofar.write_sofa(str(path), sofa)
    with pytest.raises(InputError, match=r"three.sofa: Data.IR: expected two receivers"):
        read_ears_sofa(path, studio)
    with pytest.raises(InputError, match=r"5 emitters, but array 'stereo_pair' has 2 drivers"):
        read_ears_sofa(ears_file, load_array("stereo_pair"))


def test_unreadable_and_missing_files(tmp_path):
    garbage = tmp_path / "garbage.sofa"
    garbage.write_bytes(b"not a netCDF file at all")
    with pytest.raises(InputError, match=r"garbage.sofa: not a readable SOFA"):
        read_ears_sofa(garbage)
    with pytest.raises(InputError, match=r"nothere.sofa: SOFA file not found"):
        read_farfield_sofa(tmp_path / "nothere.sofa")


def test_farfield_reader_refuses_an_ears_file(ears_file):
    with pytest.raises(InputError, match=r"expected one listener pose \(the device centre\)"):
        read_farfield_sofa(ears_file)


def test_invalid_plant_writes_nothing(tmp_path, ears_file):
    plant = read_ears_sofa(ears_file)
    target = tmp_path / "out.sofa"
    with pytest.raises(InputError, match="non-finite"):
        save_ears(target, type(plant)(**{**vars(plant), "ir": plant.ir * np.inf}))
    with pytest.raises(InputError, match="output directory"):
        save_ears(tmp_path / "missing" / "out.sofa", plant)
    assert list(tmp_path.iterdir()) == []


def test_too_short_ir_length_is_refused(tmp_path, studio):
    with pytest.raises(InputError, match=r"n_samples: expected a whole number of at least the "
                                         r"latest arrival \(\d+ samples\) plus 3 ms, got 200"):
        write_ears_sofa(tmp_path / "short.sofa", studio, FS, HEADS, n_samples=200)
    assert not (tmp_path / "short.sofa").exists()
