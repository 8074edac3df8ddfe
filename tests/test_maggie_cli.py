"""train / finetune / run --engine maggie / models export, as a user runs them (real processes).

One tiny network (TINY config, all random, 2 steps) carries through every command, so the chain
is checked end to end in about a minute; quality is test_maggie_train's and docs/maggie.md's job.
"""

from __future__ import annotations

import pytest
from conftest import run_cli, run_cli_in_process

from vfxmatte.demo import make_demo_shot
from vfxmatte.engines.maggie import checkpoint
from vfxmatte.errors import ExitCode
from vfxmatte.io.images import read_image


def _one_line_error(proc, code, needle):
    assert proc.returncode == int(code), proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert needle in lines[0], lines[0]


@pytest.mark.integration
def test_train_resume_finetune_run_export(tmp_path):
    shot = make_demo_shot(tmp_path / "shot", frames=3, width=96, height=64)
    ckpt = tmp_path / "toy.safetensors"
    common = ["--device", "cpu", "--threads", "1"]
    proc = run_cli(
        "train", "--toy", "2", "--tiny", "--init", "none", "--steps", "2", "--batch", "1",
        "--crop", "32", "--long-side", "96", "--out", ckpt, *common,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "step 2/2" in proc.stdout and checkpoint.load(ckpt).step == 2
    proc = run_cli(
        "train", "--toy", "2", "--steps", "3", "--batch", "1", "--crop", "32",
        "--resume", ckpt, "--out", ckpt, *common,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert checkpoint.load(ckpt).step == 3

    masks = [a for name, p in shot.masks.items() for a in ("--mask", f"{name}={p}")]
    truths = [a for name, p in shot.truth.items() for a in ("--truth", f"{name}={p}")]
    first = shot.frames[0]
    frames = f"{first},{shot.frames[-1]}"
    shot_ckpt = tmp_path / "shot.safetensors"
    proc = run_cli(
        "finetune", "--plate", shot.plate, *masks, *truths, "--frames", frames,
        "--init", ckpt, "--steps", "2", "--batch", "1", "--crop", "32", "--long-side", "96",
        "--out", shot_ckpt, *common,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    meta = checkpoint.load(shot_ckpt).metadata
    assert meta["maggie:long_side"] == "96" and "frames" in meta["maggie:finetune"]

    out = tmp_path / "out" / "m.####.exr"
    proc = run_cli(
        "run", "--plate", shot.plate, *masks, "--engine", "maggie", "--weights", shot_ckpt,
        "--out", out, *common,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    img = read_image(tmp_path / "out" / f"m.{first}.exr")
    assert {f"{n}.A" for n in shot.masks} <= set(img.channels)

    onnx = tmp_path / "shot.onnx"
    proc = run_cli("models", "export", "--weights", shot_ckpt, "--out", onnx, "--size", "96x64")
    assert proc.returncode == 0, proc.stderr
    assert onnx.stat().st_size > 100_000


@pytest.mark.integration
def test_user_mistakes_are_one_line_errors(tmp_path, one_torch_thread):
    # Refused before any work: in this process (same entry point, output captured down to the
    # file descriptors), without three process starts.
    shot = make_demo_shot(tmp_path / "shot", frames=1, width=64, height=48)
    masks = [a for name, p in shot.masks.items() for a in ("--mask", f"{name}={p}")]
    proc = run_cli_in_process(
        "run", "--plate", shot.plate, *masks, "--engine", "maggie", "--device", "cpu",
        "--out", tmp_path / "o.####.exr",
    )  # fmt: skip
    _one_line_error(proc, ExitCode.BAD_ARGUMENTS, "--weights")
    proc = run_cli_in_process(
        "models", "export", "--weights", tmp_path / "no.safetensors", "--out", "x.onnx"
    )
    _one_line_error(proc, ExitCode.BAD_ARGUMENTS, "no such file")
    proc = run_cli_in_process(
        "finetune", "--plate", shot.plate, *masks, "--truth", "nobody=x.####.exr",
        "--frames", str(shot.frames[0]), "--out", tmp_path / "s.safetensors",
    )  # fmt: skip
    _one_line_error(proc, ExitCode.BAD_ARGUMENTS, "--truth nobody")
