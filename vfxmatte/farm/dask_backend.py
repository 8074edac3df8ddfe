"""Run a shot list on a Dask distributed cluster (a scheduler address, or a LocalCluster).

Each chunk is one task (:func:`vfxmatte.farm.tasks.run_chunk`), submitted with bounded retries
and, for GPU work, ``resources={"GPU": 1}`` so a worker started with ``--resources GPU=1`` runs
one chunk per GPU. Dask itself re-runs the tasks of a worker that dies; because every chunk
resumes with ``skip_existing`` and frames are written atomically, a re-run never rewrites a
finished frame. Progress is one line per finished chunk (``as_completed``); at the end one task per
shot checks every frame on disk and removes temp files of killed writers.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vfxmatte.errors import BadArgumentError, CancelledError, EngineError
from vfxmatte.farm.chunks import Chunk, chunk_spec, split_frames
from vfxmatte.farm.shotlist import Shot
from vfxmatte.farm.summary import FarmSummary, ShotOutcome
from vfxmatte.farm.tasks import finish_shot, run_chunk

Report = Callable[[str], None]


@dataclass(frozen=True)
class DaskSettings:
    """How to cut and run the job. ``gpu=None`` means: GPU resources if a shot asks for cuda."""

    chunk_size: int = 10
    preroll: int = 0
    retries: int = 2
    gpu: bool | None = None
    journal: str | None = None
    connect_timeout: float = 20.0
    wait_for_workers: float = 120.0


@dataclass(frozen=True)
class PlannedChunk:
    shot: Shot
    chunk: Chunk
    spec: dict[str, Any]


def plan(shots: list[Shot], settings: DaskSettings) -> list[PlannedChunk]:
    """Every chunk of every shot with its ``vfxmatte run`` spec (what ``--dry-run`` prints)."""
    planned = []
    for shot in shots:
        size = shot.chunk_size or settings.chunk_size
        preroll = settings.preroll if shot.preroll is None else shot.preroll
        for chunk in split_frames(shot.frames, size, preroll):
            spec = chunk_spec(shot.spec, chunk).model_dump(mode="json")
            planned.append(PlannedChunk(shot, chunk, spec))
    return planned


def wants_gpu(shots: list[Shot], settings: DaskSettings) -> bool:
    if settings.gpu is not None:
        return settings.gpu
    return any(s.spec.device.strip().lower().startswith("cuda") for s in shots)


def open_client(scheduler: str | None, workers: int, gpu: bool, settings: DaskSettings):
    """A Client on ``scheduler``, or on a new LocalCluster of ``workers`` one-thread processes."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=f"{settings.connect_timeout}s")
        except (OSError, TimeoutError) as exc:
            raise BadArgumentError(
                f"cannot reach the Dask scheduler at {scheduler} ({type(exc).__name__}); "
                "check --scheduler and that `dask scheduler` runs there"
            ) from exc
        return client, None
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        resources={"GPU": 1} if gpu else None,
        silence_logs=logging.ERROR,
    )
    return Client(cluster), cluster


def _check_workers(
    client, scheduler: str | None, gpu: bool, settings: DaskSettings, report: Report
):
    try:
        client.wait_for_workers(1, timeout=settings.wait_for_workers)
    except TimeoutError as exc:
        raise BadArgumentError(
            f"no Dask worker joined {scheduler} within {settings.wait_for_workers:.0f}s; start "
            f"`dask worker {scheduler}` on the render nodes"
        ) from exc
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    report(f"vfxmatte: event=cluster scheduler={client.scheduler.address} workers={len(workers)}")
    if gpu and not any(w.get("resources", {}).get("GPU") for w in workers.values()):
        report(
            'vfxmatte: event=warning message="no worker advertises a GPU; GPU chunks wait for '
            'a worker started with --resources GPU=1"'
        )


