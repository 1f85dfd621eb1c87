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
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import (
    Property,
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
    QAction,
    QColor,
    QIcon,
    QImage,
    QInputDevice,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPointingDevice,
    QTabletEvent,
    QTouchEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from mnist_desktop.core.fileio import atomic_write_bytes

CANVAS_SIZE = 560
"""Side of the internal image in pixels: 20 x MNIST's 28, so grid cells are whole pixels."""

GRID_CELLS = 28
DEFAULT_BRUSH_WIDTH = 36.0
"""A digit drawn across most of the canvas, shrunk to MNIST's 20-pixel box, gets a ~2 px stroke."""

MIN_BRUSH_WIDTH = 4.0
MAX_BRUSH_WIDTH = 120.0
ERASER_SCALE = 1.6
"""The eraser is wider than the pen: people erase to remove, not to sculpt."""

MAX_UNDO_STEPS = 500
"""Older steps are baked into the base image, so memory stays bounded."""

EMPTY_THRESHOLD = 0.1
"""Anti-aliased crumbs left by the eraser below this intensity do not count as ink."""

_MIN_POINT_DISTANCE = 1.0  # image pixels; denser mouse samples add nothing but cost
_INK = QColor(255, 255, 255)
_PAPER = QColor(0, 0, 0)


# --------------------------------------------------------------------------- numpy <-> QImage


def grey_array_to_qimage(array: np.ndarray) -> QImage:
    """A (H, W) float array in [0, 1] as a Grayscale8 QImage that owns its pixels.

    NaN and out-of-range values are clamped instead of raising: a picture that
    came from a file or a model should still show something.
    """
    values = np.asarray(array, dtype=np.float32)
    if values.ndim == 3 and values.shape[-1] == 1:
        values = values[..., 0]
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"expected a 2-D greyscale array, got shape {values.shape}")
    values = np.nan_to_num(values, nan=0.0, posinf=1.0, neginf=0.0)
    data = np.ascontiguousarray(np.clip(values, 0.0, 1.0) * 255.0 + 0.5, dtype=np.uint8)
    height, width = data.shape
    # .copy() detaches the QImage from the numpy buffer, which may be freed next line.
    return QImage(data.data, width, height, width, QImage.Format.Format_Grayscale8).copy()


def qimage_to_bytes(image: QImage) -> np.ndarray:
    """A QImage as a uint8 (H, W) grey array (a copy)."""
    if image.format() != QImage.Format.Format_Grayscale8:
        image = image.convertToFormat(QImage.Format.Format_Grayscale8)
    height, width, stride = image.height(), image.width(), image.bytesPerLine()
    raw = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * height)
    return raw.reshape(height, stride)[:, :width].copy()


def qimage_to_grey_array(image: QImage) -> np.ndarray:
    """A Grayscale8 QImage as a float32 (H, W) array in [0, 1] (a copy)."""
    return qimage_to_bytes(image).astype(np.float32) / 255.0


