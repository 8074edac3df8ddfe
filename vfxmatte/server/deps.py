"""What the route modules share, read from ``app.state`` (set once by :func:`create_app`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import Request

if TYPE_CHECKING:
    from vfxmatte.server.app import ServiceSettings
    from vfxmatte.server.jobs import JobManager
    from vfxmatte.server.paths import PathPolicy


def settings_of(request: Request) -> ServiceSettings:
    return request.app.state.settings


def manager_of(request: Request) -> JobManager:
    return request.app.state.manager


def policy_of(request: Request) -> PathPolicy:
    return request.app.state.policy


def uploads_dir_of(request: Request) -> Path:
    return settings_of(request).work_dir / "uploads"


def require_token(request: Request) -> None:
    """The bearer-token check configured for this app (401 otherwise)."""
    request.app.state.auth(request)
