"""Shot lists: good ones load with resolved paths; bad ones are refused before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from farm_helpers import demo_shots, shot_entry, write_shot_list

from vfxmatte.errors import ExitCode, VfxMatteError
from vfxmatte.farm.shotlist import load_shot_list


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    return demo_shots(tmp_path_factory.mktemp("farm-src"), [4, 3], width=96, height=64)


def test_good_list_resolves_relative_paths(tmp_path: Path, demos):
    a, b = demos
    path = write_shot_list(
        tmp_path / "shots.yaml",
        [
            shot_entry(a, "sh010", "out/sh010/m.####.exr", chunk_size=2),
            shot_entry(b, "sh020", "out/sh020/m.####.exr", frames=None, preroll=1),
        ],
        defaults={"engine": "guided", "device": "cpu", "engine_options": {"search_k": 0.5}},
    )
    shots = load_shot_list(path)
    assert [s.name for s in shots] == ["sh010", "sh020"]
    assert shots[0].spec.out == str(tmp_path / "out/sh010/m.####.exr")
    assert shots[0].frames == a.frames and shots[0].chunk_size == 2
    assert shots[1].frames == b.frames  # no range given: every plate frame on disk
    assert shots[1].preroll == 1
    assert all(s.spec.skip_existing and s.spec.engine_options == {"search_k": 0.5} for s in shots)


def _problem(path: Path) -> VfxMatteError:
    with pytest.raises(VfxMatteError) as info:
        load_shot_list(path)
    return info.value


def test_missing_plate_refused(tmp_path: Path, demos):
    a, _ = demos
    bad = shot_entry(a, "sh010", str(tmp_path / "o/m.####.exr"))
    bad["plate"] = str(tmp_path / "nowhere/plate.####.exr")
    err = _problem(write_shot_list(tmp_path / "s.yaml", [bad]))
    assert err.exit_code == ExitCode.MISSING_INPUT
    assert "sh010" in err.message and "nowhere/plate.####.exr" in err.message


def test_overlapping_outputs_refused(tmp_path: Path, demos):
    a, b = demos
    shots = [
        shot_entry(a, "sh010", str(tmp_path / "o/m.####.exr")),
        shot_entry(b, "sh020", str(tmp_path / "o/m.%04d.exr")),  # same files, other spelling
    ]
    err = _problem(write_shot_list(tmp_path / "s.yaml", shots))
    assert err.exit_code == ExitCode.BAD_ARGUMENTS
    assert "sh020" in err.message and "overlaps shot sh010" in err.message
    assert "1001-1003" in err.message  # b has 3 frames, all shared


def test_every_problem_reported_at_once(tmp_path: Path, demos):
    a, b = demos
    shots = [
        shot_entry(a, "sh010", str(tmp_path / "o1/m.####.exr"), frames="1001-1010"),
        shot_entry(b, "sh020", str(tmp_path / "o2/m.####.exr"), frames="10-1x"),
        shot_entry(b, "sh030", str(tmp_path / "o3/m.####.exr"), enigne="guided"),
        shot_entry(b, "sh030", str(tmp_path / "o4/m.####.png")),
    ]
    err = _problem(write_shot_list(tmp_path / "s.yaml", shots))
    assert "4 problem(s)" in err.message or "5 problem(s)" in err.message
    assert "1005-1010" in err.message  # plate frames that do not exist
    assert "'10-1x' is not a frame range" in err.message
    assert "enigne" in err.message  # a typo is not silently ignored
    assert "end it in .exr" in err.message


def test_structural_errors(tmp_path: Path):
    (tmp_path / "a.yaml").write_text("shots: []\n")
    assert "shots" in _problem(tmp_path / "a.yaml").message
    (tmp_path / "b.yaml").write_text("shots: [\n")
    assert "not valid YAML" in _problem(tmp_path / "b.yaml").message
    assert _problem(tmp_path / "missing.yaml").exit_code == ExitCode.MISSING_INPUT


def test_cli_refuses_bad_list_before_running(tmp_path: Path, demos, cli):
    a, b = demos
    shots = [
        shot_entry(a, "sh010", str(tmp_path / "out/m.####.exr")),
        shot_entry(b, "sh020", str(tmp_path / "out/m.####.exr")),
    ]
    path = write_shot_list(tmp_path / "s.yaml", shots)
    proc = cli("farm", "submit", path, "--backend", "local", "--journal", tmp_path / "j.jsonl")
    assert proc.returncode == ExitCode.BAD_ARGUMENTS, proc.stderr
    assert proc.stderr.count("\n") == 1 and "overlaps shot sh010" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "j.jsonl").exists()
