"""Re-running flagged frames with changed settings into a new folder, for an A/B comparison.

The result EXRs name their plate, masks (or ID map) and engine, so a re-run starts from a base
:class:`~vfxmatte.jobspec.JobSpec`: the job spec the results were made with (``--job``), or one
built from the plate and masks given to the review (``--mask``) or recorded in the EXRs. The re-run never overwrites the
reviewed folder: it writes a sibling ``<folder>_rerunNN`` with the same file names.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vfxmatte.engines import validate_engine_options
from vfxmatte.errors import BadArgumentError, VfxMatteError
from vfxmatte.events import EventCallback, ignore_events
from vfxmatte.jobspec import JobSpec, load_job_spec
from vfxmatte.options import parse_engine_options
from vfxmatte.pipeline import Job, JobResult
from vfxmatte.review.model import ResultFolder
from vfxmatte.sequence import format_frames


def recorded_spec(result: ResultFolder) -> JobSpec | None:
    """The whole spec the results were made with (their ``vfxmatte:spec``), or None for results
    of a vfxmatte that did not record it."""
    for frame in result.frames:
        try:
            return load_job_spec(str(result.sequence.path(frame)))
        except VfxMatteError:
            continue
    return None


def base_spec(
    result: ResultFolder,
    job: JobSpec | None = None,
    masks: dict[str, str] | None = None,
    plate: str | None = None,
) -> JobSpec | None:
    """What a re-run starts from; None when the masks are unknown (re-run then unavailable).

    In order: the job given (``--job``); the spec recorded in the EXRs (engine options,
    temporal strength and colourspace included, so the A/B is like for like), with ``masks`` /
    ``plate`` given to the review replacing its own; else one rebuilt from the recorded paths
    with every other field at JobSpec's defaults.
    """
    if job is not None:
        return job
    recorded = recorded_spec(result)
    if recorded is not None:
        update: dict[str, Any] = {"out": result.sequence.pattern}
        if masks:
            update |= {"masks": masks, "id_map": None, "ids": None}
        if plate:
            update["plate"] = plate
        return JobSpec.model_validate(recorded.model_dump() | update)
    plate = plate or result.plate_pattern
    masks = masks or result.mask_patterns
    if not plate or not (masks or result.id_map_pattern):
        return None
    if masks:
        return JobSpec(plate=plate, out=result.sequence.pattern, masks=masks, engine=result.engine)
    return JobSpec(
        plate=plate, out=result.sequence.pattern, id_map=result.id_map_pattern, engine=result.engine
    )


def parse_options(text: str) -> dict[str, Any]:
    """``"search_frac=0.02 eps=1e-4"`` (spaces or commas) -> typed dict, numbers parsed."""
    items = [t for t in re.split(r"[\s,]+", text.strip()) if t]
    return parse_engine_options(items, what="engine option")


def next_rerun_folder(result: ResultFolder) -> Path:
    """``<folder>_rerun01``, ``_rerun02``...: the first that does not exist yet."""
    stem = re.sub(r"_rerun\d+$", "", result.folder.name)
    for i in range(1, 1000):
        candidate = result.folder.with_name(f"{stem}_rerun{i:02d}")
        if not candidate.exists():
            return candidate
    raise BadArgumentError(f"too many re-run folders beside {result.folder}; clean some up")


def rerun_spec(
    base: JobSpec,
    result: ResultFolder,
    frames: list[int],
    engine: str,
    engine_options: dict[str, Any],
    out_folder: Path,
) -> JobSpec:
    """The base job restricted to ``frames`` with the new engine/settings, writing to out_folder.

    With the same engine, ``engine_options`` change the base job's options (the rest stay as
    recorded); a different engine starts from its own defaults. Options are checked here, so a
    typo is refused before anything runs.
    """
    if not frames:
        raise BadArgumentError("no frames to re-run: flag some frames first")
    if engine == base.engine:
        engine_options = {**base.engine_options, **engine_options}
    validate_engine_options(engine, engine_options)
    out = str(out_folder / Path(result.sequence.pattern).name)
    return base.model_copy(
        update={
            "out": out,
            "frames": format_frames(frames),
            "engine": engine,
            "engine_options": engine_options,
            "skip_existing": False,
        }
    )


def run_rerun(
    spec: JobSpec,
    on_event: EventCallback = ignore_events,
    should_stop: Callable[[], bool] = lambda: False,
) -> JobResult:
    """Validate and run; the same Job the CLI runs, so a re-run is exactly a `vfxmatte run`."""
    return Job(spec, on_event).run(should_stop)
