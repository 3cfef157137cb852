"""The Pareto table and plot of a headroom ladder: every figure against headroom, for the
learned rungs and for least squares regularised to the same headrooms.

A rung's figures are the least favourable over the driver models (and held-out
listeners) of :func:`evaluation.heldout.evaluate_heldout`; the goals are issue 16's, one
set for rungs that play at normal levels (budget <= 20 dB) and one for the full-volume
rung (budget <= 6 dB).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from common.atomic import atomic_output


@dataclass(frozen=True)
class ParetoFigure:
    """A figure of the table: its key in the evaluation's dict, a label, whether higher is
    better, and the goals at normal levels and at full volume (None: no goal)."""

    key: str
    label: str
    higher_is_better: bool
    goal_normal: float | None
    goal_full_volume: float | None


FIGURES = (
    ParetoFigure("separation_zone_worst_mean_db", "zone worst (dB)", True, 6.0, 3.0),
    ParetoFigure("separation_zone_median_mean_db", "zone median (dB)", True, 11.0, 9.0),
    ParetoFigure("separation_nominal_mean_db", "nominal separation (dB)", True, 15.0, 12.0),
    ParetoFigure("heads_zone_median_db", "new listeners, zone median (dB)", True, 10.0, 8.0),
    ParetoFigure("beam_null_db", "C at +-90, band power (dB)", False, -10.0, -6.0),
    ParetoFigure("beam_side_p90_db", "C at +-90, worst tenth (dB)", False, -6.0, -3.0),
    ParetoFigure("beam_directivity_db", "C directivity index (dB)", True, 4.5, 3.5),
    ParetoFigure("itd_fraction_L", "L ITD / real source", True, 0.8, 0.5),
    ParetoFigure("ild_spectrum_error_L_db", "L ILD error (dB)", False, 1.0, 2.0),
    ParetoFigure("beam_ripple_db", "C ripple +-45 (dB)", False, 3.0, 3.0),
    ParetoFigure("tonal_deviation_C_db", "C tonal deviation (dB)", False, 1.5, 1.5),
    ParetoFigure("effort_peak_excess_db", "effort (dB)", False, None, None),
    ParetoFigure("beam_effort_db", "C beam effort (dB)", False, None, None),
    ParetoFigure("headroom_db", "headroom (dB)", False, None, None),
)
FULL_VOLUME_BUDGET_DB = 6.0  # rungs at or below this budget are judged by full-volume goals


@dataclass(frozen=True)
class RungFigures:
    """One rung's budget (dB) and the least favourable figures of the learned bank and of
    least squares at the same headroom."""

    budget_db: float
    learned: dict
    least_squares: dict


def goal(figure: ParetoFigure, budget_db: float) -> float | None:
    """The goal of ``figure`` on the rung of ``budget_db``."""
    return figure.goal_full_volume if budget_db <= FULL_VOLUME_BUDGET_DB else figure.goal_normal


def meets(figure: ParetoFigure, value: float, target: float | None) -> bool:
    """Whether ``value`` is at least as good as ``target`` (always true without a goal)."""
    if target is None:
        return True
    return value >= target if figure.higher_is_better else value <= target


def goal_text(figure: ParetoFigure, target: float) -> str:
    """``>= target`` or ``<= target``, as the figure is better high or low."""
    return f"{'>=' if figure.higher_is_better else '<='} {target:g}"


def beats(figure: ParetoFigure, learned: float, baseline: float, tolerance: float = 0.05
          ) -> bool:
    """Whether the learned value is better than or equal to the baseline's (within
    ``tolerance``, the figures' own rounding)."""
    sign = 1.0 if figure.higher_is_better else -1.0
    return sign * (learned - baseline) >= -tolerance


def pareto_table(rungs: list[RungFigures]) -> str:
    """A Markdown table: one row per figure, per rung ``learned / least squares``, ``*``
    where learned is worse than least squares and ``!`` where it misses the goal."""
    head = "| figure | " + " | ".join(f"{r.budget_db:g} dB rung: learned / LS (goal)"
                                        for r in rungs) + " |"
    rows = [head, "|---|" + "---|" * len(rungs)]
    for figure in FIGURES:
        cells = []
        for r in rungs:
            if figure.key not in r.learned:
                cells.append("-")
                continue
            value, base = r.learned[figure.key], r.least_squares[figure.key]
            target = goal(figure, r.budget_db)
            mark = ("" if meets(figure, value, target) else "!") + \
                ("" if beats(figure, value, base) else "*")
            wanted = "" if target is None else f" ({goal_text(figure, target)})"
            cells.append(f"{value:.2f}{mark} / {base:.2f}{wanted}")
        rows.append(f"| {figure.label} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n\n`!`: misses the goal; `*`: worse than least squares at the " \
        "same headroom. Least favourable of every driver model (and held-out listener).\n"


def pareto_csv(rungs: list[RungFigures]) -> str:
    """CSV text: budget, design, then one column per figure key."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["budget_db", "design"] + [f.key for f in FIGURES])
    for r in rungs:
        for name, figures in (("learned", r.learned), ("least_squares", r.least_squares)):
            writer.writerow([f"{r.budget_db:g}", name] +
                            [f"{figures[f.key]:.4f}" if f.key in figures else "" for f in FIGURES])
    return out.getvalue()


def pareto_figure(rungs: list[RungFigures]) -> Figure:
    """One panel per figure against the headroom each design needs (dB): learned rungs
    and least squares, with the goals of normal levels (dashed) and full volume (dotted)."""
    shown = [f for f in FIGURES if f.key != "headroom_db" and f.key in rungs[0].learned]
    cols = 4
    rows = -(-len(shown) // cols)
    fig = Figure(figsize=(3.3 * cols, 2.6 * rows), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, figure in zip(axes, shown):
        for name, style in (("learned", "o-"), ("least_squares", "s--")):
            points = [(getattr(r, name)["headroom_db"], getattr(r, name)[figure.key])
                      for r in rungs]
            ax.plot(*zip(*points), style, label="learned" if name == "learned" else
                    "least squares")
        for target, line in ((figure.goal_normal, "--"), (figure.goal_full_volume, ":")):
            if target is not None:
                ax.axhline(target, color="grey", linestyle=line, linewidth=1)
        ax.set_title(f"{figure.label} ({'up' if figure.higher_is_better else 'down'} is "
                     f"better)", fontsize=9)
        ax.set_xlabel("headroom (dB)", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Every figure against headroom, least favourable driver model and listener; "
                 "goals dashed (normal levels) and dotted (full volume)", fontsize=10)
    for ax in axes[len(shown):]:
        ax.set_visible(False)
    return fig


def write_pareto(folder: Path, rungs: list[RungFigures]) -> list[Path]:
    """Write ``pareto.md``, ``pareto.csv`` and ``pareto.png`` into ``folder`` atomically;
    returns their paths."""
    paths = [folder / "pareto.md", folder / "pareto.csv", folder / "pareto.png"]
    for path, text in zip(paths, (pareto_table(rungs), pareto_csv(rungs))):
        with atomic_output(path) as tmp:
            tmp.write_text(text)
    with atomic_output(paths[2]) as tmp:
        pareto_figure(rungs).savefig(tmp, format="png")
    return paths
