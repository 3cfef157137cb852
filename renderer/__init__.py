"""Real-time rendering of trained filter banks: NumPy and SciPy only, never JAX."""

from renderer.convolver import Convolver, convolve_offline
from renderer.export import export_bank, headroom_db
from renderer.filterbank import FilterBank, read_filterbank, write_filterbank
from renderer.preview import ear_filters
from renderer.render import RenderReport, render_file
from renderer.resample import Resampler
from renderer.upmix import Upmixer, mid_side, upmix

__all__ = [
    "Convolver", "FilterBank", "RenderReport", "Resampler", "Upmixer", "convolve_offline",
    "ear_filters", "export_bank", "headroom_db", "mid_side", "read_filterbank", "render_file",
    "upmix", "write_filterbank",
]
