"""Turn library errors into one line on stderr and the right exit code (never a traceback)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn

import torch

from vfxmatte.errors import ExitCode, VfxMatteError


def fail(message: str, code: ExitCode) -> NoReturn:
    print(f"vfxmatte: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(int(code))


def run_guarded(entry: Callable[[], object]) -> None:
    """Call the Typer app, mapping known failures to exit codes."""
    try:
        entry()
    except VfxMatteError as exc:
        fail(exc.message, exc.exit_code)
    except (torch.OutOfMemoryError, MemoryError):
        fail("out of memory; try --device cpu or fewer people per job", ExitCode.OUT_OF_MEMORY)
    except KeyboardInterrupt:
        fail(
            "interrupted; frames already written are complete (rerun with --skip-existing)",
            ExitCode.INTERRUPTED,
        )
