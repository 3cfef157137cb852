"""The streaming resampler against scipy.signal.resample_poly on the whole signal."""

from __future__ import annotations

from math import gcd

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.signal import resample_poly

from common.errors import InputError
from renderer.resample import Resampler


@settings(max_examples=25, deadline=None)
@given(rates=st.sampled_from([(44100, 48000), (48000, 44100), (32000, 48000), (48000, 16000),
                              (8000, 8001)]),
       n=st.integers(1, 12000), seed=st.integers(0, 2**32 - 1))
def test_blocks_of_any_length_equal_resample_poly(rates, n, seed):
    rate_in, rate_out = rates
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, n))
    res = Resampler(rate_in, rate_out, 2)
    out, i = [], 0
    while i < n:
        size = int(rng.integers(1, 3000))
        out.append(res.process(x[:, i:i + size]))
        i += size
    out.append(res.flush())
    g = gcd(rate_in, rate_out)
    ref = resample_poly(x, rate_out // g, rate_in // g, axis=-1)
    got = np.concatenate(out, axis=1)
    assert got.shape == ref.shape
    assert np.max(np.abs(got - ref)) < 1e-12


def test_bad_rates_and_blocks_are_input_errors():
    with pytest.raises(InputError, match="rate_in"):
        Resampler(0, 48000, 2)
    with pytest.raises(InputError, match=r"\(2, n\)"):
        Resampler(44100, 48000, 2).process(np.zeros((3, 10)))
