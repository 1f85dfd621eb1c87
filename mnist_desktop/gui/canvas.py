"""The drawing canvas: a person draws a digit with mouse, pen or finger.

Why it is built this way:

* The picture lives in a fixed-resolution greyscale image (560 x 560, white ink
  on black, the MNIST convention) that is only *painted* scaled to the widget.
  What the model sees therefore never depends on the window size or the
  screen's pixel density, and a stroke drawn at any zoom means the same.
* Every edit is a step (a stroke, a clear or a loaded picture) kept in an undo
  list; the image is re-rendered from the steps, so undo and redo are exact
  and cheap to store (points, not bitmaps).
* The widget only renders and reports: ``changed`` fires on every edit (the
  owner throttles the prediction) and ``to_array()`` hands out a numpy copy.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import (
    QBuffer,
    QEvent,
    QIODevice,
    QPointF,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QIcon,
    QImage,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QTabletEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from mnist_desktop.core.fileio import atomic_write_bytes
from mnist_desktop.gui.drawing_history import (  # noqa: F401  (CANVAS_SIZE, Stroke: part of the canvas's API)
    CANVAS_SIZE,
    ClearStep,
    DrawingHistory,
    LoadStep,
    Step,
    Stroke,
    apply_step,
    fit_picture,
)
from mnist_desktop.gui.canvas_actions import canvas_action, trigger_shortcut
from mnist_desktop.gui.canvas_input import handle_tablet, handle_touch
from mnist_desktop.core.analysis.overlay import input_region
from mnist_desktop.core.data.preprocess import to_model_input
from mnist_desktop.gui.canvas_paint import paint_brush_outline, paint_grid, paint_overlay, paint_placeholder, paint_prompt
from mnist_desktop.gui.qimage_convert import heatmap_to_qimage, qimage_to_bytes, qimage_to_grey_array

DEFAULT_BRUSH_WIDTH = 36.0
"""A digit drawn across most of the canvas, shrunk to MNIST's 20-pixel box, gets a ~2 px stroke."""

MIN_BRUSH_WIDTH = 4.0
MAX_BRUSH_WIDTH = 120.0
ERASER_SCALE = 1.6
"""The eraser is wider than the pen: people erase to remove, not to sculpt."""

_MIN_POINT_DISTANCE = 1.0  # image pixels; denser mouse samples add nothing but cost


# --------------------------------------------------------------------------- the widget


