"""The live training chart: accuracy and loss (one tab each), x in epochs.

Each run has one colour; within a run the line style says what is shown —
solid for training (smoothed, with the raw per-log-step values faint behind
it), dashed with dots for validation (one point per epoch). The x axis is in
epochs, not steps, so runs with different batch sizes line up when overlaid,
and spans the planned epochs from the start (a run's first steps are a short line
at the left, not a curve stretched over "epoch ×0.001"). Until there is a point
to draw, the chart is a sentence, not empty axes with made-up ranges.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QStackedWidget, QTabWidget, QVBoxLayout, QWidget

from mnist_desktop.gui.placeholder import sentence_pages
from mnist_desktop.gui.run_history import RunRecord

# Okabe–Ito colours: distinguishable for colour-blind readers and on light or dark backgrounds
RUN_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#7F7F7F")
REDRAW_MS = 100  # the live run redraws at most 10×/s however fast the steps come
SMOOTHING = 0.6
EMPTY_TEXT = "Press Start: the accuracy and loss curves appear here as the model learns."
WAITING_TEXT = "Preparing the data and compiling: the curves start with the first training steps."


def smooth(values: Sequence[float], weight: float = SMOOTHING) -> np.ndarray:
    """Bias-corrected exponential moving average (TensorBoard's smoothing)."""
    out = np.empty(len(values), np.float64)
    last = 0.0
    for i, value in enumerate(values):
        last = weight * last + (1.0 - weight) * float(value)
        out[i] = last / (1.0 - weight ** (i + 1))
    return out


def run_colour(record: RunRecord) -> QColor:
    return QColor(RUN_COLOURS[(record.number - 1) % len(RUN_COLOURS)])


class _RunCurves:
    """The pyqtgraph items that draw one run on both plots."""

    def __init__(self, record: RunRecord, acc_plot: pg.PlotItem, loss_plot: pg.PlotItem, live: bool):
        self.record = record
        colour = run_colour(record)
        faint = QColor(colour)
        faint.setAlpha(70)
        width = 2.5 if live else 1.8
        solid = pg.mkPen(colour, width=width)
        dashed = pg.mkPen(colour, width=width, style=Qt.PenStyle.DashLine)
        self.items = []

        def curve(plot: pg.PlotItem, pen, **kw) -> pg.PlotDataItem:
            item = plot.plot([], [], pen=pen, **kw)
            self.items.append((plot, item))
            return item

        self.acc_raw = curve(acc_plot, pg.mkPen(faint, width=1))
        self.acc = curve(acc_plot, solid)
        self.val_acc = curve(acc_plot, dashed, symbol="o", symbolSize=7, symbolBrush=colour, symbolPen=pg.mkPen(colour))
        self.loss_raw = curve(loss_plot, pg.mkPen(faint, width=1))
        self.loss = curve(loss_plot, solid)
        self.val_loss = curve(loss_plot, dashed, symbol="o", symbolSize=7, symbolBrush=colour, symbolPen=pg.mkPen(colour))

    def refresh(self) -> None:
        r = self.record
        x = np.asarray(r.train_x, np.float64)
        acc = np.asarray(r.train_accuracy, np.float64) * 100
        loss = np.asarray(r.train_loss, np.float64)
        self.acc_raw.setData(x, acc)
        self.acc.setData(x, smooth(acc))
        self.loss_raw.setData(x, loss)
        self.loss.setData(x, smooth(loss))
        vx = np.asarray(r.val_x, np.float64)
        self.val_acc.setData(vx, np.asarray(r.val_accuracy, np.float64) * 100)
        self.val_loss.setData(vx, np.asarray(r.val_loss, np.float64))

    def remove(self) -> None:
        for plot, item in self.items:
            plot.removeItem(item)


class TrainingChart(QWidget):
    """Shows the live run plus any runs chosen for comparison."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        pg.setConfigOptions(antialias=True)
        palette = self.palette()
        background = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        # accuracy and loss on separate tabs: stacked, each would be too short in a dock to read
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.acc_widget = pg.PlotWidget(background=background)
        self.loss_widget = pg.PlotWidget(background=background)
        self.acc_plot: pg.PlotItem = self.acc_widget.getPlotItem()
        self.loss_plot: pg.PlotItem = self.loss_widget.getPlotItem()
        # each plot tab holds a sentence until there is a point to draw
        self._plot_pages: list[QStackedWidget] = []
        labels = []
        for widget, title in ((self.acc_widget, "Accuracy"), (self.loss_widget, "Loss")):
            page, label = sentence_pages(widget, EMPTY_TEXT, "chart-placeholder", margin=16)
            self._plot_pages.append(page)
            labels.append(label)
            self.tabs.addTab(page, title)
        self.placeholder, self._loss_placeholder = labels
        self.tabs.setMinimumHeight(150)
        for plot, label in ((self.acc_plot, "accuracy (%)"), (self.loss_plot, "loss (cross-entropy)")):
            # horizontal grid only: a full grid is ~12 ms of every repaint (measured), a visible stutter
            plot.showGrid(x=False, y=True, alpha=0.15)
            plot.setLabel("left", label, color=text.name())
            plot.setLabel("bottom", "epoch", color=text.name())
            for side in ("left", "bottom"):
                axis = plot.getAxis(side)
                axis.setPen(pg.mkPen(text))
                axis.setTextPen(pg.mkPen(text))
                axis.enableAutoSIPrefix(False)  # "epoch (x0.001)" reads as a unit, not a scale
            plot.getAxis("left").setWidth(52)
            plot.enableAutoRange()
            plot.setMouseEnabled(x=False, y=False)  # a live chart that drifts when touched is confusing
            plot.hideButtons()
            plot.setMenuEnabled(False)
        # the legend sits above the plots: inside a small plot it would hide the curves
        self.legend = QLabel()
        self.legend.setObjectName("chart-legend")
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self._curves: list[_RunCurves] = []
        self._live: _RunCurves | None = None
        self._timer = QTimer(self, singleShot=True, interval=REDRAW_MS)
        self._timer.timeout.connect(self._redraw)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.legend)
        layout.addWidget(self.tabs, 1)
        self._update_legend()

    def show_runs(self, live: RunRecord | None, others: Sequence[RunRecord]) -> None:
        """Draw ``live`` (updated by :meth:`live_changed`) and ``others`` for comparison."""
        for curves in self._curves:
            curves.remove()
        self._curves = []
        self._live = None
        records = [live] if live is not None else []
        records += [r for r in others if r is not live]
        for record in records:
            curves = _RunCurves(record, self.acc_plot, self.loss_plot, live=record is live)
            curves.refresh()
            self._curves.append(curves)
        if live is not None:
            self._live = self._curves[0]
        self._set_placeholder(WAITING_TEXT if live is not None else EMPTY_TEXT)
        self._update_pages()
        self._update_legend()
        planned = [float(r.config.get("epochs") or 0) for r in records]
        for plot in (self.acc_plot, self.loss_plot):
            plot.enableAutoRange(axis="y")
            if max(planned, default=0) > 0:  # the whole run's width from the first step
                plot.disableAutoRange(axis="x")
                plot.setXRange(0, max(planned), padding=0.02)
            else:
                plot.enableAutoRange(axis="x")

    def add_tab(self, widget: QWidget, title: str) -> None:
        """Another tab beside Accuracy and Loss (the run list: a short dock cannot stack both)."""
        self.tabs.addTab(widget, title)

    def is_empty(self) -> bool:
        """True while the plot tabs show their sentence instead of plots."""
        return self._plot_pages[0].currentIndex() == 0

    def _set_placeholder(self, text: str) -> None:
        for label in (self.placeholder, self._loss_placeholder):
            label.setText(text)

    def _update_pages(self) -> None:
        drawn = any(c.record.train_x for c in self._curves)
        for page in self._plot_pages:
            page.setCurrentIndex(1 if drawn else 0)

    def live_changed(self) -> None:
        """New points for the live run; redrawn within :data:`REDRAW_MS`."""
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Draw pending points now (at the end of a run the final points must show)."""
        self._timer.stop()
        self._redraw()
        live = self._live.record if self._live is not None else None
        if live is not None and not live.train_x and live.finished:
            self._set_placeholder(f"Run #{live.number} ended ({live.status}) before its first point: "
                                  "nothing to draw. Press Start to try again.")

    def shown_runs(self) -> list[RunRecord]:
        return [c.record for c in self._curves]

    def point_count(self) -> int:
        """Training points drawn for the live run (tests and the stall probe read it)."""
        if self._live is None:
            return 0
        x, _ = self._live.acc.getData()
        return 0 if x is None else len(x)

    def _update_legend(self) -> None:
        runs = []
        for curves in self._curves:
            record = curves.record
            name = f"{record.label} · {record.dataset_title or record.config.get('dataset', '')}"
            if curves is self._live:
                name = f"<b>{name}</b>"
            runs.append(f"<span style='color:{run_colour(record).name()}'>━━</span>&nbsp;{name}")
        key = "solid: training (smoothed) · dashed with dots: validation, per epoch"
        muted = self.palette().color(QPalette.ColorRole.PlaceholderText).name()
        self.legend.setText("&nbsp;&nbsp;&nbsp;".join(runs) + ("<br>" if runs else "")
                            + f"<span style='color:{muted}'>{key}</span>")

    def _redraw(self) -> None:
        if self._live is not None:
            self._live.refresh()
            if self._live.record.train_x and self.is_empty():
                self._update_pages()
