"""The people list, one widget: "All people" plus each person with their overlay colour, whole
name (wrapped, never elided: names like ``stunt_double_left_02`` tell people apart), verdict,
mask state (``propagated`` is a state chosen by whoever gave keyframes, not a fault) and any
reasons the analysis found the frame suspicious. Selecting a row picks the person."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from vfxmatte.review import compose


class PeoplePanel(QWidget):
    """Emits ``personChanged(row)``: 0 is everyone, ``i + 1`` is person ``i``."""

    personChanged = Signal(int)  # noqa: N815 - Qt signal naming

    def __init__(self) -> None:
        super().__init__()
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.currentRowChanged.connect(self.personChanged.emit)
        self.info = QLabel()
        self.info.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("People"))
        layout.addWidget(self.list)
        layout.addWidget(self.info)
        self.names: list[str] = []

    def set_people(self, names: Sequence[str]) -> None:
        """A new result's people; "All people" selected, no signal sent."""
        self.names = list(names)
        self.list.blockSignals(True)
        self.list.clear()
        self.list.addItem("All people")
        for i, name in enumerate(self.names):
            item = QListWidgetItem(name)
            item.setIcon(_swatch(i))
            self.list.addItem(item)
        self.list.setCurrentRow(0)
        self.list.blockSignals(False)
        self._fit_width()

    def clear(self) -> None:
        self.names = []
        self.list.clear()

    def select(self, index: int | None) -> None:
        self.list.setCurrentRow(0 if index is None else index + 1)

    def show_frame_state(
        self,
        marks: Mapping[str, str],
        states: Mapping[str, str],
        suspicious: Mapping[str, Sequence[str]],
    ) -> None:
        """Each person's line for the current frame: verdict, mask state, analysis reasons."""
        for i, name in enumerate(self.names):
            text = name
            if marks.get(name):
                text += f"  [{marks[name]}]"
            if states.get(name):
                text += f"  ({states[name]})"
            if suspicious.get(name):
                text += "  (!) " + ", ".join(suspicious[name])
            item = self.list.item(i + 1)
            if item is not None:
                item.setText(text)
                item.setToolTip(text)

    def _fit_width(self) -> None:
        """Wide enough for the longest whole name with its swatch; longer notes wrap."""
        metrics = self.list.fontMetrics()
        longest = max((metrics.horizontalAdvance(n) for n in self.names), default=80)
        self.setMinimumWidth(min(420, longest + 60))


def _swatch(index: int) -> QIcon:
    pix = QPixmap(12, 12)
    r, g, b = (float(c) for c in compose.person_colour(index))
    pix.fill(QColor.fromRgbF(r, g, b))
    return QIcon(pix)
