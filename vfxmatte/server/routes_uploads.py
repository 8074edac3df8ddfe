"""Upload folders: create one, stream files into it, delete it when no job reads it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request

from vfxmatte.errors import BadArgumentError
from vfxmatte.server.deps import manager_of, require_token, uploads_dir_of

UPLOAD_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}$")
UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")

router = APIRouter(prefix="/v1/uploads", dependencies=[Depends(require_token)])


def upload_folder(uploads_dir: Path, upload_id: str) -> Path:
    """The folder of an existing upload (404 for an unknown or malformed id)."""
    if not UPLOAD_ID.match(upload_id) or not (uploads_dir / upload_id).is_dir():
        raise HTTPException(404, f"no upload {upload_id}; create one with POST /v1/uploads")
    return uploads_dir / upload_id


@router.post("", status_code=201)
def new_upload(request: Request) -> dict:
    upload_id = manager_of(request).new_id()
    (uploads_dir_of(request) / upload_id).mkdir(parents=True)
    return {"id": upload_id}


@router.put("/{upload_id}/{name}", status_code=201)
async def put_file(upload_id: str, name: str, request: Request) -> dict:
    """Stream the body to ``.<name>.part`` then rename; an aborted or refused body leaves nothing."""
    folder = upload_folder(uploads_dir_of(request), upload_id)
    if not UPLOAD_NAME.match(name) or ".." in name:
        raise BadArgumentError(f"upload name '{name}': use letters, digits, '_', '.', '-'")
    target = folder / name
    tmp = folder / f".{name}.part"
    size = 0
    try:
        with open(tmp, "wb") as fh:
            async for chunk in request.stream():
                size += len(chunk)
                fh.write(chunk)
        tmp.replace(target)
    except BaseException:  # client gone, body too large, cancelled: no .part is left behind
        tmp.unlink(missing_ok=True)
        raise
    return {"name": name, "bytes": size}


@router.delete("/{upload_id}")
def delete_upload(upload_id: str, request: Request) -> dict:
    folder = upload_folder(uploads_dir_of(request), upload_id)
    if manager_of(request).upload_in_use(upload_id):
        raise HTTPException(409, f"upload {upload_id} is still read by a queued or running job")
    shutil.rmtree(folder)
    return {"id": upload_id, "deleted": True}
