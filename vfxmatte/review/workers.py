"""Work off the GUI thread: a QRunnable that runs a function and reports back through signals.

Everything slow in the panel (reading 4K EXRs, the stability analysis, a pipeline re-run) goes
through :class:`Worker` on a QThreadPool, so the window keeps repainting and answering clicks.
Connect the signals to bound methods of a QObject living in the GUI thread: Qt then queues the
calls into that thread.
"""

from __future__ import annotations

import gc
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QTimer, Signal

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


class GuiThreadCollector(QObject):
    """Python's cyclic garbage collection, run only in the GUI thread while a window is open.

    Why: the collector runs in whichever thread happens to allocate when a generation fills
    up, a pool thread reading EXRs included. Qt objects caught in reference cycles (a worker's
    closure holds the window; a closed window's widgets) must not be deleted there: Qt then
    crashes the process (seen once in the window tests: a segfault inside
    ``ResultFolder.read`` in a pool thread, "Garbage-collecting"). So automatic collection is
    switched off while any window is open and this timer collects in the GUI thread instead,
    by the same generation thresholds; :meth:`stop` switches it back on.
    """

    _open = 0
    _was_enabled = True

    def __init__(self, parent: QObject, interval_ms: int = 500):
        super().__init__(parent)
        if GuiThreadCollector._open == 0:
            GuiThreadCollector._was_enabled = gc.isenabled()
            gc.disable()
        GuiThreadCollector._open += 1
        self._running = True
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.collect)
        self.timer.start(interval_ms)

    def collect(self) -> None:
        """Collect the oldest generation whose count is over its threshold, as gc would."""
        counts, limits = gc.get_count(), gc.get_threshold()
        for generation in (2, 1, 0):
            if limits[generation] and counts[generation] > limits[generation]:
                gc.collect(generation)
                return

    def stop(self) -> None:
        """Collect now (in the GUI thread) and give automatic collection back."""
        if not self._running:
            return
        self._running = False
        self.timer.stop()
        GuiThreadCollector._open -= 1
        gc.collect()
        if GuiThreadCollector._open == 0 and GuiThreadCollector._was_enabled:
            gc.enable()
