"""The review box, one widget: this frame's verdicts, the note, Approve / Flag / Clear, and the
list of frames to look at (flagged in review, suspicious in the analysis). It says what the user
asked for through signals; the window owns the review store and saves it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
)

from vfxmatte.review.model import APPROVED, FLAGGED, Verdict


class VerdictPanel(QGroupBox):
    """``marked(status)``: Approve or Flag pressed (status), or Clear (empty string);
    ``frameChosen(frame)``: a frame picked in the list."""

    marked = Signal(str)
    frameChosen = Signal(int)  # noqa: N815 - Qt signal naming

    def __init__(self) -> None:
        super().__init__("Review")
        self.verdict_label = QLabel("-")
        self.note_edit = QLineEdit()
        self.note_edit.setPlaceholderText("note (e.g. hair edge boils)")
        buttons = QHBoxLayout()
        for text, status in (("Approve (Shift+A)", APPROVED), ("Flag (F)", FLAGGED), ("Clear", "")):
            button = QPushButton(text)
            button.clicked.connect(lambda _c=False, s=status: self.marked.emit(s))
            buttons.addWidget(button)
        self.flagged_list = QListWidget()
        self.flagged_list.itemActivated.connect(self._on_item)
        self.flagged_list.itemClicked.connect(self._on_item)
        layout = QVBoxLayout(self)
        layout.addWidget(self.verdict_label)
        layout.addWidget(self.note_edit)
        layout.addLayout(buttons)
        layout.addWidget(QLabel("Flagged (review) and suspicious (analysis) frames"))
        layout.addWidget(self.flagged_list, 1)

    @property
    def note(self) -> str:
        return self.note_edit.text()

    def show_verdicts(self, frame: int, verdicts: Mapping[str, Verdict | None]) -> None:
        """The chosen people's verdicts on ``frame``."""
        lines = [
            f"{name}: {v.status}{' - ' + v.note if v.note else ''}"
            if v
            else f"{name}: not reviewed"
            for name, v in verdicts.items()
        ]
        self.verdict_label.setText(f"frame {frame}\n" + "\n".join(lines))

    def show_frames(
        self,
        flagged: Sequence[tuple[int, str, str]],
        suspicious: Mapping[int, Mapping[str, Sequence[str]]],
    ) -> None:
        """Flagged (frame, person, note) from the review, then the analysis' suspicious frames."""
        self.flagged_list.clear()
        for frame, name, note in flagged:
            self._add(frame, f"{frame}  {name}: flagged {note}".rstrip())
        for frame, people in sorted(suspicious.items()):
            for name, reasons in people.items():
                item = self._add(frame, f"{frame}  {name}: {', '.join(reasons)}")
                item.setForeground(QColor(220, 80, 80))

    def _add(self, frame: int, text: str) -> QListWidgetItem:
        item = QListWidgetItem(text)
        item.setData(Qt.ItemDataRole.UserRole, frame)
        self.flagged_list.addItem(item)
        return item

    def _on_item(self, item: QListWidgetItem) -> None:
        frame = item.data(Qt.ItemDataRole.UserRole)
        if frame is not None:
            self.frameChosen.emit(int(frame))
