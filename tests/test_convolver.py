"""The streaming and offline convolvers against SciPy's oaconvolve."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.signal import oaconvolve

from common.errors import InputError
from renderer.convolver import Convolver, convolve_offline


def reference(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """sum_i taps[i, o] * x[i], one SciPy convolution per path, float64."""
    return oaconvolve(x[:, None, :].astype(float), taps.astype(float), axes=-1).sum(axis=0)


def stream(conv: Convolver, x: np.ndarray, n_taps: int) -> np.ndarray:
    """Block-by-block output of the whole signal and its flushed tail, n + N - 1 long."""
    b = conv.block_size
    total = x.shape[1] + n_taps - 1
    padded = np.zeros((x.shape[0], -(-total // b) * b))
    padded[:, :x.shape[1]] = x
    out = [conv.process(padded[:, i:i + b]) for i in range(0, padded.shape[1], b)]
    return np.concatenate(out, axis=1)[:, :total]


def signals(rng, inputs, outputs, n, n_taps):
    x = rng.uniform(-1.0, 1.0, (inputs, n))
    taps = rng.standard_normal((inputs, outputs, n_taps)) / np.sqrt(inputs * n_taps)
    return x, taps.astype(np.float32)


@settings(max_examples=40, deadline=None)
@given(block=st.one_of(st.integers(32, 600), st.sampled_from([4096, 8192])),
       n=st.integers(1, 5000), n_taps=st.integers(1, 2500),
       inputs=st.integers(1, 3), outputs=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_streaming_equals_scipy_for_any_block_size(block, n, n_taps, inputs, outputs, seed):
    x, taps = signals(np.random.default_rng(seed), inputs, outputs, n, n_taps)
    ref = reference(x, taps)
    got = stream(Convolver(taps, block), x, n_taps)
    assert got.shape == ref.shape
    assert np.max(np.abs(got - ref)) < 1e-5  # first, middle, last blocks and the tail


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 20000), n_taps=st.integers(1, 3000), seed=st.integers(0, 2**32 - 1),
       single=st.booleans())
def test_offline_equals_scipy_including_the_tail(n, n_taps, seed, single):
    x, taps = signals(np.random.default_rng(seed), 3, 5, n, n_taps)
    if single:
        x = x.astype(np.float32)
    else:
        taps = taps.astype(float)
    got = convolve_offline(x, taps)
    assert got.shape == (5, n + n_taps - 1)
    assert got.dtype == (np.float32 if single else np.float64)
    assert np.max(np.abs(got - reference(x, taps))) < (1e-5 if single else 1e-12)


def test_float64_streaming_is_exact_to_rounding():
    x, taps = signals(np.random.default_rng(1), 3, 5, 3000, 1024)
    got = stream(Convolver(taps, 100, dtype=np.float64), x, 1024)
    assert np.max(np.abs(got - reference(x, taps))) < 1e-12


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_blocks_into_out_allocate_no_array_memory_and_equal_scipy(dtype):
    """The real-time path: ``out=`` receives the block and nothing else is allocated. What
    tracemalloc sees is Python objects (views), a few KB; one output block is 40-80 KB."""
    x, taps = signals(np.random.default_rng(7), 3, 5, 40 * 2048, 3000)
    conv = Convolver(taps, 2048, dtype=dtype)
    out = np.empty((5, 40 * 2048), dtype)
    block = np.empty((5, 2048), dtype)
    for i in range(5):
        out[:, i * 2048:(i + 1) * 2048] = conv.process(x[:, i * 2048:(i + 1) * 2048], out=block)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for i in range(5, 40):
            out[:, i * 2048:(i + 1) * 2048] = conv.process(x[:, i * 2048:(i + 1) * 2048],
                                                           out=block)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert np.max(np.abs(out - reference(x, taps)[:, :out.shape[1]])) < tol


def test_reset_forgets_the_past():
    rng = np.random.default_rng(2)
    x, taps = signals(rng, 3, 5, 2048, 700)
    conv = Convolver(taps, 256)
    for _ in range(5):
        conv.process(rng.uniform(-1, 1, (3, 256)))
    conv.reset()
    assert np.max(np.abs(stream(conv, x, 700) - reference(x, taps))) < 1e-5


def test_a_delay_matrix_routes_and_delays_each_path():
    """Pure delays: output o = x[i] delayed by the path's delay, exactly where it belongs."""
    taps = np.zeros((2, 2, 300))
    taps[0, 1, 7] = 1.0  # input 0 -> output 1, 7 samples
    taps[1, 0, 299] = -0.5  # input 1 -> output 0, 299 samples, inverted
    x = np.random.default_rng(3).uniform(-1, 1, (2, 1000))
    y = stream(Convolver(taps, 64, dtype=np.float64), x, 300)
    assert np.allclose(y[1, 7:1007], x[0], atol=1e-12) and np.allclose(y[1, :7], 0, atol=1e-12)
    assert np.allclose(y[0, 299:], -0.5 * x[1], atol=1e-12)


@pytest.mark.parametrize("block", [31, 8193, 0, 256.0, True, "256"])
def test_bad_block_sizes_are_input_errors(block):
    with pytest.raises(InputError, match="block size"):
        Convolver(np.zeros((3, 5, 16), np.float32), block)


def test_bad_taps_and_blocks_are_input_errors():
    with pytest.raises(InputError, match="NaN"):
        Convolver(np.full((3, 5, 16), np.nan), 64)
    with pytest.raises(InputError, match=r"\(inputs, outputs, N\)"):
        Convolver(np.zeros((3, 16)), 64)
    conv = Convolver(np.zeros((3, 5, 16)), 64, dtype=np.float64)
    with pytest.raises(InputError, match=r"expected shape \(3, 64\)"):
        conv.process(np.zeros((3, 63)))
    with pytest.raises(InputError, match=r"\(3, n\)"):
        convolve_offline(np.zeros((2, 100)), np.zeros((3, 5, 16)))
    with pytest.raises(InputError, match=r"out: expected a float64 array of shape \(5, 64\)"):
        conv.process(np.zeros((3, 64)), out=np.zeros((5, 64), np.float32))
