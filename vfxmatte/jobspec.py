"""The typed job spec: the one source of truth for a `vfxmatte run`.

The `run` CLI options, the service's request model, the farm's task payload and the review
re-run are all derived from :class:`JobSpec` (names, types, defaults and help), and every output
EXR carries the resolved spec (:data:`SPEC_ATTRIBUTE`) so any frame can be replayed with
``vfxmatte run --job <that.exr>``. A default lives here and nowhere else.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vfxmatte.errors import BadArgumentError, InvalidInputError, MissingInputError

#: EXR attribute holding the whole resolved spec as JSON.
SPEC_ATTRIBUTE = "vfxmatte:spec"


class JobSpec(BaseModel):
    """A matting job over a frame range. Paths are sequence patterns (``####``, ``%04d``, ``@``)."""

    model_config = ConfigDict(extra="forbid")

    plate: str = Field(
        description="Plate sequence (plate.####.exr, plate.%04d.dpx) or movie (.mov, .mp4)"
    )
    out: str = Field(description="Output EXR sequence, e.g. out/matte.####.exr")
    masks: dict[str, str] = Field(
        default_factory=dict,
        description="NAME=PATH per person (repeat), e.g. person01=p1.####.png",
    )
    id_map: str | None = Field(None, description="ID/label map sequence, one id per person")
    ids: list[Annotated[int, Field(gt=0, lt=1 << 31)]] | None = Field(
        None, description="With an ID map: the ids to matte, e.g. 1,2,5 (default: all)"
    )
    frames: str | None = Field(
        None, description="1001-1100, 1001-1100x2, 1-10,20-30 (default: every plate frame)"
    )
    engine: str = Field("guided", description="Matting engine: guided (default), rvm, ...")
    engine_options: dict[str, Any] = Field(
        default_factory=dict,
        description="KEY=VALUE engine setting (repeat); each engine's keys are listed below",
    )
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    threads: int | None = Field(
        None, ge=1, description="CPU threads (default: all cores; 1 where other jobs share the box)"
    )
    colorspace: str | None = Field(None, description="Plate colourspace (OCIO name)")
    ocio_config: str | None = Field(None, description="OCIO config (default $OCIO)")
    compression: str = Field("zip", description="EXR compression: zip, piz, dwaa...")
    full_frame: bool = Field(False, description="Write the full display window")
    write_colour: bool = Field(False, description="Also write premultiplied <name>.R/G/B")
    skip_existing: bool = Field(False, description="Keep complete frames already on disk")
    clean_plate: str | None = Field(None, description="Known background plate")
    preroll: int = Field(
        0,
        ge=0,
        le=1000,
        description="Frames before the range processed (not written) to warm temporal state "
        "(at most 1000)",
    )
    temporal_strength: float = Field(
        0.9, ge=0.0, lt=1.0, description="Temporal smoothing strength, 0 (off) to <1"
    )
    cryptomatte: bool = Field(
        False,
        description="Also write a Cryptomatte layer (CryptoPerson00..) with a manifest of the "
        "people's names, for Nuke's and Blender's Cryptomatte nodes",
    )
    keyframes: list[int] | None = Field(
        None,
        description="Frames whose masks are used (e.g. 1001,1040); the rest are propagated",
    )
    start_frame: int = Field(1001, description="Number of a movie plate's first frame")
    preview: str | None = Field(None, description="Also write a ProRes 4444 review movie (.mov)")

    @model_validator(mode="after")
    def _one_mask_source(self) -> JobSpec:
        if bool(self.masks) == bool(self.id_map):
            raise ValueError(
                "give either masks (--mask NAME=PATH, repeatable) or --id-map, not both"
            )
        if self.keyframes is not None and not self.keyframes:
            raise ValueError("--keyframes is empty; list frames, e.g. 1001,1040")
        return self


def field_default(name: str) -> Any:
    """The default of JobSpec field ``name`` (what every entry point falls back to)."""
    return JobSpec.model_fields[name].get_default(call_default_factory=True)


def validation_message(exc: ValidationError) -> str:
    """The first error of a validation failure as one line: ``field: what is wrong``."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    msg = first.get("msg", "invalid value").removeprefix("Value error, ")
    return f"{where + ': ' if where else ''}{msg}"


def build_spec(**fields: Any) -> JobSpec:
    """A JobSpec from keyword fields; a bad value is a one-line BadArgumentError."""
    try:
        return JobSpec(**fields)
    except ValidationError as exc:
        raise BadArgumentError(validation_message(exc)) from exc


def spec_json(spec: JobSpec) -> str:
    """The spec as compact JSON, every field written (defaults included), for EXRs and farms."""
    return json.dumps(spec.model_dump(mode="json"), separators=(",", ":"), sort_keys=True)


def load_job_fields(source: str) -> dict[str, Any]:
    """The spec fields of ``--job``: inline JSON (``{...}``), a .json file, or an output EXR.

    Returns a dict (not a JobSpec) so flags given beside ``--job`` can still override fields.
    """
    text = source.strip()
    if text.startswith("{"):
        where, raw = "--job", text
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise MissingInputError(
                f"job {path} does not exist; give a spec .json or an output .exr"
            )
        where = f"job {path}"
        if path.suffix.lower() == ".exr":
            raw = _spec_attribute(path)
        else:
            raw = path.read_text(encoding="utf-8")
    try:
        fields = json.loads(raw)
    except ValueError as exc:
        raise InvalidInputError(f"{where} is not valid JSON: {exc}") from exc
    if not isinstance(fields, dict):
        raise InvalidInputError(f"{where} is not a JSON object of job fields")
    return fields


def _spec_attribute(path: Path) -> str:
    import OpenImageIO as oiio  # only when replaying an EXR; reads the header, not the pixels

    inp = oiio.ImageInput.open(str(path))
    if inp is None:
        raise InvalidInputError(f"job {path} cannot be read as an image: {oiio.geterror()}")
    try:
        raw = inp.spec().get_string_attribute(SPEC_ATTRIBUTE)
    finally:
        inp.close()
    if not raw:
        raise InvalidInputError(
            f"job {path} has no {SPEC_ATTRIBUTE} attribute (written by an older vfxmatte?); "
            "give a spec .json instead"
        )
    return raw


def load_job_spec(source: str | Path) -> JobSpec:
    """A complete JobSpec from ``--job`` text, with one-line errors."""
    fields = load_job_fields(str(source))
    try:
        return JobSpec.model_validate(fields)
    except ValidationError as exc:
        raise InvalidInputError(
            f"job {source} is not a valid vfxmatte job: {validation_message(exc)}"
        ) from exc
