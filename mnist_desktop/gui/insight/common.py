"""Shared pieces of the "look inside" views: colour maps, PNG export, tile and matrix views.

Every insight view is an :class:`InsightPanel`: one line at the top that says
what the person is looking at, an "Export PNG…" button, and a body. Pictures are
pyqtgraph items (fast to update many times a second while someone draws or a
model trains); their colours follow two rules:

* weights and logits are signed: a diverging map, blue < 0 < red, white at 0,
  always on a scale symmetric around 0 so the colour of 0 never moves;
* activations, saliency and mean images are non-negative: a sequential map
  where dark means "nothing".
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QBuffer, QEvent, QIODevice, QObject, QPointF, QRect, QRectF, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QFont, QIcon, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QMessageBox,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mnist_desktop.core.fileio import atomic_write_bytes
from mnist_desktop.core.analysis.weights import best_columns, fit_scale, mosaic, tile_at, tile_origin
from mnist_desktop.gui.canvas import grey_array_to_qimage
from mnist_desktop.gui.insight.adaptive_splitter import AdaptiveSplitter  # noqa: F401 - the views' import

if TYPE_CHECKING:
    from mnist_desktop.gui.main_window import MainWindow

REFLOW_GAIN = 1.08  # a mosaic re-flows on resize only when its tiles get at least 8 % larger

# --------------------------------------------------------------------------- colours


@functools.cache
def diverging_cmap() -> pg.ColorMap:
    """Blue (negative) – white (0) – red (positive), ColorBrewer RdBu reversed.

    Perceptually even on both sides, so equal |w| looks equally strong in red
    and in blue, and readable by people with red-green colour blindness.
    """
    stops = [0.0, 0.15, 0.3, 0.5, 0.7, 0.85, 1.0]
    colours = ["#053061", "#2166ac", "#6baed6", "#f7f7f7", "#f4a582", "#d6604d", "#67001f"]
    return pg.ColorMap(stops, [QColor(c) for c in colours], name="blue-white-red")


@functools.cache
def sequential_cmap() -> pg.ColorMap:
    """Black → purple → orange → yellow ("inferno"): dark = inactive, bright = active."""
    return pg.colormap.get("inferno")


@functools.cache
def grey_cmap() -> pg.ColorMap:
    """Black → white, for pictures of digits (MNIST's white ink on black)."""
    return pg.ColorMap([0.0, 1.0], [QColor(0, 0, 0), QColor(255, 255, 255)], name="grey")


def text_colour(widget: QWidget) -> QColor:
    return widget.palette().color(QPalette.ColorRole.WindowText)


def panel_background(widget: QWidget) -> QColor:
    """A mid grey a little darker than the window, so white tiles keep their edges."""
    window = widget.palette().color(QPalette.ColorRole.Window)
    return window.darker(118) if window.lightness() > 128 else window.lighter(135)


# --------------------------------------------------------------------------- export


def widget_png_bytes(widget: QWidget) -> bytes:
    """The widget as it looks now, encoded as PNG."""
    image = widget.grab().toImage()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise OSError("could not encode the view as PNG")
    return bytes(buffer.data())


def save_widget_png(widget: QWidget, path: str | Path) -> Path:
    """Write a screenshot of ``widget`` to ``path`` atomically (old file intact on failure)."""
    atomic_write_bytes(path, widget_png_bytes(widget))
    return Path(path)


def digit_pixmap(image: np.ndarray, side: int = 56) -> QPixmap:
    """A 28×28 digit (uint8 or float in [0, 1]) as a crisp, pixel-doubled pixmap."""
    array = np.asarray(image)
    values = array.astype(np.float32) / 255.0 if array.dtype == np.uint8 else array.astype(np.float32)
    qimage = grey_array_to_qimage(values).scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                                 Qt.TransformationMode.FastTransformation)
    return QPixmap.fromImage(qimage)


def thumbnail_grid(icon_side: int, cell: QSize) -> QListWidget:
    """A static, wrapping grid of digit thumbnails (galleries, dataset browser)."""
    grid = QListWidget()
    grid.setViewMode(QListView.ViewMode.IconMode)
    grid.setIconSize(QSize(icon_side, icon_side))
    grid.setGridSize(cell)
    grid.setResizeMode(QListView.ResizeMode.Adjust)
    grid.setMovement(QListView.Movement.Static)
    grid.setUniformItemSizes(True)
    return grid


