"""Chunking: sizes, pre-roll clamped at the shot start, and the per-chunk run spec."""

from __future__ import annotations

import pytest

from vfxmatte.errors import BadArgumentError
from vfxmatte.farm.chunks import chunk_spec, split_frames, supports_preroll, uniform_runs
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


def test_chunk_spec_resumes_and_passes_preroll_when_known():
    spec = JobSpec(plate="p.####.exr", out="o.####.exr", masks={"a": "a.####.png"}, frames="1-9")
    chunk = split_frames(list(range(1, 10)), 4, preroll=2)[1]
    out = chunk_spec(spec, chunk)
    assert out.frames == "5-8" and out.skip_existing
    if supports_preroll():
        assert out.preroll == 2  # type: ignore[attr-defined]
    else:
        assert "preroll" not in out.model_dump()


def test_run_arguments_round_trip_and_refuse_unknown_fields():
    from vfxmatte.errors import BadArgumentError as Bad
    from vfxmatte.farm.command import run_arguments

    spec = JobSpec(
        plate="/p/plate.####.exr",
        out="/o/m.####.exr",
        masks={"person01": "/m/a b.####.png"},
        engine_options={"band": 0.02, "fine": True},
        colorspace="ACEScg",
        full_frame=True,
    )
    args = run_arguments(spec, frames="1-4")
    assert args[:4] == ["--plate", "/p/plate.####.exr", "--out", "/o/m.####.exr"]
    assert ["--mask", "person01=/m/a b.####.png"] == args[4:6]
    for pair in (["--engine-option", "band=0.02"], ["--engine-option", "fine=true"],
                 ["--frames", "1-4"], ["--colorspace", "ACEScg"]):  # fmt: skip
        i = args.index(pair[1])
        assert args[i - 1] == pair[0]
    assert "--full-frame" in args and args[-2:] == ["--skip-existing", "--progress-lines"]

    video = run_arguments(spec.model_copy(update={"temporal_strength": 0.3, "keyframes": [1, 4]}))
    assert video[video.index("--temporal-strength") + 1] == "0.3"
    assert video[video.index("--keyframes") + 1] == "1,4"

    class Later(JobSpec):  # a field JobSpec may gain later, with no option here
        denoise: float = 0.5

    run_arguments(Later(**spec.model_dump()))  # at its default: fine
    with pytest.raises(Bad, match="denoise"):
        run_arguments(Later(**spec.model_dump(), denoise=0.9))
