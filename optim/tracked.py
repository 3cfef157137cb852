"""Head-tracked training: one bank per cell of a head-pose grid, all cells trained jointly.

The cells are the product grid of config ``[tracking]`` around the nominal listener
(lateral offset, distance scale, yaw facing the device centre). Cell ``c`` trains on its
own listener pool, for every plant of the ensemble: heads drawn uniformly from a box
around its centre that reaches ``cell_extent`` half-gaps toward its grid neighbours (the
inner gap at the edges; an axis with one value spans the zone preset's spread, also
times ``cell_extent``), with the zone's height spread; its nominal listener is the cell
centre.

Every cell starts the same way, from the least-squares design over its own pool (or
``optimizer.init``'s noise), and all train together: the loss of a cell is
:func:`optim.objective.make_loss` on that cell's pools (the same terms, weights and plant
reduction as untracked training), vmapped over cells with the pools stacked cell-major
(complex64), averaged over cells, plus ``smoothness`` times :func:`neighbour_difference`
of the cells' responses, so that a change of cell changes the filters little.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from common.poses import poses_of
from models import Array, Listener, Listeners, Zone, get_zone, place_listeners
from models.heads import resolve_head
from optim.config import TrackingSettings, TrainConfig
from optim.export import make_filterbank
from optim.loop import TrainingDiverged, initial_params
from optim.objective import batch_indices, bounds_of, make_loss, make_optimizer, make_step
from optim.params import Params, export_taps, frequency_responses
from optim.problem import Problem, normalised_ears, pool_heads, training_plants
from renderer.filterbank import TRACKED_FORMAT
from renderer.trackedbank import TrackedBank


@dataclass(frozen=True)
class CellGrid:
    """C cells: poses (C, 4) x, y, z (m), yaw (deg); offsets (C, 3) of their centres and
    the lower and upper corners (C, 3) of their training boxes, in (lateral m, distance
    scale, yaw deg); neighbour pairs (E, 2) of cells adjacent along one grid axis."""

    poses: np.ndarray
    offsets: np.ndarray
    box_lo: np.ndarray
    box_hi: np.ndarray
    neighbours: np.ndarray


def facing_centre(nominal: Listener, lateral_m, distance_scale, height_m, yaw_deg) -> Listeners:
    """Heads offset from the nominal listener (as models.place_listeners) whose yaw is
    measured from facing the device centre (the pose yaw of CONVENTIONS.md), not from -x."""
    lateral, scale = (np.asarray(v, float) for v in (lateral_m, distance_scale))
    toward_centre = np.degrees(np.arctan2(lateral, nominal.distance_m * scale))
    return place_listeners(nominal, lateral, scale, height_m, np.asarray(yaw_deg) + toward_centre)


def _half_gaps(values: tuple[float, ...], spread: tuple[float, float]
               ) -> tuple[np.ndarray, np.ndarray]:
    """(n,) distances below and above each grid value to the box edges at extent 1: half
    the gap to the neighbour (the inner gap at an edge); with one value, to ``spread``."""
    v = np.asarray(values, float)
    if v.size == 1:
        return v - spread[0], spread[1] - v
    gaps = np.diff(v) / 2
    return np.concatenate([[gaps[0]], gaps]), np.concatenate([gaps, [gaps[-1]]])


def cell_grid(nominal: Listener, tracking: TrackingSettings, zone: Zone) -> CellGrid:
    """The cells of ``tracking`` around ``nominal``, their boxes and neighbours."""
    axes = (tracking.lateral_m, tracking.distance_scale, tracking.yaw_deg)
    spreads = ((-zone.lateral_m, zone.lateral_m), zone.distance_scale,
               (-zone.yaw_deg, zone.yaw_deg))
    index = np.stack(np.meshgrid(*(np.arange(len(a)) for a in axes), indexing="ij"),
                     -1).reshape(-1, 3)  # (C, 3) grid index of each cell
    centre = np.stack([np.asarray(a, float)[index[:, i]] for i, a in enumerate(axes)], -1)
    lo, hi = zip(*(_half_gaps(a, s) for a, s in zip(axes, spreads)))
    extent = tracking.cell_extent
    box_lo = centre - extent * np.stack([lo[i][index[:, i]] for i in range(3)], -1)
    box_hi = centre + extent * np.stack([hi[i][index[:, i]] for i in range(3)], -1)
    heads = facing_centre(nominal, centre[:, 0], centre[:, 1], 0.0, centre[:, 2])
    poses = poses_of(heads.positions_m, heads.facing)
    poses[:, 3] = centre[:, 2]  # exact, not through arctan2
    steps = np.abs(index[:, None] - index[None]).sum(-1)  # (C, C) grid steps apart
    pairs = np.argwhere(np.triu(steps == 1))
    return CellGrid(poses=poses, offsets=centre, box_lo=box_lo, box_hi=box_hi, neighbours=pairs)


def cell_listeners(nominal: Listener, grid: CellGrid, zone: Zone, count: int, seed: int
                   ) -> Listeners:
    """(C * count,) heads, cell-major: ``count`` drawn uniformly from each cell's box
    (and the zone's height spread), a seeded draw per cell."""
    draws = []
    for c in range(len(grid.poses)):
        rng = np.random.default_rng([seed, 7919, c])
        draws.append(rng.uniform(grid.box_lo[c], grid.box_hi[c], (count, 3)))
    lateral, scale, yaw = np.concatenate(draws).T
    height = np.random.default_rng([seed, 7907]).uniform(-zone.height_m, zone.height_m,
                                                         lateral.size)
    return facing_centre(nominal, lateral, scale, height, yaw)


@dataclass(frozen=True)
class CellProblem:
    """Per-cell transfers beside the shared problem: pools (C, K_ears, P, F, 2, D) and
    nominals (C, K_ears, F, 2, D), complex64, normalised as optim.problem's."""

    grid: CellGrid
    pools: np.ndarray
    nominals: np.ndarray


def build_cell_problem(array: Array, config: TrainConfig, problem: Problem) -> CellProblem:
    """Sample every cell's pool and centre for the plants of ``config`` (NumPy)."""
    d, tracking = config.design, config.tracking
    zone = get_zone(d.zone)
    if d.zone_lateral_m >= 0:
        zone = replace(zone, lateral_m=d.zone_lateral_m)
    grid = cell_grid(array.listener, tracking, zone)
    plants = training_plants(array, config)
    head = resolve_head(d.head)
    heads = cell_listeners(array.listener, grid, zone, tracking.cell_pool, config.seed)
    pools = normalised_ears(plants, problem.freqs_hz, *pool_heads(config, heads, head))
    lateral, scale, yaw = grid.offsets.T
    centres = facing_centre(array.listener, lateral, scale, 0.0, yaw)
    nominals = normalised_ears(plants, problem.freqs_hz, centres, head)
    cell_major = pools.reshape((len(plants), len(grid.poses), -1) + pools.shape[2:])
    return CellProblem(grid=grid, pools=np.ascontiguousarray(np.moveaxis(cell_major, 1, 0)),
                       nominals=np.ascontiguousarray(np.moveaxis(nominals, 1, 0)))


def neighbour_difference(responses: jnp.ndarray, pairs: jnp.ndarray) -> jnp.ndarray:
    """Mean over neighbour pairs (E, 2) of ``||R_a - R_b||^2 / ((||R_a||^2 + ||R_b||^2) / 2)``
    for per-cell responses (C, ...): 0 for equal cells, 2 for orthogonal ones of equal
    energy, at most 4; 0 without pairs."""
    if pairs.shape[0] == 0:
        return jnp.zeros(())
    power = lambda x: jnp.sum(jnp.abs(x) ** 2, axis=tuple(range(1, x.ndim)))  # noqa: E731
    a, b = responses[pairs[:, 0]], responses[pairs[:, 1]]
    return jnp.mean(power(a - b) / (0.5 * (power(a) + power(b)) + 1e-20))


def make_tracked_loss(config: TrainConfig, problem: Problem, cells: CellProblem) -> Callable:
    """``loss(stacked, batch, bounds=None) -> (total, terms)`` for per-cell params stacked on a leading
    cell axis; ``batch`` is one :func:`optim.objective.batch_indices` draw into the cell
    pools, shared by all cells. Terms are cell means, plus ``smoothness``."""
    pools = jnp.asarray(cells.pools, jnp.complex64)
    nominals = jnp.asarray(cells.nominals, jnp.complex64)
    pairs = jnp.asarray(cells.grid.neighbours.reshape(-1, 2))
    band = jnp.asarray(problem.band_response, jnp.complex64)
    weight = config.tracking.smoothness

    def cell_loss(params: Params, pool, nominal, batch, bounds):
        # make_loss only reads these arrays, so a cell's are traced values of the vmap
        return make_loss(config, replace(problem, ear_pool=pool, ear_nominal=nominal,
                                         mirror=None))(params, batch, bounds)

    def loss(stacked: Params, batch: tuple, bounds: dict | None = None):
        totals, terms = jax.vmap(cell_loss, in_axes=(0, 0, 0, None, None))(
            stacked, pools, nominals, batch, bounds)
        filters, ctc = jax.vmap(frequency_responses, in_axes=(0, None))(stacked, band)
        smooth = neighbour_difference(jnp.concatenate([filters, ctc], axis=1), pairs)
        terms = {name: jnp.mean(value) for name, value in terms.items()}
        terms["smoothness"] = smooth
        return jnp.mean(totals) + weight * smooth, terms

    return loss


def cell_view(problem: Problem, cells: CellProblem, c: int) -> Problem:
    """The problem of cell ``c``: its pool and centre in place of the zone's, and no mirror
    symmetry (a cell off the axis is not its own mirror image)."""
    return replace(problem, ear_pool=cells.pools[c], ear_nominal=cells.nominals[c], mirror=None)


def initial_cells(config: TrainConfig, problem: Problem, cells: CellProblem) -> Params:
    """Stacked params (leading cell axis): each cell's :func:`optim.loop.initial_params`
    (the least-squares design over the cell's own pool, or small seeded noise)."""
    starts = [initial_params(config, cell_view(problem, cells, c))
              for c in range(len(cells.pools))]
    return jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *starts)


