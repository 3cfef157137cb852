"""Mirror-symmetric banks (models.symmetry, optim.params.symmetrize): the permutation comes
from the geometry, the projection is exact, and a symmetric bank on a symmetric device
treats mirrored listeners alike."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation import metrics
from evaluation.system import ear_system, filter_responses
from models import ear_transfer, load_array, place_listeners
from models.symmetry import mirror_permutation
from optim.params import symmetrize


def test_bundled_arrays_mirror_their_side_drivers(make_array):
    assert mirror_permutation(load_array("studio")).tolist() == [1, 0, 2, 3, 4]
    assert mirror_permutation(load_array("soundbar")).tolist() == [6, 5, 4, 3, 2, 1, 0, 7]
    from conftest import driver_toml
    lopsided = make_array(driver_toml("a", (0.0, -0.1, 0.0), (0.0, -1.0, 0.0)),
                          driver_toml("b", (0.0, 0.12, 0.0), (0.0, 1.0, 0.0)))
    assert mirror_permutation(lopsided) is None


def _random_bank(rng, drivers=5, n=64):
    return {"taps": rng.standard_normal((3, drivers, n)), "ctc": rng.standard_normal((2, drivers, n))}


def test_symmetrize_is_an_orthogonal_projection():
    rng = np.random.default_rng(0)
    mirror = np.array([1, 0, 2, 3, 4])
    bank, other = _random_bank(rng), _random_bank(rng)
    sym = {k: np.asarray(v) for k, v in symmetrize(bank, mirror).items()}
    again = {k: np.asarray(v) for k, v in symmetrize(sym, mirror).items()}
    for key in sym:
        np.testing.assert_allclose(again[key], sym[key], atol=1e-6)  # idempotent
    np.testing.assert_allclose(sym["taps"][1], sym["taps"][0][mirror], atol=1e-6)
    np.testing.assert_allclose(sym["taps"][2], sym["taps"][2][mirror], atol=1e-6)
    np.testing.assert_allclose(sym["ctc"][1], sym["ctc"][0][mirror], atol=1e-6)
    # orthogonal: the residual is perpendicular to every symmetric bank
    other_sym = {k: np.asarray(v) for k, v in symmetrize(other, mirror).items()}
    inner = sum(np.sum((bank[k] - sym[k]) * other_sym[k]) for k in sym)
    assert abs(inner) < 1e-4


@pytest.mark.parametrize("model", ["piston", "cap_sphere"])
def test_a_symmetric_bank_separates_mirrored_listeners_alike(model):
    """Listener at +y with inputs swapped is the mirror image of the listener at -y."""
    array = load_array("studio")
    rng = np.random.default_rng(1)
    sym = symmetrize(_random_bank(rng, n=256), mirror_permutation(array))
    freqs = np.geomspace(500.0, 6000.0, 40)
    ctc = filter_responses(np.asarray(sym["ctc"]), 48000, freqs)
    heads = place_listeners(array.listener, np.array([-0.07, 0.07]), 1.1, 0.0,
                            np.array([5.0, -5.0]))
    sep = metrics.separation_db(ear_system(
        ear_transfer(array, freqs, heads.positions_m, heads.facing, driver_model=model), ctc),
        freqs)  # (2 listeners, 2 inputs)
    np.testing.assert_allclose(sep[0], sep[1][::-1], atol=1e-6)
