"""Many same-sized tiles (weights, feature maps, mean images) as one pyqtgraph image."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QGraphicsRectItem, QWidget

from mnist_desktop.core.analysis.weights import best_columns, fit_scale, mosaic, tile_at, tile_origin
from mnist_desktop.gui.insight.colours import diverging_cmap, panel_background, text_colour

REFLOW_GAIN = 1.08  # a mosaic re-flows on resize only when its tiles get at least 8 % larger


def style_axis(axis: pg.AxisItem, colour: QColor) -> None:
    axis.setPen(pg.mkPen(colour))
    axis.setTextPen(pg.mkPen(colour))


def make_static(plot: pg.PlotItem | pg.PlotWidget, colour: QColor) -> None:
    """A plot to look at, not to explore: themed axes, no context menu, pan/zoom or buttons."""
    for name in ("left", "bottom"):
        style_axis(plot.getAxis(name), colour)
    plot.setMenuEnabled(False)
    plot.setMouseEnabled(False, False)
    plot.hideButtons()



def add_picture_box(widget: pg.GraphicsLayoutWidget, row: int) -> tuple[pg.ViewBox, pg.ImageItem]:
    """A fixed, pixel-square picture in ``widget`` at ``row``: image rows top-down, no pan, zoom or menu.

    Pictures of weights and digits are read, not explored; a stray drag or wheel would
    only move them out of sight.
    """
    widget.setBackground(panel_background(widget))
    widget.ci.setContentsMargins(2, 2, 2, 2)
    view = widget.addViewBox(row=row, col=0)
    view.setAspectLocked(True)
    view.invertY(True)
    view.setMouseEnabled(False, False)
    view.setMenuEnabled(False)
    image = pg.ImageItem(axisOrder="row-major")
    view.addItem(image)
    return view, image

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
        self.view, self.image_item = add_picture_box(self, row=0)
        self.colorbar: pg.ColorBarItem | None = None
        if colorbar:
            pen = pg.mkPen(text_colour(self))
            self.colorbar = pg.ColorBarItem(values=(-1, 1), colorMap=diverging_cmap(), interactive=False,
                                            width=14, pen=pen, colorMapMenu=False)
            style_axis(self.colorbar.getAxis("right"), text_colour(self))
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
