"""Turn library errors and stop signals into one line on stderr and the right exit code.

Never a traceback: a user mistake is a :class:`VfxMatteError`, a stop signal (SIGINT from a
terminal, SIGTERM from Deadline/Tractor/`kill`) unwinds the job as :class:`Interrupted` so the
atomic writer removes its temp file, then exits 130 or 143 with one "interrupted" line.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import NoReturn

import torch

from vfxmatte.errors import ExitCode, Interrupted, VfxMatteError

_SIGNAL_CODES = {signal.SIGINT: ExitCode.INTERRUPTED, signal.SIGTERM: ExitCode.TERMINATED}


def fail(message: str, code: ExitCode) -> NoReturn:
    print(f"vfxmatte: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(int(code))


def _raise_interrupted(signum: int, _frame: FrameType | None) -> None:
    for sig in _SIGNAL_CODES:  # a second signal while unwinding must not cut the cleanup short
        signal.signal(sig, signal.SIG_IGN)
    raise Interrupted(signum, _SIGNAL_CODES[signal.Signals(signum)])


def install_signal_handlers() -> None:
    """SIGINT/SIGTERM raise :class:`Interrupted` in the main thread (only it may set handlers)."""
    for sig in _SIGNAL_CODES:
        signal.signal(sig, _raise_interrupted)


def run_guarded(entry: Callable[[], object]) -> None:
    """Call the Typer app, mapping known failures to exit codes."""
    try:
        entry()
    except VfxMatteError as exc:
        fail(exc.message, exc.exit_code)
    except (torch.OutOfMemoryError, MemoryError):
        fail("out of memory; try --device cpu or fewer people per job", ExitCode.OUT_OF_MEMORY)
    except (Interrupted, KeyboardInterrupt) as exc:
        code = exc.exit_code if isinstance(exc, Interrupted) else ExitCode.INTERRUPTED
        fail("interrupted; frames already written are complete (rerun with --skip-existing)", code)
