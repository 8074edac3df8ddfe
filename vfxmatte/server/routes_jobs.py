"""Job routes: submit (validated, paths confined), list, status, cancel, fetch a result frame."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse

from vfxmatte.errors import BadArgumentError
from vfxmatte.jobspec import JobSpec
from vfxmatte.sequence import SequencePath, format_frames, parse_frames
from vfxmatte.server.deps import (
    manager_of,
    policy_of,
    require_token,
    settings_of,
    uploads_dir_of,
)
from vfxmatte.server.jobs import JobRecord, QueueFullError, job_folder
from vfxmatte.server.models import JobRequest
from vfxmatte.server.paths import PathPolicy
from vfxmatte.server.routes_uploads import upload_folder
from vfxmatte.validate import check_out_not_input, reject_unencodable, spec_from

router = APIRouter(prefix="/v1/jobs", dependencies=[Depends(require_token)])


@router.post("", status_code=202)
def submit(req: JobRequest, request: Request) -> dict:
    manager = manager_of(request)
    job_id = manager.new_id()
    spec, total = build_spec(
        req, job_id, policy_of(request), settings_of(request).work_dir, uploads_dir_of(request)
    )
    try:
        rec = manager.submit(job_id, spec, total, req.upload)
    except QueueFullError as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "5"}) from exc
    return rec.view()


@router.get("")
def list_jobs(request: Request) -> dict:
    return {"jobs": [r.view(detail=False) for r in manager_of(request).all()]}


def _record(request: Request, job_id: str) -> JobRecord:
    rec = manager_of(request).get(job_id)
    if rec is None:
        raise HTTPException(404, f"no job {job_id} (finished jobs are kept for a while)")
    return rec


@router.get("/{job_id}")
def job_status(job_id: str, request: Request) -> dict:
    return _record(request, job_id).view()


@router.post("/{job_id}/cancel")
@router.delete("/{job_id}")
def cancel(job_id: str, request: Request) -> dict:
    _record(request, job_id)
    return manager_of(request).cancel(job_id).view()


@router.get("/{job_id}/results/{frame}")
def result(job_id: str, frame: int, request: Request) -> FileResponse:
    rec = _record(request, job_id)
    path = rec.view()["outputs"].get(str(frame))
    if not path or not Path(path).is_file():
        raise HTTPException(404, f"job {job_id} has no written frame {frame} (yet)")
    return FileResponse(path, media_type="image/x-exr", filename=Path(path).name)


def build_spec(
    req: JobRequest, job_id: str, policy: PathPolicy, work_dir: Path, uploads_dir: Path
) -> tuple[JobSpec, int]:
    """Confine every path, pin the frame list, choose the output; raise one-line errors.

    Everything a worker would trip on is refused here as a 400: text no file system accepts,
    frame specs past the cap (sized before expansion), an output that is one of the inputs, and
    any JobSpec constraint (ids > 0, pre-roll <= 1000).
    """
    reject_unencodable(req.model_dump(), "request")
    base = upload_folder(uploads_dir, req.upload) if req.upload else None
    plate = policy.confine_pattern(req.plate, "plate", base)
    masks = {name: policy.confine_pattern(p, f"mask {name}", base) for name, p in req.masks.items()}
    id_map = policy.confine_pattern(req.id_map, "id_map", base) if req.id_map else None
    clean = (
        policy.confine_pattern(req.clean_plate, "clean_plate", base) if req.clean_plate else None
    )
    if req.out and base is None:
        out = policy.confine_pattern(req.out, "out")
    else:
        out = str(job_folder(work_dir, job_id) / "matte.####.exr")
    if req.frames:
        frames = parse_frames(req.frames)
    else:
        frames = SequencePath(plate).frames_on_disk()
        if not frames:
            raise BadArgumentError(f"no plate frames found for {req.plate}; check the path")
    spec = spec_from(
        plate=plate,
        out=out,
        masks=masks,
        id_map=id_map,
        ids=req.ids,
        frames=format_frames(frames),
        engine=req.engine,
        engine_options=dict(req.engine_options),
        device=req.device,
        colorspace=req.colorspace,
        compression=req.compression,
        full_frame=req.full_frame,
        write_colour=req.write_colour,
        skip_existing=req.skip_existing,
        clean_plate=clean,
        preroll=req.preroll,
        keyframes=req.keyframes,
        **({} if req.temporal_strength is None else {"temporal_strength": req.temporal_strength}),
    )
    checked = [*range(frames[0] - spec.preroll, frames[0]), *frames]  # pre-roll is read too
    inputs = {"plate": plate, "id map": id_map, "clean plate": clean}
    inputs |= {f"mask {n}": p for n, p in masks.items()}
    check_out_not_input(out, inputs, checked)
    for what, pattern in inputs.items():
        if pattern:
            policy.check_files(pattern, checked, what, base)
    return spec, len(frames)
