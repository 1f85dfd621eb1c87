"""Evaluation: how the active model does on a whole test set, and where it goes wrong.

"Evaluate on test set" asks the worker (``evaluateRequested(dataset, data_dir)``);
its answer (``evaluated(dict)``) fills three pictures:

* the confusion matrix — rows are the true class, columns the prediction; the
  diagonal (correct) is blue, mistakes are red, darker = more. Counts or
  row-normalised percentages; click a cell to see its images;
* per-class accuracy as bars;
* a gallery of mistakes, most confident first (the interesting ones); click one
  to put it on the canvas and look at it with the other views.

A result belongs to one model on one test set. When the active model changes
(a training run's model, another file — not a failed load, which leaves the
model as it was) or an evaluation fails, the pictures are cleared and a
sentence says why, so a matrix is never shown, or exported, under a label it
does not belong to. With nothing to show, the view is a sentence, not empty axes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from mnist_desktop.core.data.dataset_specs import class_names_for
from mnist_desktop.core.data.availability import dataset_status
from mnist_desktop.core.data.datasets import available_datasets
from mnist_desktop.core.formatting import format_fraction
from mnist_desktop.gui.insight.colours import text_colour
from mnist_desktop.gui.insight.matrix_view import MatrixView
from mnist_desktop.gui.insight.mosaic_view import make_static
from mnist_desktop.gui.insight.panel import InsightPanel
from mnist_desktop.gui.insight.pictures import digit_icon, thumbnail_grid
from mnist_desktop.gui.placeholder import sentence_pages
from mnist_desktop.gui.insight.splitter import AdaptiveSplitter
from mnist_desktop.gui.model_session import ActiveModel, ModelSession

EXPLANATION = ("How the active model does on a test set. Confusion matrix: rows = true class, columns = "
               "prediction; blue = correct, red = mistakes (darker = more). Click a cell to list its images, "
               "click an image to put it on the canvas.")
GALLERY_LIMIT = 200
ICON_SIDE = 56
EMPTY_TEXT = ("Nothing evaluated yet. Pick a test set above and press “Evaluate on test set”: the confusion "
              "matrix, the accuracy per class and the mistakes appear here.")


def percent_text(percent: float, decimals: int = 0) -> str:
    """``percent`` (0–100) rounded for a label, but never to a misleading 100 or 0:
    99.7 reads "99.7", not "100", and 0.3 reads "<1" — a class with mistakes is not perfect."""
    text = f"{percent:.{decimals}f}"
    if float(text) >= 100 and percent < 100:  # one more digit, rounded down: 99.96 → "99.9"
        digits = decimals + 1
        return f"{math.floor(percent * 10 ** digits) / 10 ** digits:.{digits}f}"
    if float(text) <= 0 < percent:
        return f"<{10 ** -decimals:g}"
    return text


def model_key(model: ActiveModel) -> tuple:
    """What tells one active model from another, by value (a model announced again is the same one)."""
    return (model.model_name, model.name, model.path, model.param_count, model.test_accuracy)


def confusion_colours(confusion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RGBA cell colours and a "use dark text" mask for a confusion matrix.

    Colour follows the row-normalised fraction (a 3 % error rate looks the same
    in a big and a small class). Mistakes are scaled to the largest mistake, not
    to 100 %, or every error would be near-white next to a 98 % diagonal.
    """
    confusion = np.asarray(confusion, np.float64)
    rows = confusion.sum(axis=1, keepdims=True)
    frac = np.divide(confusion, rows, out=np.zeros_like(confusion), where=rows > 0)
    diagonal = np.eye(len(confusion), dtype=bool)
    off = np.where(diagonal, 0.0, frac)
    off_scale = off.max() if off.max() > 0 else 1.0
    strength = np.where(diagonal, frac, off / off_scale)
    white = np.array([255, 255, 255], np.float64)
    blue = np.array([8, 69, 148], np.float64)
    red = np.array([165, 15, 21], np.float64)
    target = np.where(diagonal[..., None], blue, red)
    rgb = white + (target - white) * strength[..., None] ** 0.8
    rgba = np.empty((*confusion.shape, 4), np.uint8)
    rgba[..., :3] = np.rint(rgb)
    rgba[..., 3] = 255
    return rgba, strength < 0.45


