"""Render-farm backends: a validated shot list, cut into chunks, run on Dask or OpenCue.

Every chunk runs the same code path as ``vfxmatte run`` with ``--skip-existing``, so a chunk
retried after a crash, or a whole job resubmitted, only finishes what is missing.
"""
