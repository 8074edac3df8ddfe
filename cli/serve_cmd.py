"""`vfxmatte serve`: the engine service the Nuke and Blender add-ons send frames to."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Annotated

import typer

from vfxmatte.errors import BadArgumentError
from vfxmatte_client.config import DEFAULT_PORT, default_token_file


def default_work_dir() -> Path:
    """Uploads and results of jobs without an output path: the user's cache folder."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vfxmatte" / "service"


def _check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise BadArgumentError(
                f"cannot listen on {host}:{port} ({exc.strerror}); is another `vfxmatte serve` "
                "running? pick another --port"
            ) from exc


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = DEFAULT_PORT,
    token_file: Annotated[
        Path | None,
        typer.Option(help="Bearer token file (created 0600 if missing); default: config folder"),
    ] = None,
    allow_root: Annotated[
        list[Path] | None,
        typer.Option(help="Folder jobs may read plates/masks from and write to (repeat)"),
    ] = None,
    work_dir: Annotated[
        Path | None, typer.Option(help="Uploads and results folder (default: user cache)")
    ] = None,
    workers: Annotated[int, typer.Option(help="Jobs run at the same time")] = 1,
    queue_size: Annotated[int, typer.Option(help="Jobs that may wait in the queue")] = 64,
    max_request_mb: Annotated[float, typer.Option(help="Largest JSON request body")] = 1.0,
    max_upload_mb: Annotated[float, typer.Option(help="Largest uploaded file")] = 2048.0,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "warning",
) -> None:
    """Serve the matting engine over HTTP for the Nuke and Blender add-ons (bearer-token auth)."""
    import uvicorn

    from vfxmatte.server.app import ServiceSettings, create_app
    from vfxmatte.server.auth import load_or_create_token

    if not 0 < port < 65536:
        raise BadArgumentError(f"--port {port}: expected 1-65535")
    if workers < 1 or queue_size < 1:
        raise BadArgumentError("--workers and --queue-size must be at least 1")
    roots = []
    for root in allow_root or []:
        if not root.is_dir():
            raise BadArgumentError(f"--allow-root {root}: not an existing folder")
        roots.append(root.resolve())
    token_path = (token_file or default_token_file()).expanduser()
    token = load_or_create_token(token_path)
    _check_port_free(host, port)
    settings = ServiceSettings(
        token=token,
        roots=roots,
        work_dir=(work_dir or default_work_dir()).resolve(),
        workers=workers,
        queue_size=queue_size,
        max_request_bytes=int(max_request_mb * (1 << 20)),
        max_upload_bytes=int(max_upload_mb * (1 << 20)),
    )
    app = create_app(settings)
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"vfxmatte: serving on http://{shown}:{port}  token file: {token_path}")
    typer.echo(
        "vfxmatte: allowed roots: "
        + (", ".join(map(str, roots)) if roots else "none (uploaded frames only; add --allow-root)")
    )
    if not _is_loopback(host):
        typer.echo(
            f"vfxmatte: warning: listening on {host}, reachable from other machines; "
            "share the token file only with trusted users and prefer a TLS proxy",
            err=True,
        )
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
