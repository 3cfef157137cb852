"""The bottom layer: what every package shares. It imports nothing of the project.

- ``common.errors``: :class:`InputError`, the one error type for bad input;
- ``common.atomic``: atomic file output (a reader never sees a half-written file);
- ``common.poses``: head poses and the pose distance of CONVENTIONS.md (tracked banks).

NumPy and the standard library only, so raising an error or writing a file loads no
physics; every other package may import it.
"""
