"""A matrix as a heat map with labelled axes (confusion matrix, conv2 connections)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPalette, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QWidget

from mnist_desktop.gui.insight.colours import sequential_cmap, text_colour
from mnist_desktop.gui.insight.mosaic_view import make_static, style_axis


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
            style_axis(self.colorbar.getAxis("right"), fg)
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
