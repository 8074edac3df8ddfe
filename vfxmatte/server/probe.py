"""Decode a job's input files in a throwaway child process before the service runs the job.

A hostile or broken file can crash a C decoder (a segfault is not an exception): inside the
service that would kill every queued job. The worker therefore first runs
``python -m vfxmatte.server.probe`` on the job's files; a crash, a hang or an unreadable file fails
that job with one line naming the file, and the service keeps serving. The cost is one extra
decode of each input (small next to matting it); a movie plate needs no probe (ffmpeg already
decodes it in its own process).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from vfxmatte.errors import ExitCode, VfxMatteError
from vfxmatte.jobspec import JobSpec
from vfxmatte.sequence import SequencePath, parse_frames

PROBE_SECONDS_PER_FILE = 10.0


def job_input_files(spec: JobSpec) -> list[tuple[str, str, bool]]:
    """(what, path, is the plate) of every existing input file the job will decode."""
    from vfxmatte.io.movie import is_movie

    frames = parse_frames(spec.frames) if spec.frames else []
    if frames:
        frames = [*range(frames[0] - spec.preroll, frames[0]), *frames]
    inputs: list[tuple[str, str | None, bool]] = [
        ("plate", None if is_movie(spec.plate) else spec.plate, True),
        ("clean plate", spec.clean_plate, True),
        ("id map", spec.id_map, False),
        *[(f"mask {name}", pattern, False) for name, pattern in spec.masks.items()],
    ]
    files: list[tuple[str, str, bool]] = []
    seen: set[str] = set()
    for what, pattern, colour in inputs:
        if not pattern:
            continue
        seq = SequencePath(pattern)
        for frame in frames if seq.is_sequence else [0]:
            path = str(seq.path(frame))
            if path not in seen and Path(path).is_file():
                seen.add(path)
                files.append((f"{what} frame {frame}", path, colour))
    return files


def probe_in_child(
    files: list[tuple[str, str, bool]], command: list[str] | None = None
) -> tuple[str, ExitCode] | None:
    """Decode ``files`` in a child process; None when all are fine, else (message, exit code).

    ``command`` replaces the child (tests use one that really segfaults).
    """
    if not files:
        return None
    timeout = 30.0 + PROBE_SECONDS_PER_FILE * len(files)
    try:
        proc = subprocess.run(
            command or [sys.executable, "-m", "vfxmatte.server.probe"],
            input=json.dumps(files),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return (
            f"decoding the job's {len(files)} input file(s) took over {timeout:.0f} s; "
            "check the files",
            ExitCode.MISSING_INPUT,
        )
    lines = proc.stdout.splitlines()
    if proc.returncode == 0:
        return None
    if lines and lines[-1].startswith("error\t"):
        _, code, message = lines[-1].split("\t", 2)
        return message, ExitCode(int(code))
    reading = [ln.split("\t", 1)[1] for ln in lines if ln.startswith("reading\t")]
    culprit = reading[-1] if reading else "an input file"
    how = (
        f"signal {signal.Signals(-proc.returncode).name}"
        if proc.returncode < 0
        else f"exit {proc.returncode}"
    )
    return (
        f"{culprit} crashed the image decoder ({how}); re-render or replace that file",
        ExitCode.MISSING_INPUT,
    )


def main() -> int:
    """Child side: read [(what, path, colour)] as JSON on stdin, decode each, report on stdout."""
    from vfxmatte.io.images import read_image

    for what, path, colour in json.load(sys.stdin):
        print(f"reading\t{what} ({path})", flush=True)
        try:
            read_image(path, what, colour=colour)
        except VfxMatteError as exc:
            print(f"error\t{int(exc.exit_code)}\t{exc.message}", flush=True)
            return 1
        except MemoryError:
            print(
                f"error\t{int(ExitCode.OUT_OF_MEMORY)}\t{what} ({path}): out of memory", flush=True
            )
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
