"""Property-based tests (hypothesis): the loaders either return exactly what was written
or raise InputError, whatever the bytes; the streaming convolver equals the offline one
for any block size and length."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.signal import oaconvolve

from conftest import array_toml, driver_toml
from common.errors import InputError
from models import load_array
from renderer.convolver import MIN_BLOCK, Convolver, convolve_offline
from renderer.filterbank import FilterBank, read_filterbank, write_filterbank
from renderer.wavio import open_input, read_blocks
from renderer_fixtures import synthetic_bank

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
finite = st.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False, width=32)


# ---------------------------------------------------------------- array TOML

@st.composite
def drivers(draw):
    axis = draw(st.lists(finite, min_size=3, max_size=3).filter(
        lambda v: np.linalg.norm(v) > 1e-3))
    lo = draw(st.floats(1.0, 10000.0))
    return {"position_m": tuple(draw(st.lists(finite, min_size=3, max_size=3))), "axis": tuple(axis),
            "radius_m": draw(st.floats(1e-3, 0.5)), "band_hz": (lo, lo * draw(st.floats(1.01, 100.0)))}


@SETTINGS
@given(st.lists(drivers(), min_size=1, max_size=4))
def test_array_roundtrip(tmp_path, specs):
    """Any valid geometry loads back as written (axes normalised)."""
    path = tmp_path / "a.toml"
    path.write_text(array_toml(*(driver_toml(f"d{i}", **s) for i, s in enumerate(specs))))
    array = load_array(path)
    for driver, spec in zip(array.drivers, specs):
        np.testing.assert_allclose(driver.position_m, spec["position_m"], rtol=1e-12)
        np.testing.assert_allclose(driver.axis, np.array(spec["axis"]) / np.linalg.norm(spec["axis"]),
                                   rtol=1e-9, atol=1e-12)
        assert driver.radius_m == spec["radius_m"] and driver.band_hz == spec["band_hz"]


bad_values = st.one_of(st.sampled_from(["nan", "inf", "-inf", '"x"', "true", "[]", "{}", "0", "-1e-3",
                                        "[1.0, 2.0]"]),
                       st.floats(max_value=0.0, allow_nan=False, allow_infinity=False).map(repr))


@SETTINGS
@given(st.sampled_from(["radius_m", "band_hz", "axis", "position_m"]), bad_values)
def test_array_bad_field_is_input_error(tmp_path, field, value):
    """Any wrong value of a driver field raises InputError naming that field."""
    text = driver_toml()
    lines = [f"{field} = {value}" if line.startswith(f"{field} =") else line
             for line in text.splitlines()]
    path = tmp_path / "a.toml"
    path.write_text(array_toml("\n".join(lines) + "\n"))
    if field == "band_hz" and value == "[1.0, 2.0]":
        assert load_array(path).drivers[0].band_hz == (1.0, 2.0)  # the one valid draw
        return
    with pytest.raises(InputError, match=rf"drivers\[0\]\.{field}"):
        load_array(path)


# ---------------------------------------------------------------- filter banks

@SETTINGS
@given(n_taps=st.integers(1, 300), rate=st.integers(8000, 192000), seed=st.integers(0, 2**16))
def test_filterbank_roundtrip(tmp_path, n_taps, rate, seed):
    bank = synthetic_bank(n_taps, rate=rate, seed=seed)
    write_filterbank(tmp_path / "fb.npz", bank)
    back = read_filterbank(tmp_path / "fb.npz")
    np.testing.assert_array_equal(back.taps, bank.taps)
    np.testing.assert_array_equal(back.ctc_taps, bank.ctc_taps)
    assert back.manifest == bank.manifest and back.sample_rate == rate


@pytest.fixture(scope="module")
def bank_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("bank") / "fb.npz"
    write_filterbank(path, synthetic_bank(48))
    return path.read_bytes()


def _valid_or_input_error(read, path: Path):
    """``read(path)`` must raise InputError or return something; other exceptions fail."""
    try:
        return read(path)
    except InputError as exc:
        assert str(path) in str(exc)
        return None


def _damage(content: bytes, data) -> bytes:
    """``content`` truncated at a drawn length, or with 1-8 drawn bytes overwritten."""
    raw = bytearray(content)
    if data.draw(st.booleans(), "truncate"):
        raw = raw[:data.draw(st.integers(0, len(raw) - 1), "length")]
    else:
        for _ in range(data.draw(st.integers(1, 8), "flips")):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    return bytes(raw)


@SETTINGS
@given(data=st.data())
def test_damaged_filterbank(tmp_path, bank_bytes, data):
    """Truncated or byte-damaged banks are either rejected with InputError or, where the
    damage missed everything that matters, read as a fully valid bank."""
    path = tmp_path / "damaged.npz"
    path.write_bytes(_damage(bank_bytes, data))
    bank = _valid_or_input_error(read_filterbank, path)
    if bank is not None:
        assert isinstance(bank, FilterBank) and bank.taps.shape == (3, 5, 48)
        assert np.all(np.isfinite(bank.taps)) and np.all(np.isfinite(bank.ctc_taps))


# ---------------------------------------------------------------- WAV files

def _read_all(path: Path) -> np.ndarray:
    with open_input(path) as snd:
        blocks = list(read_blocks(snd, 100))
    return np.concatenate(blocks, axis=1)


@SETTINGS
@given(channels=st.integers(1, 6), frames=st.integers(1, 700), block=st.integers(1, 300),
       seed=st.integers(0, 2**16))
def test_wav_roundtrip_in_blocks(tmp_path, channels, frames, block, seed):
    """Blocks of any size concatenate to exactly the written float samples."""
    x = np.random.default_rng(seed).uniform(-1, 1, (frames, channels)).astype(np.float32)
    path = tmp_path / "x.wav"
    sf.write(path, x, 44100, subtype="FLOAT")
    with open_input(path) as snd:
        blocks = list(read_blocks(snd, block))
    assert all(b.shape[1] <= block for b in blocks)
    np.testing.assert_array_equal(np.concatenate(blocks, axis=1), x.T)


@SETTINGS
@given(data=st.data())
def test_damaged_wav(tmp_path, data):
    """A truncated or byte-damaged WAV is rejected with InputError or read as finite audio."""
    buf = io.BytesIO()
    sf.write(buf, np.random.default_rng(0).uniform(-1, 1, (200, 2)), 48000, subtype="FLOAT",
             format="WAV")
    path = tmp_path / "damaged.wav"
    path.write_bytes(_damage(buf.getvalue(), data))
    audio = _valid_or_input_error(_read_all, path)
    if audio is not None:
        assert audio.size > 0 and np.all(np.isfinite(audio))


# ---------------------------------------------------------------- convolver

@SETTINGS
@given(block=st.integers(MIN_BLOCK, 300), n=st.integers(1, 1500), n_taps=st.integers(1, 400),
       inputs=st.integers(1, 3), outputs=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_streaming_equals_offline(block, n, n_taps, inputs, outputs, seed):
    """Block-by-block streaming == one-shot offline == SciPy, for any sizes."""
    rng = np.random.default_rng(seed)
    taps = rng.standard_normal((inputs, outputs, n_taps))
    x = rng.standard_normal((inputs, n))
    total = n + n_taps - 1
    expected = np.stack([sum(oaconvolve(x[i], taps[i, o]) for i in range(inputs))
                         for o in range(outputs)])
    offline = convolve_offline(x, taps)
    np.testing.assert_allclose(offline, expected, atol=1e-9 * np.abs(expected).max())
    conv = Convolver(taps, block, dtype=np.float64)
    blocks = -(-total // block)
    padded = np.zeros((inputs, blocks * block))
    padded[:, :n] = x
    streamed = np.concatenate([conv.process(padded[:, k * block:(k + 1) * block])
                               for k in range(blocks)], axis=1)[:, :total]
    np.testing.assert_allclose(streamed, expected, atol=1e-9 * np.abs(expected).max())
