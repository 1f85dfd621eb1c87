"""What the canvas paints over the drawing: the heat-map overlay, the 28×28 grid, the hint, the brush outline."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen

from mnist_desktop.gui.drawing_history import CANVAS_SIZE

GRID_CELLS = 28


def paint_overlay(painter: QPainter, rect: QRectF, overlay: QImage, region: QRectF) -> None:
    """The heat map over ``region`` (canvas pixels) of the drawing painted in ``rect``.

    Smoothly scaled: on the smooth drawing a glow reads better than blocks
    (ModelInputView shows the exact pixels).
    """
    scale = rect.width() / CANVAS_SIZE
    target = QRectF(rect.left() + region.left() * scale, rect.top() + region.top() * scale,
                    region.width() * scale, region.height() * scale)
    painter.save()
    painter.setClipRect(rect)
    painter.drawImage(target, overlay)
    painter.restore()


def paint_grid(painter: QPainter, rect: QRectF) -> None:
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    cell = rect.width() / GRID_CELLS
    minor = QPen(QColor(255, 255, 255, 34), 0)
    major = QPen(QColor(255, 255, 255, 70), 0)
    for index in range(1, GRID_CELLS):
        # MNIST centres digits in a 20×20 box inside the 28×28 frame: mark its edges.
        painter.setPen(major if index in (4, GRID_CELLS - 4) else minor)
        offset = index * cell
        painter.drawLine(QPointF(rect.left() + offset, rect.top()), QPointF(rect.left() + offset, rect.bottom()))
        painter.drawLine(QPointF(rect.left(), rect.top() + offset), QPointF(rect.right(), rect.top() + offset))


def paint_placeholder(painter: QPainter, rect: QRectF, text: str) -> None:
    font = painter.font()
    font.setPixelSize(max(12, int(rect.width() / 18)))
    painter.setFont(font)
    painter.setPen(QColor(255, 255, 255, 90))
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)


def paint_brush_outline(painter: QPainter, rect: QRectF, hover: QPointF, width: float, erasing: bool) -> None:
    """The pen's size under the pointer (dashed orange while erasing)."""
    if not rect.contains(hover):
        return
    radius = width * rect.width() / CANVAS_SIZE / 2.0
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    colour = QColor(255, 140, 60, 200) if erasing else QColor(255, 255, 255, 130)
    painter.setPen(QPen(colour, 1, Qt.PenStyle.DashLine if erasing else Qt.PenStyle.SolidLine))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawEllipse(hover, radius, radius)
