"""`vfxmatte info`: versions, devices, OCIO config and engines, for bug reports and farm checks."""

from __future__ import annotations

import platform

import typer


def info() -> None:
    """Print versions, devices, the OCIO config in use and which engines can run here."""
    import cv2
    import OpenImageIO as oiio
    import PyOpenColorIO as ocio
    import torch

    from vfxmatte import __version__
    from vfxmatte.devices import describe_devices
    from vfxmatte.engines import list_engines, options_help
    from vfxmatte.io.colour import config_source, load_config

    typer.echo(f"vfxmatte {__version__}  (python {platform.python_version()})")
    typer.echo(
        f"torch {torch.__version__}  OpenImageIO {oiio.__version__}  "
        f"OpenColorIO {ocio.__version__}  OpenCV {cv2.__version__}"
    )
    typer.echo("devices: " + ", ".join(describe_devices()))
    config = load_config()
    typer.echo(f"OCIO config: {config_source()} ({config.getName()})")
    typer.echo("engines:")
    for e in list_engines():
        typer.echo(f"  {e.name:10s} {'ready' if e.available else 'unavailable'}: {e.detail}")
        for line in _engine_options(e.name, options_help):
            typer.echo(f"      {line}")


def _engine_options(name: str, options_help) -> list[str]:
    from vfxmatte.errors import VfxMatteError

    try:
        return ["options (--engine-option KEY=VALUE):", *(f"  {ln}" for ln in options_help(name))]
    except VfxMatteError as exc:  # an engine that cannot load still lists the others
        return [f"options unknown: {exc}"]


def register(app: typer.Typer) -> None:
    app.command("info")(info)
