"""`vfxmatte eval --against`: a run's clips scored against a reference run (issue 15's table)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from vfxmatte.errors import BadArgumentError, MissingInputError
from vfxmatte.evaluation.against import compare_runs, load_reference

H, W = 48, 64


def _results(mads: dict[str, list[float]], dtssd: float) -> dict:
    """A minimal results.json: one clip, one method, per-frame per-instance MAD."""
    frames = len(next(iter(mads.values())))
    samples = [
        {
            "key": f"c/{t:04d}",
            "clip": "c",
            "methods": {"m": {"instances": {n: {"mad": v[t]} for n, v in mads.items()}}},
        }
        for t in range(frames)
    ]
    return {"methods": [{"name": "m"}], "samples": samples, "clips": {"c": {"m": {"dtssd": dtssd}}}}


def test_compare_runs_worst_frame_and_verdict():
    ref = _results({"a": [10.0, 10.0, 4.0], "b": [2.0, 2.0, 2.0]}, dtssd=8.0)
    cur = _results({"a": [9.0, 8.0, 4.5], "b": [1.0, 1.0, 1.0]}, dtssd=6.0)
    row = compare_runs(cur, ref)["methods"]["m"]
    clip = row["clips"]["c"]
    assert clip["dtssd_change"] == pytest.approx(-0.25)
    assert clip["mad"]["a"] == pytest.approx([8.0, 7.1666667])
    # frame 2: (4.5 + 1) / (4 + 2); instance a on frame 2: 4.5 / 4
    assert clip["worst_frame"] == "c/0002"
    assert clip["worst_frame_mad_ratio"] == pytest.approx(5.5 / 6.0)
    assert clip["worst_instance_frame_mad_ratio"] == pytest.approx(1.125)
    assert row["all"]["mad_lower_every_instance"]
    worse = _results({"a": [9.0, 8.0, 4.5], "b": [3.0, 3.0, 1.0]}, dtssd=9.0)
    verdict = compare_runs(worse, ref)["methods"]["m"]["all"]
    assert verdict["dtssd_change_worst"] == pytest.approx(0.125)
    assert not verdict["mad_lower_every_instance"]  # b: 2.0 -> 2.33 (a is lower)
    assert verdict["worst_frame_mad_ratio"] == pytest.approx(1.0)  # frame 0: (9 + 3) / (10 + 2)


def _clip(root, frames: int = 4):
    """A soft disc moving over a ramp; the rough mask jitters by a pixel from frame to frame."""
    yy, xx = np.mgrid[:H, :W].astype(np.float32)
    for f in range(frames):
        alpha = np.clip(14 - np.hypot(xx - 24 - 2 * f, yy - 24), 0, 1)
        bg = np.stack([xx / W, yy / H, 0.5 + 0 * xx], -1)
        img = alpha[..., None] * np.array([0.9, 0.3, 0.2]) + (1 - alpha[..., None]) * bg
        rough = np.roll(alpha > 0.5, (f % 2, 0), (0, 1)).astype(np.uint8) * 255
        (root / "frames").mkdir(parents=True, exist_ok=True)
        for sub, a in (("alphas", alpha * 255), ("masks", rough)):
            (root / sub / f"{f:04d}").mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / sub / f"{f:04d}" / "00.png"), np.rint(a).astype(np.uint8))
        cv2.imwrite(str(root / "frames" / f"{f:04d}.png"), np.rint(img[..., ::-1] * 255))
    return root


def test_eval_cli_against_reference_run(tmp_path, cli):
    clip = _clip(tmp_path / "clip_m")
    common = ("--engine", "none", "--baseline", "mask", "--sheet-rows", "0", "--threads", "1")
    ref = cli("eval", clip, "--out", tmp_path / "off", "--temporal-strength", "0", *common)
    assert ref.returncode == 0, ref.stderr
    run = cli("eval", clip, "--out", tmp_path / "on", "--temporal-strength", "0.9",
              "--against", tmp_path / "off", *common)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "worst frame MAD ratio" in run.stdout and "| clip_m | mask |" in run.stdout
    results = json.loads((tmp_path / "on" / "results.json").read_text())
    row = results["against"]["methods"]["mask"]["clips"]["clip_m"]
    assert row["frames"] == 4 and set(row["mad"]) == {"00"}
    off = json.loads((tmp_path / "off" / "results.json").read_text())
    assert row["dtssd"][0] == pytest.approx(off["clips"]["clip_m"]["mask"]["dtssd"])


def test_against_missing_reference_is_a_one_line_error(tmp_path):
    with pytest.raises(MissingInputError, match="--against .*run `vfxmatte eval`"):
        load_reference(tmp_path / "nope")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(BadArgumentError, match="not a readable results.json"):
        load_reference(tmp_path / "bad.json")
