"""`vfxmatte run` end to end as a user runs it: real processes, real files, exit codes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import cv2
import numpy as np
import OpenImageIO as oiio
import pytest
from conftest import REPO_ROOT, cli_env, run_cli, run_cli_in_process

from vfxmatte.demo import make_demo_shot
from vfxmatte.errors import ExitCode
from vfxmatte.io.images import Window, exr_is_complete, read_image, write_exr

FRAMES = "1001-1004"


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    return make_demo_shot(tmp_path_factory.mktemp("shot"), frames=4, width=320, height=180)


def _args(shot, out, *extra):
    args = ["run", "--plate", shot.plate, "--out", str(out)]
    for name, pattern in shot.masks.items():
        args += ["--mask", f"{name}={pattern}"]
    return [*args, "--device", "cpu", *extra]


def _assert_one_line_error(proc, code, *needles):
    assert proc.returncode == int(code), proc.stderr
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1, proc.stderr  # one line, no traceback
    assert err[0].startswith("vfxmatte: error:")
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in err[0], err[0]


def test_run_writes_named_layers_and_keeps_frame_numbers(shot, tmp_path):
    out = tmp_path / "out" / "matte.####.exr"
    proc = run_cli(*_args(shot, out, "--frames", FRAMES, "--compression", "piz", "--threads", "1"))
    assert proc.returncode == 0, proc.stderr
    assert "threads=1" in next(ln for ln in proc.stdout.splitlines() if "event=start" in ln)
    lines = [ln for ln in proc.stdout.splitlines() if "event=frame" in ln]
    assert [int(ln.split("frame=")[1].split()[0]) for ln in lines] == [1001, 1002, 1003, 1004]
    for frame in (1001, 1004):
        exr = tmp_path / "out" / f"matte.{frame}.exr"
        img = read_image(exr)
        assert set(img.channels) == {"A", "person01.A", "person02.A"}
        meta = {k: v for k, _, v in img.metadata}
        assert meta["vfxmatte:engine"] == "guided"
        assert meta["vfxmatte:instances"] == "person01,person02"
        assert meta["vfxmatte:frame"] == str(frame)
        assert oiio.ImageInput.open(str(exr)).spec().get_string_attribute("compression") == "piz"
        truth = {
            n: cv2.imread(p.replace("####", f"{frame:04d}"), cv2.IMREAD_UNCHANGED) / 65535.0
            for n, p in shot.truth.items()
        }
        for name, gt in truth.items():
            alpha = img.channel(f"{name}.A")
            assert alpha[gt > 0.99].mean() > 0.9  # solid inside the person
            assert alpha[cv2.dilate((gt > 0).astype(np.uint8), np.ones((41, 41))) == 0].max() < 0.05
        union = img.channel("A")
        assert np.all(
            union + 1e-3 >= np.maximum(img.channel("person01.A"), img.channel("person02.A"))
        )
        assert np.all(img.channel("person01.A") + img.channel("person02.A") <= union + 2e-3)


def test_colour_layers_and_full_frame(tmp_path):
    w_data, w_full = Window(16, 8, 96, 64), Window(0, 0, 160, 90)
    rng = np.random.default_rng(1)
    rgb = rng.random((64, 96, 3), dtype=np.float32) * 0.2
    rgb[16:48, 32:64] = 0.9
    write_exr(
        tmp_path / "p.0001.exr",
        {c: rgb[..., i] for i, c in enumerate("RGB")},
        w_data,
        w_full,
        pixel_type="float",
    )
    mask = np.zeros((64, 96), np.uint8)
    mask[14:50, 30:66] = 255
    cv2.imwrite(str(tmp_path / "m.0001.png"), mask)
    out = tmp_path / "o" / "m.####.exr"
    proc = run_cli(
        "run",
        "--plate",
        tmp_path / "p.####.exr",
        "--mask",
        f"hero={tmp_path}/m.####.png",
        "--out",
        out,
        "--colour",
        "--full-frame",
        "--device",
        "cpu",
    )
    assert proc.returncode == 0, proc.stderr
    img = read_image(tmp_path / "o" / "m.0001.exr")
    assert img.data_window == w_full and img.display_window == w_full
    assert {"hero.R", "hero.G", "hero.B", "hero.A", "A"} <= set(img.channels)
    a = img.channel("hero.A")
    assert a[:8].max() == 0 and a[8 + 32, 16 + 48] > 0.95  # padded outside the data window
    np.testing.assert_allclose(img.channel("hero.R")[40, 64], 0.9 * a[40, 64], atol=1e-2)


@pytest.fixture
def readonly_dir(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() == 0:  # root ignores mode bits: make the folder immutable instead
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", folder]).returncode:
            pytest.skip("cannot make a read-only folder as root here")
        yield folder
        subprocess.run(["chattr", "-i", folder])
    else:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)


def test_unwritable_output_folder(shot, readonly_dir, one_torch_thread):
    # Refused before the first frame (as are the next tests'): in this process, no ~4 s start.
    proc = run_cli_in_process(*_args(shot, readonly_dir / "m.####.exr", "--frames", "1001"))
    _assert_one_line_error(proc, ExitCode.OUTPUT_FAILURE, str(readonly_dir))


def test_missing_frames_in_range(shot, tmp_path, one_torch_thread):
    proc = run_cli_in_process(*_args(shot, tmp_path / "o" / "m.####.exr", "--frames", "1003-1008"))
    _assert_one_line_error(proc, ExitCode.MISSING_INPUT, "1005-1008", "missing")
    assert not (tmp_path / "o").exists()  # refused before anything was written


@pytest.mark.parametrize(
    ("extra", "code", "needle"),
    [
        (["--colorspace", "not-a-space"], ExitCode.BAD_ARGUMENTS, "unknown colourspace"),
        (["--frames", "10-x"], ExitCode.BAD_ARGUMENTS, "--frames"),
        (["--compression", "lzw"], ExitCode.BAD_ARGUMENTS, "--compression"),
        (["--engine", "magic"], ExitCode.BAD_ARGUMENTS, "unknown engine"),
        (["--threads", "0"], ExitCode.BAD_ARGUMENTS, "threads"),
        (
            ["--device", "cuda:7"]
            if not __import__("torch").cuda.is_available()
            else ["--device", "tpu"],
            ExitCode.BAD_ARGUMENTS,
            "--device",
        ),
    ],
)
def test_bad_arguments(shot, tmp_path, extra, code, needle, one_torch_thread):
    # Refused before the first frame: in this process, without a ~4 s process start per case.
    proc = run_cli_in_process(
        *_args(shot, tmp_path / "o" / "m.####.exr", "--frames", "1001"), *extra
    )
    _assert_one_line_error(proc, code, needle)
    assert not list(tmp_path.rglob("*.exr"))


def _copy_shot(shot, dst):
    shutil.copytree(shot.folder, dst)
    plate = str(dst / "plate" / "plate.####.exr")
    masks = {n: str(dst / "masks" / f"{n}.####.png") for n in shot.masks}
    return plate, masks


def _run_copy(plate, masks, out, *extra):
    args = ["run", "--plate", plate, "--out", str(out), "--device", "cpu", *extra]
    for name, pattern in masks.items():
        args += ["--mask", f"{name}={pattern}"]
    return run_cli(*args)


def test_mask_of_another_resolution(shot, tmp_path):
    plate, masks = _copy_shot(shot, tmp_path / "s")
    cv2.imwrite(masks["person02"].replace("####", "1002"), np.full((90, 160), 255, np.uint8))
    proc = _run_copy(plate, masks, tmp_path / "o" / "m.####.exr", "--frames", FRAMES)
    _assert_one_line_error(proc, ExitCode.MISSING_INPUT, "person02 frame 1002", "160x90")
    assert exr_is_complete(tmp_path / "o" / "m.1001.exr")  # frames before it are complete
    assert not (tmp_path / "o" / "m.1002.exr").exists()  # never a partial frame
    assert not list((tmp_path / "o").glob(".*"))


def test_truncated_plate_frame(shot, tmp_path):
    plate, masks = _copy_shot(shot, tmp_path / "s")
    victim = plate.replace("####", "1003")
    data = open(victim, "rb").read()
    open(victim, "wb").write(data[: len(data) // 3])
    proc = _run_copy(plate, masks, tmp_path / "o" / "m.####.exr", "--frames", FRAMES)
    _assert_one_line_error(proc, ExitCode.MISSING_INPUT, "plate frame 1003")
    assert not (tmp_path / "o" / "m.1003.exr").exists()


def test_nan_pixels_in_plate(shot, tmp_path):
    plate, masks = _copy_shot(shot, tmp_path / "s")
    path = plate.replace("####", "1002")
    img = read_image(path)
    px = img.pixels.copy()
    px[5, 7, 1] = np.inf
    write_exr(
        path,
        {c: px[..., i] for i, c in enumerate(img.channels)},
        img.data_window,
        img.display_window,
    )
    proc = _run_copy(plate, masks, tmp_path / "o" / "m.####.exr", "--frames", "1002")
    _assert_one_line_error(proc, ExitCode.MISSING_INPUT, "NaN/inf", "x=7 y=5")


def test_empty_mask(shot, tmp_path):
    plate, masks = _copy_shot(shot, tmp_path / "s")
    for f in (1001, 1002):
        cv2.imwrite(masks["person01"].replace("####", str(f)), np.zeros((180, 320), np.uint8))
    proc = _run_copy(plate, masks, tmp_path / "o" / "m.####.exr", "--frames", "1001-1002")
    _assert_one_line_error(proc, ExitCode.MISSING_INPUT, "person01", "empty")
    # Empty on one frame only (the person left the shot): written, reported, layer empty.
    proc = _run_copy(plate, masks, tmp_path / "o" / "m.####.exr", "--frames", "1002-1003")
    assert proc.returncode == 0, proc.stderr
    assert "mask of person01 is empty" in proc.stdout
    assert read_image(tmp_path / "o" / "m.1002.exr").channel("person01.A").max() == 0


def test_sigkill_then_skip_existing_completes(tmp_path):
    shot = make_demo_shot(tmp_path / "s", frames=8, width=480, height=270)
    out = tmp_path / "o" / "m.####.exr"
    args = [sys.executable, "-m", "cli.main", *_args(shot, out, "--frames", "1001-1008")]
    proc = subprocess.Popen(args, cwd=REPO_ROOT, env=cli_env(), stdout=subprocess.PIPE, text=True)
    seen = 0
    for line in proc.stdout:
        if "event=frame" in line:
            seen += 1
            if seen == 3:
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "o").glob("m.*.exr")}
    assert 3 <= len(before) < 8
    assert all(exr_is_complete(tmp_path / "o" / n) for n in before)
    rerun = run_cli(*_args(shot, out, "--frames", "1001-1008", "--skip-existing"))
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.count("event=skip") == len(before)
    for f in range(1001, 1009):
        path = tmp_path / "o" / f"m.{f}.exr"
        assert exr_is_complete(path, ["A", "person01.A", "person02.A"])
        if path.name in before:
            assert path.stat().st_mtime_ns == before[path.name]  # kept, not redone
    stale = [p for p in (tmp_path / "o").iterdir() if p.name.startswith(".")]
    assert len(stale) <= 1  # at most the killed writer's temp, hidden and never a frame


def test_info_lists_engines(one_torch_thread):
    proc = run_cli_in_process("info")
    assert proc.returncode == 0
    assert "guided" in proc.stdout and "OCIO config" in proc.stdout


def test_id_map_sequence(shot, tmp_path):
    """An ID map (one integer per person) gives the same per-person layers as separate masks."""
    for frame in (1001, 1002):
        ids = np.zeros((180, 320), np.uint8)
        for value, pattern in ((1, shot.masks["person01"]), (2, shot.masks["person02"])):
            mask = cv2.imread(pattern.replace("####", str(frame)), cv2.IMREAD_GRAYSCALE)
            ids[(mask > 127) & (ids == 0)] = value
        cv2.imwrite(str(tmp_path / f"ids.{frame}.png"), ids)
    out = tmp_path / "o" / "m.####.exr"
    proc = run_cli(
        "run",
        "--plate",
        shot.plate,
        "--id-map",
        tmp_path / "ids.####.png",
        "--frames",
        "1001-1002",
        "--out",
        out,
        "--device",
        "cpu",
        "--temporal-strength",  # this checks ID-map layering, not temporal quality
        "0",
    )
    assert proc.returncode == 0, proc.stderr
    img = read_image(tmp_path / "o" / "m.1002.exr")
    assert {"A", "person01.A", "person02.A"} <= set(img.channels)
    gt = cv2.imread(shot.truth["person02"].replace("####", "1002"), cv2.IMREAD_UNCHANGED) / 65535
    assert img.channel("person02.A")[gt > 0.99].mean() > 0.9
    both = run_cli(
        "run",
        "--plate",
        shot.plate,
        "--id-map",
        tmp_path / "ids.####.png",
        "--mask",
        f"x={shot.masks['person01']}",
        "--out",
        out,
    )
    _assert_one_line_error(both, ExitCode.BAD_ARGUMENTS, "either masks")
