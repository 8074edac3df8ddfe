"""Hardening fixes of issue 17 that are not a single bad-input row: what good input now gets.

Multipart plates matte their RGB part, temp names never collide between threads, a killed
writer's temp is removed by a successful resume, a renamed layer is reported, and a decoder crash
in a service job's input fails that job in a child process while the service keeps serving.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
from bad_files import SIZE, make_tiny_shot, plate_pixels, write_deep, write_multipart
from conftest import run_cli_in_process
from test_bad_inputs import base

from vfxmatte.errors import ExitCode
from vfxmatte.io.atomic import TEMP_MARK, temp_path_for
from vfxmatte.io.images import Window, exr_is_complete, read_image, write_exr
from vfxmatte.server.probe import ProbeProcess, job_input_files


def test_multipart_plate_reads_the_part_holding_rgb(tmp_path: Path) -> None:
    path = tmp_path / "plate.1001.exr"
    write_multipart(path, rgb_part=True)
    frame = read_image(path, "plate frame 1001", colour=True)
    assert frame.channels == ["R", "G", "B"]
    np.testing.assert_allclose(frame.rgb(), plate_pixels(1001), atol=1e-3)
    assert read_image(path, "mask").channels == ["Z"]  # data inputs keep part 0


def test_temp_names_are_unique_per_thread_and_call() -> None:
    final = Path("/x/m.1001.exr")
    names: set[str] = set()

    def grab() -> None:
        for _ in range(50):
            names.add(temp_path_for(final).name)

    threads = [threading.Thread(target=grab) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(names) == 200
    assert all(n.startswith(f".m.1001{TEMP_MARK}{os.getpid()}-") for n in names)


def test_two_threads_writing_one_frame_never_fail_or_tear(tmp_path: Path) -> None:
    """Issue 17 saw 50 of 120 writes fail and 115 torn reads with pid-only temp names."""
    path = tmp_path / "m.1001.exr"
    win = Window(0, 0, 256, 256)
    errors: list[BaseException] = []
    torn = 0

    def write(value: float) -> None:
        for _ in range(15):
            try:
                a = np.full((256, 256), value, np.float32)
                write_exr(path, {"A": a, "p.A": a}, win, win)
            except BaseException as exc:  # noqa: BLE001 - counted, asserted below
                errors.append(exc)

    writers = [threading.Thread(target=write, args=(v,)) for v in (0.25, 0.75)]
    for t in writers:
        t.start()
    while any(t.is_alive() for t in writers):
        if path.exists() and not exr_is_complete(path, ["A", "p.A"]):
            torn += 1
    for t in writers:
        t.join()
    assert errors == [] and torn == 0
    assert not [p for p in tmp_path.iterdir() if TEMP_MARK in p.name]


def test_resume_removes_stale_temp_and_warns_about_renamed_layer(
    tmp_path: Path, one_torch_thread
) -> None:
    shot = make_tiny_shot(tmp_path / "shot")
    out = tmp_path / "out"
    out.mkdir()
    stale = out / f".m.1002{TEMP_MARK}4242-1-deadbeef.exr"
    stale.write_bytes(b"half an EXR from a killed run")
    old = time.time() - 60  # a minute old: the former 600 s rule kept it
    os.utime(stale, (old, old))
    foreign = out / f".other.1001{TEMP_MARK}1-1-ffff.exr"  # not one of this job's frames
    foreign.write_bytes(b"x")
    os.utime(foreign, (old, old))
    args = base(shot, out, "--skip-existing", "--progress-lines", masks=False)
    args += ["--mask", f"1st person={shot.mask}"]
    result = run_cli_in_process("run", *args)
    assert result.returncode == 0, result.stderr
    assert not stale.exists() and foreign.exists()
    frame = read_image(out / "m.1001.exr")
    assert "p1st_person.A" in frame.channels


def test_renamed_layer_warning_is_reported(tmp_path: Path, one_torch_thread, capsys) -> None:
    import contextlib
    import io

    from cli.main import main

    shot = make_tiny_shot(tmp_path / "shot")
    args = base(shot, tmp_path / "out", "--progress-lines", "--frames", "1001", masks=False)
    args += ["--mask", f"1st person={shot.mask}"]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.suppress(SystemExit):
        main(["run", *args])
    assert "'1st person' is written as layer 'p1st_person'" in stdout.getvalue()


def test_probe_names_the_file_that_crashes_the_decoder(tmp_path: Path) -> None:
    """A real segfault in the child: the parent reports it as that job's one-line failure."""
    crash = (
        "import ctypes, json, sys\n"
        "files = json.loads(sys.stdin.readline())\n"
        "print('reading\\t' + files[0][0] + ' (' + files[0][1] + ')', flush=True)\n"
        "ctypes.string_at(0)\n"
    )
    probe = ProbeProcess([sys.executable, "-c", crash])
    failure = probe.check([("plate frame 1001", "/s/plate.1001.exr", True)])
    assert failure is not None
    message, code = failure
    assert code == ExitCode.MISSING_INPUT
    assert "plate frame 1001 (/s/plate.1001.exr) crashed the image decoder (signal SIG" in message


def test_probe_child_refuses_a_deep_plate_in_one_line(tmp_path: Path) -> None:
    shot = make_tiny_shot(tmp_path / "shot")
    write_deep(shot.folder / "plate.1002.exr")
    from vfxmatte.jobspec import JobSpec

    spec = JobSpec(
        plate=shot.plate,
        out=str(tmp_path / "o.####.exr"),
        masks={"a": shot.mask},
        frames="1001-1002",
    )
    files = job_input_files(spec)
    assert len(files) == 4  # two plate frames, two mask frames
    probe = ProbeProcess()
    try:
        message, code = probe.check(files)
        assert code == ExitCode.MISSING_INPUT and "plate frame 1002" in message
        assert "deep" in message
        assert probe.check(files[:1]) is None  # the same child answers the next job
    finally:
        probe.close()
    assert SIZE == 32