def digit_icon(image: np.ndarray, side: int = 56) -> QIcon:
    return QIcon(digit_pixmap(image, side))


# --------------------------------------------------------------------------- panel


class InsightPanel(QWidget):
    """A view with an explanation line on top, an "Export PNG…" button and a body.

    Subclasses put their widgets into ``self.body`` (a QVBoxLayout). The
    explanation is a sentence for a person, not a caption: what the picture is
    and how to read its colours.
    """

    export_name = "view"

    def __init__(self, explanation: str, parent: QWidget | None = None):
        super().__init__(parent)
        self._on_screen = False
        self._dock: QDockWidget | None = None
        self.explanation = QLabel(explanation)
        self.explanation.setWordWrap(True)
        self.explanation.setTextFormat(Qt.TextFormat.PlainText)
        # Fixed at its height for its current width (see eventFilter): a short dock squeezes
        # the pictures, never the sentence that explains them, and adds no padding around it
        self.explanation.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.explanation.installEventFilter(self)
        self.export_button = QToolButton()
        self.export_button.setText("Export PNG…")
        self.export_button.setToolTip("Save this view as a PNG picture")
        self.export_button.clicked.connect(self.export_dialog)
        self.export_action = QAction("Export View as PNG…", self)
        self.export_action.triggered.connect(self.export_dialog)
        self.addAction(self.export_action)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(self.explanation, 1)
        header.addWidget(self.export_button, 0, Qt.AlignmentFlag.AlignTop)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.setSpacing(6)
        outer.addLayout(header)
        self.body = QVBoxLayout()
        self.body.setContentsMargins(0, 0, 0, 0)
        self.body.setSpacing(6)
        outer.addLayout(self.body, 1)

    def set_explanation(self, text: str) -> None:
        self.explanation.setText(text)
        self._fit_explanation()

    def _fit_explanation(self) -> None:
        # Dock layouts do not honour a word-wrapped label's height-for-width; do it by hand.
        # (QLabel.heightForWidth is clamped to the fixed height set last time, so measure the text.)
        label = self.explanation
        margins = label.contentsMargins()
        width = max(label.width() - margins.left() - margins.right() - 2 * label.margin(), 50)
        text = label.fontMetrics().boundingRect(QRect(0, 0, width, 10_000), Qt.TextFlag.TextWordWrap, label.text())
        height = text.height() + margins.top() + margins.bottom() + 2 * label.margin()
        if height != label.height():
            label.setFixedHeight(height)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.explanation and event.type() == QEvent.Type.Resize:
            self._fit_explanation()
        return super().eventFilter(watched, event)

    # -- on screen or not --------------------------------------------------------
    # Qt 6 keeps the docks of unselected tabs "visible" (just moved out of sight), so
    # show/hide events cannot tell whether a person can see a view. The dock's
    # visibilityChanged can; views that cost work (analysis, live weights) use this.
    def is_on_screen(self) -> bool:
        return self._on_screen

    def on_screen_changed(self, on_screen: bool) -> None:
        """Override: the view became visible to the person (True) or stopped being (False)."""

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._dock is None:
            parent = self.parentWidget()
            while parent is not None and not isinstance(parent, QDockWidget):
                parent = parent.parentWidget()
            if parent is not None:
                self._dock = parent
                parent.visibilityChanged.connect(self._on_dock_visibility)
        QTimer.singleShot(0, self, self._recheck_on_screen)  # after the dock layout has settled

    def hideEvent(self, event: Any) -> None:
        super().hideEvent(event)
        self._set_on_screen(False)

    def _on_dock_visibility(self, visible: bool) -> None:
        self._set_on_screen(visible and self.isVisible())

    def _recheck_on_screen(self) -> None:
        self._set_on_screen(self.isVisible() and not self.visibleRegion().isEmpty())

    def _set_on_screen(self, on_screen: bool) -> None:
        if on_screen != self._on_screen:
            self._on_screen = on_screen
            self.on_screen_changed(on_screen)

    # -- export ------------------------------------------------------------------
    def export_png(self, path: str | Path) -> Path:
        """Save the whole panel (explanation included, so the picture explains itself)."""
        return save_widget_png(self, path)

    def export_dialog(self) -> None:
        settings = QSettings()
        folder = Path(str(settings.value("dirs/export", str(Path.home()))))
        path, _ = QFileDialog.getSaveFileName(self, "Export view as PNG", str(folder / f"{self.export_name}.png"),
                                              "PNG image (*.png)")
        if not path:
            return
        if not path.lower().endswith(".png"):
            path += ".png"
        try:
            self.export_png(path)
        except OSError as err:
            QMessageBox.warning(self, "Could not export view", f"{path}: {err.strerror or err}")
            return
        settings.setValue("dirs/export", str(Path(path).parent))


