"""Figures of the robustness report and the sweep (matplotlib, Agg canvas, no pyplot).

Every function returns a :class:`matplotlib.figure.Figure`; :func:`save_png` writes one
atomically. Levels in dB, distances in metres, frequencies in Hz, angles in degrees.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.projections.polar import PolarAxes

from common.atomic import atomic_output
from evaluation.metrics import db_power
from evaluation.robustness import HeadFigures, MapGrid


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as a PNG atomically; returns the path."""
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)


def separation_maps(grid: MapGrid, maps: dict[str, np.ndarray], threshold_db: float,
                    nominal_distance_m: float) -> Figure:
    """One panel per design: separation (dB) over lateral x distance, maps (X, Y), with
    the ``threshold_db`` contour and the nominal head (+) marked."""
    fig = _figure(3.6 * len(maps) + 0.8, 3.8)
    axes = fig.subplots(1, len(maps), squeeze=False)[0]
    values = np.concatenate([m.ravel() for m in maps.values()])
    norm = Normalize(vmin=min(0.0, float(values.min())), vmax=max(threshold_db * 2, float(values.max())))
    for ax, (name, sep) in zip(axes, maps.items()):
        mesh = ax.pcolormesh(grid.lateral_m, grid.distance_m, sep.T, norm=norm, cmap="viridis",
                             shading="gouraud")
        if sep.min() < threshold_db <= sep.max():
            ax.contour(grid.lateral_m, grid.distance_m, sep.T, levels=[threshold_db],
                       colors="white", linewidths=1.5)
        ax.plot([0.0], [nominal_distance_m], "r+", markersize=12)
        ax.set_title(name)
        ax.set_xlabel("lateral offset (m, + = listener's right)")
    axes[0].set_ylabel("distance from the device (m)")
    fig.colorbar(mesh, ax=axes, label=f"separation (dB), white: {threshold_db:g} dB")
    return fig


def width_map(grid: MapGrid, maps: HeadFigures, level: int) -> Figure:
    """ILD and ITD of the L channel beside those of the real reference source, at the
    height layer ``level``."""
    fig = _figure(8.5, 7.0)
    axes = fig.subplots(2, 2)
    panels = [(maps.ild_db, maps.ild_reference_db, "ILD (dB)"),
              (maps.itd_us, maps.itd_reference_us, "ITD (us)")]
    for row, (ours, ref, label) in zip(axes, panels):
        both = np.stack([ours[:, :, level, 0], ref[:, :, level, 0]])
        norm = Normalize(vmin=float(both.min()), vmax=float(both.max()))
        for ax, data, title in zip(row, both, ("L channel", "real source at the L position")):
            mesh = ax.pcolormesh(grid.lateral_m, grid.distance_m, data.T, norm=norm,
                                 cmap="magma", shading="gouraud")
            ax.set_title(f"{label}: {title}")
            ax.set_xlabel("lateral offset (m)")
            ax.set_ylabel("distance (m)")
        fig.colorbar(mesh, ax=row, label=label)
    return fig


def _normalised_db(beam: np.ndarray, azimuths_deg: np.ndarray) -> np.ndarray:
    """(F, A) level in dB re the on-axis level of each frequency."""
    on_axis = np.abs(beam[:, np.argmin(np.abs(azimuths_deg))]) ** 2
    return db_power(np.abs(beam) ** 2) - db_power(on_axis)[:, None]


def beam_polar(freqs_hz: np.ndarray, azimuths_deg: np.ndarray, beam: np.ndarray,
               at_hz=(500.0, 1000.0, 2000.0, 4000.0), floor_db: float = -40.0) -> Figure:
    """Polar plots of a channel's far field (F, A) at the frequencies nearest ``at_hz``,
    dB re on-axis, clipped at ``floor_db``."""
    fig = _figure(6.0, 5.5)
    ax = cast(PolarAxes, fig.add_subplot(projection="polar"))  # the stubs cannot know
    rows = sorted({int(np.argmin(np.abs(freqs_hz - f))) for f in at_hz})
    level = np.maximum(_normalised_db(beam[rows], azimuths_deg), floor_db)
    theta = np.deg2rad(np.append(azimuths_deg, azimuths_deg[0]))
    for i, row in zip(rows, level):
        ax.plot(theta, np.append(row, row[0]), label=f"{freqs_hz[i]:.0f} Hz")
    ax.set_rlim(floor_db, max(6.0, float(level.max()) + 1.0))
    ax.set_theta_zero_location("N")  # on-axis (toward the listener) at the top
    ax.set_thetalim(-np.pi, np.pi)
    ax.set_title("C channel far field (dB re on-axis; +90 = device left)")
    ax.legend(loc="lower left", bbox_to_anchor=(1.0, 0.0), fontsize="small")
    return fig


