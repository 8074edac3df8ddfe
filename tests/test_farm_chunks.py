"""Chunking: sizes, pre-roll clamped at the shot start, and the per-chunk run spec."""

from __future__ import annotations

import pytest

from vfxmatte.errors import BadArgumentError
from vfxmatte.farm.chunks import chunk_spec, split_frames, uniform_runs
from vfxmatte.jobspec import JobSpec


def test_split_with_preroll():
    chunks = split_frames(list(range(1001, 1011)), 4, preroll=3)
    assert [c.frames for c in chunks] == [
        (1001, 1002, 1003, 1004),
        (1005, 1006, 1007, 1008),
        (1009, 1010),
    ]
    assert [c.preroll for c in chunks] == [0, 3, 3]
    assert split_frames([5, 3, 4, 4], 2, preroll=5)[1].preroll == 2  # never before the shot


def test_split_refuses_bad_sizes():
    with pytest.raises(BadArgumentError):
        split_frames([1, 2], 0)
    with pytest.raises(BadArgumentError):
        split_frames([1, 2], 1, preroll=-1)


def test_uniform_runs():
    assert uniform_runs(list(range(1001, 1101, 2))) == [(1001, 1099, 2)]
    assert uniform_runs([*range(1, 11), *range(20, 31)]) == [(1, 10, 1), (20, 30, 1)]
    assert uniform_runs([7]) == [(7, 7, 1)]


def test_chunk_spec_resumes_and_passes_preroll():
    spec = JobSpec(plate="p.####.exr", out="o.####.exr", masks={"a": "a.####.png"}, frames="1-9")
    chunk = split_frames(list(range(1, 10)), 4, preroll=2)[1]
    out = chunk_spec(spec, chunk)
    assert out.frames == "5-8" and out.skip_existing and out.preroll == 2


def test_run_arguments_hand_the_task_the_spec_itself():
    import json

    from vfxmatte.farm.command import run_arguments

    spec = JobSpec(
        plate="/p/plate.####.exr",
        out="/o/m.####.exr",
        masks={"person01": "/m/a b.####.png"},
        engine_options={"search_k": 0.5, "two_pass": False},
        colorspace="ACEScg",
        full_frame=True,
        temporal_strength=0.3,
        keyframes=[1, 4],
    )
    args = run_arguments(spec, frames="#FRAME_START#-#FRAME_END#", preroll=2)
    assert args[0] == "--job"
    assert JobSpec.model_validate(json.loads(args[1])) == spec  # every field, defaults included
    assert args[2:] == [
        "--frames", "#FRAME_START#-#FRAME_END#", "--preroll", "2",
        "--skip-existing", "--progress-lines",
    ]  # fmt: skip
