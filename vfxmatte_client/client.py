"""HTTP client for ``vfxmatte serve`` using only urllib and json (it runs inside Nuke and Blender).

Two ways to hand frames over: by path (the service reads the plate and masks from shared storage
under one of its ``--allow-root`` folders, and writes results there) or by upload (frames are sent
to the service, results are downloaded). ``transfer="auto"`` uses paths when every file lies
under a root the service allows, and uploads otherwise.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import (
    HOST_FULL_FRAME,
    JOB_DEFAULTS,
    default_token_file,
    default_url,
    read_token,
    start_command,
)

_PADDING = re.compile(r"#+|%0(\d+)d|@+")


def frame_path(pattern: str, frame: int) -> str:
    """``plate.####.exr`` / ``plate.%04d.exr`` at ``frame`` (the service accepts more forms)."""

    def sub(m: re.Match[str]) -> str:
        width = int(m.group(1)) if m.group(1) else len(m.group(0))
        return f"{frame:0{width}d}"

    return _PADDING.sub(sub, pattern, count=1)


class ServiceError(RuntimeError):
    """The service answered with an error; ``status`` is the HTTP code (0 when none)."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


class ServiceUnavailableError(ServiceError):
    """Nothing answers at the URL: the message says how to start the service."""


@dataclass
class JobStatus:
    """What ``GET /v1/jobs/{id}`` says about a job."""

    id: str
    state: str  # queued | running | done | failed | cancelled
    done: int = 0
    total: int = 0
    frames: list[dict[str, Any]] = field(default_factory=list)
    outputs: dict[int, str] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str = ""
    exit_code: int | None = None
    out: str = ""

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "cancelled")

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobStatus:
        return cls(
            id=data["id"],
            state=data["state"],
            done=data.get("done", 0),
            total=data.get("total", 0),
            frames=list(data.get("frames", [])),
            outputs={int(k): v for k, v in data.get("outputs", {}).items()},
            names=list(data.get("names", [])),
            warnings=list(data.get("warnings", [])),
            error=data.get("error") or "",
            exit_code=data.get("exit_code"),
            out=data.get("out", ""),
        )


class ServiceClient:
    """One service at ``url`` with the bearer token read from ``token_file`` (or given)."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        token_file: str | os.PathLike | None = None,
        timeout: float = 30.0,
    ):
        self.url = (url or default_url()).rstrip("/")
        self.token_file = Path(token_file) if token_file else default_token_file()
        self.token = token if token is not None else read_token(self.token_file)
        self.timeout = timeout

    # -- transport --------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
        auth: bool = True,
    ) -> bytes:
        req = urllib.request.Request(self.url + path, data=body, method=method)
        if body is not None:
            req.add_header("Content-Type", content_type)
        if auth:
            if not self.token:
                raise ServiceError(
                    f"no service token in {self.token_file}; start the service once "
                    f"({start_command(self.url)}) or point the add-on at its --token-file"
                )
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.read()
        except urllib.error.HTTPError as exc:
            detail = _error_detail(exc)
            if exc.code == 401:
                raise ServiceError(
                    f"the service at {self.url} refused the token from {self.token_file} "
                    f"(HTTP 401); use the token file the service printed at start-up",
                    401,
                ) from exc
            raise ServiceError(f"{method} {path}: HTTP {exc.code}: {detail}", exc.code) from exc
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            raise ServiceUnavailableError(
                f"no vfxmatte service answers at {self.url} ({_reason(exc)}); start it with: "
                f"{start_command(self.url)}"
            ) from exc

    def _json(self, method: str, path: str, payload: Any = None, auth: bool = True) -> Any:
        body = None if payload is None else json.dumps(payload).encode("utf-8")
        return json.loads(self._request(method, path, body, auth=auth) or b"null")

    # -- API --------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """Unauthenticated liveness check; raises ServiceUnavailableError when nothing answers."""
        return self._json("GET", "/health", auth=False)

    def info(self) -> dict[str, Any]:
        """Engines, devices, allowed roots and limits of the service."""
        return self._json("GET", "/v1/info")

    def submit(self, request: dict[str, Any]) -> str:
        """Submit a job request (see the service's JobRequest); returns the job id."""
        return self._json("POST", "/v1/jobs", request)["id"]

    def status(self, job_id: str) -> JobStatus:
        return JobStatus.from_json(self._json("GET", f"/v1/jobs/{job_id}"))

    def cancel(self, job_id: str) -> JobStatus:
        return JobStatus.from_json(self._json("POST", f"/v1/jobs/{job_id}/cancel", {}))

    def create_upload(self) -> str:
        return self._json("POST", "/v1/uploads", {})["id"]

    def upload_file(self, upload_id: str, name: str, local_path: str | os.PathLike) -> None:
        data = Path(local_path).read_bytes()
        self._request(
            "PUT", f"/v1/uploads/{upload_id}/{name}", data, content_type="application/octet-stream"
        )

    def delete_upload(self, upload_id: str) -> None:
        self._json("DELETE", f"/v1/uploads/{upload_id}")

    def download(self, job_id: str, frame: int, dest: str | os.PathLike) -> Path:
        """Fetch one result EXR into ``dest`` (written to a temp name first, then renamed)."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        data = self._request("GET", f"/v1/jobs/{job_id}/results/{frame}")
        tmp = dest.with_name(dest.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, dest)
        return dest

    def wait(
        self,
        job_id: str,
        on_progress: Callable[[JobStatus], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
        poll_s: float = 0.25,
        timeout_s: float | None = None,
    ) -> JobStatus:
        """Poll until the job finishes, reporting progress and cancelling when asked to."""
        start = time.monotonic()
        cancelled = False
        while True:
            status = self.status(job_id)
            if on_progress:
                on_progress(status)
            if status.finished:
                return status
            if not cancelled and should_cancel and should_cancel():
                self.cancel(job_id)
                cancelled = True
            if timeout_s is not None and time.monotonic() - start > timeout_s:
                raise ServiceError(f"job {job_id} still {status.state} after {timeout_s:.0f}s")
            time.sleep(poll_s)

    # -- the add-ons' one call --------------------------------------------------------------
    def matte(
        self,
        plate: str,
        masks: dict[str, str] | None,
        frames: list[int],
        result_dir: str | os.PathLike,
        id_map: str | None = None,
        engine: str = JOB_DEFAULTS["engine"],
        device: str = JOB_DEFAULTS["device"],
        full_frame: bool = HOST_FULL_FRAME,
        transfer: str = "auto",
        extra: dict[str, Any] | None = None,
        on_progress: Callable[[JobStatus], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> tuple[JobStatus, str]:
        """Send a plate and masks (``####`` patterns), wait, return (status, local result pattern).

        The result pattern names EXRs readable on this machine: the service's own output when
        paths were used, downloaded copies in ``result_dir`` after an upload.
        """
        masks = dict(masks or {})
        local = {"plate": plate, **{f"mask:{k}": v for k, v in masks.items()}}
        if id_map:
            local["id_map"] = id_map
        mode = transfer
        if mode == "auto":
            roots = self.info().get("roots", [])
            inputs_ok = _all_under(local.values(), frames, roots)
            mode = "paths" if inputs_ok and _all_under([str(result_dir)], [0], roots) else "upload"
        request: dict[str, Any] = {
            "frames": ",".join(str(f) for f in frames),
            "engine": engine,
            "device": device,
            "full_frame": full_frame,
            **(extra or {}),
        }
        result_dir = Path(result_dir)
        if mode == "paths":
            request.update(plate=plate, masks=masks, id_map=id_map)
            request["out"] = str(result_dir / "matte.####.exr")
        elif mode == "upload":
            upload_id = self.create_upload()
            remote = {}
            for key, pattern in local.items():
                stem = re.sub(r"[^A-Za-z0-9_]", "_", key)
                ext = Path(pattern).suffix
                for f in frames:
                    src = frame_path(pattern, f)
                    if os.path.exists(src):
                        self.upload_file(upload_id, f"{stem}.{f:04d}{ext}", src)
                remote[key] = f"{stem}.####{ext}"
            request.update(
                upload=upload_id,
                plate=remote["plate"],
                masks={k: remote[f"mask:{k}"] for k in masks},
                id_map=remote.get("id_map"),
            )
        else:
            raise ValueError(f"transfer must be auto, paths or upload, not {transfer!r}")
        job_id = self.submit(request)
        status = self.wait(job_id, on_progress, should_cancel)
        if status.state != "done":
            if mode == "upload":
                self.delete_upload(request["upload"])
            return status, ""
        if mode == "paths":
            return status, status.out
        pattern = str(result_dir / "matte.####.exr")
        for f in sorted(status.outputs):
            self.download(job_id, f, frame_path(pattern, f))
        self.delete_upload(request["upload"])  # the service keeps no copy of the plate
        return status, pattern


def _all_under(patterns: Any, frames: list[int], roots: list[str]) -> bool:
    """True when every existing input file resolves (symlinks followed) under one of ``roots``."""
    real_roots = [os.path.realpath(r) for r in roots]
    for pattern in patterns:
        for f in frames:
            path = os.path.realpath(frame_path(pattern, f))
            if not any(os.path.commonpath([path, r]) == r for r in real_roots):
                return False
    return bool(real_roots)


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        data = json.loads(exc.read() or b"{}")
    except (ValueError, OSError):
        return exc.reason or ""
    return str(data.get("detail") or data.get("error") or data)


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason or exc)
