"""`vfxmatte synth`: build an evaluation set (single, multi, clips) from a seed, with its recipe."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def synth_command(
    out: Annotated[Path, typer.Argument(help="Folder for the set (single/, multi/, clips/)")],
    foregrounds: Annotated[
        list[Path] | None,
        typer.Option(help="Folder of foreground + alpha pairs (images/ + alphas/, or RGBA PNGs)"),
    ] = None,
    backgrounds: Annotated[
        list[Path] | None,
        typer.Option(help="Folder of background images and/or frame folders (repeat)"),
    ] = None,
    procedural: Annotated[
        int, typer.Option(min=0, help="Add N procedural textured backgrounds (from the seed)")
    ] = 0,
    seed: Annotated[int, typer.Option(min=0, help="Seed of every random draw")] = 0,
    single: Annotated[int, typer.Option(min=0, help="Images with one instance")] = 8,
    multi: Annotated[int, typer.Option(min=0, help="Images with 2-5 instances")] = 8,
    clips: Annotated[int, typer.Option(min=0, help="Clips with 2-5 moving instances")] = 2,
    frames: Annotated[int, typer.Option(min=2, help="Frames per clip")] = 12,
    width: Annotated[int, typer.Option(help="Canvas width")] = 640,
    height: Annotated[int, typer.Option(help="Canvas height")] = 360,
    min_instances: Annotated[int, typer.Option(help="Fewest instances (multi, clips)")] = 2,
    max_instances: Annotated[int, typer.Option(help="Most instances (multi, clips)")] = 5,
    frame_format: Annotated[str, typer.Option(help="Clip frames: jpg (q95) or png")] = "jpg",
    fault: Annotated[
        list[str] | None,
        typer.Option(
            help="NAME=STRENGTH (0-1): grow, offset, blobby, fill_holes, "
            "missed_limb, jitter, id_swap (repeat)"
        ),
    ] = None,
    recipe: Annotated[
        Path | None, typer.Option(help="Rebuild from a recipe.json (other options ignored)")
    ] = None,
    force: Annotated[bool, typer.Option(help="Write into a non-empty folder")] = False,
) -> None:
    """Composite foregrounds over backgrounds with rough-mask faults; writes recipe.json beside."""
    from vfxmatte.synth.build import build_set
    from vfxmatte.synth.recipe import make_recipe, parse_faults, read_recipe

    if recipe is not None:
        spec = read_recipe(recipe)
    else:
        spec = make_recipe(
            seed=seed,
            foregrounds=[str(p.resolve()) for p in foregrounds or []],
            backgrounds=[str(p.resolve()) for p in backgrounds or []],
            procedural_backgrounds=procedural,
            width=width,
            height=height,
            single=single,
            multi=multi,
            clips=clips,
            frames=frames,
            min_instances=min_instances,
            max_instances=max_instances,
            frame_format=frame_format,
            faults=parse_faults(fault or []),
        )
    manifest = build_set(spec, out, force=force, log=lambda line: typer.echo(line, err=True))
    typer.echo(
        f"vfxmatte: synth set in {out.resolve()} ({spec.single} single, {spec.multi} multi, "
        f"{spec.clips} clips; backgrounds {', '.join(manifest['backgrounds_used']) or '-'})"
    )


def register(app: typer.Typer) -> None:
    app.command("synth")(synth_command)
