"""One self-contained HTML report per robustness run: tables of the metrics with every
design side by side, the figures embedded as base64 PNGs, the per-position table and,
when the run has one, the room study.

``metrics`` is the object that ``scripts/robustness.py`` writes to ``metrics.json``:
``run`` (settings), ``designs`` ({name: {"heldout": {...}, "study": {...}}}),
``positions`` (rows of the primary design) and optionally ``room``
({name: {figure: value}} or any JSON object).
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from common.atomic import atomic_output

_STYLE = """
body { font-family: sans-serif; margin: 2em; max-width: 1200px; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; display: block; margin: 1em 0; }
"""


def _fmt(value) -> str:
    if isinstance(value, bool) or value is None:
        return html.escape(str(value))
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, (list, tuple)):
        return " / ".join(_fmt(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{html.escape(str(k))}: {_fmt(v)}" for k, v in value.items())
    return html.escape(str(value))


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def designs_table(designs: dict[str, dict], section: str) -> str:
    """Figures of ``section`` ("heldout" or "study") as rows, designs as columns."""
    keys: list[str] = []
    for design in designs.values():
        keys += [k for k in design.get(section, {}) if k not in keys]
    rows = [[key] + [d.get(section, {}).get(key, "-") for d in designs.values()] for key in keys]
    return _table(["figure"] + list(designs), rows)


def model_gap_table(gap: dict[str, dict]) -> str:
    """Per design: the held-out figures in each driver model (``*``: not trained on), the
    least favourable model's and the gap (training models minus held-out models)."""
    parts = []
    for design, g in gap.items():
        models = list(g["by_model"])
        header = ["figure"] + [m if m in g["training_models"] else m + "*" for m in models] + \
            ["least favourable", "gap (trained - held out)"]
        keys = [k for k, v in g["least_favourable"].items() if isinstance(v, (int, float))]
        rows = [[k] + [g["by_model"][m].get(k, "-") for m in models] +
                [g["least_favourable"][k], g["gap"].get(k, "-")] for k in keys]
        parts += [f"<h3>{html.escape(design)}</h3>", _table(header, rows)]
    return "\n".join(parts)


def _room_section(room) -> str:
    if isinstance(room, dict) and room and all(isinstance(v, dict) for v in room.values()):
        return designs_table({name: {"room": v} for name, v in room.items()}, "room")
    return f"<pre>{html.escape(json.dumps(room, indent=1))}</pre>"


def build_html(metrics: dict, images: list[tuple[str, Path]]) -> str:
    """The report as one HTML string; ``images`` are (caption, PNG path) pairs."""
    run = metrics.get("run", {})
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>soundstage robustness: "
             f"{html.escape(str(run.get('filters', '')))}</title><style>{_STYLE}</style></head><body>",
             "<h1>soundstage robustness report</h1>",
             _table(["setting", "value"], [[k, v] for k, v in run.items()])]
    designs = metrics.get("designs", {})
    parts += ["<h2>Held-out grid (lateral x distance x yaw, never trained on)</h2>",
              designs_table(designs, "heldout"),
              "<h2>Listening-area study</h2>", designs_table(designs, "study")]
    if metrics.get("model_gap"):
        parts += ["<h2>Driver models: the figures in models the bank was not trained on</h2>",
                  model_gap_table(metrics["model_gap"])]
    if "tracked" in metrics:
        t = metrics["tracked"]
        parts += ["<h2>Head tracking (ideal: every head of the map with its nearest cell)</h2>",
                  _table(["figure", "value"], [["cells", len(t["cells"])]] + [
                      [k, t[k]] for k in ("nominal_cell", "separation_map_median_db",
                                          "separation_map_worst_db", "zone_area_m2")])]
    parts.append("<h2>Figures</h2>")
    for caption, path in images:
        data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        parts.append(f"<h3>{html.escape(caption)}</h3><img alt='{html.escape(caption)}' "
                     f"src='data:image/png;base64,{data}'>")
    if "room" in metrics:
        parts += ["<h2>Room</h2>", _room_section(metrics["room"])]
    positions = metrics.get("positions", [])
    if positions:
        header = list(positions[0])
        parts += ["<h2>Per position (primary design)</h2><details><summary>"
                  f"{len(positions)} heads</summary>",
                  _table(header, [[row[k] for k in header] for row in positions]), "</details>"]
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(path: str | Path, metrics: dict, images: list[tuple[str, Path]]) -> Path:
    """Write the HTML report atomically; returns the path."""
    text = build_html(metrics, images)
    with atomic_output(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return Path(path)
