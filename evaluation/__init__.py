"""Evaluation of filter banks: metrics, held-out studies, plots and reports (NumPy only)."""
