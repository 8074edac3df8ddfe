"""The review window's custom widgets: the zoomable viewer and the stability graph."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen, QPixmap, QWheelEvent
from PySide6.QtWidgets import (
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QSizePolicy,
    QWidget,
)

from vfxmatte.review.compose import person_colour
from vfxmatte.review.stability import StabilityReport

MAX_ZOOM = 64.0  # screen pixels per image pixel: far enough to judge single hair strands
MIN_ZOOM = 0.02


def to_pixmap(rgb: np.ndarray) -> QPixmap:
    """uint8 (h, w, 3) RGB -> QPixmap (copied, so the array may be freed)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"viewer images are (h, w, 3) uint8 RGB, got {rgb.shape}")
    h, w = rgb.shape[:2]
    image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())


class ImageViewer(QGraphicsView):
    """Shows one frame; scene units are full-resolution pixels, whatever the proxy level.

    A proxy image is drawn scaled up by its ``scale``, so zoom, pan and the pixel readout stay in
    real pixel coordinates when the full-resolution image replaces it.
    """

    zoomChanged = Signal(float)  # screen pixels per full-resolution pixel
    hovered = Signal(int, int)  # full-resolution pixel under the cursor

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self._item = QGraphicsPixmapItem()
        self._item.setTransformationMode(Qt.TransformationMode.FastTransformation)
        self.scene().addItem(self._item)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setBackgroundBrush(QColor(40, 40, 40))
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._fitted = False
        self.image_scale = 1.0

    def set_image(self, rgb: np.ndarray, scale: float, full_size: tuple[int, int]) -> None:
        """Replace the picture, keeping the current zoom and pan."""
        self._item.setPixmap(to_pixmap(rgb))
        self._item.setScale(scale)
        self.image_scale = scale
        self.scene().setSceneRect(QRectF(0, 0, full_size[0], full_size[1]))
        if not self._fitted:
            self.fit()
            self._fitted = True

    def fit_next_image(self) -> None:
        """A new result may have another size: fit the next picture instead of keeping zoom."""
        self._fitted = False

    def clear(self) -> None:
        self._item.setPixmap(QPixmap())

    def zoom(self) -> float:
        return float(self.transform().m11())

    def set_zoom(self, factor: float) -> None:
        factor = float(np.clip(factor, MIN_ZOOM, MAX_ZOOM))
        self.setTransform(self.transform().fromScale(factor, factor))
        self.zoomChanged.emit(factor)

    def zoom_by(self, step: float) -> None:
        self.set_zoom(self.zoom() * step)

    def fit(self) -> None:
        rect = self.scene().sceneRect()
        if rect.isEmpty():
            return
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        self.zoomChanged.emit(self.zoom())

    def centre_on_pixel(self, x: float, y: float) -> None:
        self.centerOn(QPointF(x, y))

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt API)
        self.zoom_by(1.25 if event.angleDelta().y() > 0 else 0.8)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802, ANN001
        p = self.mapToScene(event.position().toPoint())
        self.hovered.emit(int(np.floor(p.x())), int(np.floor(p.y())))
        super().mouseMoveEvent(event)


class StabilityGraph(QWidget):
    """Per-person change curves over the shot; flagged frames in red, review flags in orange.

    Clicking jumps to a frame, so a spike leads straight to the frame that flickers.
    """

    frameClicked = Signal(int)  # index into the frame list

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumHeight(90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.frames: list[int] = []
        self.report: StabilityReport | None = None
        self.current = 0
        self.highlight: int | None = None  # person index drawn thick
        self.review_flags: set[int] = set()
        self.approved: set[int] = set()

    def set_frames(self, frames: list[int]) -> None:
        self.frames = frames
        self.report = None
        self.update()

    def set_report(self, report: StabilityReport | None) -> None:
        self.report = report
        self.update()

    def _x(self, index: int, width: int) -> float:
        n = max(1, len(self.frames) - 1)
        return 8 + (width - 16) * index / n

    def paintEvent(self, _event) -> None:  # noqa: N802, ANN001
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        p.fillRect(0, 0, w, h, QColor(28, 28, 30))
        if not self.frames:
            p.end()
            return
        top, bottom = 16, h - 10
        for i, f in enumerate(self.frames):
            x = self._x(i, w)
            if self.report and f in self.report.flags:
                p.fillRect(QRectF(x - 2, top, 4, bottom - top), QColor(200, 40, 40, 110))
            if f in self.review_flags:
                p.fillRect(QRectF(x - 3, bottom - 6, 6, 6), QColor(255, 150, 0))
            elif f in self.approved:
                p.fillRect(QRectF(x - 3, bottom - 6, 6, 6), QColor(60, 200, 90))
        peak = 0.005  # half a percent: below that the curves are flat on purpose
        if self.report:
            for values in self.report.changes.values():
                peak = max(peak, *[v for v in values if v is not None], 0.0)
            for j, person in enumerate(self.report.people):
                colour = person_colour(j)
                pen = QPen(QColor.fromRgbF(*[float(c) for c in colour]))
                pen.setWidthF(2.5 if self.highlight in (None, j) else 1.0)
                p.setPen(pen)
                path = QPainterPath()
                started = False
                for i, v in enumerate(self.report.changes[person]):
                    if v is None:
                        started = False
                        continue
                    pt = QPointF(self._x(i, w), bottom - (bottom - top) * v / peak)
                    if started:
                        path.lineTo(pt)
                    else:
                        path.moveTo(pt)
                        started = True
                    p.drawEllipse(pt, 1.5, 1.5)
                p.drawPath(path)
        x = self._x(self.current, w)
        p.setPen(QPen(QColor(255, 220, 0), 1.5))
        p.drawLine(QPointF(x, 2), QPointF(x, h - 2))
        p.setPen(QColor(190, 190, 190))
        label = "alpha change vs previous frame"
        if self.report:
            label += " (flow-compensated)" if self.report.flow_compensated else " (no plate: raw)"
            label += f", peak {peak:.1%}"
        else:
            label += ": analysing..."
        p.drawText(8, 12, label)
        p.end()

    def mousePressEvent(self, event) -> None:  # noqa: N802, ANN001
        if not self.frames:
            return
        w = self.width()
        x = event.position().x()
        n = max(1, len(self.frames) - 1)
        index = int(round((x - 8) / max(1.0, w - 16) * n))
        self.frameClicked.emit(int(np.clip(index, 0, len(self.frames) - 1)))
