"""`vfxmatte farm`: run a shot list (or one shot given by arguments) on Dask or OpenCue.

`farm submit` validates every shot before anything runs, then hands chunks to the chosen
backend; `farm commands` prints the per-chunk `vfxmatte run` command lines for other farms
(Deadline, Tractor).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.run_cmd import parse_engine_options, parse_mask_options
from vfxmatte.errors import BadArgumentError
from vfxmatte.farm.chunks import split_frames
from vfxmatte.farm.command import run_arguments, shell_command
from vfxmatte.farm.shotlist import Shot, load_shot_list, shot_from_fields

farm_app = typer.Typer(
    help="Run shot lists on a render farm: Dask (or a local Dask cluster) and OpenCue.",
    no_args_is_help=True,
)

BACKENDS = ("dask", "local", "opencue")

ShotListArg = Annotated[
    Path | None,
    typer.Argument(help="YAML shot list (see docs/farm.md); or give one shot with --plate ..."),
]
PlateOpt = Annotated[str | None, typer.Option(help="Plate sequence of a single shot")]
OutOpt = Annotated[str | None, typer.Option(help="Output EXR sequence of a single shot")]
MaskOpt = Annotated[list[str] | None, typer.Option(help="NAME=PATH per person (repeat)")]
IdMapOpt = Annotated[str | None, typer.Option(help="ID/label map sequence")]
FramesOpt = Annotated[str | None, typer.Option(help="Frames, e.g. 1001-1100")]
EngineOpt = Annotated[str | None, typer.Option(help="Engine (default guided)")]
EngineOptionOpt = Annotated[list[str] | None, typer.Option(help="KEY=VALUE (repeat)")]
DeviceOpt = Annotated[str | None, typer.Option(help="auto, cpu, cuda or cuda:N (on the workers)")]
NameOpt = Annotated[str | None, typer.Option(help="Shot name (default: from the plate path)")]
ChunkOpt = Annotated[int, typer.Option(help="Frames per chunk (a shot may override it)")]
PrerollOpt = Annotated[int, typer.Option(help="Pre-roll frames before each chunk (video)")]


def load_shots(
    shot_list: Path | None,
    plate: str | None,
    out: str | None,
    mask: list[str] | None,
    id_map: str | None,
    frames: str | None,
    engine: str | None,
    engine_option: list[str] | None,
    device: str | None,
    name: str | None,
) -> list[Shot]:
    """Shots from a YAML list, or the one shot the options describe; validated either way."""
    single = [plate, out, mask, id_map, frames, engine, engine_option, device, name]
    if shot_list is not None:
        if any(v for v in single):
            raise BadArgumentError(
                f"give either a shot list ({shot_list}) or --plate/--mask/--out, not both"
            )
        return load_shot_list(shot_list)
    if not plate or not out:
        raise BadArgumentError("give a shot list SHOTS.yaml, or --plate and --out for one shot")
    fields: dict[str, object] = {
        "name": name,
        "plate": plate,
        "out": out,
        "masks": parse_mask_options(mask or []),
        "id_map": id_map,
        "frames": frames,
        "engine": engine,
        "engine_options": parse_engine_options(engine_option or []),
        "device": device,
    }
    return shot_from_fields(fields)


def submit(
    shot_list: ShotListArg = None,
    backend: Annotated[
        str, typer.Option(help="dask, local (a Dask LocalCluster) or opencue")
    ] = "local",
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address, e.g. tcp://farm:8786")
    ] = None,
    chunk_size: ChunkOpt = 10,
    preroll: PrerollOpt = 0,
    retries: Annotated[int, typer.Option(help="Retries of a failed chunk (bounded)")] = 2,
    dry_run: Annotated[
        bool, typer.Option(help="Validate and write the plan / OpenCue job spec; run nothing")
    ] = False,
    spec_out: Annotated[
        Path | None, typer.Option(help="Where --dry-run writes the spec (default: stdout)")
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes of --backend local")] = 1,
    gpu: Annotated[
        bool | None,
        typer.Option("--gpu/--no-gpu", help="One chunk per GPU (default: when device is cuda)"),
    ] = None,
    journal: Annotated[
        Path | None, typer.Option(help="Append a JSON line per frame written/kept (Dask)")
    ] = None,
    wait_workers: Annotated[
        float, typer.Option(help="Seconds to wait for a first Dask worker")
    ] = 120.0,
    connect_timeout: Annotated[
        float, typer.Option(help="Seconds to keep trying to reach the Dask scheduler")
    ] = 20.0,
    cuebot: Annotated[str | None, typer.Option(help="Cuebot host (OpenCue)")] = None,
    show: Annotated[str, typer.Option(help="OpenCue show")] = "testing",
    job_name: Annotated[str, typer.Option(help="OpenCue job name")] = "vfxmatte",
    service: Annotated[str | None, typer.Option(help="OpenCue service of the layers")] = None,
    tags: Annotated[str | None, typer.Option(help="OpenCue host tags, e.g. gpu")] = None,
    farm_program: Annotated[
        str, typer.Option(help="How farm hosts run vfxmatte (OpenCue), e.g. /opt/vfx/bin/vfxmatte")
    ] = "vfxmatte",
    plate: PlateOpt = None,
    out: OutOpt = None,
    mask: MaskOpt = None,
    id_map: IdMapOpt = None,
    frames: FramesOpt = None,
    engine: EngineOpt = None,
    engine_option: EngineOptionOpt = None,
    device: DeviceOpt = None,
    name: NameOpt = None,
) -> None:
    """Validate every shot, cut it into chunks and run them on Dask or OpenCue."""
    if backend not in BACKENDS:
        raise BadArgumentError(f"--backend {backend}: choose one of {', '.join(BACKENDS)}")
    if retries < 0:
        raise BadArgumentError(f"--retries {retries}: give 0 or more")
    if backend == "dask" and not scheduler and not dry_run:
        raise BadArgumentError("--backend dask needs --scheduler tcp://HOST:8786 (or use local)")
    shots = load_shots(
        shot_list, plate, out, mask, id_map, frames, engine, engine_option, device, name
    )
    for shot in shots:  # refuse bad chunking before anything runs
        split_frames(
            shot.frames,
            shot.chunk_size or chunk_size,
            preroll if shot.preroll is None else shot.preroll,
        )
    if backend == "opencue":
        _submit_opencue(
            shots, chunk_size, preroll, retries, gpu, dry_run, spec_out, cuebot, show,
            job_name, service, tags, farm_program,
        )  # fmt: skip
        return
    from vfxmatte.farm.dask_backend import DaskSettings, plan, run_on_dask, wants_gpu

    settings = DaskSettings(
        chunk_size=chunk_size,
        preroll=preroll,
        retries=retries,
        gpu=gpu,
        journal=str(journal) if journal else None,
        wait_for_workers=wait_workers,
        connect_timeout=connect_timeout,
    )
    if dry_run:
        resources = {"GPU": 1} if wants_gpu(shots, settings) else {}
        doc = [
            {"shot": p.shot.name, "chunk": p.chunk.index, "frames": p.chunk.label,
             "preroll": p.chunk.preroll, "resources": resources, "retries": retries,
             "spec": p.spec}
            for p in plan(shots, settings)
        ]  # fmt: skip
        _write(json.dumps(doc, indent=2), spec_out)
        return
    summary = run_on_dask(
        shots,
        settings,
        scheduler=scheduler if backend == "dask" else None,
        local_workers=workers,
        report=lambda line: typer.echo(line),
    )
    for line in summary.lines():
        typer.echo(line)
    summary.raise_if_incomplete()


def _submit_opencue(
    shots, chunk_size, preroll, retries, gpu, dry_run, spec_out, cuebot, show, job_name,
    service, tags, farm_program,
) -> None:  # fmt: skip
    import shlex

    from vfxmatte.farm.opencue_backend import CueSettings, job_spec_xml, submit

    settings = CueSettings(
        job_name=job_name,
        show=show,
        shot=shots[0].name if len(shots) == 1 else job_name,
        chunk_size=chunk_size,
        preroll=preroll,
        retries=retries,
        gpu=gpu,
        service=service,
        tags=tags,
        program=tuple(shlex.split(farm_program)),
        cuebot=cuebot,
    )
    if dry_run:
        _write(job_spec_xml(shots, settings), spec_out)
        return
    for job in submit(shots, settings):
        typer.echo(f"vfxmatte: submitted OpenCue job {job}")


def _write(text: str, path: Path | None) -> None:
    if path is None:
        typer.echo(text)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")
    typer.echo(f"vfxmatte: wrote {path}", err=True)


def commands(
    shot_list: ShotListArg = None,
    chunk_size: ChunkOpt = 10,
    preroll: PrerollOpt = 0,
    program: Annotated[str, typer.Option(help="How farm hosts run vfxmatte")] = "vfxmatte",
    plate: PlateOpt = None,
    out: OutOpt = None,
    mask: MaskOpt = None,
    id_map: IdMapOpt = None,
    frames: FramesOpt = None,
    engine: EngineOpt = None,
    engine_option: EngineOptionOpt = None,
    device: DeviceOpt = None,
    name: NameOpt = None,
) -> None:
    """Print one `vfxmatte run` command per chunk (for Deadline, Tractor or a shell loop)."""
    import shlex

    from vfxmatte.farm.chunks import chunk_spec

    shots = load_shots(
        shot_list, plate, out, mask, id_map, frames, engine, engine_option, device, name
    )
    for shot in shots:
        size = shot.chunk_size or chunk_size
        roll = preroll if shot.preroll is None else shot.preroll
        for chunk in split_frames(shot.frames, size, roll):
            spec = chunk_spec(shot.spec, chunk)
            args = run_arguments(spec, frames=chunk.label, preroll=chunk.preroll)
            typer.echo(shell_command(shlex.split(program) + ["run"], args))


def register(app: typer.Typer) -> None:
    farm_app.command("submit")(submit)
    farm_app.command("commands")(commands)
    app.add_typer(farm_app, name="farm")
