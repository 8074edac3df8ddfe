"""Refinement shared by every engine: trimaps, instance consistency, foreground, tiling, time."""
