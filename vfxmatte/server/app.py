"""The FastAPI app factory: routes, auth, path confinement, size limits, the job manager.

Routes (all but ``/health`` need ``Authorization: Bearer <token>``)::

    GET  /health                          liveness (no auth, no details)
    GET  /v1/info                         version, engines, devices, roots, limits, queue
    GET  /v1/engines                      engines (with availability) and devices
    POST /v1/uploads                      new upload folder -> {"id"}
    PUT  /v1/uploads/{id}/{name}          one file's bytes (raw body)
    DELETE /v1/uploads/{id}               remove an upload no queued/running job reads
    POST /v1/jobs                         submit a JobRequest -> 202 job status
    GET  /v1/jobs                         every job, summary
    GET  /v1/jobs/{id}                    status with per-frame progress and outputs
    POST /v1/jobs/{id}/cancel             cancel (DELETE /v1/jobs/{id} too)
    GET  /v1/jobs/{id}/results/{frame}    the frame's EXR
"""

from __future__ import annotations

import logging
import re
import shutil
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse

from vfxmatte import __version__
from vfxmatte.errors import BadArgumentError, VfxMatteError
from vfxmatte.jobspec import JobSpec
from vfxmatte.sequence import SequencePath, format_frames, parse_frames
from vfxmatte.server.auth import BearerAuth
from vfxmatte.server.jobs import JobManager, QueueFullError, job_folder
from vfxmatte.server.limits import BodySizeLimit
from vfxmatte.server.models import JobRequest
from vfxmatte.server.paths import PathNotAllowedError, PathPolicy

log = logging.getLogger("vfxmatte.server")

UPLOAD_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}$")
UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_FRAMES = 100_000


@dataclass
class ServiceSettings:
    token: str
    roots: list[Path]
    work_dir: Path
    workers: int = 1
    queue_size: int = 64
    max_request_bytes: int = 1 << 20
    max_upload_bytes: int = 2 << 30
    history: int = 1000
    extra: dict = field(default_factory=dict)


