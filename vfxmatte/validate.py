"""Checks a job passes before its first frame: what a careless user or a hostile client can get wrong.

Everything here reads headers and directory entries only, never pixels, so a bad job fails in
milliseconds with one line instead of after frames of work (or after overwriting the plate).
The pipeline calls :func:`preflight`; the service calls :func:`check_out_not_input` at submit time
so a bad request is a 400, not a failed job.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vfxmatte.errors import BadArgumentError, MissingInputError
from vfxmatte.io.images import probe_image
from vfxmatte.sequence import SequencePath, format_frames

if TYPE_CHECKING:
    from vfxmatte.jobspec import JobSpec
    from vfxmatte.pipeline import Job

MAX_TEXT_DEPTH = 32  # nesting accepted in free-form request values
MAX_PREROLL = 1000  # pre-roll frames matted but not written; more is a typo (JobSpec enforces it)


def _identity(path: Path) -> tuple[str, tuple[int, int] | None]:
    """A file's resolved path and, when it exists, its (device, inode): hard links count too."""
    real = Path(os.path.realpath(path))
    try:
        st = real.stat()
        return str(real), (st.st_dev, st.st_ino)
    except OSError:
        return str(real), None


def frame_files(pattern: str, frames: Iterable[int]) -> dict[int, Path]:
    """The file of each frame, with the folder resolved once (symlinked folders included).

    A pattern with no padding token is one file for every frame (a movie or a still).
    """
    seq = SequencePath(pattern)
    folder = Path(os.path.realpath(Path(pattern).parent))
    if not seq.is_sequence:
        return {0: folder / Path(pattern).name}
    return {f: folder / seq.path(f).name for f in frames}


def check_out_not_input(out: str, inputs: dict[str, str | None], frames: list[int]) -> None:
    """Refuse an output that would overwrite an input file on any of the job's frames.

    Frame paths are compared after resolving (``%04d`` vs ``####``, ``./`` vs absolute, symlinked
    folders, hard links), so a differently spelled plate path is still caught.
    """
    out_files = frame_files(out, frames)
    by_path: dict[str, int] = {}
    by_inode: dict[tuple[int, int], int] = {}
    for frame, path in out_files.items():
        real, inode = _identity(path)
        by_path[real] = frame
        if inode is not None:
            by_inode[inode] = frame
    for what, pattern in inputs.items():
        if not pattern:
            continue
        for path in frame_files(pattern, [*frames, 0]).values():
            real, inode = _identity(path)
            if real in by_path or (inode is not None and inode in by_inode):
                frame = by_path.get(real, by_inode.get(inode or (0, 0)))
                raise BadArgumentError(
                    f"--out {out} would overwrite the {what} ({path}, frame {frame}); "
                    "write the mattes somewhere else"
                )


def check_clean_plate_frames(pattern: str, frames: list[int]) -> None:
    """A clean plate is one still, or a sequence with every frame the job reads."""
    seq = SequencePath(pattern)
    if not seq.is_sequence:
        if not Path(pattern).is_file():
            raise MissingInputError(f"clean plate is missing: {pattern}; check --clean-plate")
        return
    missing = [f for f in frames if not seq.path(f).is_file()]
    if missing:
        raise MissingInputError(
            f"clean plate frame(s) {format_frames(missing)} missing (e.g. {seq.path(missing[0])}); "
            "render them or give a single still as --clean-plate"
        )


def probe_plate(job: Job, frames: list[int]) -> None:
    """Header checks (deep, size, channels, multipart) on the first and last plate frames."""
    from vfxmatte.plates import ImageSequencePlate

    if not isinstance(job.plate, ImageSequencePlate) or not frames:
        return
    for frame in sorted({frames[0], frames[-1]}):
        probe_image(job.plate.path.path(frame), f"plate frame {frame}", colour=True)


def preflight(job: Job) -> list[str]:
    """Every check that needs the resolved job, before frame 1; returns warnings to report."""
    spec = job.spec
    reject_unencodable(spec.model_dump(), "job")
    order = [*job.preroll_frames, *job.frames]
    inputs = {
        "plate": spec.plate,
        "clean plate": spec.clean_plate,
        "id map": spec.id_map,
        **{f"mask {name}": path for name, path in spec.masks.items()},
    }
    check_out_not_input(spec.out, inputs, order)
    probe_plate(job, order)
    if spec.clean_plate:
        check_clean_plate_frames(spec.clean_plate, order)
    source = getattr(job.masks, "inner", job.masks)  # under keyframe propagation
    return list(getattr(source, "notes", []))


def spec_from(**fields: object) -> JobSpec:
    """A JobSpec, or one line naming the first field that is wrong (for the CLI and the service)."""
    from vfxmatte.jobspec import build_spec

    return build_spec(**fields)


def reject_unencodable(value: Any, where: str = "body", depth: int = 0) -> None:
    """Refuse text that cannot become a file name or a log line: lone surrogates, NUL.

    JSON allows ``"\\ud800"`` and a POSIX command line may carry bytes that are not UTF-8 (Python
    keeps them as surrogates); OpenImageIO and every encoder later refuse such a str, so it is
    caught before the job starts, as one line naming the field.
    """
    if depth > MAX_TEXT_DEPTH:
        raise BadArgumentError(f"{where}: nested too deeply")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadArgumentError(
                f"{where}: text is not valid Unicode (a lone surrogate)"
            ) from None
        if "\x00" in value:
            raise BadArgumentError(f"{where}: text contains a NUL character")
    elif isinstance(value, dict):
        for key, item in value.items():
            reject_unencodable(key, f"{where} key", depth + 1)
            reject_unencodable(item, f"{where}.{key}" if isinstance(key, str) else where, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            reject_unencodable(item, where, depth + 1)
