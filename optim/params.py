"""Parametrisation of the filter bank and its map to frequency responses (JAX).

The free parameters are raw FIRs of ``taps - band_taps + 1`` samples for the three
input channels (L, R, C) and the two binaural inputs. Each driver's path is the raw FIR
convolved with that driver's fixed linear-phase band-split FIR, so a driver can never be
fed outside its band and every path is exactly ``taps`` long: the map is linear and exact.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from optim.problem import Problem

Params = dict  # {"taps": (3, D, L), "ctc": (2, D, L)} float32


def raw_length(problem: Problem) -> int:
    """Length L of the raw parameter FIRs."""
    taps = problem.compact_weight.shape[0]
    return taps - problem.band_firs.shape[1] + 1


def params_from_taps(problem: Problem, taps: np.ndarray, ctc_taps: np.ndarray) -> Params:
    """Raw parameters whose band-filtered paths approximate given taps (for initialising
    from a design that is already band-limited): the taps advanced by the band FIR delay."""
    delay = (problem.band_firs.shape[1] - 1) // 2
    length = raw_length(problem)
    return {"taps": jnp.asarray(taps[..., delay:delay + length], jnp.float32),
            "ctc": jnp.asarray(ctc_taps[..., delay:delay + length], jnp.float32)}


def symmetrize(params: Params, mirror: np.ndarray) -> Params:
    """The mirror-symmetric parameters nearest ``params`` (an orthogonal projection): L
    becomes the mean of L and R mirrored (``mirror`` (D,): models.symmetry's image of each
    driver), R the mirror of that, C and the binaural pair likewise. Symmetric parameters
    are left as they are."""
    taps, ctc = params["taps"], params["ctc"]
    left = 0.5 * (taps[0] + taps[1][mirror])
    centre = 0.5 * (taps[2] + taps[2][mirror])
    left_ear = 0.5 * (ctc[0] + ctc[1][mirror])
    return {"taps": jnp.stack([left, left[mirror], centre]),
            "ctc": jnp.stack([left_ear, left_ear[mirror]])}


def frequency_responses(params: Params, band_response: jnp.ndarray,
                        mirror: np.ndarray | None = None) -> tuple[jnp.ndarray, jnp.ndarray]:
    """(3, D, F) and (2, D, F) complex responses on the ``2 * taps`` rfft grid, of the
    symmetrised parameters when a ``mirror`` permutation is given."""
    if mirror is not None:
        params = symmetrize(params, mirror)
    n_fft = 2 * (band_response.shape[-1] - 1)
    taps = jnp.fft.rfft(params["taps"], n_fft, axis=-1) * band_response
    ctc = jnp.fft.rfft(params["ctc"], n_fft, axis=-1) * band_response
    return taps, ctc


def export_taps(params: Params, problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """float32 FIR taps (3, D, N) and (2, D, N): raw FIRs convolved with the band FIRs
    (symmetrised when the problem has a mirror permutation)."""
    n = problem.compact_weight.shape[0]
    band = jnp.asarray(problem.band_response)
    taps, ctc = frequency_responses(params, band, problem.mirror)
    return (np.asarray(jnp.fft.irfft(taps, 2 * n, axis=-1)[..., :n], np.float32),
            np.asarray(jnp.fft.irfft(ctc, 2 * n, axis=-1)[..., :n], np.float32))