# --------------------------------------------------------------------------- tile grid


def _style_axis(axis: pg.AxisItem, colour: QColor) -> None:
    axis.setPen(pg.mkPen(colour))
    axis.setTextPen(pg.mkPen(colour))


def make_static(plot: pg.PlotItem | pg.PlotWidget, colour: QColor) -> None:
    """A plot to look at, not to explore: themed axes, no context menu, pan/zoom or buttons."""
    for name in ("left", "bottom"):
        _style_axis(plot.getAxis(name), colour)
    plot.setMenuEnabled(False)
    plot.setMouseEnabled(False, False)
    plot.hideButtons()


class MosaicView(pg.GraphicsLayoutWidget):
    """Many same-sized tiles as one image, with optional labels and colour bar.

    One ImageItem holds the whole grid (gaps are NaN = transparent), so even
    300 tiles redraw in one go. With ``columns=None`` the grid re-flows to make
    the tiles as large as the widget allows (wide dock: one long row; narrow
    dock: a column). ``tileClicked(index)`` reports clicks.
    """

    tileClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None, *, colorbar: bool = False, label_points: float = 8.5):
        super().__init__(parent)
        self.setBackground(panel_background(self))
        self.ci.setContentsMargins(2, 2, 2, 2)
        self.view = self.addViewBox(row=0, col=0)
        self.view.setAspectLocked(True)
        self.view.invertY(True)
        self.view.setMouseEnabled(False, False)
        self.view.setMenuEnabled(False)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image_item)
        self.colorbar: pg.ColorBarItem | None = None
        if colorbar:
            pen = pg.mkPen(text_colour(self))
            self.colorbar = pg.ColorBarItem(values=(-1, 1), colorMap=diverging_cmap(), interactive=False,
                                            width=14, pen=pen, colorMapMenu=False)
            _style_axis(self.colorbar.getAxis("right"), text_colour(self))
            self.colorbar.setImageItem(self.image_item)
            self.addItem(self.colorbar, row=0, col=1)
        self._labels: list[pg.TextItem] = []
        self._label_texts: tuple[str, ...] = ()
        self._label_font = QFont(self.font())
        self._label_font.setPointSizeF(label_points)
        self._selection = QGraphicsRectItem()
        self._selection.setPen(pg.mkPen(QColor(255, 190, 0), width=2.5, cosmetic=True))
        self._selection.setVisible(False)
        self._selection.setZValue(10)
        self.view.addItem(self._selection)
        self._selected: int | None = None
        self._tiles = np.zeros((0, 1, 1), np.float32)
        self._rgba: np.ndarray | None = None
        self._columns = 1
        self._auto_columns = False
        self._gap: tuple[int, int] = (1, 1)
        self._layout_key: tuple | None = None
        self.scene().sigMouseClicked.connect(self._on_click)
        self.setMinimumSize(100, 80)
        self._reflow = QTimer(self, singleShot=True, interval=0)
        self._reflow.timeout.connect(self._reflow_now)

    # -- content ---------------------------------------------------------------
    def set_tiles(self, tiles: np.ndarray, columns: int | None, levels: tuple[float, float],
                  cmap: pg.ColorMap | None = None, labels: Sequence[str] | None = None,
                  gap: int | None = None) -> None:
        """Show ``(n, h, w)`` tiles on the colour scale ``levels``; ``columns=None`` fits them to the widget."""
        tiles = np.asarray(tiles, np.float32)
        n, h, w = tiles.shape
        gx = gap if gap is not None else max(1, round(0.12 * w))
        gy = gx + (max(2, math.ceil(0.45 * h)) if labels else 0)
        self._tiles, self._rgba, self._gap = tiles, None, (gy, gx)
        self._label_texts = tuple(str(t) for t in labels) if labels else ()
        self._auto_columns = columns is None
        self._columns = self._fitted_columns() if columns is None else max(1, min(columns, max(n, 1)))
        cmap = cmap or diverging_cmap()
        self.image_item.setLookupTable(cmap.getLookupTable(nPts=256))
        self._levels = levels
        if self.colorbar is not None:
            self.colorbar.setColorMap(cmap)
        self._render()

    def set_rgba(self, rgba: np.ndarray) -> None:
        """Show one colour picture (h, w, 4) uint8, e.g. a digit blended with its saliency."""
        rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
        h, w = rgba.shape[:2]
        self._tiles, self._rgba, self._columns, self._gap = np.zeros((1, h, w), np.float32), rgba, 1, (1, 1)
        self._label_texts, self._auto_columns = (), False
        self.image_item.setLookupTable(None)
        self._render()

    def clear(self) -> None:
        """Show nothing (keeps the layout)."""
        self.image_item.clear()
        self.select(None)

    def _fit_area(self) -> tuple[int, int]:
        reserved = 60 if self.colorbar is not None else 0
        return max(self.width() - reserved, 40), max(self.height(), 40)

    def _fitted_columns(self) -> int:
        return best_columns(len(self._tiles), self._tiles.shape[1:], self._fit_area(), self._gap)

    def _render(self) -> None:
        n, h, w = self._tiles.shape
        gy, gx = self._gap
        if self._rgba is not None:
            self.image_item.setImage(self._rgba, levels=(0, 255), autoLevels=False)
            height, width = self._rgba.shape[:2]
        else:
            image = mosaic(self._tiles, self._columns, self._gap)
            self.image_item.setImage(image, levels=self._levels, autoLevels=False)
            if self.colorbar is not None:
                self.colorbar.setLevels(self._levels)
            height, width = image.shape
        key = (n, h, w, self._columns, gy, gx, self._label_texts, self._rgba is None)
        if key != self._layout_key:
            self._layout_key = key
            self._place_labels((h, w))
            extra = gy - gx if self._label_texts else 0
            self.view.setRange(QRectF(0, 0, width, height + extra), padding=0.02)
            self.select(self._selected)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        # (pyqtgraph calls this from its own __init__, before our attributes exist.) Re-flow on the
        # event loop, not inside the resize, and coalesced: a drag of a dock's edge re-flows once
        reflow = getattr(self, "_reflow", None)
        if reflow is not None and self._auto_columns and len(self._tiles):
            reflow.start()

    def _reflow_now(self) -> None:
        """Re-flow to the best column count, but only for a clear gain (≥ REFLOW_GAIN larger tiles):
        near a tie the layout would otherwise flip back and forth as neighbours adjust."""
        if not (self._auto_columns and len(self._tiles)):
            return
        columns = self._fitted_columns()
        if columns == self._columns:
            return
        area, shape = self._fit_area(), self._tiles.shape[1:]
        gain = (fit_scale(len(self._tiles), shape, area, columns, self._gap)
                / max(fit_scale(len(self._tiles), shape, area, self._columns, self._gap), 1e-9))
        if gain >= REFLOW_GAIN:
            self._columns = columns
            self._render()

    def _place_labels(self, shape: tuple[int, int]) -> None:
        for item in self._labels:
            self.view.removeItem(item)
        self._labels = []
        colour = text_colour(self)
        for index, text in enumerate(self._label_texts):
            x, y = tile_origin(index, shape, self._columns, self._gap)
            item = pg.TextItem(text, color=colour, anchor=(0.5, 0.0))
            item.setFont(self._label_font)
            item.setPos(x + shape[1] / 2, y + shape[0])
            self.view.addItem(item)
            self._labels.append(item)

    def select(self, index: int | None) -> None:
        """Outline tile ``index`` (None removes the outline)."""
        self._selected = index
        if index is None or not 0 <= index < len(self._tiles):
            self._selection.setVisible(False)
            return
        h, w = self._tiles.shape[1:]
        x, y = tile_origin(index, (h, w), self._columns, self._gap)
        self._selection.setRect(QRectF(x - 0.5, y - 0.5, w + 1, h + 1))
        self._selection.setVisible(True)

    # -- read back (tests, tooltips) ------------------------------------------
    def tiles(self) -> np.ndarray:
        return self._tiles.copy()

    def columns(self) -> int:
        return self._columns

    def labels(self) -> list[str]:
        return [item.toPlainText() for item in self._labels]

    def levels(self) -> tuple[float, float]:
        lo, hi = self.image_item.getLevels()
        return float(lo), float(hi)

    def tile_center(self, index: int) -> QPointF:
        """Widget position of the centre of tile ``index`` (for clicking it in tests)."""
        h, w = self._tiles.shape[1:]
        x, y = tile_origin(index, (h, w), self._columns, self._gap)
        scene = self.view.mapViewToScene(QPointF(x + w / 2, y + h / 2))
        return QPointF(self.mapFromScene(scene))

    def _on_click(self, event: Any) -> None:
        if event.button() != Qt.MouseButton.LeftButton or not len(self._tiles):
            return
        pos = self.view.mapSceneToView(event.scenePos())
        index = tile_at(pos.x(), pos.y(), self._tiles.shape[1:], self._columns, len(self._tiles), self._gap)
        if index is not None:
            self.tileClicked.emit(index)


