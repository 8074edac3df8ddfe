"""The FastAPI app factory: settings, shared state, error handlers and the route modules.

Routes (all but ``/health`` need ``Authorization: Bearer <token>``)::

    GET  /health                          liveness (no auth, no details)        routes_info
    GET  /v1/info                         version, engines, devices, roots,...  routes_info
    GET  /v1/engines                      engines (with availability), devices  routes_info
    POST /v1/uploads                      new upload folder -> {"id"}           routes_uploads
    PUT  /v1/uploads/{id}/{name}          one file's bytes (raw body)           routes_uploads
    DELETE /v1/uploads/{id}               remove an upload no job reads         routes_uploads
    POST /v1/jobs                         submit a JobRequest -> 202 status     routes_jobs
    GET  /v1/jobs                         every job, summary                    routes_jobs
    GET  /v1/jobs/{id}                    status with per-frame progress        routes_jobs
    POST /v1/jobs/{id}/cancel             cancel (DELETE /v1/jobs/{id} too)     routes_jobs
    GET  /v1/jobs/{id}/results/{frame}    the frame's EXR                       routes_jobs

No client input gets a 5xx (issue 17): hostile text and numbers are refused as 4xx by
:mod:`vfxmatte.server.responses` and the route checks, and every job's input files are decoded
once in a child process first (:mod:`vfxmatte.server.probe`), so a file that crashes the decoder
fails its job, never the service.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI

from vfxmatte import __version__
from vfxmatte.server import routes_info, routes_jobs, routes_uploads
from vfxmatte.server.auth import BearerAuth
from vfxmatte.server.jobs import JobManager
from vfxmatte.server.limits import BodySizeLimit
from vfxmatte.server.paths import PathPolicy
from vfxmatte.server.responses import SafeJSONResponse, install_handlers

log = logging.getLogger("vfxmatte.server")

_build_spec = routes_jobs.build_spec  # the name older callers and tests import


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
    probe_inputs: bool = True  # decode each job's inputs in a child process before running it
    extra: dict = field(default_factory=dict)


def create_app(settings: ServiceSettings):
    """Build the ASGI app (FastAPI wrapped in the body-size limit) for ``settings``."""
    manager = JobManager(
        settings.workers, settings.queue_size, settings.history, probe=settings.probe_inputs
    )

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
        default_response_class=SafeJSONResponse,
    )
    app.state.settings = settings
    app.state.manager = manager
    app.state.policy = PathPolicy(settings.roots)
    app.state.auth = BearerAuth(settings.token)
    install_handlers(app)
    for module in (routes_info, routes_uploads, routes_jobs):
        app.include_router(module.router)
    return BodySizeLimit(
        app,
        json_limit=settings.max_request_bytes,
        upload_limit=settings.max_upload_bytes,
        upload_prefix="/v1/uploads/",
    )