def train_cells(config: TrainConfig, problem: Problem, cells: CellProblem, stacked: Params,
                on_step: Callable[[int, dict], None] | None = None) -> tuple[Params, list[dict]]:
    """``tracking.steps`` joint steps of every cell from ``stacked`` (leading cell axis);
    returns the stacked params and the logged terms (every 10th step and the last)."""
    tracking = config.tracking
    optimizer = make_optimizer(replace(config, optimizer=replace(config.optimizer,
                                                                 steps=tracking.steps)))
    step_fn = make_step(make_tracked_loss(config, problem, cells), optimizer)
    state = optimizer.init(stacked)
    history = []
    bounds = bounds_of(config)
    for step in range(tracking.steps):
        index = tuple(jnp.asarray(i) for i in batch_indices(
            config.seed, step, cells.pools.shape[1], tracking.cell_pool, tracking.cell_batch,
            config.plant.batch_plants))
        stacked, state, total, terms = step_fn(stacked, state, index, bounds)
        values = {"total": float(total), **{name: float(v) for name, v in terms.items()}}
        bad = [name for name, v in values.items() if not math.isfinite(v)]
        if bad:
            raise TrainingDiverged(f"tracked training diverged at step {step}: loss term(s) "
                                   f"{', '.join(bad)} became non-finite. Lower "
                                   f"optimizer.learning_rate or the weight of that term.")
        if step % 10 == 0 or step == tracking.steps - 1:
            history.append({"step": step, **values})
        if on_step is not None:
            on_step(step, values)
    return jax.device_get(stacked), history


