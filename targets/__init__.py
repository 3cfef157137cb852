"""Design targets: cancellation gain curve, centre beam pattern, reference-stereo virtualization."""

from targets.beam import BeamTarget, desired_pattern, harmonic_pattern, mask_pattern
from targets.cancellation import SEPARATION_BAND_HZ, CancellationTarget, cancellation_gain_db
from targets.effort import EFFORT_REF_BAND_HZ, EffortTarget
from targets.virtual import (ILD_BAND_HZ, ITD_BAND_HZ, VirtualSource, contra_response, fit_virtual_source, ipsi_response,
                             virtual_ears)

__all__ = ["EFFORT_REF_BAND_HZ", "ILD_BAND_HZ", "ITD_BAND_HZ", "SEPARATION_BAND_HZ", "BeamTarget", "CancellationTarget",
           "EffortTarget", "VirtualSource", "cancellation_gain_db",
           "contra_response", "desired_pattern", "fit_virtual_source", "harmonic_pattern",
           "ipsi_response", "mask_pattern", "virtual_ears"]
