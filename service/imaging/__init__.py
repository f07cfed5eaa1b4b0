"""Slices of stored volumes as images: gray PNGs and class activation overlays."""
