"""Request bodies of the service, validated by pydantic (unknown fields refused)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

PathText = Field(min_length=1, max_length=4096)


class JobRequest(BaseModel):
    """A job as a client sends it: paths on shared storage, or names inside an upload.

    With ``upload`` set, ``plate``, ``masks`` and ``id_map`` are file patterns relative to that
    upload (``plate.####.exr``) and results stay on the service (fetch them from ``/results``).
    Without it they are absolute paths under one of the service's ``--allow-root`` folders.
    """

    model_config = ConfigDict(extra="forbid")

    plate: str = PathText
    masks: dict[str, str] = Field(default_factory=dict, max_length=256)
    id_map: str | None = Field(None, max_length=4096)
    ids: list[int] | None = Field(None, max_length=256)
    frames: str | None = Field(None, max_length=4096)
    out: str | None = Field(None, max_length=4096, description="output EXR pattern (paths mode)")
    upload: str | None = Field(None, pattern=r"^[0-9a-f]{32}$")
    clean_plate: str | None = Field(None, max_length=4096)
    engine: str = Field("guided", max_length=64)
    engine_options: dict[str, int | float | bool | str] = Field(default_factory=dict, max_length=64)
    device: str = Field("auto", max_length=32)
    colorspace: str | None = Field(None, max_length=256)
    compression: str = Field("zip", max_length=32)
    full_frame: bool = False
    write_colour: bool = False
    skip_existing: bool = False
    preroll: int = Field(0, ge=0, le=1000)
    temporal_strength: float | None = Field(None, ge=0.0, lt=1.0)
    keyframes: list[int] | None = Field(None, max_length=10000)

    @model_validator(mode="after")
    def _one_mask_source(self) -> JobRequest:
        if bool(self.masks) == bool(self.id_map):
            raise ValueError("give either masks {name: path} or id_map, not both")
        if self.upload and self.out:
            raise ValueError("out is chosen by the service for uploaded frames; leave it out")
        return self
