"""Bearer-token authentication: one secret per user, created on first start with mode 0600."""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from fastapi import HTTPException, Request, status

from vfxmatte.errors import BadArgumentError


def load_or_create_token(path: Path) -> str:
    """Read the token at ``path``, creating it (0600, parents 0700) when missing or empty."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        token = ""
    except OSError as exc:
        raise BadArgumentError(f"--token-file {path}: cannot read it ({exc.strerror})") from exc
    if token:
        if os.name == "posix" and path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)  # tighten a token file others could read
        return token
    token = secrets.token_urlsafe(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(token + "\n")
        os.chmod(path, 0o600)
    except OSError as exc:
        raise BadArgumentError(f"--token-file {path}: cannot write it ({exc.strerror})") from exc
    return token


class BearerAuth:
    """FastAPI dependency: 401 unless ``Authorization: Bearer <token>`` matches (constant time)."""

    def __init__(self, token: str):
        self._token = token.encode("utf-8")

    def __call__(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode("utf-8"), self._token
        ):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="missing or wrong bearer token (see the service's --token-file)",
                headers={"WWW-Authenticate": "Bearer"},
            )
