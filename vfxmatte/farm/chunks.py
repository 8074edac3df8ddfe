"""Cut a shot's frames into farm chunks, each with the pre-roll its temporal engine needs.

A chunk is a run of consecutive frames of the shot's frame list. A temporal engine starts each
chunk cold, so a chunk may ask the pipeline to pre-roll (run, but not write) up to ``preroll``
frames before its first frame; the first chunk of a shot gets none, exactly as a single
``vfxmatte run`` over the whole shot would, so chunked and unchunked results agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from vfxmatte.errors import BadArgumentError
from vfxmatte.jobspec import JobSpec
from vfxmatte.sequence import format_frames


@dataclass(frozen=True)
class Chunk:
    """Frames of one farm task, and how many frames before them to pre-roll."""

    index: int
    frames: tuple[int, ...]
    preroll: int = 0

    @property
    def label(self) -> str:
        return format_frames(list(self.frames))


def split_frames(frames: list[int], chunk_size: int, preroll: int = 0) -> list[Chunk]:
    """Consecutive chunks of at most ``chunk_size`` frames of ``frames`` (kept in order).

    The pre-roll of a chunk never reaches before the shot's first frame.
    """
    if chunk_size < 1:
        raise BadArgumentError(f"--chunk-size {chunk_size}: give at least 1 frame per chunk")
    if preroll < 0:
        raise BadArgumentError(f"--preroll {preroll}: give 0 or more frames")
    ordered = sorted(set(frames))
    return [
        Chunk(i, tuple(ordered[start : start + chunk_size]), min(preroll, start))
        for i, start in enumerate(range(0, len(ordered), chunk_size))
    ]


def chunk_spec(spec: JobSpec, chunk: Chunk) -> JobSpec:
    """The ``vfxmatte run`` spec of one chunk: the shot's spec on the chunk's frames, resuming."""
    return spec.model_copy(
        update={
            "frames": format_frames(list(chunk.frames)),
            "skip_existing": True,
            "preroll": chunk.preroll,
        }
    )


def uniform_runs(frames: list[int]) -> list[tuple[int, int, int]]:
    """Split frames into maximal (start, end, step) runs: what a ``start-end`` farm range plus a
    step can express (1001-1100x2 is one run; 1-10,20-30 is two)."""
    ordered = sorted(set(frames))
    runs: list[tuple[int, int, int]] = []
    i = 0
    while i < len(ordered):
        if i + 1 == len(ordered):
            runs.append((ordered[i], ordered[i], 1))
            break
        step = ordered[i + 1] - ordered[i]
        j = i + 1
        while j + 1 < len(ordered) and ordered[j + 1] - ordered[j] == step:
            j += 1
        runs.append((ordered[i], ordered[j], step))
        i = j + 1
    return runs
