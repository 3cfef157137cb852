"""Real-time rendering of trained filter banks: NumPy and SciPy only, never JAX."""

from renderer.filterbank import FilterBank, read_filterbank, write_filterbank

__all__ = ["FilterBank", "read_filterbank", "write_filterbank"]
