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

from dataclasses import dataclass

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


@dataclass(frozen=True)
class NormalEquations:
    """The least-squares systems of a problem, which do not depend on the regularisation:
    normal matrices (F, D, D) and right-hand sides (F, D, C) of the zone ears (CTC and L/R
    share the matrix) and of the centre channel, the (F, D) band penalty and the (F,) bins
    outside the design band."""

    ears: np.ndarray
    ctc_rhs: np.ndarray
    lr_rhs: np.ndarray
    centre: np.ndarray
    centre_rhs: np.ndarray
    penalty: np.ndarray
    inactive: np.ndarray


def normal_equations(problem: Problem) -> NormalEquations:
    """The systems of the module doc, summed over every listener of every plant."""
    ears = problem.ear_pool.reshape((-1,) + problem.ear_pool.shape[2:]).astype(complex)
    # ears: (K P, F, 2, D), the listeners of every plant
    normal = np.einsum("pfed,pfeg->fdg", ears.conj(), ears)
    summed = np.einsum("pfed->fde", ears.conj())  # sum_p H_p^H
    lr_target = problem.virtual * problem.bulk[:, None, None]  # (F, 2, 2) [f, ear, channel]
    # Centre: far-field pattern (all azimuths) plus the nominal ears, equally weighted.
    far = problem.farfield  # (K, F, A, D)
    nominal = problem.ear_nominal  # (K, F, 2, D)
    far_weight, ear_weight = 1 / (far.shape[0] * far.shape[2]), 1 / (nominal.shape[0] * 2)
    normal_c = np.einsum("kfad,kfag->fdg", far.conj(), far) * far_weight + \
        np.einsum("kfed,kfeg->fdg", nominal.conj(), nominal) * ear_weight
    rhs_c = np.einsum("kfad,a->fd", far.conj(), problem.pattern) * far_weight + \
        np.einsum("kfed,fe->fd", nominal.conj(), problem.centre) * ear_weight
    return NormalEquations(ears=normal, ctc_rhs=summed * problem.bulk[:, None, None],
                           lr_rhs=summed @ lr_target, centre=normal_c,
                           centre_rhs=(rhs_c * problem.bulk[:, None])[:, :, None],
                           penalty=band_penalty(problem), inactive=problem.freq_weight == 0)


def solve_filters(eq: NormalEquations, regularization: float,
                  ctc_regularization: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Frequency responses (3, D, F) for L, R, C and (2, D, F) for the binaural CTC bank at
    one regularisation (the CTC bank at ``ctc_regularization`` when given)."""
    ctc_beta = regularization if ctc_regularization is None else ctc_regularization
    ctc = _regularised_solve(eq.ears, eq.ctc_rhs, eq.penalty, ctc_beta)
    lr = _regularised_solve(eq.ears, eq.lr_rhs, eq.penalty, regularization)
    centre = _regularised_solve(eq.centre, eq.centre_rhs, eq.penalty, regularization)
    filters = np.concatenate([lr, centre], axis=2).transpose(2, 1, 0)  # (3, D, F)
    ctc_filters = ctc.transpose(2, 1, 0)
    filters[..., eq.inactive] = 0.0
    ctc_filters[..., eq.inactive] = 0.0
    return filters, ctc_filters


def least_squares_filters(problem: Problem, regularization: float) -> tuple[np.ndarray, np.ndarray]:
    """Frequency responses (3, D, F) for L, R, C and (2, D, F) for the binaural CTC bank."""
    return solve_filters(normal_equations(problem), regularization)


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


@dataclass(frozen=True)
class LeastSquaresDesign:
    """FIR taps (3, D, N) and ctc_taps (2, D, N) of the least-squares design, and the
    regularisations of the L/R/C and of the CTC systems that gave them."""

    taps: np.ndarray
    ctc_taps: np.ndarray
    regularization: float
    ctc_regularization: float


REGULARIZATION_RANGE = (1e-6, 1e3)


def _fit_headroom(headroom_of, budget_db: float, tolerance_db: float) -> float:
    """The smallest regularisation in :data:`REGULARIZATION_RANGE` whose design needs at
    most ``budget_db`` of headroom (``headroom_of(beta)``, falling as beta grows), by
    bisection in log(beta) to ``tolerance_db`` below the budget."""
    lo, hi = np.log(REGULARIZATION_RANGE[0]), np.log(REGULARIZATION_RANGE[1])
    if headroom_of(np.exp(lo)) <= budget_db:
        return float(np.exp(lo))
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        need = headroom_of(np.exp(mid))
        if need > budget_db:
            lo = mid
        elif need < budget_db - tolerance_db:
            hi = mid
        else:
            return float(np.exp(mid))
    return float(np.exp(hi))


def least_squares_design(eq: NormalEquations, taps: int, regularization: float,
                         ctc_regularization: float | None = None,
                         mirror: np.ndarray | None = None) -> LeastSquaresDesign:
    """float32 FIR taps of :func:`solve_filters`, made mirror-symmetric when ``mirror`` is
    given (optim.params.symmetrize: the design's nearest symmetric bank)."""
    filters, ctc_filters = solve_filters(eq, regularization, ctc_regularization)
    bank = {"taps": responses_to_taps(filters, taps), "ctc": responses_to_taps(ctc_filters, taps)}
    if mirror is not None:
        from optim.params import symmetrize
        bank = symmetrize(bank, mirror)
    return LeastSquaresDesign(np.asarray(bank["taps"], np.float32),
                              np.asarray(bank["ctc"], np.float32), regularization,
                              regularization if ctc_regularization is None else ctc_regularization)


def least_squares_at_headroom(eq: NormalEquations, taps: int, budget_db: float,
                              mirror: np.ndarray | None = None, tolerance_db: float = 0.05
                              ) -> LeastSquaresDesign:
    """The least-squares design (:func:`least_squares_design`) regularised to need
    ``budget_db`` of headroom (within ``tolerance_db`` below it): the L/R/C bank by
    renderer.export.headroom_db of its taps, the CTC bank by the same figure of its two
    binaural inputs, each with its own regularisation (the least that fits), so the
    baseline spends the whole budget."""
    from renderer.export import headroom_db

    def lrc(beta: float) -> float:
        return headroom_db(least_squares_design(eq, taps, beta, 1.0, mirror).taps)

    def ctc(beta: float) -> float:
        return headroom_db(least_squares_design(eq, taps, 1.0, beta, mirror).ctc_taps)

    beta, ctc_beta = (_fit_headroom(f, budget_db, tolerance_db) for f in (lrc, ctc))
    return least_squares_design(eq, taps, beta, ctc_beta, mirror)


def least_squares_taps(problem: Problem, regularization: float, taps: int
                       ) -> tuple[np.ndarray, np.ndarray]:
    """float32 FIR taps (3, D, taps) and (2, D, taps) of the least-squares design."""
    design = least_squares_design(normal_equations(problem), taps, regularization)
    return design.taps, design.ctc_taps


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
