"""User-facing errors and the exit codes they map to.

Every mistake a user can make (bad argument, missing frame, unwritable folder) is raised as a
:class:`VfxMatteError` subclass whose message is one line naming the file/frame and what to do.
The CLI prints that line and exits with the class's code; only genuine bugs produce tracebacks.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, stable for render-farm wrappers (Deadline, Tractor, OpenCue)."""

    OK = 0
    INTERNAL = 1  # a bug: report it
    BAD_ARGUMENTS = 2  # the command line or job spec is wrong
    MISSING_INPUT = 3  # a plate/mask frame is missing, unreadable or invalid
    ENGINE_FAILURE = 4  # the engine failed on valid input (or its model is missing)
    OUT_OF_MEMORY = 5  # host or device memory ran out
    OUTPUT_FAILURE = 6  # the output could not be written (permissions, disk full)
    PARTIAL = 7  # the job ran but some requested frames were not written
    INTERRUPTED = 130  # SIGINT / cancelled
    TERMINATED = 143  # SIGTERM (what Deadline, Tractor and `kill` send)


class VfxMatteError(Exception):
    """Base class: a one-line, actionable message and an exit code."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class BadArgumentError(VfxMatteError):
    exit_code = ExitCode.BAD_ARGUMENTS


class MissingInputError(VfxMatteError):
    exit_code = ExitCode.MISSING_INPUT


class InvalidInputError(VfxMatteError):
    """Input exists but its content is unusable (NaN pixels, wrong size, truncated file)."""

    exit_code = ExitCode.MISSING_INPUT


class EngineError(VfxMatteError):
    exit_code = ExitCode.ENGINE_FAILURE


class OutOfMemoryError(VfxMatteError):
    exit_code = ExitCode.OUT_OF_MEMORY


class OutputError(VfxMatteError):
    exit_code = ExitCode.OUTPUT_FAILURE


class CancelledError(VfxMatteError):
    exit_code = ExitCode.INTERRUPTED


class Interrupted(BaseException):  # noqa: N818 - a signal, not an error
    """A stop signal (SIGINT/SIGTERM) turned into an exception so ``finally`` blocks and the
    atomic writer's cleanup run. A BaseException, so no ``except Exception`` swallows it, and not
    KeyboardInterrupt, which Click would turn into its own exit without our message."""

    def __init__(self, signum: int, exit_code: ExitCode) -> None:
        super().__init__(signum)
        self.signum = signum
        self.exit_code = exit_code
