"""What runs on a farm worker: one chunk through the ``vfxmatte run`` pipeline, and the check
that closes a shot. Plain functions of plain data (dicts, lists) so any Dask worker that can
import vfxmatte runs them, whatever version of pydantic pickled the spec.
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

from vfxmatte.errors import ExitCode, VfxMatteError
from vfxmatte.events import EventKind, ProgressEvent
from vfxmatte.farm.summary import smooth_flags
from vfxmatte.io.atomic import TEMP_MARK
from vfxmatte.io.images import exr_is_complete
from vfxmatte.jobspec import JobSpec
from vfxmatte.sequence import SequencePath

#: Failures a retry cannot fix (the input or the request is wrong): reported, not retried.
FINAL_CODES = {ExitCode.BAD_ARGUMENTS, ExitCode.MISSING_INPUT, ExitCode.INTERRUPTED}


class ChunkError(RuntimeError):
    """A chunk failed in a way a retry may fix (engine failure, out of memory, output error,
    a bug). Raised inside the worker so Dask retries it; carries the vfxmatte exit code."""

    def __init__(self, message: str, exit_code: int = int(ExitCode.ENGINE_FAILURE)) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

    def __reduce__(self) -> tuple:
        return (type(self), (self.message, self.exit_code))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Journal:
    """Append-only JSON-lines record of what each chunk did to each frame.

    One ``write`` per line on a file opened with O_APPEND, so lines from concurrent workers on
    one machine (or a POSIX shared filesystem) never interleave. It is what makes "every frame
    written exactly once" checkable after retries and killed workers.
    """

    def __init__(self, path: str | None, shot: str) -> None:
        self.path = path
        self.shot = shot

    def record(self, event: str, frame: int | None = None, **extra: Any) -> None:
        if not self.path:
            return
        line = {"t": time.time(), "shot": self.shot, "event": event, "frame": frame}
        line.update(extra, worker=worker_name())
        data = (json.dumps(line, sort_keys=True) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


def run_chunk(spec: dict[str, Any], shot: str, journal: str | None = None) -> dict[str, Any]:
    """Run one chunk exactly as ``vfxmatte run --skip-existing`` would.

    Returns a summary dict. Failures a retry cannot fix are returned (``ok: False``) so the
    scheduler does not waste retries on them; others raise :class:`ChunkError` to be retried.
    """
    from vfxmatte.pipeline import Job  # heavy (torch): import on the worker, not the client

    log = Journal(journal, shot)
    job_spec = JobSpec.model_validate(spec)
    t0 = time.perf_counter()

    written: list[int] = []
    skipped: list[int] = []

    def on_event(event: ProgressEvent) -> None:
        if event.kind == EventKind.FRAME:
            written.append(event.frame)
            log.record("written", event.frame, path=event.path)
        elif event.kind == EventKind.SKIP:
            skipped.append(event.frame)
            log.record("skipped", event.frame, path=event.path)

    base = {"shot": shot, "frames": job_spec.frames, "worker": worker_name()}
    log.record("chunk-start", frames=job_spec.frames)
    try:
        job = Job(job_spec, on_event)
        required = job.output_channels(job.masks.names)
        result = job.run()
    except VfxMatteError as exc:
        log.record("chunk-failed", frames=job_spec.frames, message=exc.message)
        if exc.exit_code in FINAL_CODES:
            return {
                **base,
                "ok": False,
                "code": int(exc.exit_code),
                "message": exc.message,
                "written": written,
                "skipped": skipped,
            }
        raise ChunkError(exc.message, int(exc.exit_code)) from None
    except Exception as exc:  # a bug: keep the class name, let Dask retry it
        log.record("chunk-failed", frames=job_spec.frames, message=repr(exc))
        raise ChunkError(f"{type(exc).__name__}: {exc}", int(ExitCode.INTERNAL)) from None
    log.record("chunk-done", frames=job_spec.frames)
    return {
        **base,
        "ok": result.complete,
        "code": int(ExitCode.OK if result.complete else ExitCode.PARTIAL),
        "message": "" if result.complete else "frames not written",
        "written": written,
        "skipped": skipped,
        "warnings": result.warnings,
        "channels": required,
        "seconds": time.perf_counter() - t0,
    }


def finish_shot(out: str, frames: list[int], channels: list[str]) -> dict[str, Any]:
    """Close a shot once all its chunks have ended: which frames are complete on disk, and the
    temp files of writers killed mid-write removed (no other writer of these files is left).

    Runs on a worker because workers, not necessarily the submitting machine, see the storage.
    """
    seq = SequencePath(out)
    missing = [f for f in frames if not exr_is_complete(seq.path(f), channels)]
    removed = []
    stems = {seq.path(f).stem for f in frames}
    folders = {seq.path(f).parent for f in frames}
    for folder in folders:
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if not entry.name.startswith(".") or TEMP_MARK not in entry.name:
                continue
            stem = entry.name[1:].split(TEMP_MARK, 1)[0]
            if stem in stems:
                entry.unlink(missing_ok=True)
                removed.append(str(entry))
    flags = smooth_flags(out, [f for f in frames if f not in missing])
    return {
        "missing": missing,
        "temps_removed": removed,
        "worker": worker_name(),
        "smooth_flags": flags,
    }
