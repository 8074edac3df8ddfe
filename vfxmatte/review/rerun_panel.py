"""The re-run controls: engine and options, Re-run / Cancel, progress; the job on a worker thread.

A re-run is the same :class:`~vfxmatte.pipeline.Job` as `vfxmatte run`, restricted to the frames
the reviewer flagged and written into a new sibling folder; when it finishes the panel emits
``done(folder)`` and the window opens that folder as B for the wipe.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QThreadPool, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QWidget,
)

from vfxmatte.engines import list_engines
from vfxmatte.errors import VfxMatteError
from vfxmatte.events import EventKind, ProgressEvent
from vfxmatte.jobspec import JobSpec
from vfxmatte.review.model import ResultFolder
from vfxmatte.review.rerun import next_rerun_folder, parse_options, rerun_spec, run_rerun
from vfxmatte.review.workers import Worker
from vfxmatte.sequence import format_frames

NEEDS_MASKS = "re-run needs the masks: start the review with --mask NAME=PATH or --job SPEC.json"


class RerunPanel(QGroupBox):
    """Starts, shows and cancels one re-run at a time."""

    done = Signal(object)  # the new result folder (Path)
    requested = Signal()  # the button was pressed: the window supplies the flagged frames

    def __init__(self, pool: QThreadPool, parent: QWidget | None = None):
        super().__init__("Re-run", parent)
        self.pool = pool
        self.worker: Worker | None = None
        self.last_folder: Path | None = None
        self.engine_box = QComboBox()
        self.engine_box.setEditable(True)
        self.engine_box.addItems([e.name for e in list_engines()])
        self.options_edit = QLineEdit()
        self.options_edit.setPlaceholderText("search_frac=0.02 eps=1e-4")
        self.button = QPushButton("Re-run flagged frames")
        self.button.clicked.connect(self.requested.emit)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setFormat("%v/%m frames")
        self.label = QLabel()
        self.label.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("Engine", self.engine_box)
        form.addRow("Options", self.options_edit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.button)
        buttons.addWidget(self.cancel_button)
        form.addRow(buttons)
        form.addRow(self.progress)
        form.addRow(self.label)

    @property
    def busy(self) -> bool:
        return self.worker is not None

    def start(self, base: JobSpec | None, result: ResultFolder, frames: list[int]) -> bool:
        """Re-run ``frames`` of ``result`` from ``base`` with this panel's engine and options."""
        if self.worker is not None:
            self.label.setText("a re-run is already running")
            return False
        if base is None:
            self.label.setText(NEEDS_MASKS)
            return False
        try:
            out = next_rerun_folder(result)
            spec = rerun_spec(
                base,
                result,
                frames,
                self.engine_box.currentText().strip() or result.engine,
                parse_options(self.options_edit.text()),
                out,
            )
        except VfxMatteError as exc:
            self.label.setText(exc.message)
            return False

        def job(w: Worker) -> Path:
            def on_event(event: ProgressEvent) -> None:
                if event.kind in (EventKind.FRAME, EventKind.SKIP, EventKind.START):
                    w.report(event.done, event.total)

            outcome = run_rerun(spec, on_event, w.stopped)
            if not outcome.complete:
                raise VfxMatteError(f"re-run wrote {len(outcome.written)} of {len(frames)} frames")
            return out

        worker = Worker(job, tag=("rerun", str(out)))
        worker.signals.progress.connect(self._on_progress)
        worker.signals.finished.connect(self._on_done)
        worker.signals.failed.connect(self._on_failed)
        self.worker = worker
        self.progress.setRange(0, len(frames))
        self.progress.setValue(0)
        self.button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.label.setText(
            f"re-running {format_frames(frames)} with {spec.engine} {spec.engine_options or ''} "
            f"into {out.name}..."
        )
        self.pool.start(worker)
        return True

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.label.setText("cancelling after the current frame...")

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def _finish(self) -> None:
        self.worker = None
        self.button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _on_done(self, payload: tuple) -> None:
        _tag, folder = payload
        self._finish()
        self.last_folder = Path(folder)
        self.label.setText(f"done: {self.last_folder.name}; wipe A/B to compare")
        self.done.emit(self.last_folder)

    def _on_failed(self, payload: tuple) -> None:
        _tag, message = payload
        self._finish()
        self.label.setText(f"re-run failed: {message}")
