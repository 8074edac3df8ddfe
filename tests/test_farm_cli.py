"""`vfxmatte farm submit` front end: the Dask chunk plan (dry run) and one-line failures."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from conftest import run_cli_in_process
from farm_helpers import demo_shots, shot_entry, write_shot_list

from vfxmatte.errors import ExitCode


def test_dask_dry_run_plan(tmp_path: Path, cli):
    a, b = demo_shots(tmp_path / "src", [5, 3], width=96, height=64)
    shots = write_shot_list(
        tmp_path / "shots.yaml",
        [
            shot_entry(a, "sh010", "out/a.####.exr"),
            shot_entry(b, "sh020", "out/b.####.exr", device="cuda", chunk_size=1),
        ],
    )
    proc = cli(
        "farm", "submit", shots, "--backend", "dask", "--dry-run", "--chunk-size", "2",
        "--preroll", "3", "--retries", "1",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert [(c["shot"], c["frames"], c["preroll"]) for c in plan] == [
        ("sh010", "1001-1002", 0),
        ("sh010", "1003-1004", 2),
        ("sh010", "1005", 3),
        ("sh020", "1001", 0),
        ("sh020", "1002", 1),
        ("sh020", "1003", 2),
    ]
    assert all(c["resources"] == {"GPU": 1} and c["retries"] == 1 for c in plan)
    spec = plan[1]["spec"]
    assert spec["frames"] == "1003-1004" and spec["skip_existing"] is True
    assert spec["out"] == str(tmp_path / "out/a.####.exr")
    assert spec["preroll"] == 2
    assert not (tmp_path / "out").exists()  # a dry run writes nothing


def test_unreachable_scheduler_is_one_line(tmp_path: Path, cli):
    (a,) = demo_shots(tmp_path / "src", [2], width=96, height=64)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    proc = cli(
        "farm", "submit", "--plate", a.plate, "--mask", f"person01={a.masks['person01']}",
        "--out", tmp_path / "o/m.####.exr", "--backend", "dask", "--scheduler",
        f"tcp://127.0.0.1:{port}", "--connect-timeout", "2",
    )  # fmt: skip
    assert proc.returncode == ExitCode.BAD_ARGUMENTS, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert (
        len(lines) == 1 and f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in lines[0]
    )


def test_single_shot_needs_plate_and_out(tmp_path: Path, one_torch_thread):
    proc = run_cli_in_process("farm", "submit", "--plate", tmp_path / "p.####.exr")
    assert proc.returncode == ExitCode.BAD_ARGUMENTS
    assert "--plate and --out" in proc.stderr
