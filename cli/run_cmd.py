"""`vfxmatte run`: matte a frame range of a plate into per-person EXR layers."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from vfxmatte.errors import BadArgumentError, ExitCode, VfxMatteError
from vfxmatte.jobspec import JobSpec, build_spec, field_default, load_job_fields
from vfxmatte.options import parse_engine_options
from vfxmatte.pipeline import Job
from vfxmatte.progress import make_reporter
from vfxmatte.sequence import parse_frames


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


@dataclass(frozen=True)
class CliForm:
    """How a JobSpec field is written on the command line when that is not its own type."""

    flag: str  # the option's name, e.g. "--mask"
    annotation: Any  # what Typer parses, e.g. list[str] | None
    to_field: Callable[[Any], Any]  # command-line value -> field value


#: Fields typed differently on the command line; every other field is an option of its own
#: type, named after it (engine -> --engine). Defaults and help always come from JobSpec.
CLI_FORMS: dict[str, CliForm] = {
    "masks": CliForm("--mask", list[str] | None, lambda v: parse_mask_options(v or [])),
    "ids": CliForm("--ids", str | None, parse_ids),
    "engine_options": CliForm(
        "--engine-option", list[str] | None, lambda v: parse_engine_options(v or [])
    ),
    "keyframes": CliForm("--keyframes", str | None, parse_keyframes),
    "write_colour": CliForm("--colour/--no-colour", bool, bool),
}
#: Fields a command line must give unless --job does.
REQUIRED_UNLESS_JOB = ("plate", "out")


def _spec_parameters() -> list[inspect.Parameter]:
    """One keyword parameter per JobSpec field, with the field's default and description."""
    params = []
    for name, field in JobSpec.model_fields.items():
        form = CLI_FORMS.get(name)
        if form is not None:
            annotation = form.annotation
            default = False if annotation is bool else None
            option = typer.Option(default, form.flag, help=field.description)
        else:
            annotation = field.annotation
            default = None if field.is_required() else field_default(name)
            if field.is_required():
                annotation = annotation | None
            option = typer.Option(default, help=field.description)
        params.append(
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation
            )
        )
    return params


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether option ``name`` was typed (not filled from its default)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")


def spec_from_cli(ctx: typer.Context, values: dict[str, Any], job: str | None) -> JobSpec:
    """The JobSpec of a `run` command line: --job's fields, then every flag given beside it.

    Without --job every field is taken from its option (defaults are JobSpec's own).
    """
    fields: dict[str, Any] = load_job_fields(job) if job else {}
    for name in JobSpec.model_fields:
        if job and not _given(ctx, name):
            continue
        value = values[name]
        form = CLI_FORMS.get(name)
        value = form.to_field(value) if form is not None else value
        if job and name == "engine_options":
            value = {**fields.get(name, {}), **value}
        if value is None and name in REQUIRED_UNLESS_JOB:
            raise BadArgumentError(f"--{name.replace('_', '-')} is required (or give --job)")
        fields[name] = value
    return build_spec(**fields)


def run(
    ctx: typer.Context,
    job: str | None = None,
    weights: str | None = None,
    progress_lines: bool = False,
    **values: Any,
) -> None:
    """Matte FRAMES of PLATE into one alpha layer per person (`<name>.A`) plus the union `A`."""
    spec = spec_from_cli(ctx, values, job)
    if weights:
        spec = spec.model_copy(
            update={"engine_options": {**spec.engine_options, "weights": weights}}
        )
    execute(spec, progress_lines)


_EXTRA_OPTIONS = [
    inspect.Parameter(
        "job",
        inspect.Parameter.KEYWORD_ONLY,
        default=typer.Option(
            None,
            help="Replay a job: a spec .json, inline JSON, or an EXR written by vfxmatte run; "
            "options given beside it override its fields",
        ),
        annotation=str | None,
    ),
    inspect.Parameter(
        "weights",
        inspect.Parameter.KEYWORD_ONLY,
        default=typer.Option(
            None, help="Model weights for network engines (same as --engine-option weights=...)"
        ),
        annotation=str | None,
    ),
    inspect.Parameter(
        "progress_lines",
        inspect.Parameter.KEYWORD_ONLY,
        default=typer.Option(False, help="One line per frame even on a terminal"),
        annotation=bool,
    ),
]


def _typer_signature() -> inspect.Signature:
    ctx = inspect.Parameter(
        "ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context
    )
    return inspect.Signature([ctx, *_spec_parameters(), *_EXTRA_OPTIONS])


run.__signature__ = _typer_signature()  # type: ignore[attr-defined]
run.__annotations__ = {p.name: p.annotation for p in run.__signature__.parameters.values()}  # type: ignore[attr-defined]


def execute(spec: JobSpec, progress_lines: bool = False) -> None:
    """Run a spec with a progress display; exit non-zero unless every frame is on disk.

    ``spec.threads`` is applied here, at the process's entry, not by ``Job``: a Job also runs
    inside the service and the review panel, whose thread pools are not a job's to change.
    """
    if spec.threads:
        import torch

        # torch's pool defaults to every core; where other jobs share them, its spinning
        # threads make the many small solver ops several times slower (docs/benchmarks.md)
        torch.set_num_threads(spec.threads)
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


def engine_options_epilog() -> str:
    """The end of `run --help`: every engine's options with their defaults."""
    from vfxmatte.engines import ENGINE_PATHS, options_help
    from vfxmatte.errors import VfxMatteError

    parts = ["Engine options (--engine-option KEY=VALUE):"]
    for name in sorted(ENGINE_PATHS):
        try:
            lines = options_help(name)
        except VfxMatteError as exc:
            lines = [f"(cannot list: {exc})"]
        parts.append(f"{name}:")  # click keeps \b paragraphs as written
        parts.append("\b\n" + "\n".join(f"  {ln}" for ln in lines))
    return "\n\n".join(parts)


def register(app: typer.Typer) -> None:
    app.command("run", epilog=engine_options_epilog())(run)
