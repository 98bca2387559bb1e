"""Reproducible speed and memory measurements (``make bench``), printed as tables."""
