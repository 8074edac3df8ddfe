"""The typed job spec: everything one `vfxmatte run` needs, shared by CLI, service and farm."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class JobSpec(BaseModel):
    """A matting job over a frame range. Paths are sequence patterns (``####``, ``%04d``, ``@``)."""

    model_config = ConfigDict(extra="forbid")

    plate: str
    out: str
    masks: dict[str, str] = Field(default_factory=dict, description="layer name -> mask sequence")
    id_map: str | None = None
    ids: list[int] | None = None
    frames: str | None = Field(None, description="frame spec; default: every plate frame on disk")
    engine: str = "guided"
    engine_options: dict[str, Any] = Field(default_factory=dict)
    device: str = "auto"
    colorspace: str | None = None
    ocio_config: str | None = None
    compression: str = "zip"
    full_frame: bool = False
    write_colour: bool = False
    skip_existing: bool = False
    clean_plate: str | None = None

    @model_validator(mode="after")
    def _one_mask_source(self) -> JobSpec:
        if bool(self.masks) == bool(self.id_map):
            raise ValueError(
                "give either masks (--mask NAME=PATH, repeatable) or --id-map, not both"
            )
        return self
