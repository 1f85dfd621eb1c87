"""What the canvas paints over the drawing: the heat-map overlay, the 28×28 grid, the hint, a prompt, the brush outline."""

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


def paint_grid(painter: QPainter, rect: QRectF, region: tuple[float, float, float, float] | None = None) -> None:
    """The 28×28 grid over ``region`` (canvas pixels: the part the model reads, from
    ``core.analysis.overlay.input_region``), or over the whole canvas while it is empty.

    Preprocessing crops the ink and scales it into the frame, so a grid over the
    whole canvas would show cells the model never sees.
    """
    target = rect
    if region is not None:
        scale = rect.width() / CANVAS_SIZE
        x, y, w, h = region
        target = QRectF(rect.left() + x * scale, rect.top() + y * scale, w * scale, h * scale)
    painter.save()
    painter.setClipRect(rect)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    cell_w, cell_h = target.width() / GRID_CELLS, target.height() / GRID_CELLS
    minor = QPen(QColor(255, 255, 255, 34), 0)
    major = QPen(QColor(255, 255, 255, 70), 0)
    for index in range(0 if region is not None else 1, GRID_CELLS + (1 if region is not None else 0)):
        # MNIST centres digits in a 20×20 box inside the 28×28 frame: mark its edges (and the frame).
        painter.setPen(major if index in (0, 4, GRID_CELLS - 4, GRID_CELLS) else minor)
        x, y = target.left() + index * cell_w, target.top() + index * cell_h
        painter.drawLine(QPointF(x, target.top()), QPointF(x, target.bottom()))
        painter.drawLine(QPointF(target.left(), y), QPointF(target.right(), y))
    painter.restore()


def paint_prompt(painter: QPainter, rect: QRectF, text: str) -> None:
    """A guided session's prompt across the top of the canvas, large enough to read while drawing."""
    painter.save()
    font = painter.font()
    font.setPixelSize(max(16, int(rect.width() / 11)))
    font.setBold(True)
    painter.setFont(font)
    band = QRectF(rect.left(), rect.top(), rect.width(), font.pixelSize() * 1.6)
    painter.fillRect(band, QColor(20, 60, 120, 170))
    painter.setPen(QColor(255, 255, 255))
    painter.drawText(band, Qt.AlignmentFlag.AlignCenter, text)
    painter.restore()


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
