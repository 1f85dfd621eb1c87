"""Activations: what every layer computes for the drawing on the canvas, live.

The worker sends ``prediction(probs, analysis)`` with ``analysis["activations"]``
= {layer: array without batch axis} while some insight view asks for it
(:class:`~.common.AnalysisDemand`). Feature maps (H, W, C) become C small
pictures; dense layers (N,) become a grid of N cells; the logits are bars.
Each layer is scaled to its own strongest unit, because absolute values differ
by orders of magnitude between layers and the question is *which* units fire.

Layers run left to right (input → logits) in a wide dock and top to bottom in
a tall one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QFont, QResizeEvent
from PySide6.QtWidgets import QBoxLayout, QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from mnist_desktop.core.data.dataset_specs import class_names_for
from mnist_desktop.core.analysis.weights import grid_shape, layer_tiles, ordered_layers
from mnist_desktop.gui.insight.colours import grey_cmap, sequential_cmap, text_colour
from mnist_desktop.gui.insight.mosaic_view import MosaicView, make_static
from mnist_desktop.gui.insight.panel import InsightPanel
from mnist_desktop.gui.model_session import ModelSession

EXPLANATION = ("What each layer computes for your drawing, updated as you draw, input → output. "
               "Bright = strongly active, black = silent; each layer is scaled to its own strongest unit.")
PLACEHOLDER = "Draw a digit: each layer's activations appear here."
CELL = 5  # a dense unit is drawn as a CELL×CELL square so the 1-px gaps stay thin
RENDER_MS = 30
WIDE = 1.6  # width / height above which layers are laid out side by side

LAYER_TEXT = {  # what kind of layer, not its sizes: those are read off the arrays
    "conv1": "convolution, ReLU",
    "conv2": "convolution, ReLU",
    "dense": "dense, ReLU",
    "hidden1": "dense, ReLU",
    "hidden2": "dense, ReLU",
}


def _caption_font(label: QLabel) -> None:
    font = QFont(label.font())
    font.setPointSizeF(font.pointSizeF() * 0.92)
    label.setFont(font)


class _LayerRow(QWidget):
    """A two-line caption and a picture for one layer."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name
        self.caption = QLabel()
        _caption_font(self.caption)
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        self.view = self._make_view()
        self.aspect = 1.0  # picture height / width, for sizing
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 4)
        layout.setSpacing(2)
        layout.addWidget(self.caption)
        layout.addWidget(self.view, 1)

    def _make_view(self) -> QWidget:
        return MosaicView()

    def show_activation(self, value: np.ndarray, class_names: list[str], wide: bool) -> None:
        view: MosaicView = self.view  # type: ignore[assignment]
        tiles = layer_tiles(value)
        n, h, w = tiles.shape
        if self.name == "input":
            view.set_tiles(tiles[:1], 1, (0.0, 1.0), grey_cmap())
            self.caption.setText(f"<b>input</b> · {value.shape[1]}×{value.shape[0]}<br>what the model reads")
            self.aspect = 1.0
            return
        dense = h == 1 and w == 1
        if dense:  # a strip of cells
            tiles = np.repeat(np.repeat(tiles, CELL, axis=1), CELL, axis=2)
            h = w = CELL
        # side by side: square-ish pictures; stacked: wide strips
        rows, cols = grid_shape(n, aspect=(0.75 if dense else 1.0) if wide else 2.5)
        peak = float(max(np.max(value), 1e-6))
        view.set_tiles(tiles, cols, (0.0, peak), sequential_cmap())
        active = int((tiles.reshape(n, -1).max(axis=1) > 0).sum())
        kind = f"{n} maps {value.shape[0]}×{value.shape[1]}" if value.ndim == 3 else f"{n} units"
        what = LAYER_TEXT.get(self.name, "")
        self.caption.setText(f"<b>{self.name}</b> · {kind}{' · ' + what if what else ''}<br>"
                             f"{active} of {n} active · max {peak:.2f}")
        gap = max(1, round(0.12 * w))  # what MosaicView uses
        self.aspect = (rows * (h + gap) - gap) / (cols * (w + gap) - gap)


class _LogitsRow(_LayerRow):
    """The class scores as horizontal bars: red for, blue against; the winner outlined."""

    def _make_view(self) -> QWidget:
        plot = pg.PlotWidget()
        plot.setBackground(self.palette().color(self.backgroundRole()))
        make_static(plot, text_colour(self))
        plot.invertY(True)
        plot.setMinimumSize(120, 120)
        self._bars: pg.BarGraphItem | None = None
        return plot

    def show_activation(self, value: np.ndarray, class_names: list[str], wide: bool) -> None:
        plot: pg.PlotWidget = self.view  # type: ignore[assignment]
        value = np.asarray(value, np.float64).reshape(-1)
        n = len(value)
        names = class_names_for(class_names, n)
        top = int(np.argmax(value))
        if self._bars is not None:
            plot.removeItem(self._bars)
        brushes = [QColor(214, 96, 77) if v >= 0 else QColor(67, 147, 195) for v in value]
        brushes[top] = QColor(178, 24, 43)
        self._bars = pg.BarGraphItem(x0=np.minimum(value, 0), y=np.arange(n), width=np.abs(value), height=0.7,
                                     brushes=brushes, pen=None)
        plot.addItem(self._bars)
        short = [name if len(name) <= 8 else name[:7] + "…" for name in names]
        plot.getAxis("left").setTicks([[(i, short[i]) for i in range(n)]])
        lim = float(max(np.abs(value).max(), 1e-6)) * 1.05
        plot.setXRange(-lim, lim, padding=0)
        plot.setYRange(-0.6, n - 0.4, padding=0)
        self.caption.setText(f"<b>logits</b> · class scores<br>highest: {names[top]} ({value[top]:.2f})")
        self.aspect = 1.1


