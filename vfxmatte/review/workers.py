"""Work off the GUI thread: a QRunnable that runs a function and reports back through signals.

Everything slow in the panel (reading 4K EXRs, the stability analysis, a pipeline re-run) goes
through :class:`Worker` on a QThreadPool, so the window keeps repainting and answering clicks.
Connect the signals to bound methods of a QObject living in the GUI thread: Qt then queues the
calls into that thread.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Signal

from vfxmatte.errors import VfxMatteError


class WorkerSignals(QObject):
    progress = Signal(int, int)  # done, total
    finished = Signal(object)  # the function's return value
    failed = Signal(object)  # (tag, one-line message)


class Worker(QRunnable):
    """Run ``fn(worker)`` in a pool thread; ``worker.report`` / ``worker.stopped`` inside fn."""

    def __init__(self, fn: Callable[[Worker], Any], tag: Any = None):
        super().__init__()
        self.setAutoDelete(False)  # the window keeps a reference until finished/failed arrives
        self.fn = fn
        self.tag = tag
        self.signals = WorkerSignals()
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def stopped(self) -> bool:
        return self._stop.is_set()

    def report(self, done: int, total: int) -> None:
        self.signals.progress.emit(done, total)

    def run(self) -> None:
        try:
            value = self.fn(self)
        except VfxMatteError as exc:
            self.signals.failed.emit((self.tag, exc.message))
        except Exception as exc:  # a bug must reach the window as a message, not kill a thread
            traceback.print_exc()
            self.signals.failed.emit((self.tag, f"internal error: {type(exc).__name__}: {exc}"))
        else:
            self.signals.finished.emit((self.tag, value))
