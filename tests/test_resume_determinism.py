"""A frame's result depends only on its temporal window: whole runs, resumed jobs and farm chunks
run in any order write the same alphas (issue 15). Smoothing is on (the default strength)."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT, cli_env, run_cli

from vfxmatte.demo import make_demo_shot
from vfxmatte.io.images import read_image

FRAMES = range(1001, 1009)
LAYERS = ("A", "person01.A", "person02.A")


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    return make_demo_shot(tmp_path_factory.mktemp("shot"), frames=8, width=192, height=108)


def _args(shot, out: Path, *extra: str) -> list[str]:
    args = ["run", "--plate", shot.plate, "--out", str(out), "--device", "cpu", "--threads", "1"]
    for name, pattern in shot.masks.items():
        args += ["--mask", f"{name}={pattern}"]
    return [*args, "--progress-lines", *extra]


def _layers(folder: Path) -> dict[int, dict[str, np.ndarray]]:
    return {
        f: {c: read_image(folder / f"m.{f}.exr").channel(c) for c in LAYERS}
        for f in FRAMES
        if (folder / f"m.{f}.exr").exists()
    }


@pytest.fixture(scope="module")
def whole_run(shot, tmp_path_factory) -> dict[int, dict[str, np.ndarray]]:
    folder = tmp_path_factory.mktemp("whole")
    proc = run_cli(*_args(shot, folder / "m.####.exr", "--frames", "1001-1008"))
    assert proc.returncode == 0, proc.stderr
    layers = _layers(folder)
    assert sorted(layers) == list(FRAMES)
    return layers


def _assert_same(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)
    for frame, channels in want.items():
        for name, pixels in channels.items():
            np.testing.assert_array_equal(got[frame][name], pixels, err_msg=f"{frame} {name}")


def test_chunks_out_of_order_and_one_twice_match_the_whole_run(shot, whole_run, tmp_path):
    out = tmp_path / "m.####.exr"
    for frames in ("1005-1008", "1001-1004", "1005-1008"):
        proc = run_cli(*_args(shot, out, "--frames", frames))
        assert proc.returncode == 0, proc.stderr
    _assert_same(_layers(tmp_path), whole_run)


def test_resume_after_gaps_matches_the_whole_run(shot, whole_run, tmp_path):
    out = tmp_path / "m.####.exr"
    for frames in ("1001-1002", "1006"):  # as a killed job leaves them: a run and a lone frame
        assert run_cli(*_args(shot, out, "--frames", frames)).returncode == 0
    resumed = run_cli(*_args(shot, out, "--frames", "1001-1008", "--skip-existing"))
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.count("event=skip") == 3
    assert "temporal lead-in for 1003" in resumed.stdout
    assert "temporal lead-in for 1007" in resumed.stdout
    _assert_same(_layers(tmp_path), whole_run)


@pytest.mark.integration
def test_killed_at_ten_random_points_and_resumed_matches_the_whole_run(shot, whole_run, tmp_path):
    out = tmp_path / "m.####.exr"
    rng = random.Random(15)
    for _ in range(10):
        args = [sys.executable, "-m", "cli.main", *_args(shot, out, "--frames", "1001-1008")]
        proc = subprocess.Popen(
            [*args, "--skip-existing"], cwd=REPO_ROOT, env=cli_env(), stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        stop_after = rng.randint(0, 2)  # frames this attempt may finish before it is killed
        seen = 0
        for line in proc.stdout:
            if "event=frame" in line or "event=preroll" in line:
                seen += 1
                if seen > stop_after:
                    break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    final = run_cli(*_args(shot, out, "--frames", "1001-1008", "--skip-existing"))
    assert final.returncode == 0, final.stderr
    _assert_same(_layers(tmp_path), whole_run)