def heatmap_to_qimage(heatmap: np.ndarray, colour: QColor | None = None, max_alpha: float = 0.6) -> QImage:
    """A (H, W) heatmap in [0, 1] as a colour image whose opacity is the heat.

    Transparency (not a colour ramp) keeps the ink underneath readable, which is
    the point of a saliency overlay: *where* on the digit the model looked.
    """
    values = np.asarray(heatmap, dtype=np.float32)
    if values.ndim == 3 and values.shape[-1] == 1:
        values = values[..., 0]
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"expected a 2-D heatmap, got shape {values.shape}")
    values = np.clip(np.nan_to_num(values, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
    colour = colour or QColor(255, 48, 48)
    height, width = values.shape
    rgba = np.empty((height, width, 4), dtype=np.uint8)
    rgba[..., 0] = colour.red()
    rgba[..., 1] = colour.green()
    rgba[..., 2] = colour.blue()
    rgba[..., 3] = (values * (255.0 * max_alpha) + 0.5).astype(np.uint8)
    rgba = np.ascontiguousarray(rgba)
    return QImage(rgba.data, width, height, width * 4, QImage.Format.Format_RGBA8888).copy()


# --------------------------------------------------------------------------- edit steps


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
class _ClearStep:
    """Wipes the image; undoable, because Esc is easy to hit by accident."""


@dataclass(frozen=True)
class _LoadStep:
    """Replaces the image with a picture already fitted to the canvas."""

    image: QImage


_Step = Stroke | _ClearStep | _LoadStep


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


def _blank_image() -> QImage:
    image = QImage(CANVAS_SIZE, CANVAS_SIZE, QImage.Format.Format_Grayscale8)
    image.fill(0)
    return image


def _apply_step(image: QImage, step: _Step) -> None:
    """Render one step onto ``image`` in place."""
    if isinstance(step, _ClearStep):
        image.fill(0)
        return
    painter = QPainter(image)
    try:
        if isinstance(step, _LoadStep):
            painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
            painter.drawImage(0, 0, step.image)
        else:
            paint_stroke(painter, step)
    finally:
        painter.end()


def _fit_picture(array: np.ndarray) -> QImage:
    """Scale a picture to fit the canvas (aspect kept, smooth) and centre it on black."""
    picture = grey_array_to_qimage(array).scaled(
        CANVAS_SIZE, CANVAS_SIZE, Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )
    canvas = _blank_image()
    painter = QPainter(canvas)
    try:
        painter.drawImage((CANVAS_SIZE - picture.width()) // 2, (CANVAS_SIZE - picture.height()) // 2, picture)
    finally:
        painter.end()
    return canvas


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
        self._base = _blank_image()        # state before _steps[0] (older steps baked in)
        self._steps: list[_Step] = []      # undo history, oldest first
        self._redo: list[_Step] = []
        self._committed = _blank_image()   # _base + all steps
        self._image = self._committed      # what is shown: committed + the active stroke
        self._empty = True
        self._brush_width = float(np.clip(brush_width, MIN_BRUSH_WIDTH, MAX_BRUSH_WIDTH))
        self._eraser = False
        self._grid = False
        self._overlay: tuple[QImage, QRectF] | None = None
        self._placeholder = "Draw a digit here"
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
        def make(text: str, theme: QIcon.ThemeIcon | None, keys: Sequence[QKeySequence], slot,
                 tip: str) -> QAction:
            action = QAction(text, self)
            if theme is not None:
                action.setIcon(QIcon.fromTheme(theme))
            action.setShortcuts(list(keys))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut_text = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in keys)
            action.setToolTip(f"{tip} ({shortcut_text})")
            action.setStatusTip(tip)
            action.triggered.connect(slot)
            self.addAction(action)
            return action

        self.undo_action = make("&Undo Stroke", QIcon.ThemeIcon.EditUndo,
                                [QKeySequence("Ctrl+Z")], self.undo, "Undo the last stroke")
        self.redo_action = make("&Redo Stroke", QIcon.ThemeIcon.EditRedo,
                                [QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")], self.redo,
                                "Redo the stroke you undid")
        self.clear_action = make("&Clear Canvas", QIcon.ThemeIcon.EditClear,
                                 [QKeySequence(Qt.Key.Key_Escape), QKeySequence(Qt.Key.Key_Delete)],
                                 self.clear, "Wipe the canvas (undoable)")
        self.eraser_action = make("&Eraser", None, [QKeySequence("E")], self.set_eraser,
                                  "Draw with the eraser; the right mouse button always erases")
        self.eraser_action.setCheckable(True)
        self.grid_action = make("Show 28×28 &Grid", None, [QKeySequence("G")], self.set_grid_visible,
                                "Show the model's 28×28 pixel grid over the canvas")
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
        pressed = QKeySequence(event.keyCombination())
        for action in (self.undo_action, self.redo_action, self.clear_action, self.eraser_action,
                       self.grid_action):
            if action.isEnabled() and any(
                seq.matches(pressed) == QKeySequence.SequenceMatch.ExactMatch for seq in action.shortcuts()
            ):
                action.trigger()
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

    def image_to_widget(self, pos: QPointF) -> QPointF:
        """Internal image pixels to a widget position (inverse of :meth:`widget_to_image`)."""
        rect = self.canvas_rect()
        scale = rect.width() / CANVAS_SIZE
        return QPointF(rect.left() + pos.x() * scale, rect.top() + pos.y() * scale)

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

    brushWidth = Property(float, brush_width, set_brush_width, notify=brushWidthChanged)

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

    def set_placeholder_text(self, text: str) -> None:
        """The hint painted on an empty canvas (e.g. "Draw a piece of clothing")."""
        self._placeholder = text
        self.update()

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
        return self._empty

    def can_undo(self) -> bool:
        return bool(self._steps) or self._active is not None

    def can_redo(self) -> bool:
        return bool(self._redo)

    def strokes(self) -> list[Stroke]:
        """The strokes drawn since the last clear or load (for tests and re-rendering)."""
        tail: list[Stroke] = []
        for step in reversed(self._steps):
            if not isinstance(step, Stroke):
                break
            tail.append(step)
        return tail[::-1]

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
        if not self._empty:
            self._push(_ClearStep())
        self.changed.emit()

    def load_image(self, image: np.ndarray) -> None:
        """Put a picture (grey float (H, W) in [0, 1], ink = 1) on the canvas, fitted and centred.

        It is one undoable step that covers everything drawn before; strokes
        drawn afterwards go on top of it, so a person can touch up a loaded digit.
        """
        picture = _fit_picture(image)  # validates before anything changes
        self._cancel_stroke()
        self._push(_LoadStep(picture))
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
        if not self._steps:
            return
        self._redo.append(self._steps.pop())
        self._rebuild()
        self.changed.emit()

    def redo(self) -> None:
        """Re-apply the last undone step."""
        self._finish_stroke(emit=False)
        if not self._redo:
            return
        step = self._redo.pop()
        self._steps.append(step)
        _apply_step(self._committed, step)
        self._after_commit()
        self.changed.emit()

    # ------------------------------------------------------------------ history internals

    def _push(self, step: _Step) -> None:
        self._steps.append(step)
        self._redo.clear()
        if len(self._steps) > MAX_UNDO_STEPS:
            _apply_step(self._base, self._steps.pop(0))
        _apply_step(self._committed, step)
        self._after_commit()

    def _rebuild(self) -> None:
        """Re-render from the last clear/load (everything before it is covered anyway)."""
        start = 0
        for index in range(len(self._steps) - 1, -1, -1):
            if not isinstance(self._steps[index], Stroke):
                start = index
                break
        image = self._base.copy()
        for step in self._steps[start:]:
            _apply_step(image, step)
        self._committed = image
        self._after_commit()

    def _after_commit(self) -> None:
        self._image = self._committed
        self._empty = bool(qimage_to_bytes(self._committed).max() <= EMPTY_THRESHOLD * 255)
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
        image = self._committed.copy()
        _apply_step(image, self._active_stroke())
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
        self._image = self._committed
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
        """Pen input: pressure thins the stroke a little (70-100 % of the width).

        Accepting the event stops Qt from also synthesising mouse events.
        """
        factor = 0.7 + 0.3 * min(max(event.pressure(), 0.0), 1.0)
        kind = event.type()
        self._hover = event.position()
        if kind == QEvent.Type.TabletPress and self._active is None:
            erase = (self._eraser or event.button() == Qt.MouseButton.RightButton
                     or event.pointerType() == QPointingDevice.PointerType.Eraser)
            self.setFocus(Qt.FocusReason.MouseFocusReason)
            self._begin_stroke(event.position(), factor, erase, "tablet")
        elif kind == QEvent.Type.TabletMove and self._active_source == "tablet":
            self._extend_stroke(event.position(), factor)
        elif kind == QEvent.Type.TabletRelease and self._active_source == "tablet":
            self._finish_stroke()
        else:
            self.update()
        event.accept()

    def event(self, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.TouchBegin, QEvent.Type.TouchUpdate, QEvent.Type.TouchEnd,
                    QEvent.Type.TouchCancel):
            return self._touch_event(event)  # type: ignore[arg-type]
        return super().event(event)

    def _touch_event(self, event: QTouchEvent) -> bool:
        """One finger draws; extra fingers are ignored. Touchpads are left to the mouse path."""
        device = event.device()
        if device is not None and device.type() == QInputDevice.DeviceType.TouchPad:
            event.ignore()
            return False
        kind = event.type()
        if kind == QEvent.Type.TouchCancel:
            self._cancel_stroke()
            self.changed.emit()
            event.accept()
            return True
        points = event.points()
        if not points:
            event.accept()
            return True
        pos = points[0].position()
        if kind == QEvent.Type.TouchBegin and self._active is None:
            self._begin_stroke(pos, 1.0, self._eraser, "touch")
        elif kind == QEvent.Type.TouchUpdate and self._active_source == "touch":
            self._extend_stroke(pos, 1.0)
        elif kind == QEvent.Type.TouchEnd and self._active_source == "touch":
            self._extend_stroke(pos, 1.0)
            self._finish_stroke()
        event.accept()
        return True

    # ------------------------------------------------------------------ painting

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            painter.fillRect(self.rect(), self.palette().window())
            rect = self.canvas_rect()
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(rect, self._image)
            if self._overlay is not None:
                # Smoothly scaled: on the smooth drawing a glow reads better than
                # blocks (ModelInputView shows the exact pixels).
                overlay, region = self._overlay
                scale = rect.width() / CANVAS_SIZE
                target = QRectF(rect.left() + region.left() * scale, rect.top() + region.top() * scale,
                                region.width() * scale, region.height() * scale)
                painter.save()
                painter.setClipRect(rect)
                painter.drawImage(target, overlay)
                painter.restore()
            if self._grid:
                self._paint_grid(painter, rect)
            if self.is_empty() and self._placeholder:
                self._paint_placeholder(painter, rect)
            self._paint_brush_outline(painter, rect)
            frame = self.palette().highlight().color() if self.hasFocus() else QColor(90, 90, 90)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            painter.setPen(QPen(frame, 1))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(rect.adjusted(0, 0, -1, -1))
        finally:
            painter.end()

    def _paint_grid(self, painter: QPainter, rect: QRectF) -> None:
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

    def _paint_placeholder(self, painter: QPainter, rect: QRectF) -> None:
        font = painter.font()
        font.setPixelSize(max(12, int(rect.width() / 18)))
        painter.setFont(font)
        painter.setPen(QColor(255, 255, 255, 90))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self._placeholder)

    def _paint_brush_outline(self, painter: QPainter, rect: QRectF) -> None:
        if self._hover is None or not rect.contains(self._hover):
            return
        erasing = self._active_erase if self._active is not None else self._eraser
        width = self._brush_width * (ERASER_SCALE if erasing else 1.0)
        radius = width * rect.width() / CANVAS_SIZE / 2.0
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        colour = QColor(255, 140, 60, 200) if erasing else QColor(255, 255, 255, 130)
        painter.setPen(QPen(colour, 1, Qt.PenStyle.DashLine if erasing else Qt.PenStyle.SolidLine))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(self._hover, radius, radius)
