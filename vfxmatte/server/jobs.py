"""A bounded job queue with worker threads running :class:`vfxmatte.pipeline.Job`.

Each job records its per-frame progress from the pipeline's events, can be cancelled (queued jobs
never start; running ones stop before their next frame through ``should_stop``), and ends in one
of done / failed / cancelled. Whatever a job raises is caught and recorded on that job: one bad
job never stops a worker or the service; a file that would crash the decoder is found first in a
child process (:mod:`vfxmatte.server.probe`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from vfxmatte.errors import CancelledError, ExitCode, VfxMatteError
from vfxmatte.events import EventKind, ProgressEvent
from vfxmatte.jobspec import JobSpec

log = logging.getLogger("vfxmatte.server")


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED = {JobState.DONE, JobState.FAILED, JobState.CANCELLED}


class QueueFullError(Exception):
    """The queue holds its maximum number of waiting jobs (HTTP 503, retry later)."""


@dataclass
class JobRecord:
    """One submitted job and everything a client may ask about it."""

    id: str
    spec: JobSpec
    total: int
    upload: str | None = None  # the upload folder the job reads, if any
    state: JobState = JobState.QUEUED
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    done: int = 0
    frames: list[dict[str, Any]] = field(default_factory=list)
    outputs: dict[int, str] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str = ""
    exit_code: int | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_event(self, event: ProgressEvent) -> None:
        """Pipeline callback (worker thread): keep per-frame progress for status requests."""
        with self.lock:
            if event.kind in (EventKind.FRAME, EventKind.SKIP):
                self.done = event.done
                self.frames.append(
                    {
                        "frame": event.frame,
                        "kind": str(event.kind),
                        "seconds": round(event.seconds, 4),
                        "states": dict(event.states),
                    }
                )
                if event.frame is not None and event.path:
                    self.outputs[event.frame] = event.path
            elif event.kind == EventKind.START:
                self.total = event.total or self.total
            elif event.kind == EventKind.WARNING and event.message:
                self.warnings.append(event.message)

    def view(self, detail: bool = True) -> dict[str, Any]:
        with self.lock:
            data: dict[str, Any] = {
                "id": self.id,
                "state": str(self.state),
                "done": self.done,
                "total": self.total,
                "engine": self.spec.engine,
                "submitted": self.submitted,
                "started": self.started,
                "finished": self.finished,
                "error": self.error,
                "exit_code": self.exit_code,
                "out": self.spec.out,
            }
            if detail:
                data.update(
                    frames=list(self.frames),
                    outputs={str(k): v for k, v in sorted(self.outputs.items())},
                    names=list(self.names),
                    warnings=list(self.warnings),
                )
            return data

    def _finish(self, state: JobState, error: str = "", code: ExitCode | None = None) -> None:
        with self.lock:
            self.state = state
            self.error = error
            self.exit_code = None if code is None else int(code)
            self.finished = time.time()


class JobManager:
    """Owns the queue, the worker threads and the job table (finished jobs kept up to ``history``)."""

    def __init__(
        self, workers: int = 1, queue_size: int = 64, history: int = 1000, probe: bool = True
    ):
        self.workers = max(1, workers)
        self.probe = None  # decodes each job's inputs in a child process first
        if probe:
            from vfxmatte.server.probe import ProbeProcess

            self.probe = ProbeProcess()
        self.queue_size = queue_size
        self.history = history
        self._queue: queue.Queue[JobRecord | None] = queue.Queue(maxsize=queue_size)
        self._jobs: OrderedDict[str, JobRecord] = OrderedDict()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        for i in range(self.workers):
            t = threading.Thread(target=self._work, name=f"vfxmatte-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel everything and let the workers finish their current frame."""
        with self._lock:
            for rec in self._jobs.values():
                rec.cancel.set()
        for _ in self._threads:
            try:
                self._queue.put(None, timeout=timeout)
            except queue.Full:
                break
        for t in self._threads:
            t.join(timeout)
        if self.probe is not None:
            self.probe.close()

    # -- requests ---------------------------------------------------------------------------
    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    def submit(
        self, job_id: str, spec: JobSpec, total: int, upload: str | None = None
    ) -> JobRecord:
        rec = JobRecord(id=job_id, spec=spec, total=total, upload=upload)
        with self._lock:
            try:
                self._queue.put_nowait(rec)
            except queue.Full:
                raise QueueFullError(
                    f"the job queue is full ({self.queue_size} waiting); retry later"
                ) from None
            self._jobs[rec.id] = rec
            self._prune()
        return rec

    def get(self, job_id: str) -> JobRecord | None:
        with self._lock:
            return self._jobs.get(job_id)

    def all(self) -> list[JobRecord]:
        with self._lock:
            return list(self._jobs.values())

    def counts(self) -> dict[str, int]:
        counts = {str(s): 0 for s in JobState}
        for rec in self.all():
            counts[str(rec.state)] += 1
        return counts

    def upload_in_use(self, upload_id: str) -> bool:
        """Whether a queued or running job still reads ``upload_id``."""
        return any(r.upload == upload_id and r.state not in FINISHED for r in self.all())

    def cancel(self, job_id: str) -> JobRecord | None:
        rec = self.get(job_id)
        if rec is None:
            return None
        rec.cancel.set()
        with rec.lock:
            queued = rec.state == JobState.QUEUED
        if queued:  # it will be dropped by the worker; report it cancelled now
            rec._finish(JobState.CANCELLED, "cancelled before it started", ExitCode.INTERRUPTED)
        return rec

    def _prune(self) -> None:
        finished = [k for k, r in self._jobs.items() if r.state in FINISHED]
        for key in finished[: max(0, len(self._jobs) - self.history)]:
            del self._jobs[key]

    # -- workers ----------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            rec = self._queue.get()
            if rec is None:
                return
            try:
                if rec.cancel.is_set():
                    continue
                self._run(rec)
            except BaseException:  # never let a job kill its worker
                log.exception("job %s: worker error", rec.id)
            finally:
                self._queue.task_done()

    def _run(self, rec: JobRecord) -> None:
        from vfxmatte.pipeline import Job  # torch is imported with the pipeline, once

        with rec.lock:
            rec.state = JobState.RUNNING
            rec.started = time.time()
        if self.probe is not None:
            from vfxmatte.server.probe import job_input_files

            failure = self.probe.check(job_input_files(rec.spec))
            if failure is not None:
                rec._finish(JobState.FAILED, *failure)
                return
        try:
            job = Job(rec.spec, on_event=rec.on_event)
            with rec.lock:
                rec.names = list(job.masks.names)
            result = job.run(should_stop=rec.cancel.is_set)
        except CancelledError as exc:
            rec._finish(JobState.CANCELLED, exc.message, exc.exit_code)
        except VfxMatteError as exc:
            rec._finish(JobState.FAILED, exc.message, exc.exit_code)
        except MemoryError:
            rec._finish(JobState.FAILED, "out of memory", ExitCode.OUT_OF_MEMORY)
        except Exception as exc:  # a bug: record it, keep serving
            log.exception("job %s failed", rec.id)
            rec._finish(
                JobState.FAILED, f"internal error: {type(exc).__name__}: {exc}", ExitCode.INTERNAL
            )
        else:
            if result.complete:
                rec._finish(JobState.DONE, code=ExitCode.OK)
            else:
                missing = sorted(set(result.frames) - set(result.written) - set(result.skipped))
                rec._finish(JobState.FAILED, f"frames not written: {missing}", ExitCode.PARTIAL)


def job_folder(work_dir: Path, job_id: str) -> Path:
    return work_dir / "jobs" / job_id
