"""The canvas's picture as a list of edit steps: strokes, clears, loaded pictures; exact undo/redo.

The image is re-rendered from the steps, so undo and redo are exact and cheap
to store (points, not bitmaps). Older steps than :data:`MAX_UNDO_STEPS` are
baked into a base image, so memory stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen

from mnist_desktop.gui.qimage_convert import grey_array_to_qimage, qimage_to_bytes

CANVAS_SIZE = 560
"""Side of the internal image in pixels: 20 x MNIST's 28, so grid cells are whole pixels."""

MAX_UNDO_STEPS = 500
"""Older steps are baked into the base image, so memory stays bounded."""

EMPTY_THRESHOLD = 0.1
"""Anti-aliased crumbs left by the eraser below this intensity do not count as ink."""

_INK = QColor(255, 255, 255)
_PAPER = QColor(0, 0, 0)


@dataclass(frozen=True)
class Stroke:
    """One pen-down .. pen-up gesture, in internal image pixels.

    ``points`` are (x, y, width_factor); the factor is 1 for mouse and touch and
    follows pen pressure for tablets, so the stroke can thin out slightly.
    """

    points: tuple[tuple[float, float, float], ...]
    width: float
    erase: bool = False


@dataclass(frozen=True)
class ClearStep:
    """Wipes the image; undoable, because Esc is easy to hit by accident."""


@dataclass(frozen=True)
class LoadStep:
    """Replaces the image with a picture already fitted to the canvas."""

    image: QImage


Step = Stroke | ClearStep | LoadStep


def _quantize(factor: float) -> float:
    """Width factors in steps of 2.5 %: invisible, but long runs share one path (fast)."""
    return round(factor * 40.0) / 40.0


def paint_stroke(painter: QPainter, stroke: Stroke) -> None:
    """Draw ``stroke`` as a smooth anti-aliased path with round caps and joins.

    The path runs through the midpoints of the samples with quadratic curves
    (the samples are control points), which removes the jaggies of fast mouse
    moves without lagging behind the pointer. Runs of equal width share one
    path, so a mouse stroke is a single path and only pressure changes split it.
    """
    colour = _PAPER if stroke.erase else _INK
    points = stroke.points
    if not points:
        return
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    if len(points) == 1:
        x, y, factor = points[0]
        radius = stroke.width * factor / 2.0
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawEllipse(QPointF(x, y), radius, radius)
        return

    def mid(a: tuple[float, float, float], b: tuple[float, float, float]) -> QPointF:
        return QPointF((a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0)

    # Segments: (control point or None, end point, width factor).
    segments: list[tuple[QPointF | None, QPointF, float]] = [(None, mid(points[0], points[1]), points[0][2])]
    for i in range(1, len(points) - 1):
        segments.append((QPointF(points[i][0], points[i][1]), mid(points[i], points[i + 1]), points[i][2]))
    segments.append((None, QPointF(points[-1][0], points[-1][1]), points[-1][2]))

    painter.setBrush(Qt.BrushStyle.NoBrush)
    start = QPointF(points[0][0], points[0][1])
    path = QPainterPath(start)
    run_factor = _quantize(segments[0][2])

    def flush(current: QPainterPath, factor: float) -> None:
        pen = QPen(colour, stroke.width * factor, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                   Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        painter.drawPath(current)

    for control, end, factor in segments:
        factor = _quantize(factor)
        if factor != run_factor:
            flush(path, run_factor)
            path = QPainterPath(path.currentPosition())
            run_factor = factor
        if control is None:
            path.lineTo(end)
        else:
            path.quadTo(control, end)
    flush(path, run_factor)


def blank_image() -> QImage:
    image = QImage(CANVAS_SIZE, CANVAS_SIZE, QImage.Format.Format_Grayscale8)
    image.fill(0)
    return image


def apply_step(image: QImage, step: Step) -> None:
    """Render one step onto ``image`` in place."""
    if isinstance(step, ClearStep):
        image.fill(0)
        return
    painter = QPainter(image)
    try:
        if isinstance(step, LoadStep):
            painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
            painter.drawImage(0, 0, step.image)
        else:
            paint_stroke(painter, step)
    finally:
        painter.end()


def fit_picture(array: np.ndarray) -> QImage:
    """Scale a picture to fit the canvas (aspect kept, smooth) and centre it on black."""
    picture = grey_array_to_qimage(array).scaled(
        CANVAS_SIZE, CANVAS_SIZE, Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )
    canvas = blank_image()
    painter = QPainter(canvas)
    try:
        painter.drawImage((CANVAS_SIZE - picture.width()) // 2, (CANVAS_SIZE - picture.height()) // 2, picture)
    finally:
        painter.end()
    return canvas


class DrawingHistory:
    """The committed picture and the steps that made it (the widget adds the stroke in progress)."""

    def __init__(self) -> None:
        self._base = blank_image()  # state before steps[0] (older steps baked in)
        self._steps: list[Step] = []  # undo history, oldest first
        self._redo: list[Step] = []
        self.image = blank_image()  # base + all steps
        self.empty = True

    def can_undo(self) -> bool:
        return bool(self._steps)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def strokes(self) -> list[Stroke]:
        """The strokes since the last clear or load."""
        tail: list[Stroke] = []
        for step in reversed(self._steps):
            if not isinstance(step, Stroke):
                break
            tail.append(step)
        return tail[::-1]

    def push(self, step: Step) -> None:
        """Commit a new step (drops the redo list)."""
        self._steps.append(step)
        self._redo.clear()
        if len(self._steps) > MAX_UNDO_STEPS:
            apply_step(self._base, self._steps.pop(0))
        apply_step(self.image, step)
        self._after_commit()

    def undo(self) -> bool:
        if not self._steps:
            return False
        self._redo.append(self._steps.pop())
        self._rebuild()
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        step = self._redo.pop()
        self._steps.append(step)
        apply_step(self.image, step)
        self._after_commit()
        return True

    def _rebuild(self) -> None:
        """Re-render from the last clear/load (everything before it is covered anyway)."""
        start = 0
        for index in range(len(self._steps) - 1, -1, -1):
            if not isinstance(self._steps[index], Stroke):
                start = index
                break
        image = self._base.copy()
        for step in self._steps[start:]:
            apply_step(image, step)
        self.image = image
        self._after_commit()

    def _after_commit(self) -> None:
        self.empty = bool(qimage_to_bytes(self.image).max() <= EMPTY_THRESHOLD * 255)