def create_app(settings: ServiceSettings):
    """Build the ASGI app (FastAPI wrapped in the body-size limit) for ``settings``."""
    policy = PathPolicy(settings.roots)
    manager = JobManager(settings.workers, settings.queue_size, settings.history)
    auth = Depends(BearerAuth(settings.token))
    uploads_dir = settings.work_dir / "uploads"

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        settings.work_dir.mkdir(parents=True, exist_ok=True)
        manager.start()
        yield
        manager.stop()

    app = FastAPI(
        title="vfxmatte engine service",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.manager = manager
    app.state.policy = policy

    # -- errors -----------------------------------------------------------------------------
    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse({"detail": "malformed JSON body"}, status.HTTP_400_BAD_REQUEST)
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        msg = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
        return JSONResponse(
            {"detail": f"{where + ': ' if where else ''}{msg}", "errors": jsonable_encoder(errors)},
            status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(VfxMatteError)
    async def _user_error(_: Request, exc: VfxMatteError) -> JSONResponse:
        code = 403 if isinstance(exc, PathNotAllowedError) else 400
        return JSONResponse({"detail": exc.message, "exit_code": int(exc.exit_code)}, code)

    # -- routes -----------------------------------------------------------------------------
    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "service": "vfxmatte"}

    def engines_and_devices() -> dict:
        from vfxmatte.devices import describe_devices
        from vfxmatte.engines import list_engines

        return {
            "engines": [
                {"name": e.name, "available": e.available, "detail": e.detail}
                for e in list_engines()
            ],
            "devices": describe_devices(),
        }

    @app.get("/v1/engines", dependencies=[auth])
    def engines() -> dict:
        return engines_and_devices()

    @app.get("/v1/info", dependencies=[auth])
    def info() -> dict:
        return {
            "version": __version__,
            **engines_and_devices(),
            "roots": policy.describe(),
            "limits": {
                "max_request_bytes": settings.max_request_bytes,
                "max_upload_bytes": settings.max_upload_bytes,
                "queue_size": settings.queue_size,
                "workers": settings.workers,
            },
            "jobs": manager.counts(),
        }

    @app.post("/v1/uploads", dependencies=[auth], status_code=201)
    def new_upload() -> dict:
        upload_id = manager.new_id()
        (uploads_dir / upload_id).mkdir(parents=True)
        return {"id": upload_id}

    @app.put("/v1/uploads/{upload_id}/{name}", dependencies=[auth], status_code=201)
    async def put_file(upload_id: str, name: str, request: Request) -> dict:
        folder = _upload_folder(uploads_dir, upload_id)
        if not UPLOAD_NAME.match(name) or ".." in name:
            raise BadArgumentError(f"upload name '{name}': use letters, digits, '_', '.', '-'")
        target = folder / name
        tmp = folder / f".{name}.part"
        size = 0
        with open(tmp, "wb") as fh:
            async for chunk in request.stream():
                size += len(chunk)
                fh.write(chunk)
        tmp.replace(target)
        return {"name": name, "bytes": size}

    @app.delete("/v1/uploads/{upload_id}", dependencies=[auth])
    def delete_upload(upload_id: str) -> dict:
        folder = _upload_folder(uploads_dir, upload_id)
        if manager.upload_in_use(upload_id):
            raise HTTPException(409, f"upload {upload_id} is still read by a queued or running job")
        shutil.rmtree(folder)
        return {"id": upload_id, "deleted": True}

    @app.post("/v1/jobs", dependencies=[auth], status_code=202)
    def submit(req: JobRequest) -> dict:
        job_id = manager.new_id()
        spec, total = _build_spec(req, job_id, policy, settings.work_dir, uploads_dir)
        try:
            rec = manager.submit(job_id, spec, total, req.upload)
        except QueueFullError as exc:
            raise HTTPException(503, str(exc), headers={"Retry-After": "5"}) from exc
        return rec.view()

    @app.get("/v1/jobs", dependencies=[auth])
    def list_jobs() -> dict:
        return {"jobs": [r.view(detail=False) for r in manager.all()]}

    def _record(job_id: str):
        rec = manager.get(job_id)
        if rec is None:
            raise HTTPException(404, f"no job {job_id} (finished jobs are kept for a while)")
        return rec

    @app.get("/v1/jobs/{job_id}", dependencies=[auth])
    def job_status(job_id: str) -> dict:
        return _record(job_id).view()

    @app.post("/v1/jobs/{job_id}/cancel", dependencies=[auth])
    @app.delete("/v1/jobs/{job_id}", dependencies=[auth])
    def cancel(job_id: str) -> dict:
        _record(job_id)
        return manager.cancel(job_id).view()

    @app.get("/v1/jobs/{job_id}/results/{frame}", dependencies=[auth])
    def result(job_id: str, frame: int) -> FileResponse:
        rec = _record(job_id)
        path = rec.view()["outputs"].get(str(frame))
        if not path or not Path(path).is_file():
            raise HTTPException(404, f"job {job_id} has no written frame {frame} (yet)")
        return FileResponse(path, media_type="image/x-exr", filename=Path(path).name)

    return BodySizeLimit(
        app,
        json_limit=settings.max_request_bytes,
        upload_limit=settings.max_upload_bytes,
        upload_prefix="/v1/uploads/",
    )


def _upload_folder(uploads_dir: Path, upload_id: str) -> Path:
    folder = uploads_dir / upload_id
    if not UPLOAD_ID.match(upload_id) or not folder.is_dir():
        raise HTTPException(404, f"no upload {upload_id}; create one with POST /v1/uploads")
    return folder


def _build_spec(
    req: JobRequest, job_id: str, policy: PathPolicy, work_dir: Path, uploads_dir: Path
) -> tuple[JobSpec, int]:
    """Confine every path, pin the frame list, choose the output; raise one-line errors."""
    base = _upload_folder(uploads_dir, req.upload) if req.upload else None
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
    if len(frames) > MAX_FRAMES:
        raise BadArgumentError(f"{len(frames)} frames in one job; split it (max {MAX_FRAMES})")
    checked = [*range(frames[0] - req.preroll, frames[0]), *frames]  # pre-roll is read too
    for what, pattern in [("plate", plate), ("id_map", id_map), ("clean_plate", clean)] + [
        (f"mask {n}", p) for n, p in masks.items()
    ]:
        if pattern:
            policy.check_files(pattern, checked, what, base)
    spec = JobSpec(
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
    return spec, len(frames)