def export_cells(stacked: Params, problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """float32 taps (C, 3, D, N) and ctc_taps (C, 2, D, N) of stacked per-cell params
    (never symmetrised: see :func:`cell_view`)."""
    count = len(next(iter(stacked.values())))
    cell = replace(problem, mirror=None)
    banks = [export_taps({k: v[c] for k, v in stacked.items()}, cell) for c in range(count)]
    return np.stack([b[0] for b in banks]), np.stack([b[1] for b in banks])


def make_trackedbank(array: Array, config: TrainConfig, poses: np.ndarray, taps: np.ndarray,
                     ctc_taps: np.ndarray, metrics: dict, training: dict, virtual_source: dict
                     ) -> TrackedBank:
    """A tracked bank (CONVENTIONS.md) of cells at ``poses`` (C, 4) with taps (C, 3, D, N)
    and ctc_taps (C, 2, D, N); the manifest is the plain bank's
    (:func:`optim.export.make_filterbank`) with the tracked format."""
    plain = make_filterbank(array, config, taps[0], ctc_taps[0], metrics, training,
                            virtual_source)
    return TrackedBank(taps=np.asarray(taps, np.float32),
                       ctc_taps=np.asarray(ctc_taps, np.float32),
                       cells=np.asarray(poses, np.float64),
                       manifest={**plain.manifest, "format": TRACKED_FORMAT})