class DrawingCanvas(QWidget):
    """A square drawing surface with undo/redo, eraser, grid and saliency overlay.

    Signals:
        changed: the picture changed (every pointer move while drawing, and after
            clear / undo / redo / load). Fires often; consumers throttle.
        strokeFinished: a pen-up ended a stroke (a good moment for a final,
            unthrottled prediction).
        brushWidthChanged(float): the pen width changed.

    Actions (add them to menus and toolbars; they track their enabled state):
        undo_action (Ctrl+Z), redo_action (Ctrl+Shift+Z, Ctrl+Y),
        clear_action (Esc, Delete), eraser_action (E, checkable),
        grid_action (G, checkable).
    Their shortcuts work while the canvas (or a child) has focus; a main window
    that wants them window-wide can call ``setShortcutContext(Qt.WindowShortcut)``.
    """

    changed = Signal()
    strokeFinished = Signal()
    brushWidthChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None, *, brush_width: float = DEFAULT_BRUSH_WIDTH):
        super().__init__(parent)
        self._history = DrawingHistory()
        self._image = self._history.image  # what is shown: the committed picture + the active stroke
        self._brush_width = float(np.clip(brush_width, MIN_BRUSH_WIDTH, MAX_BRUSH_WIDTH))
        self._eraser = False
        self._grid = False
        self._overlay: tuple[QImage, QRectF] | None = None
        self._placeholder = "Draw a digit here"
        self._prompt: str | None = None  # a guided session's "Draw a 3", big on the canvas
        self._grid_region: tuple[float, float, float, float] | None | bool = False  # False: not computed
        self.changed.connect(self._forget_grid_region)
        # The stroke being drawn: its points, erase flag and the button that began it.
        self._active: list[tuple[float, float, float]] | None = None
        self._active_erase = False
        self._active_source: object = None
        self._hover: QPointF | None = None

        self.setAttribute(Qt.WidgetAttribute.WA_AcceptTouchEvents, True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setMouseTracking(True)  # for the brush-size outline under the pointer
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.PreventContextMenu)  # right button erases
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setMinimumSize(280, 280)
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.setAccessibleName("Drawing canvas")
        self.setAccessibleDescription(
            "Draw a digit with the left mouse button, a pen or a finger; the right button erases."
        )
        self._create_actions()
        self._update_actions()

    # ------------------------------------------------------------------ actions

    def _create_actions(self) -> None:
        self.undo_action = canvas_action(self, "&Undo Stroke", QIcon.ThemeIcon.EditUndo,
                                         [QKeySequence("Ctrl+Z")], self.undo, "Undo the last stroke")
        self.redo_action = canvas_action(self, "&Redo Stroke", QIcon.ThemeIcon.EditRedo,
                                         [QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")], self.redo,
                                         "Redo the stroke you undid")
        self.clear_action = canvas_action(self, "&Clear Canvas", QIcon.ThemeIcon.EditClear,
                                          [QKeySequence(Qt.Key.Key_Escape), QKeySequence(Qt.Key.Key_Delete)],
                                          self.clear, "Wipe the canvas (undoable)")
        self.eraser_action = canvas_action(self, "&Eraser", None, [QKeySequence("E")], self.set_eraser,
                                           "Draw with the eraser; the right mouse button always erases")
        self.eraser_action.setCheckable(True)
        self.grid_action = canvas_action(self, "Show 28×28 &Grid", None, [QKeySequence("G")], self.set_grid_visible,
                                         "Show the model's 28×28 pixel grid over the part of the drawing it reads")
        self.grid_action.setCheckable(True)

    def _update_actions(self) -> None:
        self.undo_action.setEnabled(self.can_undo())
        self.redo_action.setEnabled(self.can_redo())
        self.clear_action.setEnabled(not self.is_empty())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Fallback for our shortcuts when the shortcut system did not see the key.

        That happens when the key event is delivered straight to the widget
        (tests, embedding in a window that is not active); a real shortcut
        consumes the key and this is never reached.
        """
        if trigger_shortcut((self.undo_action, self.redo_action, self.clear_action, self.eraser_action,
                             self.grid_action), event):
            event.accept()
            return
        super().keyPressEvent(event)

    # ------------------------------------------------------------------ geometry

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return width

    def sizeHint(self) -> QSize:
        return QSize(420, 420)

    def minimumSizeHint(self) -> QSize:
        return QSize(280, 280)

    def canvas_rect(self) -> QRectF:
        """The square, in widget coordinates, where the image is painted.

        Layouts do not always honour height-for-width, so the square is centred
        in whatever rectangle the widget gets instead of being stretched.
        """
        side = float(min(self.width(), self.height()))
        return QRectF((self.width() - side) / 2.0, (self.height() - side) / 2.0, side, side)

    def widget_to_image(self, pos: QPointF) -> QPointF:
        """A widget position in internal image pixels (may lie outside the image)."""
        rect = self.canvas_rect()
        scale = CANVAS_SIZE / max(rect.width(), 1.0)
        return QPointF((pos.x() - rect.left()) * scale, (pos.y() - rect.top()) * scale)

    # ------------------------------------------------------------------ properties

    def brush_width(self) -> float:
        """Pen width in internal image pixels (the canvas is 560 wide)."""
        return self._brush_width

    def set_brush_width(self, width: float) -> None:
        width = float(np.clip(width, MIN_BRUSH_WIDTH, MAX_BRUSH_WIDTH))
        if width != self._brush_width:
            self._brush_width = width
            self.brushWidthChanged.emit(width)
            self.update()

    def is_eraser(self) -> bool:
        return self._eraser

    def set_eraser(self, enabled: bool) -> None:
        """Make the left button / pen / finger erase (the right button always does)."""
        self._eraser = bool(enabled)
        if self.eraser_action.isChecked() != self._eraser:
            self.eraser_action.setChecked(self._eraser)
        self.update()

    def is_grid_visible(self) -> bool:
        return self._grid

    def set_prompt(self, text: str | None) -> None:
        """Show ``text`` large across the top of the canvas (a guided session's prompt); None removes it."""
        self._prompt = text or None
        self.update()

    def prompt(self) -> str | None:
        return self._prompt

    def grid_region(self) -> tuple[float, float, float, float] | None:
        """The canvas rectangle (x, y, w, h, canvas pixels) the model's 28×28 input covers now, or
        None for an empty canvas: the grid is drawn there, over what the model really reads."""
        if self._grid_region is False:
            pixels = self.to_bytes()
            model_input = None if self.is_empty() else to_model_input(pixels)
            self._grid_region = None if model_input is None else input_region(pixels, model_input)
        return self._grid_region  # type: ignore[return-value]

    def _forget_grid_region(self) -> None:
        self._grid_region = False

    def set_grid_visible(self, visible: bool) -> None:
        """Overlay the 28×28 grid the model sees; only painted, never part of the image."""
        self._grid = bool(visible)
        if self.grid_action.isChecked() != self._grid:
            self.grid_action.setChecked(self._grid)
        self.update()

    def set_overlay(self, heatmap: np.ndarray | None,
                    region: tuple[float, float, float, float] | None = None) -> None:
        """Show a saliency heatmap (any size, values in [0, 1]) in translucent red; None removes it.

        ``region`` is the (x, y, width, height) rectangle of the canvas image, in
        image pixels (0..560), that the heatmap covers; None means the whole
        canvas. A heatmap computed on the *preprocessed* 28×28 input only lines
        up with the drawing when it is mapped back through the crop and scale
        that preprocessing applied, which is what ``region`` is for.

        The overlay is not cleared when the drawing changes: its owner knows
        when a new heatmap is due and replaces or removes it.
        """
        if heatmap is None:
            self._overlay = None
        else:
            image = heatmap_to_qimage(heatmap)  # validates first
            x, y, w, h = region if region is not None else (0.0, 0.0, CANVAS_SIZE, CANVAS_SIZE)
            if not (w > 0 and h > 0):
                raise ValueError(f"overlay region must have a positive size, got {region}")
            self._overlay = (image, QRectF(float(x), float(y), float(w), float(h)))
        self.update()

    def has_overlay(self) -> bool:
        return self._overlay is not None

    # ------------------------------------------------------------------ content

    def to_array(self) -> np.ndarray:
        """The picture as float32 (560, 560) in [0, 1], ink = 1, including a stroke in progress."""
        return qimage_to_grey_array(self._image)

    def to_bytes(self) -> np.ndarray:
        """The picture as its uint8 (560, 560) pixels, ink = 255: the cheapest input for
        ``to_model_input``, which finds the ink on the bytes (same result as :meth:`to_array`)."""
        return qimage_to_bytes(self._image)

    def to_qimage(self) -> QImage:
        """A copy of the picture as a Grayscale8 QImage."""
        return self._image.copy()

    def is_empty(self) -> bool:
        """True when no pixel is brighter than :data:`EMPTY_THRESHOLD`."""
        if self._active is not None and not self._active_erase:
            return False
        return self._history.empty

    def can_undo(self) -> bool:
        return self._history.can_undo() or self._active is not None

    def can_redo(self) -> bool:
        return self._history.can_redo()

    def strokes(self) -> list[Stroke]:
        """The strokes drawn since the last clear or load (for tests and re-rendering)."""
        return self._history.strokes()

    def add_stroke(self, points: Sequence[tuple[float, float]], *, width: float | None = None,
                   erase: bool = False) -> None:
        """Draw a stroke programmatically (image pixels), as one undoable step."""
        self._finish_stroke(emit=False)
        stroke = Stroke(tuple((float(x), float(y), 1.0) for x, y in points),
                        float(width if width is not None else self._brush_width), bool(erase))
        if stroke.points:
            self._push(stroke)
            self.changed.emit()

    def clear(self) -> None:
        """Wipe the canvas. Undoable; does nothing to the history if it is already empty."""
        self._cancel_stroke()
        if not self._history.empty:
            self._push(ClearStep())
        self.changed.emit()

    def load_image(self, image: np.ndarray) -> None:
        """Put a picture (grey float (H, W) in [0, 1], ink = 1) on the canvas, fitted and centred.

        It is one undoable step that covers everything drawn before; strokes
        drawn afterwards go on top of it, so a person can touch up a loaded digit.
        """
        picture = fit_picture(image)  # validates before anything changes
        self._cancel_stroke()
        self._push(LoadStep(picture))
        self.changed.emit()

    def save_png(self, path: str | os.PathLike) -> None:
        """Write the picture at full resolution (white ink on black) as PNG, atomically."""
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        if not self._image.save(buffer, "PNG"):
            raise OSError(f"could not encode the drawing as PNG for {os.fspath(path)}")
        atomic_write_bytes(path, bytes(buffer.data()))

    def undo(self) -> None:
        """Take back the last step (a stroke in progress counts as one)."""
        self._finish_stroke(emit=False)
        if self._history.undo():
            self._after_commit()
            self.changed.emit()

    def redo(self) -> None:
        """Re-apply the last undone step."""
        self._finish_stroke(emit=False)
        if self._history.redo():
            self._after_commit()
            self.changed.emit()

    def _push(self, step: Step) -> None:
        self._history.push(step)
        self._after_commit()

    def _after_commit(self) -> None:
        self._image = self._history.image
        self._update_actions()
        self.update()

    # ------------------------------------------------------------------ stroke internals

    def _begin_stroke(self, pos: QPointF, factor: float, erase: bool, source: object) -> None:
        point = self.widget_to_image(pos)
        self._active = [(point.x(), point.y(), factor)]
        self._active_erase = erase
        self._active_source = source
        self._render_active()

    def _extend_stroke(self, pos: QPointF, factor: float) -> None:
        assert self._active is not None
        point = self.widget_to_image(pos)
        last = self._active[-1]
        if math.hypot(point.x() - last[0], point.y() - last[1]) < _MIN_POINT_DISTANCE:
            return
        self._active.append((point.x(), point.y(), factor))
        self._render_active()

    def _active_stroke(self) -> Stroke:
        assert self._active is not None
        scale = ERASER_SCALE if self._active_erase else 1.0
        return Stroke(tuple(self._active), self._brush_width * scale, self._active_erase)

    def _render_active(self) -> None:
        image = self._history.image.copy()
        apply_step(image, self._active_stroke())
        self._image = image
        self._update_actions()
        self.update()
        self.changed.emit()

    def _finish_stroke(self, *, emit: bool = True) -> None:
        if self._active is None:
            return
        stroke = self._active_stroke()
        self._active = None
        self._active_source = None
        self._push(stroke)
        if emit:
            self.strokeFinished.emit()

    def _cancel_stroke(self) -> None:
        """Drop a stroke in progress (touch cancelled, canvas cleared or reloaded mid-stroke)."""
        if self._active is None:
            return
        self._active = None
        self._active_source = None
        self._image = self._history.image
        self._update_actions()
        self.update()

    # ------------------------------------------------------------------ input: mouse

    def mousePressEvent(self, event: QMouseEvent) -> None:
        button = event.button()
        if self._active is not None:  # a second button during a stroke: ignore it
            event.accept()
            return
        if button == Qt.MouseButton.LeftButton:
            erase = self._eraser
        elif button == Qt.MouseButton.RightButton:
            erase = True
        else:
            super().mousePressEvent(event)
            return
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        self._hover = event.position()
        self._begin_stroke(event.position(), 1.0, erase, button)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._hover = event.position()
        if self._active is not None and self._active_source in (Qt.MouseButton.LeftButton,
                                                                Qt.MouseButton.RightButton):
            self._extend_stroke(event.position(), 1.0)
        else:
            self.update()  # move the brush outline
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._active is not None and event.button() == self._active_source:
            self._extend_stroke(event.position(), 1.0)
            self._finish_stroke()
        event.accept()

    def leaveEvent(self, event: QEvent) -> None:
        self._hover = None
        self.update()
        super().leaveEvent(event)

    # ------------------------------------------------------------------ input: pen and touch

    def tabletEvent(self, event: QTabletEvent) -> None:
        handle_tablet(self, event)

    def event(self, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.TouchBegin, QEvent.Type.TouchUpdate, QEvent.Type.TouchEnd,
                    QEvent.Type.TouchCancel):
            return handle_touch(self, event)  # type: ignore[arg-type]
        return super().event(event)

    # ------------------------------------------------------------------ painting

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            painter.fillRect(self.rect(), self.palette().window())
            rect = self.canvas_rect()
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(rect, self._image)
            if self._overlay is not None:
                paint_overlay(painter, rect, *self._overlay)
            if self._grid:
                paint_grid(painter, rect, self.grid_region())
            if self.is_empty() and self._placeholder and not self._prompt:
                paint_placeholder(painter, rect, self._placeholder)
            if self._prompt:
                paint_prompt(painter, rect, self._prompt)
            if self._hover is not None:
                erasing = self._active_erase if self._active is not None else self._eraser
                paint_brush_outline(painter, rect, self._hover, self._brush_width * (ERASER_SCALE if erasing else 1.0),
                                    erasing)
            frame = self.palette().highlight().color() if self.hasFocus() else QColor(90, 90, 90)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            painter.setPen(QPen(frame, 1))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(rect.adjusted(0, 0, -1, -1))
        finally:
            painter.end()
