"""The ``vfxmatte run`` command line of a job spec, for farms that run shell commands per chunk
(OpenCue, Deadline, Tractor): the same code path as a Dask chunk, one process per chunk."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from vfxmatte.errors import BadArgumentError
from vfxmatte.farm.chunks import supports_preroll
from vfxmatte.jobspec import JobSpec

#: JobSpec fields this module turns into `vfxmatte run` options.
TRANSLATED = {
    "plate", "out", "masks", "id_map", "ids", "frames", "engine", "engine_options", "device",
    "colorspace", "ocio_config", "compression", "full_frame", "write_colour", "skip_existing",
    "clean_plate", "preroll", "temporal_strength", "keyframes", "start_frame",
}  # fmt: skip


def check_translatable(spec: JobSpec) -> None:
    """Refuse a spec setting a field with no `vfxmatte run` option here (e.g. one added to
    JobSpec later): silently dropping it would give farm results unlike a local run."""
    for name, field in type(spec).model_fields.items():
        if name in TRANSLATED:
            continue
        if getattr(spec, name) != field.get_default(call_default_factory=True):
            raise BadArgumentError(
                f"shot field '{name}' cannot be passed on a `vfxmatte run` command line yet; "
                "leave it at its default for OpenCue/Deadline, or use the Dask backend"
            )


def run_arguments(
    spec: JobSpec, frames: str | None = None, preroll: int | None = None
) -> list[str]:
    """``vfxmatte run`` options reproducing ``spec`` (``frames`` overrides the spec's range).

    ``preroll`` (default: the spec's own, if JobSpec has the field) becomes ``--preroll N``
    only in builds whose JobSpec knows pre-roll.

    Always adds ``--skip-existing`` (a retried chunk keeps finished frames) and
    ``--progress-lines`` (one parseable line per frame in the farm log).
    """
    check_translatable(spec)
    args = ["--plate", spec.plate, "--out", spec.out]
    for name, path in spec.masks.items():
        args += ["--mask", f"{name}={path}"]
    if spec.id_map:
        args += ["--id-map", spec.id_map]
    for key, value in spec.engine_options.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        args += ["--engine-option", f"{key}={text}"]
    chosen = frames if frames is not None else spec.frames
    if chosen:
        args += ["--frames", chosen]
    args += ["--engine", spec.engine, "--device", spec.device, "--compression", spec.compression]
    for flag, value in (
        ("--colorspace", spec.colorspace),
        ("--ocio-config", spec.ocio_config),
        ("--clean-plate", spec.clean_plate),
    ):
        if value:
            args += [flag, value]
    if spec.full_frame:
        args.append("--full-frame")
    if spec.write_colour:
        args.append("--colour")
    if preroll is None:
        preroll = getattr(spec, "preroll", 0)
    if preroll and supports_preroll():
        args += ["--preroll", str(preroll)]
    if spec.ids:
        args += ["--ids", ",".join(str(i) for i in spec.ids)]
    # Always explicit: a chunk must smooth exactly as the shot was set up, whatever the default.
    args += ["--temporal-strength", repr(float(spec.temporal_strength))]
    if spec.keyframes:
        args += ["--keyframes", ",".join(str(k) for k in spec.keyframes)]
    if spec.start_frame != type(spec).model_fields["start_frame"].default:
        args += ["--start-frame", str(spec.start_frame)]
    args += ["--skip-existing", "--progress-lines"]
    return args


def shell_command(
    program: Sequence[str], args: Sequence[str], raw: dict[str, str] | None = None
) -> str:
    """Quote ``program + args`` for a POSIX shell, leaving farm tokens in ``raw`` unquoted.

    ``raw`` maps a placeholder argument to the text to splice in as is, e.g. the OpenCue token
    ``#FRAME_START#-#FRAME_END#`` (quoting it would still work, but the log reads better).
    """
    raw = raw or {}
    parts = [raw[a] if a in raw else shlex.quote(a) for a in (*program, *args)]
    return " ".join(parts)
