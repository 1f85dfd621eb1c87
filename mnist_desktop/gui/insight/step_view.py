"""Step through: how the active model reads the current drawing, one operation a page.

The pages come from ``core.analysis.stepthrough`` (replayed from the model's
own weights and checked against its forward pass), computed on the worker by
:class:`~.deeper_service.DeeperService` for each new drawing or choice. A
person picks the cell to explain by clicking the output map or a bar; on a
convolution "Slide" walks the kernel over the input and the output map fills
in cell by cell, as the convolution computes it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QSpinBox, QWidget

from mnist_desktop.gui.insight import step_text
from mnist_desktop.core.data.dataset_specs import class_names_for
from mnist_desktop.gui.insight.colours import grey_cmap
from mnist_desktop.gui.insight.deeper_service import deeper_service
from mnist_desktop.gui.insight.mosaic_view import MosaicView
from mnist_desktop.gui.insight.panel import InsightPanel
from mnist_desktop.gui.insight.pixel_view import PixelView, captioned_row, themed_plot
from mnist_desktop.gui.model_session import ModelSession

WAITING = ("Step through: draw a digit and follow the model's forward pass one operation at a time, "
           "with the real numbers it computes.")
SLIDE_MS = 70


def _grid(vector: np.ndarray) -> np.ndarray:
    rows, cols = step_text.grid_shape(vector.size)
    out = np.full(rows * cols, np.nan, np.float32)
    out[: vector.size] = vector
    return out.reshape(rows, cols)


class StepView(InsightPanel):
    """Page navigation, four small pictures, a bar chart and the page's arithmetic."""

    export_name = "step-through"

    def __init__(self, session: ModelSession | None = None, _runs: Any = None):
        super().__init__(WAITING)
        self.session = session
        self._service: Any = None
        self.result: dict[str, Any] | None = None
        self._stage, self._cell, self._temperature = 0, None, 1.0
        self.prev_button = QPushButton("◀ Previous")
        self.next_button = QPushButton("Next ▶")
        self.page_combo = QComboBox()
        self.page_combo.setToolTip("Every operation of the forward pass, in order")
        self.page_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.channel_spin = QSpinBox()
        self.channel_spin.setPrefix("channel ")
        self.channel_spin.setToolTip("Which output channel (feature map) to explain")
        self.slide_button = QPushButton("Slide ▶")
        self.slide_button.setToolTip("Move the kernel over the input cell by cell and watch the output map fill in")
        self.prev_button.clicked.connect(lambda: self.go(self._stage - 1))
        self.next_button.clicked.connect(lambda: self.go(self._stage + 1))
        self.page_combo.activated.connect(self.go)
        self.channel_spin.valueChanged.connect(self._on_channel)
        self.slide_button.clicked.connect(self._toggle_slide)
        nav = QHBoxLayout()
        nav.setContentsMargins(0, 0, 0, 0)
        for widget in (self.prev_button, self.page_combo, self.next_button, self.channel_spin, self.slide_button):
            nav.addWidget(widget)
        nav.addStretch(1)
        self.pictures = [PixelView() for _ in range(4)]
        row, self.captions = captioned_row(self.pictures)
        self.pictures[3].pixelClicked.connect(self._on_output_clicked)
        self.templates = MosaicView(label_points=8)
        self.templates.tileClicked.connect(lambda i: self._select((i,)))
        self.bars = themed_plot(self)
        self.bars.setMinimumHeight(110)
        self.bars.scene().sigMouseClicked.connect(self._on_bar_clicked)
        self.temperature = QSlider(Qt.Orientation.Horizontal)
        self.temperature.setRange(-20, 20)  # T = 10^(v / 10): 0.01 … 100, 1 in the middle
        self.temperature.setValue(0)
        self.temperature.setToolTip("Temperature T: divide the scores by T before the softmax")
        self.temperature.valueChanged.connect(self._on_temperature)
        self.temperature_label = QLabel("T = 1.00")
        self.temperature_row = QWidget()
        t_row = QHBoxLayout(self.temperature_row)
        t_row.setContentsMargins(0, 0, 0, 0)
        t_row.addWidget(QLabel("Temperature:"))
        t_row.addWidget(self.temperature, 1)
        t_row.addWidget(self.temperature_label)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.body.addLayout(nav)
        self.body.addLayout(row, 3)
        self.body.addWidget(self.templates, 2)
        self.body.addWidget(self.bars, 2)
        self.body.addWidget(self.temperature_row)
        self.body.addWidget(self.text)
        self._slide = QTimer(self)
        self._slide.setInterval(SLIDE_MS)
        self._slide.timeout.connect(self._slide_step)
        self._show_nothing()

    # -- wiring -----------------------------------------------------------------------
    def attach_worker(self, worker: Any) -> None:
        self._service = deeper_service(worker)
        self._service.stepReady.connect(self._on_step)
        self._service.failed.connect(lambda kind, message: kind == "step" and self.text.setText(message))
        if self.session is not None:
            self.session.modelChanged.connect(lambda _model: self._ask(reset=True))
        self._service.set_wanted(step=self.is_on_screen())

    def on_screen_changed(self, on_screen: bool) -> None:
        if self._service is not None:
            self._service.set_wanted(step=on_screen)
            if on_screen:
                self._ask()

    def _ask(self, reset: bool = False) -> None:
        if reset:
            self._stage, self._cell = 0, None
        if self._service is not None:
            self._service.request("step", stage=self._stage, cell=self._cell, temperature=self._temperature)

    def go(self, index: int) -> None:
        count = self.page_combo.count()
        if count:
            self._stop_slide()
            self._stage, self._cell = max(0, min(int(index), count - 1)), None
            self._ask()

    def _select(self, cell: tuple[int, ...]) -> None:
        self._cell = tuple(int(c) for c in cell)
        self._ask()

    # -- answers ----------------------------------------------------------------------------
    def _on_step(self, result: Any) -> None:
        self.result = result
        if result is None:
            self._stop_slide()
            self._show_nothing()
            return
        page = result["page"]
        titles = result["titles"]
        if [self.page_combo.itemText(i) for i in range(self.page_combo.count())] != [f"{i + 1}. {t}" for i, t in enumerate(titles)]:
            self.page_combo.clear()
            self.page_combo.addItems([f"{i + 1}. {t}" for i, t in enumerate(titles)])
        self.page_combo.setCurrentIndex(page.index)
        self._stage, self._cell = page.index, page.cell
        self.prev_button.setEnabled(page.index > 0)
        self.next_button.setEnabled(page.index < len(titles) - 1)
        top = int(np.argmax(result["probabilities"]))
        names = self._class_names()
        self.set_explanation(f"Step {page.index + 1} of {len(titles)} through {result['model_name']} reading your "
                             f"drawing (it answers {names[top]}, {result['probabilities'][top]:.1%}). "
                             "Click a cell of the output or a bar to see how it was computed.")
        kind = page.stage.op.kind
        spatial = page.stage.output.ndim == 3
        self.channel_spin.setVisible(spatial)
        self.slide_button.setVisible(kind in ("conv", "pool"))
        self.temperature_row.setVisible(kind == "softmax")
        self.templates.setVisible(False)
        self.bars.setVisible(not spatial)
        if spatial:
            self.channel_spin.blockSignals(True)
            self.channel_spin.setRange(0, page.stage.output.shape[2] - 1)
            self.channel_spin.setValue(page.cell[2])
            self.channel_spin.blockSignals(False)
        getattr(self, f"_show_{kind}")(page, names)

    def _class_names(self) -> list[str]:
        return class_names_for(self.session.class_names() if self.session is not None else None, 10)

    def _pictures(self, *items: tuple[str, np.ndarray | None, dict]) -> None:
        for (caption, values, options), label, picture in zip(items, self.captions, self.pictures):
            label.setText(caption)
            label.setVisible(values is not None)
            picture.setVisible(values is not None)
            if values is not None:
                picture.set_array(values, **options)
                picture.frame(None)

    def _image_options(self, values: np.ndarray) -> dict:
        """The 28×28 input in grey, like the canvas; other maps on the signed scale."""
        if values.shape == (28, 28):
            return {"levels": (0.0, 1.0), "cmap": grey_cmap()}
        return {}

    def _built_up(self, output: np.ndarray, row: int, col: int) -> np.ndarray:
        shown = np.array(output, np.float32)
        if self._slide.isActive() or self._sliding:
            flat = shown.reshape(-1)
            flat[row * output.shape[1] + col + 1:] = np.nan
        return shown

    _sliding = False

    def _show_conv(self, page: Any, names: list[str]) -> None:
        cell = page.detail
        kh, kw, cin = cell.kernel.shape
        ci = 0 if cin == 1 else int(np.argmax(np.abs(cell.per_input_channel)))
        source = page.stage.input[..., ci]
        out = page.stage.output[..., cell.channel]
        self._pictures((f"Input (channel {ci})" if cin > 1 else "Input", source, self._image_options(source)),
                       (f"Kernel {cell.channel}" + (f", channel {ci}" if cin > 1 else "") + " (red +, blue −)",
                        cell.kernel[..., ci], {"numbers": True}),
                       ("Window × kernel", cell.products[..., ci], {"numbers": True}),
                       (f"Output channel {cell.channel} (before ReLU)", self._built_up(out, cell.row, cell.col), {}))
        self.pictures[0].frame(cell.origin[0], cell.origin[1], kh, kw)
        self.pictures[3].frame(cell.row, cell.col)
        self.text.setText(step_text.conv_text(page, ci))

    def _show_relu(self, page: Any, names: list[str]) -> None:
        before, after = page.stage.input, page.stage.output
        if after.ndim == 3:
            k = page.cell[2]
            self._pictures((f"Before (channel {k})", before[..., k], {}), ("", None, {}), ("", None, {}),
                           (f"After ReLU (channel {k})", after[..., k], {}))
            self.pictures[3].frame(page.cell[0], page.cell[1])
        else:
            self._pictures(("Before", _grid(before), {}), ("", None, {}), ("", None, {}), ("After ReLU", _grid(after), {}))
            self._bars(after, page.cell[0], "after ReLU")
        self.text.setText(step_text.relu_text(page))

    def _show_pool(self, page: Any, names: list[str]) -> None:
        cell, s = page.detail, page.stage.op.size
        source = page.stage.input[..., cell.channel]
        self._pictures((f"Input (channel {cell.channel})", source, {}), ("Window", cell.window, {"numbers": True}),
                       ("", None, {}),
                       (f"Output (channel {cell.channel})", self._built_up(page.stage.output[..., cell.channel], cell.row, cell.col), {}))
        self.pictures[0].frame(cell.row * s, cell.col * s, s, s)
        self.pictures[1].frame(*cell.winner)
        self.pictures[3].frame(cell.row, cell.col)
        self.text.setText(step_text.pool_text(page))

    def _show_flatten(self, page: Any, names: list[str]) -> None:
        self._pictures(("", None, {}), ("", None, {}), ("", None, {}), ("", None, {}))
        self._bars(page.stage.output, None, "flattened")
        self.text.setText(step_text.flatten_text(page))

    def _show_dense(self, page: Any, names: list[str]) -> None:
        unit = page.detail
        is_logits = page.stage.output.size == 10 and page.index == len(self.result["titles"]) - 2
        labels = step_text.unit_names(page.stage.output.size, names, is_logits)
        image = unit.inputs.size == 784
        shape = (28, 28) if image else None
        view = (lambda v: v.reshape(shape)) if image else _grid
        grid = "" if image else f" ({unit.inputs.size:,}, as a {'×'.join(map(str, view(unit.inputs).shape))} grid)"
        self._pictures(("Input pixels" if image else f"Inputs{grid}", view(unit.inputs), self._image_options(view(unit.inputs))),
                       (f"Weights into {labels[unit.unit]}" + (" (its template)" if image else ""), view(unit.weights), {}),
                       ("Input × weight", view(unit.contributions), {}), ("", None, {}))
        self._bars(page.stage.output, unit.unit, "score" if is_logits else f"{page.stage.op.module} output",
                   labels if is_logits else None)
        if image and is_logits:  # logistic regression: every class's template × pixels, side by side
            w = page.stage.weights
            products = (unit.inputs[:, None] * w).T.reshape(-1, 28, 28)
            top = float(np.abs(products).max()) or 1.0
            self.templates.setVisible(True)
            self.templates.set_tiles(products, None, (-top, top),
                                     labels=[f"{names[i]}: {page.stage.output[i]:+.2f}" for i in range(10)])
            self.templates.select(unit.unit)
            self.text.setText(step_text.template_text(page, labels))
        else:
            self.text.setText(step_text.dense_text(page, labels))

    def _show_softmax(self, page: Any, names: list[str]) -> None:
        self._pictures(("", None, {}), ("", None, {}), ("", None, {}), ("", None, {}))
        scores = page.stage.input
        self._bars(page.probabilities, int(np.argmax(page.probabilities)), f"probability at T = {page.temperature:.2f}",
                   [f"{name}\nscore {score:+.1f}" for name, score in zip(names, scores)], levels=(0.0, 1.0))
        self.text.setText(step_text.softmax_text(page, names))

    def _bars(self, values: np.ndarray, selected: int | None, what: str, labels: list[str] | None = None,
              levels: tuple[float, float] | None = None) -> None:
        plot = self.bars.getPlotItem()
        plot.clear()
        values = np.asarray(values, np.float64).reshape(-1)
        colours = ["#c0504d" if v < 0 else "#4f81bd" for v in values]
        if selected is not None and 0 <= selected < len(values):
            colours[selected] = "#ffb000"
        plot.addItem(pg.BarGraphItem(x=np.arange(len(values)), height=values, width=0.8, brushes=colours, pen=None))
        axis = plot.getAxis("bottom")
        axis.setTicks([list(enumerate(labels))] if labels else None)
        plot.setLabel("left", what)
        if levels:
            plot.setYRange(*levels)
        else:
            plot.enableAutoRange()

    def _show_nothing(self) -> None:
        self.set_explanation(WAITING)
        self._pictures(*[("", None, {})] * 4)
        for widget in (self.templates, self.bars, self.temperature_row, self.channel_spin, self.slide_button):
            widget.setVisible(False)
        self.page_combo.clear()
        self.text.setText("")

    # -- interaction -----------------------------------------------------------------------------
    def _on_output_clicked(self, row: int, col: int) -> None:
        if self.result is not None and self.result["page"].stage.output.ndim == 3:
            self._stop_slide()
            self._select((row, col, self.channel_spin.value()))

    def _on_channel(self, channel: int) -> None:
        if self.result is not None and self._cell is not None and len(self._cell) == 3:
            self._select((self._cell[0], self._cell[1], channel))

    def _on_bar_clicked(self, event: Any) -> None:
        if self.result is None or self.result["page"].stage.output.ndim != 1:
            return
        x = self.bars.getPlotItem().vb.mapSceneToView(event.scenePos()).x()
        index = int(round(x))
        if self.result["page"].stage.op.kind in ("dense", "relu") and 0 <= index < self.result["page"].stage.output.size:
            self._select((index,))

    def _on_temperature(self, value: int) -> None:
        self._temperature = float(10 ** (value / 10))
        self.temperature_label.setText(f"T = {self._temperature:.2f}")
        self._ask()

    def _toggle_slide(self) -> None:
        if self._slide.isActive():
            self._stop_slide()
            return
        self._sliding = True
        self.slide_button.setText("Stop ■")
        channel = self.channel_spin.value()
        self._cell = (0, 0, channel)
        self._ask()
        self._slide.start()

    def _slide_step(self) -> None:
        if self.result is None or self._cell is None or len(self._cell) != 3:
            self._stop_slide()
            return
        h, w = self.result["page"].stage.output.shape[:2]
        r, c, k = self._cell
        index = r * w + c + 1
        if index >= h * w:
            self._stop_slide()
            return
        self._cell = (index // w, index % w, k)
        self._ask()

    def _stop_slide(self) -> None:
        self._slide.stop()
        self._sliding = False
        self.slide_button.setText("Slide ▶")