def _tick_step(count: int, most: int = 12) -> int:
    """1, 2, 4, 8, … : the smallest step that leaves at most ``most`` labels on an axis."""
    step = 1
    while count / step > most:
        step *= 2
    return step


class MatrixView(pg.GraphicsLayoutWidget):
    """A matrix as a heat map with labelled axes, optional cell text and colour bar.

    Used for the confusion matrix (click a cell: ``cellClicked(row, col)``) and
    the conv2 connection summary.
    """

    cellClicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None, *, colorbar: bool = False):
        super().__init__(parent)
        self.setBackground(self.palette().color(QPalette.ColorRole.Window))
        fg = text_colour(self)
        self.plot = self.addPlot(row=0, col=0)
        make_static(self.plot, fg)
        self.plot.invertY(True)
        self.plot.setAspectLocked(True)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image_item)
        self.colorbar: pg.ColorBarItem | None = None
        if colorbar:
            self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=sequential_cmap(), interactive=False,
                                            width=14, pen=pg.mkPen(fg), colorMapMenu=False)
            _style_axis(self.colorbar.getAxis("right"), fg)
            self.colorbar.setImageItem(self.image_item)
            self.addItem(self.colorbar, row=0, col=1)
        self._texts: list[pg.TextItem] = []
        self._selection = QGraphicsRectItem()
        self._selection.setPen(QPen(QColor(255, 170, 0), 0.08))
        self._selection.setVisible(False)
        self._selection.setZValue(10)
        self.plot.addItem(self._selection)
        self._shape = (0, 0)
        self.scene().sigMouseClicked.connect(self._on_click)
        self.setMinimumSize(140, 120)

    def set_matrix(self, values: np.ndarray, *, levels: tuple[float, float] | None = None,
                   cmap: pg.ColorMap | None = None, rgba: np.ndarray | None = None,
                   row_ticks: Sequence[str] | None = None, col_ticks: Sequence[str] | None = None,
                   tick_every: int = 1, row_label: str = "", col_label: str = "",
                   cell_text: Sequence[Sequence[str]] | None = None,
                   text_dark: np.ndarray | None = None) -> None:
        """Show ``values`` (rows × cols); ``rgba`` (rows, cols, 4 uint8) overrides the colour map.

        ``cell_text[r][c]`` is written in each cell, in black where ``text_dark``
        is True (light cells) and white elsewhere.
        """
        values = np.asarray(values)
        rows, cols = values.shape[:2]
        if rgba is not None:
            self.image_item.setLookupTable(None)
            self.image_item.setImage(np.ascontiguousarray(rgba), autoLevels=False, levels=(0, 255))
        else:
            cmap = cmap or sequential_cmap()
            lo_hi = levels if levels is not None else (float(np.nanmin(values)), float(np.nanmax(values)) or 1.0)
            self.image_item.setLookupTable(cmap.getLookupTable(nPts=256))
            self.image_item.setImage(values.astype(np.float32), levels=lo_hi, autoLevels=False)
            if self.colorbar is not None:
                self.colorbar.setColorMap(cmap)
                self.colorbar.setLevels(lo_hi)
        self._shape = (rows, cols)
        left, bottom = self.plot.getAxis("left"), self.plot.getAxis("bottom")
        row_step, col_step = (max(tick_every, _tick_step(n)) for n in (rows, cols))
        left.setTicks([[(r + 0.5, row_ticks[r] if row_ticks else str(r)) for r in range(0, rows, row_step)]])
        bottom.setTicks([[(c + 0.5, col_ticks[c] if col_ticks else str(c)) for c in range(0, cols, col_step)]])
        self.plot.setLabel("left", row_label, color=text_colour(self).name())
        self.plot.setLabel("bottom", col_label, color=text_colour(self).name())
        self.plot.setRange(xRange=(0, cols), yRange=(0, rows), padding=0.01)
        self._set_cell_text(cell_text, text_dark)

    def _set_cell_text(self, cell_text: Sequence[Sequence[str]] | None, dark: np.ndarray | None) -> None:
        rows, cols = self._shape
        wanted = rows * cols if cell_text is not None else 0
        while len(self._texts) > wanted:
            self.plot.removeItem(self._texts.pop())
        font = QFont(self.font())
        font.setPointSizeF(8.0)
        while len(self._texts) < wanted:
            item = pg.TextItem("", anchor=(0.5, 0.5))
            item.setFont(font)
            self.plot.addItem(item)
            self._texts.append(item)
        if cell_text is None:
            return
        for r in range(rows):
            for c in range(cols):
                item = self._texts[r * cols + c]
                item.setText(str(cell_text[r][c]))
                item.setColor(QColor(0, 0, 0) if dark is not None and dark[r, c] else QColor(255, 255, 255))
                item.setPos(c + 0.5, r + 0.5)

    def cell_texts(self) -> list[str]:
        return [item.toPlainText() for item in self._texts]

    def select(self, cell: tuple[int, int] | None) -> None:
        if cell is None:
            self._selection.setVisible(False)
            return
        r, c = cell
        self._selection.setRect(QRectF(c + 0.04, r + 0.04, 0.92, 0.92))
        self._selection.setVisible(True)

    def cell_center(self, row: int, col: int) -> QPointF:
        scene = self.plot.vb.mapViewToScene(QPointF(col + 0.5, row + 0.5))
        return QPointF(self.mapFromScene(scene))

    def _on_click(self, event: Any) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        rows, cols = self._shape
        pos = self.plot.vb.mapSceneToView(event.scenePos())
        r, c = math.floor(pos.y()), math.floor(pos.x())
        if 0 <= r < rows and 0 <= c < cols:
            self.cellClicked.emit(r, c)


