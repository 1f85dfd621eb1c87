"""One small array as a picture a person can click: a cell per number, optional numbers written in.

The step-through and fool-it views show feature maps, kernels and windows of
a few to a few hundred cells; a person points at one cell ("this output, how
was it made?"), so clicks report ``(row, col)`` and a highlight frame can mark
a window of cells (the kernel's footprint on the input).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QGraphicsRectItem, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from mnist_desktop.gui.insight.colours import diverging_cmap, text_colour
from mnist_desktop.gui.insight.mosaic_view import add_picture_box, make_static


class PixelView(pg.GraphicsLayoutWidget):
    """An (h, w) array on a colour scale; ``pixelClicked(row, col)``; :meth:`frame` outlines a window."""

    pixelClicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None, *, title: str = ""):
        super().__init__(parent)
        if title:
            self.addLabel(title, row=0, col=0)
        self.view, self.image_item = add_picture_box(self, row=1)
        self._frame = QGraphicsRectItem()
        self._frame.setPen(pg.mkPen(QColor(255, 190, 0), width=2.5, cosmetic=True))
        self._frame.setZValue(10)
        self._frame.setVisible(False)
        self.view.addItem(self._frame)
        self._texts: list[pg.TextItem] = []
        self._shape = (0, 0)
        self.values: np.ndarray | None = None
        self.scene().sigMouseClicked.connect(self._on_click)
        self.setMinimumSize(90, 90)

    def set_array(self, values: np.ndarray, levels: tuple[float, float] | None = None,
                  cmap: pg.ColorMap | None = None, numbers: bool = False, decimals: int = 2) -> None:
        """Show ``values`` (NaN = not yet computed: transparent); symmetric levels by default."""
        values = np.asarray(values, np.float32)
        if values.ndim == 1:
            values = values[None, :]
        finite = values[np.isfinite(values)]
        if levels is None:
            top = float(np.abs(finite).max()) if finite.size else 1.0
            levels = (-max(top, 1e-6), max(top, 1e-6))
        self.values = values
        self.image_item.setLookupTable((cmap or diverging_cmap()).getLookupTable(nPts=256))
        self.image_item.setImage(values, levels=levels, autoLevels=False)
        if values.shape != self._shape:
            self._shape = values.shape
            self.view.setRange(QRectF(0, 0, values.shape[1], values.shape[0]), padding=0.02)
        self._write_numbers(values if numbers else None, decimals, levels)

    def _write_numbers(self, values: np.ndarray | None, decimals: int, levels: tuple[float, float]) -> None:
        for item in self._texts:
            self.view.removeItem(item)
        self._texts = []
        if values is None or values.size > 64:
            return
        font = QFont(self.font())
        font.setPointSizeF(7.5 if values.shape[1] > 4 else 9.0)
        span = max(abs(levels[0]), abs(levels[1]), 1e-6)
        for (r, c), v in np.ndenumerate(values):
            if not math.isfinite(float(v)):
                continue
            dark = abs(float(v)) < 0.55 * span  # light cell: dark text
            text = f"{0.0 if abs(float(v)) < 0.5 * 10 ** -decimals else float(v):.{decimals}f}"  # no "-0.00"
            item = pg.TextItem(text, color=(20, 20, 20) if dark else (250, 250, 250), anchor=(0.5, 0.5))
            item.setFont(font)
            item.setPos(c + 0.5, r + 0.5)
            self.view.addItem(item)
            self._texts.append(item)

    def numbers(self) -> list[str]:
        return [item.toPlainText() for item in self._texts]

    def frame(self, row: int | None, col: int = 0, height: int = 1, width: int = 1) -> None:
        """Outline cells ``[row, row + height) × [col, col + width)``; None hides the frame."""
        if row is None:
            self._frame.setVisible(False)
            return
        self._frame.setRect(QRectF(col, row, width, height))
        self._frame.setVisible(True)

    def frame_rect(self) -> QRectF | None:
        return self._frame.rect() if self._frame.isVisible() else None

    def cell_center(self, row: int, col: int) -> Any:
        """Widget position of a cell's centre (tests click it)."""
        scene = self.view.mapViewToScene(pg.Point(col + 0.5, row + 0.5))
        return self.mapFromScene(scene)

    def _on_click(self, event: Any) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self.values is None:
            return
        pos = self.view.mapSceneToView(event.scenePos())
        r, c = math.floor(pos.y()), math.floor(pos.x())
        if 0 <= r < self._shape[0] and 0 <= c < self._shape[1]:
            self.pixelClicked.emit(r, c)


def captioned_row(views: list[QWidget]) -> tuple[QHBoxLayout, list[QLabel]]:
    """``views`` side by side, each under a centred, wrapping caption (returned for the page to fill)."""
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    captions = []
    for view in views:
        caption = QLabel()
        caption.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        caption.setWordWrap(True)
        part = QVBoxLayout()
        part.addWidget(caption)
        part.addWidget(view, 1)
        row.addLayout(part, 1)
        captions.append(caption)
    return row, captions


def themed_plot(owner: QWidget, left: str = "", bottom: str = "") -> pg.PlotWidget:
    """A plot on the panel's own background with themed axes (a chart to read, not to explore)."""
    plot = pg.PlotWidget()
    plot.setBackground(owner.palette().color(owner.backgroundRole()))
    make_static(plot.getPlotItem(), text_colour(owner))
    if left:
        plot.setLabel("left", left)
    if bottom:
        plot.setLabel("bottom", bottom)
    return plot
