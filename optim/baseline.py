"""Closed-form baseline: per-frequency regularised least squares (Kirkeby-style),
robust over the same listener pool the optimizer trains on.

For each frequency the filters ``W`` (D, channels) minimise

    sum_p || H_p W - T_p ||^2 + beta ||diag(g) W||^2

(``H_p`` the (2, D) normalised ear transfer of listener p, ``T_p`` the target), solved as
``(sum_p H_p^H H_p + beta G) W = sum_p H_p^H T_p``; ``beta`` is ``regularization`` times
the mean diagonal of the normal matrix and ``g`` is 1 inside a driver's band and 1e3
outside. The sums run over the listeners of every plant of the ensemble (the same plants
the optimizer trains on). The centre channel instead fits the far-field pattern plus the
nominal ears, averaged over the plants.
The result is the initialisation option of training and the baseline it must beat.
"""

from __future__ import annotations

import numpy as np

from optim.problem import Problem


def _regularised_solve(normal: np.ndarray, rhs: np.ndarray, penalty: np.ndarray,
                       regularization: float) -> np.ndarray:
    """Solve (F, D, D) normal equations with a (F, D) diagonal penalty; rhs (F, D, C)."""
    scale = np.real(np.trace(normal, axis1=1, axis2=2)) / normal.shape[1]  # (F,)
    lhs = normal + regularization * (scale[:, None] * penalty)[:, :, None] * np.eye(normal.shape[1])
    return np.linalg.solve(lhs, rhs)


def band_penalty(problem: Problem) -> np.ndarray:
    """(F, D) regulariser weights: 1 where the driver's band filter passes, large outside."""
    passes = np.abs(problem.band_response.T) > 0.5
    return np.where(passes, 1.0, 1e6)


def least_squares_filters(problem: Problem, regularization: float) -> tuple[np.ndarray, np.ndarray]:
    """Frequency responses (3, D, F) for L, R, C and (2, D, F) for the binaural CTC bank."""
    ears = problem.ear_pool.reshape((-1,) + problem.ear_pool.shape[2:]).astype(complex)
    # ears: (K P, F, 2, D), the listeners of every plant
    penalty = band_penalty(problem)
    normal = np.einsum("pfed,pfeg->fdg", ears.conj(), ears)
    summed = np.einsum("pfed->fde", ears.conj())  # sum_p H_p^H
    ctc = _regularised_solve(normal, summed * problem.bulk[:, None, None], penalty, regularization)
    lr_target = problem.virtual * problem.bulk[:, None, None]  # (F, 2, 2) [f, ear, channel]
    lr = _regularised_solve(normal, summed @ lr_target, penalty, regularization)
    # Centre: far-field pattern (all azimuths) plus the nominal ears, equally weighted.
    far = problem.farfield  # (K, F, A, D)
    nominal = problem.ear_nominal  # (K, F, 2, D)
    far_weight, ear_weight = 1 / (far.shape[0] * far.shape[2]), 1 / (nominal.shape[0] * 2)
    normal_c = np.einsum("kfad,kfag->fdg", far.conj(), far) * far_weight + \
        np.einsum("kfed,kfeg->fdg", nominal.conj(), nominal) * ear_weight
    rhs_c = np.einsum("kfad,a->fd", far.conj(), problem.pattern) * far_weight + \
        np.einsum("kfed,fe->fd", nominal.conj(), problem.centre) * ear_weight
    centre = _regularised_solve(normal_c, (rhs_c * problem.bulk[:, None])[:, :, None], penalty,
                                regularization)
    inactive = problem.freq_weight == 0
    filters = np.concatenate([lr, centre], axis=2).transpose(2, 1, 0)  # (3, D, F)
    ctc_filters = ctc.transpose(2, 1, 0)
    filters[..., inactive] = 0.0
    ctc_filters[..., inactive] = 0.0
    return filters, ctc_filters


def responses_to_taps(responses: np.ndarray, taps: int) -> np.ndarray:
    """FIR taps (..., taps) from responses (..., F) on the ``2 * taps`` rfft grid: the
    circular impulse response, cut to the first ``taps`` samples with 1/16-length
    raised-cosine fades at both ends."""
    impulse = np.fft.irfft(responses, 2 * taps, axis=-1)[..., :taps]
    fade = taps // 16
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)
    window = np.ones(taps)
    window[:fade], window[-fade:] = ramp, ramp[::-1]
    return impulse * window


def least_squares_taps(problem: Problem, regularization: float, taps: int
                       ) -> tuple[np.ndarray, np.ndarray]:
    """float32 FIR taps (3, D, taps) and (2, D, taps) of the least-squares design."""
    filters, ctc = least_squares_filters(problem, regularization)
    return (responses_to_taps(filters, taps).astype(np.float32),
            responses_to_taps(ctc, taps).astype(np.float32))


def least_squares_bank(array, config=None):
    """The least-squares design of ``array`` as a filter bank (``config`` None: the
    defaults of optim/defaults.toml with this array)."""
    from optim.config import load_config
    from optim.export import make_filterbank
    from optim.problem import build_problem

    config = config or load_config(array=array.name)
    problem = build_problem(array, config)
    taps, ctc = least_squares_taps(problem, config.optimizer.regularization, config.design.taps)
    return make_filterbank(array, config, taps, ctc, {}, {"design": "least_squares"},
                           problem.virtual_source)
