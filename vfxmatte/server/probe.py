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
import os
import select
import signal
import subprocess
import sys
import threading
import time
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


class ProbeProcess:
    """One long-lived decoding child shared by the service's workers, restarted after a crash.

    Starting Python with OpenImageIO costs a second or more on a busy host, so the child stays up
    between jobs; it holds no image between requests. Protocol, one line each: the parent sends
    a JSON list of (what, path, is the plate); the child answers ``reading\t<what (path)>`` before
    each file and ends with ``ok`` or ``error\t<exit code>\t<message>``. End of output means the
    child died on the file it was reading.
    """

    def __init__(self, command: list[str] | None = None) -> None:
        self._command = command or [sys.executable, "-m", "vfxmatte.server.probe"]
        self._proc: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self._lock = threading.Lock()

    def check(self, files: list[tuple[str, str, bool]]) -> tuple[str, ExitCode] | None:
        """Decode ``files`` in the child: None when all are fine, else (message, exit code)."""
        if not files:
            return None
        timeout = 30.0 + PROBE_SECONDS_PER_FILE * len(files)
        request = json.dumps(files).encode() + b"\n"
        with self._lock:
            for attempt in range(2):  # a child that died since the last job is started afresh
                proc = self._start()
                assert proc.stdin is not None
                try:
                    proc.stdin.write(request)
                    proc.stdin.flush()
                    break
                except OSError:
                    self._stop()
                    if attempt:
                        raise
            return self._answer(proc, time.monotonic() + timeout, timeout, len(files))

    def _answer(
        self, proc: subprocess.Popen[bytes], deadline: float, timeout: float, count: int
    ) -> tuple[str, ExitCode] | None:
        culprit = "an input file"
        while True:
            line = self._readline(proc, deadline)
            if line is None:
                self._stop()
                return (
                    f"decoding the job's {count} input file(s) took over {timeout:.0f} s; "
                    "check the files",
                    ExitCode.MISSING_INPUT,
                )
            if line == "":  # end of output: the child died on the file it was reading
                code = proc.wait()
                self._proc, self._buffer = None, b""
                how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit {code}"
                return (
                    f"{culprit} crashed the image decoder ({how}); re-render or replace that file",
                    ExitCode.MISSING_INPUT,
                )
            if line.startswith("reading\t"):
                culprit = line.split("\t", 1)[1]
            elif line == "ok":
                return None
            elif line.startswith("error\t"):
                _, code_text, message = line.split("\t", 2)
                return message, ExitCode(int(code_text))

    def _readline(self, proc: subprocess.Popen[bytes], deadline: float) -> str | None:
        """The next line ("" at end of output, None past ``deadline``)."""
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return ""
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode("utf-8", "replace")

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                self._command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0
            )
            self._buffer = b""
        return self._proc

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
        self._proc, self._buffer = None, b""

    def close(self) -> None:
        with self._lock:
            if self._proc is not None and self._proc.stdin is not None:
                self._proc.stdin.close()  # the child ends at end of input
                try:
                    self._proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass
            self._stop()


def _probe_request(files: list[list]) -> str:
    """Child side of one request: the closing line (``ok`` or ``error...``)."""
    from vfxmatte.io.images import read_image

    for what, path, colour in files:
        print(f"reading\t{what} ({path})", flush=True)
        try:
            read_image(path, what, colour=colour)
        except VfxMatteError as exc:
            return f"error\t{int(exc.exit_code)}\t{exc.message}"
        except MemoryError:
            return f"error\t{int(ExitCode.OUT_OF_MEMORY)}\t{what} ({path}): out of memory"
    return "ok"


def main() -> int:
    """Child side: one JSON request per stdin line, answered on stdout, until end of input."""
    for line in sys.stdin:
        if line.strip():
            print(_probe_request(json.loads(line)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
