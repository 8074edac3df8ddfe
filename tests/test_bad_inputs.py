"""The bad-input catalogue of `vfxmatte run` (issue 17), one row per input a user got wrong.

Every row asserts: the documented exit code, exactly one stderr line starting "vfxmatte: error:"
that names the problem, no traceback, and no file created or changed anywhere (no partial EXR, no
temp, the plate untouched). Most rows run in-process through the Typer app (fast: torch is imported
once); rows whose message may come from C libraries, and the signal rows, run a real process.
docs/hardening.md lists the same inputs with what each gets.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from bad_files import (
    TinyShot,
    make_tiny_shot,
    truncate,
    write_deep,
    write_huge_header,
    write_mask,
    write_multipart,
    write_plate,
    write_two_channel,
)
from conftest import REPO_ROOT, cli_env, run_cli, run_cli_in_process

from vfxmatte.errors import ExitCode
from vfxmatte.io.images import Window, write_exr

BAD, MISSING, OOM, OUTPUT = (
    ExitCode.BAD_ARGUMENTS,
    ExitCode.MISSING_INPUT,
    ExitCode.OUT_OF_MEMORY,
    ExitCode.OUTPUT_FAILURE,
)
BIG = "123456789012345678901234567890"


@dataclass
class Case:
    """One bad input: ``setup`` prepares files and returns the arguments after `run`."""

    name: str
    setup: Callable[[TinyShot, Path], list[str]]
    code: ExitCode
    needle: str
    subprocess: bool = False


def base(shot: TinyShot, out: Path, *extra: str, masks: bool = True) -> list[str]:
    args = ["--plate", shot.plate, "--out", str(out / "m.####.exr"), "--device", "cpu"]
    args += ["--threads", "1", "--frames", "1001-1002"]
    if masks:
        args += ["--mask", f"hero={shot.mask}"]
    return [*args, *extra]


def with_frames(frames: str, *extra: str) -> Callable[[TinyShot, Path], list[str]]:
    def setup(shot: TinyShot, out: Path) -> list[str]:
        args = base(shot, out, *extra)
        args[args.index("--frames") + 1] = frames
        return args

    return setup


def extra(*more: str, masks: bool = True) -> Callable[[TinyShot, Path], list[str]]:
    return lambda shot, out: base(shot, out, *more, masks=masks)


def replace_plate(write: Callable[[Path], None]) -> Callable[[TinyShot, Path], list[str]]:
    def setup(shot: TinyShot, out: Path) -> list[str]:
        write(shot.folder / "plate.1001.exr")
        return base(shot, out)

    return setup


def out_is(pattern: Callable[[TinyShot], str], *more: str) -> Callable[[TinyShot, Path], list[str]]:
    def setup(shot: TinyShot, out: Path) -> list[str]:
        args = base(shot, out, *more)
        args[args.index("--out") + 1] = pattern(shot)
        return args

    return setup


def _nan_plate(path: Path) -> None:
    rgb = np.zeros((32, 32, 3), np.float32)
    rgb[3, 4, 1] = np.nan
    win = Window(0, 0, 32, 32)
    write_exr(path, {c: rgb[..., i] for i, c in enumerate("RGB")}, win, win, pixel_type="float")


def _mask_wrong_size(shot: TinyShot, out: Path) -> list[str]:
    import cv2

    cv2.imwrite(str(shot.folder / "hero.1001.png"), np.full((20, 20), 255, np.uint8))
    return base(shot, out)


def _empty_masks(shot: TinyShot, out: Path) -> list[str]:
    for f in (1001, 1002):
        write_mask(shot.folder / f"hero.{f}.png", f, value=0)
    return base(shot, out)


def _truncated_mask(shot: TinyShot, out: Path) -> list[str]:
    truncate(shot.folder / "hero.1001.png", 0.4)
    return base(shot, out)


def _clean_missing_frame(shot: TinyShot, out: Path) -> list[str]:
    (shot.folder / "clean.1002.exr").unlink()
    return base(shot, out, "--clean-plate", shot.clean)


def _not_an_image(shot: TinyShot, out: Path) -> list[str]:
    (shot.folder / "plate.1001.exr").write_text("this is not an EXR\n")
    return base(shot, out)


def _symlinked_out(shot: TinyShot, out: Path) -> list[str]:
    link = shot.folder.parent / "link_to_shot"
    if not link.exists():
        link.symlink_to(shot.folder)
    return out_is(lambda s: f"{link}/./plate.%04d.exr")(shot, out)


def _out_under_a_file(shot: TinyShot, out: Path) -> list[str]:
    return out_is(lambda s: str(Path(s.plate).parent / "plate.1001.exr" / "m.####.exr"))(shot, out)


def _raw_byte(folder: Path, name: str) -> Path:
    """``folder/name`` with a byte that is not UTF-8 in the name (as some file servers have)."""
    return Path(os.fsdecode(os.fsencode(str(folder)) + b"/" + name.encode() + b"\xff"))


def _plate_path_not_utf8(shot: TinyShot, out: Path) -> list[str]:
    raw = _raw_byte(shot.folder.parent, "shot")
    os.rename(shot.folder, raw)
    return base(TinyShot(raw), out)


def _out_path_not_utf8(shot: TinyShot, out: Path) -> list[str]:
    return out_is(lambda s: str(_raw_byte(out, "dir") / "m.####.exr"))(shot, out)


def _ids_absent(shot: TinyShot, out: Path) -> list[str]:
    return base(shot, out, "--id-map", shot.id_map, "--ids", "1,7", masks=False)


def _non_integer_ids(shot: TinyShot, out: Path) -> list[str]:
    rgb = np.full((32, 32), 0.5, np.float32)
    win = Window(0, 0, 32, 32)
    for f in (1001, 1002):
        write_exr(shot.folder / f"idf.{f}.exr", {"Y": rgb}, win, win, pixel_type="float")
    return base(shot, out, "--id-map", str(shot.folder / "idf.####.exr"), masks=False)


CASES = [
    # -- frame specs and sizes (2) --------------------------------------------------------------
    Case("frames_backwards", with_frames("1003-1001"), BAD, "runs backwards"),
    Case("frames_30_digits", with_frames(BIG), BAD, "too large"),
    Case("frames_30_digit_step", with_frames(f"1001-1002x{BIG}"), BAD, "too large"),
    Case("frames_30_digit_end", with_frames(f"1-{BIG}"), BAD, "too large"),
    Case("frames_over_cap", with_frames("1-100000000"), BAD, "at most 100000"),
    Case("frames_zero_step", with_frames("1001-1002x0"), BAD, "step"),
    Case("frames_garbage", with_frames("abc"), BAD, "not a frame range"),
    Case("frames_dangling", with_frames("1001-"), BAD, "not a frame range"),
    Case("preroll_huge", extra("--preroll", "1000000000"), BAD, "preroll"),
    Case("preroll_negative", extra("--preroll", "-1"), BAD, "preroll"),
    Case("keyframes_garbage", extra("--keyframes", "x"), BAD, "--keyframes"),
    Case("keyframes_30_digits", extra("--keyframes", BIG), BAD, "--keyframes"),
    # -- masks and ids (2, 3) ----------------------------------------------------------------
    Case("mask_without_name", lambda s, o: base(s, o, "--mask", s.mask, masks=False), BAD, "NAME"),
    Case("mask_name_twice", extra("--mask", "hero=x.####.png"), BAD, "given twice"),
    Case(
        "mask_empty_name", lambda s, o: base(s, o, "--mask", f"={s.mask}", masks=False), BAD, "NAME"
    ),
    Case("no_mask_source", extra(masks=False), BAD, "either masks"),
    Case("mask_and_id_map", lambda s, o: base(s, o, "--id-map", s.id_map), BAD, "either masks"),
    Case(
        "ids_zero",
        lambda s, o: base(s, o, "--id-map", s.id_map, "--ids", "0", masks=False),
        BAD,
        "--ids",
    ),
    Case(
        "ids_negative",
        lambda s, o: base(s, o, "--id-map", s.id_map, "--ids", "-1", masks=False),
        BAD,
        "--ids",
    ),
    Case(
        "ids_text",
        lambda s, o: base(s, o, "--id-map", s.id_map, "--ids", "a,b", masks=False),
        BAD,
        "--ids",
    ),
    Case("ids_absent_from_id_map", _ids_absent, MISSING, "--ids 7"),
    Case("id_map_non_integer", _non_integer_ids, MISSING, "non-integer"),
    Case(
        "mask_path_wrong",
        lambda s, o: base(s, o, "--mask", "hero=/nope/m.####.png", masks=False),
        MISSING,
        "hero",
    ),
    Case("mask_wrong_size", _mask_wrong_size, MISSING, "20x20"),
    Case("mask_empty_everywhere", _empty_masks, MISSING, "empty on every"),
    Case("mask_truncated_png", _truncated_mask, MISSING, "hero frame 1001", subprocess=True),
    # -- output that would overwrite an input (2) --------------------------------------------
    Case("out_is_plate", out_is(lambda s: s.plate), BAD, "overwrite the plate"),
    Case(
        "out_is_plate_printf",
        out_is(lambda s: s.plate.replace("####", "%04d")),
        BAD,
        "overwrite the plate",
    ),
    Case(
        "out_is_plate_relative",
        out_is(lambda s: os.path.relpath(s.plate)),
        BAD,
        "overwrite the plate",
    ),
    Case("out_is_plate_symlinked", _symlinked_out, BAD, "overwrite the plate"),
    Case("out_is_mask_exr", lambda s, o: _out_is_mask(s, o), BAD, "overwrite the mask"),
    Case(
        "out_is_clean_plate",
        out_is(lambda s: s.clean, "--clean-plate", "CLEAN"),
        BAD,
        "overwrite the clean plate",
    ),
    Case("out_not_exr", out_is(lambda s: str(s.folder / "o" / "m.####.png")), BAD, "EXR"),
    Case("out_without_padding", out_is(lambda s: str(s.folder / "o" / "m.exr")), BAD, "padding"),
    Case("out_path_not_utf8", _out_path_not_utf8, BAD, "job.out"),
    Case("out_under_a_file", _out_under_a_file, OUTPUT, "cannot create output folder"),
    # -- other options (2) ----------------------------------------------------------------------
    Case("compression_bogus", extra("--compression", "lzma"), BAD, "--compression"),
    Case("engine_bogus", extra("--engine", "magic"), BAD, "magic"),
    Case("device_bogus", extra("--device", "tpu"), BAD, "tpu"),
    Case("colorspace_bogus", extra("--colorspace", "NotASpace"), BAD, "NotASpace"),
    Case(
        "temporal_strength_above_1", extra("--temporal-strength", "1.5"), BAD, "temporal_strength"
    ),
    Case("threads_zero", extra("--threads", "0"), BAD, "threads"),
    Case("preview_not_mov", extra("--preview", "/tmp/x.mp4"), BAD, ".mov"),
    # -- plate content (3, 5) -------------------------------------------------------------------
    Case("plate_missing", lambda s, o: base(TinyShot(s.folder / "nope"), o), MISSING, "missing"),
    Case("plate_frame_missing", with_frames("1001-1003"), MISSING, "1003"),
    Case("plate_path_not_utf8", _plate_path_not_utf8, MISSING, "not valid UTF-8"),
    Case("plate_deep_exr", replace_plate(write_deep), MISSING, "deep"),
    Case(
        "plate_multipart_without_rgb",
        replace_plate(lambda p: write_multipart(p, False)),
        MISSING,
        "no R,G,B part",
    ),
    Case("plate_two_channels", replace_plate(write_two_channel), MISSING, "2 channels"),
    Case(
        "plate_truncated",
        replace_plate(lambda p: (write_plate(p, 1001), truncate(p))),
        MISSING,
        "plate frame 1001",
    ),
    Case("plate_not_an_image", _not_an_image, MISSING, "plate frame 1001"),
    Case("plate_nan_pixels", replace_plate(_nan_plate), MISSING, "NaN"),
    Case("plate_header_40000", replace_plate(write_huge_header), OOM, "40000x40000"),
    Case("clean_plate_frame_missing", _clean_missing_frame, MISSING, "clean plate frame(s) 1002"),
    Case("clean_plate_missing", extra("--clean-plate", "/nope/clean.exr"), MISSING, "clean plate"),
]


def _out_is_mask(shot: TinyShot, out: Path) -> list[str]:
    """The mask given as an EXR sequence and --out spelled as that sequence."""
    for f in (1001, 1002):
        write_plate(shot.folder / f"mexr.{f}.exr", f)
    args = base(shot, out, masks=False)
    args[args.index("--out") + 1] = str(shot.folder / "mexr.%04d.exr")
    return [*args, "--mask", f"hero={shot.folder}/mexr.####.exr"]


def _snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with a hash of its bytes (temps are hidden files: included)."""
    return {
        str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return make_tiny_shot(tmp_path_factory.mktemp("pristine") / "shot").folder


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, pristine: Path, tmp_path: Path, one_torch_thread) -> None:
    import shutil

    shot = TinyShot(tmp_path / "shot")
    shutil.copytree(pristine, shot.folder)
    out = tmp_path / "out"
    args = case.setup(shot, out)
    args = [a.replace("CLEAN", shot.clean) if a == "CLEAN" else a for a in args]
    before = _snapshot(tmp_path)
    # cwd: relative spellings resolve as in a shell started there
    if case.subprocess:
        proc = run_cli("run", *args, cwd=REPO_ROOT, timeout=120)
    else:  # output captured down to the file descriptors, as a process's would be
        proc = run_cli_in_process("run", *args, cwd=REPO_ROOT)
    code, stderr = proc.returncode, proc.stderr
    lines = stderr.strip().splitlines()
    assert code == int(case.code), stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith("vfxmatte: error:"), stderr
    assert "Traceback" not in stderr
    assert case.needle in lines[0], lines[0]
    assert _snapshot(tmp_path) == before  # nothing written, nothing changed, no temp left


