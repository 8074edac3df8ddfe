"""The typed job spec: everything one `vfxmatte run` needs, shared by CLI, service and farm."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class JobSpec(BaseModel):
    """A matting job over a frame range. Paths are sequence patterns (``####``, ``%04d``, ``@``)."""

    model_config = ConfigDict(extra="forbid")

    plate: str
    out: str
    masks: dict[str, str] = Field(default_factory=dict, description="layer name -> mask sequence")
    id_map: str | None = None
    ids: list[Annotated[int, Field(gt=0, lt=1 << 31)]] | None = Field(
        None, description="ID-map ids to matte (positive; 0 is background)"
    )
    frames: str | None = Field(None, description="frame spec; default: every plate frame on disk")
    engine: str = "guided"
    engine_options: dict[str, Any] = Field(default_factory=dict)
    device: str = "auto"
    threads: int | None = Field(
        None, ge=1, description="CPU threads for torch (default: all cores; 1 on a shared box)"
    )
    colorspace: str | None = None
    ocio_config: str | None = None
    compression: str = "zip"
    full_frame: bool = False
    write_colour: bool = False
    skip_existing: bool = False
    clean_plate: str | None = None
    # Video (issue 5). temporal_strength's default equals refine.temporal.DEFAULT_STRENGTH (kept
    # literal so the spec imports no OpenCV); 0 turns smoothing off.
    preroll: int = Field(
        0, ge=0, le=1000, description="frames before the range processed, not written (max 1000)"
    )
    temporal_strength: float = Field(0.9, ge=0.0, lt=1.0)
    keyframes: list[int] | None = Field(
        None, description="frames whose masks are used; others are propagated"
    )
    start_frame: int = Field(1001, description="number of a movie plate's first frame")
    preview: str | None = Field(None, description="ProRes 4444 review movie (.mov)")

    @model_validator(mode="after")
    def _one_mask_source(self) -> JobSpec:
        if bool(self.masks) == bool(self.id_map):
            raise ValueError(
                "give either masks (--mask NAME=PATH, repeatable) or --id-map, not both"
            )
        if self.keyframes is not None and not self.keyframes:
            raise ValueError("--keyframes is empty; list frames, e.g. 1001,1040")
        return self
