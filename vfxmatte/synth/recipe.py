"""The recipe: every choice `vfxmatte synth` makes, as one validated, serialisable model.

A set is a pure function of its recipe: the seed drives every random draw (one independent
stream per sample, so adding samples never changes the ones before), and the sources are named
by path. ``recipe.json`` is written beside the set; ``vfxmatte synth OUT --recipe recipe.json``
rebuilds it byte-identically on the same software versions.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vfxmatte.errors import BadArgumentError, MissingInputError

RECIPE_VERSION = 1
RECIPE_NAME = "recipe.json"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FaultStrengths(_Frozen):
    """Rough-mask faults, each a strength in [0, 1] (0 = never, 1 = as bad as a poor segmenter).

    A strength sets both how often a fault is drawn and how large it is; sizes are fractions of
    the canvas's long side so a recipe means the same at any resolution.
    """

    grow: float = Field(0.6, ge=0, le=1, description="dilate or erode, up to 1.5% of the long side")
    offset: float = Field(
        0.4, ge=0, le=1, description="shift the mask, up to 1.5% of the long side"
    )
    blobby: float = Field(0.5, ge=0, le=1, description="low-resolution, rounded (SAM-like) edges")
    fill_holes: float = Field(0.5, ge=0, le=1, description="enclosed holes of the matte filled")
    missed_limb: float = Field(0.3, ge=0, le=1, description="an extremity of the instance cut off")
    jitter: float = Field(0.4, ge=0, le=1, description="clips: per-frame wobble of grow and offset")
    id_swap: float = Field(
        0.3, ge=0, le=1, description="clips: two instances' masks swapped on a frame"
    )


class Motion(_Frozen):
    """Clip motion over the whole clip, as fractions of the canvas (strength-like bounds)."""

    travel: float = Field(0.5, ge=0, le=2, description="horizontal travel, fraction of the width")
    scale_change: float = Field(0.2, ge=0, le=0.9, description="relative scale change")
    rotation_deg: float = Field(10.0, ge=0, le=90, description="rotation change in degrees")
    warp: float = Field(
        0.01, ge=0, le=0.1, description="non-rigid warp amplitude, fraction of long side"
    )
    camera_pan: float = Field(0.15, ge=0, le=1, description="pan over still backgrounds, fraction")


class Recipe(_Frozen):
    """Everything that defines a synth set."""

    version: int = RECIPE_VERSION
    seed: int = Field(0, ge=0)
    foregrounds: list[str] = Field(min_length=1, description="folders of foreground + alpha pairs")
    foreground_names: list[str] | None = Field(
        None, description="use only these foregrounds (by name), e.g. one half of a split"
    )
    backgrounds: list[str] = Field(
        default_factory=list, description="folders of images / frame folders"
    )
    procedural_backgrounds: int = Field(
        0, ge=0, le=1000, description="textured backgrounds generated from the seed"
    )
    width: int = Field(640, ge=64, le=8192)
    height: int = Field(360, ge=64, le=8192)
    single: int = Field(8, ge=0, le=100000)
    multi: int = Field(8, ge=0, le=100000)
    clips: int = Field(2, ge=0, le=10000)
    frames: int = Field(12, ge=2, le=10000)
    min_instances: int = Field(2, ge=2, le=10)
    max_instances: int = Field(5, ge=2, le=10)
    frame_format: str = Field("jpg", pattern="^(jpg|png)$")
    faults: FaultStrengths = FaultStrengths()
    motion: Motion = Motion()

    @model_validator(mode="after")
    def _check(self) -> Recipe:
        if self.min_instances > self.max_instances:
            raise ValueError("min_instances is above max_instances")
        if not self.backgrounds and not self.procedural_backgrounds:
            raise ValueError("no backgrounds: give a background folder or procedural backgrounds")
        return self


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "recipe"
    return f"{where}: {err['msg']}"


def make_recipe(**values: object) -> Recipe:
    """Validate CLI values into a recipe; a bad value is one line naming the option."""
    try:
        return Recipe(**values)
    except ValidationError as exc:
        raise BadArgumentError(f"synth: {_first_error(exc)}") from exc


def read_recipe(path: str | Path) -> Recipe:
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"recipe not found: {path}")
    try:
        return Recipe.model_validate_json(path.read_text())
    except ValidationError as exc:
        raise BadArgumentError(f"{path}: {_first_error(exc)}; fix or rewrite the recipe") from exc


def recipe_json(recipe: Recipe) -> str:
    """Stable text (sorted keys), so the same recipe always writes the same bytes."""
    return json.dumps(recipe.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


def parse_faults(items: list[str]) -> dict[str, float]:
    """``NAME=STRENGTH`` pairs from the command line, names checked against the model."""
    known = set(FaultStrengths.model_fields)
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in known:
            raise BadArgumentError(
                f"--fault {item}: expected NAME=STRENGTH with NAME one of {', '.join(sorted(known))}"
            )
        try:
            out[name] = float(value)
        except ValueError as exc:
            raise BadArgumentError(f"--fault {item}: {value!r} is not a number") from exc
    return out
