"""`vfxmatte eval`: score an engine (and baselines, side by side) on a dataset with true alphas."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.run_cmd import parse_engine_options, parse_mask_options
from vfxmatte.evaluation import SHEET_ROWS


def eval_command(
    dataset: Annotated[
        Path,
        typer.Argument(help="Image set (images/, alphas/, masks/), a clip, or a folder of clips"),
    ],
    out: Annotated[
        Path, typer.Option(help="Folder for alphas/, results.json/.md, contact sheet")
    ] = Path("eval-out"),
    engine: Annotated[
        str | None,
        typer.Option(help="Engine to evaluate (guided, rvm...); 'none' for baselines only"),
    ] = "guided",
    baseline: Annotated[
        list[str] | None, typer.Option(help="mask | pymatting-cf (repeat for several)")
    ] = None,
    guidance: Annotated[
        str, typer.Option(help="masks (rough masks) or trimaps (the dataset's trimaps/)")
    ] = "masks",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N")] = "auto",
    engine_option: Annotated[
        list[str] | None, typer.Option(help="KEY=VALUE engine setting (repeat)")
    ] = None,
    temporal_strength: Annotated[
        float | None,
        typer.Option(
            help="Temporal smoothing on clips as `run` applies it (default: run's; 0 off)"
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Only the first N images (or N frames per clip)")
    ] = None,
    against: Annotated[
        Path | None,
        typer.Option(
            help="A reference run's results.json (e.g. --temporal-strength 0): clips are also "
            "scored against it (dtSSD, per-instance MAD, worst frame's MAD ratio)"
        ),
    ] = None,
    sheet_rows: Annotated[
        int, typer.Option(min=0, help="Rows in the contact sheet (--noref: frames in layers.png)")
    ] = SHEET_ROWS,
    per_sample: Annotated[bool, typer.Option(help="Print the per-sample table too")] = True,
    folds: Annotated[
        bool,
        typer.Option(
            help="Fold protocol on the 12 dev photographs (DATASET = dev-sets/single): tune/check "
            "halves plus synth seeds over unseen backgrounds (docs/evaluation.md)"
        ),
    ] = False,
    synth_seeds: Annotated[int, typer.Option(min=0, help="--folds: synth sets per fold")] = 5,
    threads: Annotated[
        int | None, typer.Option(min=1, help="CPU threads for torch (1 on a shared box)")
    ] = None,
    noref: Annotated[
        bool,
        typer.Option(
            help="No-reference check (no truth needed): DATASET = a clip (frames/, masks/) to "
            "matte, or run's EXR sequence (out.####.exr) with --plate (docs/evaluation.md)"
        ),
    ] = False,
    plate: Annotated[str | None, typer.Option(help="--noref: the plate sequence")] = None,
    mask: Annotated[
        list[str] | None, typer.Option(help="--noref: NAME=PATTERN rough masks (repeat)")
    ] = None,
    frames: Annotated[str | None, typer.Option(help="--noref: frames (default: all)")] = None,
) -> None:
    """Run an engine and baselines on DATASET; print metrics and engine/baseline ratios."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    if folds:
        _folds(dataset, out, engine, baseline, device, engine_option, synth_seeds)
        return
    if noref:
        job = {"engine": engine or "guided", "device": device, "threads": threads,
               "engine_options": parse_engine_options(engine_option or []),
               "temporal_strength": temporal_strength}  # fmt: skip
        _noref(dataset, plate, out, frames, parse_mask_options(mask or []), job, sheet_rows)
        return
    from vfxmatte.evaluation.report import render
    from vfxmatte.evaluation.session import run_evaluation

    outcome = run_evaluation(
        dataset,
        out,
        engine=None if (engine or "").lower() in ("", "none") else engine,
        baselines=list(baseline or []),
        guidance=guidance,
        device=device,
        engine_options=parse_engine_options(engine_option or []),
        temporal_strength=temporal_strength,
        limit=limit,
        sheet_rows=sheet_rows,
        against=against,
        log=lambda line: typer.echo(line, err=True),
    )
    typer.echo(render(outcome.results, per_sample=per_sample))
    typer.echo(f"vfxmatte: results in {outcome.json_path.resolve()} and {outcome.table_path.name}")
    if outcome.sheet_path:
        typer.echo(f"vfxmatte: contact sheet {outcome.sheet_path.resolve()}")


def _folds(dataset, out, engine, baseline, device, engine_option, seeds) -> None:
    from vfxmatte.evaluation.folds import FoldConfig, render_folds, run_folds

    results = run_folds(
        dataset,
        out,
        engine=None if (engine or "").lower() in ("", "none") else engine,
        baselines=list(baseline or []),
        device=device,
        engine_options=parse_engine_options(engine_option or []),
        config=FoldConfig(seeds=seeds),
        log=lambda line: typer.echo(line, err=True),
    )
    typer.echo(render_folds(results))
    typer.echo(f"vfxmatte: fold results in {(Path(out) / 'folds.json').resolve()} and folds.md")


def _noref(
    dataset: Path,
    plate: str | None,
    out: Path,
    frames,
    masks: dict[str, str],
    job: dict,
    sheet_rows: int,
) -> None:
    from vfxmatte.errors import BadArgumentError
    from vfxmatte.evaluation.noref_run import check_results, is_plain_clip, matte_clip, render_noref

    log = lambda line: typer.echo(line, err=True)  # noqa: E731
    results = str(dataset)
    if is_plain_clip(dataset):  # a clip (frames/, masks/): matte it with the pipeline first
        job = {k: v for k, v in job.items() if v is not None}
        results, plate, masks = matte_clip(dataset, Path(out), job, log)
    elif not plate:
        raise BadArgumentError(
            "--noref needs --plate with a result sequence, or a clip folder (frames/, masks/)"
        )
    report = check_results(results, plate, out, frames, masks, log=log, sheet_rows=sheet_rows)
    typer.echo(render_noref(report))
    typer.echo(f"vfxmatte: no-reference results in {(Path(out) / 'noref.json').resolve()}")
    if "sheet" in report:
        typer.echo(f"vfxmatte: layers over green in {Path(report['sheet']).resolve()}")


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
