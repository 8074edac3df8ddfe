"""The YAML shot list for batch runs, and its validation before anything is submitted.

A farm job that fails on its 300th chunk because shot 40's plate path has a typo wastes a night,
so everything that can be checked from the submitting machine is checked up front, for every shot,
and reported together: frame ranges, plate and mask files, output paths, and outputs that two
shots would both write. Relative paths are resolved against the shot list's folder, so the same
file works from any current directory and on every farm host that mounts the same storage.

Format::

    defaults:            # optional: any shot field, overridden per shot
      engine: guided
      device: auto
    shots:
      - name: sh010
        plate: plates/sh010/plate.####.exr
        masks: {person01: masks/sh010/p1.####.png, person02: masks/sh010/p2.####.png}
        out: mattes/sh010/matte.####.exr
        frames: 1001-1100
        engine_options: {search_k: 0.5}
        chunk_size: 20      # optional, overrides --chunk-size for this shot
        preroll: 5          # optional, overrides --preroll for this shot

Shot fields are those of :class:`vfxmatte.jobspec.JobSpec` (``plate``, ``out``, ``masks`` or
``id_map``/``ids``, ``frames``, ``engine``, ``engine_options``, ``device``, ``colorspace``, ...)
plus ``name``, ``chunk_size`` and ``preroll``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vfxmatte.engines import ENGINE_PATHS, validate_engine_options
from vfxmatte.errors import BadArgumentError, ExitCode, MissingInputError, VfxMatteError
from vfxmatte.jobspec import JobSpec
from vfxmatte.masks.sources import IdMapMasks, PerInstanceMasks
from vfxmatte.plates import open_plate
from vfxmatte.sequence import SequencePath, format_frames, parse_frames

#: Shot fields holding file paths, resolved against the shot list's folder.
PATH_FIELDS = ("plate", "out", "id_map", "clean_plate", "ocio_config")
#: Fields the farm owns (not passed to JobSpec as given).
FARM_FIELDS = ("name", "chunk_size", "preroll")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


class ShotEntry(BaseModel):
    """One shot as written in the YAML; the remaining keys are JobSpec fields."""

    model_config = ConfigDict(extra="allow")

    name: str
    chunk_size: int | None = Field(None, ge=1)
    preroll: int | None = Field(None, ge=0)


class ShotListFile(BaseModel):
    """The whole YAML document."""

    model_config = ConfigDict(extra="forbid")

    version: int = 1
    defaults: dict[str, Any] = Field(default_factory=dict)
    shots: list[ShotEntry] = Field(min_length=1)


@dataclass(frozen=True)
class Shot:
    """A validated shot: its job spec (absolute paths), its frames and its chunking overrides."""

    name: str
    spec: JobSpec
    frames: list[int]
    chunk_size: int | None = None
    preroll: int | None = None

    def output_paths(self) -> dict[Path, int]:
        """Absolute output file of each frame (to find shots that would overwrite each other)."""
        out = SequencePath(self.spec.out)
        return {out.path(f).resolve(): f for f in self.frames}


class ShotListError(VfxMatteError):
    """A shot list with problems; the message names every shot at fault, on one line."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = ExitCode(exit_code)

    def __reduce__(self) -> tuple:
        return (type(self), (self.message, self.exit_code))


def _resolve(value: Any, base: Path) -> Any:
    """Make a relative path absolute against ``base``; leave URIs (ocio://...) and None alone."""
    if not isinstance(value, str) or not value or "://" in value:
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path))


def _pydantic_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    msg = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{where + ': ' if where else ''}{msg}"


def build_shot(entry: dict[str, Any], base: Path) -> Shot:
    """Turn one shot's fields into a :class:`Shot`, checking its files and frames.

    Raises a :class:`VfxMatteError` naming the problem (not the shot: the caller adds that).
    """
    try:
        parsed = ShotEntry.model_validate(entry)
    except ValidationError as exc:
        raise BadArgumentError(_pydantic_message(exc)) from exc
    if not _NAME.match(parsed.name):
        raise BadArgumentError(
            f"name '{parsed.name}': use letters, digits, '_', '-' or '.' (it names farm layers)"
        )
    fields = dict(parsed.model_extra or {})
    for key in PATH_FIELDS:
        if key in fields:
            fields[key] = _resolve(fields[key], base)
    if isinstance(fields.get("masks"), dict):
        fields["masks"] = {k: _resolve(v, base) for k, v in fields["masks"].items()}
    fields["skip_existing"] = True  # farm chunks always resume
    try:
        spec = JobSpec(**fields)
    except ValidationError as exc:
        raise BadArgumentError(_pydantic_message(exc)) from exc
    if spec.engine not in ENGINE_PATHS:
        raise BadArgumentError(
            f"unknown engine '{spec.engine}': choose one of {', '.join(sorted(ENGINE_PATHS))}"
        )
    try:  # a typo in a shot's engine options fails the submit, not every farm task
        validate_engine_options(spec.engine, spec.engine_options)
    except BadArgumentError as exc:
        raise BadArgumentError(f"shot {parsed.name}: {exc}") from exc
    if not _DEVICE.match(spec.device.strip().lower()):
        raise BadArgumentError(f"device '{spec.device}': expected auto, cpu, cuda or cuda:N")
    frames = _check_inputs(spec)
    return Shot(parsed.name, spec, frames, parsed.chunk_size, parsed.preroll)


