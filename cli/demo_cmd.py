"""`vfxmatte demo`: generate the built-in two-person shot and matte it, end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.run_cmd import execute


def demo(
    folder: Annotated[Path, typer.Option("--out", help="Where the demo shot and mattes go")] = Path(
        "demo"
    ),
    frames: Annotated[int, typer.Option(help="Number of frames (from 1001)")] = 4,
    engine: Annotated[str, typer.Option(help="Engine to run")] = "guided",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda")] = "auto",
) -> None:
    """Generate a scene-linear EXR shot of two overlapping figures and matte it."""
    import numpy as np

    from vfxmatte.demo import make_demo_shot
    from vfxmatte.io.colour import ColourConverter, encoding_colorspace, load_config
    from vfxmatte.io.images import read_image
    from vfxmatte.jobspec import JobSpec
    from vfxmatte.preview import alpha_tile, contact_sheet, overlay, save_png, to_display

    typer.echo(f"vfxmatte: generating the demo shot in {folder}/ ...")
    shot = make_demo_shot(folder, frames=frames)
    out = folder / "mattes" / "matte.####.exr"
    spec = JobSpec(plate=shot.plate, masks=shot.masks, out=str(out), engine=engine, device=device)
    execute(spec)
    # A PNG a person can open straight away: plate with overlays and each layer, first frame.
    first = shot.frames[0]
    plate = read_image(shot.plate.replace("####", f"{first:04d}"))
    matte = read_image(str(out).replace("####", f"{first:04d}"))
    config = load_config()
    to_srgb = ColourConverter(config, "Linear Rec.709 (sRGB)", encoding_colorspace(config, "srgb"))
    rgb = to_display(to_srgb.apply(plate.rgb()))
    alphas = np.stack([matte.channel(f"{n}.A") for n in shot.masks])
    row = [("plate + layers", overlay(rgb, alphas))]
    row += [(f"{n}.A", alpha_tile(matte.channel(f"{n}.A"))) for n in shot.masks]
    sheet = save_png(folder / "mattes" / "preview.png", contact_sheet([row]))
    typer.echo(
        f"vfxmatte: demo mattes are in {out.parent.resolve()} (layers: "
        f"{', '.join(f'{n}.A' for n in shot.masks)}, A); look at {sheet.resolve()}, or open "
        f"{out} in Nuke (Read + Shuffle) / Blender (Image node), or `vfxmatte review {out.parent}`"
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
