"""Real-time rendering of trained filter banks: NumPy and SciPy only, never JAX."""

from renderer.convolver import Convolver, convolve_offline
from renderer.export import export_bank, headroom_db
from renderer.filterbank import FilterBank, read_filterbank, write_filterbank
from renderer.ladder import Ladder, choose_rung, read_filters, read_ladder, write_ladder
from renderer.limiter import Limiter
from renderer.poses import PoseTrack, read_poses
from renderer.preview import ear_filters
from renderer.render import RenderReport, render_file
from renderer.resample import Resampler
from renderer.tracked import TrackedConvolver
from renderer.trackedbank import (TrackedBank, nearest_cells, read_bank, read_trackedbank,
                                  write_trackedbank)
from renderer.upmix import Upmixer, mid_side, upmix
from renderer.volume import LadderConvolver, VolumeControl

__all__ = [
    "Convolver", "FilterBank", "Ladder", "LadderConvolver", "Limiter", "PoseTrack",
    "RenderReport", "Resampler", "TrackedBank", "TrackedConvolver", "Upmixer", "VolumeControl",
    "choose_rung", "convolve_offline", "ear_filters", "export_bank", "headroom_db", "mid_side",
    "nearest_cells", "read_bank", "read_filterbank", "read_filters", "read_ladder", "read_poses",
    "read_trackedbank", "render_file", "upmix", "write_filterbank", "write_ladder",
    "write_trackedbank",
]