# --------------------------------------------------------------------------- live analysis


class AnalysisDemand(QObject):
    """Asks the worker for activations + saliency only while some view shows them.

    They cost a backward pass per drawing update, so the worker computes them
    only on demand. Views call :meth:`set_wanted` from show/hide events; when
    the demand turns on, the current drawing is re-sent so the views fill at
    once instead of at the next stroke.
    """

    OBJECT_NAME = "insight-analysis-demand"

    def __init__(self, window: "MainWindow"):
        super().__init__(window)
        self.setObjectName(self.OBJECT_NAME)
        self._window = window
        self._wanted: set[str] = set()
        self.saliency_method: str | None = None  # None: the worker's own default, until the saliency view picks one

    def set_saliency_method(self, method: str) -> None:
        """Ask for another saliency method; the current drawing is analysed again at once."""
        if method != self.saliency_method:
            self.saliency_method = method
            self.apply()

    def set_wanted(self, key: str, wanted: bool) -> None:
        before = self.enabled()
        (self._wanted.add if wanted else self._wanted.discard)(key)
        if self.enabled() != before:
            self.apply()

    def enabled(self) -> bool:
        return bool(self._wanted)

    def apply(self) -> None:
        """Push the current demand to the worker (call again once the worker exists)."""
        worker = getattr(self._window, "worker", None)
        if worker is None:
            return
        worker.set_analysis_enabled(self.enabled())
        if self.saliency_method is not None:
            worker.set_saliency_method(self.saliency_method)
        image = getattr(self._window, "model_input", None)
        if self.enabled() and image is not None:
            worker.request_prediction(image)


def analysis_demand(window: "MainWindow") -> AnalysisDemand:
    """The window's one :class:`AnalysisDemand`, created on first use."""
    found = window.findChild(AnalysisDemand, AnalysisDemand.OBJECT_NAME)
    return found if found is not None else AnalysisDemand(window)


def format_pct(value: float) -> str:
    return "–" if not math.isfinite(value) else f"{100.0 * value:.1f}%"
