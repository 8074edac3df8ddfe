"""Liveness, engines and service information routes."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from vfxmatte import __version__
from vfxmatte.server.deps import manager_of, policy_of, require_token, settings_of

router = APIRouter()


@router.get("/health")
def health() -> dict:
    return {"status": "ok", "service": "vfxmatte"}


def engines_and_devices() -> dict:
    from vfxmatte.devices import describe_devices
    from vfxmatte.engines import list_engines

    return {
        "engines": [
            {"name": e.name, "available": e.available, "detail": e.detail} for e in list_engines()
        ],
        "devices": describe_devices(),
    }


@router.get("/v1/engines", dependencies=[Depends(require_token)])
def engines() -> dict:
    return engines_and_devices()


@router.get("/v1/info", dependencies=[Depends(require_token)])
def info(request: Request) -> dict:
    settings = settings_of(request)
    return {
        "version": __version__,
        **engines_and_devices(),
        "roots": policy_of(request).describe(),
        "limits": {
            "max_request_bytes": settings.max_request_bytes,
            "max_upload_bytes": settings.max_upload_bytes,
            "queue_size": settings.queue_size,
            "workers": settings.workers,
        },
        "jobs": manager_of(request).counts(),
    }
