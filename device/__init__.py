"""Everything that talks to a live audio server or a device, above the NumPy renderer.

- ``device.jackplay``: playback through a JACK server, the process callback;
- ``device.live``: the real-time block renderers that callback drives (no allocation);
- ``device.readahead``: a sound file decoded ahead of the callback, real-time threads;
- ``device.osc_poses``: live head poses over OSC (UDP) for tracked banks;
- ``device.playrec``: play and record in the same JACK cycles (measurements);
- ``device.measurement``: driver-by-driver sweep measurement through a play-record path.

The DSP these use (convolvers, upmix, sweeps and their deconvolution) and every file
format stay in ``renderer``, testable without a server. Nothing is imported here, so
``import device`` is free, and the ``jack`` module loads only when a client connects.
"""