def _check_inputs(spec: JobSpec) -> list[int]:
    """Frames of the shot; refuses bad ranges, missing plate frames, absent masks, bad outputs."""
    plate = open_plate(spec.plate)
    if spec.frames:
        frames = parse_frames(spec.frames)
    else:
        frames = plate.frames_on_disk()
        if not frames:
            raise MissingInputError(f"no plate frames found for {spec.plate}; check the path")
    plate.check_frames(frames)
    if spec.id_map:
        ids = IdMapMasks(spec.id_map, spec.ids)
        if not ids.frames_available(frames):
            raise MissingInputError(
                f"id map {spec.id_map} has no file for frames {format_frames(frames)}"
            )
    else:
        PerInstanceMasks(spec.masks).check_exists(frames)
    if spec.clean_plate and not open_plate(spec.clean_plate).frames_on_disk():
        if not Path(spec.clean_plate).is_file():
            raise MissingInputError(f"clean plate {spec.clean_plate} not found")
    out = SequencePath(spec.out)
    if Path(spec.out).suffix.lower() != ".exr":
        raise BadArgumentError(f"out {spec.out}: mattes are written as EXR; end it in .exr")
    if len(frames) > 1 and not out.is_sequence:
        raise BadArgumentError(f"out {spec.out} has no frame padding (#### or %04d)")
    if out.path(frames[0]).resolve() == SequencePath(spec.plate).path(frames[0]).resolve():
        raise BadArgumentError(f"out {spec.out} would overwrite the plate")
    return frames


def check_overlaps(shots: list[Shot]) -> list[str]:
    """Problems where two shots share a name or would write the same output file."""
    problems = []
    owner: dict[Path, tuple[str, int]] = {}
    seen: set[str] = set()
    for shot in shots:
        if shot.name in seen:
            problems.append(f"{shot.name}: shot name used twice; names must be unique")
        seen.add(shot.name)
        clashes: dict[str, list[int]] = {}
        for path, frame in shot.output_paths().items():
            if path in owner and owner[path][0] != shot.name:
                clashes.setdefault(owner[path][0], []).append(frame)
            else:
                owner.setdefault(path, (shot.name, frame))
        for other, frames in clashes.items():
            problems.append(
                f"{shot.name}: output {shot.spec.out} overlaps shot {other} on frame(s) "
                f"{format_frames(frames)}; give each shot its own output files"
            )
    return problems


def validate_shots(
    entries: list[tuple[str, dict[str, Any]]], base: Path, source: str
) -> list[Shot]:
    """Build every shot and check them together; raise one :class:`ShotListError` listing all
    problems (exit code of the first), so nothing is submitted from a bad list."""
    shots: list[Shot] = []
    problems: list[tuple[str, int]] = []
    for label, entry in entries:
        try:
            shots.append(build_shot(entry, base))
        except VfxMatteError as exc:
            problems.append((f"{label}: {exc.message}", int(exc.exit_code)))
    problems += [(p, 2) for p in check_overlaps(shots)]
    if problems:
        detail = "; ".join(p for p, _ in problems)
        raise ShotListError(f"{source}: {len(problems)} problem(s): {detail}", problems[0][1])
    return shots


def load_shot_list(path: str | Path) -> list[Shot]:
    """Read and validate a YAML shot list (see the module docstring for the format)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise MissingInputError(f"shot list {path} not found") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise BadArgumentError(f"shot list {path}{where} is not valid YAML") from exc
    if not isinstance(raw, dict):
        raise BadArgumentError(f"shot list {path}: expected a mapping with a 'shots:' list")
    try:
        doc = ShotListFile.model_validate(raw)
    except ValidationError as exc:
        raise BadArgumentError(f"shot list {path}: {_pydantic_message(exc)}") from exc
    entries = []
    for i, shot in enumerate(doc.shots):
        merged = {**doc.defaults, **shot.model_dump(exclude_none=True)}
        entries.append((f"shot {i + 1} ({shot.name})", merged))
    return validate_shots(entries, path.resolve().parent, str(path))


def shot_from_fields(fields: dict[str, Any], base: Path | None = None) -> list[Shot]:
    """A one-shot list from command-line arguments (``vfxmatte farm submit --plate ...``)."""
    entry = {k: v for k, v in fields.items() if v is not None}
    entry.setdefault("name", _default_name(entry.get("plate", "shot")))
    return validate_shots([(entry["name"], entry)], base or Path.cwd(), "arguments")


def _default_name(plate: str) -> str:
    """A farm-safe shot name from a plate path (its folder name, else its file stem)."""
    p = Path(plate)
    candidate = p.parent.name or p.name.split(".")[0]
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", candidate).strip("._-")
    return cleaned or "shot"
