"""What the route modules share, read from ``app.state`` (set once by :func:`create_app`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request

from vfxmatte.errors import BadArgumentError

if TYPE_CHECKING:
    from vfxmatte.server.app import ServiceSettings
    from vfxmatte.server.jobs import JobManager
    from vfxmatte.server.paths import PathPolicy

MAX_TEXT_DEPTH = 32


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


def reject_unencodable(value: Any, where: str = "body", depth: int = 0) -> None:
    """Refuse text that cannot become a file name or a log line: lone surrogates, NUL.

    JSON allows ``"\\ud800"``; Python decodes it to a str that every encoder later refuses, so it
    is caught here, at the edge, as a 400 naming the field.
    """
    if depth > MAX_TEXT_DEPTH:
        raise BadArgumentError(f"{where}: nested too deeply")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadArgumentError(
                f"{where}: text is not valid Unicode (a lone surrogate)"
            ) from None
        if "\x00" in value:
            raise BadArgumentError(f"{where}: text contains a NUL character")
    elif isinstance(value, dict):
        for key, item in value.items():
            reject_unencodable(key, f"{where} key", depth + 1)
            reject_unencodable(item, f"{where}.{key}" if isinstance(key, str) else where, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            reject_unencodable(item, where, depth + 1)
