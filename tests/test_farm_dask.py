"""Dask backend end to end: a real scheduler and workers on loopback, a worker SIGKILLed mid-job,
every frame written exactly once and equal to a single-process `vfxmatte run`; failures named
in the summary with a non-zero exit; a resubmission finishing only what is missing."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT, cli_env
from farm_helpers import demo_shots, shot_entry, write_shot_list

from vfxmatte.io.atomic import TEMP_MARK
from vfxmatte.io.images import exr_is_complete, read_image
from vfxmatte.jobspec import JobSpec
from vfxmatte.pipeline import run_job
from vfxmatte.sequence import SequencePath

pytestmark = pytest.mark.integration

CHANNELS = ["A", "person01.A", "person02.A"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(*args: str, log: Path) -> subprocess.Popen:
    """A process in its own session (so it and its children die together), output to a log.

    One OpenMP thread per process, as a Dask nanny sets for its worker (these workers run
    without one): two workers with torch's default pool on two cores oversubscribe them, and
    torch then runs many times slower.
    """
    env = cli_env()
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def _journal(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _snapshot(outs: dict[str, str], frames: dict[str, list[int]]) -> dict[Path, tuple[int, int]]:
    found = {}
    for name, pattern in outs.items():
        for f in frames[name]:
            p = SequencePath(pattern).path(f)
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            found[p] = (st.st_ino, st.st_mtime_ns)
    return found


def _reference(tmp: Path, entry: dict) -> str:
    """The same shot by one plain single-process run (no farm, no chunks), same engine."""
    out = str(tmp / "ref" / entry["name"] / "m.####.exr")
    spec = JobSpec(
        plate=entry["plate"],
        masks=entry["masks"],
        out=out,
        frames=entry["frames"],
        engine="guided",
        device="cpu",
        temporal_strength=0.0,  # as the farm shots (farm_helpers.write_shot_list)
    )
    result = run_job(spec)
    assert result.complete
    return out


def _assert_same(path_a: Path, path_b: Path) -> None:
    a, b = read_image(path_a, "farm"), read_image(path_b, "reference")
    for ch in CHANNELS:
        np.testing.assert_allclose(
            a.channel(ch), b.channel(ch), atol=2e-3, err_msg=f"{path_a} {ch}"
        )


@pytest.mark.timeout(600)
def test_killed_worker_every_frame_once(tmp_path: Path):
    demos = demo_shots(tmp_path / "src", [8, 6])
    entries = [
        shot_entry(demos[0], "sh010", str(tmp_path / "out/sh010/m.####.exr")),
        shot_entry(demos[1], "sh020", str(tmp_path / "out/sh020/m.####.exr")),
    ]
    shot_list = write_shot_list(tmp_path / "shots.yaml", entries)
    outs = {e["name"]: e["out"] for e in entries}
    frames = {e["name"]: d.frames for e, d in zip(entries, demos, strict=True)}
    total = sum(len(f) for f in frames.values())
    journal = tmp_path / "journal.jsonl"
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs: list[subprocess.Popen] = []
    try:
        sched = [
            "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", str(port),
            "--no-dashboard",
        ]  # fmt: skip
        procs.append(_spawn(*sched, log=tmp_path / "scheduler.log"))
        workers = {}
        for name in ("wa", "wb"):
            args = [
                "-m", "dask", "worker", address, "--nthreads", "1", "--no-nanny", "--host",
                "127.0.0.1", "--no-dashboard", "--name", name,
            ]  # fmt: skip
            workers[name] = _spawn(*args, log=tmp_path / f"{name}.log")
            procs.append(workers[name])
        from distributed import Client

        with Client(address, timeout="60s") as client:  # both workers up before submitting
            client.wait_for_workers(2, timeout=120)
        submit = [
            "-m", "cli.main", "farm", "submit", str(shot_list), "--backend", "dask",
            "--scheduler", address, "--chunk-size", "2", "--retries", "2", "--journal",
            str(journal),
        ]  # fmt: skip
        farm = _spawn(*submit, log=tmp_path / "farm.log")
        procs.append(farm)

        # Kill worker A while it is inside a chunk, once some frame of the job is on disk (a
        # chunk writes its frames at its end, after the smoother's look-ahead, so "inside a
        # chunk" is the state to catch, not "between two of its frames").
        victim = workers["wa"]
        deadline = time.monotonic() + 150
        killed_at = None
        while time.monotonic() < deadline and farm.poll() is None:
            journal_events = _journal(journal)
            events = [e for e in journal_events if e["worker"].endswith(f":{victim.pid}")]
            open_chunks = sum(e["event"] == "chunk-start" for e in events) - sum(
                e["event"] in ("chunk-done", "chunk-failed") for e in events
            )
            if open_chunks and any(e["event"] == "written" for e in journal_events):
                before = _snapshot(outs, frames)
                os.killpg(victim.pid, signal.SIGKILL)
                victim.wait(timeout=30)
                killed_at = before
                break
            time.sleep(0.02)
        assert killed_at is not None, (
            "worker A never got a chunk: " + (tmp_path / "farm.log").read_text()
        )
        assert 0 < len(killed_at) < total, f"not mid-job: {len(killed_at)}/{total} frames at kill"

        rc = farm.wait(timeout=450)
        log = (tmp_path / "farm.log").read_text()
        assert rc == 0, log
        assert "farm job complete" in log

        # every frame on disk, complete; no temp files from the killed writer
        for name, pattern in outs.items():
            for f in frames[name]:
                assert exr_is_complete(SequencePath(pattern).path(f), CHANNELS), (name, f)
            folder = Path(pattern).parent
            assert not [p for p in folder.iterdir() if TEMP_MARK in p.name]

        # exactly once: no frame written twice, frames on disk at the kill never rewritten
        events = _journal(journal)
        written = Counter((e["shot"], e["frame"]) for e in events if e["event"] == "written")
        assert max(written.values()) == 1, written
        for path, stat in killed_at.items():
            now = path.stat()
            assert (now.st_ino, now.st_mtime_ns) == stat, f"{path} rewritten after the kill"
        on_disk_at_kill = {p.resolve() for p in killed_at}
        for name, pattern in outs.items():
            for f in frames[name]:
                p = SequencePath(pattern).path(f).resolve()
                assert written[(name, f)] == 1 or p in on_disk_at_kill, (name, f)
        # the killed worker's chunk really was re-run elsewhere
        victim_tag = f":{victim.pid}"
        a_started = [
            e for e in events if e["event"] == "chunk-start" and e["worker"].endswith(victim_tag)
        ]
        a_done = [
            e for e in events if e["event"] == "chunk-done" and e["worker"].endswith(victim_tag)
        ]
        assert len(a_started) == len(a_done) + 1
        lost = a_started[-1]["frames"]
        rerun = [
            e for e in events
            if e["event"] == "chunk-done" and e["frames"] == lost and not e["worker"].endswith(victim_tag)
        ]  # fmt: skip
        assert rerun, f"chunk {lost} of the killed worker was not re-run"
        skipped = [e for e in events if e["event"] == "skipped"]
        assert skipped, "the re-run chunk should have kept the frame written before the kill"
    finally:
        for proc in reversed(procs):
            _stop(proc)

    # the same pixels as one single-process `vfxmatte run` per shot
    for entry in entries:
        ref = _reference(tmp_path, entry)
        for f in frames[entry["name"]]:
            _assert_same(SequencePath(entry["out"]).path(f), SequencePath(ref).path(f))


@pytest.mark.timeout(300)
def test_local_failure_summary_then_resubmit(tmp_path: Path, cli):
    (demo,) = demo_shots(tmp_path / "src", [5], width=128, height=72)
    entry = shot_entry(demo, "sh010", str(tmp_path / "out/m.####.exr"))
    shot_list = write_shot_list(tmp_path / "shots.yaml", [entry])
    mask = Path(SequencePath(demo.masks["person02"]).path(1004))
    good = mask.read_bytes()
    mask.write_bytes(b"not a png at all")  # a broken export: passes validation, fails the chunk
    journal = tmp_path / "j.jsonl"
    args = ["farm", "submit", shot_list, "--backend", "local", "--chunk-size", "2",
            "--journal", journal]  # fmt: skip
    proc = cli(*args)
    assert proc.returncode == 7, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    err = proc.stderr.strip()
    # the chunk 1003-1004 wrote 1003, then failed on 1004 (not retried: the input is bad)
    assert err.count("\n") == 0 and "sh010 frames 1004 (chunk 1003-1004" in err
    assert "mask person02 frame 1004" in err
    assert "shot=sh010 frames=5 written=4 kept=0 MISSING 1004" in proc.stdout
    assert proc.stdout.count("status=failed") == 1
    out = SequencePath(entry["out"])
    kept = {f: out.path(f).stat().st_mtime_ns for f in (1001, 1002, 1003, 1005)}
    assert not out.path(1004).exists()

    mask.write_bytes(good)  # fixed: resubmitting finishes only the missing frame
    proc = cli(*args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "written=1 kept=4 complete" in proc.stdout
    assert {f: out.path(f).stat().st_mtime_ns for f in kept} == kept
    second = _journal(journal)
    written = sorted(e["frame"] for e in second if e["event"] == "written")
    assert written == [1001, 1002, 1003, 1004, 1005]  # 3 first time, 2 on resubmission


@pytest.mark.timeout(300)
def test_output_failure_retried_a_bounded_number_of_times(tmp_path: Path, cli):
    """An output failure may be transient (storage), so it is retried: each chunk runs
    1 + --retries times, then the summary names its frames and the exit code is 7."""
    (demo,) = demo_shots(tmp_path / "src", [3], width=96, height=64)
    (tmp_path / "blocked").write_text("a file where the output folder should be")
    entry = shot_entry(demo, "sh010", str(tmp_path / "blocked/m.####.exr"))
    shot_list = write_shot_list(tmp_path / "shots.yaml", [entry])
    journal = tmp_path / "j.jsonl"
    proc = cli(
        "farm", "submit", shot_list, "--backend", "local", "--chunk-size", "2", "--retries", "2",
        "--journal", journal,
    )  # fmt: skip
    assert proc.returncode == 7, proc.stdout + proc.stderr
    assert "sh010 frames 1001-1003" in proc.stderr and "cannot create output folder" in proc.stderr
    starts = Counter(e["frames"] for e in _journal(journal) if e["event"] == "chunk-start")
    assert starts == {"1001-1002": 3, "1003": 3}
    assert not any(e["event"] == "written" for e in _journal(journal))
