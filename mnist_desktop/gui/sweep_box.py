"""Sweeps in the training dock: one or two settings, several values, the answer as a picture.

The core plans the sweep (:func:`~mnist_desktop.core.training.sweep.plan_sweep`
checks every combination before anything trains). Each point then runs as an
ordinary training run of the panel, through the run controller, one after
another: the live chart shows it over the sweep's finished runs, the run
history keeps every run, and the results plot here shows final validation
accuracy against the swept values — a line for one setting, a heat map for two.
"Use best run" makes the best one read the canvas. Stop ends the current run
and the sweep; the finished runs stay.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QTabWidget, QVBoxLayout, QWidget,
)

from mnist_desktop.core.errors import ConfigError
from mnist_desktop.core.models.spec import SpecError, architecture_of
from mnist_desktop.core.training.sweep_axes import PARAMETERS, Axis, parse_values

if TYPE_CHECKING:
    from mnist_desktop.core.training.sweep import Plan
    from mnist_desktop.gui.run_history import RunRecord
    from mnist_desktop.gui.training_panel import TrainingPanel

SUGGESTED = {"learning_rate": "0.001, 0.003, 0.01", "batch_size": "32, 128, 512", "epochs": "0.5, 1, 2",
             "width": "10, 30, 100, 300, 1000", "dropout": "0, 0.25, 0.5", "weight_decay": "0, 0.0001, 0.001",
             "label_smoothing": "0, 0.1, 0.2", "seed": "0, 1, 2"}
ERROR_COLOUR = "#c62828"


def final_val_accuracy(record: "RunRecord") -> float | None:
    """What the results plot shows: the last epoch's validation accuracy of a completed run."""
    return record.val_accuracy[-1] if record.status == "completed" and record.val_accuracy else None


