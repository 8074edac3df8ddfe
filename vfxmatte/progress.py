"""Progress display: a rich bar on a terminal, one parseable line per event otherwise.

Render-farm log parsers want plain ``key=value`` lines, one per frame, flushed immediately; a
person at a terminal wants a bar. Both are fed from the same :class:`ProgressEvent` stream.
"""

from __future__ import annotations

import sys
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from vfxmatte.events import EventKind, ProgressEvent


class LineReporter:
    """One line per event on a stream (stdout by default), flushed so farm logs stay live."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout

    def __call__(self, event: ProgressEvent) -> None:
        print(event.as_line(), file=self.stream, flush=True)

    def close(self) -> None:
        pass


class BarReporter:
    """A rich progress bar; warnings are printed above it."""

    def __init__(self) -> None:
        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]vfxmatte[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.task = None

    def __call__(self, event: ProgressEvent) -> None:
        if event.kind == EventKind.START:
            self.progress.start()
            self.task = self.progress.add_task("frames", total=event.total)
        elif event.kind in (EventKind.FRAME, EventKind.SKIP) and self.task is not None:
            self.progress.update(
                self.task, completed=event.done, description=f"frame {event.frame}"
            )
        elif event.kind == EventKind.PREROLL and self.task is not None:
            self.progress.update(self.task, description=f"pre-roll {event.frame}")
        elif event.kind == EventKind.WARNING:
            self.console.print(f"[yellow]warning:[/] {event.message}")
        elif event.kind == EventKind.DONE:
            self.close()

    def close(self) -> None:
        self.progress.stop()


def make_reporter(force_lines: bool = False) -> LineReporter | BarReporter:
    """A bar when stdout is a terminal (and not forced to lines), else lines."""
    if not force_lines and sys.stdout.isatty():
        return BarReporter()
    return LineReporter()