class EvaluationView(InsightPanel):
    """Test-set evaluation of the active model (see module doc)."""

    export_name = "evaluation"

    def __init__(self, session: ModelSession | None = None, _runs: Any = None):
        super().__init__(EXPLANATION)
        self.session = session
        self._worker: Any = None
        self._waiting = self._started = False
        self._error = ""
        self.result: dict[str, Any] | None = None
        self.cell: tuple[int, int] | None = None
        self._model: tuple | None = None  # model_key of the active model
        self._result_model: tuple | None = None  # … and of the model the result shown belongs to
        self._model_title = ""

        self.dataset_box = QComboBox()
        for name, title in available_datasets():
            self.dataset_box.addItem(title, name)
        self.evaluate_button = QPushButton("Evaluate on test set")
        self.evaluate_button.clicked.connect(self.request_evaluation)
        self.counts_button = QRadioButton("Counts")
        self.percent_button = QRadioButton("Row %")
        self.counts_button.setChecked(True)
        self.counts_button.setToolTip("Number of test images in each cell")
        self.percent_button.setToolTip("Share of each true class (row) that got each prediction")
        group = QButtonGroup(self)
        group.addButton(self.counts_button)
        group.addButton(self.percent_button)
        self.counts_button.toggled.connect(self._show_matrix)
        controls = QHBoxLayout()
        controls.addWidget(self.dataset_box, 1)
        controls.addWidget(self.evaluate_button)
        show_row = QHBoxLayout()
        show_row.addWidget(QLabel("Confusion matrix shows:"))
        show_row.addWidget(self.counts_button)
        show_row.addWidget(self.percent_button)
        show_row.addStretch(1)
        self.summary = QLabel("")  # the placeholder below says what to do first
        self.summary.setWordWrap(True)

        self.matrix = MatrixView()
        self.matrix.cellClicked.connect(self.select_cell)
        # per-class accuracy as bars beside the matrix, each bar on its true-class row
        self.accuracy_plot: pg.PlotItem = self.matrix.addPlot(row=0, col=2)
        self._setup_accuracy_plot()
        self.gallery_label = QLabel("Mistakes")
        self.gallery = thumbnail_grid(ICON_SIDE, QSize(ICON_SIDE + 30, ICON_SIDE + 36))
        self.gallery.setWordWrap(True)
        self.gallery.itemClicked.connect(self._on_gallery_clicked)
        self.show_mistakes_button = QPushButton("All mistakes")
        self.show_mistakes_button.clicked.connect(lambda: self.select_cell(None, None))
        gallery_header = QHBoxLayout()
        gallery_header.addWidget(self.gallery_label, 1)
        gallery_header.addWidget(self.show_mistakes_button)
        gallery_box = QWidget()
        gallery_layout = QVBoxLayout(gallery_box)
        gallery_layout.setContentsMargins(0, 0, 0, 0)
        gallery_layout.addLayout(gallery_header)
        gallery_layout.addWidget(self.gallery, 1)

        split = AdaptiveSplitter([3, 2], ratio=1.5)
        for part in (self.matrix, gallery_box):
            split.addWidget(part)
        self.pages, self.placeholder = sentence_pages(split, EMPTY_TEXT, "evaluation-placeholder")
        self.body.addLayout(controls)
        self.body.addWidget(self.summary)
        self.body.addLayout(show_row)
        self.body.addWidget(self.pages, 1)
        self.dataset_box.currentIndexChanged.connect(self._on_dataset_picked)
        self._set_result_widgets_enabled(False)
        if session is not None:
            session.modelChanged.connect(self._on_model_changed)

    def figure_dataset(self) -> str:
        if self.result is None:
            return ""
        return f"{self.result.get('dataset_title') or self.result.get('dataset', '')} test set"

    def _setup_accuracy_plot(self) -> None:
        plot = self.accuracy_plot
        fg = text_colour(self)
        make_static(plot, fg)
        plot.getAxis("left").setStyle(showValues=False)
        plot.invertY(True)  # row 0 on top, like the matrix
        plot.setYLink(self.matrix.plot)  # bars stay level with their rows whatever the size
        plot.setLabel("bottom", "accuracy %", color=fg.name())  # no title: it would shift the rows
        plot.getAxis("bottom").setTicks([[(v, str(v)) for v in (0, 50, 100)]])
        plot.setXRange(0, 100, padding=0.02)
        self.matrix.ci.layout.setColumnStretchFactor(0, 4)
        self.matrix.ci.layout.setColumnStretchFactor(2, 1)
        self._bars: pg.BarGraphItem | None = None
        self._bar_texts: list[pg.TextItem] = []

    # -- requests ----------------------------------------------------------------
    def attach_worker(self, worker: Any) -> None:
        self._worker = worker
        worker.evaluated.connect(self._on_evaluated)
        worker.error.connect(self._on_error)
        worker.busy.connect(self._on_busy)

    def _on_model_changed(self, model: ActiveModel) -> None:
        key = model_key(model)
        if key == self._model:
            return  # the same model announced again (e.g. after a load that failed)
        self._model = key
        self._model_title = model.name if model.name != "?" else model.model_name
        if self.result is not None and self._result_model != key:
            before = self._result_text()
            self.clear_result(f"The active model changed to {self._model_title}: evaluate again. "
                              f"(Cleared: {before}.)")
        dataset = model.dataset
        if dataset == "mnist" and dataset_status("mnist") == "not downloaded":
            dataset = "mnist-subset"  # its test images are MNIST test images, and it is always there
        index = self.dataset_box.findData(dataset)
        if self.result is None and index >= 0:
            self.dataset_box.setCurrentIndex(index)

    def _on_dataset_picked(self) -> None:
        """A result stays while another test set is only picked, but says which set it is for."""
        if self.result is None:
            return
        if self.dataset_box.currentData() != self.result.get("dataset"):
            self.summary.setText(f"Shown: {self._result_text()}. Press “Evaluate on test set” for "
                                 f"{self.dataset_box.currentText()}.")
        else:
            self.summary.setText(self._summary_text())

    def clear_result(self, why: str) -> None:
        """Show no result (and say ``why``): nothing stale stays on screen or goes into an export."""
        self.result = None
        self._result_model = None
        self.cell = None
        self.gallery.clear()
        self.matrix.select(None)
        self.pages.setCurrentIndex(0)
        self.placeholder.setText(why)
        self.summary.setText(why.split(". ")[0] + ".")
        self._set_result_widgets_enabled(False)

    def request_evaluation(self) -> None:
        """Ask the worker to evaluate the active model on the chosen test set."""
        name = self.dataset_box.currentData()
        if self._worker is None:
            self.summary.setText("The model is still loading; try again in a moment.")
            return
        status = dataset_status(name)
        if status == "not downloaded":
            self.summary.setText(f"{self.dataset_box.currentText()} is not downloaded. Train a model on it once "
                                 f"(it downloads then), or run `mnist-desktop download {name}`, "
                                 "or pick the bundled subset.")
            return
        self._waiting, self._started, self._error = True, False, ""
        training = bool(getattr(self._worker, "is_training", lambda: False)())
        self.summary.setText(f"Evaluating on {self.dataset_box.currentText()}…" +
                             (" (starts when the training run ends)" if training else ""))
        self.evaluate_button.setEnabled(False)
        self._worker.evaluateRequested.emit(name, "")

    def _on_error(self, message: str) -> None:
        if not self._waiting:
            return
        self._error = message
        if not self._started and "no active model" in message:  # refused without ever starting
            self._started = True
            self._on_busy("")

    def _on_busy(self, what: str) -> None:
        if what:
            self._started = self._started or (self._waiting and what.startswith("evaluating"))
            return
        if not (self._waiting and self._started):
            return  # e.g. a training run ending before our request gets its turn
        # the worker went idle without an answer: it failed, say why here (not just in the status bar)
        self._waiting = False
        self.evaluate_button.setEnabled(True)
        self.clear_result(f"Evaluation on {self.dataset_box.currentText()} failed: "
                          f"{self._error or 'see the status bar'}")
        self.summary.setText(f"Evaluation failed: {self._error or 'see the status bar'}")

    # -- results -----------------------------------------------------------------
    def _on_evaluated(self, result: dict) -> None:
        self._waiting = False
        self.evaluate_button.setEnabled(True)
        self.set_result(result)

    def set_result(self, result: dict) -> None:
        """Show an ``evaluated`` dict (confusion, predictions, probabilities, images, labels, ...)."""
        result = dict(result)
        result["confusion"] = np.asarray(result["confusion"], np.int64)
        result["predictions"] = np.asarray(result["predictions"], np.int64)
        result["labels"] = np.asarray(result["labels"], np.int64)
        result["probabilities"] = np.asarray(result["probabilities"], np.float32)
        self.result = result
        self._result_model = self._model
        self.summary.setText(self._summary_text())
        self.pages.setCurrentIndex(1)
        self._set_result_widgets_enabled(True)
        self._show_matrix()
        self._show_accuracy()
        self.select_cell(None, None)

    def _result_text(self) -> str:
        """"<model> on <test set>: accuracy N%" for the result shown."""
        assert self.result is not None
        confusion = self.result["confusion"]
        total, correct = int(confusion.sum()), int(np.trace(confusion))
        return (f"{self._model_title} on {self.result.get('dataset_title', self.result.get('dataset', ''))}: "
                f"accuracy {format_fraction(correct / max(total, 1))}")

    def _summary_text(self) -> str:
        assert self.result is not None
        confusion = self.result["confusion"]
        total, correct = int(confusion.sum()), int(np.trace(confusion))
        return (f"{self._result_text()} ({correct:,} of {total:,} test images right, {total - correct:,} wrong) · "
                f"loss {float(self.result.get('loss', float('nan'))):.3f} · {self.result.get('model_name', '?')}. "
                "Bars: accuracy per true class (orange = below the overall accuracy).")

    def class_names(self) -> list[str]:
        return class_names_for((self.result or {}).get("class_names"))

    def _set_result_widgets_enabled(self, enabled: bool) -> None:
        for widget in (self.counts_button, self.percent_button, self.show_mistakes_button, self.export_button,
                       self.export_action):
            widget.setEnabled(enabled)

    def _show_matrix(self) -> None:
        if self.result is None:
            return
        confusion = self.result["confusion"]
        rgba, dark = confusion_colours(confusion)
        if self.counts_button.isChecked():  # empty cells stay blank: the few mistakes stand out
            text = [[str(int(v)) if v else "" for v in row] for row in confusion]
        else:
            rows = confusion.sum(axis=1, keepdims=True)
            frac = np.divide(confusion, rows, out=np.zeros(confusion.shape), where=rows > 0)
            text = [[percent_text(100 * v) if v > 0 else "" for v in row] for row in frac]
        names = self.class_names()
        short = [n if len(n) <= 7 else n[:6] + "…" for n in names]
        self.matrix.set_matrix(confusion, rgba=rgba, row_ticks=short, col_ticks=[str(i) for i in range(10)]
                               if short != names else short, row_label="true class",
                               col_label="predicted class", cell_text=text, text_dark=dark)
        self.matrix.select(self.cell)

    def _show_accuracy(self) -> None:
        assert self.result is not None
        plot = self.accuracy_plot
        acc = np.nan_to_num(np.asarray(self.result["per_class_accuracy"], np.float64), nan=0.0) * 100
        if self._bars is not None:
            plot.removeItem(self._bars)
        for item in self._bar_texts:
            plot.removeItem(item)
        confusion = self.result["confusion"]
        overall = 100.0 * float(np.trace(confusion)) / max(int(confusion.sum()), 1)
        colours = [QColor(8, 69, 148) if a >= overall else QColor(230, 120, 20) for a in acc]
        rows = np.arange(len(acc)) + 0.5  # the matrix's row centres
        self._bars = pg.BarGraphItem(x0=0, y=rows, width=acc, height=0.72, brushes=colours, pen=None)
        plot.addItem(self._bars)
        self._bar_texts = []
        for row, a in zip(rows, acc):
            item = pg.TextItem(percent_text(a), color=QColor(255, 255, 255), anchor=(1.0, 0.5))
            item.setPos(a, row)
            plot.addItem(item)
            self._bar_texts.append(item)
        names = self.class_names()
        plot.setToolTip("Accuracy per true class (the row's diagonal share):\n" +
                        "\n".join(f"{i}: {n} — {a:.1f}%" for i, (n, a) in enumerate(zip(names, acc))))

    # -- gallery -----------------------------------------------------------------
    def select_cell(self, row: int | None, col: int | None = None) -> None:
        """Fill the gallery with the images of confusion cell (row=true, col=predicted); None: all mistakes."""
        if self.result is None:
            return
        labels, preds, probs = self.result["labels"], self.result["predictions"], self.result["probabilities"]
        names = self.class_names()
        if row is None or col is None:
            self.cell = None
            chosen = np.flatnonzero(labels != preds)
            what = f"Mistakes: {len(chosen):,}"
        else:
            self.cell = (int(row), int(col))
            chosen = np.flatnonzero((labels == row) & (preds == col))
            kind = "right" if row == col else "wrong"
            what = f"True {names[row]}, predicted {names[col]} ({kind}): {len(chosen):,} image{'s' * (len(chosen) != 1)}"
        confidence = probs[chosen, preds[chosen]] if len(chosen) else np.zeros(0)
        order = chosen[np.argsort(-confidence, kind="stable")][:GALLERY_LIMIT]
        self.gallery_label.setText(what + (f" — the {GALLERY_LIMIT} most confident shown" if len(chosen) > GALLERY_LIMIT
                                           else "") + (" · most confident first" if len(chosen) > 1 else ""))
        self.matrix.select(self.cell)
        self.gallery.clear()
        images = self.result["images"]
        for index in order:
            true, pred = int(labels[index]), int(preds[index])
            p = float(probs[index, pred])
            item = QListWidgetItem(digit_icon(images[index], ICON_SIDE), f"{names[true]}→{names[pred]}\n{percent_text(100 * p)}%")
            item.setData(Qt.ItemDataRole.UserRole, int(index))
            item.setToolTip(f"Test image #{index}: true {names[true]}, predicted {names[pred]} "
                            f"with {100 * p:.1f}%.\nClick to put it on the canvas.")
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
            self.gallery.addItem(item)

    def gallery_indices(self) -> list[int]:
        """Test-set indices of the images in the gallery, in order."""
        return [int(self.gallery.item(i).data(Qt.ItemDataRole.UserRole)) for i in range(self.gallery.count())]

    def _on_gallery_clicked(self, item: QListWidgetItem) -> None:
        if self.result is None or self.session is None:
            return
        index = int(item.data(Qt.ItemDataRole.UserRole))
        self.session.show_picture(np.asarray(self.result["images"][index], np.float32) / 255.0)
