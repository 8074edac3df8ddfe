"""Request bodies of the service, validated by pydantic (unknown fields refused).

:class:`JobRequest` is derived from :class:`~vfxmatte.jobspec.JobSpec`: each field a client may
set is the spec's own field (name, type, default, help), with the service's size limits added,
so the service cannot drift from `vfxmatte run`. The service chooses threads, OCIO config,
movie start frame and previews itself, so those spec fields are not offered.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator
from pydantic.fields import FieldInfo

from vfxmatte.engines import validate_engine_options
from vfxmatte.errors import VfxMatteError
from vfxmatte.jobspec import JobSpec

#: JobSpec fields a client sets, with the service's limits (bounded request sizes).
LIMITS: dict[str, dict[str, Any]] = {
    "plate": {"min_length": 1, "max_length": 4096},
    "masks": {"max_length": 256},
    "id_map": {"max_length": 4096},
    "ids": {"max_length": 256},
    "frames": {"max_length": 4096},
    "out": {"max_length": 4096},
    "clean_plate": {"max_length": 4096},
    "engine": {"max_length": 64},
    "engine_options": {"max_length": 64},
    "device": {"max_length": 32},
    "colorspace": {"max_length": 256},
    "compression": {"max_length": 32},
    "full_frame": {},
    "write_colour": {},
    "skip_existing": {},
    "preroll": {"le": 1000},
    "temporal_strength": {},
    "keyframes": {"max_length": 10000},
}
#: Where the service narrows a spec field's type: option values are JSON scalars.
TYPES: dict[str, Any] = {"engine_options": dict[str, int | float | bool | str]}


def _field(name: str) -> tuple[Any, FieldInfo]:
    spec_field = JobSpec.model_fields[name]
    annotation = TYPES.get(name, spec_field.annotation)
    info = FieldInfo.merge_field_infos(spec_field, Field(**LIMITS[name]))
    if name == "out":  # chosen by the service for uploads
        annotation = str | None
        info = FieldInfo.merge_field_infos(
            info, Field(None, description="output EXR pattern (paths mode)")
        )
    return annotation, info


_SpecFields: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "_SpecFields",
    __config__=ConfigDict(extra="forbid"),
    **{name: _field(name) for name in LIMITS},
)


class JobRequest(_SpecFields):  # type: ignore[misc, valid-type]
    """A job as a client sends it: paths on shared storage, or names inside an upload.

    With ``upload`` set, ``plate``, ``masks`` and ``id_map`` are file patterns relative to that
    upload (``plate.####.exr``) and results stay on the service (fetch them from ``/results``).
    Without it they are absolute paths under one of the service's ``--allow-root`` folders.
    """

    model_config = ConfigDict(extra="forbid")

    upload: str | None = Field(None, pattern=r"^[0-9a-f]{32}$")

    @model_validator(mode="after")
    def _one_mask_source(self) -> JobRequest:
        if bool(self.masks) == bool(self.id_map):
            raise ValueError("give either masks {name: path} or id_map, not both")
        if self.upload and self.out:
            raise ValueError("out is chosen by the service for uploaded frames; leave it out")
        try:  # refused at submit (422), not as a failed job after queueing
            validate_engine_options(self.engine, self.engine_options)
        except VfxMatteError as exc:
            raise ValueError(str(exc)) from exc
        return self