def run_on_dask(
    shots: list[Shot],
    settings: DaskSettings,
    scheduler: str | None = None,
    local_workers: int = 1,
    report: Report = print,
) -> FarmSummary:
    """Submit every chunk, stream progress, retry within bounds, check the result on disk."""
    from distributed import as_completed

    t0 = time.perf_counter()
    gpu = wants_gpu(shots, settings)
    planned = plan(shots, settings)
    journal = str(Path(settings.journal).resolve()) if settings.journal else None
    outcomes = {s.name: ShotOutcome(s.name, list(s.frames)) for s in shots}
    channels: dict[str, list[str]] = {}
    client, cluster = open_client(scheduler, local_workers, gpu, settings)
    token = uuid.uuid4().hex[:8]
    futures: dict[Any, PlannedChunk] = {}
    try:
        _check_workers(client, scheduler, gpu, settings, report)
        for item in planned:
            future = client.submit(
                run_chunk,
                item.spec,
                item.shot.name,
                journal,
                key=f"vfxmatte-{item.shot.name}-{item.chunk.index:04d}-{token}",
                retries=settings.retries,
                resources={"GPU": 1} if gpu else None,
                pure=False,
            )
            futures[future] = item
        report(
            f"vfxmatte: event=submitted shots={len(shots)} chunks={len(planned)} "
            f"frames={sum(len(s.frames) for s in shots)} retries={settings.retries} gpu={gpu}"
        )
        done_frames = 0
        total = sum(len(s.frames) for s in shots)
        for future in as_completed(list(futures)):
            item = futures[future]
            outcome = outcomes[item.shot.name]
            status, detail, worker = _collect(future, outcome, channels, item)
            done_frames += len(item.chunk.frames)
            report(
                f"vfxmatte: event=chunk shot={item.shot.name} frames={item.chunk.label} "
                f"status={status} done={done_frames}/{total} "
                f"progress={100.0 * done_frames / total:.1f}% worker={worker}{detail}"
            )
        _finish(client, shots, outcomes, channels)
    except KeyboardInterrupt as exc:
        client.cancel(list(futures), force=True)
        raise CancelledError(
            "interrupted; chunks cancelled, finished frames are kept (resubmit to continue)"
        ) from exc
    except OSError as exc:  # distributed's CommClosedError is an OSError: scheduler gone
        raise EngineError(
            f"lost the Dask scheduler {scheduler or 'of the local cluster'} "
            f"({type(exc).__name__}: {exc}); finished frames are kept, resubmit to continue"
        ) from exc
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return FarmSummary([outcomes[s.name] for s in shots], time.perf_counter() - t0)


def _collect(future, outcome: ShotOutcome, channels: dict[str, list[str]], item: PlannedChunk):
    """Fold one finished future into its shot's outcome: (status, detail text, worker)."""
    if future.status == "finished":
        result = future.result()
        outcome.written.update(result.get("written", []))
        outcome.skipped.update(result.get("skipped", []))
        if result.get("ok"):
            channels.setdefault(outcome.name, result.get("channels", ["A"]))
            detail = (
                f" written={len(result.get('written', []))} kept={len(result.get('skipped', []))}"
            )
            return "ok", detail, result.get("worker", "?")
        message = f"chunk {item.chunk.label}: {result.get('message', 'failed')}"
        outcome.errors.append(message)
        return "failed", f' message="{message}"', result.get("worker", "?")
    exc = future.exception()
    text = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
    message = f"chunk {item.chunk.label}: {text}"
    outcome.errors.append(message)
    return "failed", f' message="{message}"', "?"


def _finish(client, shots: list[Shot], outcomes: dict[str, ShotOutcome], channels) -> None:
    """Per shot, on a worker: which frames are complete, and remove killed writers' temps."""
    checks = {
        s.name: client.submit(
            finish_shot, s.spec.out, list(s.frames), channels.get(s.name, ["A"]), pure=False
        )
        for s in shots
    }
    for name, future in checks.items():
        result = future.result()
        outcomes[name].missing = list(result["missing"])
        outcomes[name].temps_removed = len(result["temps_removed"])
        outcomes[name].smooth_flags = dict(result.get("smooth_flags", {}))
