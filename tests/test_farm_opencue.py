"""The OpenCue job spec, checked offline (no Cuebot can run here): layers, ranges, chunks,
commands, GPU booking; and a layer command actually runs as `vfxmatte run` for one chunk."""

from __future__ import annotations

import importlib.util
import json
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import REPO_ROOT, cli_env, require_or_skip
from farm_helpers import demo_shots, shot_entry, write_shot_list

from vfxmatte.io.images import exr_is_complete


@pytest.fixture(scope="module")
def shot_list(tmp_path_factory):
    root = tmp_path_factory.mktemp("cue")
    a, b = demo_shots(root, [5, 4], width=96, height=64)
    return write_shot_list(
        root / "shots.yaml",
        [
            shot_entry(a, "sh010", "out/sh010/m.####.exr"),
            shot_entry(b, "sh020", "out/sh020/m.####.exr", frames="1001-1004x2", device="cuda"),
            shot_entry(b, "sh030", "out/sh030/m.####.exr", frames="1001-1002,1004", chunk_size=1),
        ],
    )


def _spec(cli, shot_list: Path, *extra: str) -> ET.Element:
    require_or_skip(
        importlib.util.find_spec("outline") is not None, "opencue-pyoutline not installed"
    )
    out = shot_list.parent / "job.xml"
    proc = cli(
        "farm", "submit", shot_list, "--backend", "opencue", "--dry-run", "--spec-out", out,
        "--chunk-size", "2", "--show", "vfx", "--job-name", "mattes_v1", *extra,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert text.startswith('<?xml version="1.0"?><!DOCTYPE spec')
    return ET.fromstring(text.split("?>", 1)[1].split(">", 1)[1])


@pytest.fixture(scope="module")
def default_spec(shot_list: Path) -> ET.Element:
    from conftest import run_cli

    return _spec(run_cli, shot_list)


def test_opencue_spec_structure(default_spec: ET.Element, shot_list: Path):
    root = default_spec
    assert root.findtext("show") == "vfx"
    job = root.find("job")
    assert job.get("name") == "mattes_v1" and job.findtext("maxretries") == "2"
    layers = {layer.get("name"): layer for layer in job.find("layers")}
    assert list(layers) == ["sh010", "sh020", "sh030_part1", "sh030_part2"]
    expect = {
        "sh010": ("1001-1005", "2", "#FRAME_START#-#FRAME_END# "),
        "sh020": ("1001-1003x2", "2", "#FRAME_START#-#FRAME_END#x2 "),
        "sh030_part1": ("1001-1002", "1", "#FRAME_START#-#FRAME_END# "),
        "sh030_part2": ("1004-1004", "1", "#FRAME_START#-#FRAME_END# "),
    }
    for name, (frame_range, chunk, token) in expect.items():
        layer = layers[name]
        assert layer.findtext("range") == frame_range
        assert layer.findtext("chunk") == chunk
        cmd = layer.findtext("cmd")
        argv = shlex.split(cmd)
        assert argv[:2] == ["vfxmatte", "run"]
        assert "--frames " + token in cmd
        assert "--skip-existing" in argv and "--progress-lines" in argv
        spec = json.loads(argv[argv.index("--job") + 1])
        out = spec["out"]
        assert out == str(shot_list.parent / "out" / name.split("_")[0] / "m.####.exr")
    gpu = layers["sh020"]
    assert gpu.findtext("gpus") == "1" and gpu.findtext("tags") == "gpu"
    assert gpu.findtext("services/service") == "vfxmatte_gpu"
    gpu_argv = shlex.split(gpu.findtext("cmd"))
    assert json.loads(gpu_argv[gpu_argv.index("--job") + 1])["device"] == "cuda"
    cpu = layers["sh010"]
    assert cpu.find("gpus") is None and cpu.findtext("services/service") == "shell"


def test_opencue_overrides(cli, shot_list: Path):
    root = _spec(
        cli, shot_list, "--no-gpu", "--service", "matte", "--tags", "linux",
        "--farm-program", "/opt/vfx/bin/vfxmatte", "--retries", "4",
    )  # fmt: skip
    assert root.find("job").findtext("maxretries") == "4"
    for layer in root.find("job/layers"):
        assert layer.find("gpus") is None
        assert layer.findtext("services/service") == "matte" and layer.findtext("tags") == "linux"
        assert layer.findtext("cmd").startswith("/opt/vfx/bin/vfxmatte run ")


def test_layer_command_runs_one_chunk(default_spec: ET.Element, shot_list: Path):
    """Fill the chunk tokens as Cuebot would and run the command: the frames appear."""
    import subprocess
    import sys

    layer = next(la for la in default_spec.find("job/layers") if la.get("name") == "sh010")
    cmd = layer.findtext("cmd").replace("#FRAME_START#", "1003").replace("#FRAME_END#", "1004")
    argv = shlex.split(cmd)
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", *argv[1:]],
        cwd=REPO_ROOT, env=cli_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = shot_list.parent / "out/sh010"
    assert sorted(p.name for p in out.iterdir()) == ["m.1003.exr", "m.1004.exr"]
    assert all(exr_is_complete(p, ["A", "person01.A", "person02.A"]) for p in out.iterdir())


def test_commands_for_other_farms(cli, shot_list: Path):
    proc = cli("farm", "commands", shot_list, "--chunk-size", "3", "--program", "vfxmatte")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    frames = [shlex.split(line)[shlex.split(line).index("--frames") + 1] for line in lines]
    assert frames == ["1001-1003", "1004-1005", "1001,1003", "1001", "1002", "1004"]