class SweepBox(QGroupBox):
    """See the module docstring. ``finished(status)`` fires when a sweep ends ("completed"/"stopped"/"failed")."""

    finished = Signal(str)

    def __init__(self, panel: "TrainingPanel"):
        super().__init__("Sweep: train several values and compare")
        self.setObjectName("sweep-box")
        self.setCheckable(True)
        self.setChecked(False)  # folded away until wanted
        self.panel = panel
        self.plan: "Plan | None" = None
        self._choices_for: str | None | tuple = ()  # the model the choices were built for (() = none yet)
        self.records: list[RunRecord] = []  # finished runs of the current (or last) sweep, in plan order
        self.index = 0
        self.running = False
        self._stopping = False
        self._build()
        self.toggled.connect(self.body.setVisible)
        self.body.setVisible(False)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.body = QWidget()
        grid = QGridLayout(self.body)
        grid.setContentsMargins(0, 0, 0, 0)
        self.param_combos: list[QComboBox] = []
        self.value_edits: list[QLineEdit] = []
        for row, caption in enumerate(("Vary", "and")):
            combo = QComboBox()
            combo.setObjectName(f"sweep-param-{row}")
            edit = QLineEdit()
            edit.setObjectName(f"sweep-values-{row}")
            edit.setToolTip("Values separated by commas, or a range START:STOP:COUNT (add :log for geometric steps)")
            combo.currentIndexChanged.connect(lambda _i, r=row: self._on_param_picked(r))
            grid.addWidget(QLabel(caption), row, 0)
            grid.addWidget(combo, row, 1)
            grid.addWidget(edit, row, 2)
            self.param_combos.append(combo)
            self.value_edits.append(edit)
        grid.setColumnStretch(2, 1)
        self.run_button = QPushButton("Run sweep")
        self.run_button.setObjectName("sweep-run")
        self.run_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop sweep")
        self.stop_button.setObjectName("sweep-stop")
        self.stop_button.setToolTip("End the run in progress and the sweep; finished runs are kept")
        self.stop_button.clicked.connect(self.stop)
        self.best_button = QPushButton("Use best run")
        self.best_button.setObjectName("sweep-use-best")
        self.best_button.setToolTip("Let the run with the highest final validation accuracy read the canvas")
        self.best_button.clicked.connect(self.use_best)
        buttons = QHBoxLayout()
        for button in (self.run_button, self.stop_button, self.best_button):
            buttons.addWidget(button)
        grid.addLayout(buttons, 2, 0, 1, 3)
        self.status_label = QLabel("Settings not swept come from the form above; the results show in the "
                                   "chart's “Sweep results” tab.")
        self.status_label.setObjectName("sweep-status")
        self.status_label.setWordWrap(True)
        grid.addWidget(self.status_label, 3, 0, 1, 3)
        # the results plot lives in the chart's tabs (where there is room), see attach_tabs
        self.plot = pg.PlotWidget(background=None)
        self.plot.setObjectName("sweep-results")
        self.plot.setLabel("left", "final validation accuracy (%)")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self._tabs: QTabWidget | None = None
        self._placeholder()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.body)
        self.refresh_choices()
        self._update_buttons()

    def attach_tabs(self, tabs: QTabWidget) -> None:
        """Show the results plot as a tab of the training chart; a finished sweep selects it."""
        self._tabs = tabs
        tabs.addTab(self.plot, "Sweep results")

    def _placeholder(self) -> None:
        text = pg.TextItem("Unfold “Sweep” above the chart, choose a setting and values, and Run sweep: "
                           "final validation accuracy against the values appears here.", color="#777", anchor=(0.5, 0.5))
        self.plot.addItem(text)
        text.setPos(0.5, 0.5)
        self.plot.setRange(xRange=(0, 1), yRange=(0, 1))

    def refresh_choices(self, model: str | None = None) -> None:
        """Offer the settings this network can vary (a width per dense/conv layer, dropout if it has some)."""
        if model == self._choices_for:
            return
        self._choices_for = model
        try:
            arch = architecture_of(model or "cnn")[0]
        except SpecError:
            arch = architecture_of("cnn")[0]
        # item data: the setting's name, "width@LAYER" for a layer's width (as the CLI's --vary)
        entries: list[tuple[str, str]] = [(PARAMETERS[k][1], k) for k in
                                          ("learning_rate", "batch_size", "epochs", "weight_decay", "label_smoothing", "seed")]
        for i, layer in enumerate(arch.layers):
            if layer.kind in ("dense", "conv"):
                entries.append((f"Width of layer {i + 1} ({layer.describe()})", f"width@{i + 1}"))
        if arch.has_dropout:
            entries.append((PARAMETERS["dropout"][1], "dropout"))
        for row, combo in enumerate(self.param_combos):
            current = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            if row == 1:
                combo.addItem("(nothing else)", None)
            for text, data in entries:
                combo.addItem(text, data)
            index = combo.findData(current)
            combo.setCurrentIndex(index if index >= 0 else (0 if row == 1 else self._default_index(combo)))
            combo.blockSignals(False)
            self._on_param_picked(row, keep_text=index >= 0)

    @staticmethod
    def _default_index(combo: QComboBox) -> int:
        for i in range(combo.count()):
            if str(combo.itemData(i) or "").startswith("width"):
                return i  # the question students ask first: how wide?
        return 0

    def _on_param_picked(self, row: int, keep_text: bool = False) -> None:
        data = self.param_combos[row].currentData()
        edit = self.value_edits[row]
        edit.setEnabled(data is not None)
        if not keep_text:
            edit.setText("" if data is None else SUGGESTED[data.partition("@")[0]])

    # ------------------------------------------------------------------ the sweep
    def axes(self) -> list[Axis]:
        """The chosen axes; raises :class:`ConfigError` naming the bad one."""
        axes = []
        for combo, edit in zip(self.param_combos, self.value_edits):
            data = combo.currentData()
            if data is not None:
                name, _, layer = data.partition("@")
                axes.append(Axis(name, parse_values(edit.text(), name), int(layer) if layer else None))
        return axes

    def start(self) -> None:
        """Plan the sweep from the form's settings and start its first run."""
        from mnist_desktop.core.training.sweep import plan_sweep
        from mnist_desktop.core.training.trainer import TrainConfig
        from mnist_desktop.gui.training_form import train_size

        if self.running:
            return
        values, errors = self.panel.form.values()
        if values is None:
            self._say("Fix the settings above first: " + "; ".join(f"{k}: {v}" for k, v in errors.items()), error=True)
            return
        try:
            self.plan = plan_sweep(TrainConfig.from_dict(values), self.axes(), train_size(values["dataset"]))
        except ConfigError as err:
            self._say(f"Cannot sweep: {err}", error=True)
            return
        self.records, self.index, self.running, self._stopping = [], 0, True, False
        self._draw()
        self._run_next()

    def stop(self) -> None:
        if not self.running:
            return
        self._stopping = True
        self.panel.stop()
        self._say("Stopping…")

    def _run_next(self) -> None:
        plan = self.plan
        assert plan is not None
        if self._stopping or self.index >= len(plan.points):
            self._end("stopped" if self._stopping else "completed")
            return
        point = plan.points[self.index]
        handle = self.panel.start_values(point.config.to_dict(), overlay=list(self.records), remember=False)
        if handle is None:
            self._say("Could not start the next run: another run is using the worker.", error=True)
            self._end("failed")
            return
        handle.finished.connect(lambda _result, r=handle.record: self._on_run_ended(r))
        handle.failed.connect(lambda _message, r=handle.record: self._on_run_ended(r))
        self._say(f"Run {self.index + 1} of {len(plan.points)}: {point.label}")
        self._update_buttons()

    def _on_run_ended(self, record: "RunRecord") -> None:
        self.records.append(record)
        self._draw()
        if record.status not in ("completed", "diverged"):
            self._stopping = True  # stopped (here or with the panel's Stop) or failed: the sweep ends too
        self.index += 1
        QTimer.singleShot(0, self._run_next)  # after the panel has seen the run end

    def _end(self, status: str) -> None:
        self.running = False
        best = self.best()
        done = f"{len(self.records)} of {len(self.plan.points) if self.plan else 0} runs finished"
        if best is not None:
            done += f"; best: {self._point_label(best)} — validation {final_val_accuracy(best):.2%} (run #{best.number})"
        self._say(("Sweep stopped: " if status == "stopped" else "Sweep done: " if status == "completed" else "") + done,
                  error=status == "failed")
        self._update_buttons()
        if self._tabs is not None and self.records:
            self._tabs.setCurrentWidget(self.plot)
        self.finished.emit(status)

    def best(self) -> "RunRecord | None":
        scored = [r for r in self.records if final_val_accuracy(r) is not None]
        return max(scored, key=final_val_accuracy) if scored else None

    def use_best(self) -> None:
        best = self.best()
        if best is not None:
            self.panel.use_model(best)

    def _point_label(self, record: "RunRecord") -> str:
        assert self.plan is not None
        return self.plan.points[self.records.index(record)].label

    def _say(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(f"color: {ERROR_COLOUR};" if error else "")

    def _update_buttons(self) -> None:
        self.run_button.setEnabled(not self.running)
        self.stop_button.setEnabled(self.running)
        self.best_button.setEnabled(not self.running and self.best() is not None)
        for widget in (*self.param_combos, *self.value_edits):
            widget.setEnabled(not self.running and (widget not in self.value_edits
                                                    or self.param_combos[self.value_edits.index(widget)].currentData() is not None))

    # ------------------------------------------------------------------ results plot
    def results(self) -> list[tuple[tuple[float, ...], float | None]]:
        """(swept values, final validation accuracy or None) of each finished run, in plan order."""
        assert self.plan is not None
        return [(tuple(v for _, v in self.plan.points[i].values), final_val_accuracy(r)) for i, r in enumerate(self.records)]

    def _draw(self) -> None:
        self.plot.clear()
        plan = self.plan
        if plan is None:
            return
        results = self.results()
        if len(plan.axes) == 1:
            self._draw_line(plan.axes[0], results)
        else:
            self._draw_heat_map(plan, results)

    def _draw_line(self, axis: Axis, results: list) -> None:
        log = axis.log_scale
        self.plot.setLogMode(x=log, y=False)
        self.plot.setLabel("bottom", axis.title)
        self.plot.setLabel("left", "final validation accuracy (%)")
        self.plot.getAxis("left").setTicks(None)
        points = [(v[0], acc * 100) for v, acc in results if acc is not None]
        if points:
            xs, ys = zip(*points)
            self.plot.plot(list(xs), list(ys), pen=pg.mkPen("#1565c0", width=2), symbol="o", symbolSize=8,
                           symbolBrush="#1565c0")
            best = max(points, key=lambda p: p[1])
            self.plot.plot([best[0]], [best[1]], pen=None, symbol="star", symbolSize=16, symbolBrush="#f9a825")
            for x, y in points:
                label = pg.TextItem(f"{y:.1f}", anchor=(0.5, 1.3), color="#333")
                label.setPos(math.log10(x) if log else x, y)
                self.plot.addItem(label)
        ticks = [((math.log10(v) if log else v), f"{v:g}") for v in axis.values]
        self.plot.getAxis("bottom").setTicks([ticks])
        self.plot.enableAutoRange()
        if points:  # headroom for the value labels above the points
            low, high = min(p[1] for p in points), max(p[1] for p in points)
            span = max(high - low, 0.5)
            self.plot.setYRange(low - 0.1 * span, high + 0.3 * span, padding=0)

    def _draw_heat_map(self, plan: "Plan", results: list) -> None:
        a, b = plan.axes
        self.plot.setLogMode(x=False, y=False)
        grid = np.full((len(a.values), len(b.values)), np.nan, np.float32)
        for values, acc in results:
            if acc is not None:
                grid[a.values.index(values[0]), b.values.index(values[1])] = acc * 100
        finite = grid[np.isfinite(grid)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 100.0)
        if finite.size:  # cells not run yet stay empty (NaN is transparent)
            image = pg.ImageItem(grid, levels=(low - 1e-3, high + 1e-3))
            image.setColorMap(pg.colormap.get("viridis"))
            self.plot.addItem(image)
        for i in range(len(a.values)):
            for j in range(len(b.values)):
                if np.isfinite(grid[i, j]):
                    text = pg.TextItem(f"{grid[i, j]:.1f}", anchor=(0.5, 0.5), color="w" if grid[i, j] < (low + high) / 2 else "k")
                    text.setPos(i + 0.5, j + 0.5)
                    self.plot.addItem(text)
        self.plot.setLabel("bottom", a.title)
        self.plot.setLabel("left", f"{b.title} — colour: final validation accuracy (%)")
        self.plot.getAxis("bottom").setTicks([[(i + 0.5, f"{v:g}") for i, v in enumerate(a.values)]])
        self.plot.getAxis("left").setTicks([[(j + 0.5, f"{v:g}") for j, v in enumerate(b.values)]])
        self.plot.setRange(xRange=(0, len(a.values)), yRange=(0, len(b.values)), padding=0)