def test_catalogue_is_at_least_forty_inputs() -> None:
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)


# -- real processes: signals ----------------------------------------------------------------------


def _start_long_run(shot: TinyShot, out: Path) -> subprocess.Popen:
    for f in range(1003, 1013):
        write_plate(shot.folder / f"plate.{f}.exr", f)
        write_mask(shot.folder / f"hero.{f}.png", f)
    args = base(shot, out)
    args[args.index("--frames") + 1] = "1001-1012"
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "run", *args, "--progress-lines"],
        cwd=REPO_ROOT,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_stops_with_one_line_and_no_temp(tmp_path: Path, sig: int, code: int) -> None:
    shot = make_tiny_shot(tmp_path / "shot")
    out = tmp_path / "out"
    proc = _start_long_run(shot, out)
    assert proc.stdout is not None
    for line in proc.stdout:  # wait until the job is matting (imports done, handlers set)
        if "event=start" in line or "event=frame" in line:
            break
    time.sleep(0.05)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "interrupted" in lines[0], stderr
    assert not [p for p in out.glob(".*") if p.is_file()]  # no temp left behind
    for exr in out.glob("*.exr"):  # every frame on disk is complete
        from vfxmatte.io.images import exr_is_complete

        assert exr_is_complete(exr, ["A", "hero.A"])
