"""`vfxmatte run` video features end to end: farm chunks with pre-roll, keyframe gaps, movies."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from conftest import require_or_skip, run_cli, run_cli_in_process

from vfxmatte.demo import make_demo_shot
from vfxmatte.errors import ExitCode
from vfxmatte.io.images import read_image
from vfxmatte.refine.temporal import DEFAULT_WINDOW

# Chunked output must match a whole-range run up to half-float rounding. Why: both runs see the
# same plate, masks, engine output and flow, and the bidirectional smoother votes over the raw
# (unsmoothed) alphas of DEFAULT_WINDOW frames either side only; a chunk mattes the window frames
# around its range that exist (pre-roll or lead-in before, look-ahead after) without writing them.
PREROLL = 4
assert PREROLL >= DEFAULT_WINDOW
HALF_ROUNDING = 1e-3


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vshot")
    demo = make_demo_shot(folder, frames=10, width=240, height=136)
    # Gaps in person02's masks (1004-1007): propagation must fill them identically in chunks.
    for f in range(1004, 1008):
        (folder / "masks" / f"person02.{f}.png").unlink()
    return demo


def _args(shot, out, *extra, plate=None):
    args = ["run", "--plate", plate or shot.plate, "--out", str(out), "--device", "cpu"]
    for name, pattern in shot.masks.items():
        args += ["--mask", f"{name}={pattern}"]
    return [*args, *extra]


def _one_line_error(proc, code, *needles):
    assert proc.returncode == int(code), proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def _layers(path):
    img = read_image(path)
    return {c: img.channel(c) for c in ("A", "person01.A", "person02.A")}


@pytest.mark.integration
def test_two_chunks_with_preroll_match_one_run(shot, tmp_path):
    whole = run_cli(*_args(shot, tmp_path / "whole" / "m.####.exr", "--frames", "1001-1010"))
    assert whole.returncode == 0, whole.stderr
    assert "person02:propagated" in whole.stdout
    chunks = tmp_path / "chunks" / "m.####.exr"
    first = run_cli(*_args(shot, chunks, "--frames", "1001-1005", "--preroll", str(PREROLL)))
    assert first.returncode == 0, first.stderr
    assert "pre-roll: 4 of 4 frame(s) before 1001" in first.stdout  # it says so, and runs
    # nothing exists before 1001; after 1005 the smoother's look-ahead is matted, not written
    assert first.stdout.count("event=preroll") == DEFAULT_WINDOW
    assert first.stdout.count("temporal look-ahead for 1005") == DEFAULT_WINDOW
    kept = {f: (tmp_path / "chunks" / f"m.{f}.exr").stat().st_mtime_ns for f in range(1001, 1006)}
    second = run_cli(*_args(shot, chunks, "--frames", "1006-1010", "--preroll", str(PREROLL)))
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("event=preroll") == PREROLL
    assert second.stdout.count("event=frame") == 5
    for f, mtime in kept.items():  # pre-roll frames are processed, never written
        assert (tmp_path / "chunks" / f"m.{f}.exr").stat().st_mtime_ns == mtime
    for f in range(1006, 1011):
        a = _layers(tmp_path / "whole" / f"m.{f}.exr")
        b = _layers(tmp_path / "chunks" / f"m.{f}.exr")
        for c in a:
            assert np.abs(a[c] - b[c]).max() <= HALF_ROUNDING, (f, c, np.abs(a[c] - b[c]).max())
    for f in range(1001, 1006):  # the first chunk is the whole run's start: identical
        a, b = _layers(tmp_path / "whole" / f"m.{f}.exr"), _layers(chunks.parent / f"m.{f}.exr")
        assert all(np.array_equal(a[c], b[c]) for c in a)
    # Without pre-roll the chunk still matches: the smoother's own lead-in frames are matted
    # first (not written), so a frame depends only on its window, never on where a job starts.
    cold = run_cli(*_args(shot, tmp_path / "cold" / "m.####.exr", "--frames", "1006-1010"))
    assert cold.returncode == 0, cold.stderr
    assert "temporal lead-in for 1006" in cold.stdout
    for f in range(1006, 1011):
        a, b = _layers(tmp_path / "whole" / f"m.{f}.exr"), _layers(tmp_path / "cold" / f"m.{f}.exr")
        assert all(np.abs(a[c] - b[c]).max() <= HALF_ROUNDING for c in a), f


def test_preroll_frames_step_with_the_range_and_stop_at_gaps(shot, tmp_path):
    from vfxmatte.jobspec import JobSpec
    from vfxmatte.pipeline import Job

    def job(frames, preroll):
        spec = JobSpec(plate=shot.plate, out=str(tmp_path / "m.####.exr"), masks=shot.masks,
                       frames=frames, preroll=preroll, device="cpu")  # fmt: skip
        return Job(spec)

    assert job("1007-1009x2", 2).preroll_frames == [1003, 1005]
    assert job("1007-1009", 3).preroll_frames == [1004, 1005, 1006]
    j = job("1003-1004", 4)
    assert j.preroll_frames == [1001, 1002]
    assert "2 of 4 frame(s) before 1003 (999-1000) do not exist; uses 1001-1002" in j.preroll_note


def test_keyframes_outside_the_shot(shot, tmp_path, one_torch_thread):
    # Refused before the first frame: in this process, without two ~4 s process starts.
    proc = run_cli_in_process(
        *_args(shot, tmp_path / "o" / "m.####.exr", "--keyframes", "1001,1200")
    )
    _one_line_error(proc, ExitCode.BAD_ARGUMENTS, "--keyframes 1200", "outside the plate's frames")
    proc = run_cli_in_process(*_args(shot, tmp_path / "o" / "m.####.exr", "--keyframes", "10x"))
    _one_line_error(proc, ExitCode.BAD_ARGUMENTS, "--keyframes")
    assert not (tmp_path / "o").exists()


def test_keyframes_option_propagates_between_them(shot, tmp_path):
    """--keyframes 1001,1010: masks on disk elsewhere are ignored, frames between propagated."""
    out = tmp_path / "o" / "m.####.exr"
    proc = run_cli(*_args(shot, out, "--keyframes", "1001,1010", "--frames", "1001-1002"))
    assert proc.returncode == 0, proc.stderr
    assert "frame=1001 done=1/2 progress=50.0% " in proc.stdout
    assert "masks=person01:ok,person02:ok" in proc.stdout
    assert "masks=person01:propagated,person02:propagated" in proc.stdout
    layers = _layers(tmp_path / "o" / "m.1002.exr")
    truth = read_image(shot.truth["person01"].replace("####", "1002")).single_channel()
    assert layers["person01.A"][truth > 0.99].mean() > 0.9


def _has_ffmpeg() -> bool:
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def _plate_movie(shot, path):
    """Encode the demo plate (scene-linear EXR) as a display-referred ProRes movie."""
    from vfxmatte.io.movie import ProResPreviewWriter

    writer = None
    for f in shot.frames:
        rgb = read_image(shot.plate.replace("####", str(f))).rgb()
        display = np.clip(rgb, 0, 1) ** (1 / 2.2)
        if writer is None:
            writer = ProResPreviewWriter(path, display.shape[1], display.shape[0], 24)
        writer.write(np.dstack([display, np.ones(display.shape[:2])]))
    writer.close()
    return path


def test_movie_plate_and_prores_preview(shot, tmp_path):
    require_or_skip(_has_ffmpeg(), "ffmpeg/ffprobe not installed (apt-get install -y ffmpeg)")
    movie = _plate_movie(shot, tmp_path / "plate.mov")
    out = tmp_path / "o" / "m.####.exr"
    preview = tmp_path / "o" / "review.mov"
    proc = run_cli(
        *_args(shot, out, "--frames", "1001-1003", "--preview", str(preview), plate=str(movie))
    )
    assert proc.returncode == 0, proc.stderr
    for f in (1001, 1003):
        layers = _layers(tmp_path / "o" / f"m.{f}.exr")
        truth = read_image(shot.truth["person01"].replace("####", str(f))).single_channel()
        assert layers["person01.A"][truth > 0.99].mean() > 0.9
        assert layers["person01.A"][truth < 0.01].mean() < 0.05
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,profile,nb_read_frames",
            "-of",
            "default=nw=1",
            str(preview),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "codec_name=prores" in probe and "profile=4444" in probe
    assert "nb_read_frames=3" in probe
    # Frame numbers follow --start-frame.
    proc = run_cli(*_args(shot, out, "--frames", "1001", "--start-frame", "1", plate=str(movie)))
    _one_line_error(proc, ExitCode.MISSING_INPUT, "1001", "frames 1-10", "--start-frame")


def test_movie_ffmpeg_cannot_decode(shot, tmp_path, one_torch_thread):
    require_or_skip(_has_ffmpeg(), "ffmpeg/ffprobe not installed (apt-get install -y ffmpeg)")
    bad = tmp_path / "broken.mov"
    bad.write_bytes(b"\x00\x00\x00\x18ftypqt  " + bytes(range(256)) * 40)
    proc = run_cli_in_process(*_args(shot, tmp_path / "o" / "m.####.exr", plate=str(bad)))
    _one_line_error(proc, ExitCode.MISSING_INPUT, "broken.mov", "cannot be decoded by ffmpeg")


def test_preview_must_be_a_mov(shot, tmp_path, one_torch_thread):
    proc = run_cli_in_process(
        *_args(shot, tmp_path / "o" / "m.####.exr", "--frames", "1001", "--preview", "x.mp4")
    )
    _one_line_error(proc, ExitCode.BAD_ARGUMENTS, "--preview", ".mov")
