"""The viewer's look controls, one widget: OCIO display and view of the config, exposure (stops),
gamma and the channel shown (RGB, R, G, B, A). It holds a :class:`ViewSettings` and says when it
changes; the window composes frames with it and owns nothing of its state."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from vfxmatte.review.display import CHANNELS, DisplayLook, ViewSettings


class ViewControls(QWidget):
    """Display / view / exposure / gamma / channel; ``changed`` fires after every edit."""

    changed = Signal()

    def __init__(self, look: DisplayLook, settings: ViewSettings | None = None):
        super().__init__()
        self.look = look
        self._settings = look.check(settings or look.default_settings())
        self.display_box = QComboBox()
        self.display_box.addItems(look.displays())
        self.view_box = QComboBox()
        for box in (self.display_box, self.view_box):  # long OCIO names must not widen the window
            box.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            box.setMinimumContentsLength(12)
        self.exposure_spin = QDoubleSpinBox()
        self.exposure_spin.setRange(-10.0, 10.0)
        self.exposure_spin.setSingleStep(0.5)
        self.exposure_spin.setSuffix(" stops")
        self.exposure_spin.setToolTip("Exposure on scene-linear light, before the view")
        self.gamma_spin = QDoubleSpinBox()
        self.gamma_spin.setRange(0.2, 5.0)
        self.gamma_spin.setSingleStep(0.1)
        self.gamma_spin.setToolTip("Display gamma, after the view")
        self.channel_label = QLabel()
        self.channel_label.setMinimumWidth(28)
        reset = QPushButton("Reset")
        reset.setToolTip("Exposure 0, gamma 1, RGB")
        reset.clicked.connect(self.reset)
        layout = QVBoxLayout(self)  # two short rows: the viewer keeps the window's width
        layout.setContentsMargins(0, 0, 0, 0)
        rows = (
            (QLabel("Display"), self.display_box, QLabel("View"), self.view_box),
            (QLabel("Exposure"), self.exposure_spin, QLabel("Gamma"), self.gamma_spin),
        )
        for row_widgets, extra in zip(rows, ((), (self.channel_label, reset)), strict=True):
            row = QHBoxLayout()
            for w in (*row_widgets, *extra):
                row.addWidget(w)
            row.addStretch(1)
            layout.addLayout(row)
        self._show(self._settings)
        self.display_box.currentTextChanged.connect(self._on_display)
        self.view_box.currentTextChanged.connect(lambda _t: self._read())
        self.exposure_spin.valueChanged.connect(lambda _v: self._read())
        self.gamma_spin.valueChanged.connect(lambda _v: self._read())

    @property
    def settings(self) -> ViewSettings:
        return self._settings

    def set_settings(self, settings: ViewSettings) -> None:
        """Show ``settings`` (checked against the config) and announce the change once."""
        self._settings = self.look.check(settings)
        self._show(self._settings)
        self.changed.emit()

    def set_channel(self, channel: str | None) -> None:
        """R, G, B or A as a channel key: a second press of the same key returns to RGB."""
        if channel is not None and channel not in CHANNELS:
            raise ValueError(channel)
        self.set_settings(self._settings.with_channel(channel))

    def set_exposure(self, stops: float) -> None:
        self.exposure_spin.setValue(stops)

    def set_gamma(self, gamma: float) -> None:
        self.gamma_spin.setValue(gamma)

    def reset(self) -> None:
        s = self._settings
        self.set_settings(ViewSettings(s.display, s.view))

    def _show(self, s: ViewSettings) -> None:
        for w in (self.display_box, self.view_box, self.exposure_spin, self.gamma_spin):
            w.blockSignals(True)
        self.display_box.setCurrentText(s.display)
        self.view_box.clear()
        self.view_box.addItems(self.look.views(s.display))
        self.view_box.setCurrentText(s.view)
        self.exposure_spin.setValue(s.exposure)
        self.gamma_spin.setValue(s.gamma)
        for w in (self.display_box, self.view_box, self.exposure_spin, self.gamma_spin):
            w.blockSignals(False)
        self.channel_label.setText(s.channel or "RGB")

    def _on_display(self, display: str) -> None:
        views = self.look.views(display)
        view = self._settings.view if self._settings.view in views else views[0]
        self.set_settings(
            ViewSettings(
                display,
                view,
                self.exposure_spin.value(),
                self.gamma_spin.value(),
                self._settings.channel,
            )
        )

    def _read(self) -> None:
        s = self._settings
        self._settings = ViewSettings(
            s.display,
            self.view_box.currentText() or s.view,
            self.exposure_spin.value(),
            self.gamma_spin.value(),
            s.channel,
        )
        self.changed.emit()
