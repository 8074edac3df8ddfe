"""Synthetic evaluation (and later training) sets in the dev-sets layout, built from a seed.

recipe.py holds every knob (the recipe is written beside the set and rebuilds it byte for byte);
sources.py finds foregrounds (image + alpha) and backgrounds (stills, frame folders, procedural
textures); placement.py scales, places and moves instances and composites them; faults.py turns
each instance's visible alpha into the rough mask a segmenter or a roto artist would hand over;
writers.py writes PNG/JPEG files; build.py ties them together for single, multi and clips.
"""
