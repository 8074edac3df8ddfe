"""`vfxmatte bench` on a tiny generated shot: the real Job, timed in a subprocess."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from vfxmatte import bench
from vfxmatte.errors import BadArgumentError


def test_parse_resolution():
    assert bench.parse_resolution("4k") == (3840, 2160)
    assert bench.parse_resolution("2K") == (2048, 1080)
    assert bench.parse_resolution("192x108") == (192, 108)
    with pytest.raises(BadArgumentError, match="--resolution 8k"):
        bench.parse_resolution("8k")


def test_extra_people_are_composited_figures_without_wrap(tmp_path):
    """Extra people are the front figure composited elsewhere (image edges where the mask is),
    inside the frame; masks behind a copy lose what it covers; the rest of the plate is as drawn."""
    from vfxmatte.bench_crowd import SOURCE, offsets, shifted
    from vfxmatte.io.images import read_image

    shot = bench.ensure_shot(tmp_path, 384, 216, 1, 4)
    two = bench.ensure_shot(tmp_path, 384, 216, 1, 2)
    assert list(shot["masks"]) == ["person01", "person02", "person03", "person04"]
    at = lambda p: p.replace("####", f"{shot['frames'][0]:04d}")  # noqa: E731
    truth_path = Path(two["plate"]).parents[1] / "truth" / f"{SOURCE}.####.png"
    truth = cv2.imread(at(str(truth_path)), cv2.IMREAD_UNCHANGED) / 65535.0
    source_mask = cv2.imread(at(two["masks"][SOURCE]), 0)
    plate = read_image(at(shot["plate"]), "plate").pixels
    drawn = read_image(at(two["plate"]), "plate").pixels
    dxs = offsets(truth, 2)
    assert len(set(dxs)) == 2 and 0 not in dxs
    for dx in dxs:  # no wrap-around: the whole figure is still there
        assert np.count_nonzero(shifted(truth, dx) > 0) == np.count_nonzero(truth > 0)
    front = shifted(truth, dxs[1])
    m4 = cv2.imread(at(shot["masks"]["person04"]), 0)
    assert np.array_equal(m4, shifted(source_mask, dxs[1]))  # nobody stands in front of it
    solid = front >= 1.0
    assert solid.sum() > 100
    assert np.array_equal(plate[solid], shifted(drawn, dxs[1])[solid])  # its own pixels
    nobody = (shifted(truth, dxs[0]) == 0) & (front == 0)
    assert np.array_equal(plate[nobody], drawn[nobody])
    m3 = cv2.imread(at(shot["masks"]["person03"]), 0)
    assert not m3[front > 0.5].any()  # covered by the copy in front
    # Cached: a second call reuses the files (same description, no regeneration).
    assert bench.ensure_shot(tmp_path, 384, 216, 1, 4) == shot
    assert list(bench.ensure_shot(tmp_path, 384, 216, 1, 1)["masks"]) == ["person01"]


def test_repeated_runs_keep_medians_and_the_memory_peak():
    config = bench.BenchConfig("hd", 1920, 1080, "guided", "cpu", 2, 2)
    runs = [
        bench.BenchResult(config, ok=True, wall_s=w, peak_rss_mib=m, stage_s={"engine": w})
        for w, m in ((3.0, 900), (1.0, 1200), (2.0, 1000))
    ]
    out = bench.median_result(runs)
    assert out.wall_s == 2.0 and out.stage_s["engine"] == 2.0 and out.peak_rss_mib == 1200
    assert out.runs_wall_s == [3.0, 1.0, 2.0]
    failed = bench.BenchResult(config, ok=False, error="exit 1: boom")
    assert bench.median_result([*runs, failed]).error == "exit 1: boom"


def test_bench_cli_small_shot(tmp_path, cli):
    out = tmp_path / "bench.json"
    r = cli("bench", "--resolution", "192x108", "--frames", "2", "--people", "3",
            "--engine", "guided", "--device", "cpu", "--cache", tmp_path / "cache",
            "--json", out)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "| 192x108 192x108 | guided | cpu" in r.stdout
    payload = json.loads(out.read_text())
    (result,) = payload["results"]
    assert result["ok"], result["error"]
    assert result["config"]["people"] == 3 and len(result["frame_s"]) == 2
    assert set(result["stage_s"]) == set(bench.STAGES)
    assert all(result["stage_s"][s] > 0 for s in ("read", "colour", "engine", "write"))
    assert result["fps"] > 0 and result["cuda_max_allocated_mib"] is None
    # end to end per frame, and the I/O floor (decode + encode alone) beside it
    assert result["wall_s"] > 0 and 0 < result["io_floor_s"] < result["wall_s"]
    assert "I/O floor" in r.stdout and "wall s/frame" in r.stdout
    # process CPU time per frame (the figure a shared box does not inflate): no more than
    # every core busy for the whole wall time
    assert 0 < result["cpu_s"] <= result["wall_s"] * (os.cpu_count() or 1)
    assert "CPU s/frame" in r.stdout
    # ru_maxrss of the worker process: at least what torch + numpy take once imported.
    assert result["peak_rss_mib"] >= result["rss_before_mib"] > 50
    # Outputs were written then cleaned up; the generated shot stays cached.
    assert not list((tmp_path / "cache").glob("out_*"))
    assert list((tmp_path / "cache").glob("shot_192x108_f2_p3/plate/*.exr"))


def test_bench_cli_refuses_missing_cuda(tmp_path, cli):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    r = cli("bench", "--device", "cuda", "--json", tmp_path / "b.json")
    assert r.returncode == 2 and "no CUDA device" in r.stderr


def test_peak_rss_counts_this_process_in_mib():
    # In a fresh process (an earlier peak of this one would hide the growth): 64 MiB touched
    # must raise the high-water mark by about 64 MiB.
    import subprocess
    import sys

    from conftest import cli_env

    code = (
        "import numpy as np; from vfxmatte.bench import _rss_mib; b = _rss_mib(); "
        "x = np.ones(64 * 2**20 // 8); print(_rss_mib() - b, x.sum() > 0)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=cli_env(), capture_output=True, text=True, check=True
    ).stdout.split()
    assert 60 <= float(out[0]) <= 80 and out[1] == "True"


@pytest.mark.integration  # pymatting's numba compile takes minutes on a loaded box
def test_closed_form_race_times_both_on_the_same_trimaps(tmp_path, one_torch_thread):
    pytest.importorskip("pymatting")
    config = bench.BenchConfig("192x108", 192, 108, "guided", "cpu", 1, 2)
    race = bench.closed_form_race(config, tmp_path, repeat=1)
    assert race["people"] == 2 and race["frame"] == "192x108"
    assert race["engine_s"] > 0 and race["pymatting_cf_s"] > 0
    assert race["speedup"] == pytest.approx(race["pymatting_cf_s"] / race["engine_s"])
