"""Signal processing and file formats for playing filter banks: NumPy and SciPy, never JAX.

The DSP (upmix, partitioned and head-tracked convolution, resampling, sine sweeps and their
deconvolution) and the formats (filter banks, tracked banks, sound files, pose tracks,
exports). What talks to a live audio server or a device is in ``device``.
"""

from renderer.convolver import Convolver, convolve_offline
from renderer.export import export_bank, headroom_db
from renderer.filterbank import FilterBank, read_filterbank, write_filterbank
from renderer.poses import PoseTrack, read_poses
from renderer.preview import ear_filters
from renderer.render import RenderReport, render_file
from renderer.resample import Resampler
from renderer.tracked import TrackedConvolver
from renderer.trackedbank import (TrackedBank, nearest_cells, read_bank, read_trackedbank,
                                  write_trackedbank)
from renderer.upmix import Upmixer, mid_side, upmix

__all__ = [
    "Convolver", "FilterBank", "PoseTrack", "RenderReport", "Resampler", "TrackedBank",
    "TrackedConvolver", "Upmixer", "convolve_offline", "ear_filters", "export_bank",
    "headroom_db", "mid_side", "nearest_cells", "read_bank", "read_filterbank", "read_poses",
    "read_trackedbank", "render_file", "upmix", "write_filterbank", "write_trackedbank",
]