class ActivationsView(InsightPanel):
    """Every layer's activations for the current drawing (see module doc)."""

    export_name = "activations"

    def __init__(self, session: ModelSession | None = None, _runs: Any = None):
        super().__init__(EXPLANATION)
        self.session = session
        self.placeholder = QLabel(PLACEHOLDER)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setStyleSheet("color: palette(placeholder-text);")
        self.rows_widget = QWidget()
        self.rows_layout = QBoxLayout(QBoxLayout.Direction.TopToBottom, self.rows_widget)
        self.rows_layout.setContentsMargins(0, 0, 0, 0)
        self.rows_layout.setSpacing(8)
        self.rows_layout.addStretch(1)  # stacked: keeps the rows together at the top
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setWidget(self.rows_widget)
        self.note = QLabel("This model has no hidden layers: the picture goes straight to the class scores "
                           "(the Weights tab shows the template each score is computed with).")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: palette(placeholder-text);")
        self.note.hide()
        self.body.addWidget(self.placeholder)
        self.body.addWidget(self.note)
        self.body.addWidget(self.scroll, 1)
        self.scroll.hide()
        self.rows: dict[str, _LayerRow] = {}
        self.activations: dict[str, np.ndarray] = {}
        self.wide = False
        self._pending: dict[str, np.ndarray] | None = None
        self._timer = QTimer(self, singleShot=True, interval=RENDER_MS)
        self._timer.timeout.connect(self._render)
        if session is not None:
            session.predicted.connect(self._on_prediction)

    # -- inputs ----------------------------------------------------------------
    def _on_prediction(self, probabilities: Any, analysis: Any) -> None:
        if probabilities is None:
            self.set_activations(None)
        elif analysis:
            self.set_activations(analysis.get("activations"))

    def set_activations(self, activations: dict[str, Any] | None) -> None:
        """Show a layer → activation dict (None: the placeholder)."""
        if activations is None:
            self._timer.stop()
            self._pending = None
            self.activations = {}
            self.scroll.hide()
            self.note.hide()
            self.placeholder.show()
            return
        self._pending = {k: np.asarray(v, np.float32) for k, v in activations.items()}
        if not self._timer.isActive():
            self._timer.start()

    def refresh_now(self) -> None:
        self._timer.stop()
        self._render()

    # -- rendering -------------------------------------------------------------
    def _class_names(self) -> list[str]:
        return self.session.class_names() if self.session is not None else class_names_for(None)

    def _render(self) -> None:
        if self._pending is None:
            return
        acts, self._pending = self._pending, None
        names = ordered_layers(acts)
        if list(self.rows) != names:
            for row in self.rows.values():
                row.setParent(None)
                row.deleteLater()
            self.rows = {}
            for name in names:
                row = _LogitsRow(name) if name == "logits" else _LayerRow(name)
                self.rows_layout.insertWidget(len(self.rows), row)  # before the trailing stretch
                self.rows[name] = row
        self.activations = acts
        self.placeholder.hide()
        self.note.setVisible(set(names) <= {"input", "logits"})
        self.scroll.show()
        self._draw_rows()

    def _draw_rows(self) -> None:
        names = self._class_names()
        for name, row in self.rows.items():
            value = self.activations[name]
            if name == "input" and value.ndim == 3 and value.shape[-1] == 1:
                value = value[..., 0]
            row.show_activation(value, names, self.wide)
        self._fit_rows()

    def _fit_rows(self) -> None:
        """Side by side: share the width by each picture's shape. Stacked: heights from the width."""
        viewport = self.scroll.viewport()
        wide = viewport.width() > WIDE * viewport.height()
        if wide != self.wide:
            self.wide = wide
            self.rows_layout.setDirection(QBoxLayout.Direction.LeftToRight if wide
                                          else QBoxLayout.Direction.TopToBottom)
            self.scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff if wide
                                                   else Qt.ScrollBarPolicy.ScrollBarAsNeeded)
            self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded if wide
                                                     else Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            if self.activations:
                self._draw_rows()  # the grids re-flow for the new direction
                return
        width = max(viewport.width() - 8, 100)
        for index, row in enumerate(self.rows.values()):
            if wide:
                row.view.setMinimumHeight(60)
                row.view.setMaximumHeight(16777215)
                self.rows_layout.setStretch(index, max(1, round(100 / max(row.aspect, 0.05))))
            else:
                height = min(int(width * 0.26), 130) if row.name == "input" else \
                    min(int(width * 0.4), 200) if row.name == "logits" else \
                    int(min(max(width * row.aspect, 50), 420))
                row.view.setFixedHeight(height)
                self.rows_layout.setStretch(index, 0)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_rows()

    def on_screen_changed(self, on_screen: bool) -> None:
        if self.session is not None:
            self.session.set_analysis_wanted("activations", on_screen)
