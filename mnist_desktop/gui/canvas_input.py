"""Pen and touch input for the canvas: pressure-thinned pen strokes, one-finger drawing.

The mouse path lives in the widget itself; these handlers drive the same
stroke methods (begin / extend / finish / cancel), so every input device makes
the same kind of undoable :class:`~.drawing_history.Stroke`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QInputDevice, QPointingDevice, QTabletEvent, QTouchEvent

if TYPE_CHECKING:
    from mnist_desktop.gui.canvas import DrawingCanvas


def handle_tablet(canvas: "DrawingCanvas", event: QTabletEvent) -> None:
    """Pen input: pressure thins the stroke a little (70-100 % of the width).

    Accepting the event stops Qt from also synthesising mouse events.
    """
    factor = 0.7 + 0.3 * min(max(event.pressure(), 0.0), 1.0)
    kind = event.type()
    canvas._hover = event.position()
    if kind == QEvent.Type.TabletPress and canvas._active is None:
        erase = (canvas.is_eraser() or event.button() == Qt.MouseButton.RightButton
                 or event.pointerType() == QPointingDevice.PointerType.Eraser)
        canvas.setFocus(Qt.FocusReason.MouseFocusReason)
        canvas._begin_stroke(event.position(), factor, erase, "tablet")
    elif kind == QEvent.Type.TabletMove and canvas._active_source == "tablet":
        canvas._extend_stroke(event.position(), factor)
    elif kind == QEvent.Type.TabletRelease and canvas._active_source == "tablet":
        canvas._finish_stroke()
    else:
        canvas.update()
    event.accept()


def handle_touch(canvas: "DrawingCanvas", event: QTouchEvent) -> bool:
    """One finger draws; extra fingers are ignored. Touchpads are left to the mouse path."""
    device = event.device()
    if device is not None and device.type() == QInputDevice.DeviceType.TouchPad:
        event.ignore()
        return False
    kind = event.type()
    if kind == QEvent.Type.TouchCancel:
        canvas._cancel_stroke()
        canvas.changed.emit()
        event.accept()
        return True
    points = event.points()
    if not points:
        event.accept()
        return True
    pos = points[0].position()
    if kind == QEvent.Type.TouchBegin and canvas._active is None:
        canvas._begin_stroke(pos, 1.0, canvas.is_eraser(), "touch")
    elif kind == QEvent.Type.TouchUpdate and canvas._active_source == "touch":
        canvas._extend_stroke(pos, 1.0)
    elif kind == QEvent.Type.TouchEnd and canvas._active_source == "touch":
        canvas._extend_stroke(pos, 1.0)
        canvas._finish_stroke()
    event.accept()
    return True
