"""`vfxmatte run`: matte a frame range of a plate into per-person EXR layers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vfxmatte.errors import BadArgumentError, ExitCode, VfxMatteError
from vfxmatte.jobspec import JobSpec
from vfxmatte.options import parse_engine_options
from vfxmatte.pipeline import Job
from vfxmatte.progress import make_reporter
from vfxmatte.sequence import parse_frames
from vfxmatte.validate import spec_from


def parse_mask_options(masks: list[str]) -> dict[str, str]:
    """``["person01=p1.####.png", ...]`` -> ``{"person01": "p1.####.png"}``."""
    parsed: dict[str, str] = {}
    for item in masks:
        name, sep, path = item.partition("=")
        if not name or not path or not sep:
            raise BadArgumentError(f"--mask {item}: expected NAME=PATH, e.g. person01=p1.####.png")
        if name in parsed:
            raise BadArgumentError(f"--mask {item}: name '{name}' given twice")
        parsed[name] = path
    return parsed


def parse_ids(text: str | None) -> list[int] | None:
    """``"1,2,5"`` -> ``[1, 2, 5]``; ids are positive integers (0 is background)."""
    if not text:
        return None
    try:
        ids = [int(t) for t in text.replace(" ", "").split(",") if t]
    except ValueError as exc:
        raise BadArgumentError(f"--ids {text}: expected positive integers such as 1,2,5") from exc
    if not ids or min(ids) <= 0:
        raise BadArgumentError(f"--ids {text}: expected positive integers such as 1,2,5")
    return ids


def parse_keyframes(text: str | None) -> list[int] | None:
    """``"1001,1040"`` or ``"1001-1100x20"`` -> sorted frame numbers (None when not given)."""
    if text is None:
        return None
    try:
        return parse_frames(text)
    except VfxMatteError as exc:
        raise BadArgumentError(
            f"--keyframes '{text}' is not a frame list: use e.g. 1001,1040 or 1001-1100x20"
        ) from exc


def build_spec(**fields: object) -> JobSpec:
    return spec_from(**fields)  # one-line errors shared with the service (vfxmatte.validate)


def run(
    plate: Annotated[
        str,
        typer.Option(help="Plate sequence (plate.####.exr, plate.%04d.dpx) or movie (.mov, .mp4)"),
    ],
    out: Annotated[str, typer.Option(help="Output EXR sequence, e.g. out/matte.####.exr")],
    mask: Annotated[
        list[str] | None,
        typer.Option(help="NAME=PATH per person (repeat), e.g. person01=p1.####.png"),
    ] = None,
    id_map: Annotated[
        str | None, typer.Option(help="ID/label map sequence, one id per person")
    ] = None,
    ids: Annotated[
        str | None, typer.Option(help="With --id-map: the ids to matte, e.g. 1,2,5 (default: all)")
    ] = None,
    frames: Annotated[str | None, typer.Option(help="1001-1100, 1001-1100x2, 1-10,20-30")] = None,
    engine: Annotated[str, typer.Option(help="guided (default), rvm, ...")] = "guided",
    engine_option: Annotated[
        list[str] | None, typer.Option(help="KEY=VALUE engine setting (repeat)")
    ] = None,
    weights: Annotated[
        str | None, typer.Option(help="Model weights for network engines (rvm: .onnx or .pth)")
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N")] = "auto",
    threads: Annotated[
        int | None,
        typer.Option(help="CPU threads (default: all cores; 1 where other jobs share the box)"),
    ] = None,
    colorspace: Annotated[str | None, typer.Option(help="Plate colourspace (OCIO name)")] = None,
    ocio_config: Annotated[str | None, typer.Option(help="OCIO config (default $OCIO)")] = None,
    compression: Annotated[str, typer.Option(help="EXR compression: zip, piz, dwaa...")] = "zip",
    full_frame: Annotated[bool, typer.Option(help="Write the full display window")] = False,
    colour: Annotated[bool, typer.Option(help="Also write premultiplied <name>.R/G/B")] = False,
    skip_existing: Annotated[
        bool, typer.Option(help="Keep complete frames already on disk")
    ] = False,
    clean_plate: Annotated[str | None, typer.Option(help="Known background plate")] = None,
    progress_lines: Annotated[bool, typer.Option(help="One line per frame even on a TTY")] = False,
    preroll: Annotated[
        int,
        typer.Option(help="Frames before --frames processed (not written) to warm temporal state"),
    ] = 0,
    temporal_strength: Annotated[
        float, typer.Option(help="Temporal smoothing strength, 0 (off) to <1")
    ] = 0.6,
    keyframes: Annotated[
        str | None,
        typer.Option(help="Frames whose masks are used (e.g. 1001,1040); the rest are propagated"),
    ] = None,
    start_frame: Annotated[int, typer.Option(help="Number of a movie plate's first frame")] = 1001,
    preview: Annotated[
        str | None, typer.Option(help="Also write a ProRes 4444 review movie (.mov)")
    ] = None,
) -> None:
    """Matte FRAMES of PLATE into one alpha layer per person (`<name>.A`) plus the union `A`."""
    spec = build_spec(
        plate=plate,
        out=out,
        masks=parse_mask_options(mask or []),
        id_map=id_map,
        ids=parse_ids(ids),
        frames=frames,
        engine=engine,
        engine_options=parse_engine_options(engine_option or [])
        | ({"weights": weights} if weights else {}),
        device=device,
        colorspace=colorspace,
        ocio_config=ocio_config,
        compression=compression,
        full_frame=full_frame,
        write_colour=colour,
        skip_existing=skip_existing,
        clean_plate=clean_plate,
        preroll=preroll,
        temporal_strength=temporal_strength,
        keyframes=parse_keyframes(keyframes),
        start_frame=start_frame,
        preview=preview,
        threads=threads,
    )
    execute(spec, progress_lines)


def execute(spec: JobSpec, progress_lines: bool = False) -> None:
    """Run a spec with a progress display; exit non-zero unless every frame is on disk."""
    reporter = make_reporter(force_lines=progress_lines)
    try:
        result = Job(spec, reporter).run()
    finally:
        reporter.close()
    if not result.complete:
        missing = sorted(set(result.frames) - set(result.written) - set(result.skipped))
        typer.echo(f"vfxmatte: error: frames not written: {missing}", err=True)
        raise typer.Exit(int(ExitCode.PARTIAL))
    folder = Path(spec.out).parent
    typer.echo(
        f"vfxmatte: wrote {len(result.written)} frame(s), kept {len(result.skipped)} existing, "
        f"in {folder.resolve()}"
    )


def register(app: typer.Typer) -> None:
    app.command("run")(run)
