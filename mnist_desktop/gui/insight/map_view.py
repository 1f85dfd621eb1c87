"""Map: where the drawing lands among 5,000 test digits, as one layer of the model sees them.

Each dot is a test digit, placed by a 2-D map of the chosen layer's
activations and coloured by its true label; crosses are digits the model gets
wrong. The star is the current drawing, projected with the same fitted map
(PCA: the exact linear projection; t-SNE: placed among its nearest neighbours)
and moved as the pen moves. PCA appears at once; t-SNE is computed only when
asked, in the background, with progress and a Cancel button. All of it is
computed by :class:`~.deeper_service.DeeperService` on the worker thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
)

from mnist_desktop.gui.insight.deeper_service import deeper_service
from mnist_desktop.gui.insight.pixel_view import themed_plot
from mnist_desktop.gui.insight.panel import InsightPanel
from mnist_desktop.gui.insight.pictures import digit_pixmap
from mnist_desktop.gui.model_session import ModelSession

#: one colour per class (matplotlib's "tab10": distinct, and legible on light and dark panels)
CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
WAITING = ("Map: every dot is a test digit, placed by how similar the model's activations for it are, "
           "coloured by its true label. Choose a layer and press Make map; draw to see where your digit lands.")


def class_brushes(alpha: int = 200) -> list[Any]:
    brushes = []
    for colour in CLASS_COLOURS:
        c = QColor(colour)
        c.setAlpha(alpha)
        brushes.append(pg.mkBrush(c))
    return brushes


class MapView(InsightPanel):
    """The map plot, its controls and a hover preview; see the module docstring."""

    export_name = "map"

    def __init__(self, session: ModelSession | None = None, _runs: Any = None):
        super().__init__(WAITING)
        self.session = session
        self._service: Any = None
        self._data: dict[str, Any] | None = None
        self._model_name: str | None = None
        self.point: np.ndarray | None = None
        self._tsne_running = False

        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip("Which numbers the map arranges: the input pixels, a hidden layer or the logits")
        self.layer_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.make_button = QPushButton("Make map")
        self.make_button.setToolTip("Compute this layer's activations for the test digits and their PCA map")
        self.make_button.clicked.connect(self.make_map)
        self.tsne_button = QPushButton("Compute t-SNE")
        self.tsne_button.setToolTip("A non-linear map that keeps neighbours together (takes a while; "
                                    "drawing and predicting go on meanwhile)")
        self.tsne_button.clicked.connect(self._on_tsne_button)
        self.epoch_box = QCheckBox("Refresh each epoch")
        self.epoch_box.setToolTip("While a model trains, re-make the PCA map after every epoch to watch clusters form")
        self.epoch_box.toggled.connect(self._on_epoch_toggled)
        self.mine_box = QCheckBox("My drawings")
        self.mine_box.setToolTip("Overlay the drawings saved in the My handwriting panel (diamonds)")
        self.mine_box.toggled.connect(self._on_mine_toggled)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.progress.setTextVisible(True)
        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        layer_label = QLabel("&Layer:")
        layer_label.setBuddy(self.layer_combo)
        for widget in (layer_label, self.layer_combo, self.make_button, self.tsne_button, self.progress):
            controls.addWidget(widget)
        controls.addStretch(1)
        options = QHBoxLayout()
        options.setContentsMargins(0, 0, 0, 0)
        options.addWidget(self.epoch_box)
        options.addWidget(self.mine_box)
        self.legend = QLabel(self._legend_html())
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        options.addWidget(self.legend, 1)

        self.plot_widget = themed_plot(self)
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setMouseEnabled(True, True)  # zoom into a cluster with the wheel
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.plot.setAspectLocked(False)
        self.scatter = pg.ScatterPlotItem(size=6, pen=None, hoverable=True, tip=None, hoverSize=11,
                                          hoverPen=pg.mkPen("w", width=1.5))
        self.scatter.sigHovered.connect(self._on_hover)
        self.scatter.sigClicked.connect(self._on_click)
        self.mine = pg.ScatterPlotItem(size=11, symbol="d", pen=pg.mkPen("k", width=1.2))
        # white with a thick black edge: visible on every class colour, light or dark
        self.live = pg.ScatterPlotItem(size=30, symbol="star", pen=pg.mkPen("k", width=2.5), brush=pg.mkBrush("w"))
        self.live.setZValue(20)
        self.live_label = pg.TextItem("your drawing", color=(20, 20, 20), anchor=(-0.15, 0.5),
                                      fill=pg.mkBrush(255, 255, 255, 200))
        self.live_label.setZValue(21)
        self.plot.addItem(self.live_label)
        self.live_label.setVisible(False)
        self.mine.setZValue(10)
        for item in (self.scatter, self.mine, self.live):
            self.plot.addItem(item)

        self.preview = QLabel()
        self.preview.setFixedSize(112, 112)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setStyleSheet("background: black;")
        self.preview_text = QLabel("Hover over a dot to see the digit; click it to put it on the canvas.")
        self.preview_text.setWordWrap(True)
        self.preview_text.setFixedWidth(130)
        side = QVBoxLayout()
        side.addWidget(self.preview)
        side.addWidget(self.preview_text)
        side.addStretch(1)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.plot_widget, 1)
        row.addLayout(side)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: palette(placeholder-text);")
        self.body.addLayout(controls)
        self.body.addLayout(options)
        self.body.addLayout(row, 1)
        self.body.addWidget(self.status)
        self._set_enabled(False)

    # -- wiring ----------------------------------------------------------------------
    def attach_worker(self, worker: Any) -> None:
        service = self._service = deeper_service(worker)
        service.layersReady.connect(self._on_layers)
        service.mapReady.connect(self._on_map)
        service.mapProgress.connect(self._on_progress)
        service.mapPoint.connect(self._on_point)
        service.overlayReady.connect(self._on_overlay)
        service.failed.connect(self._on_failed)
        if self.session is not None:
            self.session.modelChanged.connect(self._on_model_changed)
            if self.session.model is not None:
                self._on_model_changed(self.session.model)
        service.set_wanted(point=self.is_on_screen())

    def on_screen_changed(self, on_screen: bool) -> None:
        if self._service is not None:
            self._service.set_wanted(point=on_screen)

    def _on_model_changed(self, model: Any) -> None:
        name = getattr(model, "model_name", None)
        if self._service is None or not name:
            return
        changed = name != self._model_name
        self._model_name = name
        self._service.request("layers")
        if self._data is not None:
            if changed:
                self._clear_map("The model changed: press Make map for the new one.")
            else:  # same architecture, new weights (a run finished, a model loaded): re-make it
                self.make_map()

    def _on_layers(self, model_name: str, layers: list) -> None:
        current = self.layer_combo.currentData()
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        for name, title in layers:
            self.layer_combo.addItem(title, name)
        # start on the layer before the logits: where the model's own idea of the digits lives
        wanted = current if current in [n for n, _ in layers] else (layers[-2][0] if len(layers) > 1 else layers[0][0])
        self.layer_combo.setCurrentIndex(max(self.layer_combo.findData(wanted), 0))
        self.layer_combo.blockSignals(False)
        self._set_enabled(True)

    def _set_enabled(self, enabled: bool) -> None:
        for widget in (self.layer_combo, self.make_button):
            widget.setEnabled(enabled)
        self.tsne_button.setEnabled(enabled and self._data is not None)
        self.mine_box.setEnabled(enabled and self._data is not None)

    # -- actions ----------------------------------------------------------------------
    def make_map(self) -> None:
        layer = self.layer_combo.currentData()
        if self._service is None or layer is None:
            return
        self._stop_tsne_ui()
        self.status.setText(f"Computing the activations of {layer} for the test digits…")
        self._service.request("map", layer=layer)

    def _on_tsne_button(self) -> None:
        if self._service is None:
            return
        if self._tsne_running:
            self._service.cancel_tsne()
            self.status.setText("Cancelling t-SNE…")
            return
        self._tsne_running = True
        self.tsne_button.setText("Cancel t-SNE")
        self.progress.setRange(0, 0)
        self.progress.setFormat("finding neighbours…")
        self.progress.setVisible(True)
        self._service.request("tsne")

    def _stop_tsne_ui(self) -> None:
        self._tsne_running = False
        self.tsne_button.setText("Compute t-SNE")
        self.progress.setVisible(False)

    def _on_epoch_toggled(self, checked: bool) -> None:
        if self._service is not None:
            self._service.refresh_each_epoch = checked  # a plain flag: read between training epochs

    def _on_mine_toggled(self, checked: bool) -> None:
        if checked and self._service is not None and self._data is not None:
            self._service.request("overlay")
        elif not checked:
            self.mine.clear()

    # -- answers ------------------------------------------------------------------------
    def _on_map(self, data: dict) -> None:
        self._data = data
        self._draw_points(data["coords"])
        self._set_enabled(True)
        layer, n = data["layer"], len(data["coords"])
        wrong = int((data["predictions"] != data["labels"]).sum())
        kept = float(np.sum(data["explained"][:2]))
        when = " (refreshed after an epoch)" if data.get("epoch") else ""
        self.set_explanation(
            f"PCA map of {layer} for {n:,} {data['dataset']} test digits{when}: the two directions along which "
            f"their activations differ most ({kept:.0%} of the variation). Dots are coloured by the true digit; "
            f"× marks the {wrong} the model gets wrong. The star is your drawing.")
        self.status.setText(data.get("note") or "Scroll to zoom, drag to pan; press Compute t-SNE for a map "
                                                "that keeps neighbours together.")
        if self.mine_box.isChecked():
            self._service.request("overlay")
        self._service.set_wanted(point=True)

    def _draw_points(self, coords: np.ndarray) -> None:
        data = self._data
        assert data is not None
        brushes = class_brushes()
        labels, preds = np.asarray(data["labels"]), np.asarray(data["predictions"])
        wrong = preds != labels
        dark = pg.mkPen(QColor(20, 20, 20), width=1)
        self.scatter.setData(
            pos=np.asarray(coords, np.float64), data=np.arange(len(coords)),
            brush=[brushes[int(label) % 10] for label in labels],
            pen=[dark if w else None for w in wrong],  # the mistakes stand out from their cluster
            symbol=np.where(wrong, "x", "o").tolist(), size=np.where(wrong, 12, 6))
        self.plot.enableAutoRange()

    def _on_progress(self, report: dict) -> None:
        phase = report["phase"]
        if phase == "cancelled":
            self._stop_tsne_ui()
            self.status.setText("t-SNE cancelled; the PCA map stays.")
            if self._data is not None:
                self._draw_points(self._data["coords"])
            return
        if report["coords"] is None:
            return
        self.progress.setRange(0, report["total"])
        self.progress.setValue(report["iteration"])
        self.progress.setFormat(f"t-SNE {report['iteration']}/{report['total']}")
        self._draw_points(report["coords"])
        if phase == "done":
            self._stop_tsne_ui()
            if self._data is not None:
                self._data["tsne"] = report["coords"]
                self.set_explanation(
                    f"t-SNE map of {self._data['layer']}: digits whose activations are close sit close together "
                    "(distances between clusters mean little). Coloured by the true digit, × = misclassified. "
                    "The star is your drawing, placed among its nearest neighbours.")
            self.status.setText("t-SNE done. Make map goes back to PCA.")

    def _on_point(self, point: Any) -> None:
        self.point = None if point is None else np.asarray(point, np.float64).reshape(-1)[:2]
        self.live_label.setVisible(self.point is not None)
        if self.point is None:
            self.live.clear()
        else:
            self.live.setData(pos=[self.point])
            self.live_label.setPos(*self.point)

    def _on_overlay(self, data: dict) -> None:
        brushes = class_brushes(255)
        self.mine.setData(pos=np.asarray(data["coords"], np.float64),
                          brush=[brushes[int(label) % 10] for label in data["labels"]])
        self.status.setText(f"{len(data['coords'])} of your own drawings shown as diamonds, in the colour of their label.")

    def _on_failed(self, kind: str, message: str) -> None:
        if kind in ("map", "tsne", "overlay", "point", "layers"):
            if kind == "tsne":
                self._stop_tsne_ui()
            if kind == "overlay":
                self.mine_box.setChecked(False)
            self.status.setText(message)

    def _clear_map(self, message: str) -> None:
        self._data = None
        for item in (self.scatter, self.mine, self.live):
            item.clear()
        self.live_label.setVisible(False)
        self._stop_tsne_ui()
        self._set_enabled(True)
        self.set_explanation(WAITING)
        self.status.setText(message)

    # -- hover and click ------------------------------------------------------------------
    def _on_hover(self, _item: Any, points: Any, _event: Any) -> None:
        if self._data is None or len(points) == 0:
            return
        self.show_preview(int(points[0].data()))

    def show_preview(self, index: int) -> None:
        data = self._data
        assert data is not None
        names = data.get("class_names") or [str(i) for i in range(10)]
        label, pred = int(data["labels"][index]), int(data["predictions"][index])
        self.preview.setPixmap(digit_pixmap(data["images"][index], 112))
        verdict = "right" if label == pred else f"read as {names[pred]} ✗"
        self.preview_text.setText(f"Test digit #{index}: a {names[label]}, {verdict}. Click to draw it.")

    def _on_click(self, _item: Any, points: Any, _event: Any) -> None:
        if self._data is not None and len(points):
            self.put_on_canvas(int(points[0].data()))

    def put_on_canvas(self, index: int) -> None:
        if self.session is not None and self._data is not None:
            self.session.show_picture(np.asarray(self._data["images"][index], np.float32) / 255.0)

    @staticmethod
    def _legend_html() -> str:
        swatches = " ".join(f'<span style="color:{c}; font-weight:bold">■{i}</span>' for i, c in enumerate(CLASS_COLOURS))
        return f"{swatches} &nbsp; × wrong &nbsp; ★ your drawing &nbsp; ◆ your saved drawings"