def beam_heatmap(freqs_hz: np.ndarray, azimuths_deg: np.ndarray, beam: np.ndarray,
                 floor_db: float = -40.0) -> Figure:
    """Frequency x azimuth map of a channel's far field (F, A), dB re on-axis."""
    fig = _figure(7.5, 4.5)
    ax = fig.subplots()
    level = np.clip(_normalised_db(beam, azimuths_deg), floor_db, 10.0)
    mesh = ax.pcolormesh(azimuths_deg, freqs_hz, level, cmap="inferno", shading="nearest")
    ax.set_yscale("log")
    ax.set_xlabel("azimuth (deg, counter-clockwise from the listener direction)")
    ax.set_ylabel("frequency (Hz)")
    ax.set_title("C channel far field")
    fig.colorbar(mesh, ax=ax, label="dB re on-axis")
    return fig


def directivity(freqs_hz: np.ndarray, curves: dict[str, np.ndarray]) -> Figure:
    """Directivity index (dB) over frequency, one curve (F,) per design."""
    fig = _figure(7.0, 4.0)
    ax = fig.subplots()
    for name, di in curves.items():
        ax.semilogx(freqs_hz, di, label=name)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("directivity index (dB)")
    ax.set_title("C channel directivity index")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def filter_responses(freqs_hz: np.ndarray, filters: np.ndarray, driver_names: list[str],
                     floor_db: float = -60.0) -> Figure:
    """Magnitude (dB) of each driver's filter (C, D, F) for the channels L, R, C."""
    fig = _figure(11.0, 3.8)
    axes = fig.subplots(1, filters.shape[0], sharey=True, squeeze=False)[0]
    level = np.maximum(db_power(np.abs(filters) ** 2), floor_db)
    for ax, channel, rows in zip(axes, "LRC", level):
        for name, row in zip(driver_names, rows):
            ax.semilogx(freqs_hz, row, label=name)
        ax.set_title(f"{channel} channel")
        ax.set_xlabel("frequency (Hz)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("driver gain (dB)")
    axes[-1].legend(fontsize="small")
    return fig


def pareto(sweet_db: np.ndarray, worst_db: np.ndarray, effort_db: np.ndarray,
           on_front: np.ndarray, labels: list[str]) -> Figure:
    """Sweet-spot vs zone-worst separation (dB), coloured by effort (dB); designs on the
    Pareto front (``on_front`` (K,) bool) ringed and labelled."""
    fig = _figure(7.5, 5.5)
    ax = fig.subplots()
    points = ax.scatter(sweet_db, worst_db, c=effort_db, cmap="coolwarm", s=40)
    ax.scatter(sweet_db[on_front], worst_db[on_front], s=140, facecolors="none",
               edgecolors="black", label="Pareto front")
    for i in np.flatnonzero(on_front):
        ax.annotate(labels[i], (sweet_db[i], worst_db[i]), fontsize="x-small",
                    xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel("sweet-spot separation (dB)")
    ax.set_ylabel("zone-worst separation (dB)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    fig.colorbar(points, ax=ax, label="effort excess (dB, lower is better)")
    return fig


def delivered_vs_predicted(centres_hz: np.ndarray, curves: dict[str, tuple], unit: str,
                           title: str) -> Figure:
    """Per-band figures measured on the device (solid) beside their prediction (dashed),
    ``curves`` {label: (delivered (B,), predicted (B,))} in dB at band ``centres_hz``
    (B,), and below them the gap, delivered minus predicted."""
    fig = _figure(7.5, 6.0)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    for i, (label, (delivered, predicted)) in enumerate(curves.items()):
        colour = f"C{i}"
        top.semilogx(centres_hz, delivered, "o-", color=colour, label=f"{label}, delivered")
        top.semilogx(centres_hz, predicted, "s--", color=colour, mfc="none",
                     label=f"{label}, predicted")
        bottom.semilogx(centres_hz, np.subtract(delivered, predicted), "o-", color=colour,
                        label=label)
    bottom.axhline(0.0, color="black", linewidth=0.8)
    low, high = bottom.get_ylim()
    bottom.set_ylim(min(low, -2.0), max(high, 2.0))  # a tiny gap is drawn as tiny
    top.set_ylabel(unit)
    top.set_title(title, fontsize="medium")
    top.legend(fontsize="small")
    bottom.set_ylabel("delivered - predicted (dB)")
    bottom.set_xlabel("third-octave band centre (Hz)")
    for ax in (top, bottom):
        ax.minorticks_off()
        ax.grid(True, alpha=0.3)
    bottom.set_xticks(centres_hz, [f"{c:.0f}" for c in centres_hz], fontsize="small")
    return fig
