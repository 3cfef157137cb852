"""Signal processing and file formats for playing filter banks: NumPy and SciPy, never JAX.

The DSP (upmix, partitioned and head-tracked convolution, volume-aware convolution over a
headroom ladder, the look-ahead limiter, resampling, sine sweeps and their deconvolution)
and the formats (filter banks, tracked banks, ladders, sound files, pose tracks, exports).
What talks to a live audio server, a terminal or a device is in ``device``.

The names below load their module on first use (PEP 562), so a script that imports one
module of the package (an argument parser wanting a constant) pays for that module only.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The function upmix shares its module's name, which importing renderer.upmix would bind
# here in its place: bound first (NumPy only, as cheap as the package itself).
from renderer.upmix import Upmixer, mid_side, upmix

_LAZY = {
    "convolver": ("Convolver", "convolve_offline"),
    "export": ("export_bank", "export_ladder"),
    "filterbank": ("FilterBank", "read_filterbank", "write_filterbank"),
    "headroom": ("choose_rung", "headroom_db"),
    "ladder": ("Ladder", "read_filters", "read_ladder", "write_ladder"),
    "limiter": ("Limiter",),
    "poses": ("PoseTrack", "read_poses"),
    "preview": ("ear_filters",),
    "render": ("RenderReport", "render_file"),
    "resample": ("Resampler",),
    "tracked": ("TrackedConvolver",),
    "trackedbank": ("TrackedBank", "nearest_cells", "read_bank", "read_trackedbank",
                    "write_trackedbank"),
    "volume": ("LadderConvolver", "VolumeControl"),
}
_HOME = {name: module for module, names in _LAZY.items() for name in names}

__all__ = sorted([*_HOME, "Upmixer", "mid_side", "upmix"])


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` on first use and keep the name here."""
    if name not in _HOME:
        raise AttributeError(f"module 'renderer' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"renderer.{_HOME[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # the same names, spelled out for type checkers
    from renderer.convolver import Convolver, convolve_offline
    from renderer.export import export_bank, export_ladder
    from renderer.filterbank import FilterBank, read_filterbank, write_filterbank
    from renderer.headroom import choose_rung, headroom_db
    from renderer.ladder import Ladder, read_filters, read_ladder, write_ladder
    from renderer.limiter import Limiter
    from renderer.poses import PoseTrack, read_poses
    from renderer.preview import ear_filters
    from renderer.render import RenderReport, render_file
    from renderer.resample import Resampler
    from renderer.tracked import TrackedConvolver
    from renderer.trackedbank import (TrackedBank, nearest_cells, read_bank, read_trackedbank,
                                      write_trackedbank)
    from renderer.volume import LadderConvolver, VolumeControl
