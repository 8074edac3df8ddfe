"""The ``vfxmatte run`` command line of a job spec, for farms that run shell commands per chunk
(OpenCue, Deadline, Tractor): the same code path as a Dask chunk, one process per chunk.

The task is handed the spec itself (``--job '<json>'``), not a command line rebuilt option by
option, so a field added to :class:`~vfxmatte.jobspec.JobSpec` reaches the farm unchanged.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from vfxmatte.jobspec import JobSpec, spec_json


def run_arguments(
    spec: JobSpec, frames: str | None = None, preroll: int | None = None
) -> list[str]:
    """``vfxmatte run`` arguments running ``spec`` (``frames``/``preroll`` override its own,
    e.g. a farm's frame-range token).

    Always adds ``--skip-existing`` (a retried chunk keeps finished frames) and
    ``--progress-lines`` (one parseable line per frame in the farm log).
    """
    args = ["--job", spec_json(spec)]
    if frames is not None:
        args += ["--frames", frames]
    if preroll is not None:
        args += ["--preroll", str(preroll)]
    return [*args, "--skip-existing", "--progress-lines"]


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
