"""Every training run: a record per run and the table that lists them.

A :class:`RunRecord` is the single place a run's numbers live — the live chart
draws from it, the table summarises it, "Use this model" reads its parameters.
Keeping the curves in the record (rather than in the chart) is what lets a
finished run be overlaid later or its settings reused. Finished runs are kept
across restarts (metrics only, see ``core/training/run_log.py``); runs from
earlier sessions have no weights, so only their settings can be reused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mnist_desktop.core.formatting import format_duration, format_fraction
from mnist_desktop.core.training import run_log

FINISHED = ("completed", "stopped", "diverged", "failed", "cancelled")


@dataclass(eq=False)  # a run is itself: compared by identity (its params are arrays)
class RunRecord:
    """One run: its settings, its curves as they arrive, and its outcome."""

    number: int
    config: dict[str, Any]
    dataset_title: str = ""
    started_at: float = field(default_factory=time.time)
    status: str = "starting"
    message: str = ""
    steps_per_epoch: int = 1
    total_steps: int = 0
    step: int = 0
    elapsed: float = 0.0
    # curves, x in (fractional) epochs so runs with different batch sizes line up
    train_x: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_x: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    # outcome
    best_val_accuracy: float | None = None
    test_accuracy: float | None = None
    test_loss: float | None = None
    train_seconds: float | None = None
    params: Any = None
    dataset: str = ""
    class_names: list[str] = field(default_factory=list)
    model_name_for_save: str = ""

    @property
    def model(self) -> str:
        return str(self.config.get("model", "?"))

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def label(self) -> str:
        return f"#{self.number} {self.model}"

    def settings_text(self) -> str:
        """The hyperparameters a person compares runs by, in one short line."""
        c = self.config
        parts = [f"{c.get('optimizer', '?')} {c.get('learning_rate', 0):g}", f"batch {c.get('batch_size', '?')}",
                 f"{c.get('epochs', 0):g} ep"]
        if c.get("augment"):
            parts.append("aug")
        parts.append(self.dataset_title or str(c.get("dataset", "")))
        return ", ".join(parts)  # the rest (split, seed, schedule…) is in the row's tooltip

    def add_step(self, event: dict[str, Any]) -> None:
        self.status = "running"
        self.step = int(event["step"])
        self.elapsed = float(event.get("elapsed", self.elapsed))
        self.train_x.append(self.step / max(self.steps_per_epoch, 1))
        self.train_accuracy.append(float(event["train_accuracy"]))
        self.train_loss.append(float(event["loss"]))

    def add_epoch(self, event: dict[str, Any]) -> None:
        self.elapsed = float(event.get("elapsed", self.elapsed))
        if event.get("val_accuracy") is None:
            return
        self.val_x.append(int(event["step"]) / max(self.steps_per_epoch, 1))
        self.val_accuracy.append(float(event["val_accuracy"]))
        self.val_loss.append(float(event["val_loss"]))
        best = self.best_val_accuracy
        self.best_val_accuracy = self.val_accuracy[-1] if best is None else max(best, self.val_accuracy[-1])

    def finish(self, result: dict[str, Any]) -> None:
        self.status = str(result.get("status", "failed"))
        self.message = str(result.get("message", ""))
        self.test_accuracy = result.get("test_accuracy")
        self.test_loss = result.get("test_loss")
        if result.get("best_val_accuracy") is not None:
            self.best_val_accuracy = result["best_val_accuracy"]
        self.train_seconds = result.get("train_seconds", self.elapsed or None)
        self.step = int(result.get("steps", self.step) or self.step)
        self.params = result.get("params")
        self.dataset = str(result.get("dataset", self.config.get("dataset", "")))
        self.class_names = list(result.get("class_names") or self.class_names)

    def to_summary(self) -> dict[str, Any]:
        """What the run history keeps of this run: numbers and settings, no weights."""
        keys = ("number", "config", "started_at", "steps_per_epoch", "total_steps", *run_log.TEXTS,
                *run_log.CURVES, "best_val_accuracy", "test_accuracy", "test_loss", "train_seconds")
        return dict({key: getattr(self, key) for key in keys}, steps=self.step)

    @classmethod
    def from_summary(cls, summary: dict[str, Any]) -> RunRecord:
        """A run from an earlier session (a summary cleaned by ``run_log.clean_summary``)."""
        known = {f.name for f in fields(cls)} - {"params", "step"}
        values = {key: value for key, value in summary.items() if key in known and value is not None}
        return cls(step=int(summary.get("steps") or 0), **values)

    def model_info(self) -> dict[str, Any]:
        """The info dict for ``worker.activateRequested``: what File → Save records."""
        from mnist_desktop.core.training.run_metadata import checkpoint_metadata, default_model_path
        from mnist_desktop.core.training.trainer import TrainConfig

        if not self.model_name_for_save:
            self.model_name_for_save = default_model_path(self.model, self.dataset).stem
        metadata = checkpoint_metadata(
            TrainConfig.from_dict(self.config), self.dataset, self.class_names,
            train_seconds=float(self.train_seconds or 0.0), steps=self.step, status=self.status,
            test_accuracy=self.test_accuracy, test_loss=self.test_loss, best_val_accuracy=self.best_val_accuracy)
        return {
            "name": self.model_name_for_save,
            "run_number": self.number,  # File → Save and the quit prompt know which run a model is
            "class_names": list(self.class_names),
            "dataset": self.dataset,
            "test_accuracy": self.test_accuracy,
            "metadata": metadata,
        }


USE_MODEL_TIP = "Make the selected run's model the one that reads the canvas (then File → Save Model… keeps it)"
COLUMNS = ("Run", "Settings", "Val", "Test", "Time", "Status")
COLUMN_TIPS = ("Run number and model", "Optimizer and learning rate, batch size, epochs, dataset (hover a row for all)",
               "Best validation accuracy", "Test-set accuracy at the end", "Training time", "How the run ended")


class RunHistory(QWidget):
    """The session's runs; select some to overlay them, or reuse one's settings or model."""

    selectionChanged = Signal(list)  # [RunRecord]
    useSettingsRequested = Signal(object)  # RunRecord
    useModelRequested = Signal(object)  # RunRecord

    def __init__(self, parent: QWidget | None = None, *, log_path: Path | None = None):
        super().__init__(parent)
        self._runs: list[RunRecord] = []
        self._log_path = log_path or run_log.default_log_path()
        self._saved: set[int] = set()  # id() of finished runs already in the log
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("run-history")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        for column, tip in enumerate(COLUMN_TIPS):
            self.table.horizontalHeaderItem(column).setToolTip(tip)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setToolTip("Select runs (Ctrl/Shift-click for several) to overlay their curves on the chart")
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("Settings"), QHeaderView.ResizeMode.Stretch)
        rows = 2  # the dock shares its height with the form and the chart; the table scrolls
        self.table.setMinimumHeight(self.table.verticalHeader().defaultSectionSize() * rows
                                    + self.table.horizontalHeader().sizeHint().height() + 4)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.table.itemDoubleClicked.connect(lambda _item: self._emit_single(self.useSettingsRequested))

        self.use_settings_button = QPushButton("Use these settings")
        self.use_settings_button.setToolTip("Fill the form with the selected run's settings")
        self.use_model_button = QPushButton("Use selected model")
        self.use_model_button.setToolTip(USE_MODEL_TIP)
        self.use_settings_button.clicked.connect(lambda: self._emit_single(self.useSettingsRequested))
        self.use_model_button.clicked.connect(lambda: self._emit_single(self.useModelRequested))
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("Save every run's settings and results as a CSV file (a spreadsheet opens it)")
        self.export_button.clicked.connect(self.export_csv_dialog)
        self.log_note = QLabel("")
        self.log_note.setObjectName("run-log-note")
        self.log_note.setWordWrap(True)
        self.log_note.setStyleSheet("color: palette(placeholder-text);")
        self.log_note.hide()

        buttons = QHBoxLayout()
        buttons.addWidget(self.export_button)
        buttons.addStretch(1)
        buttons.addWidget(self.use_settings_button)
        buttons.addWidget(self.use_model_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.log_note)
        layout.addLayout(buttons)
        self._restore()
        self._update_buttons()

    # ------------------------------------------------------------------ API
    def runs(self) -> list[RunRecord]:
        return list(self._runs)

    def next_number(self) -> int:
        """The number for a new run: one past every run listed, earlier sessions' included."""
        return max((r.number for r in self._runs), default=0) + 1

    def add_run(self, record: RunRecord) -> None:
        self._runs.append(record)
        self.table.insertRow(self.table.rowCount())
        self.update_run(record)

    def update_run(self, record: RunRecord) -> None:
        """Refresh ``record``'s row (cheap; called as the run progresses)."""
        row = self._runs.index(record)
        config = record.config
        time_text = format_duration(record.train_seconds if record.finished else record.elapsed)
        values = (record.label, record.settings_text(), format_fraction(record.best_val_accuracy, 2),
                  format_fraction(record.test_accuracy, 2), time_text, record.status)
        for column, text in enumerate(values):
            item = self.table.item(row, column)
            if item is None:
                item = QTableWidgetItem()
                if column in (2, 3, 4):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
            if item.text() != text:
                item.setText(text)
        tip = record.message or record.status
        self.table.item(row, COLUMNS.index("Status")).setToolTip(tip)
        self.table.item(row, COLUMNS.index("Settings")).setToolTip(
            "\n".join(f"{k}: {v}" for k, v in sorted(config.items())))
        self._update_buttons()
        if record.finished and id(record) not in self._saved:
            self._saved.add(id(record))
            self._save()

    # ------------------------------------------------------------------ kept across restarts
    def _restore(self) -> None:
        summaries, warning = run_log.load_run_log(self._log_path)
        for summary in summaries:
            record = RunRecord.from_summary(summary)
            self._saved.add(id(record))
            self.add_run(record)
        self._note(warning)

    def _save(self) -> None:
        try:
            run_log.save_run_log([r.to_summary() for r in self._runs if r.finished], self._log_path)
        except (OSError, ValueError) as err:  # a full disk or read-only home must not stop training
            self._note(f"The run history could not be saved to {self._log_path}: {getattr(err, 'strerror', None) or err}")

    def _note(self, text: str) -> None:
        self.log_note.setText(text)
        self.log_note.setVisible(bool(text))

    def export_csv_dialog(self) -> None:
        start = str(Path.home() / "mnist-desktop-runs.csv")
        path, _ = QFileDialog.getSaveFileName(self, "Export runs as CSV", start, "CSV file (*.csv)")
        if path:
            self.export_csv(path)

    def export_csv(self, path: str | Path) -> bool:
        """Write every listed run (this session's too, finished or not) as CSV; errors are shown."""
        try:
            run_log.write_csv([r.to_summary() for r in self._runs], path)
        except OSError as err:
            self._note(f"Could not export the runs to {path}: {err.strerror or err}")
            return False
        self._note(f"Exported {len(self._runs)} run{'s' if len(self._runs) != 1 else ''} to {path}")
        return True

    def selected_runs(self) -> list[RunRecord]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self._runs[r] for r in rows if r < len(self._runs)]

    def select_runs(self, records: list[RunRecord]) -> None:
        self.table.clearSelection()
        mode = self.table.selectionMode()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        for record in records:
            if record in self._runs:
                self.table.selectRow(self._runs.index(record))
        self.table.setSelectionMode(mode)

    # ------------------------------------------------------------------ internals
    def _emit_single(self, signal) -> None:
        selected = self.selected_runs()
        if len(selected) == 1:
            signal.emit(selected[0])

    def _on_selection(self) -> None:
        self._update_buttons()
        self.selectionChanged.emit(self.selected_runs())

    def _update_buttons(self) -> None:
        selected = self.selected_runs()
        one = selected[0] if len(selected) == 1 else None
        self.use_settings_button.setEnabled(one is not None)
        self.use_model_button.setEnabled(one is not None and one.finished and one.params is not None)
        earlier = one is not None and one.finished and one.params is None
        self.use_model_button.setToolTip(
            "This run is from an earlier session: its numbers and settings were kept, its weights were not "
            "(File → Save Model… keeps a model)" if earlier else USE_MODEL_TIP)
        self.export_button.setEnabled(bool(self._runs))
